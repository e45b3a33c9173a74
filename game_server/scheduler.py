"""``TickScheduler``: one task drives every room of a tick rate, on a shared grid of deadlines.

A task per room costs a timer, a future and a task switch per room per tick: at hundreds of
rooms that is a tenth of the server's time. The registry instead hands each room's ``TickLoop``
to one scheduler. It keeps a *lane* per tick interval: one task, and a heap of the lane's loops
by next deadline. A room's schedule starts on the lane's grid (``interval / slots``: at 20 Hz and
10 slots, every 5 ms), so the rooms of a slot share their deadlines and run in one wake-up,
while rooms created at different times still spread over the interval's slots (the tick work of
a server full of rooms is not one burst every 50 ms).

Each loop keeps its own ``TickSchedule`` (absolute deadlines, catch-up then skip, lateness),
histograms and ``after_tick``: the scheduler only decides when to call ``run_due``. A room that
is disposed, or a loop that is stopped, leaves its lane, and its ``finished`` future completes.

Theory of the heap: a loop added now starts on the first grid point at or after now, so its
first deadline lies a whole interval ahead, never before a deadline already in the lane (those
are at most an interval ahead). The lane therefore sleeps until its earliest deadline (less
``EARLY``: a real timer ends late, never early) without being woken by additions, except when it
was empty.

Owns: the lanes (a task and a heap each) and when each loop's ``run_due`` is called. Must never:
hold game logic, await a client, or let one room's failure stop another's ticks (a loop that
raises is logged and its room disposed with INTERNAL_ERROR; a lane that dies is logged and
replaced at the next ``add``).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math

from game_server.clock import Clock, TickSchedule
from game_server.loop import TickLoop
from protocol.codes import CloseCode

logger = logging.getLogger("game_server.scheduler")

DEFAULT_SLOTS = 10
"""Grid points per tick interval that room schedules start on."""
EARLY = 0.0015
"""Seconds before its deadline that a loop may start its tick, as if at its deadline (at most
an eighth of its interval). A real sleep ends from 0 to about 2 ms after the time asked for
(``MonotonicClock.sleep_until`` never ends early, and uvloop's timers fire on whole
milliseconds): a lane asks for this much earlier, so its ticks start about on time, and one
wake-up runs every loop due within it. A tick that starts early reports no lateness; inputs
that arrive after it started go to the next tick."""


class _Lane:
    """The loops of one tick interval, and the task that runs them."""

    def __init__(self, clock: Clock, interval: float, slots: int) -> None:
        self.clock = clock
        self.interval = interval
        self.grid = interval / slots
        self.early = min(EARLY, interval / 8)
        """How early this lane wakes and runs a loop (``EARLY``, or an eighth of a fast rate's
        interval)."""
        self.heap: list[tuple[float, int, TickLoop]] = []
        self.order = itertools.count()
        self.idle: asyncio.Future[None] | None = None
        self.task = asyncio.get_running_loop().create_task(
            self.run(), name=f"ticks:{1 / interval:g}Hz"
        )
        self.task.add_done_callback(_log_lane_failure)

    def add(self, loop: TickLoop) -> None:
        now = self.clock.now()
        start = math.ceil(now / self.grid - 1e-9) * self.grid
        old = loop.schedule
        loop.schedule = TickSchedule(old.interval, max(start, now), old.max_catch_up)
        heapq.heappush(self.heap, (loop.schedule.next_deadline, next(self.order), loop))
        if self.idle is not None and not self.idle.done():
            self.idle.set_result(None)

    async def run(self) -> None:
        clock = self.clock
        heap = self.heap
        while True:
            if not heap:
                self.idle = asyncio.get_running_loop().create_future()
                await self.idle
                self.idle = None
                continue
            early = self.early
            await clock.sleep_until(heap[0][0] - early)
            # One pass of the event loop first: on the fast socket, whose frames reach the
            # room synchronously, inputs that arrived by now but were not read yet (the loop
            # was busy) make this tick instead of the next one.
            await asyncio.sleep(0)
            now = clock.now()  # the batch: loops due within `early` of now, each run once
            ran: list[TickLoop] = []
            while heap and heap[0][0] - early <= now:  # the sleep's own sum: no float gap
                deadline, _, loop = heapq.heappop(heap)
                if loop.stopped:
                    loop.finish()
                    continue
                try:  # each room's own start time, for its lateness (never before its deadline)
                    loop.run_due(max(clock.now(), deadline))
                except Exception:
                    logger.exception("tick loop of room %s failed", loop.room.room_id)
                    _dispose_quietly(loop)
                    loop.finish()
                    continue
                if loop.stopped:
                    loop.finish()
                else:
                    ran.append(loop)
            for loop in ran:  # back in after the batch: a loop due again soon waits its turn
                heapq.heappush(heap, (loop.schedule.next_deadline, next(self.order), loop))


def _dispose_quietly(loop: TickLoop) -> None:
    """A room whose loop failed would be frozen but still joinable: close it instead."""
    try:
        loop.room._dispose(CloseCode.INTERNAL_ERROR, "internal error")
    except Exception:
        logger.exception("room %s: disposing after a loop failure raised", loop.room.room_id)


def _log_lane_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("tick lane %s failed", task.get_name(), exc_info=task.exception())


class TickScheduler:
    """Runs ``TickLoop``s on shared lanes. ``add(loop)`` from the event loop, ``close()`` at the
    end; ``loop.finished`` completes when the loop leaves (room disposed, or ``loop.stop()``)."""

    def __init__(self, clock: Clock, *, slots: int = DEFAULT_SLOTS) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.clock = clock
        self.slots = slots
        self._lanes: dict[float, _Lane] = {}

    def add(self, loop: TickLoop) -> asyncio.Future[None]:
        """Start ticking ``loop`` (its schedule restarts on its lane's grid); returns the future
        that completes when it stops."""
        finished = loop.attach()
        interval = loop.schedule.interval
        lane = self._lanes.get(interval)
        if lane is None or lane.task.done():  # a lane that died (logged) is replaced
            lane = self._lanes[interval] = _Lane(self.clock, interval, self.slots)
        lane.add(loop)
        return finished

    @property
    def lanes(self) -> int:
        """How many tick intervals have a lane (a task)."""
        return len(self._lanes)

    async def close(self) -> None:
        """Stop every lane's task; loops still in them are finished (their rooms stay alive)."""
        lanes = list(self._lanes.values())
        self._lanes.clear()
        for lane in lanes:
            lane.task.cancel()
        for lane in lanes:
            with contextlib.suppress(asyncio.CancelledError, Exception):  # or died (logged)
                await lane.task
            for _, _, loop in lane.heap:
                loop.finish()
