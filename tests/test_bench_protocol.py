"""The protocol benchmark runs end to end and writes the figures it prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.protocol_bench import main


def test_protocol_bench_quick_writes_every_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "protocol.json"
    assert main(["--quick", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert {"messages", "state", "target", "pass", "quantized_bytes_per_changed_entity"} <= set(
        report
    )
    assert [row["type"] for row in report["messages"]["rows"]][:2] == ["join", "reconnect"]
    assert len(report["messages"]["rows"]) == 14
    assert all(row["encode_us"] > 0 and row["decode_us"] > 0 for row in report["messages"]["rows"])
    assert set(report["messages"]["state_frame"]) == {
        "patch_bytes",
        "for_member_us",
        "encode_patch_us",
    }
    rows = {row["precision"]: row for row in report["state"]["rows"]}
    assert list(rows) == ["float64", "float32", "quantized 1/16", "relative 1/16"]
    for row in rows.values():
        assert row["changed_per_tick"] == 20
        assert row["tracker_us_per_tick"] > 0
    sizes = [rows[name]["bytes_per_changed_entity"] for name in rows]
    assert sizes == sorted(sizes, reverse=True)
    assert set(report["state"]["json"]) == {
        "delta_bytes_per_tick",
        "naive_full_state_bytes_per_tick",
        "delta_vs_quantized_patch",
        "naive_vs_quantized_patch",
    }
    assert report["pass"] == {
        "bytes_per_changed_entity": report["quantized_bytes_per_changed_entity"] <= 12
    }
    printed = capsys.readouterr().out
    assert "PASS" in printed or "FAIL" in printed
