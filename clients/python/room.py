"""``RoomConnection``: one seat in one room, kept current and resumed across drops.

Theory of operation. A connection owns one sans-I/O ``protocol.Connection`` (the very class the
server uses) per socket, a reader loop and a writer task. The reader feeds every WebSocket
message to the Connection and handles the events it decodes: WELCOME stores the reconnect token
and the state schema; FULL_STATE replaces ``state`` (``protocol.diff.decode_state``); PATCH edits
it in place (``apply_delta``), then the connection ACKs the tick, forgets the inputs the frame's
``last_seq`` acknowledges, and reports a ``StateChange``. Public methods never await the socket:
they queue frames on the Connection and wake the writer, which sends what is queued (binary
frames coalesced into one WebSocket message) and performs closes.

Inputs are numbered 1, 2, 3, ... and kept in ``unacked_inputs`` until a state frame's
``last_seq`` covers them. At most ``input_burst`` inputs are written per state frame received:
a room processes a bounded number of inputs per tick, keeps a bounded backlog, and ignores any
input numbered at or below the highest it accepted, so a burst (inputs re-sent after a
reconnection, or queued while the link was down) is paced out in order instead of being lost.

When the socket closes with a reconnectable code (1006 and other non-application codes, or
``RECONNECTABLE_CLOSE_CODES``), the connection waits per its ``ReconnectPolicy``, opens the same
room url and sends RECONNECT with the token from WELCOME and the last tick applied; the server
answers with one patch from that tick (or a full state), and every unacknowledged input is sent
again (the server applies each sequence number once). A patch that does not apply is repaired
the same way, asking for a full state (``last_tick`` -1).

Must never: block (everything is asyncio), import ``game_server``, or let a user callback's
exception stop the reader (it is logged and counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from clients.python.errors import (
    ClientError,
    DisconnectedError,
    ReconnectFailedError,
    RequestError,
    RequestTimeoutError,
    ServerUnavailableError,
    is_reconnectable,
    join_refused,
)
from clients.python.events import (
    ConnectionStats,
    ErrorReceived,
    Latency,
    Left,
    MessageReceived,
    Path,
    Reconnected,
    Reconnecting,
    ReconnectPolicy,
    RoomEvent,
    StateChange,
)
from clients.python.links import Link, LinkClosed, LinkError, Opener
from protocol.codec import DEFAULT_MAX_SIZE
from protocol.codes import (
    PROTOCOL_VERSION,
    SUBPROTOCOL_JSON,
    SUBPROTOCOL_MSGPACK,
    CloseCode,
    Role,
)
from protocol.connection import Connection, ConnectionClosed, Event
from protocol.diff import apply_delta, decode_state
from protocol.errors import PatchError, RemoteProtocolError
from protocol.messages import (
    AppMessage,
    Error,
    FullState,
    Join,
    Message,
    Patch,
    Ping,
    Pong,
    Reconnect,
    Request,
    Response,
    Welcome,
    check_plain,
)
from protocol.schema import Schema
from protocol.state import ConnectionState, Side

logger = logging.getLogger("clients.python.room")

NORMAL_CLOSURE = 1000
ACK_INTERVAL = 1.0
"""Seconds between ACKs, at most: the first state of a connection is acknowledged at once, then
the state after which the next would come a second or more after the last ACK (one state
interval, ``patch_rate / tick_rate``, early). So ACKs go out about once a second at any tick
rate, and with every state in a room that publishes less often. The server needs one within its
ack timeout (10 s by default) and reads every ACK as a message (docs/protocol.md, ACK)."""
C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class SeatReservation:
    """A seat from the matchmaker: open ``url``, send JOIN with ``token`` (RECONNECT for a
    reservation from ``reconnect``) within ``expires_in`` seconds."""

    room_id: str
    room_name: str
    session_id: str
    token: str
    url: str
    expires_in: float = 15.0
    spectator: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    """Any other fields the server sent."""


class RoomConnection:
    """A joined seat. Get one from ``GameClient``; see the module docstring for how it works.

    Read ``state``, ``tick``, ``last_seq``, ``unacked_inputs``; act with ``send_input``,
    ``send``, ``request``, ``latency`` and ``leave``; observe with the ``on_*`` callbacks or
    ``async for event in room.events()``.
    """

    def __init__(
        self,
        reservation: SeatReservation,
        opener: Opener,
        *,
        json: bool = False,
        policy: ReconnectPolicy | None = None,
        input_burst: int = 4,
        request_timeout: float = 10.0,
        join_timeout: float = 10.0,
    ) -> None:
        if input_burst < 1:
            raise ValueError("input_burst must be at least 1")
        self.reservation = reservation
        self.room_id = reservation.room_id
        self.room_name = reservation.room_name
        self.session_id = reservation.session_id
        self.policy = policy or ReconnectPolicy()
        self.input_burst = input_burst
        self.request_timeout = request_timeout
        self.join_timeout = join_timeout
        self.state: dict[str, Any] = {}
        """The room state as this client sees it: plain dicts and lists, updated in place."""
        self.tick = -1
        """The tick of the last state applied (-1 before the first)."""
        self.last_seq = 0
        """The last input sequence number the server said it processed."""
        self.unacked_inputs: dict[int, Any] = {}
        """Inputs sent (or waiting to be) that no state has acknowledged yet, by sequence
        number in order: replay them on top of ``state`` to predict."""
        self.welcome: Welcome | None = None
        self.schema = Schema()
        self.reconnect_token = ""
        self.role = Role.SPECTATOR if reservation.spectator else Role.PLAYER
        self.stats = ConnectionStats()
        self.rtt_ms: float | None = None
        """The round-trip time of the last ``latency()`` ping."""
        self.closed: Left | None = None
        """The Left event once the connection has ended for good."""
        self._init_plumbing(opener, json)

    def _init_plumbing(self, opener: Opener, json: bool) -> None:
        self._opener = opener
        self._subprotocol = SUBPROTOCOL_JSON if json else SUBPROTOCOL_MSGPACK
        self._conn = Connection(Side.CLIENT, subprotocol=self._subprotocol)
        self._link: Link | None = None
        self._writer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._synced = False
        self._resync = False
        self._leaving = False
        self._next_seq = 1
        self._written_seq = 0
        self._inputs_since_state = 0
        self._acked_at: float | None = None  # the first state of a connection is acked
        self._ack_after = ACK_INTERVAL  # seconds from an ACK to the state that acks next
        self._queue: deque[Message] = deque()
        self._next_request = 1
        self._requests: dict[int, asyncio.Future[Any]] = {}
        self._pings: dict[float, tuple[float, asyncio.Future[Latency]]] = {}
        self._waiters: list[tuple[Callable[[RoomConnection], bool], asyncio.Future[None]]] = []
        self._subscribers: list[asyncio.Queue[RoomEvent]] = []
        self._callbacks: dict[type[Any], list[Callable[[Any], Any]]] = {}
        self._kind_callbacks: dict[str | int, list[Callable[[Any], Any]]] = {}
        self._message_callbacks: list[Callable[[str | int, Any], Any]] = []
        self._random = random.Random()
        self._done = asyncio.Event()

    def __repr__(self) -> str:
        status = "left" if self.closed else "joined" if self.connected else "reconnecting"
        return f"<RoomConnection {self.room_id} {self.session_id} {status} tick={self.tick}>"

    # -- properties --------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while joined over a live socket (False while reconnecting and after leaving)."""
        return self.closed is None and self._conn.state is ConnectionState.JOINED

    @property
    def is_spectator(self) -> bool:
        """True for a spectator seat (spectators cannot send input)."""
        return self.role is Role.SPECTATOR

    @property
    def tick_rate(self) -> float:
        """The room's ticks per second (from WELCOME)."""
        return self.welcome.tick_rate if self.welcome else 20.0

    @property
    def patch_rate(self) -> int:
        """Ticks between state frames (from WELCOME)."""
        return self.welcome.patch_rate if self.welcome else 1

    # -- starting ----------------------------------------------------------------------------

    async def _start(self, *, resume: bool = False) -> None:
        """Redeem the reservation (RECONNECT when ``resume``), wait for WELCOME and the first
        state, then keep the connection running. Raises a MatchmakeError subclass for a seat
        refused on the socket, ServerUnavailableError when the socket cannot be opened, and
        DisconnectedError for any other close before the first state."""
        token = self.reservation.token
        first: Message = (
            Reconnect(PROTOCOL_VERSION, token, -1) if resume else Join(PROTOCOL_VERSION, token)
        )
        try:
            await asyncio.wait_for(self._open(first), self.join_timeout)
        except BaseException as exc:
            await self._drop_link()
            if isinstance(exc, LinkClosed):
                raise join_refused(exc.code, exc.reason) from None
            if isinstance(exc, LinkError):
                raise ServerUnavailableError(str(exc)) from None
            if isinstance(exc, TimeoutError):
                raise ServerUnavailableError("join timed out") from None
            raise
        self._task = asyncio.get_running_loop().create_task(
            self._serve(), name=f"room:{self.room_id}:{self.session_id}"
        )

    async def _open(self, first: Message) -> None:
        """Open a socket, send ``first`` and read until WELCOME and a state are applied."""
        await self._drop_link()
        link = await self._opener(self.reservation.url, [self._subprotocol])
        self._link = link
        subprotocol = link.subprotocol or SUBPROTOCOL_MSGPACK
        self._conn = conn = Connection(Side.CLIENT, subprotocol=subprotocol)
        self._synced = False
        conn.send(first)
        self._wake = asyncio.Event()
        self._writer = asyncio.get_running_loop().create_task(self._write_loop(link, conn))
        self._wake.set()
        while not self._synced:
            try:
                data = await link.recv()
            except LinkClosed as exc:
                conn.receive_close(exc.code, exc.reason)
                raise
            self._feed(conn, data, time.perf_counter())
            if conn.state is ConnectionState.CLOSED:
                raise LinkClosed(conn.close_code or NORMAL_CLOSURE, "closed while joining")

    async def _drop_link(self) -> None:
        """Forget the current socket: stop its writer, abort it if still open."""
        writer, link = self._writer, self._link
        self._writer = self._link = None
        if writer is not None and not writer.done():
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        if link is not None:
            link.abort()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(link.close(NORMAL_CLOSURE), 1.0)

    # -- the running connection --------------------------------------------------------------

    async def _serve(self) -> None:
        """Read until the socket closes; reconnect or finish; repeat (bounded by the policy)."""
        try:
            while self.closed is None:
                code, reason = await self._read_until_closed()
                self._fail_in_flight(DisconnectedError("connection lost", code, reason))
                if self._leaving or code == CloseCode.CONSENTED:
                    self._finish(code, reason, consented=self._leaving)
                elif not self._resync and (not is_reconnectable(code) or self.policy.retries == 0):
                    error = DisconnectedError("connection closed", code, reason)
                    self._finish(code, reason, consented=False, error=error)
                else:
                    await self._reconnect(code, reason)
        except asyncio.CancelledError:
            self._finish(CloseCode.CONSENTED, "left", consented=True)
            raise
        except Exception as exc:  # a bug here must not leave callers waiting forever
            logger.exception("room connection %s failed", self.session_id)
            self._finish(1011, "client error", consented=False, error=ClientError(str(exc)))
        finally:
            await self._drop_link()

    async def _read_until_closed(self) -> tuple[int, str]:
        link, conn = self._link, self._conn
        assert link is not None
        reason = ""
        while conn.state is not ConnectionState.CLOSED:
            try:
                data = await link.recv()
            except LinkClosed as exc:
                conn.receive_close(exc.code, exc.reason)
                reason = exc.reason
                break
            self._feed(conn, data, time.perf_counter())
        if conn.close_to_send is not None:  # we closed: let the writer deliver the close
            reason = conn.close_to_send[1]
            writer = self._writer
            if writer is not None:
                self._wake.set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(writer), 2.0)
        return conn.close_code or NORMAL_CLOSURE, reason

    async def _reconnect(self, code: int, reason: str) -> None:
        policy = self.policy
        for attempt in range(1, policy.retries + 1):
            immediate = self._resync and attempt == 1
            delay = 0.0 if immediate else policy.delay(attempt, self._random.random())
            self._emit(Reconnecting(attempt, delay, code))
            await asyncio.sleep(delay)
            if self._leaving:
                self._finish(CloseCode.CONSENTED, "left", consented=True)
                return
            last_tick = -1 if self._resync else self.tick
            first = Reconnect(PROTOCOL_VERSION, self.reconnect_token, last_tick)
            try:
                await asyncio.wait_for(self._open(first), policy.attempt_timeout)
            except LinkClosed as exc:
                if not is_reconnectable(exc.code):
                    error = ReconnectFailedError("reconnection refused", exc.code, exc.reason)
                    self._finish(exc.code, exc.reason, consented=False, error=error)
                    return
                code, reason = exc.code, exc.reason
                continue
            except (LinkError, TimeoutError):
                await self._drop_link()
                continue
            self._resync = False
            self.stats.reconnects += 1
            self._emit(Reconnected(attempt, self.tick))
            return
        error = ReconnectFailedError("reconnection failed", code, reason)
        self._finish(code, reason, consented=False, error=error)

    # -- incoming ----------------------------------------------------------------------------

    def _feed(self, conn: Connection, data: bytes | str, now: float) -> None:
        self.stats.messages_received += 1
        self.stats.bytes_received += len(data)
        with contextlib.suppress(RemoteProtocolError):  # it closed itself with close_to_send
            conn.receive_data(data)
        for event in conn.events_received():
            self._handle(conn, event, now)
        if conn.close_to_send is not None:
            self._wake.set()

    def _handle(self, conn: Connection, event: Event, now: float) -> None:
        if isinstance(event, FullState):
            try:
                state = decode_state(event.state, self.schema)
            except PatchError:
                self._resync_now(conn)
                return
            self.state = state
            self.stats.full_states += 1
            self._applied(conn, event.tick, event.last_seq, True, (), now)
        elif isinstance(event, Patch):
            changes: list[Path] = []
            try:
                if event.baseline != self.tick:
                    raise PatchError("patch baseline is not the last state applied")
                apply_delta(self.state, event.delta, self.schema, changes)
            except PatchError:
                self._resync_now(conn)
                return
            self._applied(conn, event.tick, event.last_seq, False, tuple(changes), now)
        elif isinstance(event, Welcome):
            self._welcomed(conn, event)
        elif isinstance(event, AppMessage):
            self._emit(MessageReceived(event.kind, event.payload))
        elif isinstance(event, Response):
            self._answered(event)
        elif isinstance(event, Error):
            self._emit(ErrorReceived(event.code, event.message))
        elif isinstance(event, Ping):
            conn.send_pong(event, time.time() * 1000.0)
            self._wake.set()
        elif isinstance(event, Pong):
            self._ponged(event)
        elif not isinstance(event, ConnectionClosed):  # pragma: no cover - all types handled
            logger.debug("ignored %s", event)

    def _welcomed(self, conn: Connection, welcome: Welcome) -> None:
        try:
            self.schema = Schema.from_wire(welcome.schema)
        except PatchError:
            conn.close(CloseCode.PROTOCOL_ERROR, "bad schema")
            return
        self.welcome = welcome
        self.reconnect_token = welcome.reconnect_token
        self.role = Role(welcome.role)
        self.session_id = welcome.session_id
        # Everything after the last acknowledged input goes out again on this socket, in order.
        self._written_seq = self.last_seq
        self._inputs_since_state = 0
        self._acked_at = None  # the first state of a connection is acked
        self._ack_after = ACK_INTERVAL - welcome.patch_rate / welcome.tick_rate
        self._pump_inputs()
        while self._queue and conn.state is ConnectionState.JOINED:
            conn.send(self._queue.popleft())
        self._wake.set()

    def _applied(
        self,
        conn: Connection,
        tick: int,
        last_seq: int,
        full: bool,
        changes: tuple[Path, ...],
        now: float,
    ) -> None:
        self.tick = tick
        self.last_seq = last_seq
        unacked = self.unacked_inputs
        while unacked and next(iter(unacked)) <= last_seq:
            del unacked[next(iter(unacked))]
        self._written_seq = max(self._written_seq, last_seq)
        self.stats.states_received += 1
        self._synced = True
        if conn.state is ConnectionState.JOINED:
            acked_at = self._acked_at
            if acked_at is None or now - acked_at >= self._ack_after:
                conn.send_ack(tick)
                self._acked_at = now
            self._inputs_since_state = 0
            self._pump_inputs()
            self._wake.set()
        self._emit(StateChange(tick, last_seq, full, changes, self.state, now))
        if self._waiters:
            self._check_waiters()

    def _resync_now(self, conn: Connection) -> None:
        """Our state and the server's no longer line up: reconnect asking for a full state."""
        self.stats.resyncs += 1
        self._resync = True
        conn.close(NORMAL_CLOSURE, "resync")
        self._wake.set()

    def _answered(self, response: Response) -> None:
        future = self._requests.pop(response.id, None)
        if future is None or future.done():
            return
        if response.code == 0:
            future.set_result(response.payload)
        else:
            future.set_exception(RequestError(str(response.payload), response.code))

    def _ponged(self, pong: Pong) -> None:
        entry = self._pings.pop(pong.time, None)
        if entry is None:
            return
        started, future = entry
        rtt_ms = (time.perf_counter() - started) * 1000.0
        self.rtt_ms = rtt_ms
        if not future.done():
            future.set_result(Latency(rtt_ms, pong.peer_time - (pong.time + rtt_ms / 2)))

    # -- outgoing ----------------------------------------------------------------------------

    async def _write_loop(self, link: Link, conn: Connection) -> None:
        wake = self._wake
        try:
            while True:
                await wake.wait()
                wake.clear()
                for message in _coalesce(conn.data_to_send()):
                    await link.send(message)
                if conn.close_to_send is not None:
                    await link.close(*conn.close_to_send)
                    return
                if conn.state is ConnectionState.CLOSED:
                    return
        except (LinkClosed, OSError):
            return  # the reader sees the close

    def _pump_inputs(self) -> None:
        """Write queued inputs in order, at most ``input_burst`` per state frame received."""
        conn = self._conn
        if conn.state is not ConnectionState.JOINED or self.is_spectator:
            return
        for seq, payload in self.unacked_inputs.items():
            if self._inputs_since_state >= self.input_burst:
                break
            if seq <= self._written_seq:
                continue
            conn.send_input(seq, payload)
            self._written_seq = seq
            self._inputs_since_state += 1
            self.stats.inputs_sent += 1
        self._wake.set()

    def _check_open(self) -> None:
        if self.closed is not None:
            raise DisconnectedError("not connected", self.closed.code, self.closed.reason)
        if self._leaving:
            raise DisconnectedError("leaving", CloseCode.CONSENTED, "left")

    def _send_message(self, message: Message) -> None:
        if self._conn.state is ConnectionState.JOINED:
            self._conn.send(message)
            self._wake.set()
            self.stats.messages_sent += 1
            return
        if len(self._queue) >= self.policy.max_queued:
            dropped = self._queue.popleft()
            self.stats.queued_dropped += 1
            if isinstance(dropped, Request):
                future = self._requests.pop(dropped.id, None)
                if future is not None and not future.done():
                    future.set_exception(RequestError("request dropped from the queue", 0))
        self._queue.append(message)

    def send_input(self, payload: Any) -> int:
        """Send an input for the room's tick; returns its sequence number. While reconnecting
        it waits in ``unacked_inputs`` and goes out once the session is resumed."""
        self._check_open()
        if self.is_spectator:
            raise ClientError("spectators cannot send input")
        check_plain(payload)  # FrameError for what cannot travel
        seq = self._next_seq
        self._next_seq += 1
        self.unacked_inputs[seq] = payload
        if len(self.unacked_inputs) > self.policy.max_unacked:
            del self.unacked_inputs[next(iter(self.unacked_inputs))]
            self.stats.inputs_dropped += 1
        self._pump_inputs()
        return seq

    def send(self, kind: str | int, payload: Any = None) -> None:
        """Send an application message (queued while reconnecting)."""
        self._check_open()
        self._send_message(AppMessage(kind, payload))

    async def request(
        self, kind: str | int, payload: Any = None, *, timeout: float | None = None
    ) -> Any:
        """Send a request and return the room's answer. Raises RequestError when the room
        refused it, RequestTimeoutError after ``timeout`` seconds (default
        ``request_timeout``), DisconnectedError when the connection ends first."""
        self._check_open()
        request_id = self._next_request
        self._next_request += 1
        message = Request(request_id, kind, payload)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._requests[request_id] = future
        try:
            self._send_message(message)
            return await asyncio.wait_for(future, timeout or self.request_timeout)
        except TimeoutError:
            raise RequestTimeoutError() from None
        finally:
            self._requests.pop(request_id, None)

    async def latency(self, samples: int = 1, *, timeout: float = 5.0) -> Latency:
        """Ping the room ``samples`` times, one after another; returns the sample with the
        smallest round trip (its clock offset is the most trustworthy). TimeoutError if a pong
        does not come within ``timeout`` seconds."""
        best: Latency | None = None
        for _ in range(max(1, samples)):
            self._check_open()
            if not self.connected:
                raise DisconnectedError("not connected", 1006, "reconnecting")
            key = time.time() * 1000.0
            while key in self._pings:
                key += 0.001
            future: asyncio.Future[Latency] = asyncio.get_running_loop().create_future()
            self._pings[key] = (time.perf_counter(), future)
            self._conn.send(Ping(key))
            self._wake.set()
            try:
                sample = await asyncio.wait_for(future, timeout)
            finally:
                self._pings.pop(key, None)
            if best is None or sample.rtt_ms < best.rtt_ms:
                best = sample
        assert best is not None
        return best

    async def leave(self, *, timeout: float = 5.0) -> Left:
        """Leave on purpose (the seat is given up) and wait until the connection has ended.
        Calling it again, or after the connection ended, returns the same Left event."""
        if self.closed is not None:
            await self._wait_task(timeout)
            return self.closed
        self._leaving = True
        if self._conn.state is ConnectionState.JOINED:
            self._conn.send_leave()
            self._wake.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._done.wait()), timeout)
        if self.closed is None and self._task is not None:
            self._task.cancel()
        await self._wait_task(timeout)
        self._finish(CloseCode.CONSENTED, "left", consented=True)
        assert self.closed is not None
        return self.closed

    async def _wait_task(self, timeout: float) -> None:
        task = self._task
        if task is not None and not task.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), timeout)
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    def drop(self) -> None:
        """Cut the socket as a network failure would (no close frame): the connection then
        reconnects per its policy. For tests and demos."""
        if self._link is not None:
            self._link.abort()

    async def wait_closed(self) -> Left:
        """Wait until the connection has ended (after ``leave`` or a final disconnect)."""
        await self._done.wait()
        assert self.closed is not None
        return self.closed

    async def wait_for(
        self, predicate: Callable[[RoomConnection], bool], timeout: float = 10.0
    ) -> None:
        """Wait until ``predicate(self)`` is true, checked now and after every state applied.
        Raises TimeoutError, or DisconnectedError if the connection ends first."""
        if predicate(self):
            return
        self._check_open()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(future, timeout)
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    def _check_waiters(self) -> None:
        for predicate, future in list(self._waiters):
            if future.done():
                continue
            try:
                if predicate(self):
                    future.set_result(None)
            except Exception as exc:
                future.set_exception(exc)

    # -- observing ---------------------------------------------------------------------------

    def _subscribe(self, key: type[Any], callback: Callable[[Any], Any]) -> Callable[[], None]:
        return _subscription(self._callbacks.setdefault(key, []), callback)

    def on_state_change(self, callback: Callable[[StateChange], Any]) -> Callable[[], None]:
        """Call ``callback(change)`` after each state frame is applied. Returns a function
        that unsubscribes it (as every ``on_*`` method does)."""
        return self._subscribe(StateChange, callback)

    def on(self, kind: str | int, callback: Callable[[Any], Any]) -> Callable[[], None]:
        """Call ``callback(payload)`` for each application message of ``kind``."""
        return _subscription(self._kind_callbacks.setdefault(kind, []), callback)

    def on_message(self, callback: Callable[[str | int, Any], Any]) -> Callable[[], None]:
        """Call ``callback(kind, payload)`` for every application message."""
        return _subscription(self._message_callbacks, callback)

    def on_error(self, callback: Callable[[ErrorReceived], Any]) -> Callable[[], None]:
        """Call ``callback(error)`` for each ERROR frame (something this client sent was
        refused; the connection stays open)."""
        return self._subscribe(ErrorReceived, callback)

    def on_leave(self, callback: Callable[[Left], Any]) -> Callable[[], None]:
        """Call ``callback(left)`` once, when the connection ends for good."""
        return self._subscribe(Left, callback)

    def on_reconnect(
        self, callback: Callable[[Reconnecting | Reconnected], Any]
    ) -> Callable[[], None]:
        """Call ``callback(event)`` for each Reconnecting and Reconnected event."""
        first = self._subscribe(Reconnecting, callback)
        second = self._subscribe(Reconnected, callback)

        def unsubscribe() -> None:
            first()
            second()

        return unsubscribe

    async def events(self, max_pending: int = 256) -> AsyncIterator[RoomEvent]:
        """Every event from now on, ending with ``Left``. An iterator that falls more than
        ``max_pending`` events behind loses the oldest (counted in ``stats.events_dropped``)."""
        if self.closed is not None:
            yield self.closed
            return
        queue: asyncio.Queue[RoomEvent] = asyncio.Queue(max_pending)
        self._subscribers.append(queue)
        try:
            while True:
                event = await queue.get()
                yield event
                if isinstance(event, Left):
                    return
        finally:
            self._subscribers.remove(queue)

    def __aiter__(self) -> AsyncIterator[RoomEvent]:
        return self.events()

    async def __aenter__(self) -> RoomConnection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.leave()

    def _emit(self, event: RoomEvent) -> None:
        if isinstance(event, MessageReceived):
            for kind_callback in list(self._kind_callbacks.get(event.kind, ())):
                self._call(kind_callback, event.payload)
            for message_callback in list(self._message_callbacks):
                self._call(message_callback, event.kind, event.payload)
        for callback in list(self._callbacks.get(type(event), ())):
            self._call(callback, event)
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
                self.stats.events_dropped += 1
            queue.put_nowait(event)

    def _call(self, callback: Callable[..., Any], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            self.stats.callback_errors += 1
            logger.exception("room %s: a callback raised", self.room_id)

    # -- the end -----------------------------------------------------------------------------

    def _fail_in_flight(self, error: ClientError) -> None:
        for future in self._requests.values():
            if not future.done():
                future.set_exception(error)
        self._requests.clear()
        for _, future in self._pings.values():
            if not future.done():
                future.set_exception(error)
        self._pings.clear()

    def _finish(
        self, code: int, reason: str, *, consented: bool, error: ClientError | None = None
    ) -> None:
        if self.closed is not None:
            return
        self.closed = left = Left(code, reason, consented, error)
        failure = error or DisconnectedError("not connected", code, reason)
        self._fail_in_flight(failure)
        for message in self._queue:
            if isinstance(message, Request):
                future = self._requests.pop(message.id, None)
                if future is not None and not future.done():
                    future.set_exception(failure)
        self._queue.clear()
        for _, future in self._waiters:
            if not future.done():
                future.set_exception(failure)
        self._emit(left)
        self._done.set()


def _coalesce(frames: list[bytes | str]) -> list[bytes | str]:
    """Binary frames joined into WebSocket messages of at most one frame limit; text frames
    (JSON) one per message."""
    out: list[bytes | str] = []
    batch: list[bytes] = []
    size = 0
    for frame in frames:
        if isinstance(frame, str):
            out.append(frame)
            continue
        if batch and size + len(frame) > DEFAULT_MAX_SIZE:
            out.append(b"".join(batch))
            batch, size = [], 0
        batch.append(frame)
        size += len(frame)
    if batch:
        out.append(b"".join(batch))
    return out


def _subscription(callbacks: list[C], callback: C) -> Callable[[], None]:
    """Add ``callback`` to ``callbacks``; return the function that removes it again."""
    callbacks.append(callback)

    def unsubscribe() -> None:
        if callback in callbacks:
            callbacks.remove(callback)

    return unsubscribe
