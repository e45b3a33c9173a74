"""The tick scheduler's own cost on a real clock: its wake-ups, its CPU and tick lateness.

    python -m bench.tick_lanes [--rooms 100] [--seconds 3] [--work-us 200] [--loop uvloop]
                               [--json bench/results/tick_lanes.json]

R rooms on the registry's ``TickScheduler`` (one lane at 20 Hz, ten grid slots), each added a
little after the last so that they spread over the slots as a server's rooms do. Each tick, a
room's ``update`` busy-waits ``--work-us`` µs, standing in for a game; no sockets. Figures, over
the measured seconds: how often the lane slept (``MonotonicClock.sleep_until`` calls; ten slots
at 20 Hz need 200 a second), the process's CPU beyond the rooms' ``update`` time (the lane, the
event loop and each room's tick bookkeeping), in % of a core, and the start lateness of every
batch of ticks a room ran (p50, p99: what ``TickLoop.lateness`` observes, which counts the rooms
of a slot running one after another; a tick that starts before its deadline counts 0). Prints
a table, writes JSON.

The eleventh round found the lanes spinning on uvloop (docs/performance-history.md, *What the
eleventh round changed*): this shows it, or its absence, in seconds and without a driver. Owns:
the figures for the scheduler alone. Must never: open a socket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import uvloop

from game_server.clock import MonotonicClock
from game_server.loop import TICK_BUCKETS, TickLoop
from game_server.metrics import Histogram
from game_server.room import Room
from game_server.scheduler import TickScheduler

LOOPS = {"uvloop": uvloop.run, "asyncio": asyncio.run}
"""The event loops the bench can run on (the run command's is uvloop)."""


class BusyRoom(Room):
    """A room whose tick is ``work`` seconds of busy waiting, and nothing else."""

    tick_rate = 20.0
    auto_dispose = False
    work = 0.0002

    def update(self, dt: float) -> None:
        started = time.perf_counter()
        while time.perf_counter() - started < self.work:
            pass


class RecordingHistogram(Histogram):
    """A tick-lateness histogram that keeps every observation (one per ``run_due`` that ran)."""

    def __init__(self) -> None:
        super().__init__(TICK_BUCKETS)
        self.values: list[float] = []

    def observe(self, value: float) -> None:
        super().observe(value)
        self.values.append(value)


class CountingClock(MonotonicClock):
    """The production clock, counting its sleeps."""

    def __init__(self) -> None:
        self.sleeps = 0

    async def sleep_until(self, deadline: float) -> None:
        self.sleeps += 1
        await super().sleep_until(deadline)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def _measure(rooms: int, seconds: float, work: float) -> dict[str, Any]:
    clock = CountingClock()
    scheduler = TickScheduler(clock)
    room_class = type("Busy", (BusyRoom,), {"work": work})
    loops: list[TickLoop] = []
    lateness = RecordingHistogram()
    try:
        for n in range(rooms):
            room = room_class(room_id=f"r{n}")
            room._start()
            loop = TickLoop(room, clock, lateness=lateness)
            loops.append(loop)
            scheduler.add(loop)
            await asyncio.sleep(0.0013)  # rooms created over time spread over the grid's slots
        await asyncio.sleep(0.5)  # every room ticking
        ticks_before = sum(loop.room.tick for loop in loops)
        sleeps_before = clock.sleeps
        lateness.values.clear()
        started, cpu_started = time.monotonic(), time.process_time()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - started
        cpu = time.process_time() - cpu_started
        ticks = sum(loop.room.tick for loop in loops) - ticks_before
        sleeps = clock.sleeps - sleeps_before
    finally:
        await scheduler.close()
    return {
        "rooms": rooms,
        "seconds": elapsed,
        "work_us": work * 1e6,
        "ticks_per_second": ticks / elapsed,
        "lane_sleeps_per_second": sleeps / elapsed,
        "overhead_cpu_percent": 100 * (cpu - ticks * work) / elapsed,
        "lateness_ms": {
            "p50": 1000 * _percentile(lateness.values, 0.5),
            "p99": 1000 * _percentile(lateness.values, 0.99),
        },
        "lateness_samples": len(lateness.values),
    }


def measure(rooms: int, seconds: float, work_us: float, loop: str = "uvloop") -> dict[str, Any]:
    """Run the scenario on the named event loop and return the figures."""
    return LOOPS[loop](_measure(rooms, seconds, work_us / 1e6))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write the JSON. Exit 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=3.0, help="measured window (s)")
    parser.add_argument("--work-us", type=float, default=200.0, help="each room tick's work")
    parser.add_argument("--loop", choices=sorted(LOOPS), default="uvloop")
    parser.add_argument("--json", type=Path, default=Path("bench/results/tick_lanes.json"))
    args = parser.parse_args(argv)
    if args.rooms < 1 or args.seconds <= 0 or args.work_us < 0:
        parser.error("--rooms must be at least 1, --seconds positive, --work-us not negative")
    report = measure(args.rooms, args.seconds, args.work_us, args.loop)
    report.update(
        benchmark="tick_lanes",
        loop=args.loop,
        python=sys.version.split()[0],
        machine=platform.machine(),
    )
    print(
        f"tick lanes, {args.loop}: {args.rooms} rooms at 20 Hz on 10 grid slots, "
        f"{args.work_us:g} µs of work a room tick, {report['seconds']:.1f} s"
    )
    rows = [
        ("room ticks / s", f"{report['ticks_per_second']:.0f}"),
        ("lane sleeps / s", f"{report['lane_sleeps_per_second']:.0f}  (200 needed)"),
        ("CPU beyond the work", f"{report['overhead_cpu_percent']:.2f} % of a core"),
        ("lateness p50", f"{report['lateness_ms']['p50']:.2f} ms"),
        ("lateness p99", f"{report['lateness_ms']['p99']:.2f} ms"),
    ]
    for name, value in rows:
        print(f"{name:<20} {value}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
