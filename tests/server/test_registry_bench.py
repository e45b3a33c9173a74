"""The registry benchmark runs end to end (against the session's redis-server) and writes the
figures it prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.registry_bench import main


def test_registry_bench_quick_writes_every_figure(
    tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "registry.json"
    assert main(["--quick", "--redis", redis_url, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["sequential"]) == {"memory", "redis"}
    assert set(report["concurrent"]) == {"memory", "redis", "redis, two processes"}
    for row in [*report["sequential"].values(), *report["concurrent"].values()]:
        assert row["joins"] == 100
        assert row["joins_per_s"] > 0
        assert 0 < row["p50_ms"] <= row["p99_ms"]
    assert report["concurrent"]["redis, two processes"]["rooms"] == 10
    assert "Redis adds" in capsys.readouterr().out
