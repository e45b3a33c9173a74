"""The registry backend interface: where room listings, matchmaking locks and presence counters
live, so that one process or many can share them.

Owns: ``RoomListing`` (what the world may know about a room without asking its process) and
``RegistryBackend`` (the small async interface every backend implements). The registry is the
only caller; it publishes a listing when a room is created or its listing changes, removes it
when the room is disposed, takes ``lock(key)`` around find-or-create, and keeps one presence
counter per room type (``clients:<name>``).

Must never: hold a Room, a Client or a socket (only plain data crosses it), or filter by
visibility (private and locked listings are stored; the registry decides what to show).
"""

from __future__ import annotations

import abc
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RoomListing:
    """A snapshot of one room as listings and matchmaking see it. Plain data: a backend may
    store it anywhere (``to_dict`` / ``from_dict`` give a JSON-ready form)."""

    room_id: str
    name: str
    """The room type's name, as given to ``RoomRegistry.define``."""
    process_id: str
    """The registry (process) that hosts the room."""
    clients: int
    """Player seats taken: reserved, joined and dropped-in-grace players."""
    max_clients: int
    locked: bool
    private: bool
    metadata: dict[str, Any]
    """The room's ``metadata`` (a copy); list_rooms filters on it by equality."""
    created_at: float
    """Wall-clock seconds (``time.time()`` unless the registry was given another clock)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (for HTTP answers and remote backends)."""
        return {
            "room_id": self.room_id,
            "name": self.name,
            "process_id": self.process_id,
            "clients": self.clients,
            "max_clients": self.max_clients,
            "locked": self.locked,
            "private": self.private,
            "metadata": dict(self.metadata),
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoomListing:
        """The listing ``to_dict`` described (KeyError if a field is missing)."""
        return cls(
            room_id=str(data["room_id"]),
            name=str(data["name"]),
            process_id=str(data["process_id"]),
            clients=int(data["clients"]),
            max_clients=int(data["max_clients"]),
            locked=bool(data["locked"]),
            private=bool(data["private"]),
            metadata=dict(data["metadata"]),
            created_at=float(data["created_at"]),
        )


class RegistryBackend(abc.ABC):
    """Shared storage for the registry. Subclass it and implement every method.

    Every method may be called concurrently from many tasks of one process (and, for a
    networked backend, from many processes). Calls for one room come from one registry, in
    order. None of them may block the event loop.
    """

    @abc.abstractmethod
    async def publish(self, listing: RoomListing) -> None:
        """Store ``listing``, replacing any listing with the same ``room_id``."""

    @abc.abstractmethod
    async def remove(self, room_id: str) -> None:
        """Forget the listing of ``room_id`` (nothing happens if there is none)."""

    @abc.abstractmethod
    async def get(self, room_id: str) -> RoomListing | None:
        """The listing of ``room_id``, or None."""

    @abc.abstractmethod
    async def query(
        self, name: str | None = None, metadata: dict[str, Any] | None = None
    ) -> list[RoomListing]:
        """Listings of rooms of type ``name`` (any type when None) whose metadata has every
        key of ``metadata`` with an equal value; oldest first. Private and locked rooms are
        included."""

    @abc.abstractmethod
    def lock(self, key: str) -> AbstractAsyncContextManager[None]:
        """A mutual-exclusion lock on ``key``: ``async with backend.lock(key): ...``. At most
        one holder at a time (across processes, for a networked backend); waiters queue."""

    @abc.abstractmethod
    async def incr(self, key: str, delta: int = 1) -> int:
        """Add ``delta`` (may be negative) to the presence counter ``key`` atomically and
        return its new value. A counter that was never set is 0."""

    @abc.abstractmethod
    async def counter(self, key: str) -> int:
        """The presence counter ``key`` (0 if never set)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and resources. The registry calls it last, from ``close()``."""
