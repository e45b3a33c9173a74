"""Headless simulation speed: the arena (10 players, 100 NPCs) ticked with no sockets.

    python -m bench.headless_bench [--ticks 5000] [--json bench/results/headless.json]

Two rows:

- ``room``: what one room costs the server per tick: inputs queued for every player, the tick
  (inputs, NPC moves, player moves), the commit, and the patch encoded once (the shared body
  every member gets). This is the figure the issue's targets apply to: >= 5,000 ticks/s and a
  p99 tick cost <= 2 ms.
- ``simulation``: the same match through ``game_server.Simulation``, where each of the 10
  simulated clients also encodes its input, and decodes and applies every patch over the
  in-memory link: the speed of a headless test.

Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from game_server.games.arena import Arena
from game_server.simulation import Simulation

TARGET_TICKS_PER_SECOND = 5000
TARGET_P99_MS = 2.0


def _percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _summary(name: str, durations_ns: list[int], wall: float) -> dict[str, Any]:
    ms = sorted(d / 1e6 for d in durations_ns)
    return {
        "name": name,
        "ticks": len(ms),
        "ticks_per_second": len(ms) / wall,
        "mean_ms": statistics.fmean(ms),
        "p50_ms": _percentile(ms, 0.50),
        "p95_ms": _percentile(ms, 0.95),
        "p99_ms": _percentile(ms, 0.99),
        "max_ms": ms[-1],
    }


def bench_room(ticks: int, warmup: int, players: int) -> dict[str, Any]:
    """Ticks of one room with inputs injected directly and the shared patch encoded."""
    sim = Simulation(Arena, seed=1)
    for index in range(players):
        sim.join({"name": f"p{index}"})
    sim.step(2)
    room = sim.room
    members = list(room.clients.values())
    durations: list[int] = []
    clock = time.perf_counter_ns
    started = 0.0
    for tick in range(warmup + ticks):
        if tick == warmup:
            started = time.perf_counter()
        begin = clock()
        for offset, client in enumerate(members):
            client.received_seq += 1
            step = (tick + offset) % 3 - 1
            room._inject(("input", client, client.received_seq, {"dx": step, "dy": 1 - step}))
        room._advance()
        room._state_frame(room.tick - 1)
        if tick >= warmup:
            durations.append(clock() - begin)
    return _summary("room", durations, time.perf_counter() - started)


def bench_simulation(ticks: int, warmup: int, players: int) -> dict[str, Any]:
    """Ticks of a full Simulation: clients encode inputs and decode and apply every patch."""
    sim = Simulation(Arena, seed=1)
    clients = [sim.join({"name": f"p{index}"}) for index in range(players)]
    sim.step(2)
    durations: list[int] = []
    clock = time.perf_counter_ns
    started = 0.0
    for tick in range(warmup + ticks):
        if tick == warmup:
            started = time.perf_counter()
        begin = clock()
        for offset, client in enumerate(clients):
            step = (tick + offset) % 3 - 1
            client.send_input({"dx": step, "dy": 1 - step})
        sim.step()
        if tick >= warmup:
            durations.append(clock() - begin)
    assert all(c.state_hash == sim.room.state_hash() for c in clients)
    return _summary("simulation", durations, time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write the JSON. Exit 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ticks", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--players", type=int, default=10)
    parser.add_argument("--json", type=Path, default=Path("bench/results/headless.json"))
    args = parser.parse_args(argv)

    rows = [
        bench_room(args.ticks, args.warmup, args.players),
        bench_simulation(max(1, args.ticks // 5), args.warmup, args.players),
    ]
    room = rows[0]
    verdict = {
        "ticks_per_second": room["ticks_per_second"] >= TARGET_TICKS_PER_SECOND,
        "p99_ms": room["p99_ms"] <= TARGET_P99_MS,
    }
    print(f"headless arena: {args.players} players, 100 NPCs, diff and encode included")
    print(
        f"{'row':<11} {'ticks':>6} {'ticks/s':>9} {'mean ms':>8} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7}"
    )
    for row in rows:
        print(
            f"{row['name']:<11} {row['ticks']:>6} {row['ticks_per_second']:>9.0f} "
            f"{row['mean_ms']:>8.3f} {row['p50_ms']:>7.3f} {row['p95_ms']:>7.3f} "
            f"{row['p99_ms']:>7.3f} {row['max_ms']:>7.3f}"
        )
    print(
        f"targets (room row): >= {TARGET_TICKS_PER_SECOND} ticks/s: "
        f"{'PASS' if verdict['ticks_per_second'] else 'FAIL'}; p99 <= {TARGET_P99_MS} ms: "
        f"{'PASS' if verdict['p99_ms'] else 'FAIL'}"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "benchmark": "headless",
                "python": sys.version.split()[0],
                "machine": platform.machine(),
                "players": args.players,
                "npcs": 100,
                "rows": rows,
                "targets": {"ticks_per_second": TARGET_TICKS_PER_SECOND, "p99_ms": TARGET_P99_MS},
                "pass": verdict,
            },
            indent=2,
        )
    )
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
