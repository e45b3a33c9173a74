"""The exception tree shared by the protocol, the server and the clients.

    TickroomError                      root: catch this to catch everything we raise
    ├── ProtocolError                  carries ``close_code`` (and ``error_code`` when one fits)
    │   ├── LocalProtocolError         *we* tried something illegal (a bug in the caller)
    │   └── RemoteProtocolError        the *peer* sent something illegal: close with close_code
    │       ├── FrameError             bytes that are not a valid frame (size, msgpack, fields)
    │       └── PatchError             a state delta that does not apply to the local state
    ├── StateError                     a value that cannot live in room state (also a TypeError)
    └── (game_server.errors adds RoomError, MatchmakeError, ... under TickroomError)

Messages are short lower-case fragments; tests assert them verbatim. Exception text is for logs
and close reasons: it never carries a traceback or internal detail to the peer.

Must never: import anything outside the standard library and ``protocol.codes``.
"""

from __future__ import annotations

from protocol.codes import CloseCode, ErrorCode


class TickroomError(Exception):
    """Root of every exception this project raises on purpose."""


class ProtocolError(TickroomError):
    """A violation of the wire protocol. ``close_code`` is what the connection should close with."""

    def __init__(
        self,
        message: str,
        close_code: CloseCode = CloseCode.PROTOCOL_ERROR,
        error_code: ErrorCode | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.close_code = close_code
        self.error_code = error_code


class LocalProtocolError(ProtocolError):
    """The local side tried to send something its current state forbids. Fix the caller."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol. Close the connection with ``close_code``; the reason is
    ``message``. Events decoded before the bad frame stay available."""


class FrameError(RemoteProtocolError):
    """Bytes that do not form a valid frame: too big, not msgpack, unknown type, bad fields."""


class PatchError(RemoteProtocolError):
    """A state delta or snapshot that cannot be applied to the receiver's state."""


class StateError(TickroomError, TypeError):
    """A value that room state cannot hold (only maps with string keys, lists, numbers, strings,
    booleans and None), or a tracked container used in two places at once."""
