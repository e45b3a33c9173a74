"""Several sweeps in one command: the order alternates, ratios get a median and a range, targets
a tally, and the JSON keeps every sweep's figures (runs faked: no server is started here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import arena_load
from bench.arena_spread import Ratios, median_runs, ratio_spread, sweep_order, target_tally

# µs per client-tick by (system, sweep); every other figure is the same in both sweeps
US = {
    ("tickroom", 0): 40.0,
    ("tickroom", 1): 27.2,
    ("colyseus-moving", 0): 25.0,
    ("colyseus-moving", 1): 16.0,
}


def fake_run(system: str, level: int, sweep: int) -> dict[str, Any]:
    us = US.get((system, sweep), 20.0)
    return {
        "system": system,
        "clients": level,
        "players": 10,
        "us_per_client_tick": us,
        "server_cpu_pct": us * level * 20 / 1e4,
        "payload_B_per_state": 180.0 if system.startswith("tickroom") else 456.0,
        "payload_B_per_client_s": 3600.0,
        "states_per_client_s": 20.0,
        "ticks_per_s": 20.0,
        "lat_p50_ms": 27.0,
        "lat_p99_ms": 53.0 if sweep == 0 else 56.0,
        "server_rss_peak_mb": 85.0,
        "joined": level,
        "clients_ok": True,
        # 1250 sustained in the second sweep only (a faster hour)
        "sustained": level <= 1000 or sweep == 1,
    }


def test_every_other_sweep_runs_the_systems_in_reverse() -> None:
    systems = ["tickroom", "colyseus-moving", "floor-picows"]
    assert sweep_order(systems, 0) == systems
    assert sweep_order(systems, 1) == list(reversed(systems))
    assert sweep_order(systems, 2) == systems


def test_ratio_spread_gives_median_and_range_over_the_sweeps_that_measured_it() -> None:
    sweeps: list[Ratios] = [
        {"a/b": {"1000": {"us_per_client_tick": 1.6, "lat_p99_ms": None}}},
        {"a/b": {"1000": {"us_per_client_tick": 1.4}, "500": {"us_per_client_tick": 1.2}}},
        {"a/b": {"1000": {"us_per_client_tick": 1.8}}},
    ]
    spread = ratio_spread(sweeps)
    assert list(spread["a/b"]) == ["500", "1000"]  # by level, as numbers
    assert spread["a/b"]["1000"]["us_per_client_tick"] == {
        "median": 1.6,
        "min": 1.4,
        "max": 1.8,
        "n": 3,
    }
    assert spread["a/b"]["500"]["us_per_client_tick"]["n"] == 1
    assert "lat_p99_ms" not in spread["a/b"]["1000"]  # never measured


def test_target_tally_counts_passes_among_the_sweeps_that_judged() -> None:
    def target(verdict: str, value: Any) -> dict[str, Any]:
        return {"target": "p99", "limit": "<= 55", "value": value, "verdict": verdict}

    tally = target_tally(
        [
            {"x/y": [target("PASS", 53.0)]},
            {"x/y": [target("MISS", 56.0)]},
            {"x/y": [target("not run", None)]},
        ]
    )
    assert tally["x/y"] == [
        {"target": "p99", "limit": "<= 55", "values": [53.0, 56.0, None], "met": 1, "judged": 2}
    ]


def test_median_runs_sustain_only_what_every_sweep_sustained() -> None:
    runs = [fake_run("tickroom", 1250, 0), fake_run("tickroom", 1250, 1)]
    runs.append({"system": "tickroom", "clients": 1250, "error": "driver failed"})
    (row,) = median_runs(runs)
    assert row["runs"] == 2  # the failed run is left out
    assert row["us_per_client_tick"] == 33.6
    assert row["sustained"] is False


def test_repeat_runs_whole_sweeps_and_reports_each_and_their_spread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    order: list[tuple[str, int]] = []
    sweep = {"index": -1}

    def run(system: str, level: int, cfg: Any) -> dict[str, Any]:
        order.append((system, level))
        return fake_run(system, level, sweep["index"])

    real_sweep = arena_load._sweep

    def counted_sweep(*args: Any) -> dict[str, Any]:
        sweep["index"] += 1
        return real_sweep(*args)

    monkeypatch.setattr(arena_load, "_run", run)
    monkeypatch.setattr(arena_load, "_sweep", counted_sweep)
    monkeypatch.setattr(arena_load, "ensure_node_bots", lambda: None)
    monkeypatch.setattr(arena_load, "ensure_colyseus", lambda: None)
    out = tmp_path / "report.json"
    status = arena_load.main(
        [
            "--repeat",
            "2",
            "--levels",
            "1000",
            "--systems",
            "tickroom,colyseus-moving",
            "--max-steps",
            "1000,1250,1500",
            "--json",
            str(out),
            "--plot",
            "",
            "--markdown",
        ]
    )
    assert status == 0
    # sweep 1 in the given order, sweep 2 reversed; each searches its own max sustained
    assert order == [
        ("tickroom", 1000),
        ("colyseus-moving", 1000),
        ("tickroom", 1250),
        ("colyseus-moving", 1000),
        ("tickroom", 1000),
        ("tickroom", 1250),
        ("tickroom", 1500),
    ]
    report = json.loads(out.read_text())
    assert report["config"]["repeat"] == 2
    assert [run["sweep"] for run in report["runs"]] == [0, 0, 0, 1, 1, 1, 1]
    assert "ratios" not in report  # one sweep's figures would pass for all of them
    assert [s["max_sustained"]["max_sustained"] for s in report["sweeps"]] == [1000, 1500]
    spread = report["spread"]
    cpu = spread["ratios"]["tickroom/colyseus-moving"]["1000"]["us_per_client_tick"]
    assert (cpu["min"], cpu["max"], cpu["median"]) == (1.6, 1.7, 1.65)
    tallies = {t["target"]: t for t in spread["targets"]["tickroom/colyseus-moving"]}
    assert tallies["p99 latency at 1000 (ms)"]["values"] == [53.0, 56.0]
    assert tallies["p99 latency at 1000 (ms)"]["met"] == 1
    assert tallies["max sustained clients"]["values"] == [1000, 1500]
    assert tallies["max sustained clients"]["met"] == 1
    printed = capsys.readouterr().out
    assert "== sweep 2 of 2: colyseus-moving, tickroom" in printed
    assert "tickroom/colyseus-moving: 1000 1.65x [1.60-1.70]" in printed
    assert "met 1 of 2    p99 latency at 1000 (ms): 53, 56 (target <= 55)" in printed
    assert "| 1000 | tickroom #2 |" in printed


def test_repeat_must_be_at_least_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert arena_load.main(["--repeat", "0"]) == 2
    assert "--repeat must be at least 1" in capsys.readouterr().out
