"""The WebSocket edge: one ``WebSocketSession`` per socket, between Starlette and the room.

It feeds bytes to the sans-I/O ``protocol.Connection``, hands decoded messages to the room, and
runs one writer task that drains the member's slot whenever the room wakes it. It holds no
protocol logic: framing, validation and the state machine are the Connection's; game rules are
the room's. What it adds is what only the edge can do:

- the Origin allow-list (checked before the socket is accepted) and subprotocol choice;
- a token-bucket rate limit per socket: over the rate, the message is dropped with an ERROR
  (RATE_LIMITED); far over it, the socket closes with RATE_LIMITED (4011);
- timeouts: JOIN must arrive within ``join_timeout``; a silent client closes with IDLE_TIMEOUT;
  a client that stops acknowledging state for ``ack_timeout`` closes with TOO_SLOW. A writer that
  stays blocked on a socket that does not read is abandoned, so its task and memory go away;
- exception text never reaches the peer: close reasons are our own short fragments.

The tick never waits on this class: the room only calls ``wake()``, which sets an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from game_server.client import Client
from game_server.errors import MatchmakeError, SeatInvalidError
from protocol.codes import SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, CloseCode, ErrorCode
from protocol.connection import Connection, ConnectionClosed
from protocol.errors import RemoteProtocolError
from protocol.messages import Join, Leave, Message, Reconnect
from protocol.state import ConnectionState, Side

if TYPE_CHECKING:
    from game_server.app import ServerState

logger = logging.getLogger("game_server.transport")

NO_STATUS = 1005
WATCHDOG_PERIOD = 0.5
WRITER_GRACE = 2.0
"""Seconds a blocked writer gets to deliver a close before the socket is abandoned."""


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up. ``take()`` spends one and returns
    the balance (negative: over the limit)."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def take(self, now: float) -> float:
        """Spend one token at ``now``; returns what is left."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate) - 1.0
        self.stamp = now
        return self.tokens


def choose_subprotocol(offered: list[str]) -> str | None:
    """The subprotocol to accept: msgpack unless only JSON is offered; None if none offered."""
    if SUBPROTOCOL_MSGPACK in offered:
        return SUBPROTOCOL_MSGPACK
    if SUBPROTOCOL_JSON in offered:
        return SUBPROTOCOL_JSON
    return None


def origin_allowed(websocket: WebSocket, allowed: list[str], allow_any: bool) -> bool:
    """No Origin (a bot), the server's own origin, or a listed one."""
    origin = websocket.headers.get("origin")
    if origin is None or allow_any:
        return True
    origin = origin.rstrip("/").lower()
    host = websocket.headers.get("host", "").lower()
    if origin in (f"http://{host}", f"https://{host}"):
        return True
    return origin in {entry.rstrip("/").lower() for entry in allowed}


class WebSocketSession:
    """One accepted socket. ``await session.serve()`` runs it to the end."""

    def __init__(self, websocket: WebSocket, server: ServerState, *, room_id: str) -> None:
        self.websocket = websocket
        self.room_id = room_id
        self.server = server
        self.settings = server.settings
        self.clock = server.clock
        self.client: Client | None = None
        self.connection: Connection | None = None
        self._wake = asyncio.Event()
        self._writer_done = asyncio.Event()
        now = self.clock.now()
        self._opened = now
        self._last_seen = now
        self._ack_progress = (-1, now)
        self._bucket = TokenBucket(60.0, 120.0, now)
        self._last_rate_error = -1.0

    def wake(self) -> None:
        """The room has frames or a newer state for this socket (never blocks)."""
        self._wake.set()

    async def serve(self) -> None:
        """Check the Origin, accept, then read, write and watch until the socket ends."""
        ws = self.websocket
        metrics = self.server.metrics
        if not origin_allowed(ws, self.settings.allowed_origins, self.settings.allow_any_origin):
            metrics.origin_refused += 1
            await ws.close(code=1008)  # before accept: the handshake is refused with HTTP 403
            return
        offered = list(ws.scope.get("subprotocols") or [])
        chosen = choose_subprotocol(offered)
        await ws.accept(subprotocol=chosen)
        self.connection = Connection(
            Side.SERVER,
            subprotocol=chosen or SUBPROTOCOL_MSGPACK,
            max_size=self.settings.max_frame_size,
        )
        metrics.sockets_open += 1
        reader = asyncio.create_task(self._read_loop())
        writer = asyncio.create_task(self._write_loop())
        watchdog = asyncio.create_task(self._watchdog())
        tasks = {reader, writer, watchdog}
        done: set[asyncio.Task[None]] = set()
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._finish()
            try:
                if (
                    reader in done
                    and self.connection.close_to_send is not None
                    and not writer.done()
                ):
                    self.wake()  # we closed: let the writer deliver the last frames and the close
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(writer), WRITER_GRACE)
            finally:
                # Counted before the last await: a cancelled session still balances the gauge.
                for task in tasks:
                    task.cancel()
                metrics.sockets_open -= 1
                code = self.connection.close_code or NO_STATUS
                metrics.disconnects[code] = metrics.disconnects.get(code, 0) + 1
            # asyncio.wait, not gather: a cancellation of this task stays this task's own (gather
            # would re-raise a child's CancelledError, which an enclosing cancel scope such as
            # anyio's does not recognise, so the ASGI server would see the session fail).
            await asyncio.wait(tasks)

    # -- reading ----------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        ws = self.websocket
        conn = self.connection
        assert conn is not None
        while conn.state is not ConnectionState.CLOSED:
            try:
                message = await ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                conn.receive_close(NO_STATUS)
                return
            if message["type"] == "websocket.disconnect":
                conn.receive_close(int(message.get("code") or NO_STATUS), "")
                return
            data: bytes | str | None = message.get("bytes")
            if data is None:
                data = message.get("text") or ""
            self._receive(data)

    def _receive(self, data: bytes | str) -> None:
        conn = self.connection
        assert conn is not None
        now = self.clock.now()
        self._last_seen = now
        if not self._admit(now):
            return
        limit = self.settings.max_frame_size
        if len(data) > limit:
            # A message may hold several frames, but no more bytes than one frame may: otherwise
            # the decoder would do unbounded work before any limit applied.
            self.server.metrics.protocol_errors += 1
            self._close(CloseCode.MESSAGE_TOO_BIG, f"message exceeds {limit} bytes")
            return
        try:
            conn.receive_data(data)
        except RemoteProtocolError:
            self.server.metrics.protocol_errors += 1
        messages: list[Message] = []
        for event in conn.events_received():
            if isinstance(event, Join | Reconnect):
                self._join(event)
            elif not isinstance(event, ConnectionClosed):
                messages.append(event)
        client = self.client
        if messages and client is not None and client.connection is conn:
            client.room._receive(client, messages, now_ms=time.time() * 1000.0)
            if any(isinstance(message, Leave) for message in messages):
                self.server.metrics.leaves += 1
        if conn.close_to_send is not None:
            self.wake()

    def _admit(self, now: float) -> bool:
        """Apply the rate limit: True to process the message, False to drop it."""
        balance = self._bucket.take(now)
        if balance >= 0:
            return True
        conn = self.connection
        assert conn is not None
        self.server.metrics.rate_limited += 1
        if balance < -self._bucket.burst:
            conn.close(CloseCode.RATE_LIMITED, "rate limited")
            self.wake()
        elif now - self._last_rate_error >= 1.0 and conn.state is ConnectionState.JOINED:
            self._last_rate_error = now
            conn.send_error(ErrorCode.RATE_LIMITED, "rate limited: message dropped")
            self.wake()
        return False

    def _join(self, event: Join | Reconnect) -> None:
        conn = self.connection
        assert conn is not None
        registry = self.server.registry
        try:
            if isinstance(event, Join):
                room = registry.room_for_seat(event.token)
                if room.room_id != self.room_id:
                    raise SeatInvalidError("token is for another room")
                self.client = room._redeem(event.token, conn, self)
            else:
                room = registry.room_for_reconnect(event.token)
                if room.room_id != self.room_id:
                    raise SeatInvalidError("token is for another room")
                self.client = room._resume(event.token, event.last_tick, conn, self)
                self.server.metrics.reconnects += 1
        except MatchmakeError as exc:
            # docs/protocol.md: a refused RECONNECT closes with FAILED_TO_RECONNECT (go back to
            # matchmaking); a refused JOIN with the refusal's own code.
            refused = isinstance(event, Reconnect)
            conn.close(CloseCode.FAILED_TO_RECONNECT if refused else exc.close_code, exc.message)
            self.wake()
            return
        rate = float(room.max_messages_per_second)
        self._bucket = TokenBucket(rate, max(rate, 10.0), self.clock.now())
        self.server.metrics.joins += 1
        self.wake()

    # -- writing ----------------------------------------------------------------------------------

    def _drain(self) -> list[bytes | str]:
        conn = self.connection
        assert conn is not None
        client = self.client
        if client is not None and client.connection is conn:
            return client.drain()
        return conn.data_to_send()

    async def _write_loop(self) -> None:
        ws = self.websocket
        conn = self.connection
        assert conn is not None
        metrics = self.server.metrics
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                for frame in self._drain():
                    if isinstance(frame, bytes):
                        await ws.send_bytes(frame)
                    else:
                        await ws.send_text(frame)
                    metrics.frames_out += 1
                    metrics.bytes_out += len(frame)
                if conn.close_to_send is not None:
                    code, reason = conn.close_to_send
                    with contextlib.suppress(Exception):
                        await ws.close(code=code, reason=reason)
                    return
                if conn.state is ConnectionState.CLOSED:
                    return
        except Exception:  # the peer went away mid-send: the reader sees the disconnect
            return
        finally:
            self._writer_done.set()

    # -- watching ---------------------------------------------------------------------------------

    async def _watchdog(self) -> None:
        conn = self.connection
        assert conn is not None
        settings = self.settings
        while conn.state is not ConnectionState.CLOSED:
            await self.clock.sleep_until(self.clock.now() + WATCHDOG_PERIOD)
            now = self.clock.now()
            client = self.client
            if client is None or client.connection is not conn:
                if conn.state is ConnectionState.CONNECTING and now - self._opened > (
                    settings.join_timeout
                ):
                    self._close(CloseCode.IDLE_TIMEOUT, "no join received")
                continue
            if now - self._last_seen > settings.idle_timeout:
                self._close(CloseCode.IDLE_TIMEOUT, "idle")
            elif self._late_acks(client, now):
                self.server.metrics.too_slow += 1
                self._close(CloseCode.TOO_SLOW, "too slow")
        await self._abandon_if_stuck()

    def _late_acks(self, client: Client, now: float) -> bool:
        acked, since = self._ack_progress
        if client.acked_tick != acked:
            self._ack_progress = (client.acked_tick, now)
            return False
        outstanding = client.room.published_tick > max(client.acked_tick, 0)
        return outstanding and now - since > self.settings.ack_timeout

    def _close(self, code: int, reason: str) -> None:
        conn = self.connection
        assert conn is not None
        conn.close(code, reason)
        self.wake()

    async def _abandon_if_stuck(self) -> None:
        """A writer blocked on a socket that does not read cannot send the close: give it a
        moment, then return, which ends the session and releases the socket, task and buffers."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._writer_done.wait(), WRITER_GRACE)

    def _finish(self) -> None:
        """Tell the room the socket is gone (a drop, unless the client left on purpose)."""
        conn = self.connection
        client = self.client
        if conn is None or client is None:
            return
        consented = conn.state is ConnectionState.LEAVING or conn.close_code == CloseCode.CONSENTED
        if conn.state is not ConnectionState.CLOSED:
            conn.receive_close(NO_STATUS)
        client.room._closed(client, conn, consented)


def describe(websocket: WebSocket) -> dict[str, Any]:
    """Client address and offered subprotocols, for logs."""
    return {
        "client": websocket.client,
        "subprotocols": websocket.scope.get("subprotocols"),
    }
