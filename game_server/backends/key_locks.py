"""``KeyLocks``: one ``asyncio.Lock`` per key, for the tasks of one process.

``MemoryBackend.lock`` is nothing more; ``RedisBackend.lock`` queues its own process's callers
on it before it polls Redis, so one process never competes with itself for a Redis lock. A
key's lock is created on first use and dropped once no task holds or awaits it, so keys made
of room ids do not pile up.

Must never: be shared between event loops or processes, or know what a key means.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager


class _KeyLock:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0
        """Tasks holding or waiting for ``lock``; the entry goes away at 0."""


class KeyLocks:
    """``async with locks.hold(key): ...``: one holder per key at a time, first come, first
    served. ``len(locks)`` is the number of keys held or awaited now."""

    __slots__ = ("_locks",)

    def __init__(self) -> None:
        self._locks: dict[str, _KeyLock] = {}

    def __len__(self) -> int:
        return len(self._locks)

    def hold(self, key: str) -> AbstractAsyncContextManager[None]:
        """Wait for the lock on ``key`` and hold it for the ``async with`` block."""
        return self._hold(key)

    @asynccontextmanager
    async def _hold(self, key: str) -> AsyncIterator[None]:
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = _KeyLock()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[key]
