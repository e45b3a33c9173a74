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
