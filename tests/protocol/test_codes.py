"""The numbers on the wire: each code is unique, fits its field, and keeps its documented range."""

from __future__ import annotations

from enum import IntEnum

import pytest

from protocol.codes import (
    PROTOCOL_VERSION,
    RECONNECTABLE_CLOSE_CODES,
    SUBPROTOCOL_JSON,
    SUBPROTOCOL_MSGPACK,
    SUBPROTOCOLS,
    CloseCode,
    ErrorCode,
    MessageType,
    PatchOp,
    PrecisionKind,
    Role,
)


@pytest.mark.parametrize("codes", [MessageType, CloseCode, ErrorCode, Role, PatchOp, PrecisionKind])
def test_no_two_names_share_a_value(codes: type[IntEnum]) -> None:
    values = [member.value for member in codes]
    assert len(values) == len(set(values))
    # An alias (two names, one value) would hide from iteration: compare with every name too.
    assert len(codes.__members__) == len(values)


def test_message_types_are_msgpack_positive_fixints() -> None:
    assert all(1 <= code < 128 for code in MessageType)


def test_server_only_message_types_start_at_64() -> None:
    server_only = {MessageType.WELCOME, MessageType.FULL_STATE, MessageType.PATCH}
    server_only |= {MessageType.RESPONSE, MessageType.ERROR}
    assert {code for code in MessageType if code >= 64} == server_only


def test_close_codes_are_application_codes_from_4000() -> None:
    assert min(CloseCode) == 4000
    assert all(4000 <= code <= 4999 for code in CloseCode)


def test_close_codes_leave_no_gaps() -> None:
    assert sorted(CloseCode) == list(range(4000, 4000 + len(CloseCode)))


def test_error_codes_start_at_1_because_0_means_success_in_a_response() -> None:
    assert min(ErrorCode) == 1


def test_reconnectable_close_codes_are_close_codes() -> None:
    assert set(CloseCode) >= RECONNECTABLE_CLOSE_CODES


@pytest.mark.parametrize(
    "code",
    [CloseCode.CONSENTED, CloseCode.KICKED, CloseCode.SEAT_INVALID, CloseCode.PROTOCOL_ERROR],
)
def test_a_deliberate_or_fatal_close_is_not_reconnectable(code: CloseCode) -> None:
    assert code not in RECONNECTABLE_CLOSE_CODES


def test_a_server_restart_is_reconnectable() -> None:
    assert CloseCode.SERVER_SHUTDOWN in RECONNECTABLE_CLOSE_CODES


def test_subprotocol_names_carry_the_protocol_version() -> None:
    assert f"tickroom.v{PROTOCOL_VERSION}.msgpack" == SUBPROTOCOL_MSGPACK
    assert f"tickroom.v{PROTOCOL_VERSION}.json" == SUBPROTOCOL_JSON


def test_msgpack_is_the_preferred_subprotocol() -> None:
    assert SUBPROTOCOLS == (SUBPROTOCOL_MSGPACK, SUBPROTOCOL_JSON)


def test_roles_are_player_0_and_spectator_1() -> None:
    assert (Role.PLAYER, Role.SPECTATOR) == (0, 1)
