"""The one source of truth for every number on the wire.

Owns: the protocol version, the WebSocket subprotocol names, message type codes (one byte, below
128), close codes (4000 and up), error codes carried in ERROR frames and HTTP refusals, and the
role and patch-operation codes. The browser client mirrors these values in
``clients/browser/codes.js``; a test compares the two files.

Must never: import anything but the standard library, or hold behaviour. Change a value here only
together with ``PROTOCOL_VERSION`` and ``docs/protocol.md``.
"""

from __future__ import annotations

from enum import IntEnum

PROTOCOL_VERSION = 2
"""Bumped on any incompatible change to frames, fields or codes (see docs/protocol.md)."""

SUBPROTOCOL_MSGPACK = "tickroom.v2.msgpack"
"""Default subprotocol: binary WebSocket messages holding msgpack frames."""

SUBPROTOCOL_JSON = "tickroom.v2.json"
"""Debug subprotocol: text WebSocket messages holding one JSON object per frame."""

SUBPROTOCOLS = (SUBPROTOCOL_MSGPACK, SUBPROTOCOL_JSON)


class MessageType(IntEnum):
    """First byte of every binary frame (a msgpack positive fixint, so always below 128)."""

    # client -> server
    JOIN = 1
    RECONNECT = 2
    LEAVE = 3
    INPUT = 4
    ACK = 5
    REQUEST = 7
    # both directions
    MESSAGE = 6
    PING = 8
    PONG = 9
    # server -> client
    WELCOME = 64
    FULL_STATE = 65
    PATCH = 66
    RESPONSE = 67
    ERROR = 68


class CloseCode(IntEnum):
    """WebSocket close codes used by the server (and by a client leaving on purpose).

    Codes from 4000 are application codes (RFC 6455, section 7.4.2). ``docs/protocol.md`` says
    when each one is sent and whether a client should try to reconnect.
    """

    CONSENTED = 4000
    SERVER_SHUTDOWN = 4001
    INTERNAL_ERROR = 4002
    MAY_TRY_RECONNECT = 4003
    FAILED_TO_RECONNECT = 4004
    SEAT_INVALID = 4005
    ROOM_FULL = 4006
    ROOM_NOT_FOUND = 4007
    ROOM_LOCKED = 4008
    KICKED = 4009
    MESSAGE_TOO_BIG = 4010
    RATE_LIMITED = 4011
    TOO_SLOW = 4012
    PROTOCOL_ERROR = 4013
    UNSUPPORTED_VERSION = 4014
    ROOM_DISPOSED = 4015
    AUTH_FAILED = 4016
    IDLE_TIMEOUT = 4017


RECONNECTABLE_CLOSE_CODES = frozenset(
    {CloseCode.SERVER_SHUTDOWN, CloseCode.MAY_TRY_RECONNECT, CloseCode.INTERNAL_ERROR}
)
"""Close codes after which a client may try its reconnect token. Any close that is not an
application code (a dropped TCP connection, 1006) is reconnectable too."""


class ErrorCode(IntEnum):
    """Codes carried in ERROR frames, RESPONSE failures and HTTP matchmaking refusals."""

    INVALID_PAYLOAD = 1
    UNKNOWN_MESSAGE = 2
    NOT_ALLOWED = 3
    RATE_LIMITED = 4
    HANDLER_FAILED = 5
    ROOM_FULL = 6
    ROOM_NOT_FOUND = 7
    ROOM_LOCKED = 8
    AUTH_FAILED = 9
    SEAT_INVALID = 10
    UNKNOWN_ROOM_TYPE = 11
    REQUEST_TIMEOUT = 12
    INVALID_OPTIONS = 13
    UNAVAILABLE = 14


class Role(IntEnum):
    """What a member is in its room, announced in WELCOME."""

    PLAYER = 0
    SPECTATOR = 1


class PatchOp(IntEnum):
    """Tag in the first element of an array entry of a state delta (see protocol/diff.py)."""

    DELETE = 0
    REPLACE = 1
    LIST = 2
    MAP = 3
    """A map edited in place with grouped entries: ``[3, delta, group, ...]``."""


class PrecisionKind(IntEnum):
    """How a declared numeric field travels (see protocol/schema.py)."""

    QUANTIZED = 1
    FLOAT32 = 2
    QUANTIZED_RELATIVE = 3
