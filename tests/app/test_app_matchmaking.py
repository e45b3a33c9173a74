"""HTTP matchmaking and listings: every method, every refusal with its status and error body.

``POST /matchmake/{method}/{room_name}`` answers a seat reservation, or an HTTP error whose body
is ``{"error": {"code", "name", "message"}}``; ``GET /rooms`` lists public, unlocked rooms.
The test rooms are in ``rooms_for_tests``; the app runs on a ManualClock, so nothing expires
unless a test ticks.
"""

from __future__ import annotations

from typing import Any

import pytest
from rooms_for_tests import PASSWORD, SECRET
from wire import Server, running

from protocol.codes import PROTOCOL_VERSION, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, ErrorCode


def refusal(server: Server, method: str, name: str, options: dict[str, Any] | None = None) -> Any:
    """Status and body of a matchmaking request that must fail."""
    response = server.matchmake(method, name, options)
    assert response.status_code != 200, response.text
    return response.status_code, response.json()


def error(code: ErrorCode, message: str) -> dict[str, Any]:
    return {"error": {"code": int(code), "name": code.name, "message": message}}


# -- the methods ------------------------------------------------------------------------------


def test_create_answers_a_seat_reservation() -> None:
    with running() as server:
        seat = server.reserve("create", "walk")
    assert set(seat) == {
        "room_id",
        "room_name",
        "session_id",
        "token",
        "url",
        "expires_in",
        "spectator",
        "protocol_version",
        "subprotocols",
    }
    assert seat["room_name"] == "walk"
    assert seat["url"] == f"ws://testserver/ws/{seat['room_id']}"
    assert seat["expires_in"] == 1.0  # Walk.seat_reservation_timeout, on a clock standing still
    assert seat["spectator"] is False
    assert seat["protocol_version"] == PROTOCOL_VERSION
    assert seat["subprotocols"] == [SUBPROTOCOL_MSGPACK, SUBPROTOCOL_JSON]


def test_create_makes_a_new_room_every_time() -> None:
    with running() as server:
        first = server.reserve("create", "walk")
        second = server.reserve("create", "walk")
    assert first["room_id"] != second["room_id"]


def test_join_takes_a_seat_in_an_existing_room() -> None:
    with running() as server:
        created = server.reserve("create", "walk")
        joined = server.reserve("join", "walk")
    assert joined["room_id"] == created["room_id"]
    assert joined["session_id"] != created["session_id"]


def test_join_or_create_creates_then_fills_the_room() -> None:
    with running() as server:
        seats = [server.reserve("joinOrCreate", "walk") for _ in range(4)]
    rooms = [seat["room_id"] for seat in seats]
    assert rooms[0] == rooms[1] == rooms[2] != rooms[3]  # Walk.max_clients is 3


def test_join_by_id_takes_a_seat_in_that_room() -> None:
    with running() as server:
        server.reserve("create", "walk")
        target = server.reserve("create", "walk")
        seat = server.reserve("joinById", target["room_id"])
    assert seat["room_id"] == target["room_id"]


def test_join_by_id_with_spectator_reserves_a_spectator_seat() -> None:
    with running() as server:
        room = server.reserve("create", "walk")
        seat = server.reserve("joinById", room["room_id"], spectator=True)
    assert seat["spectator"] is True


def test_create_with_spectator_reserves_a_spectator_seat() -> None:
    with running() as server:
        seat = server.reserve("create", "walk", spectator=True)
    assert seat["spectator"] is True


def test_spectators_do_not_take_player_seats() -> None:
    with running() as server:
        room = server.reserve("create", "walk")
        for _ in range(3):
            server.reserve("joinById", room["room_id"], spectator=True)
        seat = server.reserve("joinById", room["room_id"])
    assert seat["spectator"] is False


def test_options_reach_the_room() -> None:
    with running() as server:
        seat = server.reserve("create", "guarded", {"password": PASSWORD})
        room = server.room(seat["room_id"])
        options = server.call(lambda: room.clients[seat["session_id"]].options)
    assert options == {"password": PASSWORD}


def test_reconnect_answers_a_reservation_for_the_same_session() -> None:
    with running() as server:
        client = server.join()
        assert client.welcome is not None
        token = client.welcome.reconnect_token
        seat = server.reserve("reconnect", client.room_id, {"reconnect_token": token})
    assert (seat["room_id"], seat["session_id"], seat["token"]) == (
        client.room_id,
        client.session_id,
        token,
    )


# -- private rooms ---------------------------------------------------------------------------


def test_a_private_room_is_joined_by_id() -> None:
    with running() as server:
        hidden = server.reserve("create", "hidden")
        seat = server.reserve("joinById", hidden["room_id"])
    assert seat["room_id"] == hidden["room_id"]


def test_a_private_room_is_not_matched_by_join() -> None:
    with running() as server:
        server.reserve("create", "hidden")
        status, body = refusal(server, "join", "hidden")
    assert (status, body) == (404, error(ErrorCode.ROOM_NOT_FOUND, "no joinable room"))


def test_a_private_room_is_not_matched_by_join_or_create() -> None:
    with running() as server:
        hidden = server.reserve("create", "hidden")
        seat = server.reserve("joinOrCreate", "hidden")
    assert seat["room_id"] != hidden["room_id"]


def test_a_private_room_is_not_listed() -> None:
    with running() as server:
        server.reserve("create", "hidden")
        listed = server.http.get("/rooms").json()
    assert listed == []


# -- refusals --------------------------------------------------------------------------------


def test_a_full_room_refuses_with_409_room_full() -> None:
    with running() as server:
        room = server.reserve("create", "walk")
        server.reserve("joinById", room["room_id"])
        server.reserve("joinById", room["room_id"])
        status, body = refusal(server, "joinById", room["room_id"])
    assert (status, body) == (409, error(ErrorCode.ROOM_FULL, "room is full"))


def test_join_with_every_room_full_refuses_with_404() -> None:
    with running() as server:
        for _ in range(3):
            server.reserve("joinOrCreate", "walk")
        status, body = refusal(server, "join", "walk")
    assert (status, body) == (404, error(ErrorCode.ROOM_NOT_FOUND, "no joinable room"))


def test_an_unknown_room_id_refuses_with_404_room_not_found() -> None:
    with running() as server:
        status, body = refusal(server, "joinById", "no-such-room")
    assert (status, body) == (404, error(ErrorCode.ROOM_NOT_FOUND, "room not found"))


def test_a_locked_room_refuses_players_with_409_room_locked() -> None:
    with running() as server:
        room = server.reserve("create", "walk", {"locked": True}, spectator=True)
        status, body = refusal(server, "joinById", room["room_id"])
    assert (status, body) == (409, error(ErrorCode.ROOM_LOCKED, "room is locked"))


def test_a_locked_room_still_takes_spectators() -> None:
    with running() as server:
        room = server.reserve("create", "walk", {"locked": True}, spectator=True)
        seat = server.reserve("joinById", room["room_id"], spectator=True)
    assert seat["spectator"] is True


@pytest.mark.parametrize("method", ["create", "join", "joinOrCreate"])
def test_an_unknown_room_type_refuses_with_404_unknown_room_type(method: str) -> None:
    with running() as server:
        status, body = refusal(server, method, "chess")
    assert (status, body) == (404, error(ErrorCode.UNKNOWN_ROOM_TYPE, "unknown room type"))


def test_a_refusing_on_auth_refuses_with_403_auth_failed() -> None:
    with running() as server:
        status, body = refusal(server, "create", "guarded", {"password": "guess"})
    assert (status, body) == (403, error(ErrorCode.AUTH_FAILED, "wrong password"))


def test_a_refused_create_leaves_no_room_behind() -> None:
    with running() as server:
        refusal(server, "create", "guarded", {"password": "guess"})
        rooms = server.call(lambda: server.state.registry.rooms)
    assert rooms == {}


def test_options_failing_the_rooms_model_refuse_with_422_invalid_options() -> None:
    with running() as server:
        status, body = refusal(server, "create", "guarded", {})
    assert status == 422
    assert body["error"]["code"] == ErrorCode.INVALID_OPTIONS
    assert body["error"]["name"] == "INVALID_OPTIONS"
    assert body["error"]["message"].startswith("invalid payload at password")


def test_a_wrong_reconnect_token_refuses_with_410_seat_invalid() -> None:
    with running() as server:
        client = server.join()
        status, body = refusal(server, "reconnect", client.room_id, {"reconnect_token": "nope"})
    assert (status, body) == (
        410,
        error(ErrorCode.SEAT_INVALID, "reconnect token is invalid or expired"),
    )


def test_reconnect_without_a_token_refuses_with_410_seat_invalid() -> None:
    with running() as server:
        client = server.join()
        status, body = refusal(server, "reconnect", client.room_id)
    assert (status, body) == (410, error(ErrorCode.SEAT_INVALID, "reconnect_token is required"))


def test_reconnect_to_an_unknown_room_refuses_with_404() -> None:
    with running() as server:
        status, body = refusal(server, "reconnect", "no-such-room", {"reconnect_token": "x"})
    assert (status, body) == (404, error(ErrorCode.ROOM_NOT_FOUND, "room not found"))


def test_an_unknown_method_is_a_422_validation_error() -> None:
    with running() as server:
        response = server.matchmake("steal", "walk")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "method"]


def test_a_body_that_is_not_an_object_is_a_422_validation_error() -> None:
    with running() as server:
        response = server.http.post("/matchmake/create/walk", json=["not", "an", "object"])
    assert response.status_code == 422
    assert "detail" in response.json()


def test_a_room_that_fails_to_start_refuses_with_a_json_error() -> None:
    with running() as server:
        response = server.matchmake("create", "unstartable")
    assert response.status_code == 503
    assert SECRET not in response.text
    assert set(response.json()["error"]) == {"code", "name", "message"}


def test_matchmaking_while_shutting_down_refuses_with_503_and_a_json_error() -> None:
    with running() as server:
        server.call(server.state.registry.shutdown)
        response = server.matchmake("joinOrCreate", "walk")
    assert response.status_code == 503
    assert set(response.json()["error"]) == {"code", "name", "message"}


# -- listings --------------------------------------------------------------------------------


def test_rooms_lists_public_rooms_with_their_counts_and_metadata() -> None:
    with running() as server:
        seat = server.reserve("create", "walk", {"mode": "duel"})
        server.reserve("joinById", seat["room_id"])
        listed = server.http.get("/rooms").json()
    assert listed == [
        {
            "room_id": seat["room_id"],
            "name": "walk",
            "clients": 2,
            "max_clients": 3,
            "metadata": {"mode": "duel"},
        }
    ]


def test_rooms_filters_by_name() -> None:
    with running() as server:
        walk = server.reserve("create", "walk")
        fragile = server.reserve("create", "fragile")
        walks = server.http.get("/rooms", params={"name": "walk"}).json()
        fragiles = server.http.get("/rooms", params={"name": "fragile"}).json()
    assert [room["room_id"] for room in walks] == [walk["room_id"]]
    assert [room["room_id"] for room in fragiles] == [fragile["room_id"]]


def test_rooms_filters_by_metadata() -> None:
    with running() as server:
        duel = server.reserve("create", "walk", {"mode": "duel"})
        server.reserve("create", "walk", {"mode": "ffa"})
        listed = server.http.get("/rooms", params={"mode": "duel"}).json()
    assert [room["room_id"] for room in listed] == [duel["room_id"]]


def test_rooms_filters_by_name_and_metadata_together() -> None:
    with running() as server:
        server.reserve("create", "fragile", {"mode": "duel"})
        walk = server.reserve("create", "walk", {"mode": "duel"})
        listed = server.http.get("/rooms", params={"name": "walk", "mode": "duel"}).json()
    assert [room["room_id"] for room in listed] == [walk["room_id"]]


def test_rooms_does_not_list_locked_rooms() -> None:
    with running() as server:
        server.reserve("create", "walk", {"locked": True}, spectator=True)
        listed = server.http.get("/rooms").json()
    assert listed == []


def test_rooms_lists_nothing_for_an_unknown_metadata_value() -> None:
    with running() as server:
        server.reserve("create", "walk", {"mode": "duel"})
        listed = server.http.get("/rooms", params={"mode": "siege"}).json()
    assert listed == []
