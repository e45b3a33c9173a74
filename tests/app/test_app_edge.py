"""The socket edge: every close code the edge or a room produces, and every class of bad input,
each answered as docs/protocol.md says, while the room keeps ticking and a bystander in it
notices nothing (``Server.watch``: one PATCH per tick, consecutive, and nothing else).

Timeouts run on the ManualClock: ``server.watch(..., ticks=n)`` moves time n/16 s, one tick at
a time, and the transport's watchdog (which sleeps on the same clock) fires inside it.
"""

from __future__ import annotations

import math
import threading

import msgpack
import pytest
from rooms_for_tests import SECRET
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from wire import TICK_RATE, Server, ShutdownGate, WireClient, app_settings, running

from game_server.app import create_app
from game_server.clock import ManualClock
from game_server.transport import WATCHDOG_PERIOD
from protocol.codec import encode
from protocol.codes import PROTOCOL_VERSION, SUBPROTOCOL_JSON, CloseCode, ErrorCode
from protocol.messages import Ack, AppMessage, Error, Input, Join

FOREIGN = "https://evil.example"


def past(timeout: float) -> int:
    """Ticks after which a timeout of ``timeout`` seconds, counted from the client's last frame,
    has surely fired. The watchdog looks every ``WATCHDOG_PERIOD`` seconds, and notices an
    acknowledgement only at its next look."""
    return math.ceil((timeout + 2 * WATCHDOG_PERIOD) * TICK_RATE) + 1


def newcomer(server: Server, room_of: WireClient) -> tuple[WireClient, dict[str, object]]:
    """A socket opened on the url of a fresh seat in ``room_of``'s room, not joined yet."""
    seat = server.reserve("joinById", room_of.room_id)
    return server.connect(str(seat["url"])), seat


def joined(server: Server, room_of: WireClient) -> WireClient:
    """A second player in ``room_of``'s room, welcomed and up to date."""
    client = server.join(room_of.room_id, method="joinById")
    server.watch(room_of, client, ticks=1)
    return client


# -- bad bytes and bad frames ----------------------------------------------------------------


def test_garbage_bytes_close_with_protocol_error() -> None:
    with running() as server:
        bystander = server.join()
        victim = joined(server, bystander)
        victim.send_raw(b"\xc1 is never msgpack")
        assert victim.expect_close() == (CloseCode.PROTOCOL_ERROR, "invalid msgpack")
        server.watch(bystander)


def test_an_unknown_message_type_closes_with_protocol_error() -> None:
    with running() as server:
        bystander = server.join()
        victim = joined(server, bystander)
        victim.send_raw(b"\x7f" + msgpack.packb([]))
        assert victim.expect_close() == (CloseCode.PROTOCOL_ERROR, "unknown message type 127")
        server.watch(bystander)


def test_a_field_breaking_its_rules_closes_with_protocol_error() -> None:
    with running() as server:
        bystander = server.join()
        victim = joined(server, bystander)
        victim.send_raw(b"\x04" + msgpack.packb(["one", {"dx": 1}]))
        code, _ = victim.expect_close()
        server.watch(bystander)
    assert code == CloseCode.PROTOCOL_ERROR


def test_input_before_join_closes_with_protocol_error() -> None:
    with running() as server:
        bystander = server.join()
        victim, _ = newcomer(server, bystander)
        victim.send_raw(encode(Input(1, {"dx": 1})))
        assert victim.expect_close() == (
            CloseCode.PROTOCOL_ERROR,
            "input from the client is not allowed while connecting",
        )
        server.watch(bystander)


def test_a_second_join_closes_with_protocol_error() -> None:
    with running() as server:
        bystander = server.join()
        victim = joined(server, bystander)
        victim.send_raw(encode(Join(PROTOCOL_VERSION, "another-token")))
        assert victim.expect_close() == (
            CloseCode.PROTOCOL_ERROR,
            "join from the client is not allowed while joined",
        )
        server.watch(bystander)


def test_a_text_frame_on_the_msgpack_subprotocol_closes_with_protocol_error() -> None:
    with running() as server:
        bystander = server.join()
        victim = joined(server, bystander)
        victim.send_raw('{"type": "ack", "tick": 1}')
        assert victim.expect_close() == (
            CloseCode.PROTOCOL_ERROR,
            "text frames need the json subprotocol",
        )
        server.watch(bystander)


def test_a_binary_frame_on_the_json_subprotocol_closes_with_protocol_error() -> None:
    with running() as server:
        bystander = server.join()
        victim = server.join(bystander.room_id, method="joinById", json=True)
        server.watch(bystander, victim, ticks=1)
        victim.send_raw(encode(Ack(1)))
        assert victim.expect_close() == (
            CloseCode.PROTOCOL_ERROR,
            "binary frames need the msgpack subprotocol",
        )
        server.watch(bystander)


def test_a_frame_over_4_kib_closes_with_message_too_big() -> None:
    with running() as server:
        bystander = server.join()
        victim = joined(server, bystander)
        frame = encode(Input(1, {"pad": "x" * 4096}))
        assert len(frame) > 4096
        victim.send_raw(frame)
        closed = victim.expect_close()
        server.watch(bystander)
    assert closed == (CloseCode.MESSAGE_TOO_BIG, "message exceeds 4096 bytes")


def test_a_frame_continued_over_messages_past_4_kib_closes_with_message_too_big() -> None:
    with running() as server:
        bystander = server.join()
        victim = joined(server, bystander)
        victim.send_raw(b"\x06\x92\xa4kind\xdb\x00\x00\x20\x00")  # a str of 8192 bytes follows
        victim.send_raw(b"x" * 4000)
        victim.send_raw(b"x" * 4000)
        closed = victim.expect_close()
        server.watch(bystander)
    assert closed == (CloseCode.MESSAGE_TOO_BIG, "frame exceeds 4096 bytes")


def test_a_frame_of_exactly_4_kib_is_accepted() -> None:
    with running() as server:
        bystander = server.join()
        victim = joined(server, bystander)
        frame = encode(AppMessage("kind", "x" * 4086))
        assert len(frame) == 4096
        victim.send_raw(frame)
        server.watch(bystander, ticks=1)
        error = victim.expect(Error)
    assert (error.code, error.message) == (ErrorCode.UNKNOWN_MESSAGE, "no handler for 'kind'")


def test_a_large_json_frame_closes_with_message_too_big() -> None:
    with running() as server:
        bystander = server.join()
        victim = server.join(bystander.room_id, method="joinById", json=True)
        server.watch(bystander, victim, ticks=1)
        victim.send_raw('{"type": "message", "kind": "k", "payload": "' + "x" * 4096 + '"}')
        closed = victim.expect_close()
        server.watch(bystander)
    assert closed == (CloseCode.MESSAGE_TOO_BIG, "message exceeds 4096 bytes")


def test_a_message_may_batch_several_frames() -> None:
    with running() as server:
        bystander = server.join()
        victim = joined(server, bystander)
        victim.send_raw(b"".join(encode(Input(seq, {"dx": 1})) for seq in (1, 2, 3)))
        server.watch(bystander, victim, ticks=1)
    assert victim.last_seq == 3
    assert victim.state["players"][victim.session_id] == {"x": 3, "y": 0}


def test_many_frames_in_one_message_over_4_kib_close_with_message_too_big() -> None:
    with running() as server:
        bystander = server.join()
        victim = joined(server, bystander)
        victim.send_raw(encode(Ack(1)) * 2000)
        closed = victim.expect_close()
        server.watch(bystander)
    assert closed == (CloseCode.MESSAGE_TOO_BIG, "message exceeds 4096 bytes")


# -- seats and tokens ------------------------------------------------------------------------


def test_an_unknown_seat_token_closes_with_seat_invalid() -> None:
    with running() as server:
        bystander = server.join()
        victim, _ = newcomer(server, bystander)
        victim.send_raw(encode(Join(PROTOCOL_VERSION, "no-such-token")))
        assert victim.expect_close() == (
            CloseCode.SEAT_INVALID,
            "seat reservation is invalid or expired",
        )
        server.watch(bystander)


def test_a_seat_token_used_twice_closes_the_second_socket_with_seat_invalid() -> None:
    with running() as server:
        bystander = server.join()
        first, seat = newcomer(server, bystander)
        first.join(str(seat["token"]))
        second = server.connect(str(seat["url"]))
        second.send_raw(encode(Join(PROTOCOL_VERSION, str(seat["token"]))))
        assert second.expect_close() == (
            CloseCode.SEAT_INVALID,
            "seat reservation is invalid or expired",
        )
        server.watch(bystander, first)


def test_an_expired_seat_token_closes_with_seat_invalid() -> None:
    with running() as server:
        bystander = server.join()
        seat = server.reserve("joinById", bystander.room_id)
        server.watch(bystander, ticks=17)  # Walk.seat_reservation_timeout is 1 s: 16 ticks
        victim = server.connect(str(seat["url"]))
        victim.send_raw(encode(Join(PROTOCOL_VERSION, str(seat["token"]))))
        assert victim.expect_close() == (
            CloseCode.SEAT_INVALID,
            "seat reservation is invalid or expired",
        )
        server.watch(bystander)


def test_a_seat_token_for_another_room_closes_with_seat_invalid() -> None:
    with running() as server:
        bystander = server.join()
        elsewhere = server.reserve("create", "walk")
        victim = server.connect(f"/ws/{bystander.room_id}")
        victim.send_raw(encode(Join(PROTOCOL_VERSION, str(elsewhere["token"]))))
        assert victim.expect_close() == (CloseCode.SEAT_INVALID, "token is for another room")
        server.watch(bystander)


def test_a_refused_token_for_another_room_still_works_in_its_own() -> None:
    with running() as server:
        bystander = server.join()
        elsewhere = server.reserve("create", "walk")
        victim = server.connect(f"/ws/{bystander.room_id}")
        victim.send_raw(encode(Join(PROTOCOL_VERSION, str(elsewhere["token"]))))
        victim.expect_close()
        owner = server.connect(str(elsewhere["url"]))
        welcome = owner.join(str(elsewhere["token"]))
    assert welcome.room_id == elsewhere["room_id"]


def test_an_unknown_reconnect_token_closes_with_failed_to_reconnect() -> None:
    with running() as server:
        bystander = server.join()
        victim, _ = newcomer(server, bystander)
        victim.conn.send_reconnect("no-such-token", 3)
        victim.flush()
        assert victim.expect_close() == (
            CloseCode.FAILED_TO_RECONNECT,
            "reconnect token is invalid or expired",
        )
        server.watch(bystander)


def test_another_protocol_version_closes_with_unsupported_version() -> None:
    with running() as server:
        bystander = server.join()
        victim, seat = newcomer(server, bystander)
        victim.send_raw(encode(Join(PROTOCOL_VERSION + 1, str(seat["token"]))))
        assert victim.expect_close() == (
            CloseCode.UNSUPPORTED_VERSION,
            f"unsupported protocol version {PROTOCOL_VERSION + 1}",
        )
        server.watch(bystander)


# -- Origin ----------------------------------------------------------------------------------


def test_a_foreign_origin_is_refused_before_the_socket_is_accepted() -> None:
    with running() as server:
        bystander = server.join()
        seat = server.reserve("joinById", bystander.room_id)
        with pytest.raises(WebSocketDisconnect) as refused:
            server.open(str(seat["url"]), headers={"origin": FOREIGN})
        server.watch(bystander)
        assert server.state.metrics.origin_refused == 1
    assert refused.value.code == 1008


def test_the_servers_own_origin_is_accepted() -> None:
    with running() as server:
        seat = server.reserve("create", "walk")
        session, _ = server.open(str(seat["url"]), headers={"origin": "http://testserver"})
        welcome = WireClient(session, lambda: None).join(str(seat["token"]))
    assert welcome.session_id == seat["session_id"]


def test_an_allowed_origin_is_accepted() -> None:
    settings = app_settings(allowed_origins=["https://play.example.com"])
    with running(settings) as server:
        seat = server.reserve("create", "walk")
        session, _ = server.open(str(seat["url"]), headers={"origin": "https://play.example.com"})
        assert session.accepted_subprotocol is not None


def test_allow_any_origin_accepts_a_foreign_origin() -> None:
    with running(app_settings(allow_any_origin=True)) as server:
        seat = server.reserve("create", "walk")
        session, _ = server.open(str(seat["url"]), headers={"origin": FOREIGN})
        assert session.accepted_subprotocol is not None


# -- rate limit ------------------------------------------------------------------------------


def test_a_flood_gets_an_error_then_closes_with_rate_limited() -> None:
    with running() as server:
        bystander = server.join()
        victim = joined(server, bystander)
        for _ in range(121):  # Walk allows 60/s, 60 saved up; time stands still meanwhile
            victim.send_raw(encode(Ack(victim.tick)))
        error = victim.expect(Error)
        code, reason = victim.expect_close()
        server.watch(bystander)
        assert server.state.metrics.rate_limited == 61
    assert (error.code, error.message) == (ErrorCode.RATE_LIMITED, "rate limited: message dropped")
    assert (code, reason) == (CloseCode.RATE_LIMITED, "rate limited")


def test_frames_within_the_rate_limit_are_not_refused() -> None:
    with running() as server:
        bystander = server.join()
        victim = joined(server, bystander)  # which acknowledged once
        for _ in range(59):  # 60 in all: what Walk saves up (max_messages_per_second)
            victim.send_raw(encode(Ack(victim.tick)))
        server.watch(bystander, victim)
        assert server.state.metrics.rate_limited == 0


# -- timeouts --------------------------------------------------------------------------------


def test_no_join_within_the_join_timeout_closes_with_idle_timeout() -> None:
    with running(app_settings(join_timeout=1.0)) as server:
        bystander = server.join()
        victim, _ = newcomer(server, bystander)
        server.watch(bystander, ticks=12)  # 0.75 s: not yet
        assert victim.conn.close_code is None
        server.watch(bystander, ticks=past(1.0) - 12)
        assert victim.expect_close() == (CloseCode.IDLE_TIMEOUT, "no join received")
        server.watch(bystander)


def test_a_silent_client_closes_with_idle_timeout() -> None:
    with running(app_settings(idle_timeout=1.0)) as server:
        bystander = server.join()
        victim = joined(server, bystander)
        server.watch(bystander, ticks=past(1.0))
        assert victim.expect_close() == (CloseCode.IDLE_TIMEOUT, "idle")
        server.watch(bystander)


def test_a_client_that_stops_acknowledging_closes_with_too_slow() -> None:
    with running(app_settings(ack_timeout=1.0)) as server:
        bystander = server.join()
        victim = joined(server, bystander)
        server.watch(bystander, ticks=past(1.0))
        assert victim.expect_close() == (CloseCode.TOO_SLOW, "too slow")
        server.watch(bystander)
        assert server.state.metrics.too_slow == 1


# -- what rooms close with -------------------------------------------------------------------


def test_a_kicked_client_closes_with_kicked() -> None:
    with running() as server:
        bystander = server.join()
        victim = joined(server, bystander)
        victim.send_message("kick_me")
        server.watch(bystander, ticks=1)
        assert victim.expect_close() == (CloseCode.KICKED, "kicked")
        server.watch(bystander)
    assert list(bystander.state["players"]) == [bystander.session_id]


def test_too_many_frames_queued_in_one_tick_close_with_too_slow() -> None:
    with running() as server:
        bystander = server.join()
        victim = joined(server, bystander)
        victim.send_message("spam", 1000)
        server.watch(bystander, ticks=1)
        code, reason = victim.expect_close()
        server.watch(bystander)
    spam = [m for m in victim.received if isinstance(m, AppMessage)]
    assert (code, reason) == (CloseCode.TOO_SLOW, "too many frames queued")
    assert len(spam) == 257  # Room.max_queued_frames, and the one that went over


def test_a_failing_room_closes_with_internal_error_and_keeps_its_secret() -> None:
    with running() as server:
        bystander = server.join()
        victim = server.join("fragile")
        victim.send_message("explode")
        server.watch(bystander, ticks=1)
        error = victim.expect(Error)
        code, reason = victim.expect_close()
        server.watch(bystander)
    assert (error.code, error.message) == (ErrorCode.HANDLER_FAILED, "handler failed")
    assert (code, reason) == (CloseCode.INTERNAL_ERROR, "internal error")
    assert all(SECRET not in repr(message) for message in victim.received)


def test_a_disposed_room_closes_its_clients_with_room_disposed() -> None:
    with running() as server:
        bystander = server.join()
        victim = server.join("walk", method="create")
        server.call(server.state.registry.dispose_room, victim.room_id)
        assert victim.expect_close() == (CloseCode.ROOM_DISPOSED, "room disposed")
        server.watch(bystander)


def test_leaving_the_test_client_closes_sockets_with_server_shutdown() -> None:
    app = create_app(app_settings(), clock=ManualClock())
    gate = ShutdownGate(app)
    http = TestClient(gate)
    http.__enter__()
    try:
        seat = http.post("/matchmake/create/walk", json={}).json()
        session = http.websocket_connect(seat["url"]).__enter__()
        client = WireClient(session, lambda: None)
        client.join(seat["token"])
        leaving = threading.Thread(target=http.__exit__, args=(None, None, None))
        leaving.start()
        closed = client.expect_close()
        session.__exit__(None, None, None)
    finally:
        gate.release()
    leaving.join(timeout=5)
    assert not leaving.is_alive()
    assert closed == (CloseCode.SERVER_SHUTDOWN, "server shutting down")


def test_the_json_subprotocol_refuses_garbage_text_with_protocol_error() -> None:
    with running() as server:
        bystander = server.join()
        seat = server.reserve("joinById", bystander.room_id)
        victim = server.connect(str(seat["url"]), subprotocols=[SUBPROTOCOL_JSON])
        victim.send_raw("{not json")
        assert victim.expect_close() == (CloseCode.PROTOCOL_ERROR, "invalid json")
        server.watch(bystander)
