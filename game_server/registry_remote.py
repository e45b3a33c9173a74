"""``RemoteRooms``: the part of ``RoomRegistry`` that crosses processes, over a ``SharedBackend``
(e.g. ``RedisBackend``). A registry whose backend is shared has one; with another backend it
has a ``SingleProcess`` instead (the same methods: no room lives anywhere else, nothing is
saved), so the registry never asks which kind it has.

Several processes. The registry registers its process at ``start()`` (its ``public_url`` and a
heartbeat) and answers requests from the others on its own channel (``answer``). A room still
lives in one process only; another process reaches it by a request to that process:
``join_by_id``, ``reconnect``, ``leave``, ``dispose_room`` and ``call`` (a remote room call)
are forwarded to the owner named in the room's listing, and ``join``/``join_or_create`` ask the
owners of listed rooms with free seats (after this process's own rooms) before creating one
here. Each request waits ``remote_timeout`` seconds at most. A refusal travels back as
``{"error": {"type", "message"}}`` and is raised again with the same class and message.
``join_or_create`` holds the shared lock while it finds or creates, and flushes the listings
before releasing it (the owner flushes before it answers), so the next holder sees every seat
taken: no duplicate room, and the owner's own check keeps every room within capacity.

Persistent rooms. A ``persistent`` room survives a restart: ``shutdown()`` stops its loop
between ticks, saves it (``persistence.save_room`` plus its type, options and creation time)
in the shared backend, removes its listing and closes its clients with MAY_TRY_RECONNECT. Any
process restores it on demand, when ``reconnect`` or ``join_by_id`` names a room that has no
live listing but a save, under the lock ``room:<room_id>`` so only one process does.

Must never: await inside a tick, touch a socket, or keep rooms or seats of its own (it reads
and changes the registry's, through the registry's methods).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import TYPE_CHECKING, Any, Protocol

import msgpack

from game_server.backends.base import SharedBackend
from game_server.client import ClientStatus
from game_server.errors import (
    AuthRefusedError,
    InvalidOptionsError,
    RoomError,
    RoomFullError,
    RoomLockedError,
    RoomNotFoundError,
    RoomUnavailableError,
    SeatInvalidError,
    UnknownRoomTypeError,
)
from game_server.persistence import restore_room, save_room
from game_server.registry_records import HostedRoom, RoomType, SeatReservation
from game_server.room import Room
from protocol.codes import CloseCode, Role

if TYPE_CHECKING:
    from game_server.registry import RoomRegistry

logger = logging.getLogger("game_server.registry")

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
        RoomUnavailableError,
    )
}
"""Refusals that cross between processes keep their class (and so their code and message)."""


class OtherProcesses(Protocol):
    """What the registry asks of ``RemoteRooms`` or ``SingleProcess``."""

    async def register(self) -> None: ...

    async def owner(self, room_id: str) -> HostedRoom | str: ...

    async def join(
        self, room_type: RoomType, options: dict[str, Any] | None
    ) -> SeatReservation | None: ...

    async def seat(self, process_id: str, method: str, args: dict[str, Any]) -> SeatReservation: ...

    async def room_request(
        self, room_id: str, method: str, args: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]: ...

    async def save_persistent_rooms(self) -> None: ...


class SingleProcess:
    """``OtherProcesses`` for a backend that is not shared: every room is local."""

    async def register(self) -> None:
        """Nobody to announce this process to."""

    async def owner(self, room_id: str) -> HostedRoom | str:
        """No room lives elsewhere: RoomNotFoundError."""
        raise RoomNotFoundError("room not found")

    async def join(
        self, room_type: RoomType, options: dict[str, Any] | None
    ) -> SeatReservation | None:
        """No room of another process to join: None."""
        return None

    async def seat(self, process_id: str, method: str, args: dict[str, Any]) -> SeatReservation:
        """No other process to ask: RoomNotFoundError."""
        raise RoomNotFoundError("room not found")

    async def room_request(
        self, room_id: str, method: str, args: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """No other process hosts ``room_id``: RoomNotFoundError."""
        raise RoomNotFoundError("room not found")

    async def save_persistent_rooms(self) -> None:
        """Nowhere to save them: persistent rooms end like every other room."""


def other_processes(registry: RoomRegistry, shared: SharedBackend | None) -> OtherProcesses:
    """``RemoteRooms`` for a shared backend, else ``SingleProcess``."""
    return SingleProcess() if shared is None else RemoteRooms(registry, shared)


class RemoteRooms:
    """The registry's requests to other processes, its answers to theirs, and its persistent
    rooms (see the module docstring). Built by the registry; not for use on its own."""

    def __init__(self, registry: RoomRegistry, shared: SharedBackend) -> None:
        self.registry = registry
        self.shared = shared

    async def register(self) -> None:
        """Announce this process and start answering requests (``RoomRegistry.start``)."""
        registry = self.registry
        await self.shared.register_process(
            registry.process_id, registry.public_url, self.answer, registry._republish
        )

    # -- asking other processes ------------------------------------------------------------------

    async def owner(self, room_id: str) -> HostedRoom | str:
        """The id of the live process listing ``room_id`` (not this one), or the room restored
        here from its save. Raises RoomNotFoundError."""
        registry = self.registry
        for _ in range(2):  # look again when another process restored it meanwhile
            listing = await registry.backend.get(room_id)
            if listing is not None and listing.process_id != registry.process_id:
                return listing.process_id
            hosted = await self.restore(room_id)
            if hosted is not None:
                return hosted
        raise RoomNotFoundError("room not found")

    async def join(
        self, room_type: RoomType, options: dict[str, Any] | None
    ) -> SeatReservation | None:
        """A seat in the oldest listed room of another process that looks joinable (its owner
        checks capacity and ``filter_by`` itself), or None. Tries for ``remote_timeout`` s."""
        registry = self.registry
        loop = asyncio.get_running_loop()
        deadline = loop.time() + registry.remote_timeout
        for listing in await registry.backend.query(room_type.name):
            if (
                listing.process_id == registry.process_id
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
                reply = await self._request(listing.process_id, "join", args, remaining)
            except (AuthRefusedError, InvalidOptionsError):
                raise
            except (RoomError, TimeoutError):
                continue  # full, locked, filtered out, gone, or its process is stuck
            return self._seat_from(reply["seat"])
        return None

    async def seat(self, process_id: str, method: str, args: dict[str, Any]) -> SeatReservation:
        """A seat reserved by ``process_id`` (``join_by_id`` or ``reconnect`` there). Raises
        its refusal, or RoomNotFoundError(NO_ANSWER) when it does not answer in time."""
        try:
            reply = await self._request(process_id, method, args)
        except TimeoutError:
            raise RoomNotFoundError(NO_ANSWER) from None
        return self._seat_from(reply["seat"])

    async def room_request(
        self, room_id: str, method: str, args: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """Forward a room operation (``leave``, ``dispose``, ``call``) to the process listing
        ``room_id``. Raises RoomNotFoundError when no other process lists it."""
        registry = self.registry
        listing = await registry.backend.get(room_id)
        if listing is None or listing.process_id == registry.process_id:
            raise RoomNotFoundError("room not found")
        args = {"room_id": room_id, **args}
        return await self._request(listing.process_id, method, args, timeout)

    async def _request(
        self, process_id: str, method: str, args: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """Send a request to ``process_id``; raise its refusal as the same RoomError class."""
        registry = self.registry
        registry.stats.remote_calls += 1
        wait = registry.remote_timeout if timeout is None else timeout
        reply = await self.shared.call(process_id, method, args, wait)
        error = reply.get("error")
        if error is not None:
            kind = _REMOTE_ERRORS.get(str(error.get("type")), RoomError)
            raise kind(str(error.get("message", "")))
        return reply

    # -- answering other processes ---------------------------------------------------------------

    async def answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run another process's request on a room of this one (the shared backend calls it).
        Refusals travel back as ``{"error": {"type", "message"}}``."""
        registry = self.registry
        try:
            hosted = registry._rooms.get(str(args.get("room_id")))
            if hosted is None:
                raise RoomNotFoundError("room not found")
            if method == "call":
                result = await call_room(hosted.room, str(args["method"]), args.get("args") or [])
                return {"result": _plain_result(result)}
            if method == "leave":
                return {"result": registry._leave_here(hosted, str(args["session_id"]))}
            if method == "dispose":
                hosted.room._dispose()
                return {"result": None}
            registry._check_open()
            if method == "reconnect":
                seat = registry._reconnect_here(hosted, str(args["token"]))
                await registry._listings.flush()
            else:
                seat = self._reserve_for(hosted, method, args)
                # the caller may hold the matchmaking lock: list the seat before answering
                seat = await registry._listed(seat)
        except RoomError as exc:
            return {"error": {"type": type(exc).__name__, "message": str(exc)}}
        return {"seat": self._seat_out(seat)}

    def _reserve_for(
        self, hosted: HostedRoom, method: str, args: dict[str, Any]
    ) -> SeatReservation:
        """A seat for another process's ``join`` (which checks ``joinable``, as the asker's own
        rooms are checked) or ``join_by_id``."""
        options = args.get("options")
        if method == "join":
            if not hosted.joinable(options or {}):
                raise RoomNotFoundError("no joinable room")
            return self.registry._reserve(hosted, options, Role.PLAYER)
        if method == "join_by_id":
            role = Role.SPECTATOR if args.get("spectator") else Role.PLAYER
            return self.registry._reserve(hosted, options, role)
        raise RoomError("unknown request")

    def _seat_out(self, seat: SeatReservation) -> dict[str, Any]:
        """A reservation as plain data; expiry as seconds left (clocks differ per process)."""
        return {
            "room_id": seat.room_id,
            "room_name": seat.room_name,
            "session_id": seat.session_id,
            "token": seat.token,
            "expires_in": seat.expires_at - self.registry.clock.now(),
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
            expires_at=self.registry.clock.now() + float(data["expires_in"]),
            spectator=bool(data["spectator"]),
            process_id=str(data["process_id"]),
            url=str(data["url"]),
        )

    # -- persistent rooms ------------------------------------------------------------------------

    async def save_persistent_rooms(self) -> None:
        """Save every persistent room in the shared backend and hand its clients over."""
        registry = self.registry
        for hosted in list(registry._rooms.values()):
            room = hosted.room
            if not room.persistent or room.disposed:
                continue
            hosted.loop.stop()  # no tick runs from here on: the save is the room's last word
            try:
                saved = {
                    "type": hosted.room_type.name,
                    "options": hosted.options,
                    "created_at": hosted.created_at,
                    "room": save_room(room),
                }
                await self.shared.save_room(room.room_id, _pack(saved))
            except Exception:
                logger.exception("registry: could not save persistent room %s", room.room_id)
                room._dispose(CloseCode.SERVER_SHUTDOWN, "server shutting down")
                continue
            registry.stats.rooms_saved += 1
            for client in room.clients.values():
                if client.connection is not None:
                    client.connection.close(CloseCode.MAY_TRY_RECONNECT, "server restarting")
                    client.wake()
            room.disposed = True  # without on_dispose: the room goes on in another process
            registry._on_disposed(hosted, room)
        await registry._listings.flush()

    async def restore(self, room_id: str) -> HostedRoom | None:
        """Restore the saved room ``room_id`` here, under the lock ``room:<room_id>``. None
        when another process lists it by then; RoomNotFoundError when there is no save."""
        registry = self.registry
        async with registry.backend.lock(f"room:{room_id}"):
            hosted = registry._rooms.get(room_id)
            if hosted is not None:
                return hosted
            if await registry.backend.get(room_id) is not None:
                return None
            data = await self.shared.load_room(room_id)
            if data is None:
                raise RoomNotFoundError("room not found")
            hosted = self._restored(room_id, data)
            registry.stats.rooms_restored += 1
            await registry._listings.flush()  # listed before the lock goes: restored only once
            await self.shared.delete_saved_room(room_id)
            return hosted

    def _restored(self, room_id: str, data: bytes) -> HostedRoom:
        registry = self.registry
        try:
            saved = msgpack.unpackb(data, raw=False)
            room_type = registry.room_types[saved["type"]]
            room = restore_room(saved["room"])
            options, created_at = dict(saved["options"]), float(saved["created_at"])
        except (KeyError, TypeError, ValueError, ImportError, AttributeError) as exc:
            logger.warning("registry: cannot restore saved room %s: %s", room_id, exc)
            raise RoomNotFoundError("room not found") from None
        hosted = registry._track(room, room_type, options, created_at)
        for client in room.clients.values():
            if client.status is ClientStatus.RESERVED:
                registry._hold_seat(hosted, client)
        registry._listings.refresh(hosted)
        return hosted


async def call_room(room: Room, method: str, args: Any) -> Any:
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
