"""The arena benchmark's plots: figures against clients, and, over several sweeps, by sweep.

- ``draw_plot``: µs per client-tick and p99 latency against clients, a line per system (the
  median of each figure when the runs come from several sweeps);
- ``draw_sweeps_plot``: for ``--repeat`` runs, at one level, each system's µs per client-tick
  and each pair's ratio sweep by sweep, in the order they ran, with the 0.85 target and the
  ratio's median and 95 % interval (``median_interval``): how far one sweep's verdict moves with
  the minute, at a glance.

Owns: the drawing, and where the sweep plot goes beside the main one (``sweeps_plot_path``).
Must never run anything: ``bench/arena_load.py`` runs, and picks the level. Needs matplotlib
(the optional ``bench`` extra), imported only when drawing.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.arena_runs import PAIRS, target_limit
from bench.arena_spread import median_interval

PLOT_STYLES = (
    ("tickroom", "o", "tab:blue"),
    ("colyseus-moving", "s", "tab:orange"),
    ("tickroom-still", "^", "tab:cyan"),
    ("colyseus", "v", "tab:red"),
    ("floor-picows", "D", "tab:gray"),
    ("tickroom-pure", "x", "tab:purple"),
)


def draw_plot(runs: Sequence[dict[str, Any]], path: Path) -> None:
    """µs/client-tick and p99 latency against clients, one line per system; filled markers
    for sustained levels, hollow ones for levels that failed the driver's rule."""
    import matplotlib  # noqa: PLC0415  (the optional `bench` extra; only the plot needs it)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, (cpu, lat) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=90)
    for system, marker, color in PLOT_STYLES:
        rows = sorted(
            (r for r in runs if r["system"] == system and "error" not in r),
            key=lambda r: r["clients"],
        )
        if not rows:
            continue
        clients = [r["clients"] for r in rows]
        for ax, key in ((cpu, "us_per_client_tick"), (lat, "lat_p99_ms")):
            ax.plot(clients, [r.get(key) for r in rows], "-", color=color, label=system)
            for r in rows:
                ok = r.get("sustained") is True
                ax.plot(
                    r["clients"],
                    r.get(key),
                    marker,
                    color=color,
                    markerfacecolor=color if ok else "white",
                )
    cpu.axhline(target_limit("us"), color="grey", linestyle=":", linewidth=1)
    lat.axhline(target_limit("p99"), color="grey", linestyle=":", linewidth=1)
    cpu.set(xlabel="clients", ylabel="µs server CPU per client-tick", ylim=(0, None))
    lat.set(xlabel="clients", ylabel="p99 input-to-state latency (ms)", yscale="log")
    for ax in (cpu, lat):
        ax.grid(alpha=0.3)
    handles, labels = cpu.get_legend_handles_labels()  # one legend under both, clear of data
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle(
        "arena, 20 Hz, rooms of 10, server on 1 core (hollow: not sustained; dotted: target)",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _sweep_count(runs: Sequence[dict[str, Any]]) -> int:
    return 1 + max((r.get("sweep", 0) for r in runs), default=0)


def _costs_at(runs: Sequence[dict[str, Any]], level: int) -> dict[tuple[str, int], float]:
    """(system, sweep) -> µs per client-tick at ``level``, for the runs that measured it."""
    cost: dict[tuple[str, int], float] = {}
    for r in runs:
        value = r.get("us_per_client_tick")
        if r.get("clients") == level and "error" not in r and isinstance(value, int | float):
            cost[(r["system"], r.get("sweep", 0))] = float(value)
    return cost


def sweep_ratios(runs: Sequence[dict[str, Any]], level: int) -> dict[str, list[float | None]]:
    """pair -> the µs-per-client-tick ratio of each sweep at ``level`` (None where a side did
    not measure it), sweeps in the order they ran, for the ``PAIRS`` only (not the floor or the
    Python build). ``runs`` are ``--repeat`` runs: each carries its ``sweep`` (a run without one
    counts as sweep 0), one per system, level and sweep (a later one would replace it)."""
    cost = _costs_at(runs, level)
    out: dict[str, list[float | None]] = {}
    for ours, theirs, _ in PAIRS:
        values: list[float | None] = []
        for sweep in range(_sweep_count(runs)):
            a, b = cost.get((ours, sweep)), cost.get((theirs, sweep))
            values.append(round(a / b, 3) if a is not None and b else None)
        if any(v is not None for v in values):
            out[f"{ours}/{theirs}"] = values
    return out


def draw_sweeps_plot(runs: Sequence[dict[str, Any]], level: int, path: Path) -> None:
    """Sweep by sweep at ``level``: each system's µs per client-tick (top) and each pair's ratio
    (bottom, ``sweep_ratios``: the same rules for ``runs``) with the 0.85 target (dotted), the
    ratio's median (dashed) and, from six sweeps, its 95 % interval (shaded). Writes a PNG at
    ``path``."""
    import matplotlib  # noqa: PLC0415  (the optional `bench` extra; only the plot needs it)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    count = _sweep_count(runs)
    sweeps = list(range(1, count + 1))
    cost = _costs_at(runs, level)
    fig, (cpu, ratio) = plt.subplots(2, 1, figsize=(9, 5.6), dpi=90, sharex=True)
    for system, marker, color in PLOT_STYLES:
        values = [cost.get((system, sweep)) for sweep in range(count)]
        if any(v is not None for v in values):
            cpu.plot(sweeps, values, "-" + marker, color=color, label=system, markersize=4)
    cpu.axhline(target_limit("us"), color="grey", linestyle=":", linewidth=1)
    cpu.set(ylabel=f"µs per client-tick at {level}", ylim=(0, None))
    styles = {ours: (marker, color) for ours, marker, color in PLOT_STYLES}
    for pair, values in sweep_ratios(runs, level).items():
        marker, color = styles.get(pair.split("/")[0], ("o", "black"))
        ratio.plot(sweeps, values, "-" + marker, color=color, label=pair, markersize=4)
        measured = [v for v in values if v is not None]
        ratio.axhline(statistics.median(measured), color=color, linestyle="--", linewidth=1)
        interval = median_interval(measured)
        if interval is not None:
            ratio.axhspan(interval[0], interval[1], color=color, alpha=0.12, linewidth=0)
    ratio.axhline(target_limit("us_ratio"), color="grey", linestyle=":", linewidth=1)
    ratio.set(xlabel="sweep, in the order run", ylabel="ratio of µs per client-tick")
    ratio.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (cpu, ratio):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, frameon=False, loc="best", ncol=3)
    fig.suptitle(
        f"arena at {level} clients, sweep by sweep (dotted: target; dashed: median; "
        "shaded: 95 % interval for the median)",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def sweeps_plot_path(path: Path) -> Path:
    """Where the sweep-by-sweep plot goes beside the plot at ``path``: ``name_sweeps.png``."""
    return path.with_name(f"{path.stem}_sweeps{path.suffix}")
