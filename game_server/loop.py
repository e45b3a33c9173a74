"""``TickLoop``: runs one room's ticks on absolute deadlines from an injected clock.

Either its own asyncio task (``start()``) or one of a ``TickScheduler``'s lanes (what the
registry uses: one task for every room of a tick rate) calls ``run_due(now)`` at each deadline.
It asks the ``TickSchedule`` how many ticks are due (catching up at most ``max_catch_up``,
skipping the rest, both counted), runs them synchronously, and records each tick's duration and
start lateness. It never awaits a client: members are woken and the transport drains them.

Must never: hold game logic, or block (room code is synchronous and should be quick).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from game_server.clock import Clock, TickSchedule
from game_server.metrics import Histogram
from game_server.room import Room

TICK_BUCKETS = (
    0.00025,
    0.0005,
    0.001,
    0.0015,
    0.002,
    0.003,
    0.004,
    0.005,
    0.0075,
    0.01,
    0.02,
    0.05,
    0.1,
    0.25,
)
"""Histogram bounds (seconds) for tick duration and tick-start lateness: fine below 10 ms,
where a room's tick and a loaded server's lateness lie (a 20 Hz tick is 50 ms). A percentile
read from the buckets (their upper bounds) is at most 1 ms above the truth below 5 ms, and 2.5 ms
up to 10 ms."""


class TickLoop:
    """Drives ``room`` at its ``tick_rate`` until it is disposed or ``stop()`` is called."""

    def __init__(
        self,
        room: Room,
        clock: Clock,
        *,
        max_catch_up: int = 5,
        duration: Histogram | None = None,
        lateness: Histogram | None = None,
        timer: Callable[[], float] = time.perf_counter,
        after_tick: Callable[[], None] | None = None,
    ) -> None:
        self.room = room
        self.clock = clock
        self.schedule = TickSchedule(1.0 / room.tick_rate, clock.now(), max_catch_up)
        self.duration = duration or Histogram(TICK_BUCKETS)
        """Seconds each tick took (shared across rooms when the registry passes one)."""
        self.lateness = lateness or Histogram(TICK_BUCKETS)
        """Seconds each tick batch started after its deadline."""
        self._timer = timer
        self.after_tick = after_tick
        """Called after every tick this loop runs, the one that disposed the room included (the
        registry refreshes listings here). Keep it cheap and never let it raise."""
        self._stopped = False
        self.task: asyncio.Task[None] | None = None
        self.finished: asyncio.Future[None] | None = None
        """Completes when a scheduler-driven loop stops (see ``TickScheduler.add``)."""

    def start(self) -> asyncio.Task[None]:
        """Start ticking on the running event loop; returns the task."""
        self.task = asyncio.get_running_loop().create_task(
            self.run(), name=f"tick:{self.room.room_id}"
        )
        return self.task

    def stop(self) -> None:
        """Stop after the current tick (the room is not disposed)."""
        self._stopped = True
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.finish()

    @property
    def stopped(self) -> bool:
        """True once ``stop()`` was called or the room is disposed: no tick runs any more."""
        return self._stopped or self.room.disposed

    def attach(self) -> asyncio.Future[None]:
        """For a ``TickScheduler`` that will drive this loop instead of ``start()``: the future
        that ``finish()`` completes (made on the running event loop)."""
        if self.finished is None:
            self.finished = asyncio.get_running_loop().create_future()
        return self.finished

    def finish(self) -> None:
        """Complete ``finished`` (the driving scheduler calls it when the loop leaves it)."""
        if self.finished is not None and not self.finished.done():
            self.finished.set_result(None)

    def run_due(self, now: float) -> int:
        """Run every tick due at ``now``; returns how many ran."""
        due = self.schedule.due(now)
        if due:
            self.lateness.observe(self.schedule.last_lateness)
        room = self.room
        for _ in range(due):
            if room.disposed:
                break
            started = self._timer()
            room._advance()
            elapsed = self._timer() - started
            room.stats.last_tick_duration = elapsed
            self.duration.observe(elapsed)
            if self.after_tick is not None:
                self.after_tick()
        return due

    async def run(self) -> None:
        """Tick until the room is disposed or the loop is stopped."""
        clock = self.clock
        while not self._stopped and not self.room.disposed:
            await clock.sleep_until(self.schedule.next_deadline)
            self.run_due(clock.now())
