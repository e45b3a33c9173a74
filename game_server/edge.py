"""What every game-socket adapter shares: the edge rules between a socket and a room.

``EdgeSession`` holds one socket's sans-I/O ``protocol.Connection`` and does, for any transport:

- the Origin allow-list check (``origin_allowed``) and subprotocol choice (``choose_subprotocol``);
- a token-bucket rate limit: over the rate a message is dropped with an ERROR (RATE_LIMITED);
  far over it the socket closes with RATE_LIMITED (4011);
- a size check per WebSocket message (MESSAGE_TOO_BIG, 4010) before any decoding;
- JOIN / RECONNECT redemption against the registry, in this socket's room only;
- the timeouts, checked by ``check_timeouts(now)``: JOIN within ``join_timeout``, any frame
  within ``idle_timeout`` (IDLE_TIMEOUT, 4017), state acknowledged within ``ack_timeout``
  (TOO_SLOW, 4012);
- telling the room when the socket is gone (``finish``).

Adapters (``game_server.transport`` for Starlette, ``game_server.fastsocket`` for picows) only
move bytes: they call ``receive(data)`` with each WebSocket message, implement ``wake()`` to
write what ``drain()`` returns, and close the socket with ``connection.close_to_send``.
Exception text never reaches the peer: close reasons are our own short fragments.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from game_server.client import Client
from game_server.errors import MatchmakeError, SeatInvalidError
from protocol.codes import SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, CloseCode, ErrorCode
from protocol.connection import Connection, ConnectionClosed
from protocol.errors import RemoteProtocolError
from protocol.messages import (
    Ack,
    AppMessage,
    Input,
    Join,
    Leave,
    Message,
    Ping,
    Pong,
    Reconnect,
    Request,
)
from protocol.state import ConnectionState, Side

if TYPE_CHECKING:
    from game_server.app import ServerState

_CLOSED = ConnectionState.CLOSED
NO_STATUS = 1005
"""Close code reported when the socket ended without a close frame."""
_IN_ROOM = frozenset({Input, Ack, AppMessage, Request, Ping, Pong, Leave})
"""What a joined client sends: handed to the room as they are."""


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
        tokens = self.tokens + (now - self.stamp) * self.rate
        self.tokens = (tokens if tokens < self.burst else self.burst) - 1.0
        self.stamp = now
        return self.tokens


def choose_subprotocol(offered: Iterable[str]) -> str | None:
    """The subprotocol to accept: msgpack unless only JSON is offered; None if none offered."""
    offered = [item.strip() for item in offered]
    if SUBPROTOCOL_MSGPACK in offered:
        return SUBPROTOCOL_MSGPACK
    if SUBPROTOCOL_JSON in offered:
        return SUBPROTOCOL_JSON
    return None


def origin_allowed(
    origin: str | None,
    host: str,
    allowed: Iterable[str],
    allow_any: bool,
    own: Iterable[str] = (),
) -> bool:
    """No Origin (a bot), the origin of the Host asked for, one of ``own`` (the HTTP server's
    origins, when the game socket has a port of its own), or a listed one."""
    if origin is None or allow_any:
        return True
    origin = origin.rstrip("/").lower()
    host = host.lower()
    if origin in (f"http://{host}", f"https://{host}"):
        return True
    return origin in {entry.rstrip("/").lower() for entry in (*allowed, *own)}


class EdgeSession:
    """One socket's edge state. Subclasses implement ``wake()``; see the module docstring."""

    EDGE_SLOTS = (
        "_ack_progress",
        "_bucket",
        "_last_rate_error",
        "_now",
        "client",
        "clock",
        "connection",
        "last_seen",
        "opened",
        "room_id",
        "server",
        "settings",
    )
    """The attributes ``__init__`` sets, for a subclass's ``__slots__`` (a slot is read at a fixed
    offset; the instance's ``__dict__`` stays empty)."""

    def __init__(self, server: ServerState, room_id: str, subprotocol: str | None) -> None:
        self.server = server
        self.settings = server.settings
        self.clock = server.clock
        self._now = server.clock.now
        self.room_id = room_id
        self.client: Client | None = None
        self.connection = Connection(
            Side.SERVER,
            subprotocol=subprotocol or SUBPROTOCOL_MSGPACK,
            max_size=self.settings.max_frame_size,
        )
        now = self.clock.now()
        self.opened = now
        self.last_seen = now
        self._ack_progress = (-1, now)
        self._bucket = TokenBucket(60.0, 120.0, now)
        self._last_rate_error = -1.0

    def wake(self) -> None:
        """The room has frames or a newer state for this socket. Never blocks."""
        raise NotImplementedError

    # -- receiving --------------------------------------------------------------------------------

    def receive(self, data: bytes | str) -> None:
        """Handle one WebSocket message from the peer.

        ``game_server._native.receive_frame`` is this method in C (behind
        ``FastSession.on_ws_frame``), check for check; it calls the methods below for everything
        but a joined player's INPUT or ACK (see game_server/native.py)."""
        conn = self.connection
        now = self._now()
        self.last_seen = now
        if conn.state is _CLOSED:
            return
        balance = self._bucket.take(now)
        if balance < 0.0:
            self._over_rate(balance, now)  # the message is dropped
            return
        if len(data) > self.settings.max_frame_size:
            self._too_big()
            return
        client = self.client
        if client is not None and type(data) is bytes and client.connection is conn:
            fields = conn.receive_input(data)  # the hot path: one INPUT from a joined player
            if fields is not None:
                client.room._take_input(client, fields[0], fields[1])
                return
            tick = conn.receive_ack(data)  # the next: an ACK
            if tick is not None:
                client.room._take_ack(client, tick)
                return
        self._receive_message(data)

    def _too_big(self) -> None:
        """A message over ``max_frame_size``: close. A message may hold several frames, but no
        more bytes than one frame may: otherwise the decoder would do unbounded work before any
        limit applied."""
        self.server.metrics.protocol_errors += 1
        limit = self.settings.max_frame_size
        self.close(CloseCode.MESSAGE_TOO_BIG, f"message exceeds {limit} bytes")

    def _receive_message(self, data: bytes | str) -> None:
        """A message within the limits that is not a joined player's lone INPUT: decode it
        through the connection and hand what it holds to the room (or redeem a JOIN)."""
        conn = self.connection
        try:
            conn.receive_data(data)
        except RemoteProtocolError:
            self.server.metrics.protocol_errors += 1
        events = conn.events_received()
        client = self.client
        if (
            events
            and client is not None
            and client.connection is conn
            and all(type(event) in _IN_ROOM for event in events)
        ):
            client.room._receive(client, events)  # type: ignore[arg-type]  # the hot path
            if type(events[-1]) is Leave:
                self.server.metrics.leaves += 1
            return
        messages: list[Message] = []
        for event in events:
            if isinstance(event, Join | Reconnect):
                self._join(event)
            elif not isinstance(event, ConnectionClosed):
                messages.append(event)
        client = self.client
        if messages and client is not None and client.connection is conn:
            client.room._receive(client, messages)
            if any(isinstance(message, Leave) for message in messages):
                self.server.metrics.leaves += 1
        if conn.close_to_send is not None:
            self.wake()

    def _over_rate(self, balance: float, now: float) -> None:
        """A message over the rate limit (``balance`` below 0) is dropped: tell the client with
        an ERROR at most once a second, or close the socket when far over."""
        conn = self.connection
        self.server.metrics.rate_limited += 1
        if balance < -self._bucket.burst:
            self.close(CloseCode.RATE_LIMITED, "rate limited")
        elif now - self._last_rate_error >= 1.0 and conn.state is ConnectionState.JOINED:
            self._last_rate_error = now
            conn.send_error(ErrorCode.RATE_LIMITED, "rate limited: message dropped")
            self.wake()

    def _join(self, event: Join | Reconnect) -> None:
        conn = self.connection
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
            self.close(CloseCode.FAILED_TO_RECONNECT if refused else exc.close_code, exc.message)
            return
        rate = float(room.max_messages_per_second)
        self._bucket = TokenBucket(rate, max(rate, 10.0), self.clock.now())
        self.server.metrics.joins += 1
        self.wake()

    # -- sending and closing ----------------------------------------------------------------------

    def drain(self) -> list[bytes | str]:
        """Frames to write now, in order (the member's state frame included when due)."""
        conn = self.connection
        client = self.client
        if client is not None and client.connection is conn:
            return client.drain()
        return conn.data_to_send()

    def close(self, code: int, reason: str) -> None:
        """Close from our side: the adapter writes what is queued, then the close."""
        self.connection.close(code, reason)
        self.wake()

    def check_timeouts(self, now: float) -> None:
        """Close the socket if a timeout ran out (call about twice a second)."""
        conn = self.connection
        if conn.state is ConnectionState.CLOSED:
            return
        settings = self.settings
        client = self.client
        if client is None or client.connection is not conn:
            if conn.state is ConnectionState.CONNECTING and now - self.opened > (
                settings.join_timeout
            ):
                self.close(CloseCode.IDLE_TIMEOUT, "no join received")
            return
        if now - self.last_seen > settings.idle_timeout:
            self.close(CloseCode.IDLE_TIMEOUT, "idle")
        elif self._late_acks(client, now):
            self.server.metrics.too_slow += 1
            self.close(CloseCode.TOO_SLOW, "too slow")

    def _late_acks(self, client: Client, now: float) -> bool:
        acked, since = self._ack_progress
        if client.acked_tick != acked:
            self._ack_progress = (client.acked_tick, now)
            return False
        outstanding = client.room.published_tick > max(client.acked_tick, 0)
        return outstanding and now - since > self.settings.ack_timeout

    def finish(self) -> None:
        """The socket is gone: tell the room (a drop, unless the client left on purpose) and
        count the close."""
        conn = self.connection
        client = self.client
        metrics = self.server.metrics
        consented = conn.state is ConnectionState.LEAVING or conn.close_code == CloseCode.CONSENTED
        if conn.state is not ConnectionState.CLOSED:
            conn.receive_close(NO_STATUS)
        code = conn.close_code or NO_STATUS
        metrics.disconnects[code] = metrics.disconnects.get(code, 0) + 1
        if client is not None:
            client.room._closed(client, conn, consented)
