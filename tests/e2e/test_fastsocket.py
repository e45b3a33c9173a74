"""The dedicated fast game socket (picows) over real loopback sockets.

Each test builds the registry and the GameSocketServer inside one event loop (no HTTP needed:
seats come from the registry directly) and talks to it with the ``websockets`` client and a
sans-I/O ``protocol.Connection``, so every byte crosses a real socket.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import websockets
from websockets.typing import Subprotocol

from game_server.app import ServerState, register_games
from game_server.client import Client
from game_server.clock import MonotonicClock
from game_server.fastsocket import GameSocketServer
from game_server.games.arena import Arena
from game_server.registry import RoomRegistry, SeatReservation
from game_server.room import Room
from game_server.settings import Settings
from protocol.codes import SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, CloseCode
from protocol.connection import Connection
from protocol.diff import apply_delta, decode_state, state_hash
from protocol.messages import AppMessage, FullState, Patch, Welcome
from protocol.schema import Schema
from protocol.state import Side

ARENA = "arena=game_server.games.arena:Arena"


@contextlib.asynccontextmanager
async def game_socket(**overrides: Any) -> AsyncIterator[tuple[ServerState, GameSocketServer]]:
    settings = Settings(host="127.0.0.1", games=[ARENA], **overrides)
    registry = RoomRegistry(MonotonicClock())
    register_games(registry, settings)
    state = ServerState(settings, MonotonicClock(), registry)
    await registry.start()
    server = GameSocketServer(state, "127.0.0.1", 0)
    state.game_port = await server.start()
    try:
        yield state, server
    finally:
        await registry.shutdown(timeout=2)
        await asyncio.sleep(0.05)
        await server.stop()
        await registry.close()


class Player:
    """A client over a real socket: applies state, acks, sends inputs."""

    def __init__(self, ws: websockets.ClientConnection, json: bool = False) -> None:
        self.ws = ws
        self.conn = Connection(
            Side.CLIENT, subprotocol=SUBPROTOCOL_JSON if json else SUBPROTOCOL_MSGPACK
        )
        self.state: dict[str, Any] = {}
        self.schema = Schema()
        self.tick = -1
        self.last_seq = 0
        self.patches: list[Patch] = []
        self.frames: list[FullState | Patch] = []
        self.received_types: set[type] = set()
        self.ack = True

    async def flush(self) -> None:
        for data in self.conn.data_to_send():
            await self.ws.send(data)

    async def pump(self, until: Callable[[], bool], timeout: float = 5.0) -> None:
        """Apply what arrives until ``until()`` holds."""
        async with asyncio.timeout(timeout):
            while not until():
                await self._handle(await self.ws.recv())

    async def read_until_quiet(self, silence: float) -> None:
        """Apply whatever arrives until nothing has for ``silence`` seconds."""
        while True:
            try:
                async with asyncio.timeout(silence):
                    data = await self.ws.recv()
            except TimeoutError:
                return
            await self._handle(data)

    async def _handle(self, data: bytes | str) -> None:
        self.received_types.add(type(data))
        self.conn.receive_data(data)
        for event in self.conn.events_received():
            if isinstance(event, Welcome):
                self.schema = Schema.from_wire(event.schema)
            if isinstance(event, FullState | Patch):
                self.frames.append(event)
            if isinstance(event, FullState):
                self.state = decode_state(event.state, self.schema)
                self._applied(event.tick, event.last_seq)
            elif isinstance(event, Patch):
                self.patches.append(event)
                apply_delta(self.state, event.delta, self.schema)
                self._applied(event.tick, event.last_seq)
        await self.flush()

    def _applied(self, tick: int, last_seq: int) -> None:
        self.tick = tick
        self.last_seq = last_seq
        if self.ack:
            self.conn.send_ack(tick)

    async def close_code(self, timeout: float = 5.0) -> int:
        """Read until the server closes; the close code it sent."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    self.conn.receive_data(await self.ws.recv())
                    self.conn.events_received()
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else -1
        raise AssertionError("unreachable")


def url(state: ServerState, seat: SeatReservation) -> str:
    return f"ws://127.0.0.1:{state.game_port}/ws/{seat.room_id}"


async def connect(
    state: ServerState, seat: SeatReservation, *, json: bool = False, origin: str | None = None
) -> Player:
    protocol = SUBPROTOCOL_JSON if json else SUBPROTOCOL_MSGPACK
    ws = await websockets.connect(
        url(state, seat),
        subprotocols=[Subprotocol(protocol)],
        compression=None,
        origin=websockets.Origin(origin) if origin else None,
    )
    assert ws.subprotocol == protocol
    player = Player(ws, json=json)
    player.conn.send_join(seat.token)
    await player.flush()
    return player


def only_room(state: ServerState) -> Room:
    (room,) = state.registry.rooms.values()
    return room


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 30))


def test_a_player_joins_plays_and_leaves_with_the_servers_state() -> None:
    async def scenario() -> None:
        async with game_socket() as (state, _):
            seat = await state.registry.join_or_create("arena", {"name": "fast"})
            player = await connect(state, seat)
            await player.pump(lambda: player.tick >= 2)
            player.conn.send_input(1, {"dx": 1, "dy": 0})
            await player.flush()
            await player.pump(lambda: player.last_seq == 1)
            await player.pump(lambda: player.tick >= only_room(state).tick)
            assert state_hash(player.state) == only_room(state).state_hash()
            player.conn.send_leave()
            await player.flush()
            assert await player.close_code() == CloseCode.CONSENTED

    run(scenario)


def test_the_json_subprotocol_works_on_the_fast_socket() -> None:
    async def scenario() -> None:
        async with game_socket() as (state, _):
            seat = await state.registry.join_or_create("arena", {})
            player = await connect(state, seat, json=True)
            await player.pump(lambda: player.tick >= 3)
            assert player.received_types == {str}
            assert "players" in player.state

    run(scenario)


def test_a_foreign_origin_is_refused_before_the_upgrade() -> None:
    async def scenario() -> None:
        async with game_socket() as (state, server):
            seat = await state.registry.join_or_create("arena", {})
            with pytest.raises(websockets.InvalidStatus) as refused:
                await connect(state, seat, origin="http://evil.example")
            assert refused.value.response.status_code == 403
            assert state.metrics.origin_refused == 1
            allowed = await connect(state, seat, origin="http://127.0.0.1:8000")  # the HTTP app
            await allowed.pump(lambda: allowed.tick >= 1)
            assert len(server.sessions) == 1

    run(scenario)


def test_garbage_closes_with_protocol_error_and_a_bystander_plays_on() -> None:
    async def scenario() -> None:
        async with game_socket() as (state, _):
            seat = await state.registry.join_or_create("arena", {})
            bystander = await connect(state, seat)
            await bystander.pump(lambda: bystander.tick >= 1)
            other = await state.registry.join_or_create("arena", {})
            rogue = await connect(state, other)
            await rogue.pump(lambda: rogue.tick >= 1)
            await rogue.ws.send(b"\xc1\xc1\xc1")
            assert await rogue.close_code() == CloseCode.PROTOCOL_ERROR
            before = bystander.tick
            await bystander.pump(lambda: bystander.tick >= before + 5)
            ticks = [patch.tick for patch in bystander.patches[-5:]]
            assert ticks == list(range(ticks[0], ticks[0] + 5))

    run(scenario)


def test_an_oversized_message_closes_with_message_too_big() -> None:
    async def scenario() -> None:
        async with game_socket() as (state, _):
            seat = await state.registry.join_or_create("arena", {})
            player = await connect(state, seat)
            await player.pump(lambda: player.tick >= 1)
            await player.ws.send(b"\x06" + b"\x00" * 5000)
            assert await player.close_code() == CloseCode.MESSAGE_TOO_BIG

    run(scenario)


def test_a_client_that_stops_acknowledging_is_closed_as_too_slow() -> None:
    async def scenario() -> None:
        async with game_socket(ack_timeout=1.0) as (state, _):
            seat = await state.registry.join_or_create("arena", {})
            player = await connect(state, seat)
            player.ack = False
            assert await player.close_code(timeout=6) == CloseCode.TOO_SLOW
            assert state.metrics.too_slow == 1

    run(scenario)


def test_a_paused_socket_gets_one_catch_up_patch_when_it_resumes() -> None:
    async def scenario() -> None:
        async with game_socket() as (state, server):
            seat = await state.registry.join_or_create("arena", {})
            player = await connect(state, seat)
            await player.pump(lambda: player.tick >= 2)
            (session,) = server.sessions
            session.paused = True  # as picows's pause_writing does on a full buffer
            await player.read_until_quiet(0.2)  # frames written before the pause
            paused_at, seen = player.tick, len(player.frames)
            await player.read_until_quiet(0.3)
            assert len(player.frames) == seen  # nothing while paused
            session.paused = False
            session.wake()
            await player.pump(lambda: player.tick > paused_at)
            (catch_up,) = player.frames[seen:]  # one frame, from the last baseline or whole
            assert catch_up.tick - paused_at >= 4
            assert isinstance(catch_up, FullState) or catch_up.baseline == paused_at
            await player.pump(lambda: player.tick >= only_room(state).tick)
            assert state_hash(player.state) == only_room(state).state_hash()

    run(scenario)


def test_a_dropped_player_reconnects_and_resumes_its_session() -> None:
    async def scenario() -> None:
        async with game_socket() as (state, _):
            seat = await state.registry.join_or_create("arena", {})
            player = await connect(state, seat)
            await player.pump(lambda: player.tick >= 2)
            welcome_token = only_room(state).clients[seat.session_id].reconnect_token
            player.ws.transport.abort()  # a cut TCP connection, no close frame
            room = only_room(state)
            await asyncio.sleep(0.2)
            assert room.clients[seat.session_id].status.value == "dropped"
            ws = await websockets.connect(
                url(state, seat), subprotocols=[Subprotocol(SUBPROTOCOL_MSGPACK)], compression=None
            )
            again = Player(ws)
            again.schema = player.schema
            again.state, again.tick = player.state, player.tick
            again.conn.send_reconnect(welcome_token, player.tick)
            await again.flush()
            await again.pump(lambda: again.tick >= room.tick)
            assert room.clients[seat.session_id].status.value == "joined"
            assert state_hash(again.state) == room.state_hash()

    run(scenario)


def test_a_socket_that_fails_to_write_is_dropped_and_the_room_ticks_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        async with game_socket() as (state, server):
            seat = await state.registry.join_or_create("arena", {})
            player = await connect(state, seat)
            await player.pump(lambda: player.tick >= 2)
            (session,) = server.sessions
            transport = session.transport
            assert transport is not None

            def broken(*args: object) -> None:
                raise RuntimeError("the socket refuses")

            session.transport = type(
                "Broken",
                (),
                {  # a transport whose send raises
                    "send": broken,
                    "is_close_frame_sent": False,
                    "disconnect": transport.disconnect,
                },
            )()
            room = only_room(state)
            tick = room.tick
            await asyncio.sleep(0.3)
            assert room.tick >= tick + 3  # the tick survived the failing write
            assert not room.disposed
            assert await player.close_code() == -1  # dropped without a close frame

    run(scenario)
    assert "game socket write failed" in caplog.text


class EchoArena(Arena):
    """Answers each input with a message in the tick that applies it."""

    def on_input(self, client: Client, payload: Any) -> None:
        super().on_input(client, payload)
        client.send("applied", payload)


def test_a_message_sent_in_a_tick_arrives_before_that_ticks_state() -> None:
    async def scenario() -> None:
        async with game_socket() as (state, _):
            state.registry.define("echo", EchoArena)
            seat = await state.registry.join_or_create("echo", {})
            player = await connect(state, seat)
            await player.pump(lambda: player.tick >= 2)
            player.conn.send_input(1, {"dx": 1, "dy": 0})
            await player.flush()
            events: list[object] = []
            async with asyncio.timeout(5):
                while not any(isinstance(e, Patch) and e.last_seq == 1 for e in events):
                    player.conn.receive_data(await player.ws.recv())
                    events.extend(player.conn.events_received())
            echo = events.index(AppMessage("applied", {"dx": 1, "dy": 0}))
            first_acking = next(
                i for i, e in enumerate(events) if isinstance(e, Patch) and e.last_seq == 1
            )
            assert echo == first_acking - 1  # the message, then the state it came with

    run(scenario)
