"""The in-process server-path benchmark runs end to end and writes the figures it prints."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from bench.server_path import main


def test_server_path_bench_writes_each_part_per_client_tick(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "server_path.json"
    before = gc.get_threshold()
    assert main(["--rooms", "2", "--ticks", "30", "--warmup", "5", "--json", str(out)]) == 0
    assert gc.get_threshold() == before  # the collector is left as it was
    report = json.loads(out.read_text())
    assert report["clients"] == 20
    parts = report["us_per_client_tick"]
    assert set(parts) == {"receive", "tick", "publish", "total"}
    assert all(value > 0 for value in parts.values())
    assert parts["total"] == pytest.approx(parts["receive"] + parts["tick"] + parts["publish"])
    assert report["bytes_per_frame"] > 0
    assert "µs/client-tick" in capsys.readouterr().out
    assert report["patch_rate"] == 1
    assert report["state_frames_per_client_tick"] == pytest.approx(1.0)


def test_a_patch_rate_of_two_publishes_every_other_tick(tmp_path: Path) -> None:
    out = tmp_path / "server_path.json"
    argv = ["--rooms", "2", "--ticks", "30", "--warmup", "6", "--patch-rate", "2"]
    assert main([*argv, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["patch_rate"] == 2
    assert report["state_frames_per_client_tick"] == pytest.approx(0.5)


def test_a_patch_rate_below_one_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--patch-rate", "0"])
    assert "--patch-rate must be at least 1" in capsys.readouterr().err
