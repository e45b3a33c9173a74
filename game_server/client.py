"""``Client``: the server's record of one member of one room, across its reconnections.

A client is created when a seat is reserved, becomes JOINED when its socket redeems the seat,
DROPPED when the socket goes away without a LEAVE (its seat is kept for the room's reconnection
grace), and LEFT for good. Game code reads ``session_id``, ``role``, ``auth``, ``options``,
``input`` and keeps its own things in ``user_data``; it talks to the client with ``send``,
``error`` and ``kick``.

The transport drives the other side: ``drain()`` returns the frames to write now (building the
member's state frame lazily, from its last baseline to the newest tick, so a slow reader gets one
catch-up patch instead of a backlog), and ``sink.wake()`` is how the room tells it to drain. On
each tick a transport may first ask ``state_to_send()``: the member's state frame alone, when it
is the only thing due (one call instead of a drain).

Must never: await, or hold a socket. It holds the sans-I/O ``protocol.Connection`` only.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Protocol

from protocol.codes import CloseCode, ErrorCode, Role
from protocol.connection import Connection
from protocol.messages import AppMessage
from protocol.state import ConnectionState

if TYPE_CHECKING:
    from game_server.room import Room
    from protocol.codec import StateFrame


class ClientStatus(enum.Enum):
    """Where a member is in its room."""

    __hash__ = object.__hash__  # members are singletons: identity hashing is C-fast

    RESERVED = "reserved"
    JOINED = "joined"
    DROPPED = "dropped"
    LEFT = "left"


class ClientSink(Protocol):
    """The transport's side of a member: told when there is something to write."""

    def wake(self) -> None:
        """Frames (or a newer state) are ready: call ``Client.drain()`` soon. Never blocks."""
        ...


class Client:
    """One member of a room (player or spectator). See the module docstring."""

    __slots__ = (
        "acked_tick",
        "auth",
        "connection",
        "dropped_at",
        "expires_at",
        "has_joined",
        "input",
        "inputs_dropped",
        "last_input_seq",
        "options",
        "pending_frames",
        "queued",
        "received_seq",
        "reconnect_token",
        "role",
        "room",
        "seat_token",
        "sent_tick",
        "session_id",
        "sink",
        "status",
        "user_data",
    )

    def __init__(
        self,
        room: Room,
        session_id: str,
        *,
        role: Role,
        options: dict[str, Any],
        seat_token: str,
        reconnect_token: str,
        expires_at: float,
    ) -> None:
        self.room = room
        self.session_id = session_id
        self.role = role
        self.options = options
        self.auth: Any = None
        """What ``Room.on_auth`` returned for this client."""
        self.user_data: dict[str, Any] = {}
        """Free for game code."""
        self.input: Any = None
        """The latest input payload processed (what the default ``on_input`` keeps)."""
        self.last_input_seq = 0
        """The sequence number of the last input processed; sent in every state frame."""
        self.status = ClientStatus.RESERVED
        self.has_joined = False
        """True once the seat was redeemed (then ``on_leave`` follows ``on_join``)."""
        self.seat_token = seat_token
        self.reconnect_token = reconnect_token
        self.expires_at = expires_at
        self.dropped_at: float | None = None
        self.connection: Connection | None = None
        self.sink: ClientSink | None = None
        self.sent_tick = -1
        """Tick of the last state handed to the transport (-1: none, a full state is next)."""
        self.acked_tick = -1
        """Last state tick the client acknowledged."""
        self.received_seq = 0
        """Highest input sequence number accepted (older or repeated inputs are ignored)."""
        self.queued = 0
        """Inputs, messages and requests waiting for the next tick."""
        self.inputs_dropped = 0
        self.pending_frames = 0

    @property
    def is_spectator(self) -> bool:
        """True for members that watch and send no input."""
        return self.role is Role.SPECTATOR

    @property
    def connected(self) -> bool:
        """True while a socket is attached and joined."""
        return self.connection is not None and self.connection.state is ConnectionState.JOINED

    def __repr__(self) -> str:
        return f"<Client {self.session_id} {self.role.name.lower()} {self.status.value}>"

    # -- for game code -----------------------------------------------------------------------

    def send(self, kind: str | int, payload: Any = None) -> None:
        """Send an application message to this client (dropped if it is not connected)."""
        conn = self.connection
        if conn is not None and conn.state is ConnectionState.JOINED:
            conn.send(AppMessage(kind, payload))
            self._queued_frame()

    def error(self, code: ErrorCode, message: str) -> None:
        """Send an ERROR frame; the connection stays open."""
        conn = self.connection
        if conn is not None and conn.state in (ConnectionState.JOINED, ConnectionState.JOINING):
            conn.send_error(code, message)
            self._queued_frame()

    def kick(self, code: int = CloseCode.KICKED, reason: str = "kicked") -> None:
        """Close this client's connection with ``code``; it leaves the room (not consented)."""
        self.room._kick(self, code, reason)

    # -- for the transport ---------------------------------------------------------------------

    def _queued_frame(self) -> None:
        self.pending_frames += 1
        if self.pending_frames > self.room.max_queued_frames and self.connection is not None:
            self.connection.close(CloseCode.TOO_SLOW, "too many frames queued")
        self.wake()

    def wake(self) -> None:
        """Tell the transport to drain this client."""
        if self.sink is not None:
            self.sink.wake()

    def state_to_send(self) -> bytes | str | None:
        """This member's state frame when a newer tick is published and nothing is queued before
        it: write it now, as one WebSocket message. None when no state is due, or when other
        frames wait (the state is then queued behind them): take ``drain()``.

        The publishing fast path: one call per member per tick instead of a drain."""
        conn = self.connection
        if conn is None:
            return None
        frame = self._due_frame(conn)
        if frame is None:
            return None
        data = conn.state_to_send(frame, self.last_input_seq)
        self.sent_tick = frame.tick  # only once the frame is encoded
        if data is not None:
            self.pending_frames = 0
        return data

    def drain(self) -> list[bytes | str]:
        """Every frame to write now, in order, each one WebSocket message.

        Builds the member's state frame if a newer tick is published. After draining, if
        ``connection.close_to_send`` is set, write the frames, then close the socket with it.
        """
        conn = self.connection
        if conn is None:
            return []
        frame = self._due_frame(conn)
        if frame is not None:
            conn.send_state(frame, self.last_input_seq)
            self.sent_tick = frame.tick  # only once the frame is encoded
        self.pending_frames = 0
        return conn.data_to_send()

    def _due_frame(self, conn: Connection) -> StateFrame | None:
        """The shared state frame from this member's baseline to the newest published tick, or
        None when none is due (not joined, or nothing newer). Ticks folded into it are counted
        as coalesced."""
        room = self.room
        sent = self.sent_tick
        if (
            room.published_tick <= sent
            or self.status is not ClientStatus.JOINED
            or conn.state is not ConnectionState.JOINED
        ):
            return None
        frame = room._state_frame(sent)
        if sent >= 0:
            skipped = (frame.tick - sent) // room.patch_rate - 1
            if skipped > 0:
                room.stats.frames_coalesced += skipped
        return frame
