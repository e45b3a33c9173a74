"""``RoomRegistry``: the matchmaker. It defines room types, creates rooms and their tick loops,
reserves seats in them, and keeps their listings in a backend.

    registry = RoomRegistry(MonotonicClock())
    registry.define("arena", Arena, max_clients=10, filter_by=("mode",))
    async with registry:
        seat = await registry.join_or_create("arena", {"mode": "duel"})
        # hand seat.token to the client; its socket sends JOIN with it, and the endpoint does
        room = registry.room_for_seat(seat.token)
        client = room._redeem(seat.token, connection, sink)

Theory of operation. Every room this process hosts lives in ``_rooms`` as a ``HostedRoom``,
driven by its own ``TickLoop`` on the registry's clock (the registry's ``TickScheduler`` runs
every loop of a tick rate from one task); matchmaking decisions read the rooms
themselves, so they are exact. A seat is reserved synchronously (``Room._reserve``) and there is
no ``await`` between finding a room and reserving in it; ``join_or_create`` additionally holds
the backend's ``lock("matchmake:<name>")`` so a networked backend can make find-or-create
exclusive across processes. The room expires unredeemed seats itself (in room time, inside its
tick) and auto-disposes once empty; its ``on_disposed`` callback (owned by the registry) drops
it from ``_rooms``, stops its loop and queues its listing for removal.

Its other parts, whose public names this module re-exports::

    registry_records    SeatReservation, Presence, RoomType, RegistryStats; HostedRoom
    registry_listings   Listings: listings and presence counters, written after ticks, read back
    registry_remote     RemoteRooms: other processes' rooms, their requests, persistent rooms
    backends.base       SharedBackend: what a backend shared by several processes adds

Backend failures. Where the backend raises ``BackendUnavailableError``, every public async
operation raises ``RoomUnavailableError("matchmaking backend unavailable")`` (HTTP 503). With a
shared backend a seat is handed out only once its listing is written; when that write fails the
seat is released (a room created for it is disposed) and the call raises the same error. Rooms
never wait on the backend, and a reconnect into a room of this process needs none.

Must never: await inside a tick or per client, touch a socket, or keep module-global state.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from functools import partial, wraps
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from game_server.backends.base import (
    BackendUnavailableError,
    RegistryBackend,
    RequestHandler,
    RoomListing,
    SharedBackend,
)
from game_server.backends.memory import MemoryBackend
from game_server.client import Client, ClientStatus
from game_server.clock import Clock
from game_server.errors import (
    MatchmakeError,
    RoomNotFoundError,
    RoomUnavailableError,
    SeatInvalidError,
    UnknownRoomTypeError,
)
from game_server.loop import TICK_BUCKETS, TickLoop
from game_server.metrics import Histogram
from game_server.registry_listings import Listings
from game_server.registry_records import (
    HostedRoom,
    Presence,
    RegistryStats,
    RoomType,
    SeatReservation,
)
from game_server.registry_remote import NO_ANSWER, call_room, other_processes
from game_server.room import Room, RoomStats
from game_server.scheduler import TickScheduler
from protocol.codes import CloseCode, Role

__all__ = [
    "BACKEND_UNAVAILABLE",
    "NO_ANSWER",
    "RECONNECT_INVALID",
    "SEAT_INVALID",
    "Presence",
    "RegistryStats",
    "RequestHandler",
    "RoomRegistry",
    "RoomType",
    "SeatReservation",
    "SharedBackend",
]

logger = logging.getLogger("game_server.registry")

SEAT_INVALID = "seat reservation is invalid or expired"
RECONNECT_INVALID = "reconnect token is invalid or expired"
BACKEND_UNAVAILABLE = "matchmaking backend unavailable"

P = ParamSpec("P")
T = TypeVar("T")


def _unavailable_on_backend_failure(
    operation: Callable[P, Awaitable[T]],
) -> Callable[P, Awaitable[T]]:
    """``operation``, raising ``RoomUnavailableError(BACKEND_UNAVAILABLE)`` where the backend
    raised ``BackendUnavailableError`` (whose text, naming hosts, only goes to the log)."""

    @wraps(operation)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await operation(*args, **kwargs)
        except BackendUnavailableError as exc:
            logger.warning("registry: %s: %s", BACKEND_UNAVAILABLE, exc)
            raise RoomUnavailableError(BACKEND_UNAVAILABLE) from exc

    return guarded


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
        self._remote = other_processes(self, self.shared)
        self._wall_clock = wall_clock
        self.scheduler = TickScheduler(clock)
        """Runs every room's tick loop (one task per tick rate)."""
        self._rooms: dict[str, HostedRoom] = {}
        self._seats: dict[str, HostedRoom] = {}
        self._listings = Listings(self.backend, self.process_id, self.shared)
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
            await self._remote.register()
            self._flusher = asyncio.get_running_loop().create_task(
                self._listings.run(), name="registry:listings"
            )

    async def shutdown(self, timeout: float | None = None, *, drain: float = 0.0) -> None:
        """Stop matchmaking and end every room.

        With a shared backend, ``persistent`` rooms are saved first and their clients closed
        with MAY_TRY_RECONNECT (see ``registry_remote``; their ``on_before_shutdown`` does not
        run). Every other room is locked and its ``on_before_shutdown`` hook runs; rooms then
        have up to ``drain`` real seconds to empty (they keep ticking, and dispose themselves
        when the last client leaves). Rooms still running are disposed with SERVER_SHUTDOWN.
        Waits for their loops to stop (at most ``timeout`` seconds, if given) and removes their
        listings. New seats are refused from the first line on; give the transport a moment to
        write the close frames, then call ``close()``."""
        self._closing = True
        await self._remote.save_persistent_rooms()
        hosted_rooms = list(self._rooms.values())
        for hosted in hosted_rooms:
            hosted.room._before_shutdown()
        running = [hosted.loop.finished for hosted in hosted_rooms if hosted.loop.finished]
        if drain > 0 and running:
            await asyncio.wait(running, timeout=drain)
        for hosted in list(self._rooms.values()):
            hosted.room._dispose(CloseCode.SERVER_SHUTDOWN, "server shutting down")
        tasks = [hosted.loop.finished for hosted in hosted_rooms if hosted.loop.finished]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        await self._listings.flush()

    async def close(self) -> None:
        """``shutdown()`` if not done, stop the listing writer and close the backend."""
        if self._closed:
            return
        await self.shutdown()
        self._closed = True
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self.scheduler.close()
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
        return {room_id: hosted.room for room_id, hosted in self._rooms.items()}

    def get(self, room_id: str) -> Room | None:
        """The local room ``room_id``, or None."""
        hosted = self._rooms.get(room_id)
        return hosted.room if hosted is not None else None

    def room_for_seat(self, token: str) -> Room:
        """The room holding the unredeemed seat ``token`` (the socket sent JOIN with it). Next,
        call ``room._redeem(token, connection, sink)``. Raises SeatInvalidError."""
        hosted = self._seats.get(token)
        if hosted is not None:
            client = hosted.pending.get(token)
            if client is not None and client.status is ClientStatus.RESERVED:
                return hosted.room
        raise SeatInvalidError(SEAT_INVALID)

    def room_for_reconnect(self, token: str) -> Room:
        """The room of the joined or dropped client whose reconnect token is ``token`` (the
        socket sent RECONNECT with it). Next, call ``room._resume(token, last_tick,
        connection, sink)``. Raises SeatInvalidError."""
        for hosted in self._rooms.values():
            if hosted.reconnectable(token) is not None:
                return hosted.room
        raise SeatInvalidError(RECONNECT_INVALID)

    # -- seat operations -------------------------------------------------------------------------

    @_unavailable_on_backend_failure
    async def create(
        self, name: str, options: dict[str, Any] | None = None, *, spectator: bool = False
    ) -> SeatReservation:
        """Create a room of type ``name`` with ``options`` and reserve a seat in it. Raises
        UnknownRoomTypeError, InvalidOptionsError, AuthRefusedError (the room is disposed
        again), or RoomUnavailableError("room failed to start") when ``on_create`` raised."""
        room_type = self._room_type(name)
        self._check_open()
        seat = self._create(room_type, options, Role.SPECTATOR if spectator else Role.PLAYER)
        return await self._listed(seat, created=True)

    @_unavailable_on_backend_failure
    async def join(self, name: str, options: dict[str, Any] | None = None) -> SeatReservation:
        """Reserve a seat in the oldest public, unlocked room of type ``name`` that has a free
        seat and matches its ``filter_by``: this process's rooms first, then (with a shared
        backend) listed rooms of other processes. Raises RoomNotFoundError("no joinable
        room")."""
        room_type = self._room_type(name)
        self._check_open()
        hosted = self._find(room_type, options or {})
        if hosted is not None:
            return await self._listed(self._reserve(hosted, options, Role.PLAYER))
        seat = await self._remote.join(room_type, options)
        if seat is None:
            raise RoomNotFoundError("no joinable room")
        return seat

    @_unavailable_on_backend_failure
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
            # the next holder of the lock must see the seat: each branch lists it first
            hosted = self._find(room_type, options or {})
            if hosted is not None:
                return await self._listed(self._reserve(hosted, options, Role.PLAYER))
            remote = await self._remote.join(room_type, options)
            if remote is not None:
                return await self._listed(remote)
            seat = self._create(room_type, options, Role.PLAYER)
            return await self._listed(seat, created=True)

    @_unavailable_on_backend_failure
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
            return await self._remote.seat(owner, "join_by_id", args)
        role = Role.SPECTATOR if spectator else Role.PLAYER
        return await self._listed(self._reserve(owner, options, role))

    @_unavailable_on_backend_failure
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
            return await self._remote.seat(owner, "reconnect", args)
        return self._reconnect_here(owner, reconnect_token)

    @_unavailable_on_backend_failure
    async def leave(self, room_id: str, session_id: str) -> bool:
        """Remove client ``session_id`` from room ``room_id`` (kicked: its socket, if any, is
        closed with KICKED; ``on_leave`` runs at the next tick), in whichever process hosts
        it. Returns False when there is no such client. Raises RoomNotFoundError."""
        hosted = self._rooms.get(room_id)
        if hosted is None:
            reply = await self._remote.room_request(room_id, "leave", {"session_id": session_id})
            return bool(reply["result"])
        return self._leave_here(hosted, session_id)

    @_unavailable_on_backend_failure
    async def dispose_room(self, room_id: str) -> None:
        """Dispose room ``room_id`` now (clients are closed with ROOM_DISPOSED), in whichever
        process hosts it. Raises RoomNotFoundError."""
        hosted = self._rooms.get(room_id)
        if hosted is None:
            await self._remote.room_request(room_id, "dispose", {})
            return
        hosted.room._dispose()

    @_unavailable_on_backend_failure
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
        hosted = self._rooms.get(room_id)
        if hosted is None:
            request = {"method": method, "args": list(args)}
            reply = await self._remote.room_request(room_id, "call", request, timeout)
            return reply["result"]
        return await call_room(hosted.room, method, args)

    # -- listings --------------------------------------------------------------------------------

    @_unavailable_on_backend_failure
    async def list_rooms(self, name: str | None = None, **metadata: Any) -> list[RoomListing]:
        """Public, unlocked rooms (of type ``name``, if given) whose metadata has each given
        key with an equal value, oldest first, as the backend knows them (every process's
        rooms; this one's as of its last tick)."""
        return await self._listings.public(name, metadata)

    @_unavailable_on_backend_failure
    async def client_count(self, name: str | None = None) -> int:
        """Players in rooms of type ``name`` (every type when None), across processes, from
        the backend's presence counters."""
        return await self._listings.client_count(self._type_names(name))

    @_unavailable_on_backend_failure
    async def presence(self, name: str | None = None) -> Presence:
        """Players in rooms of type ``name`` (every type when None) per live process and per
        listed room (private and locked rooms included)."""
        return await self._listings.presence(name, self._type_names(name))

    def _type_names(self, name: str | None) -> list[str]:
        return [name] if name is not None else list(self.room_types)

    # -- finding, creating and reserving ---------------------------------------------------------

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

    def _find(self, room_type: RoomType, options: dict[str, Any]) -> HostedRoom | None:
        for hosted in self._rooms.values():
            if hosted.room_type is room_type and hosted.joinable(options):
                return hosted
        return None

    def _create(
        self, room_type: RoomType, options: dict[str, Any] | None, role: Role
    ) -> SeatReservation:
        room = room_type.room_class(name=room_type.name, settings=room_type.defaults)
        if (options or {}).get("private") is True:
            room.private = True  # type: ignore[misc]  # hidden from its first listing on
        room._start(options)
        if room.disposed:
            raise RoomUnavailableError("room failed to start")
        try:
            client = room._reserve(options, role=role)
        except MatchmakeError:
            room._dispose()
            raise
        hosted = self._track(room, room_type, dict(options or {}), self._wall_clock())
        self.stats.rooms_created += 1
        return self._reserved(hosted, client)

    def _track(
        self, room: Room, room_type: RoomType, options: dict[str, Any], created_at: float
    ) -> HostedRoom:
        """Keep ``room`` (started, or restored) and start its tick loop."""
        loop = TickLoop(
            room,
            self.clock,
            max_catch_up=self.max_catch_up,
            duration=self.tick_duration,
            lateness=self.tick_lateness,
        )
        hosted = HostedRoom(room, room_type, options, loop, created_at)
        loop.after_tick = partial(self._after_tick, hosted)
        room.on_disposed = partial(self._on_disposed, hosted)
        self._rooms[room.room_id] = hosted
        self.scheduler.add(loop)
        return hosted

    def _reserve(
        self, hosted: HostedRoom, options: dict[str, Any] | None, role: Role
    ) -> SeatReservation:
        return self._reserved(hosted, hosted.room._reserve(options, role=role))

    def _reserved(self, hosted: HostedRoom, client: Client) -> SeatReservation:
        self._hold_seat(hosted, client)
        self.stats.seats_reserved += 1
        self._listings.refresh(hosted)
        return self._seat(hosted, client, client.seat_token, hosted.room.seat_reservation_timeout)

    def _hold_seat(self, hosted: HostedRoom, client: Client) -> None:
        """Track ``client``'s reserved seat until it is redeemed or expires."""
        hosted.pending[client.seat_token] = client
        self._seats[client.seat_token] = hosted

    def _seat(
        self, hosted: HostedRoom, client: Client, token: str, expires_in: float
    ) -> SeatReservation:
        return SeatReservation(
            room_id=hosted.room.room_id,
            room_name=hosted.room_type.name,
            session_id=client.session_id,
            token=token,
            expires_at=self.clock.now() + expires_in,
            spectator=client.is_spectator,
            process_id=self.process_id,
            url=self.public_url,
        )

    async def _listed(self, seat: SeatReservation, *, created: bool = False) -> SeatReservation:
        """``seat``, once the listings show it (at once with the memory backend): other
        processes can then find the room and count the seat. When the room's listing cannot be
        written, the seat is released (``created``: its new room is disposed) and
        RoomUnavailableError raised."""
        if self.shared is None:
            return seat
        hosted = self._rooms.get(seat.room_id)  # None for a seat in another process's room
        if hosted is not None and hosted.listing_error is not None:
            self._listings.queue(hosted)  # an earlier write failed: try again now
        await self._listings.flush()
        if hosted is None or hosted.listing_error is None:
            return seat
        if created:
            hosted.room._dispose()
        else:
            self._leave_here(hosted, seat.session_id)
        raise RoomUnavailableError(BACKEND_UNAVAILABLE) from hosted.listing_error

    def _reconnect_here(self, hosted: HostedRoom, reconnect_token: str) -> SeatReservation:
        room = hosted.room
        client = hosted.reconnectable(reconnect_token)
        if client is None:
            raise SeatInvalidError(RECONNECT_INVALID)
        if client.status is ClientStatus.DROPPED and client.dropped_at is not None:
            remaining = client.dropped_at + room.reconnection_grace - room.time
        else:
            remaining = room.seat_reservation_timeout
        return self._seat(hosted, client, reconnect_token, max(0.0, remaining))

    def _leave_here(self, hosted: HostedRoom, session_id: str) -> bool:
        client = hosted.room.clients.get(session_id)
        if client is None or client.status is ClientStatus.LEFT:
            return False
        if hosted.pending.pop(client.seat_token, None) is not None:
            self._seats.pop(client.seat_token, None)
        client.kick(CloseCode.KICKED, "kicked")
        return True

    # -- other processes (see registry_remote) ---------------------------------------------------

    async def _owner(self, room_id: str) -> HostedRoom | str:
        """The local room ``room_id``, or the id of the live process hosting it; a saved room
        with no live listing is restored here. Raises RoomNotFoundError."""
        hosted = self._rooms.get(room_id)
        return hosted if hosted is not None else await self._remote.owner(room_id)

    def _republish(self) -> None:
        """The shared backend lost this process's listings and counters: publish them again."""
        self._listings.republish(self._rooms.values())

    # -- room callbacks --------------------------------------------------------------------------

    def _after_tick(self, hosted: HostedRoom) -> None:
        """Runs after each of the room's ticks: cheap unless seats are pending or it changed."""
        if hosted.room.disposed:
            return
        if hosted.pending:
            self._settle_seats(hosted)
        self._listings.refresh(hosted)

    def _settle_seats(self, hosted: HostedRoom) -> None:
        """Forget pending seats that were redeemed or expired (counting the expired)."""
        for token, client in list(hosted.pending.items()):
            if client.status is ClientStatus.RESERVED:
                continue
            del hosted.pending[token]
            self._seats.pop(token, None)
            if not client.has_joined:
                self.stats.reservations_expired += 1

    def _on_disposed(self, hosted: HostedRoom, room: Room) -> None:
        """The room's ``on_disposed``: forget it, stop its loop, queue its listing's removal."""
        if self._rooms.pop(room.room_id, None) is None:
            return
        self._settle_seats(hosted)
        for token in hosted.pending:
            self._seats.pop(token, None)
        hosted.pending.clear()
        hosted.loop.stop()
        self.stats.rooms_disposed += 1
        retired = self.retired
        retired.ticks += room.stats.ticks
        retired.frames_coalesced += room.stats.frames_coalesced
        retired.inputs_dropped += room.stats.inputs_dropped
        retired.errors += room.stats.errors
        self._listings.queue(hosted)
