"""Frames to bytes and back: binary msgpack frames and the JSON debug variant.

A binary frame is one type byte (a msgpack positive fixint, below 128) followed by one msgpack
value: an array of the message's fields in order. Frames are self-delimiting, so a WebSocket
message may carry several back to back and a byte stream may be cut anywhere. A JSON frame is one
text message holding ``{"type": "<name>", "<field>": value, ...}``.

Owns: ``encode``/``decode``, the streaming ``FrameDecoder``, the JSON variant, and the cheap
per-member state frames (``StateFrame``) that let the server encode a delta once and send it to
every member. Every decoding failure is a ``FrameError`` whose ``close_code`` says how to close.

Must never: touch sockets or asyncio, or decide whether a message is allowed now (that is
``protocol.state``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

import msgpack

from protocol.codes import CloseCode, MessageType, PatchOp
from protocol.errors import FrameError, LocalProtocolError
from protocol.messages import (
    MAX_PAYLOAD_DEPTH,
    MAX_SAFE_INT,
    MESSAGE_CLASSES,
    MESSAGE_NAMES,
    Message,
    PlainValue,
    check_plain,
    check_uint,
)
from protocol.native import native as _native

DEFAULT_MAX_SIZE: Final = 4 * 1024
"""Largest frame a server accepts from a client, in bytes (JSON: in characters)."""

CLIENT_MAX_SIZE: Final = 16 * 1024 * 1024
"""Largest frame a client accepts from the server: full states can be big."""

_packb = msgpack.Packer(autoreset=True, use_bin_type=True).pack


def _refuse_ext(code: int, data: bytes) -> Any:
    raise ValueError("ext types are not part of the protocol")


def _unpackb(data: memoryview) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_refuse_ext)


def encode(message: Message) -> bytes:
    """The binary frame for ``message``. Hand it to the transport as one binary message."""
    return bytes((message.TYPE,)) + _packb(message.to_wire())


def encode_json(message: Message) -> str:
    """The JSON debug frame for ``message``; raises LocalProtocolError for bytes or NaN values."""
    obj: dict[str, Any] = {"type": message.NAME}
    for name, value in zip(message.FIELDS, message.to_wire(), strict=True):
        obj[name] = value
    try:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise LocalProtocolError(f"{message.NAME} cannot travel as json: {exc}") from None


_INPUT: Final = int(MessageType.INPUT)
_ACK: Final = int(MessageType.ACK)
_UINT_WIDTHS: Final = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}
"""msgpack's unsigned integer tags and how many big-endian bytes follow each."""


def _decode_input(data: bytes) -> tuple[int, PlainValue] | None:
    """``(seq, payload)`` when ``data`` is exactly one valid INPUT frame, else None.

    The fast path for the commonest frame a server receives: no message object is built. The
    checks are ``Input``'s own, and None means "decode it the usual way" (``FrameDecoder`` then
    accepts or refuses it exactly as it always does), never "refused".
    """
    if len(data) < 2 or data[0] != _INPUT:
        return None
    try:
        body = _unpackb(memoryview(data)[1:])
        if type(body) is not list or len(body) != 2:
            return None
        seq, payload = body
        check_uint(seq, "seq")
        check_plain(payload)
    except Exception:
        return None
    return seq, payload


decode_input: Callable[[bytes], tuple[int, PlainValue] | None] = _decode_input
"""``(seq, payload)`` when ``data`` is exactly one valid INPUT frame, else None (see
``_decode_input``, the definition; ``protocol._native`` has a C twin that runs when built)."""
if _native is not None:
    _native.configure_input(_decode_input, _INPUT, MAX_PAYLOAD_DEPTH)
    decode_input = _native.decode_input


def decode_ack(data: bytes) -> int | None:
    """The tick when ``data`` is exactly one ACK frame of one field, its tick a msgpack
    unsigned integer (``05 91 <uint>``, what clients send), else None: decode it the usual way
    then, which accepts or refuses it as it always does (None never means "refused").

    The fast path for the second commonest frame a server receives: every client acknowledges
    states, and the usual path builds a message and walks the transition table for it."""
    if len(data) < 3 or data[0] != _ACK or data[1] != 0x91:
        return None
    tag = data[2]
    if tag < 0x80:  # a positive fixint
        return tag if len(data) == 3 else None
    width = _UINT_WIDTHS.get(tag)
    if width is None or len(data) != 3 + width:
        return None
    tick = int.from_bytes(data[3:], "big")
    return tick if tick <= MAX_SAFE_INT else None


def build_message(type_code: object, body: object) -> Message:
    """The message of type ``type_code`` from its decoded field array, or FrameError.

    Fields beyond those this version knows are ignored (see versioning in docs/protocol.md).
    """
    cls = MESSAGE_CLASSES.get(type_code) if type(type_code) is int else None  # type: ignore[call-overload]
    if cls is None:
        raise FrameError(f"unknown message type {type_code!r}")
    return _build(cls, body)


def _build(cls: type[Message], body: object) -> Message:
    if type(body) is not list:
        raise FrameError(f"{cls.NAME} body must be an array")
    count = len(cls.FIELDS)
    given = len(body)
    if given == count:
        return cls(*body)
    if given < count:
        raise FrameError(f"{cls.NAME} needs {count} fields")
    return cls(*body[:count])  # fields a later version added are ignored


class FrameDecoder:
    """Turns a byte stream, cut anywhere, into messages.

    Call ``feed(data)``, then take ``messages()``. A frame larger than ``max_size`` bytes, bytes
    that are not msgpack, or fields that do not validate raise FrameError; messages completed
    before the bad frame are returned by the next ``messages()`` call. After an error the decoder
    is broken: close the connection.
    """

    __slots__ = ("_fed", "_frame_start", "_max_size", "_out", "_pending_type", "_unpacker")

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self._max_size = max_size
        self._unpacker: msgpack.Unpacker | None = None
        """Made on first use: most connections only ever send whole single frames, and an
        unpacker holds a buffer of twice the frame limit (tens of KB per connection)."""
        self._pending_type: object = None
        self._fed = 0
        self._frame_start = 0
        self._out: list[Message] = []

    def _streaming(self) -> msgpack.Unpacker:
        unpacker = self._unpacker
        if unpacker is None:
            max_size = self._max_size
            unpacker = self._unpacker = msgpack.Unpacker(
                max_buffer_size=2 * max_size + 16,
                raw=False,
                strict_map_key=False,
                ext_hook=_refuse_ext,
                max_str_len=max_size,
                max_bin_len=max_size,
                max_array_len=max_size,
                max_map_len=max_size,
                max_ext_len=max_size,
            )
        return unpacker

    @property
    def buffered(self) -> int:
        """Bytes received that do not yet form a whole frame."""
        return self._fed - self._frame_start

    def feed(self, data: bytes) -> None:
        """Add bytes from the peer. Raises FrameError on the first bad frame."""
        if self._fed == self._frame_start and 1 < len(data) <= self._max_size and data[0] < 128:
            # The common case, one whole frame in one message: decode it in one call. Anything
            # else (several frames, a partial one, bad bytes) takes the streaming path below,
            # which decides exactly as it always does.
            try:
                body = _unpackb(memoryview(data)[1:])
            except Exception:
                pass
            else:
                self._out.append(build_message(data[0], body))
                return
        view = memoryview(data)
        step = self._max_size
        unpacker = self._streaming()
        for start in range(0, len(view), step):
            chunk = view[start : start + step]
            unpacker.feed(chunk)
            self._fed += len(chunk)
            self._drain()

    def messages(self) -> list[Message]:
        """Messages completed since the last call, in order."""
        out, self._out = self._out, []
        return out

    def _drain(self) -> None:
        unpacker = self._streaming()
        while True:
            try:
                if self._pending_type is None:
                    self._pending_type = unpacker.unpack()
                    if type(self._pending_type) is not int or not 0 <= self._pending_type < 128:
                        raise FrameError(f"unknown message type {self._pending_type!r}")
                body = unpacker.unpack()
            except msgpack.OutOfData:
                if self._fed - self._frame_start > self._max_size:
                    raise FrameError(
                        f"frame exceeds {self._max_size} bytes", CloseCode.MESSAGE_TOO_BIG
                    ) from None
                return
            except FrameError:
                raise
            except Exception as exc:  # msgpack raises ValueError and its subclasses
                raise _invalid_msgpack(exc) from None
            end = unpacker.tell()
            if end - self._frame_start > self._max_size:
                raise FrameError(f"frame exceeds {self._max_size} bytes", CloseCode.MESSAGE_TOO_BIG)
            type_code, self._pending_type = self._pending_type, None
            self._frame_start = end
            self._out.append(build_message(type_code, body))


def _invalid_msgpack(exc: Exception) -> FrameError:
    if isinstance(exc, msgpack.BufferFull) or "exceeds max" in str(exc):
        return FrameError("declared length exceeds the frame limit", CloseCode.MESSAGE_TOO_BIG)
    return FrameError("invalid msgpack")


def decode(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> list[Message]:
    """Every message in ``data``, which must hold whole frames only (one WebSocket message)."""
    if len(data) > max_size:
        raise FrameError(f"frame exceeds {max_size} bytes", CloseCode.MESSAGE_TOO_BIG)
    decoder = FrameDecoder(max_size)
    decoder.feed(data)
    if decoder.buffered:
        raise FrameError("truncated frame")
    return decoder.messages()


def decode_json(text: str, max_size: int = DEFAULT_MAX_SIZE) -> Message:
    """The message in one JSON debug frame, or FrameError."""
    if len(text) > max_size:
        raise FrameError(f"frame exceeds {max_size} bytes", CloseCode.MESSAGE_TOO_BIG)
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        raise FrameError("invalid json") from None
    if type(obj) is not dict:
        raise FrameError("json frame must be an object")
    type_name = obj.get("type")
    cls = MESSAGE_NAMES.get(type_name) if type(type_name) is str else None
    if cls is None:
        raise FrameError(f"unknown message type {type_name!r}")
    missing = [name for name in cls.FIELDS if name not in obj]
    if missing:
        raise FrameError(f"{cls.NAME} is missing {', '.join(missing)}")
    body = [obj[name] for name in cls.FIELDS]
    if cls.TYPE is MessageType.PATCH:
        try:
            body[3] = _json_keys_to_indexes(body[3])
        except RecursionError:
            raise FrameError("delta is nested too deeply") from None
    return _build(cls, body)


def _json_keys_to_indexes(delta: object) -> object:
    """JSON object keys are strings; list deltas ``[2, length, {index: entry}, group...]`` need
    ints. Entries inside map edits ``[3, delta, group...]`` and groups are converted too; whole
    values (``[1, whole]``) are left as they are."""
    if type(delta) is dict:
        return {key: _json_keys_to_indexes(value) for key, value in delta.items()}
    if type(delta) is not list or len(delta) < 3 or type(delta[0]) is not int:
        return delta
    if delta[0] == PatchOp.LIST and type(delta[2]) is dict:
        entries: dict[object, object] = {}
        for key, value in delta[2].items():
            index = int(key) if key.isascii() and key.isdigit() and len(key) <= 16 else key
            entries[index] = _json_keys_to_indexes(value)
        return [delta[0], delta[1], entries, *map(_json_group, delta[3:])]
    if delta[0] == PatchOp.MAP:
        return [delta[0], _json_keys_to_indexes(delta[1]), *map(_json_group, delta[2:])]
    return delta


def _json_group(group: object) -> object:
    """A group with the list edits inside its entries converted (names and keys stay)."""
    if type(group) is not list or not group or type(group[0]) is not list:
        return group
    width = len(group[0]) + 1
    return [
        item if position == 0 or (position - 1) % width == 0 else _json_keys_to_indexes(item)
        for position, item in enumerate(group)
    ]


# -- state frames shared by many members ----------------------------------------------------------

_FULL_HEAD: Final = bytes((MessageType.FULL_STATE, 0x93))
_PATCH_HEAD: Final = bytes((MessageType.PATCH, 0x94))


class StateFrame:
    """A FULL_STATE or PATCH frame whose encoded body is shared by every member that gets it.

    The server encodes the state or delta once (``body`` is its msgpack bytes) and calls
    ``for_member(last_seq)`` per member: only the few header bytes differ. The result is a whole
    binary frame, byte-identical to ``encode(FullState(...))`` or ``encode(Patch(...))``.
    """

    __slots__ = ("_prefix", "baseline", "body", "message_type", "tick")

    def __init__(self, tick: int, baseline: int | None, body: bytes) -> None:
        self.tick = tick
        self.baseline = baseline
        self.body = body
        self.message_type = MessageType.FULL_STATE if baseline is None else MessageType.PATCH
        """FULL_STATE or PATCH."""
        if baseline is None:
            self._prefix = _FULL_HEAD + _packb(tick)
        else:
            self._prefix = _PATCH_HEAD + _packb(tick) + _packb(baseline)

    def for_member(self, last_seq: int) -> bytes:
        """The whole frame for a member whose last processed input is ``last_seq``."""
        if last_seq < 128:
            return b"".join((self._prefix, bytes((last_seq,)), self.body))
        return b"".join((self._prefix, _packb(last_seq), self.body))

    def to_message(self, last_seq: int) -> Message:
        """The frame as a message object (for JSON members and tests); decodes ``body``."""
        value = msgpack.unpackb(self.body, raw=False, strict_map_key=False)
        return _build(
            MESSAGE_CLASSES[self.message_type],
            [self.tick, last_seq, value]
            if self.baseline is None
            else [self.tick, self.baseline, last_seq, value],
        )
