"""Refusals become typed exceptions, whether the matchmaker or the room socket said no."""

from __future__ import annotations

import pytest
from client_servers import run

from clients.python import (
    DisconnectedError,
    GameClient,
    MatchmakeError,
    RoomFullError,
    RoomNotFoundError,
    SeatExpiredError,
    ServerUnavailableError,
    UnknownRoomTypeError,
)
from clients.python.errors import (
    AuthFailedError,
    InvalidOptionsError,
    RoomLockedError,
    is_reconnectable,
    join_refused,
    matchmake_error,
)
from clients.python.memory import InMemoryServer
from game_server.app import create_app
from game_server.settings import Settings
from game_server.testing import free_port
from protocol.codes import CloseCode, ErrorCode
from protocol.errors import TickroomError


def test_an_unknown_room_type_raises_unknown_room_type() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            with pytest.raises(UnknownRoomTypeError) as caught:
                await server.client().join_or_create("chess")
            assert caught.value.code == ErrorCode.UNKNOWN_ROOM_TYPE
            assert caught.value.status == 404
            assert caught.value.message == "unknown room type"

    run(main())


def test_join_without_a_room_raises_room_not_found() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            client = server.client()
            with pytest.raises(RoomNotFoundError, match=r"^no joinable room$"):
                await client.join("arena")
            with pytest.raises(RoomNotFoundError, match=r"^room not found$"):
                await client.join_by_id("no-such-room")

    run(main())


def test_a_full_room_raises_room_full() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            client = server.client()
            first = await client.create("connect_four")
            await client.join_by_id(first.room_id)
            with pytest.raises(RoomFullError) as caught:
                await client.join_by_id(first.room_id)
            assert caught.value.code == ErrorCode.ROOM_FULL
            assert caught.value.status == 409

    run(main())


def test_a_bad_reconnect_token_raises_seat_expired() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            client = server.client()
            room = await client.create("arena")
            with pytest.raises(SeatExpiredError) as caught:
                await client.reconnect(room.room_id, "not-a-token")
            assert caught.value.status == 410

    run(main())


def test_a_seat_redeemed_twice_is_refused_on_the_socket() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            client = server.client()
            seat = await client.reserve("joinOrCreate", "arena")
            await client.consume(seat)
            with pytest.raises(SeatExpiredError) as caught:
                await client.consume(seat)
            assert caught.value.close_code == CloseCode.SEAT_INVALID
            assert caught.value.status == 0

    run(main())


def test_an_unreachable_server_raises_server_unavailable() -> None:
    async def main() -> None:
        async with GameClient(f"http://127.0.0.1:{free_port()}", http_timeout=2) as client:
            with pytest.raises(ServerUnavailableError, match=r"^cannot reach the server"):
                await client.join_or_create("arena")

    run(main())


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (ErrorCode.ROOM_FULL, RoomFullError),
        (ErrorCode.ROOM_NOT_FOUND, RoomNotFoundError),
        (ErrorCode.ROOM_LOCKED, RoomLockedError),
        (ErrorCode.AUTH_FAILED, AuthFailedError),
        (ErrorCode.SEAT_INVALID, SeatExpiredError),
        (ErrorCode.UNKNOWN_ROOM_TYPE, UnknownRoomTypeError),
        (ErrorCode.INVALID_OPTIONS, InvalidOptionsError),
        (999, MatchmakeError),
    ],
)
def test_every_error_code_maps_to_its_exception(code: int, cls: type[MatchmakeError]) -> None:
    error = matchmake_error(code, "refused", 409)
    assert type(error) is cls
    assert (error.code, error.message, error.status) == (code, "refused", 409)
    assert isinstance(error, TickroomError)


def test_close_codes_before_welcome_map_to_seat_refusals() -> None:
    assert isinstance(join_refused(CloseCode.ROOM_FULL, "room is full"), RoomFullError)
    assert isinstance(join_refused(CloseCode.AUTH_FAILED, "no"), AuthFailedError)
    other = join_refused(CloseCode.PROTOCOL_ERROR, "bad frame")
    assert type(other) is DisconnectedError
    assert other.close_code == CloseCode.PROTOCOL_ERROR


def test_which_close_codes_allow_a_reconnection() -> None:
    assert is_reconnectable(1006)
    assert is_reconnectable(1001)
    assert is_reconnectable(CloseCode.SERVER_SHUTDOWN)
    assert is_reconnectable(CloseCode.MAY_TRY_RECONNECT)
    assert not is_reconnectable(CloseCode.CONSENTED)
    assert not is_reconnectable(CloseCode.KICKED)
    assert not is_reconnectable(CloseCode.FAILED_TO_RECONNECT)
