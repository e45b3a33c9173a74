"""One tiny level of the arena benchmark, our server only, through the shared bench driver.

It needs Node (the bots are ``bench/node/tickbot.cjs``) and installs the bots' npm dependencies
with ``npm ci`` when they are missing. A machine without Node fails here on purpose: the benchmark
is part of the project, and a skipped test would hide that it cannot run.
"""

from __future__ import annotations

import shutil

import pytest

from bench.arena_runs import BenchError, RunConfig, ensure_node_bots, run_level, shared_bench_dir

DRIVER_KEYS = {
    "system",
    "clients",
    "joined",
    "join_failed",
    "window_s",
    "server_cpu_pct",
    "us_per_client_tick",
    "server_rss_peak_mb",
    "ticks_per_s",
    "states_per_client_s",
    "payload_B_per_client_s",
    "payload_B_per_state",
    "inputs_per_client_s",
    "lat_p50_ms",
    "lat_p99_ms",
    "lat_samples",
    "bot_cpu_pct",
    "bot_errors",
    "bot_closed",
    "sustained",
}


@pytest.mark.slow
def test_one_tiny_level_of_tickroom_runs_through_the_shared_driver() -> None:
    if shutil.which("node") is None:
        pytest.fail(
            "node is not installed: the arena benchmark's bots need it (apt install nodejs)"
        )
    try:
        shared_bench_dir()
        ensure_node_bots()
    except BenchError as exc:
        pytest.fail(str(exc))

    cfg = RunConfig(duration=2, warmup=1, observe_every=1, progress=False, quiet_wait=0)
    run = run_level("tickroom", 10, cfg).as_dict()

    assert "error" not in run, run.get("log_tail")
    assert not DRIVER_KEYS - run.keys(), "keys missing from the driver's line"
    assert run["joined"] == 10
    assert run["join_failed"] == 0
    assert run["bot_errors"] == 0
    assert run["bot_closed"] == 0
    assert run["states_per_client_s"] > 10
    assert run["lat_samples"] > 0
    assert run["server_too_slow"] == 0
    assert run["server_protocol_errors"] == 0
