"""Slow-client isolation: does one client that stops reading hurt everyone else's latency?

    python -m bench.slow_client [--clients 100] [--duration 20] [--slow-after 2]
        [--slow-for 15] [--json bench/results/slow_client.json]

Two runs of the same level of the arena workload through the shared driver (server on CPU 0,
Node tickroom bots on CPU 1, every bot observing):

- ``baseline``: N clients, all reading;
- ``slow``: the same, but player 1 of room 0 stops reading its socket ``--slow-after`` seconds
  into the measured window, for ``--slow-for`` seconds (it keeps sending inputs; it cannot ack).

Reports the other clients' input-to-state latency p50/p99 both ways (the issue's rule: the p99
with the slow client within ``P99_TOLERANCE_MS`` of the p99 without it) and whether the slow
client was closed with TOO_SLOW (4012): as the client saw it (its close code, from the bot's
``SLOW`` lines) and as the server counted it (its TOO_SLOW counter and disconnects by code).

Exit status: 0 when both runs produced results, 1 otherwise, 2 when the bench cannot run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.arena_runs import BenchError, RunConfig, ensure_node_bots, run_level

TOO_SLOW = 4012
P99_TOLERANCE_MS = 1.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.slow_client", description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument("--clients", type=int, default=100, help="clients, in rooms of 10")
    parser.add_argument("--duration", type=float, default=20.0, help="measured window (s)")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--slow-after", type=float, default=2.0, help="s into the window")
    parser.add_argument("--slow-for", type=float, default=15.0, help="s without reading")
    parser.add_argument("--transport", default="shared")
    parser.add_argument("--quiet-wait", type=float, default=60.0)
    parser.add_argument("--json", default="bench/results/slow_client.json", metavar="FILE")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    return parser


def summarize(baseline: dict[str, Any], slow: dict[str, Any]) -> dict[str, Any]:
    """The verdicts: others' p99 within tolerance, and the slow client closed with 4012."""
    p99_a, p99_b = baseline.get("lat_p99_ms"), slow.get("lat_p99_ms")
    delta = round(p99_b - p99_a, 2) if p99_a is not None and p99_b is not None else None
    seen = (slow.get("slow_client") or {}).get("code")
    counted = int(slow.get("server_too_slow_total") or 0)
    by_code = (slow.get("server_disconnects") or {}).get(str(TOO_SLOW), 0)
    return {
        "p99_delta_ms": delta,
        "p99_within_tolerance": delta is not None and delta <= P99_TOLERANCE_MS,
        "slow_client_close_code": seen,
        "server_too_slow": counted,
        "server_closed_4012": by_code,
        "closed_too_slow": seen == TOO_SLOW or (counted >= 1 and by_code >= 1),
    }


def table(baseline: dict[str, Any], slow: dict[str, Any]) -> str:
    """Both runs side by side."""

    def row(name: str, r: dict[str, Any]) -> str:
        if "error" in r:
            return f"  {name:22} error: {r['error']}"
        return (
            f"  {name:22} {r.get('lat_p50_ms', '-'):>8} {r.get('lat_p99_ms', '-'):>8}"
            f" {r.get('lat_max_ms', '-'):>8} {r.get('lat_samples', '-'):>8}"
            f" {r.get('ticks_per_s', '-'):>8} {r.get('bot_closed', '-'):>7}"
        )

    head = (
        f"  {'run':22} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'samples':>8}"
        f" {'ticks/s':>8} {'closed':>7}"
    )
    return "\n".join(
        [head, row("without slow client", baseline), row("with one slow client", slow)]
    )


def _run(level: int, cfg: RunConfig) -> dict[str, Any]:
    try:
        return run_level("tickroom", level, cfg).as_dict()
    except BenchError as exc:
        return {"system": "tickroom", "clients": level, "error": str(exc)}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.slow_after + args.slow_for > args.duration:
        print("--slow-after + --slow-for must fit in --duration", file=sys.stderr)
        return 2
    try:
        ensure_node_bots()
    except BenchError as exc:
        print(f"cannot run the benchmark: {exc}", file=sys.stderr)
        return 2
    base = RunConfig(
        duration=args.duration,
        warmup=args.warmup,
        observe_every=1,
        transport=args.transport,
        progress=args.progress,
        quiet_wait=args.quiet_wait,
    )
    slow_args = ("--slow-after", f"{args.slow_after:g}", "--slow-for", f"{args.slow_for:g}")
    slowed = RunConfig(**{**base.__dict__, "extra_bot_args": slow_args})
    baseline = _run(args.clients, base)
    slow = _run(args.clients, slowed)

    print(f"{args.clients} clients, others' input-to-state latency (transport {args.transport}):")
    print(table(baseline, slow))
    verdict = summarize(baseline, slow)
    within = "PASS" if verdict["p99_within_tolerance"] else "MISS"
    closed = "PASS" if verdict["closed_too_slow"] else "MISS"
    print(
        f"  {within}  p99 with the slow client - without: {verdict['p99_delta_ms']} ms"
        f" (target <= {P99_TOLERANCE_MS:g})"
    )
    print(
        f"  {closed}  slow client closed with TOO_SLOW ({TOO_SLOW}): client saw"
        f" {verdict['slow_client_close_code']}, server counted too_slow="
        f"{verdict['server_too_slow']}, 4012 closes={verdict['server_closed_4012']}"
    )
    report = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": {
            key: getattr(args, key)
            for key in ("clients", "duration", "warmup", "slow_after", "slow_for", "transport")
        },
        "baseline": baseline,
        "slow": slow,
        "verdict": verdict,
    }
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {path}")
    return 1 if "error" in baseline or "error" in slow else 0


if __name__ == "__main__":
    sys.exit(main())
