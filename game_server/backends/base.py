"""The registry backend interface: where room listings, matchmaking locks and presence counters
live, so that one process or many can share them.

Owns: ``RoomListing`` (what the world may know about a room without asking its process),
``RegistryBackend`` (the small async interface every backend implements), ``SharedBackend``
(what a backend that several processes share adds to it) and ``BackendUnavailableError`` (what
a backend raises when it cannot reach its storage). The registry is the only caller; it
publishes a listing when a room is created or its listing changes, removes it when the room is
disposed, takes ``lock(key)`` around find-or-create, and keeps one presence counter per room
type (``clients:<name>``).

Failures. A backend whose storage cannot be reached (refused, timed out, lost) raises
``BackendUnavailableError`` from the call, with the cause chained; the registry answers its
callers ``RoomUnavailableError("matchmaking backend unavailable")`` instead. Any other exception
is a bug and propagates as it is.

Must never: hold a Room, a Client or a socket (only plain data crosses it), or filter by
visibility (private and locked listings are stored; the registry decides what to show).
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

RequestHandler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
"""Answers a request from another process: (method, args) -> reply (plain data)."""


class BackendUnavailableError(ConnectionError):
    """The backend cannot reach its storage (connection refused, timed out or lost). Its
    message may name hosts and ports: log it, never show it to a client (the registry raises
    ``RoomUnavailableError`` for its callers). A ``ConnectionError``, so code that retries on
    ``OSError`` keeps doing so."""


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
    order. None of them may block the event loop. Any of them but ``close`` raises
    ``BackendUnavailableError`` when the storage cannot be reached (``lock`` on entering).
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
        """Release connections and resources. The registry calls it last, from ``close()``.
        Never raises ``BackendUnavailableError``: a backend that cannot reach its storage
        closes anyway."""


@runtime_checkable
class SharedBackend(Protocol):
    """What a backend shared by several processes adds to ``RegistryBackend`` (``RedisBackend``
    implements it). The registry uses it when its backend has these methods."""

    async def register_process(
        self,
        process_id: str,
        url: str,
        handler: RequestHandler,
        rejoined: Callable[[], None],
    ) -> None:
        """Announce the process and keep it alive (heartbeat); answer requests sent to it with
        ``handler``; call ``rejoined`` when its listings were lost (publish them again)."""

    async def call(
        self, process_id: str, method: str, args: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        """Another process's ``handler(method, args)``; TimeoutError if it does not answer."""

    async def presence(self, key: str) -> dict[str, int]:
        """Presence counter ``key`` of each live process, by process id."""

    async def save_room(self, room_id: str, data: bytes) -> None:
        """Keep a saved room until a process restores it (or it expires)."""

    async def load_room(self, room_id: str) -> bytes | None:
        """A saved room, or None."""

    async def delete_saved_room(self, room_id: str) -> None:
        """Forget a saved room (it was restored)."""
