"""``Listings``: keeps the backend's listings, and its ``clients:<name>`` presence counters, in
step with the rooms this process hosts, and reads them back for ``list_rooms``, ``client_count``
and ``presence``.

Listings are the world's view and may lag by one flush. After every tick the registry calls
``refresh``, which compares a small fingerprint of the room (players, max_clients, locked,
private, plus the metadata dict) with the one last queued and, when it changed, queues the room.
One background task (``run``) writes queued rooms to the backend, oldest first and one at a
time: publish, or remove once the room is disposed, plus the change in its players to the
presence counter. ``flush`` writes the queue at once; the registry calls it before it reads
listings and, with a shared backend, before it hands out a seat, so this process always sees
its own changes as of each room's last tick.

A write that fails is logged and dropped, and its room keeps the error (``listing_error``)
until a later write succeeds: the room's next change queues it again, and a backend that lost
every listing asks for ``republish``. Every read flushes first, so this process always reads
its own changes.

Must never: touch a room's clients or loop, await anything but the backend, or raise from
``flush`` (a failed write must never stop the writer or a caller).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Iterable
from typing import Any

from game_server.backends.base import (
    BackendUnavailableError,
    RegistryBackend,
    RoomListing,
    SharedBackend,
)
from game_server.registry_records import HostedRoom, Presence

logger = logging.getLogger("game_server.registry")


class Listings:
    """The registry's one writer of listings, and their reader (see the module docstring).
    ``shared`` is the backend again when it is shared (presence is then kept per process)."""

    def __init__(
        self, backend: RegistryBackend, process_id: str, shared: SharedBackend | None
    ) -> None:
        self.backend = backend
        self.process_id = process_id
        self.shared = shared
        self._queued: dict[str, HostedRoom] = {}
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def refresh(self, hosted: HostedRoom) -> None:
        """Queue the room's listing if its fingerprint changed since it was last queued."""
        room = hosted.room
        seen = (room.seats_version, room.max_clients, room.locked, room.private)
        if seen == hosted.seen and room.metadata == hosted.metadata:
            return  # the common case, after every tick: nothing that a listing shows changed
        hosted.seen = seen
        fingerprint = (room.player_count, room.max_clients, room.locked, bool(room.private))
        if fingerprint != hosted.fingerprint or room.metadata != hosted.metadata:
            hosted.fingerprint = fingerprint
            hosted.metadata = copy.deepcopy(room.metadata)
            self.queue(hosted)

    def queue(self, hosted: HostedRoom) -> None:
        """Write the room's listing (or its removal, once disposed) at the next flush."""
        self._queued[hosted.room.room_id] = hosted
        self._wake.set()

    def republish(self, rooms: Iterable[HostedRoom]) -> None:
        """The backend lost this process's listings and counters (Redis restarted, or the
        process stalled past the heartbeat ttl): queue every room again."""
        for hosted in rooms:
            hosted.published_clients = 0
            if hosted.fingerprint is not None:
                self.queue(hosted)

    async def run(self) -> None:
        """Flush whenever a room is queued, until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write every queued room to the backend, one at a time, oldest first."""
        async with self._lock:
            while self._queued:
                hosted = self._queued.pop(next(iter(self._queued)))
                try:
                    await self._push(hosted)
                except BackendUnavailableError as exc:
                    hosted.listing_error = exc
                    logger.warning("registry: could not update the listing of a room: %s", exc)
                except Exception as exc:
                    hosted.listing_error = exc
                    logger.exception("registry: could not update the listing of a room")
                else:
                    hosted.listing_error = None

    # -- reading -------------------------------------------------------------------------------

    async def public(self, name: str | None, metadata: dict[str, Any]) -> list[RoomListing]:
        """``RoomRegistry.list_rooms``: public, unlocked listings, oldest first."""
        await self.flush()
        listings = await self.backend.query(name, metadata or None)
        return [listing for listing in listings if not listing.private and not listing.locked]

    async def client_count(self, names: Iterable[str]) -> int:
        """``RoomRegistry.client_count``: players in rooms of the types ``names``."""
        await self.flush()
        return sum([await self.backend.counter(f"clients:{name}") for name in names])

    async def presence(self, name: str | None, names: Iterable[str]) -> Presence:
        """``RoomRegistry.presence``: players in rooms of the types ``names`` per live process,
        and per listed room of type ``name`` (of any of ``names`` when None)."""
        await self.flush()
        names = list(names)
        by_process: dict[str, int] = {}
        for each in names:
            key = f"clients:{each}"
            if self.shared is None:
                counts = {self.process_id: await self.backend.counter(key)}
            else:
                counts = await self.shared.presence(key)
            for process_id, count in counts.items():
                by_process[process_id] = by_process.get(process_id, 0) + count
        by_room = {
            listing.room_id: listing.clients
            for listing in await self.backend.query(name)
            if name is not None or listing.name in names
        }
        return Presence(by_process, by_room)

    # -- writing -------------------------------------------------------------------------------

    async def _push(self, hosted: HostedRoom) -> None:
        room = hosted.room
        if room.disposed:
            await self.backend.remove(room.room_id)
            clients = 0
        else:
            assert hosted.fingerprint is not None  # set by refresh before queueing
            clients, max_clients, locked, private = hosted.fingerprint
            await self.backend.publish(
                RoomListing(
                    room_id=room.room_id,
                    name=hosted.room_type.name,
                    process_id=self.process_id,
                    clients=clients,
                    max_clients=max_clients,
                    locked=locked,
                    private=private,
                    metadata=hosted.metadata,
                    created_at=hosted.created_at,
                )
            )
        delta = clients - hosted.published_clients
        if delta:
            await self.backend.incr(f"clients:{hosted.room_type.name}", delta)
            hosted.published_clients = clients
