"""SyncGameClient: the asyncio client from blocking code, its loop in a background thread."""

from __future__ import annotations

import threading

import pytest
from client_servers import live_server

from clients.python import RequestError, StateChange, SyncGameClient
from protocol.codes import ErrorCode


def loop_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "tickroom-client"]


def test_join_play_and_leave_without_await() -> None:
    with live_server() as live, SyncGameClient(live.url, timeout=10) as client:
        room = client.join_or_create("arena", {"name": "nb"})
        seqs = [room.send_input({"dx": 1, "dy": 0}) for _ in range(3)]
        assert seqs == [1, 2, 3]
        room.wait_for(lambda r: r.last_seq == 3, timeout=5)
        _, last_seq, state = room.view()
        assert last_seq == 3
        assert state["players"][room.session_id]["name"] == "nb"
        copy = room.state
        copy["players"].clear()  # a copy: the room's view is untouched
        assert room.state["players"]
        events = room.poll_events()
        assert any(isinstance(event, StateChange) for event in events)
        left = room.leave()
        assert left.consented
        assert room.closed is left


def test_requests_raise_their_errors_in_the_calling_thread() -> None:
    with live_server() as live, SyncGameClient(live.url) as client:
        room = client.create("connect_four")
        with pytest.raises(RequestError) as caught:
            room.request("rematch", timeout=5)
        assert caught.value.code == ErrorCode.NOT_ALLOWED
        assert room.latency().rtt_ms > 0


def test_close_stops_the_loop_thread() -> None:
    with live_server() as live:
        client = SyncGameClient(live.url)
        room = client.join_or_create("arena")
        assert loop_threads()
        client.close()
        client.close()  # twice is harmless
        assert room.closed is not None
        assert not loop_threads()
