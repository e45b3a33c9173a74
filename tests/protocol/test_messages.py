"""Messages validate their fields when built, so a message that exists is a valid one."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from protocol.codes import CloseCode, ErrorCode, MessageType, Role
from protocol.errors import FrameError
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
    Patch,
    Ping,
    Pong,
    Reconnect,
    Request,
    Response,
    Welcome,
    check_int,
)

UINT_ERROR = "must be an integer in 0..2**53-1"


def refusal(build: Callable[[], object]) -> str:
    """The FrameError message raised by ``build()``."""
    with pytest.raises(FrameError) as info:
        build()
    return info.value.message


def welcome(**changes: Any) -> Welcome:
    fields: dict[str, Any] = {
        "version": 1,
        "room_id": "r1",
        "session_id": "s1",
        "reconnect_token": "k1",
        "tick_rate": 20,
        "patch_rate": 2,
        "tick": 0,
        "role": 0,
        "schema": [],
    }
    return Welcome(**(fields | changes))


def nested(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value


# -- the registry -------------------------------------------------------------------------------


def test_every_message_type_has_one_class() -> None:
    assert set(MESSAGE_CLASSES) == set(MessageType)
    assert len(set(MESSAGE_CLASSES.values())) == len(MessageType)


def test_json_names_are_the_lower_case_type_names() -> None:
    assert {name: cls.TYPE.name.lower() for name, cls in MESSAGE_NAMES.items()} == {
        name: name for name in MESSAGE_NAMES
    }


def test_wire_order_is_the_dataclass_field_order() -> None:
    assert Welcome.FIELDS == (
        "version",
        "room_id",
        "session_id",
        "reconnect_token",
        "tick_rate",
        "patch_rate",
        "tick",
        "role",
        "schema",
    )


def test_to_wire_lists_the_field_values_in_wire_order() -> None:
    assert Patch(tick=9, baseline=7, last_seq=3, delta={"a": 1}).to_wire() == [9, 7, 3, {"a": 1}]


def test_leave_has_no_fields() -> None:
    assert Leave().to_wire() == []


def test_messages_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Ack(1).tick = 2  # type: ignore[misc]


def test_messages_have_no_instance_dict() -> None:
    assert not hasattr(Ack(1), "__dict__")


def test_messages_with_equal_fields_are_equal() -> None:
    assert Input(1, {"dx": 1}) == Input(1, {"dx": 1})
    assert Input(1, {"dx": 1}) != Input(2, {"dx": 1})


# -- integers -----------------------------------------------------------------------------------


def test_a_refused_field_closes_with_protocol_error() -> None:
    with pytest.raises(FrameError) as info:
        Ack(-1)
    assert info.value.close_code is CloseCode.PROTOCOL_ERROR
    assert info.value.error_code is None


@pytest.mark.parametrize("tick", [0, 1, MAX_SAFE_INT])
def test_unsigned_fields_accept_0_to_2_pow_53_minus_1(tick: int) -> None:
    assert Ack(tick).tick == tick


@pytest.mark.parametrize("tick", [-1, MAX_SAFE_INT + 1, 1.0, True, "1", None])
def test_unsigned_fields_refuse_anything_else(tick: object) -> None:
    assert refusal(lambda: Ack(tick)) == f"tick {UINT_ERROR}"  # type: ignore[arg-type]


def test_code_enums_are_accepted_as_integers() -> None:
    assert Error(ErrorCode.ROOM_FULL, "full") == Error(6, "full")


@pytest.mark.parametrize("value", [-MAX_SAFE_INT, 0, MAX_SAFE_INT])
def test_signed_integers_span_minus_to_plus_2_pow_53_minus_1(value: int) -> None:
    check_int(value, "offset")


@pytest.mark.parametrize("value", [-MAX_SAFE_INT - 1, MAX_SAFE_INT + 1, False, 0.5])
def test_signed_integers_refuse_anything_else(value: object) -> None:
    message = refusal(lambda: check_int(value, "offset"))
    assert message == "offset must be an integer in -(2**53-1)..2**53-1"


# -- numbers and strings ------------------------------------------------------------------------


@pytest.mark.parametrize("time", [0, 1234.5, -0.5])
def test_number_fields_accept_integers_and_floats(time: float) -> None:
    assert Ping(time).time == time


@pytest.mark.parametrize("time", [True, "1", None])
def test_number_fields_refuse_anything_else(time: object) -> None:
    assert refusal(lambda: Ping(time)) == "time must be a number"  # type: ignore[arg-type]


def test_pong_checks_the_peer_time_too() -> None:
    assert refusal(lambda: Pong(1, "2")) == "peer_time must be a number"  # type: ignore[arg-type]


def test_tokens_may_be_128_characters() -> None:
    assert Join(1, "t" * 128).token == "t" * 128


@pytest.mark.parametrize("token", ["", "t" * 129, b"token", 7])
def test_tokens_must_be_1_to_128_characters(token: object) -> None:
    message = refusal(lambda: Join(1, token))  # type: ignore[arg-type]
    assert message == "token must be a string of 1..128 characters"


def test_error_messages_may_be_empty() -> None:
    assert Error(ErrorCode.NOT_ALLOWED, "").message == ""


def test_error_messages_are_at_most_1024_characters() -> None:
    message = refusal(lambda: Error(1, "x" * 1025))
    assert message == "message must be a string of 1..1024 characters"


# -- kinds --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["chat", "k" * 64, 0, MAX_SAFE_INT, ErrorCode.NOT_ALLOWED])
def test_kinds_are_short_strings_or_unsigned_integers(kind: str | int) -> None:
    assert AppMessage(kind, None).kind == kind


@pytest.mark.parametrize("kind", ["", "k" * 65, True, 1.5])
def test_kinds_refuse_long_or_empty_strings_and_non_integers(kind: object) -> None:
    message = refusal(lambda: AppMessage(kind, None))  # type: ignore[arg-type]
    assert message == "kind must be a string of 1..64 characters"


def test_integer_kinds_must_not_be_negative() -> None:
    assert refusal(lambda: AppMessage(-1, None)) == f"kind {UINT_ERROR}"


def test_requests_check_id_kind_and_payload() -> None:
    assert refusal(lambda: Request(-1, "buy", None)) == f"id {UINT_ERROR}"
    assert refusal(lambda: Request(1, "", None)) == "kind must be a string of 1..64 characters"
    assert refusal(lambda: Request(1, "buy", {1.5: 0})) == (
        "payload has a map key that is not a string or integer"
    )


# -- plain payloads -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        None,
        True,
        -(2**63),
        2**64 - 1,
        0.5,
        "text",
        b"\x00bytes",
        [1, "two", [3.0]],
        (1, 2),
        {"x": 1, 2: {"y": [None]}},
    ],
    ids=repr,
)
def test_payloads_are_plain_msgpack_data(payload: object) -> None:
    assert Input(1, payload).payload == payload


def test_payloads_may_nest_32_containers() -> None:
    assert Input(1, nested(32)).payload == nested(32)


def test_payloads_may_not_nest_33_containers() -> None:
    assert refusal(lambda: Input(1, nested(33))) == "payload is nested too deeply"


@pytest.mark.parametrize("number", [2**64, -(2**63) - 1])
def test_payload_integers_must_fit_64_bits(number: int) -> None:
    assert refusal(lambda: Input(1, [number])) == "payload holds an integer out of range"


@pytest.mark.parametrize("key", [1.5, True, None, (1, 2)])
def test_payload_map_keys_are_strings_or_integers(key: object) -> None:
    message = refusal(lambda: Input(1, {key: 0}))
    assert message == "payload has a map key that is not a string or integer"


@pytest.mark.parametrize(
    ("payload", "type_name"), [({1, 2}, "set"), (object(), "object"), (Role.PLAYER, "Role")]
)
def test_payloads_refuse_other_objects(payload: object, type_name: str) -> None:
    message = refusal(lambda: Input(1, payload))
    assert message == f"payload holds a {type_name}, which is not plain data"


def test_inputs_check_their_sequence_number() -> None:
    assert refusal(lambda: Input(-1, None)) == f"seq {UINT_ERROR}"


def test_responses_check_id_code_and_payload() -> None:
    assert refusal(lambda: Response(-1, 0, None)) == f"id {UINT_ERROR}"
    assert refusal(lambda: Response(1, -1, None)) == f"code {UINT_ERROR}"
    assert refusal(lambda: Response(1, 0, {0.5})) == "payload holds a set, which is not plain data"


# -- join and reconnect -------------------------------------------------------------------------


def test_join_checks_its_version() -> None:
    assert refusal(lambda: Join(-1, "t")) == f"version {UINT_ERROR}"


def test_reconnect_without_state_sends_last_tick_minus_1() -> None:
    assert Reconnect(1, "k", -1).last_tick == -1


def test_reconnect_last_tick_is_minus_1_or_unsigned() -> None:
    assert refusal(lambda: Reconnect(1, "k", -2)) == f"last_tick {UINT_ERROR}"


def test_reconnect_last_tick_minus_1_must_be_an_integer() -> None:
    assert refusal(lambda: Reconnect(1, "k", -1.0)) == f"last_tick {UINT_ERROR}"  # type: ignore[arg-type]


def test_reconnect_checks_version_and_token() -> None:
    assert refusal(lambda: Reconnect(True, "k", 0)) == f"version {UINT_ERROR}"
    assert refusal(lambda: Reconnect(1, "", 0)) == "token must be a string of 1..128 characters"


# -- welcome ------------------------------------------------------------------------------------


def test_welcome_accepts_an_empty_reconnect_token() -> None:
    assert welcome(reconnect_token="").reconnect_token == ""


def test_welcome_accepts_role_enums() -> None:
    assert welcome(role=Role.SPECTATOR).role == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": -1}, f"version {UINT_ERROR}"),
        ({"room_id": ""}, "room_id must be a string of 1..128 characters"),
        ({"session_id": "s" * 129}, "session_id must be a string of 1..128 characters"),
        ({"reconnect_token": None}, "reconnect_token must be a string of 1..128 characters"),
        ({"tick_rate": "20"}, "tick_rate must be a number"),
        ({"tick_rate": 0}, "tick_rate must be positive"),
        ({"tick_rate": float("nan")}, "tick_rate must be positive"),
        ({"patch_rate": 0.5}, f"patch_rate {UINT_ERROR}"),
        ({"patch_rate": 0}, "patch_rate must be at least 1"),
        ({"tick": -1}, f"tick {UINT_ERROR}"),
        ({"role": 2}, "role must be 0 (player) or 1 (spectator)"),
        ({"role": True}, "role must be 0 (player) or 1 (spectator)"),
        ({"schema": {}}, "schema must be a list"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_welcome_refuses(changes: dict[str, Any], message: str) -> None:
    assert refusal(lambda: welcome(**changes)) == message


# -- state frames -------------------------------------------------------------------------------


def test_full_state_holds_a_map() -> None:
    assert refusal(lambda: FullState(1, 0, [])) == "state must be a map"  # type: ignore[arg-type]


def test_full_state_checks_tick_and_last_seq() -> None:
    assert refusal(lambda: FullState(-1, 0, {})) == f"tick {UINT_ERROR}"
    assert refusal(lambda: FullState(1, -1, {})) == f"last_seq {UINT_ERROR}"


def test_patch_baseline_must_be_older_than_its_tick() -> None:
    assert refusal(lambda: Patch(5, 5, 0, {})) == "baseline must be older than tick"


def test_patch_delta_is_a_map() -> None:
    assert refusal(lambda: Patch(5, 4, 0, None)) == "delta must be a map"  # type: ignore[arg-type]


def test_patch_checks_tick_baseline_and_last_seq() -> None:
    assert refusal(lambda: Patch(-1, 0, 0, {})) == f"tick {UINT_ERROR}"
    assert refusal(lambda: Patch(5, -1, 0, {})) == f"baseline {UINT_ERROR}"
    assert refusal(lambda: Patch(5, 4, -1, {})) == f"last_seq {UINT_ERROR}"


# -- errors -------------------------------------------------------------------------------------


def test_error_code_names_a_known_code() -> None:
    assert Error(9, "bad token").error_code is ErrorCode.AUTH_FAILED


def test_error_code_is_none_for_a_code_from_a_newer_version() -> None:
    assert Error(999, "").error_code is None


def test_error_checks_its_code() -> None:
    assert refusal(lambda: Error(-1, "")) == f"code {UINT_ERROR}"
