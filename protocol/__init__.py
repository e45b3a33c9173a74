"""The tickroom wire protocol, sans-I/O: codes, messages, codec, connection state, state diffs.

Everything here is pure: it imports no asyncio, socket, starlette, fastapi, uvicorn or websockets
code, so the server, the Python client and headless simulations drive the very same objects.
See docs/protocol.md for the byte-level description.
"""

from protocol.codec import StateFrame, decode, decode_json, encode, encode_json
from protocol.codes import (
    PROTOCOL_VERSION,
    SUBPROTOCOL_JSON,
    SUBPROTOCOL_MSGPACK,
    CloseCode,
    ErrorCode,
    MessageType,
    Role,
)
from protocol.connection import Connection, ConnectionClosed, Event
from protocol.errors import (
    FrameError,
    LocalProtocolError,
    PatchError,
    ProtocolError,
    RemoteProtocolError,
    StateError,
    TickroomError,
)
from protocol.state import ConnectionState, Side

__all__ = [
    "PROTOCOL_VERSION",
    "SUBPROTOCOL_JSON",
    "SUBPROTOCOL_MSGPACK",
    "CloseCode",
    "Connection",
    "ConnectionClosed",
    "ConnectionState",
    "ErrorCode",
    "Event",
    "FrameError",
    "LocalProtocolError",
    "MessageType",
    "PatchError",
    "ProtocolError",
    "RemoteProtocolError",
    "Role",
    "Side",
    "StateError",
    "StateFrame",
    "TickroomError",
    "decode",
    "decode_json",
    "encode",
    "encode_json",
]
