"""Reference games used by the tests, the docs, the bots and the benchmarks."""
