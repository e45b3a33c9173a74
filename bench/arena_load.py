"""The arena under load: tickroom and Colyseus side by side, in the same run.

    python -m bench.arena_load [--levels 100,500,1000,1500]
        [--systems tickroom,colyseus-moving,tickroom-still,colyseus,floor-picows[,tickroom-pure]]
        [--duration 20] [--warmup 3] [--observe-every 10] [--max-steps 1000,1250,1500,2000]
        [--transport shared] [--json bench/results/arena_load.json]
        [--plot bench/results/arena_load.png] [--replot JSON] [--markdown] [--repeat N]

For each level (clients, in rooms of 10) and each system, one run of the shared driver
(``../shared/bench/driver.py``: server on CPU 0, bots on CPU 1, warm-up, measured window, the
sustained rule); see ``bench/arena_runs.py``. Systems alternate within a level, so the ratios
compare figures taken minutes apart on the same machine (these shared machines drift 15-25 %
between runs). Ratios are taken only between systems that run the same workload (``PAIRS``):
tickroom against ``colyseus-moving`` (the workload as defined), and ``tickroom-still`` against
the anchor's Colyseus as shipped (whose NPCs never move); ``floor-picows`` (the anchor's Python
floor on our socket library) is a reference line, ``tickroom/floor-picows``, and so is
``tickroom/tickroom-pure`` when ``tickroom-pure`` (the protocol's Python code) is named. Then the
maximum sustained level of tickroom is found by stepping up through ``--max-steps`` until a level
fails.
Prints a table per level, the ratios of each pair, the targets of the issue with PASS/MISS for
each pair, writes JSON and draws µs/client-tick and p99 latency against clients. ``--repeat N``
runs that sweep N times, the systems' order reversed every other time, then prints each ratio's
median and range (and from six sweeps a 95 % interval for the median) and in how many sweeps each
target was met (``bench/arena_spread.py``); the plot then shows the median of each figure, and
``NAME_sweeps.png`` beside it each sweep's figures and ratios at 1000 clients, in the order run
(``bench/arena_plots.py``).

Exit status: 0 when every run produced a result line, 1 otherwise, 2 when the bench cannot run.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.arena_plots import draw_plot, draw_sweeps_plot, sweep_ratios, sweeps_plot_path
from bench.arena_runs import (
    DEFAULT_SYSTEMS,
    FLOOR_PAIR,
    NATIVE_PAIR,
    PAIRS,
    REPO,
    SYSTEMS,
    TARGET_LEVEL,
    TARGETS,
    BenchError,
    LevelResult,
    RunConfig,
    ensure_colyseus,
    ensure_node_bots,
    run_level,
)
from bench.arena_spread import (
    median_runs,
    ratio_spread,
    spread_text,
    sweep_order,
    target_tally,
)

DEFAULT_LEVELS = (100, 500, 1000, 1500)
DEFAULT_MAX_STEPS = (1000, 1250, 1500, 2000)
NOISY_OTHER_CPU0_PCT = 10.0
"""A level during which something other than the server kept CPU 0 busier than this (other
people's tests on a shared machine) gets no verdict in the search for the max sustained level."""


COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (header, key, format)
    ("µs/cl-tick", "us_per_client_tick", "{:.2f}"),
    ("CPU %", "server_cpu_pct", "{:.1f}"),
    ("ticks/s", "ticks_per_s", "{:.2f}"),
    ("states/cl/s", "states_per_client_s", "{:.2f}"),
    ("B/cl/s", "payload_B_per_client_s", "{:.0f}"),
    ("B/state", "payload_B_per_state", "{:.0f}"),
    ("p50 ms", "lat_p50_ms", "{:.1f}"),
    ("p99 ms", "lat_p99_ms", "{:.1f}"),
    ("late p99 ms", "tick_late_p99_ms", "{}"),
    ("RSS MB", "server_rss_peak_mb", "{:.1f}"),
    ("bot CPU %", "bot_cpu_pct", "{:.1f}"),
    ("other CPU0 %", "other_cpu0_pct", "{:.1f}"),
    ("in/cl/s", "inputs_per_client_s", "{:.2f}"),
)

RATIO_KEYS: tuple[tuple[str, str], ...] = (
    ("µs/client-tick", "us_per_client_tick"),
    ("payload B/client/s", "payload_B_per_client_s"),
    ("B/state", "payload_B_per_state"),
    ("p50 latency", "lat_p50_ms"),
    ("p99 latency", "lat_p99_ms"),
    ("peak RSS", "server_rss_peak_mb"),
)


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.arena_load", description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument("--levels", type=_ints, default=list(DEFAULT_LEVELS))
    parser.add_argument("--systems", default=",".join(DEFAULT_SYSTEMS))
    parser.add_argument("--duration", type=float, default=20.0, help="measured window (s)")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--observe-every", type=int, default=10)
    parser.add_argument("--players", type=int, default=10, help="players per room")
    parser.add_argument(
        "--max-steps",
        type=_ints,
        default=list(DEFAULT_MAX_STEPS),
        help="levels to step through for tickroom's max sustained ('' to skip)",
    )
    parser.add_argument("--transport", default="shared", help="bench/arena_server.py transport")
    parser.add_argument("--json", default="bench/results/arena_load.json", metavar="FILE")
    parser.add_argument("--plot", default="bench/results/arena_load.png", metavar="FILE")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="seconds to wait before each run for idle CPUs (shared machines)",
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    parser.add_argument(
        "--replot", metavar="JSON", help="only redraw --plot from an earlier --json report"
    )
    parser.add_argument("--markdown", action="store_true", help="also print a markdown table")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run the whole sweep N times, the systems' order reversed every other time, and "
        "print each ratio's median and range and how many sweeps met each target",
    )
    return parser


# -- formatting ------------------------------------------------------------------------------


def _cell(result: dict[str, Any], key: str, fmt: str) -> str:
    value = result.get(key)
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return fmt.format(value)


def noisy(result: dict[str, Any]) -> bool:
    """Other load on the server's core beyond ``NOISY_OTHER_CPU0_PCT`` during the window."""
    return (result.get("other_cpu0_pct") or 0) > NOISY_OTHER_CPU0_PCT


def sustained_text(result: dict[str, Any]) -> str:
    """yes / NO / bot-bound / error, from the driver's ``sustained`` and ``error``; "(noisy)"
    when other load shared the server's core."""
    if "error" in result:
        return f"error: {result['error']}"
    value = result.get("sustained")
    text = "yes" if value is True else "bot-bound" if value == "bot-bound" else "NO"
    return f"{text} (noisy)" if noisy(result) else text


def level_table(level: int, results: Sequence[dict[str, Any]]) -> str:
    """One level's rows, a system per row."""
    headers = ["system", *(header for header, _, _ in COLUMNS), "sustained"]
    rows = [
        [r["system"], *(_cell(r, key, fmt) for _, key, fmt in COLUMNS), sustained_text(r)]
        for r in results
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [
        f"{level} clients ({level // max(1, results[0].get('players', 10))} rooms x "
        f"{results[0].get('players', 10)})"
    ]
    for row in [headers, *rows]:
        lines.append("  " + "  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def markdown_table(runs: Sequence[dict[str, Any]]) -> str:
    """Every run as one markdown table (for docs/performance.md), by clients then system; with
    several sweeps, each system's name carries its sweep's number (``tickroom #2``)."""
    headers = ["clients", "system", *(header for header, _, _ in COLUMNS), "sustained"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    order = {system: index for index, system in enumerate(SYSTEMS)}
    several = several_sweeps(runs)
    for r in sorted(
        runs,
        key=lambda r: (r["clients"], order.get(r["system"], len(order)), r.get("sweep", 0)),
    ):
        system = f"{r['system']} #{r.get('sweep', 0) + 1}" if several else r["system"]
        cells = [str(r["clients"]), system, *(_cell(r, k, f) for _, k, f in COLUMNS)]
        lines.append("| " + " | ".join([*cells, sustained_text(r)]) + " |")
    return "\n".join(lines)


def several_sweeps(runs: Sequence[dict[str, Any]]) -> bool:
    """Whether ``runs`` come from more than one sweep (``--repeat``): only then do runs carry a
    ``sweep`` index, and one above 0 shows up."""
    return any(r.get("sweep", 0) for r in runs)


def ratios(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, float | None]:
    """tickroom / colyseus for each ratio key (None when either side lacks the figure)."""
    out: dict[str, float | None] = {}
    for _, key in RATIO_KEYS:
        a, b = ours.get(key), theirs.get(key)
        ok = isinstance(a, int | float) and isinstance(b, int | float) and b
        out[key] = round(a / b, 3) if ok else None  # type: ignore[operator]
    return out


def ratio_line(pair: str, level: int, values: dict[str, float | None]) -> str:
    """``pair`` (``ours/theirs``) at ``level``: each ratio as ``1.23x``."""
    parts = [
        f"{label} {'-' if values[key] is None else f'{values[key]:.2f}x'}"
        for label, key in RATIO_KEYS
    ]
    return f"  {pair} at {level}: " + ", ".join(parts)


def floor_pair(transport: str) -> tuple[tuple[str, str, str], ...]:
    """``FLOOR_PAIR`` when tickroom runs on the floor's socket library (picows), else nothing:
    against the floor on another library the ratio would mix the two libraries' costs."""
    return (FLOOR_PAIR,) if transport in ("picows", "shared") else ()


# -- max sustained and targets ---------------------------------------------------------------


def failed_conditions(result: dict[str, Any]) -> list[str]:
    """Which of the driver's sustained conditions a level broke (for the report)."""
    if "error" in result:
        return [f"error: {result['error']}"]
    checks = [
        ((result.get("lat_p99_ms") or 1e9) >= 150, f"p99 {result.get('lat_p99_ms')} ms ≥ 150"),
        ((result.get("ticks_per_s") or 0) < 19.5, f"ticks/s {result.get('ticks_per_s')} < 19.5"),
        (result.get("server_cpu_pct", 0) >= 95, f"server CPU {result.get('server_cpu_pct')} %"),
        (
            (result.get("states_per_client_s") or 0) < 19,
            f"states/client/s {result.get('states_per_client_s')} < 19",
        ),
        (result.get("joined") != result.get("clients"), f"joined {result.get('joined')}"),
        (result.get("bot_closed", 0) > 0, f"{result.get('bot_closed')} bots closed"),
        (bool(result.get("bot_bound")), "bot-bound"),
    ]
    return [text for failed, text in checks if failed]


def find_max_sustained(
    steps: Sequence[int], done: dict[int, dict[str, Any]], run: Any
) -> dict[str, Any]:
    """Step up through ``steps`` and the levels already in ``done`` (reused, not run again)
    until one fails. The maximum is the highest sustained level below the first failure, among
    every level run; steps above a level that already failed are not run."""
    failing: int | None = None
    for level in sorted(set(steps) | set(done)):
        result = done.get(level)
        if result is None:
            result = run(level)
            done[level] = result
        if result.get("sustained") == "bot-bound" or ("error" not in result and noisy(result)):
            continue  # the bots or other load, not the server, were the limit: no verdict
        if result.get("sustained") is not True:
            failing = level
            break
    passing = [
        level
        for level, result in done.items()
        if result.get("sustained") is True
        and not noisy(result)
        and (failing is None or level < failing)
    ]
    out: dict[str, Any] = {
        "max_sustained": max(passing) if passing else None,
        "first_failing": failing,
        "steps": sorted(steps),
    }
    if failing is not None:
        out["failing_because"] = failed_conditions(done[failing])
    return out


def payload_ratio(
    by_level: dict[int, dict[str, dict[str, Any]]], ours_name: str, theirs_name: str
) -> float | None:
    """ours/theirs bytes per state at the highest level where both delivered every
    state (>= 19 states/client/s): with a state per tick on both sides, that is the ratio of
    bytes per client per second at 20 Hz. An overloaded server skips states, which makes its
    bytes per second look small, and its catch-up patches make bytes per state look large."""
    for level in sorted(by_level, reverse=True):
        ours, theirs = by_level[level].get(ours_name), by_level[level].get(theirs_name)
        if (
            ours
            and theirs
            and all((r.get("states_per_client_s") or 0) >= 19 for r in (ours, theirs))
        ):
            return ratios(ours, theirs)["payload_B_per_state"]
    return None


def evaluate_targets(
    at_target: dict[str, dict[str, Any]],
    max_sustained: dict[str, Any] | None,
    payload: float | None = None,
    pair: tuple[str, str] = ("tickroom", "colyseus-moving"),
) -> list[dict[str, Any]]:
    """Each target with its measured value and PASS / MISS / not run, for ``pair`` (ours,
    theirs) at ``TARGET_LEVEL``; ``max_sustained`` is ours (None: not searched)."""
    ours, theirs = at_target.get(pair[0]), at_target.get(pair[1])
    rel = ratios(ours, theirs) if ours and theirs else {}
    figures: dict[str, Any] = {
        "us": ours.get("us_per_client_tick") if ours else None,
        "us_ratio": rel.get("us_per_client_tick"),
        "max_sustained": max_sustained.get("max_sustained") if max_sustained else None,
        "payload_ratio": payload,
        "p50": ours.get("lat_p50_ms") if ours else None,
        "p99": ours.get("lat_p99_ms") if ours else None,
        "rss": ours.get("server_rss_peak_mb") if ours else None,
    }
    out = []
    for name, figure, op, limit in TARGETS:
        value = figures[figure]
        if figure == "max_sustained" and max_sustained is not None and value is None:
            value = 0
        if value is None:
            verdict = "not run"
        else:
            verdict = "PASS" if (value <= limit if op == "<=" else value >= limit) else "MISS"
        out.append({"target": name, "limit": f"{op} {limit:g}", "value": value, "verdict": verdict})
    return out


# -- plot --------------------------------------------------------------------------------------

# -- main --------------------------------------------------------------------------------------


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = done.stdout.strip() or None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "game_server", "protocol"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout.strip()
    return f"{commit} (server code modified in the work tree)" if commit and dirty else commit


def _run(system: str, level: int, cfg: RunConfig) -> dict[str, Any]:
    try:
        result: LevelResult = run_level(system, level, cfg)
    except BenchError as exc:
        print(f"  {system} at {level}: {exc}", file=sys.stderr)
        return {"system": system, "clients": level, "players": cfg.players, "error": str(exc)}
    return result.as_dict()


def _sweep(
    systems: Sequence[str],
    levels: Sequence[int],
    max_steps: Sequence[int],
    cfg: RunConfig,
    index: int,
    count: int,
) -> dict[str, Any]:
    """Sweep ``index`` of ``count``: every level with every system (in ``systems``' order), the
    ratios, tickroom's max sustained and the targets, printed as they come. With several
    sweeps each run is tagged with ``sweep`` (its index); the caller merges the sweeps' runs and,
    for several, sums them up with ``bench.arena_spread``."""
    if count > 1:
        print(f"== sweep {index + 1} of {count}: {', '.join(systems)}", flush=True)
    runs: list[dict[str, Any]] = []
    by_level: dict[int, dict[str, dict[str, Any]]] = {}
    level_ratios: dict[str, dict[str, dict[str, float | None]]] = {}

    def run(system: str, level: int) -> dict[str, Any]:
        result = _run(system, level, cfg)
        if count > 1:
            result["sweep"] = index
        runs.append(result)
        return result

    for level in levels:
        for system in systems:
            by_level.setdefault(level, {})[system] = run(system, level)
        print(level_table(level, list(by_level[level].values())))
        for ours_name, theirs_name, _ in (*PAIRS, *floor_pair(cfg.transport), NATIVE_PAIR):
            ours, theirs = by_level[level].get(ours_name), by_level[level].get(theirs_name)
            if ours and theirs:
                pair = f"{ours_name}/{theirs_name}"
                level_ratios.setdefault(pair, {})[str(level)] = ratios(ours, theirs)
                print(ratio_line(pair, level, level_ratios[pair][str(level)]))
        print(flush=True)

    max_sustained = None
    if "tickroom" in systems and max_steps:
        done = {lvl: per["tickroom"] for lvl, per in by_level.items() if "tickroom" in per}

        def step(level: int) -> dict[str, Any]:
            result = run("tickroom", level)
            print(level_table(level, [result]), flush=True)
            return result

        max_sustained = find_max_sustained(max_steps, done, step)
        first = max_sustained["first_failing"]
        print(
            f"tickroom max sustained: {max_sustained['max_sustained']} clients"
            + (
                f" (fails at {first}: {'; '.join(max_sustained['failing_because'])})"
                if first
                else " (every step passed)"
            )
        )

    targets: dict[str, list[dict[str, Any]]] = {}
    for ours_name, theirs_name, shared in PAIRS:
        if ours_name not in systems:
            continue
        pair = f"{ours_name}/{theirs_name}"
        targets[pair] = evaluate_targets(
            by_level.get(TARGET_LEVEL, {}),
            max_sustained if ours_name == "tickroom" else None,
            payload_ratio(by_level, ours_name, theirs_name),
            (ours_name, theirs_name),
        )
        print(f"\ntargets, {pair} ({shared}; transport {cfg.transport}):")
        for t in targets[pair]:
            value = "-" if t["value"] is None else t["value"]
            print(f"  {t['verdict']:7}  {t['target']}: {value} (target {t['limit']})")
    return {
        "runs": runs,
        "ratios": level_ratios,
        "max_sustained": max_sustained,
        "targets": targets,
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.replot:
        earlier = json.loads(Path(args.replot).read_text())["runs"]
        if args.markdown:
            print(markdown_table(earlier))
        if args.plot:
            several = several_sweeps(earlier)
            draw_plot(median_runs(earlier) if several else earlier, Path(args.plot))
            print(f"wrote {args.plot}")
            if several:
                _draw_sweeps(earlier, Path(args.plot))
        return 0
    if args.repeat < 1:
        print("--repeat must be at least 1")
        return 2
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - set(SYSTEMS)
    if unknown or not systems:
        print(f"unknown systems {sorted(unknown)}; choose from {', '.join(SYSTEMS)}")
        return 2
    cfg = RunConfig(
        duration=args.duration,
        warmup=args.warmup,
        observe_every=args.observe_every,
        players=args.players,
        transport=args.transport,
        progress=args.progress,
        quiet_wait=args.quiet_wait,
    )
    try:
        if any(system.startswith("tickroom") for system in systems):
            ensure_node_bots()
        if any(system.startswith(("colyseus", "floor")) for system in systems):
            ensure_colyseus()
    except BenchError as exc:
        print(f"cannot run the benchmark: {exc}", file=sys.stderr)
        return 2

    started = time.time()
    sweeps = [
        _sweep(sweep_order(systems, index), args.levels, args.max_steps, cfg, index, args.repeat)
        for index in range(args.repeat)
    ]
    runs = [run for sweep in sweeps for run in sweep["runs"]]
    spread: dict[str, Any] | None = None
    if args.repeat > 1:
        maxima = [s["max_sustained"]["max_sustained"] for s in sweeps if s["max_sustained"]]
        spread = {
            "ratios": ratio_spread([s["ratios"] for s in sweeps]),
            "targets": target_tally([s["targets"] for s in sweeps]),
            "max_sustained_by_sweep": maxima,
        }
        print()
        print(spread_text(spread["ratios"], spread["targets"], maxima, args.repeat))

    report: dict[str, Any] = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "elapsed_s": round(time.time() - started, 1),
        "git": _git_commit(),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "config": {
            "levels": args.levels,
            "systems": systems,
            "duration": cfg.duration,
            "warmup": cfg.warmup,
            "observe_every": cfg.observe_every,
            "players": cfg.players,
            "transport": cfg.transport,
        },
        "runs": runs,
    }
    figures = ("ratios", "max_sustained", "targets")
    if spread is None:  # one sweep: its figures at the top, as before --repeat existed
        report.update({key: sweeps[0][key] for key in figures})
    else:  # several: each sweep's figures, and their summary
        report["config"]["repeat"] = args.repeat
        report["sweeps"] = [{key: sweep[key] for key in figures} for sweep in sweeps]
        report["spread"] = spread
    if args.markdown:
        print(markdown_table(runs))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {path}")
    if args.plot:
        draw_plot(runs if spread is None else median_runs(runs), Path(args.plot))
        print(f"wrote {args.plot}")
        if spread is not None:
            _draw_sweeps(runs, Path(args.plot))
    return 1 if any("error" in r for r in runs) else 0


def sweeps_level(runs: Sequence[dict[str, Any]]) -> int | None:
    """The level the sweep-by-sweep plot shows: the target level when a pair measured it, else
    the highest level at which a pair did (a level only tickroom ran, a step of the search for
    its maximum, has no ratio); None when no pair measured any."""
    levels = [level for level in {r["clients"] for r in runs} if sweep_ratios(runs, level)]
    if not levels:
        return None
    return TARGET_LEVEL if TARGET_LEVEL in levels else max(levels)


def _draw_sweeps(runs: Sequence[dict[str, Any]], plot: Path) -> None:
    """The sweep-by-sweep plot beside ``plot`` (``sweeps_plot_path``), at ``sweeps_level``."""
    level = sweeps_level(runs)
    if level is None:
        return
    path = sweeps_plot_path(plot)
    draw_sweeps_plot(runs, level, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
