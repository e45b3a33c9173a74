"""Several side-by-side sweeps in one command: each ratio's median and range, each target's tally.

These machines drift with the hour: over one day the same servers moved 1.6-2.1x, and a ratio
between two systems by a quarter. One sweep (``python -m bench.arena_load``) gives every ratio
from runs minutes apart; ``--repeat N`` runs the sweep N times, the systems' order reversed on
every other sweep (so no system always runs first), and this module sums them up:

- ``ratio_spread``: for each pair, level and ratio key, the median, lowest and highest over the
  sweeps that measured it, and from six such sweeps on a 95 % interval for the median
  (``median_interval``: order statistics, no assumption about the figures' distribution, so a
  target can be judged on the median a sweep measures in these hours, both orders pooled, not
  on one sweep's minute; it takes sweeps as independent draws, which the hour's drift makes
  only approximately true);
- ``target_tally``: for each pair and target, the value of every sweep and in how many it was met;
- ``median_runs``: one row per system and level with the median figures (for the plot), sustained
  only when every sweep's run with a verdict sustained it (bot-bound runs have none).

Owns: the summaries and their text. Must never run anything: ``bench/arena_load.py`` runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from math import comb
from typing import Any

Ratios = dict[str, dict[str, dict[str, float | None]]]
"""pair -> level (as text) -> ratio key -> value, as one sweep reports them."""

MEDIAN_KEYS = (
    "us_per_client_tick",
    "server_cpu_pct",
    "lat_p50_ms",
    "lat_p99_ms",
    "payload_B_per_state",
    "payload_B_per_client_s",
    "server_rss_peak_mb",
)


def sweep_order(systems: Sequence[str], sweep: int) -> list[str]:
    """The systems in the order sweep ``sweep`` (from 0) runs them: as given, then reversed."""
    return list(systems) if sweep % 2 == 0 else list(reversed(systems))


CONFIDENCE = 0.95
"""The least coverage of the interval ``median_interval`` gives."""


def median_interval(
    values: Sequence[float], confidence: float = CONFIDENCE
) -> tuple[float, float, float] | None:
    """A distribution-free interval for the median of what ``values`` sample: (low, high,
    coverage), or None when there are too few values for ``confidence``.

    With the values sorted, the k-th lowest and the k-th highest bound the median with
    probability 1 - 2 P(B < k), B ~ Binomial(n, 1/2), whatever the values' distribution, as long
    as they are independent draws from it. k is the largest that keeps that probability at or
    above ``confidence``: from six values on for 95 % (then k = 1, the lowest and highest)."""
    n = len(values)
    ordered = sorted(values)
    best: tuple[float, float, float] | None = None
    below = 0  # P(B < k) * 2**n, as k grows
    for k in range(1, (n + 1) // 2 + 1):
        below += comb(n, k - 1)
        coverage = 1 - 2 * below / 2**n
        if coverage < confidence:
            break
        best = (ordered[k - 1], ordered[n - k], coverage)
    return best


def _summary(values: Sequence[float]) -> dict[str, float | int | None]:
    interval = median_interval(values)
    return {
        "median": round(statistics.median(values), 3),
        "min": min(values),
        "max": max(values),
        "n": len(values),
        "ci95_low": None if interval is None else interval[0],
        "ci95_high": None if interval is None else interval[1],
        "ci_coverage": None if interval is None else round(interval[2], 4),
    }


def ratio_spread(sweeps: Sequence[Ratios]) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """pair -> level -> ratio key -> {median, min, max, n, ci95_low, ci95_high, ci_coverage}
    over the n sweeps that have it (the interval's three are None below six)."""
    collected: dict[str, dict[str, dict[str, list[float]]]] = {}
    for ratios in sweeps:
        for pair, levels in ratios.items():
            for level, values in levels.items():
                for key, value in values.items():
                    if value is not None:
                        by_key = collected.setdefault(pair, {}).setdefault(level, {})
                        by_key.setdefault(key, []).append(value)
    return {
        pair: {
            level: {key: _summary(values) for key, values in by_key.items()}
            for level, by_key in sorted(levels.items(), key=lambda item: int(item[0]))
        }
        for pair, levels in collected.items()
    }


def target_tally(
    sweeps: Sequence[dict[str, list[dict[str, Any]]]],
) -> dict[str, list[dict[str, Any]]]:
    """pair -> one entry per target: its limit, every sweep's value and verdict, and ``met``
    (sweeps that passed) of ``judged`` (sweeps that measured it)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for targets in sweeps:
        for pair, entries in targets.items():
            tallies = out.setdefault(pair, [])
            for index, entry in enumerate(entries):
                if index == len(tallies):
                    tallies.append(
                        {
                            "target": entry["target"],
                            "limit": entry["limit"],
                            "values": [],
                            "met": 0,
                            "judged": 0,
                        }
                    )
                tally = tallies[index]
                tally["values"].append(entry["value"])
                if entry["verdict"] in ("PASS", "MISS"):
                    tally["judged"] += 1
                    tally["met"] += entry["verdict"] == "PASS"
    return out


def median_runs(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (system, clients) with the median of each ``MEDIAN_KEYS`` figure over the
    runs that produced one (``runs``; ``errors`` counts those that failed to run), sustained
    only when every run with a verdict was (a bot-bound run has none; one that failed to run
    was not sustained). Rows with no figures are left out: there is nothing to draw."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["system"], run["clients"]), []).append(run)
    rows = []
    for (system, clients), group in groups.items():
        measured = [r for r in group if "error" not in r]
        if not measured:
            continue
        row: dict[str, Any] = {
            "system": system,
            "clients": clients,
            "runs": len(measured),
            "errors": len(group) - len(measured),
        }
        for key in MEDIAN_KEYS:
            values = [r[key] for r in measured if isinstance(r.get(key), int | float)]
            row[key] = round(statistics.median(values), 3) if values else None
        judged = [r.get("sustained") for r in group if r.get("sustained") != "bot-bound"]
        row["sustained"] = bool(judged) and all(verdict is True for verdict in judged)
        rows.append(row)
    return rows


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def spread_text(
    spread: dict[str, dict[str, dict[str, dict[str, Any]]]],
    tally: dict[str, list[dict[str, Any]]],
    maxima: Sequence[int | None],
    sweeps: int,
) -> str:
    """The summary printed after the last sweep: CPU ratios, max sustained, targets."""
    lines = [
        f"over {sweeps} sweeps: µs per client-tick ratio, median [lowest-highest]"
        " {95 % interval for the median, from six measured}"
    ]
    for pair, levels in spread.items():
        cells = []
        for level, by_key in levels.items():
            cpu = by_key.get("us_per_client_tick")
            if cpu is not None:
                partial = f" ({cpu['n']} of {sweeps})" if cpu["n"] < sweeps else ""
                interval = (
                    f" {{{cpu['ci95_low']:.2f}-{cpu['ci95_high']:.2f}}}"
                    if cpu.get("ci95_low") is not None
                    else ""
                )
                cells.append(
                    f"{level} {cpu['median']:.2f}x [{cpu['min']:.2f}-{cpu['max']:.2f}]"
                    f"{interval}{partial}"
                )
        lines.append(f"  {pair}: " + ", ".join(cells))
    if maxima:
        lines.append("  tickroom max sustained, by sweep: " + ", ".join(map(_number, maxima)))
    for pair, tallies in tally.items():
        lines.append(f"targets over {sweeps} sweeps, {pair}:")
        for t in tallies:
            met = f"met {t['met']} of {t['judged']}" if t["judged"] else "not run"
            values = ", ".join(_number(v) for v in t["values"])
            lines.append(f"  {met:12}  {t['target']}: {values} (target {t['limit']})")
    return "\n".join(lines)
