"""``Connection``: one end of one client-room connection, with no I/O (sans-I/O).

Drive it like the ``websockets`` library's protocol objects::

    conn = Connection(Side.SERVER)
    conn.receive_data(message_bytes)        # bytes from the socket (or a JSON text message)
    for event in conn.events_received():    # messages, then ConnectionClosed
        ...
    conn.send(Welcome(...))                 # or a send_* shortcut
    for outgoing in conn.data_to_send():    # one WebSocket message each
        ...
    if conn.close_to_send: ...              # (code, reason) the transport must close with

Owns: framing for one connection (via ``protocol.codec``), enforcement of the transition table
in ``protocol.state``, the protocol-version check, and the close handshake bookkeeping.

Must never: await, touch sockets, or know about rooms, ticks or game state. The server's
transport adapter, the Python client and the headless simulations all use this same class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocol.codec import (
    CLIENT_MAX_SIZE,
    DEFAULT_MAX_SIZE,
    FrameDecoder,
    StateFrame,
    decode_ack,
    decode_input,
    decode_json,
    encode,
    encode_json,
)
from protocol.codes import (
    PROTOCOL_VERSION,
    SUBPROTOCOL_JSON,
    SUBPROTOCOL_MSGPACK,
    SUBPROTOCOLS,
    CloseCode,
    MessageType,
)
from protocol.errors import FrameError, LocalProtocolError, RemoteProtocolError
from protocol.messages import (
    Ack,
    AppMessage,
    Error,
    Input,
    Join,
    Leave,
    Message,
    Ping,
    PlainValue,
    Pong,
    Reconnect,
    Request,
    Response,
    Welcome,
)
from protocol.state import ConnectionState, Side, next_state


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The connection is closed; ``by_peer`` tells who closed it. Always the last event."""

    code: int
    reason: str
    by_peer: bool


Event = Message | ConnectionClosed

_JOINED = ConnectionState.JOINED
_VERSIONED = frozenset({Join, Reconnect, Welcome})
"""Messages that carry the protocol version."""

MAX_CLOSE_REASON = 123
"""Bytes of UTF-8 a WebSocket close reason may hold (RFC 6455, section 5.5: 125 minus the code)."""


def _close_reason(reason: str) -> str:
    """``reason`` cut to fit a close frame; error messages may quote what the peer sent."""
    data = reason.encode(errors="replace")
    if len(data) <= MAX_CLOSE_REASON:
        return reason
    return data[:MAX_CLOSE_REASON].decode(errors="ignore")


class Connection:
    """One end of a connection. See the module docstring for how to drive it."""

    __slots__ = (  # read on every frame (the fast paths' C too): at fixed offsets, no dict
        "__weakref__",
        "_binary_server",
        "_decoder",
        "_events",
        "_outgoing",
        "_peer",
        "close_code",
        "close_to_send",
        "is_json",
        "max_size",
        "side",
        "state",
        "subprotocol",
    )

    def __init__(
        self,
        side: Side,
        *,
        subprotocol: str = SUBPROTOCOL_MSGPACK,
        max_size: int | None = None,
    ) -> None:
        if subprotocol not in SUBPROTOCOLS:
            raise LocalProtocolError(f"unknown subprotocol {subprotocol!r}")
        self.side = side
        self._peer = side.peer
        self.subprotocol = subprotocol
        self.is_json = subprotocol == SUBPROTOCOL_JSON
        self._binary_server = side is Side.SERVER and not self.is_json
        self.max_size = max_size or (DEFAULT_MAX_SIZE if side is Side.SERVER else CLIENT_MAX_SIZE)
        self.state = ConnectionState.CONNECTING
        self.close_to_send: tuple[int, str] | None = None
        """Set when this end closed: the transport must close the socket with this code."""
        self.close_code: int | None = None
        self._decoder = FrameDecoder(self.max_size)
        self._events: list[Event] = []
        self._outgoing: list[bytes | str] = []

    # -- receiving --------------------------------------------------------------------------------

    def receive_data(self, data: bytes | str) -> None:
        """Feed one WebSocket message (bytes, or str on the JSON subprotocol) from the peer.

        Raises RemoteProtocolError (a FrameError for bad bytes) when the peer broke the
        protocol: the connection is then closed, ``close_to_send`` holds the code to close the
        socket with, and messages decoded before the bad frame are still in ``events_received``.
        Data arriving after the connection closed is ignored.
        """
        if self.state is ConnectionState.CLOSED:
            return
        try:
            if self.is_json:
                if not isinstance(data, str):
                    raise FrameError("binary frames need the msgpack subprotocol")
                self._receive(decode_json(data, self.max_size))
            else:
                if type(data) is not bytes and not isinstance(data, bytearray | memoryview):
                    raise FrameError("text frames need the json subprotocol")
                self._receive_binary(data)
        except RemoteProtocolError as exc:
            self._fail(exc)
            raise

    def receive_input(self, data: bytes) -> tuple[int, PlainValue] | None:
        """The server's fast path for one WebSocket message holding exactly one valid INPUT
        while joined: returns its ``(seq, payload)`` (an INPUT changes no state, so nothing else
        is recorded and no event is queued). Returns None for anything else: then feed ``data``
        to ``receive_data``, which accepts or refuses it as it always does."""
        return decode_input(data) if self._whole_frames() else None

    def receive_ack(self, data: bytes) -> int | None:
        """The server's fast path for one WebSocket message holding exactly one ACK while
        joined: returns its tick (an ACK changes no state: nothing is recorded). None for
        anything else: then feed ``data`` to ``receive_data`` (see ``receive_input``)."""
        return decode_ack(data) if self._whole_frames() else None

    def _whole_frames(self) -> bool:
        """Whether the next message holds whole frames of its own, for the fast paths: a
        joined server on msgpack with nothing buffered."""
        decoder = self._decoder
        return (
            self.state is _JOINED
            and self._binary_server
            and decoder._fed == decoder._frame_start  # not decoder.buffered, without the call
        )

    def _receive_binary(self, data: bytes) -> None:
        # Frames decoded before a bad frame pass through the transition table like any other:
        # the first violation in stream order is the one reported.
        error: FrameError | None = None
        try:
            self._decoder.feed(data)
        except FrameError as exc:
            error = exc
        for message in self._decoder.messages():
            self._receive(message)
        if error is not None:
            raise error

    def _receive(self, message: Message) -> None:
        peer = self._peer
        target = next_state(self.state, peer, message.TYPE)
        if target is None:
            raise RemoteProtocolError(
                f"{message.NAME} from the {peer.value} is not allowed while {self.state.value}"
            )
        if type(message) in _VERSIONED:
            version = message.version  # type: ignore[attr-defined]
            if version != PROTOCOL_VERSION:
                raise RemoteProtocolError(
                    f"unsupported protocol version {version}", CloseCode.UNSUPPORTED_VERSION
                )
        self.state = target
        self._events.append(message)

    def _fail(self, exc: RemoteProtocolError) -> None:
        self.close(exc.close_code, exc.message)  # close() does nothing once closed

    def receive_close(self, code: int, reason: str = "") -> None:
        """The socket closed (by the peer, or dropped: use 1006). Adds ConnectionClosed."""
        if self.state is ConnectionState.CLOSED:
            return
        self.state = ConnectionState.CLOSED
        self.close_code = code
        self._events.append(ConnectionClosed(code, reason, by_peer=True))

    def events_received(self) -> list[Event]:
        """Events since the last call, in order. Handle every one."""
        events, self._events = self._events, []
        return events

    # -- sending ---------------------------------------------------------------------------------

    def _next(self, message_type: MessageType) -> ConnectionState:
        target = next_state(self.state, self.side, message_type)
        if target is None:
            raise LocalProtocolError(
                f"the {self.side.value} cannot send {message_type.name.lower()} "
                f"while {self.state.value}"
            )
        return target

    def _queue(self, target: ConnectionState, data: bytes | str) -> None:
        # The state moves only once the frame is encoded: a frame that fails to encode is not sent.
        self.state = target
        self._outgoing.append(data)

    def send(self, message: Message) -> None:
        """Queue ``message``; take the bytes with ``data_to_send()``. LocalProtocolError if the
        current state forbids it."""
        target = self._next(message.TYPE)
        self._queue(target, encode_json(message) if self.is_json else encode(message))

    def send_shared(self, message: Message, frame: bytes) -> None:
        """Queue ``message`` whose binary frame ``frame`` was encoded once for many members
        (``encode(message)``); JSON connections encode their own text frame."""
        target = self._next(message.TYPE)
        self._queue(target, encode_json(message) if self.is_json else frame)

    def send_state(self, frame: StateFrame, last_seq: int) -> None:
        """Queue a shared FULL_STATE or PATCH frame for this member (no re-encoding in msgpack)."""
        self._queue(*self._state_data(frame, last_seq))

    def state_to_send(self, frame: StateFrame, last_seq: int) -> bytes | str | None:
        """``send_state`` for the commonest case, a member with nothing else queued: returns the
        frame to write now instead of queueing it. When other frames wait, the state is queued
        behind them and None is returned: then take ``data_to_send()``."""
        if self.state is _JOINED and self._binary_server and not self._outgoing:
            return frame.for_member(last_seq)  # a server's state frame leaves JOINED as it is
        if self._outgoing:
            self.send_state(frame, last_seq)
            return None
        target, data = self._state_data(frame, last_seq)
        self.state = target  # only once the frame is encoded, as in _queue
        return data

    def _state_data(self, frame: StateFrame, last_seq: int) -> tuple[ConnectionState, bytes | str]:
        """The state this frame moves to and the member's encoded frame (LocalProtocolError if
        the current state forbids it)."""
        target = self._next(frame.message_type)
        if self.is_json:
            return target, encode_json(frame.to_message(last_seq))
        return target, frame.for_member(last_seq)

    def data_to_send(self) -> list[bytes | str]:
        """Frames queued since the last call: send each as one WebSocket message, in order."""
        out, self._outgoing = self._outgoing, []
        return out

    def close(self, code: int, reason: str = "") -> None:
        """Close from this end. The transport must then close the socket with
        ``close_to_send``. Closing a closed connection does nothing."""
        if self.state is ConnectionState.CLOSED:
            return
        reason = _close_reason(reason)
        self.state = ConnectionState.CLOSED
        self.close_code = code
        self.close_to_send = (code, reason)
        self._events.append(ConnectionClosed(code, reason, by_peer=False))

    # -- shortcuts, client side ----------------------------------------------------------------

    def send_join(self, token: str) -> None:
        """Redeem a seat token (first frame of a new session)."""
        self.send(Join(PROTOCOL_VERSION, token))

    def send_reconnect(self, token: str, last_tick: int = -1) -> None:
        """Resume a session with its reconnect token and the last state tick applied."""
        self.send(Reconnect(PROTOCOL_VERSION, token, last_tick))

    def send_input(self, seq: int, payload: PlainValue) -> None:
        """Send input number ``seq`` (1, 2, 3, ...)."""
        self.send(Input(seq, payload))

    def send_ack(self, tick: int) -> None:
        """Acknowledge the last state tick applied."""
        self.send(Ack(tick))

    def send_request(self, request_id: int, kind: str | int, payload: PlainValue) -> None:
        """Send a request; the answer is a Response with the same id."""
        self.send(Request(request_id, kind, payload))

    def send_leave(self) -> None:
        """Leave on purpose; then close with CloseCode.CONSENTED once the server has closed."""
        self.send(Leave())

    # -- shortcuts, both sides -----------------------------------------------------------------

    def send_message(self, kind: str | int, payload: PlainValue = None) -> None:
        """Send an application message."""
        self.send(AppMessage(kind, payload))

    def send_ping(self, time_ms: float) -> None:
        """Ask for a Pong; ``time_ms`` is this side's clock."""
        self.send(Ping(time_ms))

    def send_pong(self, ping: Ping, time_ms: float) -> None:
        """Answer ``ping``; ``time_ms`` is this side's clock."""
        self.send(Pong(ping.time, time_ms))

    # -- shortcuts, server side ----------------------------------------------------------------

    def send_welcome(self, **fields: Any) -> None:
        """Accept the join: the fields of ``Welcome`` except ``version``."""
        self.send(Welcome(version=PROTOCOL_VERSION, **fields))

    def send_response(self, request_id: int, code: int, payload: PlainValue) -> None:
        """Answer a request: code 0 and a result, or an ErrorCode and a message."""
        self.send(Response(request_id, code, payload))

    def send_error(self, code: int, message: str) -> None:
        """Refuse something the client sent, keeping the connection open."""
        self.send(Error(code, message))
