"""``RoomSeats``: who is in a room. The base of ``Room`` that keeps its members.

A member is a ``Client`` in ``Room.clients``, from the seat reserved for it to the tick it
leaves. This class holds every step of that life: reserving a seat (``_reserve``: options
validated, ``on_auth``), redeeming it when the socket sends JOIN (``_redeem``), taking a dropped
player back (``_resume``), the socket closing (``_closed``: a drop with a grace period, or a
leave), kicks, leaving (``_leave``: ``on_leave``), the seats and graces that run out
(``_expire``, once per tick), and what a replay recreates: the members a recording names
(``_replay_client``) and the events it queues (``_inject``). The registry, the transports,
``Client.kick``, the simulation and the replay (``game_server.recording``) call these; game
code reads ``players``, ``player_count`` and ``spectator_count``.

Keeps up to date: the seat and reconnect tokens (``_tokens``) and ``seats_version``, which
``Room.__init__`` sets and ``game_server.persistence`` restores. Must never: run a tick, build a
frame, or touch a socket (a connection is told to close; its transport does the rest).
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, cast

from pydantic import BaseModel

from game_server.client import Client, ClientSink, ClientStatus
from game_server.errors import (
    AuthRefusedError,
    InvalidOptionsError,
    RoomFullError,
    RoomLockedError,
    SeatInvalidError,
)
from game_server.handlers import validate
from protocol.codes import CloseCode, Role
from protocol.connection import Connection
from protocol.diff import StateTracker
from protocol.schema import Schema

if TYPE_CHECKING:
    from game_server.room import Room

_RESERVED = ClientStatus.RESERVED
_DROPPED = ClientStatus.DROPPED
_JOINED = ClientStatus.JOINED

Event = tuple[Any, ...]
"""A queued event: (kind, client, *data). Kinds: join, drop, reconnect, leave, input, message,
request. The recorder stores exactly these."""


class RoomSeats:
    """The members of a room and their seats. ``Room`` derives from it: subclass ``Room``."""

    # Set by Room (class settings, and attributes its __init__ sets):
    max_clients: ClassVar[int]
    max_spectators: ClassVar[int]
    tick_rate: ClassVar[float]
    patch_rate: ClassVar[int]
    seat_reservation_timeout: ClassVar[float]
    reconnection_grace: ClassVar[float]
    options_model: ClassVar[type[BaseModel] | None]
    _schema: ClassVar[Schema]
    room_id: str
    locked: bool
    disposed: bool
    tick: int
    clients: dict[str, Client]
    seats_version: int
    _tokens: dict[str, Client]
    _events: deque[Event]
    _tracker: StateTracker

    if TYPE_CHECKING:  # Room's hooks and helpers, which these methods call

        @property
        def time(self) -> float: ...

        def on_auth(self, client: Client, options: dict[str, Any]) -> Any: ...

        def on_leave(self, client: Client, consented: bool) -> None: ...

        def _contain(self, error: Exception, where: str) -> None: ...

        def _run(self, where: str, function: Callable[..., Any], *args: Any) -> bool: ...

    @property
    def players(self) -> Iterator[Client]:
        """Joined and dropped players, in join order."""
        return (
            c
            for c in self.clients.values()
            if c.role is Role.PLAYER and c.status in (ClientStatus.JOINED, ClientStatus.DROPPED)
        )

    @property
    def player_count(self) -> int:
        """Seats taken: reserved, joined and dropped players."""
        return sum(1 for c in self.clients.values() if c.role is Role.PLAYER)

    @property
    def spectator_count(self) -> int:
        """Spectators present or on their way."""
        return sum(1 for c in self.clients.values() if c.role is Role.SPECTATOR)

    # -- seats (used by the registry and the simulation) ------------------------------------------

    def _validate_options(self, options: dict[str, Any] | None) -> dict[str, Any]:
        options = dict(options or {})
        if self.options_model is not None:
            try:
                model = validate(self.options_model, options)
            except ValueError as exc:
                raise InvalidOptionsError(str(exc)) from None
            return model.model_dump()  # type: ignore[no-any-return]
        return options

    def _check_open(self, role: Role) -> None:
        if self.disposed:
            raise SeatInvalidError("room is disposed")
        if self.locked and role is Role.PLAYER:
            raise RoomLockedError("room is locked")
        if role is Role.PLAYER and self.player_count >= self.max_clients:
            raise RoomFullError("room is full")
        if role is Role.SPECTATOR and self.spectator_count >= self.max_spectators:
            raise RoomFullError("no spectator seats left")

    def has_free_seat(self) -> bool:
        """Whether a player could reserve a seat now."""
        return not (self.disposed or self.locked) and self.player_count < self.max_clients

    def _reserve(
        self,
        options: dict[str, Any] | None = None,
        *,
        role: Role = Role.PLAYER,
        session_id: str | None = None,
        now: float | None = None,
    ) -> Client:
        """Reserve a seat: validate options, run ``on_auth``, count the seat. Raises a
        MatchmakeError subclass on refusal. Redeem the returned client's ``seat_token``."""
        self._check_open(role)
        clean = self._validate_options(options)
        client = Client(
            cast("Room", self),  # a RoomSeats is always a Room
            session_id or self._new_session_id(),
            role=role,
            options=clean,
            seat_token=secrets.token_urlsafe(24),
            reconnect_token=secrets.token_urlsafe(24),
            expires_at=(self.time if now is None else now) + self.seat_reservation_timeout,
        )
        try:
            client.auth = self.on_auth(client, clean)
        except AuthRefusedError:
            raise
        except Exception as exc:
            self._contain(exc, "on_auth")
            raise AuthRefusedError("authentication failed") from None
        self.clients[client.session_id] = client
        self.seats_version += 1
        self._tokens[client.seat_token] = client
        return client

    def _new_session_id(self) -> str:
        """4 random URL-safe characters (24 bits), unique in this room. Session ids are public
        and only name a member within its room (game state is often keyed by them, so every
        byte of them travels in every patch: 4 B fewer per player than 8 characters); the
        secrets are the seat and reconnect tokens."""
        while True:
            session_id = secrets.token_urlsafe(3)
            if session_id not in self.clients:
                return session_id

    def _redeem(self, token: str, connection: Connection, sink: ClientSink | None = None) -> Client:
        """Attach ``connection`` (which just received JOIN) to the seat for ``token`` and
        welcome it. Raises SeatInvalidError for an unknown, expired or used token."""
        client = self._tokens.get(token)
        if (
            client is None
            or client.status is not ClientStatus.RESERVED
            or client.seat_token != token
        ):
            raise SeatInvalidError("seat reservation is invalid or expired")
        del self._tokens[token]
        self._tokens[client.reconnect_token] = client
        client.status = ClientStatus.JOINED
        client.has_joined = True
        self._attach(client, connection, sink)
        self._events.append(("join", client, client.options))
        return client

    def _resume(
        self, token: str, last_tick: int, connection: Connection, sink: ClientSink | None = None
    ) -> Client:
        """Attach ``connection`` (which just received RECONNECT) to a dropped (or still
        connected) client. Its state resumes from ``last_tick`` if the ring still has it."""
        client = self._tokens.get(token)
        if (
            client is None
            or client.reconnect_token != token
            or client.status
            not in (
                ClientStatus.JOINED,
                ClientStatus.DROPPED,
            )
        ):
            raise SeatInvalidError("reconnect token is invalid or expired")
        old = client.connection
        if old is not None and old is not connection:
            old.close(CloseCode.MAY_TRY_RECONNECT, "replaced by a new connection")
            client.wake()
        was_dropped = client.status is ClientStatus.DROPPED
        client.status = ClientStatus.JOINED
        client.dropped_at = None
        self._attach(client, connection, sink)
        client.sent_tick = (
            last_tick if last_tick >= 0 and self._tracker.has_baseline(last_tick) else -1
        )
        if was_dropped:
            self._events.append(("reconnect", client))
        return client

    def _attach(self, client: Client, connection: Connection, sink: ClientSink | None) -> None:
        client.connection = connection
        client.sink = sink
        client.sent_tick = -1
        connection.send_welcome(
            room_id=self.room_id,
            session_id=client.session_id,
            reconnect_token=client.reconnect_token,
            tick_rate=float(self.tick_rate),
            patch_rate=self.patch_rate,
            tick=self.tick,
            role=int(client.role),
            schema=self._schema.wire(),
        )
        client._queued_frame()

    # -- a socket closing, a kick (the transports, Client.kick) -----------------------------------

    def _closed(self, client: Client, connection: Connection, consented: bool) -> None:
        """The socket of ``connection`` closed. A player without LEAVE is dropped (seat kept
        for the grace period); everyone else leaves at the next tick."""
        if client.connection is not connection or client.status is not ClientStatus.JOINED:
            return
        client.connection = None
        client.sink = None
        if consented or client.role is Role.SPECTATOR or self.reconnection_grace <= 0:
            client.status = ClientStatus.LEFT
            self._events.append(("leave", client, consented))
        else:
            client.status = ClientStatus.DROPPED
            client.dropped_at = self.time
            self._events.append(("drop", client))

    def _kick(self, client: Client, code: int, reason: str) -> None:
        conn = client.connection
        if conn is not None:
            conn.close(code, reason)
            client.wake()
        if client.status is not ClientStatus.LEFT:
            client.status = ClientStatus.LEFT
            client.connection = None
            self._events.append(("leave", client, False))

    # -- leaving, and the seats and graces that run out (the tick) --------------------------------

    def _leave(self, client: Client, consented: bool) -> None:
        if self.clients.get(client.session_id) is not client:
            return
        del self.clients[client.session_id]
        self.seats_version += 1
        self._tokens.pop(client.seat_token, None)
        self._tokens.pop(client.reconnect_token, None)
        client.status = ClientStatus.LEFT
        if client.connection is not None:
            client.connection.close(CloseCode.CONSENTED if consented else CloseCode.KICKED, "left")
            client.wake()
            client.connection = None
        if client.has_joined:
            self._run("on_leave", self.on_leave, client, consented)

    def _expire(self, now: float) -> None:
        """Free the reserved seats and end the dropped clients' grace that ran out by ``now``."""
        waiting = None  # the common case: none (a loop, not a comprehension: no frame)
        for client in self.clients.values():
            status = client.status
            if status is _RESERVED or status is _DROPPED:
                if waiting is None:
                    waiting = [client]
                else:
                    waiting.append(client)
        if waiting is None:
            return
        for client in waiting:  # a list: the loop changes self.clients
            if client.status is _RESERVED and now >= client.expires_at:
                self._tokens.pop(client.seat_token, None)
                del self.clients[client.session_id]
                self.seats_version += 1
                client.status = ClientStatus.LEFT
            elif (
                client.status is _DROPPED
                and client.dropped_at is not None
                and now >= client.dropped_at + self.reconnection_grace
            ):
                client.status = ClientStatus.LEFT
                self._events.appendleft(("leave", client, False))

    def _oldest_baseline(self) -> int:
        """The oldest tick the room keeps a patch from (``StateTracker.release`` forgets the
        changes up to it): the oldest state sent to a joined member, whose next frame is a
        patch from there; or -1, keeping everything still in the ring, while a dropped player
        may come back. A member with no state yet gets a full one and needs nothing. Ticks
        released before a player dropped are gone: if it reconnects from one of them (frames
        lost in flight), it gets a full state (``has_baseline``)."""
        oldest = self._tracker.tick
        for client in self.clients.values():
            status = client.status
            if status is _JOINED:
                sent = client.sent_tick
                if 0 <= sent < oldest:
                    oldest = sent
            elif status is _DROPPED:
                return -1
        return oldest

    # -- replay (game_server.recording, bench.headless_bench) -------------------------------------

    def _replay_client(
        self, session_id: str, role: Role, options: dict[str, Any], auth: Any
    ) -> Client:
        """A joined client with no connection, as a recording describes it."""
        client = Client(
            cast("Room", self),  # a RoomSeats is always a Room
            session_id,
            role=role,
            options=options,
            seat_token="",
            reconnect_token="",
            expires_at=0.0,
        )
        client.auth = auth
        client.status = ClientStatus.JOINED
        client.has_joined = True
        self.clients[session_id] = client
        self.seats_version += 1
        return client

    def _inject(self, event: Event) -> None:
        """Queue a recorded event with the side effects its arrival had live."""
        kind, client = event[0], event[1]
        if kind == "drop":
            client.status = ClientStatus.DROPPED
            client.dropped_at = self.time
        elif kind == "reconnect":
            client.status = ClientStatus.JOINED
            client.dropped_at = None
        elif kind in ("input", "message", "request"):
            client.queued += 1
        self._events.append(event)
