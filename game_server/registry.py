"""``RoomRegistry``: the matchmaker. It defines room types, creates rooms and their tick loops,
reserves seats in them, and keeps their listings in a backend.

    registry = RoomRegistry(MonotonicClock())
    registry.define("arena", Arena, max_clients=10, filter_by=("mode",))
    async with registry:
        seat = await registry.join_or_create("arena", {"mode": "duel"})
        # hand seat.token to the client; its socket sends JOIN with it, and the endpoint does
        room = registry.room_for_seat(seat.token)
        client = room._redeem(seat.token, connection, sink)

Theory of operation. Every room lives in this process, in ``_rooms``, driven by its own
``TickLoop`` on the registry's clock; matchmaking decisions read the rooms themselves, so they
are exact. A seat is reserved synchronously (``Room._reserve``) and there is no ``await``
between finding a room and reserving in it; ``join_or_create`` additionally holds the backend's
``lock("matchmake:<name>")`` so a networked backend can make find-or-create exclusive across
processes. The room expires unredeemed seats itself (in room time, inside its tick) and
auto-disposes once empty; its ``on_disposed`` callback (owned by the registry) drops it from
``_rooms``, stops its loop and queues its listing for removal.

Listings are the world's view and may lag by one flush: after every tick the registry compares
a small fingerprint (players, max_clients, locked, private, plus the metadata dict) with the
last one and, when it changed, marks the room dirty. One background task writes dirty rooms to
the backend (publish or remove, plus the ``clients:<name>`` presence counter) in order;
``list_rooms`` flushes first, so this process always lists its own changes as of the last tick.

Must never: await inside a tick or per client, touch a socket, or keep module-global state.
Remote rooms (listed by another process) cannot be joined through this registry yet.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any

from game_server.backends.base import RegistryBackend, RoomListing
from game_server.backends.memory import MemoryBackend
from game_server.client import Client, ClientStatus
from game_server.clock import Clock
from game_server.errors import (
    MatchmakeError,
    RoomError,
    RoomNotFoundError,
    SeatInvalidError,
    UnknownRoomTypeError,
)
from game_server.loop import TICK_BUCKETS, TickLoop
from game_server.metrics import Histogram
from game_server.room import Room
from protocol.codes import CloseCode, Role

logger = logging.getLogger("game_server.registry")

SEAT_INVALID = "seat reservation is invalid or expired"
RECONNECT_INVALID = "reconnect token is invalid or expired"


@dataclass(frozen=True, slots=True)
class SeatReservation:
    """A seat held for one client. Hand ``token`` to the client: its socket must send JOIN with
    it (RECONNECT, for a reservation from ``reconnect()``) before ``expires_at``."""

    room_id: str
    room_name: str
    session_id: str
    token: str
    """The seat token (unguessable); for ``reconnect()``, the reconnect token."""
    expires_at: float
    """Seconds on the registry's clock after which the seat is gone."""
    spectator: bool = False
    process_id: str = ""
    """The process hosting the room (the HTTP layer turns it into a URL)."""


@dataclass(frozen=True, slots=True)
class RoomType:
    """A room type as ``define`` registered it."""

    name: str
    room_class: type[Room]
    defaults: dict[str, Any]
    """Room settings, passed as ``Room(settings=defaults)``."""
    filter_by: tuple[str, ...]
    """Option keys whose values must equal the room's creation options to join it."""


class RegistryStats:
    """Counters for the metrics endpoint."""

    __slots__ = ("reservations_expired", "rooms_created", "rooms_disposed", "seats_reserved")

    def __init__(self) -> None:
        self.rooms_created = 0
        self.rooms_disposed = 0
        self.seats_reserved = 0
        """Seats reserved by create and the joins (not reconnections)."""
        self.reservations_expired = 0
        """Seats never redeemed before the room's ``seat_reservation_timeout``."""


class _Entry:
    """The registry's record of one local room."""

    __slots__ = (
        "created_at",
        "fingerprint",
        "loop",
        "metadata",
        "options",
        "pending",
        "published_clients",
        "room",
        "room_type",
    )

    def __init__(
        self, room: Room, room_type: RoomType, options: dict[str, Any], loop: TickLoop, now: float
    ) -> None:
        self.room = room
        self.room_type = room_type
        self.options = options
        """The options the room was created with (``filter_by`` compares them)."""
        self.loop = loop
        self.created_at = now
        self.pending: dict[str, Client] = {}
        """Seats reserved here and not yet seen redeemed or expired, by seat token."""
        self.fingerprint: tuple[int, int, bool, bool] | None = None
        """(players, max_clients, locked, private) as last marked for publication."""
        self.metadata: dict[str, Any] = {}
        """A deep copy of the room's metadata as last marked for publication."""
        self.published_clients = 0
        """Players counted in the backend's presence counter for this room."""


class RoomRegistry:
    """Creates rooms, reserves seats and keeps listings. See the module docstring.

    Define room types, then ``async with registry:`` (or ``await start()`` … ``await close()``)
    on the event loop that will run the rooms. Seat operations raise a ``MatchmakeError``
    subclass on refusal (its ``code`` and ``http_status`` say how to answer).
    """

    def __init__(
        self,
        clock: Clock,
        backend: RegistryBackend | None = None,
        *,
        process_id: str | None = None,
        public_url: str = "",
        max_catch_up: int = 5,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.backend = backend if backend is not None else MemoryBackend()
        self.process_id = process_id or secrets.token_urlsafe(6)
        self.public_url = public_url
        """Where clients reach this process (the HTTP layer uses it to build seat URLs)."""
        self.room_types: dict[str, RoomType] = {}
        self.stats = RegistryStats()
        self.tick_duration = Histogram(TICK_BUCKETS)
        """Seconds each tick took, every room of this registry together."""
        self.tick_lateness = Histogram(TICK_BUCKETS)
        """Seconds each tick batch started after its deadline, every room together."""
        self.max_catch_up = max_catch_up
        """Ticks a late loop may run in one go before it skips (see ``TickSchedule``)."""
        self._wall_clock = wall_clock
        self._rooms: dict[str, _Entry] = {}
        self._seats: dict[str, _Entry] = {}
        self._dirty: dict[str, _Entry] = {}
        self._wake = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = False

    # -- definition and lifecycle ----------------------------------------------------------------

    def define(
        self,
        name: str,
        room_class: type[Room],
        *,
        filter_by: tuple[str, ...] = (),
        **defaults: Any,
    ) -> RoomType:
        """Register ``room_class`` under ``name``. ``defaults`` override its settings (class
        attributes such as ``max_clients``); ``filter_by`` names option keys that matchmaking
        compares with a room's creation options. Raises ValueError for a name already defined
        and AttributeError for an unknown setting."""
        if name in self.room_types:
            raise ValueError(f"room type {name!r} is already defined")
        for key in defaults:
            if key.startswith("_") or not hasattr(room_class, key):
                raise AttributeError(f"unknown room setting {key!r}")
        room_type = RoomType(name, room_class, dict(defaults), tuple(filter_by))
        self.room_types[name] = room_type
        return room_type

    async def start(self) -> None:
        """Start the listing writer on the running event loop. Call once, before any seat
        operation; then ``close()`` when done."""
        if self._closing:
            raise RoomError("registry is closed")
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush_forever(), name="registry:listings"
            )

    async def shutdown(self, timeout: float | None = None, *, drain: float = 0.0) -> None:
        """Stop matchmaking and end every room.

        Each room is locked and its ``on_before_shutdown`` hook runs; rooms then have up to
        ``drain`` real seconds to empty (they keep ticking, and dispose themselves when the
        last client leaves). Rooms still running are disposed with SERVER_SHUTDOWN. Waits for
        their loops to stop (at most ``timeout`` seconds, if given) and removes their listings.
        New seats are refused from the first line on; give the transport a moment to write the
        close frames, then call ``close()``."""
        self._closing = True
        entries = list(self._rooms.values())
        for entry in entries:
            entry.room._before_shutdown()
        running = [entry.loop.task for entry in entries if entry.loop.task is not None]
        if drain > 0 and running:
            await asyncio.wait(running, timeout=drain)
        for entry in list(self._rooms.values()):
            entry.room._dispose(CloseCode.SERVER_SHUTDOWN, "server shutting down")
        tasks = [entry.loop.task for entry in entries if entry.loop.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        await self._flush()

    async def close(self) -> None:
        """``shutdown()`` if not done, stop the listing writer and close the backend."""
        if self._closed:
            return
        await self.shutdown()
        self._closed = True
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self.backend.close()

    async def __aenter__(self) -> RoomRegistry:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- local rooms -----------------------------------------------------------------------------

    @property
    def rooms(self) -> dict[str, Room]:
        """Every room this process hosts, by room id, oldest first (a new dict each time)."""
        return {room_id: entry.room for room_id, entry in self._rooms.items()}

    def get(self, room_id: str) -> Room | None:
        """The local room ``room_id``, or None."""
        entry = self._rooms.get(room_id)
        return entry.room if entry is not None else None

    def room_for_seat(self, token: str) -> Room:
        """The room holding the unredeemed seat ``token`` (the socket sent JOIN with it). Next,
        call ``room._redeem(token, connection, sink)``. Raises SeatInvalidError."""
        entry = self._seats.get(token)
        if entry is not None:
            client = entry.pending.get(token)
            if client is not None and client.status is ClientStatus.RESERVED:
                return entry.room
        raise SeatInvalidError(SEAT_INVALID)

    def room_for_reconnect(self, token: str) -> Room:
        """The room of the joined or dropped client whose reconnect token is ``token`` (the
        socket sent RECONNECT with it). Next, call ``room._resume(token, last_tick,
        connection, sink)``. Raises SeatInvalidError."""
        for entry in self._rooms.values():
            if _reconnectable(entry.room, token) is not None:
                return entry.room
        raise SeatInvalidError(RECONNECT_INVALID)

    # -- seat operations -------------------------------------------------------------------------

    async def create(
        self, name: str, options: dict[str, Any] | None = None, *, spectator: bool = False
    ) -> SeatReservation:
        """Create a room of type ``name`` with ``options`` and reserve a seat in it. Raises
        UnknownRoomTypeError, InvalidOptionsError, AuthRefusedError (the room is disposed
        again), or RoomError("room failed to start") when ``on_create`` raised."""
        room_type = self._room_type(name)
        self._check_open()
        return self._create(room_type, options, Role.SPECTATOR if spectator else Role.PLAYER)

    async def join(self, name: str, options: dict[str, Any] | None = None) -> SeatReservation:
        """Reserve a seat in the oldest public, unlocked room of type ``name`` that has a free
        seat and matches its ``filter_by``. Raises RoomNotFoundError("no joinable room")."""
        room_type = self._room_type(name)
        self._check_open()
        entry = self._find(room_type, options or {})
        if entry is None:
            raise RoomNotFoundError("no joinable room")
        return self._reserve(entry, options, Role.PLAYER)

    async def join_or_create(
        self, name: str, options: dict[str, Any] | None = None
    ) -> SeatReservation:
        """``join``, or ``create`` when no room matches, as one exclusive step per room type:
        concurrent callers fill each room before another is created."""
        room_type = self._room_type(name)
        self._check_open()
        async with self.backend.lock(f"matchmake:{name}"):
            self._check_open()
            entry = self._find(room_type, options or {})
            if entry is not None:
                return self._reserve(entry, options, Role.PLAYER)
            return self._create(room_type, options, Role.PLAYER)

    async def join_by_id(
        self, room_id: str, options: dict[str, Any] | None = None, *, spectator: bool = False
    ) -> SeatReservation:
        """Reserve a seat in room ``room_id``, private or not. Raises RoomNotFoundError("room
        not found"), RoomLockedError, RoomFullError, or the room's own refusals."""
        self._check_open()
        entry = self._entry(room_id)
        return self._reserve(entry, options, Role.SPECTATOR if spectator else Role.PLAYER)

    async def reconnect(self, room_id: str, reconnect_token: str) -> SeatReservation:
        """Check that ``reconnect_token`` belongs to a joined or dropped client of room
        ``room_id`` and return a reservation whose ``token`` is that reconnect token: the
        client's new socket sends RECONNECT with it. Raises RoomNotFoundError or
        SeatInvalidError (a dropped client's grace ran out, or the token is wrong)."""
        self._check_open()
        entry = self._entry(room_id)
        room = entry.room
        client = _reconnectable(room, reconnect_token)
        if client is None:
            raise SeatInvalidError(RECONNECT_INVALID)
        if client.status is ClientStatus.DROPPED and client.dropped_at is not None:
            remaining = client.dropped_at + room.reconnection_grace - room.time
        else:
            remaining = room.seat_reservation_timeout
        return SeatReservation(
            room_id=room.room_id,
            room_name=entry.room_type.name,
            session_id=client.session_id,
            token=reconnect_token,
            expires_at=self.clock.now() + max(0.0, remaining),
            spectator=client.is_spectator,
            process_id=self.process_id,
        )

    async def leave(self, room_id: str, session_id: str) -> bool:
        """Remove client ``session_id`` from room ``room_id`` (kicked: its socket, if any, is
        closed with KICKED; ``on_leave`` runs at the next tick). Returns False when there is no
        such client. Raises RoomNotFoundError."""
        entry = self._entry(room_id)
        client = entry.room.clients.get(session_id)
        if client is None or client.status is ClientStatus.LEFT:
            return False
        if entry.pending.pop(client.seat_token, None) is not None:
            self._seats.pop(client.seat_token, None)
        client.kick(CloseCode.KICKED, "kicked")
        return True

    async def dispose_room(self, room_id: str) -> None:
        """Dispose room ``room_id`` now (clients are closed with ROOM_DISPOSED). Raises
        RoomNotFoundError."""
        self._entry(room_id).room._dispose()

    # -- listings --------------------------------------------------------------------------------

    async def list_rooms(self, name: str | None = None, **metadata: Any) -> list[RoomListing]:
        """Public, unlocked rooms (of type ``name``, if given) whose metadata has each given
        key with an equal value, oldest first, as the backend knows them (every process's
        rooms; this one's as of its last tick)."""
        await self._flush()
        listings = await self.backend.query(name, metadata or None)
        return [listing for listing in listings if not listing.private and not listing.locked]

    async def client_count(self, name: str | None = None) -> int:
        """Players in rooms of type ``name`` (every type when None), across processes, from
        the backend's presence counters."""
        await self._flush()
        names = [name] if name is not None else list(self.room_types)
        return sum([await self.backend.counter(f"clients:{each}") for each in names])

    # -- internals -------------------------------------------------------------------------------

    def _room_type(self, name: str) -> RoomType:
        room_type = self.room_types.get(name)
        if room_type is None:
            raise UnknownRoomTypeError("unknown room type")
        return room_type

    def _check_open(self) -> None:
        if self._closing:
            raise RoomError("registry is closed")
        if self._flusher is None:
            raise RoomError("registry is not started")

    def _entry(self, room_id: str) -> _Entry:
        entry = self._rooms.get(room_id)
        if entry is None:
            raise RoomNotFoundError("room not found")
        return entry

    def _find(self, room_type: RoomType, options: dict[str, Any]) -> _Entry | None:
        for entry in self._rooms.values():
            room = entry.room
            if (
                entry.room_type is room_type
                and not room.private
                and room.has_free_seat()
                and all(options.get(key) == entry.options.get(key) for key in room_type.filter_by)
            ):
                return entry
        return None

    def _create(
        self, room_type: RoomType, options: dict[str, Any] | None, role: Role
    ) -> SeatReservation:
        room = room_type.room_class(name=room_type.name, settings=room_type.defaults)
        room._start(options)
        if room.disposed:
            raise RoomError("room failed to start")
        try:
            client = room._reserve(options, role=role)
        except MatchmakeError:
            room._dispose()
            raise
        loop = TickLoop(
            room,
            self.clock,
            max_catch_up=self.max_catch_up,
            duration=self.tick_duration,
            lateness=self.tick_lateness,
        )
        entry = _Entry(room, room_type, dict(options or {}), loop, self._wall_clock())
        loop.after_tick = partial(self._after_tick, entry)
        room.on_disposed = partial(self._on_disposed, entry)
        self._rooms[room.room_id] = entry
        self.stats.rooms_created += 1
        loop.start().add_done_callback(_log_loop_failure)
        return self._reserved(entry, client)

    def _reserve(
        self, entry: _Entry, options: dict[str, Any] | None, role: Role
    ) -> SeatReservation:
        return self._reserved(entry, entry.room._reserve(options, role=role))

    def _reserved(self, entry: _Entry, client: Client) -> SeatReservation:
        entry.pending[client.seat_token] = client
        self._seats[client.seat_token] = entry
        self.stats.seats_reserved += 1
        self._refresh(entry)
        room = entry.room
        return SeatReservation(
            room_id=room.room_id,
            room_name=entry.room_type.name,
            session_id=client.session_id,
            token=client.seat_token,
            expires_at=self.clock.now() + room.seat_reservation_timeout,
            spectator=client.is_spectator,
            process_id=self.process_id,
        )

    def _after_tick(self, entry: _Entry) -> None:
        """Runs after each of the room's ticks: cheap unless seats are pending or it changed."""
        if entry.room.disposed:
            return
        if entry.pending:
            self._settle_seats(entry)
        self._refresh(entry)

    def _settle_seats(self, entry: _Entry) -> None:
        """Forget pending seats that were redeemed or expired (counting the expired)."""
        for token, client in list(entry.pending.items()):
            if client.status is ClientStatus.RESERVED:
                continue
            del entry.pending[token]
            self._seats.pop(token, None)
            if not client.has_joined:
                self.stats.reservations_expired += 1

    def _refresh(self, entry: _Entry) -> None:
        """Mark the room's listing dirty if its fingerprint changed."""
        room = entry.room
        fingerprint = (room.player_count, room.max_clients, room.locked, bool(room.private))
        if fingerprint != entry.fingerprint or room.metadata != entry.metadata:
            entry.fingerprint = fingerprint
            entry.metadata = copy.deepcopy(room.metadata)
            self._mark_dirty(entry)

    def _mark_dirty(self, entry: _Entry) -> None:
        self._dirty[entry.room.room_id] = entry
        self._wake.set()

    def _on_disposed(self, entry: _Entry, room: Room) -> None:
        """The room's ``on_disposed``: forget it, stop its loop, queue its listing's removal."""
        if self._rooms.pop(room.room_id, None) is None:
            return
        self._settle_seats(entry)
        for token in entry.pending:
            self._seats.pop(token, None)
        entry.pending.clear()
        entry.loop.stop()
        self.stats.rooms_disposed += 1
        self._mark_dirty(entry)

    async def _flush_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._flush()

    async def _flush(self) -> None:
        """Write every dirty room to the backend, one at a time, in order."""
        async with self._flush_lock:
            while self._dirty:
                _, entry = self._dirty.popitem()
                try:
                    await self._push(entry)
                except Exception:
                    logger.exception("registry: could not update the listing of a room")

    async def _push(self, entry: _Entry) -> None:
        room = entry.room
        if room.disposed:
            await self.backend.remove(room.room_id)
            clients = 0
        else:
            assert entry.fingerprint is not None  # set by _refresh before marking dirty
            clients, max_clients, locked, private = entry.fingerprint
            await self.backend.publish(
                RoomListing(
                    room_id=room.room_id,
                    name=entry.room_type.name,
                    process_id=self.process_id,
                    clients=clients,
                    max_clients=max_clients,
                    locked=locked,
                    private=private,
                    metadata=entry.metadata,
                    created_at=entry.created_at,
                )
            )
        delta = clients - entry.published_clients
        if delta:
            await self.backend.incr(f"clients:{entry.room_type.name}", delta)
            entry.published_clients = clients


def _reconnectable(room: Room, token: str) -> Client | None:
    """The joined or dropped client of ``room`` whose reconnect token is ``token``."""
    client = room._tokens.get(token)
    if (
        client is None
        or client.reconnect_token != token
        or client.status not in (ClientStatus.JOINED, ClientStatus.DROPPED)
    ):
        return None
    return client


def _log_loop_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("tick loop %s failed", task.get_name(), exc_info=task.exception())
