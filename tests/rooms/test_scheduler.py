"""``TickScheduler`` on a ``ManualClock``: many rooms, one task per tick rate, nothing sleeps for
real. Rates are powers of two so every deadline is exact in binary."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from game_server.clock import ManualClock
from game_server.loop import TickLoop
from game_server.metrics import Histogram
from game_server.room import Room
from game_server.scheduler import EARLY, TickScheduler

RATE = 16
INTERVAL = 1 / RATE


class Ticker(Room):
    """A room that only counts its ticks."""

    tick_rate = float(RATE)
    auto_dispose = False


class SlowTicker(Ticker):
    tick_rate = RATE / 4


def started(cls: type[Room] = Ticker, name: str = "t") -> Room:
    room = cls(room_id=name)
    room._start()
    return room


Scenario = Callable[[ManualClock, TickScheduler], Awaitable[None]]


def run(scenario: Scenario, clock: ManualClock | None = None, *, slots: int = 10) -> None:
    """Run ``scenario`` with a scheduler on ``clock`` (a fresh ManualClock), closed after it."""
    manual = clock or ManualClock()

    async def main() -> None:
        scheduler = TickScheduler(manual, slots=slots)
        try:
            await scenario(manual, scheduler)
        finally:
            await scheduler.close()

    asyncio.run(main())


async def tick_for(clock: ManualClock, intervals: int, step: float = INTERVAL) -> None:
    for _ in range(intervals):
        clock.advance(step)
        await clock.settle()


def test_one_task_ticks_every_room_of_a_rate() -> None:
    async def scenario(clock: ManualClock, scheduler: TickScheduler) -> None:
        rooms = [started(name=f"r{n}") for n in range(50)]
        before = len(asyncio.all_tasks())
        for room in rooms:
            scheduler.add(TickLoop(room, clock))
        assert len(asyncio.all_tasks()) == before + 1
        assert scheduler.lanes == 1
        await tick_for(clock, RATE)
        assert [room.tick for room in rooms] == [RATE] * 50

    run(scenario)


def test_each_tick_rate_gets_its_own_lane() -> None:
    async def scenario(clock: ManualClock, scheduler: TickScheduler) -> None:
        fast, slow = started(), started(SlowTicker, "slow")
        scheduler.add(TickLoop(fast, clock))
        scheduler.add(TickLoop(slow, clock))
        assert scheduler.lanes == 2
        await tick_for(clock, RATE)
        assert (fast.tick, slow.tick) == (RATE, RATE // 4)

    run(scenario)


def test_a_room_starts_on_the_next_grid_point() -> None:
    async def scenario(clock: ManualClock, scheduler: TickScheduler) -> None:  # grid: INTERVAL/4
        clock.advance(INTERVAL / 8)  # between grid points
        room = started()
        loop = TickLoop(room, clock)
        scheduler.add(loop)
        assert loop.schedule.start == INTERVAL / 4
        assert loop.schedule.next_deadline == INTERVAL / 4 + INTERVAL
        clock.set(INTERVAL / 4 + INTERVAL - INTERVAL / 16)
        await clock.settle()
        assert room.tick == 0
        clock.set(INTERVAL / 4 + INTERVAL)
        await clock.settle()
        assert room.tick == 1

    run(scenario, slots=4)


def test_rooms_on_the_same_grid_point_share_their_deadlines() -> None:
    async def scenario(clock: ManualClock, scheduler: TickScheduler) -> None:
        loops = [TickLoop(started(name=f"r{n}"), clock) for n in range(3)]
        for loop in loops:
            scheduler.add(loop)
        assert len({loop.schedule.next_deadline for loop in loops}) == 1

    run(scenario)


def test_stop_finishes_the_loop_at_once_and_the_room_ticks_no_more() -> None:
    async def scenario(clock: ManualClock, scheduler: TickScheduler) -> None:
        room, other = started(), started(name="other")
        loop = TickLoop(room, clock)
        finished = scheduler.add(loop)
        scheduler.add(TickLoop(other, clock))
        await tick_for(clock, 2)
        loop.stop()
        assert finished.done()
        assert loop.stopped
        await tick_for(clock, 3)
        assert (room.tick, other.tick) == (2, 5)
        assert not room.disposed

    run(scenario)


def test_a_disposed_room_leaves_its_lane() -> None:
    async def scenario(clock: ManualClock, scheduler: TickScheduler) -> None:
        room = Room(room_id="empty", settings={"tick_rate": RATE})  # auto_dispose: nobody comes
        room._start()
        kept = started(name="kept")
        finished = scheduler.add(TickLoop(room, clock))
        scheduler.add(TickLoop(kept, clock))
        await tick_for(clock, 3)
        assert room.disposed
        assert room.tick == 1
        assert finished.done()
        assert kept.tick == 3

    run(scenario)


def test_a_room_disposed_from_outside_finishes_at_its_next_deadline() -> None:
    async def scenario(clock: ManualClock, scheduler: TickScheduler) -> None:
        room = started()
        finished = scheduler.add(TickLoop(room, clock))
        await tick_for(clock, 1)
        room._dispose()
        assert not finished.done()
        await tick_for(clock, 1)
        assert finished.done()
        assert room.tick == 1

    run(scenario)


def test_a_failing_loop_is_logged_and_others_keep_ticking(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario(clock: ManualClock, scheduler: TickScheduler) -> None:
        broken, kept = started(name="broken"), started(name="kept")
        loop = TickLoop(broken, clock)

        def explode() -> None:
            raise RuntimeError("boom")

        loop.after_tick = explode
        finished = scheduler.add(loop)
        scheduler.add(TickLoop(kept, clock))
        with caplog.at_level(logging.ERROR, logger="game_server.scheduler"):
            await tick_for(clock, 3)
        assert finished.done()
        assert broken.tick == 1
        assert broken.disposed  # closed with INTERNAL_ERROR, not left frozen and joinable
        assert kept.tick == 3
        assert "tick loop of room broken failed" in caplog.text

    run(scenario)


def test_an_emptied_lane_waits_and_wakes_for_the_next_room() -> None:
    async def scenario(clock: ManualClock, scheduler: TickScheduler) -> None:
        first = TickLoop(started(name="first"), clock)
        scheduler.add(first)
        await tick_for(clock, 1)
        first.stop()
        await tick_for(clock, 2)  # the lane pops the stopped loop and idles
        room = started(name="second")
        scheduler.add(TickLoop(room, clock))
        await tick_for(clock, 2)
        assert room.tick == 2

    run(scenario)


def test_close_finishes_the_loops_still_running() -> None:
    async def scenario(clock: ManualClock, scheduler: TickScheduler) -> None:
        room = started()
        finished = scheduler.add(TickLoop(room, clock))
        await tick_for(clock, 1)
        await scheduler.close()
        assert finished.done()
        assert scheduler.lanes == 0
        await tick_for(clock, 2)
        assert room.tick == 1

    run(scenario)


def test_slots_must_be_positive() -> None:
    with pytest.raises(ValueError, match="slots must be at least 1"):
        TickScheduler(ManualClock(), slots=0)


class BrokenClock(ManualClock):
    """A clock whose sleeps fail once ``broken`` is set (what would kill a lane's task)."""

    broken = False

    async def sleep_until(self, deadline: float) -> None:
        if self.broken:
            raise RuntimeError("clock failed")
        await super().sleep_until(deadline)


def test_a_lane_that_dies_is_logged_and_replaced(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(clock: ManualClock, scheduler: TickScheduler) -> None:
        assert isinstance(clock, BrokenClock)
        first = started(name="first")
        scheduler.add(TickLoop(first, clock))
        clock.broken = True
        with caplog.at_level(logging.ERROR, logger="game_server.scheduler"):
            await tick_for(clock, 1)
        assert "tick lane ticks:16Hz failed" in caplog.text
        clock.broken = False
        second = started(name="second")
        scheduler.add(TickLoop(second, clock))  # a fresh lane
        await tick_for(clock, 2)
        assert second.tick == 2  # and closing (by run) does not raise the dead lane's error

    run(scenario, BrokenClock())


def test_each_room_in_a_batch_reports_its_own_lateness() -> None:
    async def scenario(clock: ManualClock, scheduler: TickScheduler) -> None:
        lateness = Histogram([0.001, 0.01, 0.1])

        class Slow(Ticker):
            def update(self, dt: float) -> None:
                clock.advance(0.02)  # each tick takes 20 ms of the clock

        loops = [TickLoop(started(Slow, f"s{n}"), clock, lateness=lateness) for n in range(3)]
        for loop in loops:
            scheduler.add(loop)
        clock.set(INTERVAL)
        await clock.settle()
        assert lateness.count == 3
        assert lateness.max == pytest.approx(0.04)  # the third started 40 ms late

    run(scenario)


def test_a_loop_due_within_early_runs_as_if_at_its_deadline() -> None:
    """A real sleep ends late, never early: the lane wakes ``EARLY`` before a deadline and runs
    the loops due by then, each at its own deadline (no lateness, no tick skipped)."""

    async def scenario(clock: ManualClock, scheduler: TickScheduler) -> None:
        lateness = Histogram([0.001, 0.01])
        room = started()
        loop = TickLoop(room, clock, lateness=lateness)
        scheduler.add(loop)
        deadline = loop.schedule.next_deadline
        clock.set(deadline - 2 * EARLY)
        await clock.settle()
        assert room.tick == 0
        clock.set(deadline - EARLY / 2)
        await clock.settle()
        assert room.tick == 1
        assert (lateness.count, lateness.max) == (1, 0.0)
        assert loop.schedule.next_deadline == deadline + INTERVAL
        clock.set(deadline + INTERVAL - EARLY / 2)
        await clock.settle()
        assert room.tick == 2

    run(scenario)


def test_a_fast_rate_wakes_at_most_an_eighth_of_its_interval_early_and_runs_each_loop_once() -> (
    None
):
    class Fast(Ticker):
        tick_rate = 1024.0  # an interval shorter than EARLY

    async def scenario(clock: ManualClock, scheduler: TickScheduler) -> None:
        room = started(Fast)
        loop = TickLoop(room, clock)
        scheduler.add(loop)
        deadline = loop.schedule.next_deadline
        early = min(EARLY, loop.schedule.interval / 8)
        assert early < EARLY
        clock.set(deadline - early / 2)
        await clock.settle()
        assert room.tick == 1  # not the next tick too, a whole interval before its deadline
        assert loop.schedule.next_deadline == deadline + loop.schedule.interval

    run(scenario)


def test_a_lane_wakes_for_a_deadline_whatever_its_float_rounding() -> None:
    """The lane sleeps until ``deadline - early`` and tests that same difference: with 1/150 s
    and 1.5 ms, ``(deadline - early) + early`` rounds below the deadline, and a lane that tested
    ``deadline <= now + early`` instead kept polling without ticking."""

    class Odd(Ticker):
        tick_rate = 150.0

    async def scenario(clock: ManualClock, scheduler: TickScheduler) -> None:
        room = started(Odd)
        loop = TickLoop(room, clock)
        scheduler.add(loop)
        scheduler._lanes[loop.schedule.interval].early = EARLY  # before the lane first sleeps
        deadline = loop.schedule.next_deadline
        assert (deadline - EARLY) + EARLY < deadline
        clock.set(deadline - EARLY)
        await clock.settle()
        assert room.tick == 1

    run(scenario, slots=1)
