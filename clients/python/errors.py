"""Exceptions the Python client raises, under the project's one tree.

    TickroomError (protocol.errors)
    └── ClientError                     anything the client raises on purpose
        ├── MatchmakeError              a seat was refused; ``code`` is an ErrorCode (0: unknown)
        │   ├── RoomFullError               ROOM_FULL
        │   ├── RoomNotFoundError           ROOM_NOT_FOUND
        │   ├── RoomLockedError             ROOM_LOCKED
        │   ├── AuthFailedError             AUTH_FAILED
        │   ├── SeatExpiredError            SEAT_INVALID (expired, reused or unknown token)
        │   ├── UnknownRoomTypeError        UNKNOWN_ROOM_TYPE
        │   └── InvalidOptionsError         INVALID_OPTIONS
        ├── ServerUnavailableError      the HTTP endpoint or the room socket could not be reached
        ├── DisconnectedError           the room connection ended for good; ``close_code``
        │   └── ReconnectFailedError        every reconnection attempt failed
        └── RequestError                a REQUEST answered with an error ``code``
            └── RequestTimeoutError         no RESPONSE in time (also a TimeoutError)

A refusal can come from the HTTP matchmaker (an ``{"error": {...}}`` body) or, once the socket
is open, as a close code (``CloseCode.ROOM_FULL`` ...): both map to the same MatchmakeError
subclass, so ``except RoomFullError`` works whichever way the server said it.

Must never: import ``game_server`` (the client runs without the server installed), or put
anything but short lower-case fragments in messages; tests assert them verbatim.
"""

from __future__ import annotations

from protocol.codes import RECONNECTABLE_CLOSE_CODES, CloseCode, ErrorCode
from protocol.errors import TickroomError

ABNORMAL_CLOSURE = 1006
"""The close code of a connection that dropped without a close frame."""


class ClientError(TickroomError):
    """Root of every exception the client raises on purpose."""


class MatchmakeError(ClientError):
    """A seat could not be reserved or redeemed.

    ``code`` is the ErrorCode the server gave (0 when it gave none), ``status`` the HTTP status
    (0 when the refusal came as a close code), ``close_code`` the WebSocket close code (None when
    it came over HTTP).
    """

    error_code: ErrorCode | None = None

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        status: int = 0,
        close_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = int(code if code is not None else (self.error_code or 0))
        self.status = status
        self.close_code = close_code


class RoomFullError(MatchmakeError):
    """The room has no free seat."""

    error_code = ErrorCode.ROOM_FULL


class RoomNotFoundError(MatchmakeError):
    """No such room, or no joinable room of that type."""

    error_code = ErrorCode.ROOM_NOT_FOUND


class RoomLockedError(MatchmakeError):
    """The room is locked against new joins."""

    error_code = ErrorCode.ROOM_LOCKED


class AuthFailedError(MatchmakeError):
    """The room refused the credentials in the join options."""

    error_code = ErrorCode.AUTH_FAILED


class SeatExpiredError(MatchmakeError):
    """The seat reservation (or reconnect token) is unknown, expired or already used."""

    error_code = ErrorCode.SEAT_INVALID


class UnknownRoomTypeError(MatchmakeError):
    """The server defines no room type of that name."""

    error_code = ErrorCode.UNKNOWN_ROOM_TYPE


class InvalidOptionsError(MatchmakeError):
    """The join options failed the room's validation."""

    error_code = ErrorCode.INVALID_OPTIONS


class ServerUnavailableError(ClientError):
    """The server could not be reached, or answered with something that is not tickroom."""


class DisconnectedError(ClientError):
    """The connection to the room ended and will not be resumed.

    ``close_code`` is the WebSocket close code (1006 for a dropped connection), ``reason`` the
    server's close reason.
    """

    def __init__(self, message: str, close_code: int, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.close_code = close_code
        self.reason = reason


class ReconnectFailedError(DisconnectedError):
    """The connection dropped and no reconnection attempt succeeded."""


class RequestError(ClientError):
    """A request was answered with an error. ``code`` is the ErrorCode, ``message`` the
    server's explanation."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class RequestTimeoutError(RequestError, TimeoutError):
    """No response arrived within the request's timeout."""

    def __init__(self, message: str = "request timed out") -> None:
        super().__init__(message, ErrorCode.REQUEST_TIMEOUT)


_BY_ERROR_CODE: dict[int, type[MatchmakeError]] = {
    cls.error_code: cls
    for cls in (
        RoomFullError,
        RoomNotFoundError,
        RoomLockedError,
        AuthFailedError,
        SeatExpiredError,
        UnknownRoomTypeError,
        InvalidOptionsError,
    )
    if cls.error_code is not None
}

_BY_CLOSE_CODE: dict[int, type[MatchmakeError]] = {
    CloseCode.SEAT_INVALID: SeatExpiredError,
    CloseCode.FAILED_TO_RECONNECT: SeatExpiredError,
    CloseCode.ROOM_FULL: RoomFullError,
    CloseCode.ROOM_NOT_FOUND: RoomNotFoundError,
    CloseCode.ROOM_LOCKED: RoomLockedError,
    CloseCode.AUTH_FAILED: AuthFailedError,
}


def matchmake_error(code: int, message: str, status: int = 0) -> MatchmakeError:
    """The MatchmakeError subclass for an HTTP refusal with ErrorCode ``code``."""
    cls = _BY_ERROR_CODE.get(code, MatchmakeError)
    return cls(message, code=code, status=status)


def join_refused(close_code: int, reason: str) -> ClientError:
    """What a close *before* WELCOME means: a refused seat (a MatchmakeError subclass) for the
    seat close codes, otherwise a DisconnectedError."""
    cls = _BY_CLOSE_CODE.get(close_code)
    if cls is not None:
        return cls(reason or "seat refused", close_code=close_code)
    return DisconnectedError(reason or "connection closed while joining", close_code, reason)


def is_reconnectable(close_code: int) -> bool:
    """Whether a session may be resumed after a close with ``close_code``: a reconnectable
    application code, or any code that is not an application code (1006, 1001, 1011, ...)."""
    return close_code in RECONNECTABLE_CLOSE_CODES or not 4000 <= close_code <= 4999
