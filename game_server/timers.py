"""Delayed calls and intervals counted on a room's own clock (its tick time).

Timers fire inside the tick, before ``update``, in deadline order (ties in creation order), so a
recorded match replays them exactly. Must never: use wall-clock time or asyncio.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable


class Timer:
    """A scheduled call; ``cancel()`` stops it (an interval stops repeating)."""

    __slots__ = ("callback", "cancelled", "deadline", "interval")

    def __init__(
        self, deadline: float, callback: Callable[[], None], interval: float | None
    ) -> None:
        self.deadline = deadline
        self.callback = callback
        self.interval = interval
        self.cancelled = False

    def cancel(self) -> None:
        """Do not fire again."""
        self.cancelled = True


class Timers:
    """The timer queue of one room. ``fire_due(now)`` is called by the room each tick."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()
        self.now = 0.0

    def delay(self, seconds: float, callback: Callable[[], None]) -> Timer:
        """Call ``callback`` once, ``seconds`` from now (at the first tick at or after it)."""
        return self._push(Timer(self.now + seconds, callback, None))

    def interval(self, seconds: float, callback: Callable[[], None]) -> Timer:
        """Call ``callback`` every ``seconds`` (first call ``seconds`` from now)."""
        if seconds <= 0:
            raise ValueError("an interval must be positive")
        return self._push(Timer(self.now + seconds, callback, seconds))

    def _push(self, timer: Timer) -> Timer:
        heapq.heappush(self._heap, (timer.deadline, next(self._order), timer))
        return timer

    def __len__(self) -> int:
        return sum(1 for _, _, timer in self._heap if not timer.cancelled)

    def due(self, now: float) -> list[Timer]:
        """Pop every timer due at ``now`` (re-arming intervals); the caller fires them."""
        self.now = now
        fired: list[Timer] = []
        while self._heap and self._heap[0][0] <= now + 1e-9:
            _, _, timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            fired.append(timer)
            if timer.interval is not None:
                timer.deadline += timer.interval
                self._push(timer)
        return fired

    def clear(self) -> None:
        """Cancel everything (the room is being disposed)."""
        for _, _, timer in self._heap:
            timer.cancel()
        self._heap.clear()
