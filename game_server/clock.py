"""Clocks and the fixed-step schedule every tick loop runs on.

``MonotonicClock`` is production time; ``ManualClock`` is time that tests move by hand, so a
test runs thousands of ticks in milliseconds and never sleeps. ``TickSchedule`` is the pure
arithmetic of a fixed-rate loop on absolute deadlines, with the overrun policy:

    A tick that starts late runs, and the loop catches up on the ticks it missed, running at
    most ``max_catch_up`` ticks in one go. Deadlines missed beyond that are skipped: the
    schedule jumps forward so that the next deadline lies in the future. Both are counted
    (``caught_up``, ``skipped``), and each tick's start lateness is reported.

Deadlines are ``start + n * interval``, never ``previous + interval``, so timing error does not
accumulate. Must never: know about rooms or sockets.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from typing import Protocol


class Clock(Protocol):
    """What a tick loop and a registry need from time: seconds, monotonic."""

    def now(self) -> float:
        """Seconds on this clock (only differences mean anything)."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once ``now() >= deadline``."""
        ...


TIMER_SLACK = 0.0005
"""Seconds a real sleep asks for beyond its deadline: the half millisecond uvloop may round a
delay down by."""
MAX_LAG = 0.25
"""How far ``loop.time()`` may trail ``time.monotonic()`` and still be the same clock (uvloop
reads it to the millisecond): beyond that, or ahead, it is another clock and its lag is 0."""


class MonotonicClock:
    """Real time from ``time.monotonic``; sleeps with asyncio."""

    now = staticmethod(time.monotonic)
    """``time.monotonic()`` itself: read on every message received, so no Python frame."""

    async def sleep_until(self, deadline: float) -> None:
        """Sleep with ``asyncio.sleep`` until ``deadline``: one timer, not a spin.

        uvloop counts a timer from its own clock read to the whole millisecond below, and
        rounds the delay to the nearest millisecond: a plain sleep ends up to 1.5 ms early.
        Sleeping again for the rest would not help: a delay under half a millisecond becomes an
        immediate callback, so a loop waiting for a deadline spun on empty polls until it came
        (thousands a second with 100 rooms on 10 grid slots, over 1 µs a client-tick under the
        arena benchmark). So the sleep adds the loop clock's lag and ``TIMER_SLACK``: it ends
        at the deadline or up to about 2 ms after it, on one timer (the scheduler's lanes ask
        for ``EARLY`` before their deadline for that reason)."""
        loop = asyncio.get_running_loop()
        while (now := time.monotonic()) < deadline:
            lag = now - loop.time()
            if not 0.0 <= lag < MAX_LAG:  # a loop on another clock: its lag means nothing
                lag = 0.0
            await asyncio.sleep(deadline - now + lag + TIMER_SLACK)


class ManualClock:
    """Time that only moves when ``advance()`` or ``set()`` is called.

    Coroutines sleeping on it wake when time passes their deadline; call ``advance`` from the
    test, then let the event loop run (``await asyncio.sleep(0)``, or ``await clock.settle()``).
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()

    def now(self) -> float:
        """The current manual time."""
        return self._now

    def set(self, now: float) -> None:
        """Move time to ``now`` (never backwards) and wake every sleeper that is due."""
        if now < self._now:
            raise ValueError("a manual clock never goes backwards")
        self._now = now
        while self._sleepers and self._sleepers[0][0] <= now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self.set(self._now + seconds)

    async def sleep_until(self, deadline: float) -> None:
        """Wait until the clock is moved to ``deadline`` or later."""
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._counter), future))
        await future

    async def settle(self, rounds: int = 10) -> None:
        """Let woken coroutines run (a few event-loop passes)."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def run_for(self, seconds: float, step: float) -> None:
        """Advance ``seconds`` in increments of ``step``, settling after each."""
        steps = max(1, math.ceil(seconds / step - 1e-9))
        for _ in range(steps):
            self.advance(step)
            await self.settle()


class TickSchedule:
    """Absolute deadlines for a fixed-rate loop, with the catch-up-then-skip policy.

    Call ``due(now)``: it returns how many ticks to run now (0 when early) and updates the
    counters; then sleep until ``next_deadline``.
    """

    __slots__ = (
        "caught_up",
        "interval",
        "last_lateness",
        "max_catch_up",
        "next_deadline",
        "skipped",
        "start",
    )

    def __init__(self, interval: float, start: float, max_catch_up: int = 5) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        if max_catch_up < 1:
            raise ValueError("max_catch_up must be at least 1")
        self.interval = interval
        self.start = start
        self.max_catch_up = max_catch_up
        self.next_deadline = start + interval
        self.caught_up = 0
        self.skipped = 0
        self.last_lateness = 0.0

    def _deadline(self, index: int) -> float:
        return self.start + index * self.interval

    def due(self, now: float) -> int:
        """Ticks to run at ``now``; advances ``next_deadline`` past the ticks returned."""
        if now < self.next_deadline:
            return 0
        self.last_lateness = now - self.next_deadline
        index = round((self.next_deadline - self.start) / self.interval)
        missed = int((now - self.next_deadline) // self.interval) + 1
        while self._deadline(index + missed) <= now:  # float floor division can fall one short
            missed += 1
        run = min(missed, self.max_catch_up)
        self.caught_up += run - 1
        if missed > run:
            self.skipped += missed - run
        self.next_deadline = self._deadline(index + missed)
        return run
