"""One frozen, slotted dataclass per message, validated when constructed.

Owns: the fields of every message, their order on the wire (the dataclass field order), and the
checks every value must pass. A message that exists was valid when it was built, so the server,
the clients and the codec never re-check fields.

Must never: encode, decode, or know about connections. ``protocol.codec`` maps these classes to
bytes; ``protocol.state`` says who may send which one when.

Construction raises ``FrameError`` (close code 4013) because the only untrusted constructor is the
decoder; local callers passing bad values get the same exception with a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeAlias, TypeGuard

from protocol.codes import ErrorCode, MessageType, Role
from protocol.errors import FrameError

MAX_SAFE_INT = 2**53 - 1
"""Largest integer every client (JavaScript included) represents exactly."""
MAX_TOKEN_LENGTH = 128
MAX_KIND_LENGTH = 64
MAX_TEXT_LENGTH = 1024
MAX_PAYLOAD_DEPTH = 32

PlainValue: TypeAlias = Any
"""A msgpack-able tree: None, bool, int, float, str, bytes, lists, and maps keyed by str or int."""


def _is_int(value: object) -> TypeGuard[int]:
    """True for ints, code enums (``ErrorCode.ROOM_FULL``) included, and False for bools."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_uint(value: object, name: str) -> None:
    """Raise FrameError unless ``value`` is an int (not a bool) in 0..2**53-1."""
    if not _is_int(value) or not 0 <= value <= MAX_SAFE_INT:
        raise FrameError(f"{name} must be an integer in 0..2**53-1")


def check_int(value: object, name: str) -> None:
    """Raise FrameError unless ``value`` is an int (not a bool) in -(2**53-1)..2**53-1."""
    if not _is_int(value) or not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
        raise FrameError(f"{name} must be an integer in -(2**53-1)..2**53-1")


def check_number(value: object, name: str) -> None:
    """Raise FrameError unless ``value`` is an int or a float (not a bool)."""
    if type(value) not in (int, float):
        raise FrameError(f"{name} must be a number")


def check_str(value: object, name: str, max_length: int, *, empty: bool = False) -> None:
    """Raise FrameError unless ``value`` is a str of at most ``max_length`` characters."""
    if type(value) is not str or len(value) > max_length or (not empty and not value):
        raise FrameError(f"{name} must be a string of 1..{max_length} characters")


def check_kind(value: object, name: str = "kind") -> None:
    """A message kind is a short string or a non-negative integer."""
    if _is_int(value):
        check_uint(value, name)
    else:
        check_str(value, name, MAX_KIND_LENGTH)


_FLAT = frozenset({type(None), bool, float, str, bytes})
"""Scalars that are plain whatever their value (ints need a range check)."""
_KEYS = frozenset({str, int})


def check_plain(value: object, name: str = "payload", depth: int = 0) -> None:
    """Raise FrameError unless ``value`` is a plain msgpack tree no deeper than 32 levels."""
    kind = type(value)
    if kind in _FLAT:
        return
    if kind is int:
        if not -(2**63) <= value < 2**64:  # type: ignore[operator]
            raise FrameError(f"{name} holds an integer out of range")
        return
    if depth >= MAX_PAYLOAD_DEPTH:
        raise FrameError(f"{name} is nested too deeply")
    if kind is dict:
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) not in _KEYS:
                raise FrameError(f"{name} has a map key that is not a string or integer")
            if type(item) not in _FLAT:  # floats, strings... need no call (inputs are flat maps)
                check_plain(item, name, depth + 1)
        return
    if kind is list or kind is tuple:
        for item in value:  # type: ignore[attr-defined]
            check_plain(item, name, depth + 1)
        return
    raise FrameError(f"{name} holds a {kind.__name__}, which is not plain data")


def check_map(value: object, name: str) -> None:
    """Raise FrameError unless ``value`` is a map (its contents are checked where applied)."""
    if type(value) is not dict:
        raise FrameError(f"{name} must be a map")


@dataclass(frozen=True, slots=True)
class Message:
    """Base of every message. ``TYPE`` is the frame's first byte, ``NAME`` its JSON ``type``."""

    TYPE: ClassVar[MessageType]
    NAME: ClassVar[str]
    FIELDS: ClassVar[tuple[str, ...]] = ()

    def to_wire(self) -> list[Any]:
        """The message's fields, in wire order."""
        return [getattr(self, name) for name in self.FIELDS]


# -- client -> server -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Join(Message):
    """Redeem a seat reservation: the first frame a joining client sends."""

    version: int
    token: str

    def __post_init__(self) -> None:
        check_uint(self.version, "version")
        check_str(self.token, "token", MAX_TOKEN_LENGTH)


@dataclass(frozen=True, slots=True)
class Reconnect(Message):
    """Resume a seat after a drop: the first frame a reconnecting client sends.

    ``last_tick`` is the last state tick the client applied, or -1 when it has none; the server
    answers with one patch from that baseline, or a full state.
    """

    version: int
    token: str
    last_tick: int

    def __post_init__(self) -> None:
        check_uint(self.version, "version")
        check_str(self.token, "token", MAX_TOKEN_LENGTH)
        if not (_is_int(self.last_tick) and self.last_tick == -1):
            check_uint(self.last_tick, "last_tick")


@dataclass(frozen=True, slots=True)
class Leave(Message):
    """Leave the room on purpose (a consented leave: the seat is not kept)."""


@dataclass(frozen=True, slots=True)
class Input(Message):
    """One input for the authoritative tick. ``seq`` starts at 1 and grows by one per input."""

    seq: int
    payload: PlainValue

    def __post_init__(self) -> None:
        check_uint(self.seq, "seq")
        check_plain(self.payload)


@dataclass(frozen=True, slots=True)
class Ack(Message):
    """The last state tick the client applied."""

    tick: int

    def __post_init__(self) -> None:
        check_uint(self.tick, "tick")


@dataclass(frozen=True, slots=True)
class Request(Message):
    """A message that expects one RESPONSE with the same ``id``."""

    id: int
    kind: str | int
    payload: PlainValue

    def __post_init__(self) -> None:
        check_uint(self.id, "id")
        check_kind(self.kind)
        check_plain(self.payload)


# -- both directions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppMessage(Message):
    """An application message: a kind (short string or integer) and a plain payload."""

    kind: str | int
    payload: PlainValue

    def __post_init__(self) -> None:
        check_kind(self.kind)
        check_plain(self.payload)


@dataclass(frozen=True, slots=True)
class Ping(Message):
    """Ask the peer for a PONG. ``time`` is the sender's clock in milliseconds."""

    time: float

    def __post_init__(self) -> None:
        check_number(self.time, "time")


@dataclass(frozen=True, slots=True)
class Pong(Message):
    """Answer to PING: ``time`` echoed, ``peer_time`` the answering side's clock in ms."""

    time: float
    peer_time: float

    def __post_init__(self) -> None:
        check_number(self.time, "time")
        check_number(self.peer_time, "peer_time")


# -- server -> client ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Welcome(Message):
    """The server accepted the join. State frames follow, starting with FULL_STATE (or a PATCH
    from the ``last_tick`` a RECONNECT named)."""

    version: int
    room_id: str
    session_id: str
    reconnect_token: str
    tick_rate: float
    patch_rate: int
    tick: int
    role: int
    schema: list[Any]

    def __post_init__(self) -> None:
        check_uint(self.version, "version")
        check_str(self.room_id, "room_id", MAX_TOKEN_LENGTH)
        check_str(self.session_id, "session_id", MAX_TOKEN_LENGTH)
        check_str(self.reconnect_token, "reconnect_token", MAX_TOKEN_LENGTH, empty=True)
        check_number(self.tick_rate, "tick_rate")
        if not self.tick_rate > 0:
            raise FrameError("tick_rate must be positive")
        check_uint(self.patch_rate, "patch_rate")
        if self.patch_rate < 1:
            raise FrameError("patch_rate must be at least 1")
        check_uint(self.tick, "tick")
        if not _is_int(self.role) or self.role not in tuple(Role):
            raise FrameError("role must be 0 (player) or 1 (spectator)")
        if type(self.schema) is not list:
            raise FrameError("schema must be a list")


@dataclass(frozen=True, slots=True)
class FullState(Message):
    """The whole room state at ``tick``; ``last_seq`` is the last input the server processed
    for this client (0 when none)."""

    tick: int
    last_seq: int
    state: dict[str, Any]

    def __post_init__(self) -> None:
        check_uint(self.tick, "tick")
        check_uint(self.last_seq, "last_seq")
        check_map(self.state, "state")


@dataclass(frozen=True, slots=True)
class Patch(Message):
    """The changes from state at ``baseline`` to state at ``tick`` (a delta, protocol/diff.py)."""

    tick: int
    baseline: int
    last_seq: int
    delta: dict[str, Any]

    def __post_init__(self) -> None:
        check_uint(self.tick, "tick")
        check_uint(self.baseline, "baseline")
        if self.baseline >= self.tick:
            raise FrameError("baseline must be older than tick")
        check_uint(self.last_seq, "last_seq")
        check_map(self.delta, "delta")


@dataclass(frozen=True, slots=True)
class Response(Message):
    """The answer to REQUEST ``id``: ``code`` 0 and a result, or an ErrorCode and a message."""

    id: int
    code: int
    payload: PlainValue

    def __post_init__(self) -> None:
        check_uint(self.id, "id")
        check_uint(self.code, "code")
        check_plain(self.payload)


@dataclass(frozen=True, slots=True)
class Error(Message):
    """Something the client sent was refused; the connection stays open."""

    code: int
    message: str

    def __post_init__(self) -> None:
        check_uint(self.code, "code")
        check_str(self.message, "message", MAX_TEXT_LENGTH, empty=True)

    @property
    def error_code(self) -> ErrorCode | None:
        """The code as an ErrorCode, or None for a code this version does not know."""
        try:
            return ErrorCode(self.code)
        except ValueError:
            return None


MESSAGE_CLASSES: dict[MessageType, type[Message]] = {}
MESSAGE_NAMES: dict[str, type[Message]] = {}


def _register(cls: type[Message], type_: MessageType, name: str) -> None:
    cls.TYPE = type_
    cls.NAME = name
    cls.FIELDS = tuple(f.name for f in fields(cls))
    MESSAGE_CLASSES[type_] = cls
    MESSAGE_NAMES[name] = cls


for _cls, _type, _name in (
    (Join, MessageType.JOIN, "join"),
    (Reconnect, MessageType.RECONNECT, "reconnect"),
    (Leave, MessageType.LEAVE, "leave"),
    (Input, MessageType.INPUT, "input"),
    (Ack, MessageType.ACK, "ack"),
    (AppMessage, MessageType.MESSAGE, "message"),
    (Request, MessageType.REQUEST, "request"),
    (Ping, MessageType.PING, "ping"),
    (Pong, MessageType.PONG, "pong"),
    (Welcome, MessageType.WELCOME, "welcome"),
    (FullState, MessageType.FULL_STATE, "full_state"),
    (Patch, MessageType.PATCH, "patch"),
    (Response, MessageType.RESPONSE, "response"),
    (Error, MessageType.ERROR, "error"),
):
    _register(_cls, _type, _name)
