"""GameClient and RoomConnection against the real app, in memory (no sockets) and over TCP."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from client_servers import LiveServer, live_server, record_hashes, run

from clients.python import (
    ClientError,
    ErrorReceived,
    GameClient,
    Left,
    MessageReceived,
    RequestError,
    RequestTimeoutError,
    StateChange,
)
from clients.python.links import Link
from clients.python.memory import InMemoryServer
from game_server.app import create_app
from game_server.room import Room
from game_server.settings import Settings
from protocol.codes import CloseCode, ErrorCode, MessageType
from protocol.diff import state_hash


def server_room(server: InMemoryServer, room_id: str) -> Room:
    room = server.app.state.server.registry.get(room_id)
    assert isinstance(room, Room)
    return room


def test_join_play_leave_keeps_the_state_equal_to_the_servers() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            client = server.client()
            room = await client.join_or_create("arena", {"name": "ada"})
            hashes = record_hashes(server_room(server, room.room_id))
            assert room.tick >= 0
            await room.wait_for(lambda r: r.session_id in r.state["players"], timeout=2)
            assert room.state["players"][room.session_id]["name"] == "ada"
            for _ in range(10):
                room.send_input({"dx": 1, "dy": -1})
                await room.wait_for(lambda r: not r.unacked_inputs, timeout=2)
            assert room.last_seq == 10
            await room.wait_for(lambda r: r.tick in hashes, timeout=2)
            assert state_hash(room.state) == hashes[room.tick]
            left = await room.leave()
            assert left == Left(CloseCode.CONSENTED, "left", consented=True)
            assert room.closed is left
            assert not room.connected
            assert client.rooms == []

    run(main())


def test_a_slow_room_is_acknowledged_about_once_a_second() -> None:
    """At 2 Hz a state comes every half second: the client acknowledges once a second (every
    tenth tick would be every 5 s), so a server with a 2 s ack timeout keeps it."""

    async def main() -> None:
        settings = Settings(tick_rate=2.0, ack_timeout=2.0)
        async with InMemoryServer(create_app(settings)) as server:
            room = await server.client().join_or_create("arena")
            member = server_room(server, room.room_id).clients[room.session_id]
            start = room.tick
            await room.wait_for(lambda r: r.tick >= start + 9, timeout=10)  # 4.5 s
            assert room.connected
            assert member.acked_tick >= start + 6  # acked at least every 3 ticks (1.5 s)
            await room.leave()

    run(main())


def test_join_play_leave_over_tcp() -> None:
    with live_server() as live:
        _test_join_play_leave_over_tcp(live)


def _test_join_play_leave_over_tcp(live: LiveServer) -> None:
    async def main() -> None:
        async with GameClient(live.url) as client:
            room = await client.join_or_create("arena", {"name": "bob"})
            hashes = record_hashes(live.room(room.room_id))
            for _ in range(5):
                room.send_input({"dx": -1, "dy": 1})
                await asyncio.sleep(0.05)
            await room.wait_for(lambda r: r.last_seq == 5 and r.tick in hashes, timeout=5)
            assert state_hash(room.state) == hashes[room.tick]
            assert room.stats.inputs_sent == 5
            assert room.stats.states_received >= 2
            await room.leave()
        assert room.closed is not None
        assert room.closed.consented

    run(main())


def test_the_json_subprotocol_gives_the_same_state() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            room = await server.client(json=True).join_or_create("arena")
            hashes = record_hashes(server_room(server, room.room_id))
            room.send_input({"dx": 1, "dy": 1})
            await room.wait_for(lambda r: r.last_seq == 1 and r.tick in hashes, timeout=2)
            assert state_hash(room.state) == hashes[room.tick]
            assert server.links[-1].subprotocol == "tickroom.v2.json"

    run(main())


def test_state_changes_reach_callbacks_and_the_event_iterator() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            room = await server.client().join_or_create("arena")
            changes: list[StateChange] = []
            unsubscribe = room.on_state_change(changes.append)
            events = room.events()
            first = await anext(events)
            assert isinstance(first, StateChange)
            assert first.state is room.state
            unsubscribe()
            seen = len(changes)
            assert seen >= 1
            assert changes[-1].changes  # NPCs move every tick: a patch lists what changed
            leaving = asyncio.ensure_future(room.leave())
            kinds = [type(event) async for event in events]
            await leaving
            assert kinds[-1] is Left
            assert len(changes) == seen  # unsubscribed: no more calls

    run(main())


def test_messages_reach_on_kind_and_on_message() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            client = server.client()
            alice = await client.create("relay", {"name": "alice"})
            bob = await client.join_by_id(alice.room_id, {"name": "bob"})
            chats: list[object] = []
            everything: list[tuple[str | int, object]] = []
            bob.on("chat", chats.append)
            bob.on_message(lambda kind, payload: everything.append((kind, payload)))
            alice.send("chat", "hello")
            events = bob.events()
            event = await anext(e async for e in events if isinstance(e, MessageReceived))
            assert event == MessageReceived("chat", {"from": alice.session_id, "payload": "hello"})
            assert chats == [{"from": alice.session_id, "payload": "hello"}]
            assert everything == [("chat", chats[0])]

    run(main())


def test_refused_messages_arrive_as_error_events() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            room = await server.client().join_or_create("arena")
            errors: list[ErrorReceived] = []
            room.on_error(errors.append)
            room.send("emote", "wave")
            await room.wait_for(lambda r: bool(errors), timeout=2)
            assert errors == [ErrorReceived(ErrorCode.UNKNOWN_MESSAGE, "no handler for 'emote'")]

    run(main())


def test_a_refused_request_raises_request_error() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            room = await server.client().create("connect_four")
            with pytest.raises(RequestError) as caught:
                await room.request("rematch", None, timeout=2)
            assert caught.value.code == ErrorCode.NOT_ALLOWED
            assert caught.value.message == "game is not over"

    run(main())


class BlackHole:
    """A Link that never delivers REQUEST frames (so requests go unanswered)."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.subprotocol = link.subprotocol
        self.swallowed = 0

    async def send(self, data: bytes | str) -> None:
        if isinstance(data, bytes) and data[0] == MessageType.REQUEST:
            self.swallowed += 1
            return
        await self.link.send(data)

    async def recv(self) -> bytes | str:
        return await self.link.recv()

    async def close(self, code: int, reason: str = "") -> None:
        await self.link.close(code, reason)

    def abort(self) -> None:
        self.link.abort()


def test_a_request_without_answer_times_out() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            holes: list[BlackHole] = []

            async def opener(url: str, subprotocols: Sequence[str]) -> Link:
                holes.append(BlackHole(await server.open(url, subprotocols)))
                return holes[-1]

            client = GameClient("http://testserver", http=server.client()._http, opener=opener)
            room = await client.create("connect_four")
            with pytest.raises(RequestTimeoutError) as caught:
                await room.request("rematch", timeout=0.2)
            assert isinstance(caught.value, TimeoutError)
            assert caught.value.code == ErrorCode.REQUEST_TIMEOUT
            assert str(caught.value) == "request timed out"
            assert holes[0].swallowed == 1
            assert room._requests == {}  # the timed-out request is forgotten
            await room.leave()

    run(main())


def test_latency_measures_round_trip_and_clock_offset() -> None:
    with live_server() as live:
        _test_latency_measures_round_trip_and_clock_offset(live)


def _test_latency_measures_round_trip_and_clock_offset(live: LiveServer) -> None:
    async def main() -> None:
        async with GameClient(live.url) as client:
            room = await client.join_or_create("arena")
            sample = await room.latency(samples=3)
            assert 0 < sample.rtt_ms < 1000
            assert abs(sample.offset_ms) < 1000  # one machine: both clocks agree
            assert room.rtt_ms is not None

    run(main())


def test_spectators_watch_but_cannot_send_input() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            client = server.client()
            player = await client.create("arena")
            watcher = await client.join_by_id(player.room_id, spectator=True)
            assert watcher.is_spectator
            await watcher.wait_for(lambda r: player.session_id in r.state["players"], timeout=2)
            with pytest.raises(ClientError, match=r"^spectators cannot send input$"):
                watcher.send_input({"dx": 1})

    run(main())


def test_sending_after_leaving_raises_disconnected() -> None:
    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            room = await server.client().join_or_create("arena")
            await room.leave()
            assert await room.leave() is room.closed  # leaving twice is harmless
            with pytest.raises(ClientError, match=r"^not connected$"):
                room.send_input({"dx": 1})
            with pytest.raises(ClientError, match=r"^not connected$"):
                await room.request("anything")

    run(main())
