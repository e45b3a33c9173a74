"""Several sweeps in one command: the order alternates, ratios get a median and a range, targets
a tally, and the JSON keeps every sweep's figures (runs faked: no server is started here)."""

from __future__ import annotations

import json
import random
import statistics
from math import comb
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench import arena_load
from bench.arena_plots import draw_sweeps_plot, sweep_ratios, sweeps_plot_path
from bench.arena_spread import (
    Ratios,
    median_interval,
    median_runs,
    ratio_spread,
    spread_text,
    sweep_order,
    target_tally,
)

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
        "ci95_low": None,  # three sweeps bound the median with 75 % at best
        "ci95_high": None,
        "ci_coverage": None,
    }
    assert spread["a/b"]["500"]["us_per_client_tick"]["n"] == 1
    assert "lat_p99_ms" not in spread["a/b"]["1000"]  # never measured


def _binomial_below(n: int, k: int) -> float:
    """P(B < k) for B ~ Binomial(n, 1/2), summed afresh."""
    return float(sum(comb(n, i) for i in range(k)) / 2**n)


def _interval(values: list[float]) -> tuple[float, float, float]:
    interval = median_interval(values)
    assert interval is not None
    return interval


def test_the_median_interval_is_the_widest_order_statistics_that_reach_95_percent() -> None:
    assert median_interval([0.8] * 5) is None  # five values: the extremes bound it 93.75 %
    six = [0.9, 0.7, 0.8, 0.85, 0.75, 0.95]
    assert median_interval(six) == (0.7, 0.95, 1 - 2 / 64)
    values = [float(v) for v in range(1, 25)]  # 24 values: the 7th lowest and 7th highest
    low, high, coverage = _interval(values)
    assert (low, high) == (7.0, 18.0)
    assert coverage == pytest.approx(1 - 2 * _binomial_below(24, 7))
    for n in range(6, 60):  # k is the largest whose coverage still reaches 95 %
        low, high, coverage = _interval([float(v) for v in range(n)])
        k = int(low) + 1
        assert high == n - k
        assert coverage == pytest.approx(1 - 2 * _binomial_below(n, k))
        assert coverage >= 0.95 > 1 - 2 * _binomial_below(n, k + 1)


def test_the_median_interval_covers_the_median_as_often_as_it_says() -> None:
    """Draws from a skewed distribution whose median is known: the interval holds it in about
    its stated share of 2,000 samples (a binomial count, checked at four standard deviations)."""
    draw = random.Random(9)
    n, trials, held = 12, 2000, 0
    coverage = _interval([0.0] * n)[2]
    median = 2**-0.5  # of max(u1, u2): P(max <= m) = m**2 = 1/2
    for _ in range(trials):
        low, high, _ = _interval([max(draw.random(), draw.random()) for _ in range(n)])
        held += low <= median <= high
    spread = 4 * (trials * coverage * (1 - coverage)) ** 0.5
    assert abs(held - trials * coverage) <= spread


def _expected_k(n: int) -> int:
    """The k a 95 % interval over n values takes, found by counting afresh."""
    return max(k for k in range(1, n // 2 + 1) if 1 - 2 * _binomial_below(n, k) >= 0.95)


@given(st.lists(st.floats(0.1, 10.0), min_size=6, max_size=80))
def test_the_median_interval_is_the_kth_lowest_and_highest(values: list[float]) -> None:
    low, high, coverage = _interval(values)
    ordered, n = sorted(values), len(values)
    k = _expected_k(n)
    assert (low, high) == (ordered[k - 1], ordered[n - k])  # in any order they came
    assert low <= statistics.median(values) <= high
    assert coverage == pytest.approx(1 - 2 * _binomial_below(n, k))


def test_sweep_ratios_pair_each_sweeps_runs_at_the_level_in_order() -> None:
    def run(system: str, clients: int, sweep: int, us: float, **extra: Any) -> dict[str, Any]:
        return {"system": system, "clients": clients, "sweep": sweep, "us_per_client_tick": us,
                **extra}  # fmt: skip

    runs = [
        run("colyseus-moving", 1000, 1, 20.0),  # sweep 1 ran Colyseus first
        run("tickroom", 1000, 1, 18.0),
        run("tickroom", 1000, 0, 16.0),
        run("colyseus-moving", 1000, 0, 25.0),
        run("tickroom", 1250, 0, 17.0),  # another level: not this plot's
        run("tickroom", 1000, 2, 15.0),
        run("colyseus-moving", 1000, 2, 30.0, error="driver failed"),  # no ratio that sweep
        run("tickroom-still", 1000, 0, 12.0),  # its partner never ran: no line at all
    ]
    assert sweep_ratios(runs, 1000) == {"tickroom/colyseus-moving": [0.64, 0.9, None]}
    assert sweep_ratios(runs, 500) == {}


def test_the_sweeps_plot_lies_beside_the_plot() -> None:
    assert sweeps_plot_path(Path("out/arena.png")) == Path("out/arena_sweeps.png")


def _sweep_run(system: str, clients: int, sweep: int, us: float) -> dict[str, Any]:
    return {"system": system, "clients": clients, "sweep": sweep, "us_per_client_tick": us}


def test_the_sweeps_plot_shows_the_target_level_else_the_highest_a_pair_measured() -> None:
    pairs_at = [
        _sweep_run(system, level, sweep, 20.0)
        for sweep in (0, 1)
        for system in ("tickroom", "colyseus-moving")
        for level in (500, 1000)
    ]
    search = [_sweep_run("tickroom", 1500, 0, 30.0)]  # a max-sustained step: tickroom alone
    assert arena_load.sweeps_level([*pairs_at, *search]) == 1000
    no_target = [r for r in pairs_at if r["clients"] == 500]
    assert arena_load.sweeps_level([*no_target, *search]) == 500  # not 1500: no ratio there
    assert arena_load.sweeps_level(search) is None


def test_the_sweeps_plot_is_drawn(tmp_path: Path) -> None:
    runs = [
        _sweep_run(system, 1000, sweep, us)
        for sweep in range(6)
        for system, us in (("tickroom", 20.0 + sweep), ("colyseus-moving", 25.0))
    ]
    path = tmp_path / "sweeps.png"
    draw_sweeps_plot(runs, 1000, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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
    both = [fake_run("tickroom", 1000, 0), fake_run("tickroom", 1000, 1)]
    (row,) = median_runs(both)
    assert (row["runs"], row["errors"], row["sustained"]) == (2, 0, True)
    assert row["us_per_client_tick"] == 33.6  # the median of 40.0 and 27.2
    failed = {"system": "tickroom", "clients": 1000, "error": "driver failed"}
    (row,) = median_runs([*both, failed])
    assert (row["runs"], row["errors"], row["sustained"]) == (2, 1, False)
    assert row["us_per_client_tick"] == 33.6  # from the runs that measured it
    once = [fake_run("tickroom", 1250, 0), fake_run("tickroom", 1250, 1)]
    (row,) = median_runs(once)
    assert row["sustained"] is False  # only the second sweep sustained 1250
    assert median_runs([failed]) == []  # nothing to draw
    bot_bound = {**fake_run("tickroom", 1000, 1), "sustained": "bot-bound"}
    (row,) = median_runs([both[0], bot_bound])
    assert row["sustained"] is True  # the bots, not the server, were the limit: no verdict
    (row,) = median_runs([bot_bound])
    assert row["sustained"] is False  # no verdict at all: not shown as sustained


def test_the_summary_says_when_a_ratio_misses_sweeps() -> None:
    spread = ratio_spread(
        [
            {"a/b": {"1000": {"us_per_client_tick": 1.5}}},
            {},  # this sweep's Colyseus run failed: no ratio
        ]
    )
    text = spread_text(spread, {}, [1000, None], 2)
    assert "a/b: 1000 1.50x [1.50-1.50] (1 of 2)" in text
    assert "tickroom max sustained, by sweep: 1000, -" in text


def test_the_summary_gives_the_median_interval_from_six_sweeps() -> None:
    ratios = [0.9, 0.7, 0.8, 0.85, 0.75, 0.95]
    spread = ratio_spread([{"a/b": {"1000": {"us_per_client_tick": r}}} for r in ratios])
    text = spread_text(spread, {}, [], 6)
    assert "a/b: 1000 0.82x [0.70-0.95] {0.70-0.95}" in text  # six to eight: k = 1, the range
    nine = [0.9, 0.7, 0.8, 0.85, 0.75, 0.95, 0.78, 0.88, 0.83]
    spread = ratio_spread([{"a/b": {"1000": {"us_per_client_tick": r}}} for r in nine])
    text = spread_text(spread, {}, [], 9)
    assert "a/b: 1000 0.83x [0.70-0.95] {0.75-0.90}" in text  # nine: the second from each end


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

    plotted: list[list[dict[str, Any]]] = []
    monkeypatch.setattr(arena_load, "_run", run)
    monkeypatch.setattr(arena_load, "_sweep", counted_sweep)
    monkeypatch.setattr(arena_load, "ensure_node_bots", lambda: None)
    monkeypatch.setattr(arena_load, "ensure_colyseus", lambda: None)
    monkeypatch.setattr(arena_load, "draw_plot", lambda rows, path: plotted.append(list(rows)))
    swept: list[tuple[int, Path, int]] = []
    monkeypatch.setattr(
        arena_load,
        "draw_sweeps_plot",
        lambda rows, level, path: swept.append((level, path, len(rows))),
    )
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
            str(tmp_path / "plot.png"),
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
    for key in ("ratios", "max_sustained", "targets"):  # one sweep's would pass for all
        assert key not in report
    assert [s["max_sustained"]["max_sustained"] for s in report["sweeps"]] == [1000, 1500]
    spread = report["spread"]
    assert spread["max_sustained_by_sweep"] == [1000, 1500]
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
    # the plot, live and redrawn from the JSON, has one median row per system and level
    assert arena_load.main(["--replot", str(out), "--plot", str(tmp_path / "again.png")]) == 0
    for rows in plotted:
        assert sorted((r["system"], r["clients"]) for r in rows) == [
            ("colyseus-moving", 1000),
            ("tickroom", 1000),
            ("tickroom", 1250),
            ("tickroom", 1500),
        ]
    assert len(plotted) == 2
    assert plotted[0] == plotted[1]
    # and, beside each, the sweep-by-sweep plot of every run, at the target level
    assert swept == [
        (1000, tmp_path / "plot_sweeps.png", 7),
        (1000, tmp_path / "again_sweeps.png", 7),
    ]


def test_one_sweep_writes_the_report_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(arena_load, "_run", lambda system, level, cfg: fake_run(system, level, 0))
    monkeypatch.setattr(arena_load, "ensure_node_bots", lambda: None)
    monkeypatch.setattr(arena_load, "ensure_colyseus", lambda: None)
    out = tmp_path / "report.json"
    argv = ["--levels", "1000", "--systems", "tickroom,colyseus-moving", "--max-steps", "1250"]
    assert arena_load.main([*argv, "--json", str(out), "--plot", ""]) == 0
    report = json.loads(out.read_text())
    assert "sweeps" not in report
    assert "spread" not in report
    assert "repeat" not in report["config"]
    assert all("sweep" not in run for run in report["runs"])
    assert report["max_sustained"]["max_sustained"] == 1000  # 1250 failed in sweep 0
    assert report["ratios"]["tickroom/colyseus-moving"]["1000"]["us_per_client_tick"] == 1.6
    assert {t["verdict"] for t in report["targets"]["tickroom/colyseus-moving"]} <= {
        "PASS",
        "MISS",
    }
    printed = capsys.readouterr().out
    assert "== sweep" not in printed
    assert "over 1 sweeps" not in printed


def test_repeat_must_be_at_least_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert arena_load.main(["--repeat", "0"]) == 2
    assert "--repeat must be at least 1" in capsys.readouterr().out
