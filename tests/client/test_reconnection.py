"""Dropped connections resume the same session: no input lost, the state equal to the server's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from client_servers import LiveServer, live_server, record_hashes, run

from clients.python import (
    GameClient,
    Reconnected,
    ReconnectFailedError,
    Reconnecting,
    ReconnectPolicy,
    RoomConnection,
)
from clients.python.errors import ABNORMAL_CLOSURE
from clients.python.links import Link, LinkError
from clients.python.memory import InMemoryServer
from game_server.app import create_app
from game_server.room import Room
from game_server.settings import Settings
from protocol.codes import CloseCode
from protocol.diff import state_hash

FAST = ReconnectPolicy(min_delay=0.01, max_delay=0.05)


def watch_inputs(room: Room) -> list[int]:
    """The sequence numbers of the inputs the room processes, in order."""
    seen: list[int] = []

    def record(tick: int, event: tuple[Any, ...]) -> None:
        if event[0] == "input":
            seen.append(event[2])

    room.recorder = record
    return seen


async def play(room: RoomConnection, inputs: int) -> None:
    """Send ``inputs`` inputs, one per tick, whatever the link is doing."""
    for _ in range(inputs):
        room.send_input({"dx": 1, "dy": 1})
        await asyncio.sleep(0.05)


def test_a_drop_from_the_client_side_resumes_with_no_input_lost() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            room = await server.client(reconnect=FAST).join_or_create("arena")
            server_room = server.app.state.server.registry.get(room.room_id)
            seen, hashes = watch_inputs(server_room), record_hashes(server_room)
            events: list[object] = []
            room.on_reconnect(events.append)
            token = room.reconnect_token
            await play(room, 5)
            room.drop()
            await play(room, 10)  # these wait in unacked_inputs until the session resumes
            await room.wait_for(lambda r: r.last_seq == 15 and r.tick in hashes, timeout=5)
            assert seen == list(range(1, 16))
            assert state_hash(room.state) == hashes[room.tick]
            assert room.stats.reconnects == 1
            assert isinstance(events[0], Reconnecting)
            assert events[0].close_code == ABNORMAL_CLOSURE
            assert isinstance(events[-1], Reconnected)
            assert room.reconnect_token == token
            assert len(server_room.clients) == 1  # the same seat, not a new one

    run(main())


def test_a_drop_from_the_server_side_resumes_with_no_input_lost() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            room = await server.client(reconnect=FAST).join_or_create("arena")
            server_room = server.app.state.server.registry.get(room.room_id)
            seen, hashes = watch_inputs(server_room), record_hashes(server_room)
            await play(room, 3)
            server.links[0].abort()  # the server's socket goes away mid-match
            await play(room, 6)
            await room.wait_for(lambda r: r.last_seq == 9 and r.tick in hashes, timeout=5)
            assert seen == list(range(1, 10))
            assert state_hash(room.state) == hashes[room.tick]
            assert len(server.links) == 2

    run(main())


def test_a_backlog_of_inputs_is_paced_out_so_the_server_takes_every_one() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            room = await server.client(reconnect=FAST).join_or_create("arena")
            seen = watch_inputs(server.app.state.server.registry.get(room.room_id))
            room.drop()
            for _ in range(200):  # more than a room takes per tick, or keeps waiting at once
                room.send_input({"dx": -1, "dy": 0})
            assert len(room.unacked_inputs) == 200
            await room.wait_for(lambda r: r.last_seq == 200, timeout=15)
            assert seen == list(range(1, 201))
            assert room.unacked_inputs == {}

    run(main())


def abort_server_socket(live: LiveServer, room_id: str, session_id: str) -> None:
    """Kill the TCP connection of ``session_id`` from the server side, with no close frame."""

    def abort() -> int:
        client = live.app.state.server.registry.get(room_id).clients[session_id]
        peer = tuple(client.sink.websocket.client)  # the WebSocketSession's socket
        aborted = 0
        for protocol in live.server.server_state.connections:  # uvicorn's, one a socket
            if getattr(protocol, "client", None) == peer:
                protocol.transport.abort()
                aborted += 1
        return aborted

    assert live.call(abort) == 1


def abort_fast_socket(live: LiveServer, room_id: str, session_id: str) -> None:
    """Kill the TCP connection of ``session_id`` on the fast game socket, with no close frame."""

    def abort() -> int:
        game_socket = live.app.state.server.game_socket
        assert game_socket is not None
        killed = 0
        for session in list(game_socket.sessions):
            client = session.client
            if client is not None and client.session_id == session_id and session.transport:
                session.transport.underlying_transport.abort()
                killed += 1
        return killed

    assert live.call(abort) == 1


def test_a_tcp_connection_killed_by_the_server_resumes() -> None:
    with live_server() as live:
        _test_a_tcp_connection_killed_by_the_server_resumes(live, abort_server_socket)


def test_a_tcp_connection_killed_on_the_fast_game_socket_resumes() -> None:
    with live_server(game_port=0) as live:
        _test_a_tcp_connection_killed_by_the_server_resumes(live, abort_fast_socket)


def _test_a_tcp_connection_killed_by_the_server_resumes(
    live: LiveServer, abort: Callable[[LiveServer, str, str], None]
) -> None:
    async def main() -> None:
        async with GameClient(live.url, reconnect=FAST) as client:
            room = await client.join_or_create("arena")
            if live.app.state.server.game_port is not None:
                assert room.reservation.url.startswith(
                    f"ws://127.0.0.1:{live.app.state.server.game_port}/ws/"
                )
            server_room = live.room(room.room_id)
            seen, hashes = watch_inputs(server_room), record_hashes(server_room)
            await play(room, 4)
            abort(live, room.room_id, room.session_id)
            await play(room, 8)
            await room.wait_for(lambda r: r.last_seq == 12 and r.tick in hashes, timeout=10)
            assert seen == list(range(1, 13))
            assert state_hash(room.state) == hashes[room.tick]
            assert room.stats.reconnects == 1
            await room.leave()

    run(main())


def test_a_patch_that_does_not_fit_is_repaired_with_a_full_state() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            room = await server.client(reconnect=FAST).join_or_create("arena")
            hashes = record_hashes(server.app.state.server.registry.get(room.room_id))
            full_states = room.stats.full_states
            room.tick -= 1  # the next patch's baseline no longer matches
            await room.wait_for(lambda r: r.stats.resyncs == 1 and r.stats.reconnects == 1, 5)
            await room.wait_for(lambda r: r.tick in hashes, timeout=2)
            assert state_hash(room.state) == hashes[room.tick]
            assert room.stats.full_states == full_states + 1

    run(main())


def test_reconnection_to_a_room_that_is_gone_fails_for_good() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            room = await server.client(reconnect=FAST).join_or_create("arena")
            registry = server.app.state.server.registry
            room.drop()
            await registry.dispose_room(room.room_id)
            left = await asyncio.wait_for(room.wait_closed(), 5)
            assert isinstance(left.error, ReconnectFailedError)
            refused = (CloseCode.FAILED_TO_RECONNECT, CloseCode.SEAT_INVALID)
            assert left.error.close_code in refused
            assert str(left.error) == "reconnection refused"
            assert not left.consented

    run(main())


def test_reconnection_gives_up_after_its_retries() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            opened = 0

            async def opener(url: str, subprotocols: Sequence[str]) -> Link:
                nonlocal opened
                opened += 1
                if opened > 1:
                    raise LinkError("connection refused")
                return await server.open(url, subprotocols)

            policy = ReconnectPolicy(retries=3, min_delay=0.01, max_delay=0.02)
            client = GameClient(
                "http://testserver", http=server.client()._http, opener=opener, reconnect=policy
            )
            room = await client.join_or_create("arena")
            delays: list[float] = []

            def note(event: Reconnecting | Reconnected) -> None:
                if isinstance(event, Reconnecting):
                    delays.append(event.delay)

            room.on_reconnect(note)
            room.drop()
            left = await asyncio.wait_for(room.wait_closed(), 5)
            assert isinstance(left.error, ReconnectFailedError)
            assert str(left.error) == "reconnection failed"
            assert opened == 4
            assert len(delays) == 3
            assert delays[0] < delays[2]  # 0.01 (+10 % jitter at most), then capped at 0.02
            assert max(delays) <= 0.02 * 1.1

    run(main())


def test_without_reconnection_a_drop_ends_the_connection() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            room = await server.client(reconnect=ReconnectPolicy(retries=0)).join_or_create("arena")
            room.drop()
            left = await asyncio.wait_for(room.wait_closed(), 5)
            assert left.error is not None
            assert left.code == ABNORMAL_CLOSURE

    run(main())


def test_a_session_resumes_from_its_token_in_a_new_client() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            client = server.client(reconnect=ReconnectPolicy(retries=0))
            first = await client.join_or_create("arena")
            token, room_id, session = first.reconnect_token, first.room_id, first.session_id
            first.drop()
            await asyncio.wait_for(first.wait_closed(), 5)
            again = await server.client().reconnect(room_id, token)
            assert again.session_id == session
            assert again.stats.full_states == 1

    run(main())


def test_the_backoff_grows_to_its_maximum() -> None:
    policy = ReconnectPolicy(min_delay=0.1, max_delay=1.0, factor=2.0, jitter=0.5)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [0.1, 0.2, 0.4, 0.8, 1.0]
    assert policy.delay(1, random_fraction=1.0) == pytest.approx(0.15)
    with pytest.raises(ValueError, match="min_delay <= max_delay"):
        ReconnectPolicy(min_delay=2, max_delay=1)
