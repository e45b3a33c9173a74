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

Several processes. With a backend that several processes share (``SharedBackend``, e.g.
``RedisBackend``) the registry registers its process at ``start()`` (its ``public_url`` and a
heartbeat) and answers requests from the others on its own channel. A room still lives in one
process only; another process reaches it by a request to that process: ``join_by_id``,
``reconnect``, ``leave``, ``dispose_room`` and ``call`` (a remote room call) are forwarded to the
owner, and ``join``/``join_or_create`` ask the owners of listed rooms with free seats (local
rooms first) before creating one here. Each request waits ``remote_timeout`` seconds at most.
``join_or_create`` holds the shared lock while it finds or creates, and flushes the listings
before releasing it (the owner flushes before it answers), so the next holder sees every seat
taken: no duplicate room, and the owner's own check keeps every room within capacity.

A ``persistent`` room survives a restart: ``shutdown()`` stops its loop between ticks, saves it
(``persistence.save_room`` plus its type, options and creation time) in the shared backend,
removes its listing and closes its clients with MAY_TRY_RECONNECT. Any process restores it on
demand, when ``reconnect`` or ``join_by_id`` names a room that has no live listing but a save,
under the lock ``room:<room_id>`` so only one process does.

Must never: await inside a tick or per client, touch a socket, or keep module-global state.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

import msgpack

from game_server.backends.base import RegistryBackend, RoomListing
from game_server.backends.memory import MemoryBackend
from game_server.client import Client, ClientStatus
from game_server.clock import Clock
from game_server.errors import (
    AuthRefusedError,
    InvalidOptionsError,
    MatchmakeError,
    RoomError,
    RoomFullError,
    RoomLockedError,
    RoomNotFoundError,
    RoomUnavailableError,
    SeatInvalidError,
    UnknownRoomTypeError,
)
from game_server.loop import TICK_BUCKETS, TickLoop
from game_server.metrics import Histogram
from game_server.persistence import restore_room, save_room
from game_server.room import Room, RoomStats
from protocol.codes import CloseCode, Role

logger = logging.getLogger("game_server.registry")

SEAT_INVALID = "seat reservation is invalid or expired"
RECONNECT_INVALID = "reconnect token is invalid or expired"
NO_ANSWER = "room's process did not answer"

_REMOTE_ERRORS: dict[str, type[RoomError]] = {
    kind.__name__: kind
    for kind in (
        RoomError,
        RoomFullError,
        RoomNotFoundError,
        RoomLockedError,
        AuthRefusedError,
        SeatInvalidError,
        UnknownRoomTypeError,
        InvalidOptionsError,
    )
}
"""Refusals that cross between processes keep their class (and so their code and message)."""

RequestHandler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


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
    """The process hosting the room."""
    url: str = ""
    """The public base URL of that process (``RoomRegistry.public_url``): the HTTP layer
    points the client's socket there."""


@dataclass(frozen=True, slots=True)
class Presence:
    """Who is where: players per live process and per listed room (``RoomRegistry.presence``)."""

    by_process: dict[str, int] = field(default_factory=dict)
    by_room: dict[str, int] = field(default_factory=dict)


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

    __slots__ = (
        "remote_calls",
        "reservations_expired",
        "rooms_created",
        "rooms_disposed",
        "rooms_restored",
        "rooms_saved",
        "seats_reserved",
    )

    def __init__(self) -> None:
        self.rooms_created = 0
        self.rooms_disposed = 0
        self.rooms_saved = 0
        """Persistent rooms saved to the shared backend at shutdown."""
        self.rooms_restored = 0
        """Saved rooms this process restored."""
        self.remote_calls = 0
        """Requests this process sent to others (seats, room calls)."""
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
        remote_timeout: float = 2.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.backend = backend if backend is not None else MemoryBackend()
        self.process_id = process_id or secrets.token_urlsafe(6)
        self.public_url = public_url
        """Where clients reach this process (the HTTP layer uses it to build seat URLs)."""
        self.room_types: dict[str, RoomType] = {}
        self.stats = RegistryStats()
        self.retired = RoomStats()
        """Counters of the rooms this process has disposed: metrics add the live rooms' to
        them, so totals never go down when a room ends."""
        self.tick_duration = Histogram(TICK_BUCKETS)
        """Seconds each tick took, every room of this registry together."""
        self.tick_lateness = Histogram(TICK_BUCKETS)
        """Seconds each tick batch started after its deadline, every room together."""
        self.max_catch_up = max_catch_up
        """Ticks a late loop may run in one go before it skips (see ``TickSchedule``)."""
        self.remote_timeout = remote_timeout
        """Seconds a request to another process waits for its answer."""
        self.shared: SharedBackend | None = (
            self.backend if isinstance(self.backend, SharedBackend) else None
        )
        """The backend, when several processes share it (None for ``MemoryBackend``)."""
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
            raise RoomUnavailableError("registry is closed")
        if self._flusher is None:
            if self.shared is not None:
                await self.shared.register_process(
                    self.process_id, self.public_url, self._answer, self._republish
                )
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush_forever(), name="registry:listings"
            )

    async def shutdown(self, timeout: float | None = None, *, drain: float = 0.0) -> None:
        """Stop matchmaking and end every room.

        With a shared backend, ``persistent`` rooms are saved first and their clients closed
        with MAY_TRY_RECONNECT (see the module docstring; their ``on_before_shutdown`` does not
        run). Every other room is locked and its ``on_before_shutdown`` hook runs; rooms then
        have up to ``drain`` real seconds to empty (they keep ticking, and dispose themselves
        when the last client leaves). Rooms still running are disposed with SERVER_SHUTDOWN.
        Waits for their loops to stop (at most ``timeout`` seconds, if given) and removes their
        listings. New seats are refused from the first line on; give the transport a moment to
        write the close frames, then call ``close()``."""
        self._closing = True
        await self._save_persistent_rooms()
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
        again), or RoomUnavailableError("room failed to start") when ``on_create`` raised."""
        room_type = self._room_type(name)
        self._check_open()
        seat = self._create(room_type, options, Role.SPECTATOR if spectator else Role.PLAYER)
        return await self._listed(seat)

    async def join(self, name: str, options: dict[str, Any] | None = None) -> SeatReservation:
        """Reserve a seat in the oldest public, unlocked room of type ``name`` that has a free
        seat and matches its ``filter_by``: this process's rooms first, then (with a shared
        backend) listed rooms of other processes. Raises RoomNotFoundError("no joinable
        room")."""
        room_type = self._room_type(name)
        self._check_open()
        entry = self._find(room_type, options or {})
        if entry is not None:
            return await self._listed(self._reserve(entry, options, Role.PLAYER))
        seat = await self._join_remote(room_type, options)
        if seat is None:
            raise RoomNotFoundError("no joinable room")
        return seat

    async def join_or_create(
        self, name: str, options: dict[str, Any] | None = None
    ) -> SeatReservation:
        """``join``, or ``create`` when no room matches, as one exclusive step per room type
        (across processes, with a shared backend): concurrent callers fill each room before
        another is created."""
        room_type = self._room_type(name)
        self._check_open()
        async with self.backend.lock(f"matchmake:{name}"):
            self._check_open()
            entry = self._find(room_type, options or {})
            if entry is not None:
                seat = self._reserve(entry, options, Role.PLAYER)
            else:
                remote = await self._join_remote(room_type, options)
                seat = remote or self._create(room_type, options, Role.PLAYER)
            return await self._listed(seat)  # the next holder of the lock must see this seat

    async def join_by_id(
        self, room_id: str, options: dict[str, Any] | None = None, *, spectator: bool = False
    ) -> SeatReservation:
        """Reserve a seat in room ``room_id``, private or not, in whichever process hosts it
        (a saved room is restored here). Raises RoomNotFoundError("room not found"),
        RoomLockedError, RoomFullError, or the room's own refusals."""
        self._check_open()
        owner = await self._owner(room_id)
        if isinstance(owner, str):
            args = {"room_id": room_id, "options": options, "spectator": spectator}
            return await self._remote_seat(owner, "join_by_id", args)
        role = Role.SPECTATOR if spectator else Role.PLAYER
        return await self._listed(self._reserve(owner, options, role))

    async def reconnect(self, room_id: str, reconnect_token: str) -> SeatReservation:
        """Check that ``reconnect_token`` belongs to a joined or dropped client of room
        ``room_id`` and return a reservation whose ``token`` is that reconnect token: the
        client's new socket sends RECONNECT with it, to the process in the reservation. The
        room may live in another process, or be a saved room (restored here). Raises
        RoomNotFoundError or SeatInvalidError (a dropped client's grace ran out, or the token
        is wrong)."""
        self._check_open()
        owner = await self._owner(room_id)
        if isinstance(owner, str):
            args = {"room_id": room_id, "token": reconnect_token}
            return await self._remote_seat(owner, "reconnect", args)
        return self._reconnect_here(owner, reconnect_token)

    async def _listed(self, seat: SeatReservation) -> SeatReservation:
        """``seat``, once the listings show it (at once with the memory backend): other
        processes can then find the room and count the seat."""
        if self.shared is not None:
            await self._flush()
        return seat

    def _reconnect_here(self, entry: _Entry, reconnect_token: str) -> SeatReservation:
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
            url=self.public_url,
        )

    async def leave(self, room_id: str, session_id: str) -> bool:
        """Remove client ``session_id`` from room ``room_id`` (kicked: its socket, if any, is
        closed with KICKED; ``on_leave`` runs at the next tick), in whichever process hosts
        it. Returns False when there is no such client. Raises RoomNotFoundError."""
        entry = self._rooms.get(room_id)
        if entry is None:
            reply = await self._remote_room(room_id, "leave", {"session_id": session_id})
            return bool(reply["result"])
        return self._leave_here(entry, session_id)

    def _leave_here(self, entry: _Entry, session_id: str) -> bool:
        client = entry.room.clients.get(session_id)
        if client is None or client.status is ClientStatus.LEFT:
            return False
        if entry.pending.pop(client.seat_token, None) is not None:
            self._seats.pop(client.seat_token, None)
        client.kick(CloseCode.KICKED, "kicked")
        return True

    async def dispose_room(self, room_id: str) -> None:
        """Dispose room ``room_id`` now (clients are closed with ROOM_DISPOSED), in whichever
        process hosts it. Raises RoomNotFoundError."""
        entry = self._rooms.get(room_id)
        if entry is None:
            await self._remote_room(room_id, "dispose", {})
            return
        entry.room._dispose()

    async def call(
        self, room_id: str, method: str, *args: Any, timeout: float | None = None
    ) -> Any:
        """Call ``room.<method>(*args)`` on room ``room_id`` wherever it lives (a remote room
        call), between its ticks, and return the result (awaited if it is awaitable). For a
        room of another process, ``args`` and the result must be plain data (msgpack) and
        the call waits ``timeout`` seconds at most (default ``remote_timeout``): TimeoutError.
        Only public methods may be called: RoomError("no such room method"). Raises
        RoomNotFoundError; a remote method's RoomError keeps its class, any other exception
        becomes RoomError("remote call failed")."""
        entry = self._rooms.get(room_id)
        if entry is None:
            reply = await self._remote_room(
                room_id, "call", {"method": method, "args": list(args)}, timeout
            )
            return reply["result"]
        return await _call_room(entry.room, method, args)

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

    async def presence(self, name: str | None = None) -> Presence:
        """Players in rooms of type ``name`` (every type when None) per live process and per
        listed room (private and locked rooms included)."""
        await self._flush()
        names = [name] if name is not None else list(self.room_types)
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
            if name is not None or listing.name in self.room_types
        }
        return Presence(by_process, by_room)

    # -- internals -------------------------------------------------------------------------------

    def _room_type(self, name: str) -> RoomType:
        room_type = self.room_types.get(name)
        if room_type is None:
            raise UnknownRoomTypeError("unknown room type")
        return room_type

    def _check_open(self) -> None:
        if self._closing:
            raise RoomUnavailableError("registry is closed")
        if self._flusher is None:
            raise RoomUnavailableError("registry is not started")

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
            raise RoomUnavailableError("room failed to start")
        try:
            client = room._reserve(options, role=role)
        except MatchmakeError:
            room._dispose()
            raise
        entry = self._track(room, room_type, dict(options or {}), self._wall_clock())
        self.stats.rooms_created += 1
        return self._reserved(entry, client)

    def _track(
        self, room: Room, room_type: RoomType, options: dict[str, Any], created_at: float
    ) -> _Entry:
        """Keep ``room`` (started, or restored) and start its tick loop."""
        loop = TickLoop(
            room,
            self.clock,
            max_catch_up=self.max_catch_up,
            duration=self.tick_duration,
            lateness=self.tick_lateness,
        )
        entry = _Entry(room, room_type, options, loop, created_at)
        loop.after_tick = partial(self._after_tick, entry)
        room.on_disposed = partial(self._on_disposed, entry)
        self._rooms[room.room_id] = entry
        loop.start().add_done_callback(_log_loop_failure)
        return entry

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
            url=self.public_url,
        )

    # -- other processes -------------------------------------------------------------------------

    async def _owner(self, room_id: str) -> _Entry | str:
        """The local entry of ``room_id``, or the id of the live process hosting it; a saved
        room with no live listing is restored here. Raises RoomNotFoundError."""
        entry = self._rooms.get(room_id)
        if entry is not None:
            return entry
        if self.shared is not None:
            for _ in range(2):  # look again when another process restored it meanwhile
                listing = await self.backend.get(room_id)
                if listing is not None and listing.process_id != self.process_id:
                    return listing.process_id
                entry = await self._restore(room_id)
                if entry is not None:
                    return entry
        raise RoomNotFoundError("room not found")

    async def _join_remote(
        self, room_type: RoomType, options: dict[str, Any] | None
    ) -> SeatReservation | None:
        """A seat in the oldest listed room of another process that looks joinable (its owner
        checks capacity and ``filter_by`` itself), or None. Tries for ``remote_timeout`` s."""
        if self.shared is None:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.remote_timeout
        for listing in await self.backend.query(room_type.name):
            if (
                listing.process_id == self.process_id
                or listing.private
                or listing.locked
                or listing.clients >= listing.max_clients
            ):
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            args = {"room_id": listing.room_id, "options": options}
            try:
                reply = await self._remote(listing.process_id, "join", args, remaining)
            except (AuthRefusedError, InvalidOptionsError):
                raise
            except (RoomError, TimeoutError):
                continue  # full, locked, filtered out, gone, or its process is stuck
            return self._seat_from(reply["seat"])
        return None

    async def _remote(
        self, process_id: str, method: str, args: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """Send a request to ``process_id``; raise its refusal as the same RoomError class."""
        assert self.shared is not None
        self.stats.remote_calls += 1
        wait = self.remote_timeout if timeout is None else timeout
        reply = await self.shared.call(process_id, method, args, wait)
        error = reply.get("error")
        if error is not None:
            kind = _REMOTE_ERRORS.get(str(error.get("type")), RoomError)
            raise kind(str(error.get("message", "")))
        return reply

    async def _remote_seat(
        self, process_id: str, method: str, args: dict[str, Any]
    ) -> SeatReservation:
        try:
            reply = await self._remote(process_id, method, args)
        except TimeoutError:
            raise RoomNotFoundError(NO_ANSWER) from None
        return self._seat_from(reply["seat"])

    async def _remote_room(
        self, room_id: str, method: str, args: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """Forward a room operation to the process listing ``room_id``."""
        listing = await self.backend.get(room_id) if self.shared is not None else None
        if listing is None or listing.process_id == self.process_id:
            raise RoomNotFoundError("room not found")
        return await self._remote(listing.process_id, method, {"room_id": room_id, **args}, timeout)

    async def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run another process's request on a room of this one (the shared backend calls it).
        Refusals travel back as ``{"error": {"type", "message"}}``."""
        try:
            entry = self._rooms.get(str(args.get("room_id")))
            if entry is None:
                raise RoomNotFoundError("room not found")
            if method == "call":
                result = await _call_room(entry.room, str(args["method"]), args.get("args") or [])
                return {"result": _plain_result(result)}
            if method == "leave":
                return {"result": self._leave_here(entry, str(args["session_id"]))}
            if method == "dispose":
                entry.room._dispose()
                return {"result": None}
            self._check_open()
            if method == "join":
                seat = self._join_here(entry, args.get("options"))
            elif method == "join_by_id":
                role = Role.SPECTATOR if args.get("spectator") else Role.PLAYER
                seat = self._reserve(entry, args.get("options"), role)
            elif method == "reconnect":
                seat = self._reconnect_here(entry, str(args["token"]))
            else:
                raise RoomError("unknown request")
        except RoomError as exc:
            return {"error": {"type": type(exc).__name__, "message": str(exc)}}
        await self._flush()  # the caller may hold the matchmaking lock: list the seat first
        return {"seat": self._seat_out(seat)}

    def _join_here(self, entry: _Entry, options: dict[str, Any] | None) -> SeatReservation:
        """``join`` for one room, as another process's matchmaking asks for it."""
        room, wanted = entry.room, options or {}
        if (
            room.private
            or not room.has_free_seat()
            or any(wanted.get(key) != entry.options.get(key) for key in entry.room_type.filter_by)
        ):
            raise RoomNotFoundError("no joinable room")
        return self._reserve(entry, options, Role.PLAYER)

    def _seat_out(self, seat: SeatReservation) -> dict[str, Any]:
        """A reservation as plain data; expiry as seconds left (clocks differ per process)."""
        return {
            "room_id": seat.room_id,
            "room_name": seat.room_name,
            "session_id": seat.session_id,
            "token": seat.token,
            "expires_in": seat.expires_at - self.clock.now(),
            "spectator": seat.spectator,
            "process_id": seat.process_id,
            "url": seat.url,
        }

    def _seat_from(self, data: dict[str, Any]) -> SeatReservation:
        return SeatReservation(
            room_id=str(data["room_id"]),
            room_name=str(data["room_name"]),
            session_id=str(data["session_id"]),
            token=str(data["token"]),
            expires_at=self.clock.now() + float(data["expires_in"]),
            spectator=bool(data["spectator"]),
            process_id=str(data["process_id"]),
            url=str(data["url"]),
        )

    def _republish(self) -> None:
        """The shared backend lost this process's listings and counters (Redis restarted, or
        the process stalled past the heartbeat ttl): publish every room again."""
        for entry in self._rooms.values():
            entry.published_clients = 0
            if entry.fingerprint is not None:
                self._mark_dirty(entry)

    # -- persistent rooms ------------------------------------------------------------------------

    async def _save_persistent_rooms(self) -> None:
        """Save every persistent room in the shared backend and hand its clients over."""
        shared = self.shared
        if shared is None:
            return
        for entry in list(self._rooms.values()):
            room = entry.room
            if not room.persistent or room.disposed:
                continue
            entry.loop.stop()  # no tick runs from here on: the save is the room's last word
            try:
                saved = {
                    "type": entry.room_type.name,
                    "options": entry.options,
                    "created_at": entry.created_at,
                    "room": save_room(room),
                }
                await shared.save_room(room.room_id, _pack(saved))
            except Exception:
                logger.exception("registry: could not save persistent room %s", room.room_id)
                room._dispose(CloseCode.SERVER_SHUTDOWN, "server shutting down")
                continue
            self.stats.rooms_saved += 1
            for client in room.clients.values():
                if client.connection is not None:
                    client.connection.close(CloseCode.MAY_TRY_RECONNECT, "server restarting")
                    client.wake()
            room.disposed = True  # without on_dispose: the room goes on in another process
            self._on_disposed(entry, room)
        await self._flush()

    async def _restore(self, room_id: str) -> _Entry | None:
        """Restore the saved room ``room_id`` here, under the lock ``room:<room_id>``. None
        when another process lists it by then; RoomNotFoundError when there is no save."""
        shared = self.shared
        assert shared is not None
        async with self.backend.lock(f"room:{room_id}"):
            entry = self._rooms.get(room_id)
            if entry is not None:
                return entry
            if await self.backend.get(room_id) is not None:
                return None
            data = await shared.load_room(room_id)
            if data is None:
                raise RoomNotFoundError("room not found")
            entry = self._restored(room_id, data)
            self.stats.rooms_restored += 1
            await self._flush()  # listed before the lock goes: nobody restores it twice
            await shared.delete_saved_room(room_id)
            return entry

    def _restored(self, room_id: str, data: bytes) -> _Entry:
        try:
            saved = msgpack.unpackb(data, raw=False)
            room_type = self.room_types[saved["type"]]
            room = restore_room(saved["room"])
            options, created_at = dict(saved["options"]), float(saved["created_at"])
        except (KeyError, TypeError, ValueError, ImportError, AttributeError) as exc:
            logger.warning("registry: cannot restore saved room %s: %s", room_id, exc)
            raise RoomNotFoundError("room not found") from None
        entry = self._track(room, room_type, options, created_at)
        for client in room.clients.values():
            if client.status is ClientStatus.RESERVED:
                entry.pending[client.seat_token] = client
                self._seats[client.seat_token] = entry
        self._refresh(entry)
        return entry

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
        retired = self.retired
        retired.ticks += room.stats.ticks
        retired.frames_coalesced += room.stats.frames_coalesced
        retired.inputs_dropped += room.stats.inputs_dropped
        retired.errors += room.stats.errors
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


async def _call_room(room: Room, method: str, args: Any) -> Any:
    """``room.<method>(*args)``, awaited if it returns an awaitable; public methods only."""
    function = None if method.startswith("_") else getattr(room, method, None)
    if not callable(function):
        raise RoomError("no such room method")
    result = function(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def _plain_result(result: Any) -> Any:
    """``result`` if msgpack can carry it to another process."""
    try:
        _pack(result)
    except (TypeError, ValueError, OverflowError):
        raise RoomError("remote call result is not plain data") from None
    return result


def _pack(value: Any) -> bytes:
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed
