"""``TickLoop`` on a ``ManualClock`` inside ``asyncio.run``: nothing sleeps for real. The tick
rate is 16 per second so every deadline (n / 16 s) is exact in binary and the clock can be
moved by whole intervals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

from game_server.clock import ManualClock
from game_server.loop import TICK_BUCKETS, TickLoop
from game_server.metrics import Histogram
from game_server.room import Room

RATE = 16
INTERVAL = 1 / RATE


class Ticker(Room):
    """A room that only counts its ticks."""

    tick_rate = RATE
    auto_dispose = False


def started_room() -> Ticker:
    room = Ticker(room_id="t")
    room._start()
    return room


def fake_timer(step: float) -> Callable[[], float]:
    """A ``perf_counter`` stand-in that moves ``step`` seconds per call: each tick lasts
    ``step``."""
    readings: Iterator[float] = (n * step for n in range(10**9))
    return lambda: next(readings)


def run(scenario: Callable[[ManualClock], Coroutine[Any, Any, None]], clock: ManualClock) -> None:
    asyncio.run(scenario(clock))


async def tick_for(clock: ManualClock, intervals: int) -> None:
    """Move the clock one tick interval at a time, letting the loop run after each."""
    for _ in range(intervals):
        clock.advance(INTERVAL)
        await clock.settle()


def test_loop_ticks_at_the_room_tick_rate(manual_clock: ManualClock) -> None:
    room = started_room()

    async def scenario(clock: ManualClock) -> None:
        loop = TickLoop(room, clock)
        loop.start()
        await clock.settle()
        assert room.tick == 0
        await tick_for(clock, RATE)  # one second
        assert room.tick == RATE
        loop.stop()

    run(scenario, manual_clock)


def test_loop_does_not_tick_between_deadlines(manual_clock: ManualClock) -> None:
    room = started_room()

    async def scenario(clock: ManualClock) -> None:
        loop = TickLoop(room, clock)
        loop.start()
        clock.advance(INTERVAL / 2)
        await clock.settle()
        assert room.tick == 0
        clock.advance(INTERVAL / 2)
        await clock.settle()
        assert room.tick == 1
        loop.stop()

    run(scenario, manual_clock)


def test_loop_catches_up_missed_ticks_and_counts_them(manual_clock: ManualClock) -> None:
    room = started_room()

    async def scenario(clock: ManualClock) -> None:
        loop = TickLoop(room, clock, max_catch_up=5)
        loop.start()
        clock.advance(3 * INTERVAL)
        await clock.settle()
        assert room.tick == 3
        assert loop.schedule.caught_up == 2
        assert loop.schedule.skipped == 0
        loop.stop()

    run(scenario, manual_clock)


def test_loop_skips_ticks_beyond_max_catch_up_and_counts_them(manual_clock: ManualClock) -> None:
    room = started_room()

    async def scenario(clock: ManualClock) -> None:
        loop = TickLoop(room, clock, max_catch_up=4)
        loop.start()
        clock.advance(10 * INTERVAL)
        await clock.settle()
        assert room.tick == 4
        assert loop.schedule.caught_up == 3
        assert loop.schedule.skipped == 6
        await tick_for(clock, 1)
        assert room.tick == 5  # back on schedule: one tick per interval
        loop.stop()

    run(scenario, manual_clock)


def test_loop_records_each_tick_duration_from_the_injected_timer(manual_clock: ManualClock) -> None:
    room = started_room()

    async def scenario(clock: ManualClock) -> None:
        loop = TickLoop(room, clock, timer=fake_timer(0.003))
        loop.start()
        await tick_for(clock, 4)
        assert loop.duration.count == 4
        assert loop.duration.sum == pytest.approx(4 * 0.003)
        assert dict(loop.duration.cumulative())[0.002] == 0
        assert dict(loop.duration.cumulative())[0.005] == 4
        assert room.stats.last_tick_duration == pytest.approx(0.003)
        loop.stop()

    run(scenario, manual_clock)


@pytest.mark.parametrize(
    ("seconds", "reported"),
    [(0.0002, 0.00025), (0.0012, 0.0015), (0.0026, 0.003), (0.0035, 0.004), (0.0061, 0.0075)],
)
def test_tick_buckets_tell_lateness_apart_below_ten_ms(seconds: float, reported: float) -> None:
    """A loaded server's lateness lies at 1-8 ms: a percentile read from the buckets is at most
    1.5 ms above it there (the earlier buckets read 0.0026 and 0.0035 s as 5 ms)."""
    histogram = Histogram(TICK_BUCKETS)
    for _ in range(100):
        histogram.observe(seconds)
    assert histogram.quantile(0.99) == reported
    assert seconds <= reported < seconds + 0.0015


def test_loop_records_the_lateness_of_each_batch(manual_clock: ManualClock) -> None:
    room = started_room()

    async def scenario(clock: ManualClock) -> None:
        loop = TickLoop(room, clock)
        loop.start()
        await tick_for(clock, 2)  # on time
        clock.advance(2.5 * INTERVAL)  # the deadline 3 intervals in passed 1.5 intervals ago
        await clock.settle()
        assert loop.lateness.count == 3
        assert loop.lateness.max == pytest.approx(1.5 * INTERVAL)
        assert dict(loop.lateness.cumulative())[0.0005] == 2
        loop.stop()

    run(scenario, manual_clock)


def test_loop_writes_into_shared_histograms(manual_clock: ManualClock) -> None:
    duration, lateness = Histogram([0.01]), Histogram([0.01])
    rooms = [started_room(), started_room()]

    async def scenario(clock: ManualClock) -> None:
        loops = [TickLoop(r, clock, duration=duration, lateness=lateness) for r in rooms]
        for loop in loops:
            loop.start()
        await tick_for(clock, 3)
        for loop in loops:
            loop.stop()

    run(scenario, manual_clock)
    assert duration.count == 6
    assert lateness.count == 6


def test_loop_stops_when_the_room_is_disposed(manual_clock: ManualClock) -> None:
    room = started_room()

    async def scenario(clock: ManualClock) -> None:
        loop = TickLoop(room, clock)
        task = loop.start()
        await tick_for(clock, 2)
        room._dispose()
        await tick_for(clock, 1)
        assert task.done()
        assert not task.cancelled()
        assert room.tick == 2

    run(scenario, manual_clock)


def test_loop_stops_when_the_room_disposes_itself_in_a_tick(manual_clock: ManualClock) -> None:
    room = Room(room_id="empty", settings={"tick_rate": RATE})  # auto_dispose: nobody comes

    async def scenario(clock: ManualClock) -> None:
        room._start()
        task = TickLoop(room, clock).start()
        await tick_for(clock, 3)
        assert room.disposed
        assert room.tick == 1
        assert task.done()

    run(scenario, manual_clock)


def test_loop_stop_ends_the_task_and_leaves_the_room_alive(manual_clock: ManualClock) -> None:
    room = started_room()

    async def scenario(clock: ManualClock) -> None:
        loop = TickLoop(room, clock)
        task = loop.start()
        await tick_for(clock, 2)
        loop.stop()
        await clock.settle()
        assert task.done()
        await tick_for(clock, 3)
        assert room.tick == 2
        assert not room.disposed

    run(scenario, manual_clock)


def test_loop_run_due_runs_the_ticks_due_at_a_given_time() -> None:
    room = started_room()
    loop = TickLoop(room, ManualClock())
    assert loop.run_due(INTERVAL / 2) == 0
    assert loop.run_due(2 * INTERVAL) == 2
    assert room.tick == 2
