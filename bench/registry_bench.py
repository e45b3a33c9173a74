"""Matchmaking costs: ``join_or_create`` throughput and latency, in-memory backend vs Redis.

    python -m bench.registry_bench [--quick] [--redis URL] [--json bench/results/registry.json]

Each scenario reserves ``joins`` seats with ``RoomRegistry.join_or_create`` in a room type of 10
seats (so one call in ten creates a room), on a ``ManualClock`` (rooms never tick: only the
matchmaking path is measured), and no client redeems its seat:

- ``sequential``: one call at a time; p50 and p99 of each call's latency.
- ``concurrent``: ``concurrency`` callers at once in one process; joins per second.
- ``two processes``: (Redis only) two registries sharing the Redis, the callers split between
  them, so every other room is joined through the other registry (a request over its channel).
  Both registries run in this one Python process: the figure includes both sides' CPU.

With the Redis backend every call takes the matchmaking lock (SET NX PX, Lua release), and every
seat is flushed to the listings before the lock is released, so the next caller (in any process)
sees it. Without ``--redis`` the bench starts Debian's ``redis-server`` on a free loopback port
(no persistence) and stops it. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any

from game_server.backends import MemoryBackend, RegistryBackend
from game_server.backends.redis import RedisBackend
from game_server.clock import ManualClock
from game_server.registry import RoomRegistry
from game_server.room import Room

SEATS = 10


class Lobby(Room):
    """Ten seats, nothing else."""

    max_clients = SEATS


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port; yields its URL."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        raise SystemExit("redis-server is not installed (scripts/setup installs it as root)")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    break
            time.sleep(0.02)
        else:
            raise SystemExit("redis-server did not start")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _backend(kind: str, url: str, prefix: str) -> RegistryBackend:
    return MemoryBackend() if kind == "memory" else RedisBackend.from_url(url, prefix=prefix)


def _registry(kind: str, url: str, prefix: str, name: str) -> RoomRegistry:
    registry = RoomRegistry(ManualClock(), _backend(kind, url, prefix), process_id=name)
    registry.define("lobby", Lobby)
    return registry


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _sequential(kind: str, url: str, joins: int) -> dict[str, Any]:
    registry = _registry(kind, url, f"bench:{secrets.token_hex(4)}:", "p1")
    latencies: list[float] = []
    async with registry:
        started = time.perf_counter()
        for _ in range(joins):
            before = time.perf_counter()
            await registry.join_or_create("lobby")
            latencies.append(time.perf_counter() - before)
        elapsed = time.perf_counter() - started
    return {
        "joins": joins,
        "joins_per_s": joins / elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
    }


async def _concurrent(
    kind: str, url: str, joins: int, concurrency: int, processes: int
) -> dict[str, Any]:
    prefix = f"bench:{secrets.token_hex(4)}:"
    registries = [_registry(kind, url, prefix, f"p{n}") for n in range(processes)]
    latencies: list[float] = []
    for registry in registries:
        await registry.start()
    try:
        queue = iter(range(joins))

        async def caller(registry: RoomRegistry) -> None:
            for _ in queue:
                before = time.perf_counter()
                await registry.join_or_create("lobby")
                latencies.append(time.perf_counter() - before)

        started = time.perf_counter()
        await asyncio.gather(*(caller(registries[n % processes]) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
        seats = sum(room.player_count for r in registries for room in r.rooms.values())
        rooms = sum(len(r.rooms) for r in registries)
        remote = sum(r.stats.remote_calls for r in registries)
    finally:
        for registry in registries:
            await registry.close()
    if seats != joins or rooms != -(-joins // SEATS):
        raise RuntimeError(f"{seats} seats in {rooms} rooms: duplicated or overfilled")
    return {
        "joins": joins,
        "concurrency": concurrency,
        "processes": processes,
        "joins_per_s": joins / elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "rooms": rooms,
        "remote_joins": remote,
    }


async def _run(url: str, joins: int, concurrency: int) -> dict[str, Any]:
    report: dict[str, Any] = {"sequential": {}, "concurrent": {}}
    for kind in ("memory", "redis"):
        report["sequential"][kind] = await _sequential(kind, url, joins)
        report["concurrent"][kind] = await _concurrent(kind, url, joins, concurrency, 1)
    report["concurrent"]["redis, two processes"] = await _concurrent(
        "redis", url, joins, concurrency, 2
    )
    memory, redis = report["sequential"]["memory"], report["sequential"]["redis"]
    report["added_latency_ms"] = {
        "p50": redis["p50_ms"] - memory["p50_ms"],
        "p99": redis["p99_ms"] - memory["p99_ms"],
    }
    return report


def _table(report: dict[str, Any]) -> str:
    lines = [
        "| scenario | backend | joins/s | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|",
    ]
    for scenario in ("sequential", "concurrent"):
        for backend, row in report[scenario].items():
            label = scenario if scenario == "sequential" else f"{row['concurrency']} callers"
            lines.append(
                f"| {label} | {backend} | {row['joins_per_s']:,.0f} | "
                f"{row['p50_ms']:.3f} | {row['p99_ms']:.3f} |"
            )
    added = report["added_latency_ms"]
    lines.append("")
    lines.append(
        f"Redis adds {added['p50']:.3f} ms (p50) and {added['p99']:.3f} ms (p99) to each "
        "sequential join_or_create."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the bench; print the table; write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="few joins (a smoke test)")
    parser.add_argument("--redis", metavar="URL", help="use this Redis instead of starting one")
    parser.add_argument("--joins", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--json", type=Path, default=Path("bench/results/registry.json"))
    args = parser.parse_args(argv)
    joins = 100 if args.quick else args.joins
    with nullcontext(args.redis) if args.redis else redis_server() as url:
        report = asyncio.run(_run(url, joins, min(args.concurrency, joins)))
    report["machine"] = {"python": sys.version.split()[0], "platform": platform.platform()}
    print(_table(report))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
