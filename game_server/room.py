"""``Room``: what a game author subclasses, and the authoritative tick that runs it.

A game is a Room subclass with settings as class attributes and synchronous hooks::

    class Arena(Room):
        max_clients = 10
        tick_rate = 20
        state_precision = {"players.*.x": Quantized(1 / 16), "players.*.y": Quantized(1 / 16)}

        def on_create(self, options): self.state["players"] = {}
        def on_join(self, client, options): self.state["players"][client.session_id] = {...}
        def update(self, dt): ...move everyone by client.input...

Theory of operation: everything that changes state happens inside ``_tick()``, in this order:
expired seats and reconnection graces; membership events (join, drop, reconnect, leave) in
arrival order; queued inputs, messages and requests in arrival order; due timers; ``update(dt)``;
then the state is committed for that tick and, on patch ticks, members are woken so the
transport drains them. Between ticks the state is committed and read-only, which is what lets a
member's state frame be built lazily when its socket is ready, and what makes a recorded match
replay exactly. Room code never awaits and never touches a socket.

Who is in the room (seats, reconnections, drops, leaving) is kept by ``RoomSeats``, Room's base
(game_server/room_seats.py).

Errors in hooks and handlers are contained: ``on_uncaught_exception`` decides (the default logs
and carries on; a handler's client also gets an ERROR). If that hook itself raises, the room is
disposed and its clients are closed with INTERNAL_ERROR. Other rooms never notice.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel

import game_server.native
from game_server.client import Client, ClientStatus
from game_server.errors import RequestRefusedError
from game_server.handlers import HandlerSpec, collect_handlers, validate
from game_server.room_seats import Event, RoomSeats
from game_server.timers import Timers
from protocol.codec import StateFrame, encode
from protocol.codes import CloseCode, ErrorCode, Role
from protocol.diff import StateTracker, TrackedMap
from protocol.messages import (
    Ack,
    AppMessage,
    Input,
    Leave,
    Message,
    Ping,
    Request,
)
from protocol.schema import Precision, Schema
from protocol.state import ConnectionState

__all__ = ["Event", "Room", "RoomStats"]

logger = logging.getLogger("game_server.room")

_CLIENT_EVENTS = frozenset({"input", "message", "request"})

_INVALID: Any = object()
"""What ``_validated_input`` returns for an input that failed ``input_model``."""


class RoomStats:
    """Counters one room keeps; the metrics endpoint and benchmarks read them."""

    __slots__ = ("errors", "frames_coalesced", "inputs_dropped", "last_tick_duration", "ticks")

    def __init__(self) -> None:
        self.ticks = 0
        self.frames_coalesced = 0
        self.errors = 0
        self.inputs_dropped = 0
        self.last_tick_duration = 0.0


class Room(RoomSeats):
    """Base class of every game. Override the hooks you need; set settings as class attributes.

    Do not override ``__init__``: put setup in ``on_create``.
    """

    # -- settings (class attributes; the registry's define(**defaults) may override them) ------
    max_clients: ClassVar[int] = 64
    """Players at most, pending seat reservations and dropped-in-grace players included."""
    max_spectators: ClassVar[int] = 64
    tick_rate: ClassVar[float] = 20.0
    """Ticks per second."""
    patch_rate: ClassVar[int] = 1
    """A state frame every N ticks."""
    auto_dispose: ClassVar[bool] = True
    """Dispose the room once nobody is in it or on the way."""
    seat_reservation_timeout: ClassVar[float] = 15.0
    reconnection_grace: ClassVar[float] = 10.0
    """Seconds a dropped player keeps its seat (0: leaving on any drop)."""
    max_messages_per_second: ClassVar[float] = 120.0
    """Per-client rate limit on WebSocket messages, enforced at the socket edge. Every message
    counts, acknowledgements included (a client that acks every state at 20 Hz sends 20 inputs
    and 20 acks a second; ours ack about once a second); raise it for rooms that tick or take inputs
    faster."""
    max_inputs_per_tick: ClassVar[int] = 8
    """Inputs, messages and requests of one client processed per tick; the rest wait for the
    next ticks, in order (a burst, such as inputs re-sent after a reconnection, is spread out)."""
    max_input_backlog: ClassVar[int] = 128
    """Inputs, messages and requests of one client waiting at most; beyond it a flooding
    client loses its own excess (counted in ``inputs_dropped``), never anyone else's."""
    max_queued_frames: ClassVar[int] = 256
    """Frames (besides state) waiting for a slow reader before it is closed as TOO_SLOW."""
    private: ClassVar[bool] = False
    """Private rooms are hidden from listings and matchmaking; join them by id."""
    persistent: ClassVar[bool] = False
    """Survive a server restart: with a shared backend (Redis), shutdown saves the room
    (``game_server.persistence.save_room``: state, seats, reconnect tokens) instead of closing
    it, its clients are closed with MAY_TRY_RECONNECT, and another process restores it when
    they reconnect. Needs plain-data state and a ``save_game`` for what lives outside it."""
    metadata: dict[str, Any] = {}  # noqa: RUF012  (copied per instance in __init__)
    state_precision: ClassVar[dict[str, Precision]] = {}
    """Declared precision of numeric state fields, by path pattern (protocol/schema.py)."""
    state_history: ClassVar[int] = 64
    """At most this many ticks of changes are kept, so a member that fell behind catches up
    with one patch; only the ticks after the oldest state sent to a joined member are kept
    (see ``_settle_ring``)."""
    input_model: ClassVar[type[BaseModel] | None] = None
    """Validates every input payload before ``on_input`` sees it."""
    options_model: ClassVar[type[BaseModel] | None] = None
    """Validates join options before ``on_auth`` and ``on_join`` see them."""

    _handlers: ClassVar[dict[tuple[bool, str | int], HandlerSpec]] = {}
    _schema: ClassVar[Schema] = Schema()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._handlers = collect_handlers(cls)
        cls._schema = Schema(cls.state_precision)

    def __init__(
        self,
        *,
        room_id: str | None = None,
        name: str = "",
        seed: int | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        for key, value in (settings or {}).items():
            if not hasattr(type(self), key) or key.startswith("_"):
                raise AttributeError(f"unknown room setting {key!r}")
            setattr(self, key, value)
        self.room_id = room_id or secrets.token_urlsafe(9)
        self.name = name or type(self).__name__
        self.seed = seed if seed is not None else secrets.randbits(63)
        self.random = random.Random(self.seed)
        """The room's only source of randomness: seeded, so matches replay exactly."""
        self.metadata = dict(type(self).metadata)
        self.locked = False
        self.disposed = False
        self.tick = 0
        self.clients: dict[str, Client] = {}
        """Every member by session id: players and spectators, reserved to dropped."""
        self.timers = Timers()
        self.stats = RoomStats()
        self.published_tick = -1
        self.seats_version = 0
        """Goes up whenever a member is added to or removed from ``clients`` (the registry's
        listing check compares it before it counts seats)."""
        self._tracker = StateTracker(schema=self._schema, history=self.state_history)
        self._events: deque[Event] = deque()
        self._frames: dict[int, StateFrame] = {}
        self._frames_tick = -1
        self._settled_tick = -1
        """The tracker's ring is settled (released and packed) through this tick
        (``_settle_ring``)."""
        self._tokens: dict[str, Client] = {}
        self.recorder: Callable[[int, Event], None] | None = None
        """Called with (tick, event) for every event processed (see game_server.recording)."""
        self.after_tick: Callable[[Room], None] | None = None
        """Called after every committed tick (recording, metrics, simulations)."""
        self.on_disposed: Callable[[Room], None] | None = None

    # -- hooks: override these -----------------------------------------------------------------

    def on_create(self, options: dict[str, Any]) -> None:
        """Set up ``self.state``. Runs once, before the first tick."""

    def on_auth(self, client: Client, options: dict[str, Any]) -> Any:
        """Accept a client (return anything: it becomes ``client.auth``) or refuse it by raising
        ``AuthRefusedError(reason)``. Runs when the seat is reserved."""
        return True

    def on_join(self, client: Client, options: dict[str, Any]) -> None:
        """A client redeemed its seat. Runs inside the next tick."""

    def on_drop(self, client: Client) -> None:
        """A player's socket went away without LEAVE; its seat is kept for the grace period."""

    def on_reconnect(self, client: Client) -> None:
        """A dropped player came back within the grace period."""

    def on_leave(self, client: Client, consented: bool) -> None:
        """A client is gone for good (``consented``: it sent LEAVE)."""

    def on_dispose(self) -> None:
        """The room is being disposed."""

    def on_before_shutdown(self) -> None:
        """The server is shutting down: the room is already locked, and is disposed as soon as
        it empties or after the server's ``shutdown_timeout``. Tell the players, end the match,
        save what must outlive the process."""

    def on_input(self, client: Client, payload: Any) -> None:
        """An input arrived (validated by ``input_model`` if set). Default: keep the latest in
        ``client.input`` for ``update`` to use."""
        client.input = payload

    def on_message(self, client: Client, kind: str | int, payload: Any) -> None:
        """An application message of a ``kind`` no ``@message`` handler declares. Default: refuse
        it with UNKNOWN_MESSAGE. Override to take any kind (a relay); raising
        ``RequestRefusedError`` sends an ERROR with its code, like a handler."""
        client.error(ErrorCode.UNKNOWN_MESSAGE, f"no handler for {kind!r}")

    def update(self, dt: float) -> None:
        """Advance the game by one tick of ``dt`` seconds."""

    def save_game(self) -> dict[str, Any]:
        """Game data kept outside ``state`` that a saved room needs (plain data msgpack can
        store), e.g. counters set in ``on_create``. ``game_server.persistence.save_room`` stores
        the dict; ``restore_game`` gets it back. Timers are not saved: re-create them there."""
        return {}

    def restore_game(self, data: dict[str, Any]) -> None:
        """Rebuild what ``save_game`` saved, on a room restored by
        ``game_server.persistence.restore_room`` (``on_create`` does not run for it). The state,
        the clients and ``random`` are already restored when this runs."""

    def on_uncaught_exception(self, error: Exception, where: str) -> None:
        """A hook or handler raised. Default: log it and carry on. Raise to dispose the room."""
        logger.error("room %s (%s): error in %s", self.room_id, self.name, where, exc_info=error)

    # -- for game code ---------------------------------------------------------------------------

    @property
    def state(self) -> TrackedMap:
        """The authoritative state: a dict of plain data. Mutate it only inside hooks."""
        return self._tracker.state

    @property
    def time(self) -> float:
        """Seconds of room time (ticks / tick_rate): deterministic, unlike the wall clock."""
        return self.tick / self.tick_rate

    def broadcast(
        self, kind: str | int, payload: Any = None, *, exclude: Client | None = None
    ) -> None:
        """Send an application message to every connected member (encoded once)."""
        message = AppMessage(kind, payload)
        frame = encode(message)
        for client in self.clients.values():
            conn = client.connection
            if client is not exclude and conn is not None and conn.state is ConnectionState.JOINED:
                conn.send_shared(message, frame)
                client._queued_frame()

    def lock(self) -> None:
        """Take no new players (spectators and reconnections are still let in)."""
        self.locked = True

    def unlock(self) -> None:
        """Let clients join again."""
        self.locked = False

    def set_metadata(self, **values: Any) -> None:
        """Update the metadata shown in listings and used by matchmaking filters."""
        self.metadata.update(values)

    def state_hash(self) -> str:
        """The canonical hash of the current state (protocol.diff.state_hash)."""
        return self._tracker.hash()

    def snapshot(self) -> dict[str, Any]:
        """A plain deep copy of the state."""
        return self._tracker.snapshot()

    # -- frames from clients (used by the transport and the simulation) --------------------------

    def _receive(
        self, client: Client, messages: list[Message], now_ms: float | None = None
    ) -> None:
        """Take messages a member's connection decoded: pings answer at once (with ``now_ms``,
        default the wall clock in ms), acks are noted, the rest is queued for the next tick
        (dropping this client's excess)."""
        for message in messages:
            if isinstance(message, Input):
                self._queue_input(client, message)
            elif isinstance(message, Ack):
                self._take_ack(client, message.tick)
            elif isinstance(message, Ping):
                if client.connection is not None:
                    pong_ms = time.time() * 1000.0 if now_ms is None else now_ms
                    client.connection.send_pong(message, pong_ms)
                    client._queued_frame()
            elif isinstance(message, AppMessage):
                self._queue(client, ("message", client, message.kind, message.payload))
            elif isinstance(message, Request):
                self._queue(client, ("request", client, message.id, message.kind, message.payload))
            elif isinstance(message, Leave):
                self._events.append(("leave", client, True))

    def _take_ack(self, client: Client, tick: int) -> None:
        """Note that ``client`` applied the state of ``tick`` (the transport's fast path calls
        this with a decoded ACK's tick)."""
        client.acked_tick = max(client.acked_tick, tick)

    def _queue_input(self, client: Client, message: Input) -> None:
        self._take_input(client, message.seq, message.payload)

    def _take_input(self, client: Client, seq: int, payload: Any) -> None:
        """Queue input ``seq`` of ``client`` for the next tick (the transport's fast path calls
        this with a decoded INPUT's fields)."""
        if client.role is Role.SPECTATOR:
            client.error(ErrorCode.NOT_ALLOWED, "spectators cannot send input")
            return
        if seq <= client.received_seq:
            return  # a re-sent input already accepted (reconnection): apply once
        if self._queue(client, ("input", client, seq, payload)):
            client.received_seq = seq  # a dropped input was not accepted

    def _queue(self, client: Client, event: Event) -> bool:
        """Queue ``event`` unless ``client``'s backlog is full (then count the drop). Returns
        whether it was queued."""
        if client.queued >= self.max_input_backlog:
            client.inputs_dropped += 1
            self.stats.inputs_dropped += 1
            return False
        client.queued += 1
        self._events.append(event)
        return True

    # -- the tick -------------------------------------------------------------------------------

    def _contain(self, error: Exception, where: str) -> None:
        self.stats.errors += 1
        try:
            self.on_uncaught_exception(error, where)
        except Exception:
            logger.exception("room %s: on_uncaught_exception raised; disposing", self.room_id)
            self._dispose(CloseCode.INTERNAL_ERROR, "internal error")

    def _run(self, where: str, function: Callable[..., Any], *args: Any) -> bool:
        try:
            function(*args)
        except Exception as exc:
            self._contain(exc, where)
            return False
        return True

    def _start(self, options: dict[str, Any] | None = None) -> None:
        """Run ``on_create`` and commit tick 0. Called once by whoever creates the room."""
        if not self._run("on_create", self.on_create, self._validate_options(options)):
            self._dispose(CloseCode.INTERNAL_ERROR, "room failed to start")
            return
        self._tracker.rebase()  # the state after on_create is tick 0, every client's start
        self.published_tick = 0

    def _advance(self) -> None:
        """Run one tick (see the module docstring for the order)."""
        if self.disposed:
            return
        if self._settled_tick < self.published_tick:  # frames were built after the publish
            self._settle_ring(self.published_tick)
        self.tick += 1
        now = self.time
        self.timers.now = now  # timers set while events are processed count from this tick
        self._expire(now)
        events, self._events = self._events, deque()
        process = game_server.native.process_events
        if not (self._process_events(events) if process is None else process(self, events)):
            return
        for timer in self.timers.due(now):
            self._run("timer", timer.callback)
        self._run("update", self.update, 1.0 / self.tick_rate)
        if self.disposed:
            return
        self._tracker.commit(self.tick)
        self.stats.ticks += 1
        if self.tick % self.patch_rate == 0:
            self._publish()
            if self._frames_tick == self._tracker.tick:  # frames built now: settle while warm
                self._settle_ring(self.tick)
        if self.after_tick is not None:
            self.after_tick(self)
        if self.auto_dispose and self.is_empty:
            self._dispose()

    def _process_events(self, events: deque[Event]) -> bool:
        """Process a tick's events in order, each client's inputs, messages and requests capped
        at ``max_inputs_per_tick`` (the rest go back to the queue, in order, for the next tick).
        False when the room was disposed on the way: the tick stops there.
        ``game_server.native.process_events`` is this method in C, with ``_process``'s INPUT
        path inlined where nothing overrides it."""
        turns: dict[Client, int] = {}
        cap = self.max_inputs_per_tick
        for event in events:
            if self.disposed:
                return False
            if event[0] in _CLIENT_EVENTS:
                turn = turns.get(event[1], 0)
                if turn >= cap:
                    self._events.append(event)  # over this tick's share: next tick, in order
                    continue
                turns[event[1]] = turn + 1
            self._process(event)
        return True

    def _process(self, event: Event) -> None:
        kind, client = event[0], event[1]
        if kind in _CLIENT_EVENTS:
            client.queued -= 1
            if client.status is ClientStatus.LEFT:
                return  # it left before its turn: the event is void (and not recorded)
        recorder = self.recorder
        if recorder is not None:
            recorder(self.tick, event)
        if kind == "input":
            payload = self._validated_input(client, event[3])
            if payload is _INVALID or self._run("on_input", self.on_input, client, payload):
                client.last_input_seq = event[2]  # an invalid input is processed: refused
        elif kind in ("message", "request"):
            self._dispatch(client, event)
        elif kind == "join":
            self._run("on_join", self.on_join, client, event[2])
        elif kind == "drop":
            self._run("on_drop", self.on_drop, client)
        elif kind == "reconnect":
            self._run("on_reconnect", self.on_reconnect, client)
        elif kind == "leave":
            self._leave(client, event[2])

    def _validated_input(self, client: Client, payload: Any) -> Any:
        """The payload validated by ``input_model``, or ``_INVALID`` (the client got an ERROR
        and ``on_input`` must not run)."""
        if self.input_model is None:
            return payload
        try:
            return validate(self.input_model, payload)
        except ValueError as exc:
            client.error(ErrorCode.INVALID_PAYLOAD, str(exc))
            return _INVALID

    def _dispatch(self, client: Client, event: Event) -> None:
        is_request = event[0] == "request"
        kind, payload = (event[3], event[4]) if is_request else (event[2], event[3])
        spec = self._handlers.get((is_request, kind))
        if spec is None and is_request:
            self._refuse(client, event, ErrorCode.UNKNOWN_MESSAGE, f"no handler for {kind!r}")
            return
        if spec is None:
            handler: Callable[..., Any] = self.on_message
            args: tuple[Any, ...] = (client, kind, payload)
        else:
            try:
                args = (client, validate(spec.model, payload))
            except ValueError as exc:
                self._refuse(client, event, ErrorCode.INVALID_PAYLOAD, str(exc))
                return
            handler = getattr(self, spec.function_name)
        try:
            result = handler(*args)
        except RequestRefusedError as exc:
            self._refuse(client, event, exc.code, exc.message)
            return
        except Exception as exc:
            self._refuse(client, event, ErrorCode.HANDLER_FAILED, "handler failed")
            self._contain(exc, f"handler {kind!r}")
            return
        if is_request:
            self._respond(client, event[2], 0, result)

    def _refuse(self, client: Client, event: Event, code: ErrorCode, text: str) -> None:
        if event[0] == "request":
            self._respond(client, event[2], code, text)
        else:
            client.error(code, text)

    def _respond(self, client: Client, request_id: int, code: int, payload: Any) -> None:
        conn = client.connection
        if conn is not None and conn.state is ConnectionState.JOINED:
            if isinstance(payload, BaseModel):
                payload = payload.model_dump(mode="json")
            conn.send_response(request_id, code, payload)
            client._queued_frame()

    def _publish(self) -> None:
        """Tell every joined member's sink that a newer state is published (``wake()``).
        ``game_server.native.publish`` is this method in C, with the fast socket's state-frame
        write (``FastSession.wake``) inlined for each member it fits."""
        publish = game_server.native.publish
        if publish is not None:
            publish(self)
            return
        self.published_tick = self._tracker.tick
        for client in self.clients.values():
            if client.sink is not None and client.status is ClientStatus.JOINED:
                client.sink.wake()

    def _settle_ring(self, through: int) -> None:
        """Once the frames of the ticks through ``through`` are built: drop the changes of
        the ticks up to the oldest state sent to a joined member (``_oldest_baseline``), and
        pack what is left."""
        tracker = self._tracker
        tracker.release(self._oldest_baseline())
        tracker.compact(through)
        self._settled_tick = through

    def _state_frame(self, baseline: int) -> StateFrame:
        """The state frame for a member whose last state is ``baseline`` (-1: none): one patch
        from that baseline, or a full state when the ring lost it or it would be bigger. Built
        once per distinct baseline per tick and shared."""
        tracker = self._tracker
        if self._frames_tick != tracker.tick:
            self._frames = {}
            self._frames_tick = tracker.tick
        frame = self._frames.get(baseline)
        if frame is not None:
            return frame
        body = tracker.encode_delta(baseline) if baseline >= 0 else None
        if body is not None and tracker.tick - baseline > self.patch_rate:
            full = self._state_frame(-1)
            if len(full.body) <= len(body):
                self._frames[baseline] = full
                return full
        if body is None:
            frame = StateFrame(tracker.tick, None, tracker.encode_full())
            self._frames[-1] = frame
        else:
            frame = StateFrame(tracker.tick, baseline, body)
        self._frames[baseline] = frame
        return frame

    def _before_shutdown(self) -> None:
        """Lock the room and run ``on_before_shutdown`` (contained like every hook)."""
        if self.disposed:
            return
        self.locked = True
        self._run("on_before_shutdown", self.on_before_shutdown)

    @property
    def is_empty(self) -> bool:
        """True when nobody is in the room or on the way (then auto_dispose applies)."""
        return not self.clients and not self._events

    def _dispose(self, code: int = CloseCode.ROOM_DISPOSED, reason: str = "room disposed") -> None:
        """Close every member with ``code``, run ``on_dispose`` and stop ticking."""
        if self.disposed:
            return
        self.disposed = True
        for client in list(self.clients.values()):
            if client.connection is not None:
                client.connection.close(code, reason)
                client.wake()
        self.timers.clear()
        try:
            self.on_dispose()
        except Exception:
            logger.exception("room %s: on_dispose raised", self.room_id)
        if self.on_disposed is not None:
            self.on_disposed(self)


game_server.native.configure_room(Room, _CLIENT_EVENTS, ClientStatus.LEFT, _INVALID)
