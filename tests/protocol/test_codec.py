"""Binary frames, the streaming decoder, the JSON debug variant and shared state frames."""

from __future__ import annotations

import json

import msgpack
import pytest

from protocol.codec import (
    CLIENT_MAX_SIZE,
    DEFAULT_MAX_SIZE,
    FrameDecoder,
    StateFrame,
    build_message,
    decode,
    decode_json,
    encode,
    encode_json,
)
from protocol.codes import CloseCode, MessageType
from protocol.errors import FrameError, LocalProtocolError
from protocol.messages import (
    Ack,
    AppMessage,
    FullState,
    Input,
    Join,
    Leave,
    Patch,
    Ping,
    Welcome,
)


def refusal(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> tuple[str, CloseCode]:
    """The message and close code of the FrameError that ``decode(data)`` raises."""
    with pytest.raises(FrameError) as info:
        decode(data, max_size)
    return info.value.message, info.value.close_code


def json_refusal(text: str, max_size: int = DEFAULT_MAX_SIZE) -> tuple[str, CloseCode]:
    with pytest.raises(FrameError) as info:
        decode_json(text, max_size)
    return info.value.message, info.value.close_code


def json_error(value: object) -> str:
    """What ``json.dumps`` says about ``value`` (its wording varies across Python versions)."""
    with pytest.raises((TypeError, ValueError)) as info:
        json.dumps(value, allow_nan=False)
    return str(info.value)


TOO_BIG = CloseCode.MESSAGE_TOO_BIG
PROTOCOL = CloseCode.PROTOCOL_ERROR


# -- encoding -----------------------------------------------------------------------------------


def test_a_frame_is_the_type_byte_then_an_array_of_the_fields() -> None:
    assert encode(Join(1, "abc")) == b"\x01\x92\x01\xa3abc"


def test_a_message_without_fields_is_an_empty_array() -> None:
    assert encode(Leave()) == b"\x03\x90"


def test_integers_take_the_smallest_msgpack_form() -> None:
    assert encode(Ack(127)) == b"\x05\x91\x7f"
    assert encode(Ack(128)) == b"\x05\x91\xcc\x80"
    assert encode(Ack(2**53 - 1)) == b"\x05\x91\xcf\x00\x1f\xff\xff\xff\xff\xff\xff"


def test_floats_are_float64() -> None:
    assert encode(Ping(0.5)) == b"\x08\x91\xcb\x3f\xe0\x00\x00\x00\x00\x00\x00"


def test_bytes_travel_as_msgpack_bin() -> None:
    assert encode(Input(1, b"\x00")) == b"\x04\x92\x01\xc4\x01\x00"


# -- decoding whole messages --------------------------------------------------------------------


def test_decode_returns_every_frame_of_one_websocket_message() -> None:
    data = encode(Ack(1)) + encode(Leave()) + encode(Ack(2))
    assert decode(data) == [Ack(1), Leave(), Ack(2)]


def test_decode_of_nothing_is_no_messages() -> None:
    assert decode(b"") == []


def test_decode_ignores_fields_beyond_those_this_version_knows() -> None:
    assert decode(b"\x05\x93\x07\xa5later\xc0") == [Ack(7)]


def test_decode_refuses_a_truncated_frame() -> None:
    assert refusal(encode(Join(1, "abc"))[:-1]) == ("truncated frame", PROTOCOL)


def test_decode_refuses_a_lone_type_byte() -> None:
    assert refusal(b"\x05") == ("truncated frame", PROTOCOL)


def test_decode_refuses_a_websocket_message_above_max_size() -> None:
    data = encode(Input(1, "x" * DEFAULT_MAX_SIZE))
    assert refusal(data) == ("frame exceeds 4096 bytes", TOO_BIG)


def test_decode_accepts_a_frame_of_exactly_max_size() -> None:
    data = encode(Input(1, b""))
    assert decode(data, max_size=len(data)) == [Input(1, b"")]


def test_clients_accept_frames_up_to_16_mib() -> None:
    assert CLIENT_MAX_SIZE == 16 * 1024 * 1024
    state = FullState(1, 0, {"map": "x" * 100_000})
    assert decode(encode(state), CLIENT_MAX_SIZE) == [state]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x90", "unknown message type 0"),
        (b"\x7f\x90", "unknown message type 127"),
        (b"\xcc\xc8\x90", "unknown message type 200"),
        (b"\xff\x90", "unknown message type -1"),
        (b"\xa1a\x90", "unknown message type 'a'"),
        (b"\xc3\x90", "unknown message type True"),
    ],
    ids=repr,
)
def test_decode_refuses_unknown_message_types(data: bytes, message: str) -> None:
    assert refusal(data) == (message, PROTOCOL)


def test_decode_refuses_a_body_that_is_not_an_array() -> None:
    assert refusal(b"\x05\x05") == ("ack body must be an array", PROTOCOL)


def test_decode_refuses_missing_fields() -> None:
    assert refusal(b"\x01\x91\x01") == ("join needs 2 fields", PROTOCOL)


def test_decode_refuses_fields_that_do_not_validate() -> None:
    assert refusal(b"\x05\x91\xa11") == ("tick must be an integer in 0..2**53-1", PROTOCOL)


def test_decode_refuses_bytes_that_are_not_msgpack() -> None:
    assert refusal(b"\x05\xc1") == ("invalid msgpack", PROTOCOL)


def test_decode_refuses_msgpack_extension_types() -> None:
    assert refusal(b"\x04\x92\x01\xd4\x01\x00") == ("invalid msgpack", PROTOCOL)


def test_decode_refuses_maps_keyed_by_arrays() -> None:
    assert refusal(b"\x04\x92\x01\x81\x91\x01\x02") == ("invalid msgpack", PROTOCOL)


def test_decode_refuses_a_declared_length_above_max_size() -> None:
    data = b"\x04\x92\x01\xdd\xff\xff\xff\xff"
    assert refusal(data) == ("declared length exceeds the frame limit", TOO_BIG)


def test_build_message_refuses_a_type_that_is_not_an_integer() -> None:
    with pytest.raises(FrameError, match=r"^unknown message type 'ack'$"):
        build_message("ack", [1])


def test_build_message_builds_from_a_decoded_field_array() -> None:
    assert build_message(5, [3]) == Ack(3)


# -- the streaming decoder ----------------------------------------------------------------------


def test_the_decoder_buffers_a_partial_frame_until_it_completes() -> None:
    data = encode(Join(1, "abc"))
    decoder = FrameDecoder()
    decoder.feed(data[:3])
    assert (decoder.messages(), decoder.buffered) == ([], 3)
    decoder.feed(data[3:])
    assert (decoder.messages(), decoder.buffered) == ([Join(1, "abc")], 0)


def test_whole_single_frames_never_build_the_streaming_buffer() -> None:
    decoder = FrameDecoder()
    for seq in range(1, 50):
        decoder.feed(encode(Input(seq, {"dx": 0.5})))
    assert len(decoder.messages()) == 49
    assert decoder._unpacker is None  # a connection that only sends whole frames stays small
    decoder.feed(encode(Ack(1)) + encode(Ack(2)))  # two frames in one message: streaming
    assert decoder.messages() == [Ack(1), Ack(2)]
    assert decoder._unpacker is not None


def test_messages_hands_each_message_out_once() -> None:
    decoder = FrameDecoder()
    decoder.feed(encode(Ack(1)))
    assert decoder.messages() == [Ack(1)]
    assert decoder.messages() == []


def test_the_decoder_refuses_a_frame_that_outgrows_max_size_while_streaming() -> None:
    decoder = FrameDecoder(max_size=16)
    data = encode(Input(1, "x" * 20))
    decoder.feed(data[:16])
    with pytest.raises(FrameError) as info:
        decoder.feed(data[16:17])
    assert (info.value.message, info.value.close_code) == ("frame exceeds 16 bytes", TOO_BIG)


def test_the_decoder_refuses_a_frame_that_completes_above_max_size() -> None:
    decoder = FrameDecoder(max_size=16)
    data = encode(Input(1, "x" * 13))
    assert len(data) == 17  # fed to msgpack as 16 bytes, then 1
    with pytest.raises(FrameError) as info:
        decoder.feed(data)
    assert (info.value.message, info.value.close_code) == ("frame exceeds 16 bytes", TOO_BIG)


def test_messages_before_a_bad_frame_stay_available() -> None:
    decoder = FrameDecoder()
    with pytest.raises(FrameError, match=r"^invalid msgpack$"):
        decoder.feed(encode(Ack(1)) + encode(Ack(2)) + b"\x05\xc1")
    assert decoder.messages() == [Ack(1), Ack(2)]


def test_a_string_declaring_4_gb_is_refused_once_max_size_bytes_are_buffered() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\x04\x92\x01\xdb\xff\xff\xff\xff")
    with pytest.raises(FrameError) as info:
        decoder.feed(b"x" * DEFAULT_MAX_SIZE)
    assert (info.value.message, info.value.close_code) == ("frame exceeds 4096 bytes", TOO_BIG)


def test_a_string_declaring_4_gb_in_a_short_message_is_a_truncated_frame() -> None:
    assert refusal(b"\x04\x92\x01\xdb\xff\xff\xff\xff" + b"x" * 100) == (
        "truncated frame",
        PROTOCOL,
    )


# -- JSON debug frames --------------------------------------------------------------------------


def test_a_json_frame_is_an_object_with_the_type_name_then_the_fields() -> None:
    assert encode_json(Join(1, "abc")) == '{"type":"join","version":1,"token":"abc"}'


def test_json_frames_round_trip() -> None:
    message = AppMessage("chat", {"text": "hi", "to": [1, 2]})
    assert decode_json(encode_json(message)) == message


def test_bytes_cannot_travel_as_json() -> None:
    with pytest.raises(LocalProtocolError) as info:
        encode_json(Input(1, b"\x00"))
    assert info.value.message == f"input cannot travel as json: {json_error(b'')}"


def test_nan_cannot_travel_as_json() -> None:
    with pytest.raises(LocalProtocolError) as info:
        encode_json(Ping(float("nan")))
    assert info.value.message == f"ping cannot travel as json: {json_error(float('nan'))}"


def test_decode_json_ignores_keys_it_does_not_know() -> None:
    assert decode_json('{"type":"ack","tick":4,"later":true}') == Ack(4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"type":"ack"', "invalid json"),
        ("[" * 5000 + "]" * 5000, "invalid json"),
        ('["ack", 1]', "json frame must be an object"),
        ('{"tick":1}', "unknown message type None"),
        ('{"type":5,"tick":1}', "unknown message type 5"),
        ('{"type":"nope"}', "unknown message type 'nope'"),
        ('{"type":"input"}', "input is missing seq, payload"),
        ('{"type":"ack","tick":-1}', "tick must be an integer in 0..2**53-1"),
    ],
    ids=lambda value: value[:30],
)
def test_decode_json_refuses(text: str, message: str) -> None:
    assert json_refusal(text, max_size=20_000) == (message, PROTOCOL)


def test_decode_json_refuses_text_above_max_size() -> None:
    text = encode_json(Input(1, "x" * DEFAULT_MAX_SIZE))
    assert json_refusal(text) == ("frame exceeds 4096 bytes", TOO_BIG)


def patch_json(delta: str) -> str:
    return '{"type":"patch","tick":2,"baseline":1,"last_seq":0,"delta":' + delta + "}"


def test_json_patch_list_edits_get_integer_indexes_back() -> None:
    message = decode_json(patch_json('{"hand":[2,3,{"0":7,"2":[2,1,{"0":1}]}]}'))
    assert message == Patch(2, 1, 0, {"hand": [2, 3, {0: 7, 2: [2, 1, {0: 1}]}]})


def test_json_patch_nested_map_deltas_are_searched_for_list_edits() -> None:
    message = decode_json(patch_json('{"a":{"b":[2,1,{"0":"x"}]},"c":[1,{"0":1}],"d":[0]}'))
    assert message == Patch(2, 1, 0, {"a": {"b": [2, 1, {0: "x"}]}, "c": [1, {"0": 1}], "d": [0]})


def test_json_patch_groups_and_map_edits_get_integer_indexes_back() -> None:
    delta = (
        '{"p":[3,{"a":{"l":[2,1,{"0":1}]}},[["l"],"b",[2,1,{"0":2}],"c",[1,{"0":3}]]],'
        '"n":[2,2,{"1":{"l":[2,1,{"0":4}]}},[["x","y"],0,1,2,1,3,4]]}'
    )
    message = decode_json(patch_json(delta))
    assert message == Patch(
        2,
        1,
        0,
        {
            "p": [
                3,
                {"a": {"l": [2, 1, {0: 1}]}},
                [["l"], "b", [2, 1, {0: 2}], "c", [1, {"0": 3}]],
            ],
            "n": [2, 2, {1: {"l": [2, 1, {0: 4}]}}, [["x", "y"], 0, 1, 2, 1, 3, 4]],
        },
    )


@pytest.mark.parametrize(
    "delta", ['{"c":[2,1,"x"]}', '{"c":[7,1,{"0":1}]}', '{"c":[3,{},5]}', '{"c":["x",1,2]}']
)
def test_json_patch_entries_that_are_not_edits_are_left_as_they_are(delta: str) -> None:
    message = decode_json(patch_json(delta))
    assert isinstance(message, Patch)
    assert message.delta == json.loads(delta)


@pytest.mark.parametrize("key", ["\u00b2", "x", "1" * 17], ids=["superscript", "letter", "long"])
def test_json_patch_keys_that_are_not_short_ascii_digits_stay_strings(key: str) -> None:
    message = decode_json(patch_json('{"l":[2,1,{"' + key + '":0}]}'), CLIENT_MAX_SIZE)
    assert message == Patch(2, 1, 0, {"l": [2, 1, {key: 0}]})


def test_json_patch_that_is_not_a_map_is_refused() -> None:
    assert json_refusal(patch_json("[2,1,{}]")) == ("delta must be a map", PROTOCOL)


def test_json_patch_nested_too_deeply_to_convert_is_refused() -> None:
    deep = '{"":' * 600 + "0" + "}" * 600
    assert json_refusal(patch_json(deep)) == ("delta is nested too deeply", PROTOCOL)


# -- shared state frames ------------------------------------------------------------------------


def packed(value: object) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


@pytest.mark.parametrize("last_seq", [0, 127, 128, 65_536, 2**53 - 1])
def test_a_full_state_frame_matches_encode_for_every_member(last_seq: int) -> None:
    state = {"players": {"a": {"x": 1.5}}, "round": 3}
    frame = StateFrame(300, None, packed(state))
    assert frame.for_member(last_seq) == encode(FullState(300, last_seq, state))


@pytest.mark.parametrize("last_seq", [0, 127, 128, 65_536, 2**53 - 1])
def test_a_patch_frame_matches_encode_for_every_member(last_seq: int) -> None:
    delta = {"players": {"a": {"x": 2.5}}, "log": [2, 4, {3: "hit"}]}
    frame = StateFrame(70_000, 69_999, packed(delta))
    assert frame.for_member(last_seq) == encode(Patch(70_000, 69_999, last_seq, delta))


def test_a_state_frame_knows_its_message_type() -> None:
    assert StateFrame(1, None, packed({})).message_type is MessageType.FULL_STATE
    assert StateFrame(2, 1, packed({})).message_type is MessageType.PATCH


def test_a_state_frame_becomes_the_message_it_encodes() -> None:
    assert StateFrame(1, None, packed({"a": 1})).to_message(4) == FullState(1, 4, {"a": 1})
    assert StateFrame(2, 1, packed({"a": [2, 1, {0: 1}]})).to_message(4) == Patch(
        2, 1, 4, {"a": [2, 1, {0: 1}]}
    )


def test_welcome_round_trips_with_its_schema() -> None:
    message = Welcome(1, "room", "sess", "", 20, 2, 0, 1, [["x", 1, 0.01]])
    assert decode(encode(message)) == [message]
