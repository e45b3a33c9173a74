"""The headless benchmark runs end to end and writes the figures it prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.headless_bench import main


def test_headless_bench_writes_rows_for_room_and_simulation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "headless.json"
    assert main(["--ticks", "40", "--warmup", "5", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [row["name"] for row in report["rows"]] == ["room", "simulation"]
    room = report["rows"][0]
    assert room["ticks"] == 40
    assert 0 < room["p50_ms"] <= room["p99_ms"] <= room["max_ms"]
    assert set(report["pass"]) == {"ticks_per_second", "p99_ms"}
    assert "ticks/s" in capsys.readouterr().out
