"""The tick-lanes benchmark runs end to end on both event loops and writes what it prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.tick_lanes import main


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_tick_lanes_bench_counts_sleeps_cpu_and_lateness(
    loop: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tick_lanes.json"
    argv = ["--rooms", "20", "--seconds", "1", "--work-us", "50", "--loop", loop]
    assert main([*argv, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["loop"] == loop
    assert report["rooms"] == 20
    assert 250 <= report["ticks_per_second"] <= 550  # 20 rooms at 20 Hz, on a real clock
    # ten grid slots at 20 Hz: one sleep a slot, never a spin (the eleventh round's bug slept
    # thousands of times a second on uvloop)
    assert report["lane_sleeps_per_second"] <= 260
    assert report["lateness_samples"] > 0
    assert 0.0 <= report["lateness_ms"]["p50"] <= report["lateness_ms"]["p99"]
    assert "lane sleeps / s" in capsys.readouterr().out


def test_tick_lanes_bench_refuses_nonsense(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--rooms", "0"])
    assert "--rooms must be at least 1" in capsys.readouterr().err
