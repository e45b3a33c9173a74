"""Clocks and the fixed-step schedule: manual time moves only by hand and wakes sleepers in
deadline order; the schedule runs late ticks, catches up a bounded number, skips and counts the
rest, and keeps its deadlines absolute."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from game_server.clock import ManualClock, MonotonicClock, TickSchedule

INTERVAL = 0.25  # exact in binary, so deadlines compare exactly


# -- ManualClock ---------------------------------------------------------------------------------


def test_manual_clock_starts_where_it_is_told() -> None:
    assert ManualClock().now() == 0.0
    assert ManualClock(12.5).now() == 12.5


def test_manual_clock_moves_only_by_set_and_advance() -> None:
    clock = ManualClock(1.0)
    clock.advance(0.5)
    assert clock.now() == 1.5
    clock.set(4.0)
    assert clock.now() == 4.0


def test_manual_clock_never_goes_backwards() -> None:
    clock = ManualClock(5.0)
    with pytest.raises(ValueError, match=r"^a manual clock never goes backwards$"):
        clock.set(4.0)
    with pytest.raises(ValueError, match=r"^a manual clock never goes backwards$"):
        clock.advance(-1.0)
    assert clock.now() == 5.0


def test_manual_clock_wakes_sleepers_in_deadline_order() -> None:
    woken: list[float] = []

    async def sleeper(clock: ManualClock, deadline: float) -> None:
        await clock.sleep_until(deadline)
        woken.append(deadline)

    async def scenario() -> None:
        clock = ManualClock()
        tasks = [asyncio.create_task(sleeper(clock, d)) for d in (3.0, 1.0, 2.0, 5.0)]
        await clock.settle()
        assert woken == []
        clock.set(3.0)
        await clock.settle()
        assert woken == [1.0, 2.0, 3.0]
        clock.advance(2.0)
        await asyncio.gather(*tasks)
        assert woken == [1.0, 2.0, 3.0, 5.0]

    asyncio.run(scenario())


def test_manual_clock_sleeper_stays_asleep_before_its_deadline() -> None:
    async def scenario() -> None:
        clock = ManualClock()
        task = asyncio.create_task(clock.sleep_until(1.0))
        clock.advance(0.75)
        await clock.settle()
        assert not task.done()
        clock.advance(0.25)
        await clock.settle()
        assert task.done()

    asyncio.run(scenario())


def test_manual_clock_sleep_until_a_past_deadline_returns_at_once() -> None:
    async def scenario() -> None:
        clock = ManualClock(10.0)
        await asyncio.wait_for(clock.sleep_until(3.0), timeout=1.0)

    asyncio.run(scenario())


def test_manual_clock_run_for_advances_in_steps() -> None:
    ticks: list[float] = []

    async def ticker(clock: ManualClock) -> None:
        for n in range(1, 5):
            await clock.sleep_until(n * INTERVAL)
            ticks.append(clock.now())

    async def scenario() -> None:
        clock = ManualClock()
        task = asyncio.create_task(ticker(clock))
        await clock.run_for(1.0, INTERVAL)
        await task
        assert clock.now() == 1.0

    asyncio.run(scenario())
    assert ticks == [0.25, 0.5, 0.75, 1.0]


# -- MonotonicClock ------------------------------------------------------------------------------


def test_monotonic_clock_never_goes_backwards() -> None:
    clock = MonotonicClock()
    readings = [clock.now() for _ in range(100)]
    assert readings == sorted(readings)


def test_monotonic_clock_sleep_until_a_past_deadline_returns_at_once() -> None:
    clock = MonotonicClock()

    async def scenario() -> None:
        await asyncio.wait_for(clock.sleep_until(clock.now() - 1.0), timeout=1.0)

    asyncio.run(scenario())


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
def test_monotonic_clock_sleep_until_ends_at_its_deadline_on_one_timer(
    loop_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvloop's timers count whole milliseconds and round the delay: a plain sleep ends up to
    1.5 ms early (and sleeping again for the rest spins). Twenty sleeps of odd lengths: none
    ends before its deadline or takes a second timer."""
    clock = MonotonicClock()
    real_sleep = asyncio.sleep
    timers: list[float] = []

    async def counting_sleep(delay: float) -> None:
        timers.append(delay)
        await real_sleep(delay)

    monkeypatch.setattr(asyncio, "sleep", counting_sleep)

    async def scenario() -> list[float]:
        early = []
        for n in range(20):
            deadline = clock.now() + 0.002 + n * 0.00037
            await clock.sleep_until(deadline)
            early.append(deadline - clock.now())
        return early

    runner = uvloop.run if loop_kind == "uvloop" else asyncio.run
    early = runner(scenario())
    assert max(early) <= 0.0
    assert min(early) > -0.05  # and not wildly late (a loaded machine may add a little)
    assert len(timers) == 20


# -- TickSchedule --------------------------------------------------------------------------------


def test_schedule_first_deadline_is_one_interval_after_start() -> None:
    schedule = TickSchedule(INTERVAL, start=10.0)
    assert schedule.next_deadline == 10.25


def test_schedule_runs_nothing_before_the_deadline() -> None:
    schedule = TickSchedule(INTERVAL, start=0.0)
    assert schedule.due(0.2) == 0
    assert schedule.next_deadline == 0.25


def test_schedule_runs_one_tick_on_time() -> None:
    schedule = TickSchedule(INTERVAL, start=0.0)
    assert schedule.due(0.25) == 1
    assert schedule.last_lateness == 0.0
    assert schedule.next_deadline == 0.5
    assert (schedule.caught_up, schedule.skipped) == (0, 0)


def test_schedule_runs_one_tick_late_by_less_than_an_interval_and_keeps_its_deadlines() -> None:
    schedule = TickSchedule(INTERVAL, start=0.0)
    assert schedule.due(0.375) == 1
    assert schedule.last_lateness == 0.125
    assert schedule.next_deadline == 0.5
    assert (schedule.caught_up, schedule.skipped) == (0, 0)


def test_schedule_catches_up_missed_ticks_and_counts_them() -> None:
    schedule = TickSchedule(INTERVAL, start=0.0, max_catch_up=5)
    assert schedule.due(0.8) == 3  # deadlines 0.25, 0.5 and 0.75 passed
    assert schedule.caught_up == 2
    assert schedule.skipped == 0
    assert schedule.last_lateness == pytest.approx(0.55)
    assert schedule.next_deadline == 1.0


def test_schedule_catches_up_at_most_max_catch_up_then_skips_and_counts() -> None:
    schedule = TickSchedule(INTERVAL, start=0.0, max_catch_up=5)
    assert schedule.due(2.6) == 5  # ten deadlines passed (0.25 .. 2.5)
    assert schedule.caught_up == 4
    assert schedule.skipped == 5
    assert schedule.next_deadline == 2.75


def test_schedule_after_skipping_the_next_deadline_lies_in_the_future() -> None:
    schedule = TickSchedule(INTERVAL, start=0.0, max_catch_up=2)
    now = 100.1
    schedule.due(now)
    assert now < schedule.next_deadline <= now + INTERVAL
    assert schedule.due(now) == 0


def test_schedule_counters_add_up_over_several_overruns() -> None:
    schedule = TickSchedule(INTERVAL, start=0.0, max_catch_up=3)
    assert schedule.due(1.0) == 3  # 4 due: 2 caught up, 1 skipped
    assert schedule.due(1.25) == 1
    assert schedule.due(3.0) == 3  # 7 due: 2 caught up, 4 skipped
    assert (schedule.caught_up, schedule.skipped) == (4, 5)


def test_schedule_deadlines_are_absolute_with_no_drift_over_10000_ticks() -> None:
    interval = 1 / 60  # not exact in binary: adding it up would drift
    schedule = TickSchedule(interval, start=1000.0)
    drifting = 1000.0
    for n in range(1, 10_001):
        now = schedule.next_deadline
        drifting += interval
        assert schedule.due(now) == 1
        assert now == 1000.0 + n * interval
    assert schedule.next_deadline == 1000.0 + 10_001 * interval
    assert (schedule.caught_up, schedule.skipped) == (0, 0)
    assert drifting != 1000.0 + 10_000 * interval  # what previous + interval would have given


def test_schedule_refuses_a_non_positive_interval() -> None:
    with pytest.raises(ValueError, match=r"^interval must be positive$"):
        TickSchedule(0.0, start=0.0)


def test_schedule_refuses_max_catch_up_below_one() -> None:
    with pytest.raises(ValueError, match=r"^max_catch_up must be at least 1$"):
        TickSchedule(INTERVAL, start=0.0, max_catch_up=0)
