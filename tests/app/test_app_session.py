"""A game session over the socket, as a client lives it: JOIN, WELCOME, FULL_STATE, a PATCH per
tick, inputs that move the player and come back as ``last_seq``, LEAVE and the CONSENTED close;
the JSON debug subprotocol; reconnection; spectators.

Rooms run on a ManualClock (``wire.running``): each ``server.tick()`` is exactly one tick, so
every frame is predictable. One test runs the shipped arena on the real clock.
"""

from __future__ import annotations

import json
from typing import Any

from wire import TICK, TICK_RATE, Server, WireClient, app_settings, running

from game_server.games.arena import FIELD, SPEED
from game_server.settings import DEFAULT_GAMES
from protocol.codes import (
    PROTOCOL_VERSION,
    SUBPROTOCOL_JSON,
    SUBPROTOCOL_MSGPACK,
    CloseCode,
    ErrorCode,
    Role,
)
from protocol.diff import state_hash
from protocol.messages import Error, FullState, Patch, Welcome


def body(client: WireClient) -> dict[str, Any]:
    """The client's own player, as its copy of the state has it."""
    player: dict[str, Any] = client.state["players"][client.session_id]
    return player


def room_hash(server: Server, client: WireClient) -> str:
    return server.call(server.room(client.room_id).state_hash)


# -- joining ---------------------------------------------------------------------------------


def test_join_is_answered_with_welcome_then_the_full_state() -> None:
    with running() as server:
        seat = server.reserve("create", "walk")
        client = server.connect(seat["url"])
        client.conn.send_join(seat["token"])
        client.flush()
        welcome = client.expect(Welcome)
        full = client.expect(FullState)
    assert welcome.version == PROTOCOL_VERSION
    assert welcome.room_id == seat["room_id"]
    assert welcome.session_id == seat["session_id"]
    assert welcome.role == Role.PLAYER
    assert welcome.tick_rate == TICK_RATE
    assert welcome.reconnect_token
    assert (full.tick, full.last_seq, full.state) == (0, 0, {"players": {}})


def test_the_socket_speaks_msgpack_when_it_was_offered() -> None:
    with running() as server:
        seat = server.reserve("create", "walk")
        client = server.connect(seat["url"], subprotocols=[SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK])
        client.join(seat["token"])
    assert client.subprotocol == SUBPROTOCOL_MSGPACK


def test_a_socket_offering_no_subprotocol_gets_msgpack() -> None:
    with running() as server:
        seat = server.reserve("create", "walk")
        client = server.connect(seat["url"], subprotocols=[])
        client.join(seat["token"])
        server.tick()
        client.expect(Patch)
    assert client.session.accepted_subprotocol is None


def test_a_patch_follows_every_tick_each_on_the_last() -> None:
    with running() as server:
        client = server.join()
        ticks = []
        for _ in range(5):
            server.tick()
            patch = client.expect(Patch)
            ticks.append((patch.baseline, patch.tick))
            client.ack()
    assert ticks == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]


def test_ticks_run_before_the_socket_is_drained_come_as_one_patch() -> None:
    with running() as server:
        alice = server.join()
        bob = server.join()
        server.watch(alice, bob, ticks=1)
        clock = server.clock
        assert clock is not None
        alice.send_input({"dx": 1})
        server.call(clock.run_for, 3 * TICK, 3 * TICK)  # three ticks back to back, then drain
        patch = bob.expect(Patch)
        coalesced = server.call(lambda: server.room(bob.room_id).stats.frames_coalesced)
    assert (patch.baseline, patch.tick) == (1, 4)
    assert patch.delta == {"players": {alice.session_id: {"x": 1}}}
    assert coalesced == 4  # two ticks for each of the two members


def test_the_player_appears_in_the_state_on_the_tick_after_join() -> None:
    with running() as server:
        client = server.join()
        assert client.state == {"players": {}}
        server.tick()
        client.expect(Patch)
    assert body(client) == {"x": 0, "y": 0}


def test_an_input_moves_the_player() -> None:
    with running() as server:
        client = server.join()
        server.tick()
        client.expect(Patch)
        client.send_input({"dx": 1, "dy": -1})
        client.send_input({"dx": 1, "dy": 0})
        server.tick()
        client.expect(Patch)
        assert body(client) == {"x": 2, "y": -1}
        assert state_hash(client.state) == room_hash(server, client)


def test_state_frames_acknowledge_the_last_input_processed() -> None:
    with running() as server:
        client = server.join()
        server.tick()
        assert client.expect(Patch).last_seq == 0
        seq = client.send_input({"dx": 1})
        assert client.last_seq == 0
        server.tick()
        assert client.expect(Patch).last_seq == seq == 1


def test_the_client_state_stays_equal_to_the_room_state() -> None:
    with running() as server:
        alice = server.join()
        bob = server.join()
        for step in range(6):
            alice.send_input({"dx": 1})
            bob.send_input({"dy": -1 if step % 2 else 1})
            server.watch(alice, bob, ticks=1)
            expected = room_hash(server, alice)
            assert state_hash(alice.state) == state_hash(bob.state) == expected


def test_leave_closes_the_socket_with_consented_after_the_next_tick() -> None:
    with running() as server:
        client = server.join()
        client.leave()
        server.tick()
        code, reason = client.expect_close()
        assert server.call(lambda: server.state.registry.rooms) == {}
    assert (code, reason) == (CloseCode.CONSENTED, "left")


def test_leaving_removes_the_player_for_the_others() -> None:
    with running() as server:
        alice = server.join()
        bob = server.join()
        server.watch(alice, bob, ticks=1)
        bob.leave()
        server.tick()
        bob.expect_close()
        alice.expect(Patch)
    assert list(alice.state["players"]) == [alice.session_id]


def test_the_arena_runs_on_the_real_clock() -> None:
    with running(app_settings(games=list(DEFAULT_GAMES)), real_clock=True) as server:
        client = server.join("arena", {"name": "alice"})
        while client.session_id not in client.state["players"]:
            client.expect(Patch)
            client.ack()
        start = body(client)["x"]
        direction = 1 if start < FIELD / 2 else -1
        client.send_input({"dx": direction, "dy": 0})
        while client.last_seq < 1:
            client.expect(Patch)
            client.ack()
        moved = body(client)["x"] - start
    assert body(client)["name"] == "alice"
    assert moved * direction >= SPEED


# -- the JSON debug subprotocol ------------------------------------------------------------


def text(client: WireClient) -> dict[str, Any]:
    """The next frame as the JSON object of a text WebSocket message."""
    raw = client.receive_raw()
    assert raw["type"] == "websocket.send", raw
    assert raw.get("text") is not None, "a binary frame on the json subprotocol"
    frame: dict[str, Any] = json.loads(raw["text"])
    return frame


def test_the_json_subprotocol_carries_a_whole_session_in_text_frames() -> None:
    with running() as server:
        seat = server.reserve("create", "walk")
        client = server.connect(seat["url"], subprotocols=[SUBPROTOCOL_JSON])
        assert client.session.accepted_subprotocol == SUBPROTOCOL_JSON
        client.send_raw(
            json.dumps({"type": "join", "version": PROTOCOL_VERSION, "token": seat["token"]})
        )
        welcome = text(client)
        full = text(client)
        client.send_raw(json.dumps({"type": "input", "seq": 1, "payload": {"dx": 1}}))
        server.tick()
        patch = text(client)
        client.send_raw(json.dumps({"type": "ack", "tick": patch["tick"]}))
        client.send_raw(json.dumps({"type": "leave"}))
        server.tick()
        closed = client.receive_raw()
    assert welcome["type"] == "welcome"
    assert welcome["session_id"] == seat["session_id"]
    assert full == {"type": "full_state", "tick": 0, "last_seq": 0, "state": {"players": {}}}
    me = seat["session_id"]
    assert patch == {
        "type": "patch",
        "tick": 1,
        "baseline": 0,
        "last_seq": 1,
        "delta": {"players": {me: [1, {"x": 1, "y": 0}]}},
    }
    assert (closed["type"], closed["code"]) == ("websocket.close", CloseCode.CONSENTED)


def test_the_json_subprotocol_keeps_the_same_state_as_msgpack() -> None:
    with running() as server:
        binary = server.join()
        debug = server.join(json=True)
        for _ in range(3):
            binary.send_input({"dx": 1})
            debug.send_input({"dy": 1})
            server.watch(binary, debug, ticks=1)
    assert debug.subprotocol == SUBPROTOCOL_JSON
    assert debug.state == binary.state


# -- reconnection ------------------------------------------------------------------------


def test_a_dropped_client_resumes_with_one_patch_from_its_last_tick() -> None:
    with running() as server:
        alice = server.join()
        bob = server.join()
        server.watch(alice, bob, ticks=2)
        last_tick = alice.tick
        alice.disconnect()
        bob.send_input({"dx": 1})
        server.watch(bob, ticks=3)
        welcome = server.reconnect(alice)
        patch = alice.expect(Patch)
        assert state_hash(alice.state) == room_hash(server, alice)
    assert welcome.session_id == alice.session_id
    assert (patch.baseline, patch.tick) == (last_tick, last_tick + 3)
    assert alice.state["players"][bob.session_id] == {"x": 1, "y": 0}


def test_the_reconnect_reservation_carries_the_reconnect_token() -> None:
    with running() as server:
        alice = server.join()
        assert alice.welcome is not None
        token = alice.welcome.reconnect_token
        seat = server.reserve("reconnect", alice.room_id, {"reconnect_token": token})
    assert seat["token"] == token
    assert seat["session_id"] == alice.session_id
    assert seat["url"] == f"ws://testserver/ws/{alice.room_id}"


def test_a_second_socket_takes_over_and_the_first_may_try_reconnect() -> None:
    with running() as server:
        alice = server.join()
        assert alice.welcome is not None
        first = WireClient(alice.session, lambda: None)
        server.reconnect(alice)
        code, reason = first.expect_close()
        server.tick()
        patch = alice.expect(Patch)
    assert (code, reason) == (CloseCode.MAY_TRY_RECONNECT, "replaced by a new connection")
    assert (patch.baseline, patch.tick) == (0, 1)


# -- spectators ------------------------------------------------------------------------------


def test_a_spectator_watches_the_players_move() -> None:
    with running() as server:
        alice = server.join("walk", method="create")
        spectator = server.join(alice.room_id, method="joinById", spectator=True)
        alice.send_input({"dx": -1})
        server.watch(alice, spectator, ticks=2)
    assert spectator.welcome is not None
    assert spectator.welcome.role == Role.SPECTATOR
    assert spectator.state["players"] == {alice.session_id: {"x": -1, "y": 0}}


def test_a_spectator_input_is_refused_with_not_allowed_and_it_stays() -> None:
    with running() as server:
        alice = server.join("walk", method="create")
        spectator = server.join(alice.room_id, method="joinById", spectator=True)
        spectator.send_input({"dx": 1})
        error = spectator.expect(Error)
        server.watch(alice, spectator, ticks=2)
    assert (error.code, error.message) == (ErrorCode.NOT_ALLOWED, "spectators cannot send input")
    assert spectator.state["players"] == {alice.session_id: {"x": 0, "y": 0}}
