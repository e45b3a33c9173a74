"""``MemoryBackend``: the registry backend for one process, in dicts. The default.

Listings are kept in publication order (so queries return the oldest rooms first), locks are
``KeyLocks`` (an ``asyncio.Lock`` per key, created on first use and dropped when nobody holds or
awaits it), and counters are plain integers. Nothing here can be unreachable, so no method
raises ``BackendUnavailableError``.

Must never: be shared between processes or event loops (use a networked backend for that).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from game_server.backends.base import RegistryBackend, RoomListing
from game_server.backends.key_locks import KeyLocks


class MemoryBackend(RegistryBackend):
    """Listings, locks and counters of one process (see the module docstring)."""

    def __init__(self) -> None:
        self._listings: dict[str, RoomListing] = {}
        self._locks = KeyLocks()
        self._counters: dict[str, int] = {}

    async def publish(self, listing: RoomListing) -> None:
        """Store ``listing`` (a new room goes last; an update keeps the room's place)."""
        self._listings[listing.room_id] = listing

    async def remove(self, room_id: str) -> None:
        """Forget the listing of ``room_id``."""
        self._listings.pop(room_id, None)

    async def get(self, room_id: str) -> RoomListing | None:
        """The listing of ``room_id``, or None."""
        return self._listings.get(room_id)

    async def query(
        self, name: str | None = None, metadata: dict[str, Any] | None = None
    ) -> list[RoomListing]:
        """Listings of type ``name`` whose metadata matches ``metadata``, oldest first."""
        wanted = (metadata or {}).items()
        return [
            listing
            for listing in self._listings.values()
            if (name is None or listing.name == name)
            and all(key in listing.metadata and listing.metadata[key] == v for key, v in wanted)
        ]

    def lock(self, key: str) -> AbstractAsyncContextManager[None]:
        """An ``asyncio.Lock`` per key, fair (first come, first served)."""
        return self._locks.hold(key)

    async def incr(self, key: str, delta: int = 1) -> int:
        """Add ``delta`` to counter ``key``; a counter back at 0 is forgotten."""
        value = self._counters.get(key, 0) + delta
        if value:
            self._counters[key] = value
        else:
            self._counters.pop(key, None)
        return value

    async def counter(self, key: str) -> int:
        """Counter ``key`` (0 if never set)."""
        return self._counters.get(key, 0)

    async def close(self) -> None:
        """Forget everything."""
        self._listings.clear()
        self._counters.clear()
