"""Properties of the codec, checked with hypothesis.

- Every valid message survives a binary and a JSON round trip.
- Any bytes, in any chunking, give messages or a FrameError, never another exception; and
  how the bytes were cut never changes which messages come out.
- Hostile frames (nesting bombs, huge declared lengths, oversized frames) fail fast with the
  close code that fits: MESSAGE_TOO_BIG for size problems, PROTOCOL_ERROR for everything else.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.codec import (
    CLIENT_MAX_SIZE,
    DEFAULT_MAX_SIZE,
    FrameDecoder,
    decode,
    decode_ack,
    decode_input,
    decode_json,
    encode,
    encode_json,
)
from protocol.codes import SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, CloseCode, MessageType
from protocol.connection import Connection, ConnectionClosed
from protocol.errors import FrameError, RemoteProtocolError
from protocol.messages import (
    MAX_SAFE_INT,
    MESSAGE_CLASSES,
    MESSAGE_NAMES,
    Ack,
    AppMessage,
    Error,
    FullState,
    Input,
    Join,
    Leave,
    Message,
    Patch,
    Ping,
    Pong,
    Reconnect,
    Request,
    Response,
    Welcome,
)
from protocol.state import Side

Strategy = st.SearchStrategy

fast = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- field strategies ---------------------------------------------------------------------------

UINT = st.integers(0, MAX_SAFE_INT)
TOKEN = st.text(min_size=1, max_size=128)
KIND = st.one_of(st.text(min_size=1, max_size=64), UINT)
SHORT_TEXT = st.text(max_size=12)


def plain(*, for_json: bool) -> Strategy[Any]:
    """Plain payload trees. JSON has no bytes, NaN or infinity, and its map keys are strings."""
    scalars: Strategy[Any]
    keys: Strategy[Any]
    if for_json:
        numbers = st.integers(-MAX_SAFE_INT, MAX_SAFE_INT) | st.floats(
            allow_nan=False, allow_infinity=False
        )
        scalars = st.one_of(st.none(), st.booleans(), numbers, SHORT_TEXT)
        keys = SHORT_TEXT
    else:
        numbers = st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
        scalars = st.one_of(st.none(), st.booleans(), numbers, SHORT_TEXT, st.binary(max_size=12))
        keys = SHORT_TEXT | st.integers(-(2**63), 2**64 - 1)
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4)
        ),
        max_leaves=12,
    )


def json_delta() -> Strategy[dict[str, Any]]:
    """Deltas in the grammar of protocol/diff.py, whose list edits are keyed by integer index."""
    scalars = st.none() | st.booleans() | st.integers(-MAX_SAFE_INT, MAX_SAFE_INT) | SHORT_TEXT
    whole = st.tuples(st.just(1), plain(for_json=True)).map(list)
    entries = st.recursive(
        scalars | st.just([0]) | whole,
        lambda children: (
            st.dictionaries(SHORT_TEXT, children, max_size=3)
            | st.tuples(
                st.just(2), UINT, st.dictionaries(st.integers(0, 999), children, max_size=3)
            ).map(list)
        ),
        max_leaves=10,
    )
    return st.dictionaries(SHORT_TEXT, entries, max_size=4)


def message_strategies(*, for_json: bool) -> dict[MessageType, Strategy[Message]]:
    """One strategy per message type, drawing only valid field values."""
    payload = plain(for_json=for_json)
    number = st.integers(-MAX_SAFE_INT, MAX_SAFE_INT) | st.floats(
        allow_nan=False, allow_infinity=not for_json
    )
    positive = st.integers(1, MAX_SAFE_INT) | st.floats(
        min_value=0, exclude_min=True, allow_nan=False, allow_infinity=not for_json
    )
    tick_and_baseline = st.integers(0, MAX_SAFE_INT - 1).flatmap(
        lambda baseline: st.tuples(st.integers(baseline + 1, MAX_SAFE_INT), st.just(baseline))
    )
    state = st.dictionaries(SHORT_TEXT, payload, max_size=4)
    delta = json_delta() if for_json else state
    return {
        MessageType.JOIN: st.builds(Join, UINT, TOKEN),
        MessageType.RECONNECT: st.builds(Reconnect, UINT, TOKEN, st.just(-1) | UINT),
        MessageType.LEAVE: st.just(Leave()),
        MessageType.INPUT: st.builds(Input, UINT, payload),
        MessageType.ACK: st.builds(Ack, UINT),
        MessageType.MESSAGE: st.builds(AppMessage, KIND, payload),
        MessageType.REQUEST: st.builds(Request, UINT, KIND, payload),
        MessageType.PING: st.builds(Ping, number),
        MessageType.PONG: st.builds(Pong, number, number),
        MessageType.WELCOME: st.builds(
            Welcome,
            UINT,
            TOKEN,
            TOKEN,
            st.text(max_size=128),
            positive,
            st.integers(1, MAX_SAFE_INT),
            UINT,
            st.sampled_from([0, 1]),
            st.lists(payload, max_size=4),
        ),
        MessageType.FULL_STATE: st.builds(FullState, UINT, UINT, state),
        MessageType.PATCH: st.tuples(tick_and_baseline, UINT, delta).map(
            lambda t: Patch(t[0][0], t[0][1], t[1], t[2])
        ),
        MessageType.RESPONSE: st.builds(Response, UINT, UINT, payload),
        MessageType.ERROR: st.builds(Error, UINT, st.text(max_size=1024)),
    }


BINARY_MESSAGES = message_strategies(for_json=False)
JSON_MESSAGES = message_strategies(for_json=True)
ANY_MESSAGE = st.one_of(*BINARY_MESSAGES.values())
ANY_JSON_MESSAGE = st.one_of(*JSON_MESSAGES.values())
FRAMES = ANY_MESSAGE.map(encode)


def feed(chunks: list[bytes], max_size: int) -> tuple[list[Message], FrameError | None]:
    """Feed ``chunks`` to one decoder; the messages it gave and the error that stopped it."""
    decoder = FrameDecoder(max_size)
    out: list[Message] = []
    for chunk in chunks:
        try:
            decoder.feed(chunk)
        except FrameError as exc:
            return out + decoder.messages(), exc
        out += decoder.messages()
    return out, None


def reencoded(messages: list[Message]) -> list[bytes]:
    """Messages compared by their frames: random bytes decode to NaN, which equals nothing."""
    return [encode(message) for message in messages]


def cut(data: bytes, points: list[int]) -> list[bytes]:
    bounds = [0, *sorted(points), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


def close_reason(message: str) -> str:
    """``message`` cut to the 123 bytes of UTF-8 a WebSocket close frame has room for."""
    return message.encode()[:123].decode(errors="ignore")


def attempt(call: Callable[[], object]) -> object:
    """What ``call()`` returns, or the FrameError it raises; any other exception propagates."""
    try:
        return call()
    except FrameError as exc:
        return exc


# Streams mixing valid frames, truncated frames and noise find more than noise alone.
NOISY_STREAMS = st.lists(
    FRAMES
    | FRAMES.flatmap(lambda f: st.integers(0, len(f)).map(lambda i: f[:i]))
    | st.binary(max_size=12),
    max_size=6,
).map(b"".join)


# -- round trips --------------------------------------------------------------------------------


def test_every_message_type_has_strategies() -> None:
    assert set(BINARY_MESSAGES) == set(JSON_MESSAGES) == set(MessageType)


@pytest.mark.parametrize("message_type", list(MessageType), ids=lambda t: t.name)
@fast
@given(data=st.data())
def test_every_message_round_trips_through_a_binary_frame(
    message_type: MessageType, data: st.DataObject
) -> None:
    message = data.draw(BINARY_MESSAGES[message_type])
    assert type(message) is MESSAGE_CLASSES[message_type]
    assert decode(encode(message), CLIENT_MAX_SIZE) == [message]


@pytest.mark.parametrize("message_type", list(MessageType), ids=lambda t: t.name)
@fast
@given(data=st.data())
def test_every_message_round_trips_through_a_json_frame(
    message_type: MessageType, data: st.DataObject
) -> None:
    message = data.draw(JSON_MESSAGES[message_type])
    assert decode_json(encode_json(message), CLIENT_MAX_SIZE) == message


@fast
@given(messages=st.lists(ANY_MESSAGE, max_size=5), data=st.data())
def test_a_valid_stream_decodes_the_same_however_it_is_cut(
    messages: list[Message], data: st.DataObject
) -> None:
    stream = b"".join(encode(message) for message in messages)
    points = data.draw(st.lists(st.integers(0, len(stream)), max_size=8))
    assert feed(cut(stream, points), CLIENT_MAX_SIZE) == (messages, None)


# -- any bytes ----------------------------------------------------------------------------------

MAX_SIZES = st.sampled_from([8, 64, DEFAULT_MAX_SIZE])


@fast
@given(stream=NOISY_STREAMS | st.binary(max_size=64), max_size=MAX_SIZES)
def test_one_chunk_and_one_byte_at_a_time_give_the_same_messages(
    stream: bytes, max_size: int
) -> None:
    whole, whole_error = feed([stream], max_size)
    bytewise, bytewise_error = feed([bytes((b,)) for b in stream], max_size)
    assert reencoded(whole) == reencoded(bytewise)
    assert (whole_error is None) == (bytewise_error is None)


@fast
@given(stream=NOISY_STREAMS, max_size=MAX_SIZES, data=st.data())
def test_any_chunking_gives_the_messages_of_one_chunk(
    stream: bytes, max_size: int, data: st.DataObject
) -> None:
    points = data.draw(st.lists(st.integers(0, len(stream)), max_size=8))
    chunked, _ = feed(cut(stream, points), max_size)
    whole, _ = feed([stream], max_size)
    assert reencoded(chunked) == reencoded(whole)


@fast
@given(stream=NOISY_STREAMS | st.binary(max_size=64))
def test_decode_gives_messages_or_a_frame_error(stream: bytes) -> None:
    result = attempt(lambda: decode(stream))
    if isinstance(result, FrameError):
        assert result.close_code in (CloseCode.PROTOCOL_ERROR, CloseCode.MESSAGE_TOO_BIG)
    else:
        assert isinstance(result, list)
        assert all(isinstance(message, Message) for message in result)


@fast
@given(
    type_code=st.sampled_from(list(MessageType)),
    fields=st.lists(plain(for_json=False), max_size=10),
)
def test_fields_of_any_type_give_a_message_or_a_frame_error(
    type_code: MessageType, fields: list[Any]
) -> None:
    data = bytes((type_code,)) + msgpack.packb(fields, use_bin_type=True)
    result = attempt(lambda: decode(data, CLIENT_MAX_SIZE))
    if isinstance(result, FrameError):
        assert result.close_code is CloseCode.PROTOCOL_ERROR
    else:
        cls = MESSAGE_CLASSES[type_code]
        assert result == [cls(*fields[: len(cls.FIELDS)])]


@fast
@given(
    name=st.sampled_from([cls.NAME for cls in MESSAGE_CLASSES.values()]),
    fields=st.dictionaries(
        st.sampled_from(sorted({f for cls in MESSAGE_CLASSES.values() for f in cls.FIELDS})),
        plain(for_json=True),
    ),
)
def test_json_objects_of_any_shape_give_a_message_or_a_frame_error(
    name: str, fields: dict[str, Any]
) -> None:
    result = attempt(lambda: decode_json(json.dumps({"type": name, **fields}), CLIENT_MAX_SIZE))
    if isinstance(result, FrameError):
        assert result.close_code is CloseCode.PROTOCOL_ERROR
    else:
        assert isinstance(result, MESSAGE_NAMES[name])


@fast
@given(text=st.text(max_size=64))
def test_any_text_gives_a_message_or_a_frame_error(text: str) -> None:
    result = attempt(lambda: decode_json(text))
    if isinstance(result, FrameError):
        assert result.close_code is CloseCode.PROTOCOL_ERROR
    else:
        assert isinstance(result, Message)


@fast
@given(
    side=st.sampled_from(Side),
    chunks=st.lists(NOISY_STREAMS | st.binary(max_size=16), max_size=4),
)
def test_a_connection_fed_any_bytes_gives_events_or_a_remote_protocol_error(
    side: Side, chunks: list[bytes]
) -> None:
    conn = Connection(side, subprotocol=SUBPROTOCOL_MSGPACK)
    error: RemoteProtocolError | None = None
    try:
        for chunk in chunks:
            conn.receive_data(chunk)
    except RemoteProtocolError as exc:
        error = exc
    events = conn.events_received()
    assert all(isinstance(event, Message) for event in events[:-1])
    if error is None:
        assert not events or isinstance(events[-1], Message)
    else:
        reason = close_reason(error.message)
        assert conn.close_to_send == (error.close_code, reason)
        assert events[-1] == ConnectionClosed(error.close_code, reason, False)


@fast
@given(side=st.sampled_from(Side), texts=st.lists(st.text(max_size=32), max_size=3))
def test_a_json_connection_fed_any_text_gives_events_or_a_remote_protocol_error(
    side: Side, texts: list[str]
) -> None:
    conn = Connection(side, subprotocol=SUBPROTOCOL_JSON)
    error: RemoteProtocolError | None = None
    try:
        for text in texts:
            conn.receive_data(text)
    except RemoteProtocolError as exc:
        error = exc
    events = conn.events_received()
    if error is None:
        assert all(isinstance(event, Message) for event in events)
    else:
        assert events[-1] == ConnectionClosed(error.close_code, close_reason(error.message), False)


# -- hostile frames -----------------------------------------------------------------------------


def refusal(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> tuple[str, CloseCode]:
    with pytest.raises(FrameError) as info:
        decode(data, max_size)
    return info.value.message, info.value.close_code


TOO_BIG = CloseCode.MESSAGE_TOO_BIG
PROTOCOL = CloseCode.PROTOCOL_ERROR
INPUT_HEAD = b"\x04\x92\x01"  # INPUT, array of 2, seq 1: the payload follows


def test_a_nesting_bomb_larger_than_max_size_is_too_big() -> None:
    assert refusal(INPUT_HEAD + b"\x91" * 5000) == ("frame exceeds 4096 bytes", TOO_BIG)


def test_a_nesting_bomb_deeper_than_msgpack_parses_is_invalid() -> None:
    assert refusal(INPUT_HEAD + b"\x91" * 4000 + b"\xc0") == ("invalid msgpack", PROTOCOL)


def test_a_nesting_bomb_msgpack_parses_is_nested_too_deeply() -> None:
    assert refusal(INPUT_HEAD + b"\x91" * 1000 + b"\xc0") == (
        "payload is nested too deeply",
        PROTOCOL,
    )


def test_a_nesting_bomb_of_maps_in_a_state_is_invalid() -> None:
    data = b"\x41\x93\x01\x00" + b"\x81\xa1k" * 5000 + b"\xc0"
    assert refusal(data, CLIENT_MAX_SIZE) == ("invalid msgpack", PROTOCOL)


@pytest.mark.parametrize(
    "header",
    [b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xdc\xff\xff"],
    ids=["array32 of 4G", "map32 of 4G", "array16 of 64K"],
)
def test_a_huge_declared_container_is_too_big(header: bytes) -> None:
    assert refusal(INPUT_HEAD + header) == ("declared length exceeds the frame limit", TOO_BIG)


@pytest.mark.parametrize(
    "header", [b"\xdb\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xff"], ids=["str32", "bin32"]
)
def test_a_huge_declared_string_is_too_big_once_max_size_bytes_arrive(header: bytes) -> None:
    decoder = FrameDecoder()
    with pytest.raises(FrameError) as info:
        decoder.feed(INPUT_HEAD + header + b"\x00" * DEFAULT_MAX_SIZE)
    assert (info.value.message, info.value.close_code) == ("frame exceeds 4096 bytes", TOO_BIG)


@pytest.mark.parametrize(
    "header", [b"\xdb\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xff"], ids=["str32", "bin32"]
)
def test_a_huge_declared_string_in_a_short_message_is_truncated(header: bytes) -> None:
    assert refusal(INPUT_HEAD + header + b"\x00" * 64) == ("truncated frame", PROTOCOL)


def test_an_oversized_frame_is_refused_before_it_is_parsed() -> None:
    data = bytes((MessageType.INPUT,)) + msgpack.packb([1, "x" * (1024 * 1024)])
    assert refusal(data) == ("frame exceeds 4096 bytes", TOO_BIG)


def test_an_oversized_stream_is_refused_after_max_size_bytes() -> None:
    decoder = FrameDecoder()
    decoder.feed(INPUT_HEAD + b"\xda\xff\xff" + b"x" * 4000)
    with pytest.raises(FrameError) as info:
        decoder.feed(b"x" * 4000)
    assert info.value.close_code is TOO_BIG
    assert decoder.buffered > DEFAULT_MAX_SIZE


def test_a_json_nesting_bomb_is_invalid_json() -> None:
    text = '{"type":"input","seq":1,"payload":' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(FrameError) as info:
        decode_json(text, CLIENT_MAX_SIZE)
    assert (info.value.message, info.value.close_code) == ("invalid json", PROTOCOL)


# -- the server's input fast path agrees with the general decoder ---------------------------------


@fast
@given(
    data=st.one_of(
        ANY_MESSAGE.map(encode),
        st.lists(ANY_MESSAGE, min_size=2, max_size=3).map(lambda ms: b"".join(map(encode, ms))),
        st.binary(max_size=64).map(lambda tail: bytes((MessageType.INPUT,)) + tail),
        st.binary(max_size=64),
    )
)
def test_decode_input_agrees_with_the_decoder_whenever_it_answers(data: bytes) -> None:
    fields = decode_input(data)
    if fields is None:
        return
    assert decode(data) == [Input(*fields)]  # a FrameError here would be the bug


@fast
@given(
    data=st.one_of(
        ANY_MESSAGE.map(encode),
        st.integers(0, 2**64 - 1).map(
            lambda tick: bytes((MessageType.ACK,)) + msgpack.packb([tick])
        ),
        st.binary(max_size=12).map(lambda tail: bytes((MessageType.ACK, 0x91)) + tail),
        st.binary(max_size=12),
    )
)
def test_decode_ack_agrees_with_the_decoder_whenever_it_answers(data: bytes) -> None:
    tick = decode_ack(data)
    if tick is None:
        return
    assert decode(data) == [Ack(tick)]  # a FrameError here would be the bug


@pytest.mark.parametrize(
    ("tick", "width"), [(0, 0), (127, 0), (128, 1), (255, 1), (256, 2), (2**16, 4), (2**32, 8)]
)
def test_decode_ack_takes_every_unsigned_width(tick: int, width: int) -> None:
    frame = encode(Ack(tick))
    assert len(frame) == 3 + width
    assert decode_ack(frame) == tick


@pytest.mark.parametrize(
    "frame",
    [
        b"\x05\x91",  # too short
        encode(Input(1, None)),  # another type
        bytes((MessageType.ACK,)) + msgpack.packb([1, "later"]),  # a field it ignores
        bytes((MessageType.ACK, 0x91, 0x05, 0x00)),  # a byte after a fixint
        bytes((MessageType.ACK, 0x91, 0xCD, 0x01)),  # a uint 16 cut short
        bytes((MessageType.ACK, 0x91, 0xD0, 0x05)),  # a signed int: the decoder judges it
        bytes((MessageType.ACK, 0x91)) + msgpack.packb(2**53),  # beyond 2**53 - 1
    ],
)
def test_decode_ack_leaves_anything_else_to_the_decoder(frame: bytes) -> None:
    assert decode_ack(frame) is None
