"""Exceptions the server raises on purpose, under the project's one tree.

    TickroomError (protocol.errors)
    ├── RoomError                  a room refused or failed an operation
    │   ├── MatchmakeError         a seat could not be reserved; ``code`` is an ErrorCode
    │   │   ├── RoomFullError          ROOM_FULL
    │   │   ├── RoomNotFoundError      ROOM_NOT_FOUND
    │   │   ├── RoomLockedError        ROOM_LOCKED
    │   │   ├── AuthRefusedError       AUTH_FAILED (raised by ``Room.on_auth``)
    │   │   ├── SeatInvalidError       SEAT_INVALID (unknown, expired or reused token)
    │   │   ├── UnknownRoomTypeError   UNKNOWN_ROOM_TYPE
    │   │   ├── InvalidOptionsError    INVALID_OPTIONS
    │   │   └── RoomUnavailableError   UNAVAILABLE (shutting down, on_create failed, backend down)
    │   └── RequestRefusedError    a request handler's refusal: becomes a RESPONSE with ``code``
    └── ReplayDivergedError        a replay's state hash differs from the recording

    (game_server.backends.base.BackendUnavailableError is a ConnectionError, not in this tree: a
    backend raises it, and the registry turns it into RoomUnavailableError for its callers.)

Messages are short lower-case fragments; tests assert them verbatim. They may reach the client
(as an HTTP error body or an ERROR frame), so they never carry internal detail.
"""

from __future__ import annotations

from protocol.codes import CloseCode, ErrorCode
from protocol.errors import TickroomError


class RoomError(TickroomError):
    """Base of every room and registry error."""


class MatchmakeError(RoomError):
    """A seat could not be reserved. ``code`` goes into the HTTP error; ``close_code`` is used
    when the refusal happens on the socket instead."""

    code: ErrorCode = ErrorCode.ROOM_NOT_FOUND
    close_code: CloseCode = CloseCode.ROOM_NOT_FOUND
    http_status: int = 404

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RoomFullError(MatchmakeError):
    """The room has no free seat."""

    code = ErrorCode.ROOM_FULL
    close_code = CloseCode.ROOM_FULL
    http_status = 409


class RoomNotFoundError(MatchmakeError):
    """No room with that id (or no joinable room of that name)."""

    code = ErrorCode.ROOM_NOT_FOUND
    close_code = CloseCode.ROOM_NOT_FOUND
    http_status = 404


class RoomLockedError(MatchmakeError):
    """The room is locked: nobody new may join."""

    code = ErrorCode.ROOM_LOCKED
    close_code = CloseCode.ROOM_LOCKED
    http_status = 409


class AuthRefusedError(MatchmakeError):
    """``Room.on_auth`` refused the client; the message is the reason given."""

    code = ErrorCode.AUTH_FAILED
    close_code = CloseCode.AUTH_FAILED
    http_status = 403


class SeatInvalidError(MatchmakeError):
    """A seat or reconnect token that is unknown, expired or already used."""

    code = ErrorCode.SEAT_INVALID
    close_code = CloseCode.SEAT_INVALID
    http_status = 410


class UnknownRoomTypeError(MatchmakeError):
    """No room type was defined under that name."""

    code = ErrorCode.UNKNOWN_ROOM_TYPE
    close_code = CloseCode.ROOM_NOT_FOUND
    http_status = 404


class InvalidOptionsError(MatchmakeError):
    """The join options failed validation."""

    code = ErrorCode.INVALID_OPTIONS
    close_code = CloseCode.PROTOCOL_ERROR
    http_status = 422


class RoomUnavailableError(MatchmakeError):
    """The server cannot seat anyone right now: it is shutting down, or the new room's
    ``on_create`` failed. Try again later or elsewhere."""

    code = ErrorCode.UNAVAILABLE
    close_code = CloseCode.SERVER_SHUTDOWN
    http_status = 503


class RequestRefusedError(RoomError):
    """Raise in a request handler to answer with an error ``code`` and ``message``."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.NOT_ALLOWED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ReplayDivergedError(TickroomError):
    """A replayed match's state hash differs from the recording at ``tick``."""

    def __init__(self, tick: int, expected: str, actual: str) -> None:
        super().__init__(f"state diverged at tick {tick}: expected {expected}, got {actual}")
        self.tick = tick
        self.expected = expected
        self.actual = actual
