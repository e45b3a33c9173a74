"""Chaos: a persistent room outlives its process.

Process A hosts a ``persistent`` arena (``e2e_rooms.PersistentArena``) with two clients playing;
A gets SIGTERM. It saves the room to Redis and closes both clients with MAY_TRY_RECONNECT
(4003) instead of SERVER_SHUTDOWN, then exits. Process B, already running, restores the room on
demand: each client asks B for ``POST /matchmake/reconnect/{room_id}`` (any process answers;
the reservation's url points at the one that owns the room now), opens it and sends RECONNECT
with its token. The room continues from the saved tick, and the clients' decoded states hash
equal to the server's at every tick they share with its hash log.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from e2e_servers import Player, ServerProcess, matchmake, process_pair, rooms
from server.redis_server import RedisServer

from protocol.codes import CloseCode


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def pair(redis: RedisServer) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with process_pair(redis.url) as servers:
        yield servers


def assert_hashes_match_the_server(player: Player, server_hashes: dict[str, str]) -> None:
    shared = [tick for tick in player.hashes if str(tick) in server_hashes]
    assert len(shared) >= 3, "the client and the server's hash log share too few ticks"
    assert {tick: player.hashes[tick] for tick in shared} == {
        tick: server_hashes[str(tick)] for tick in shared
    }


async def scenario(a: ServerProcess, b: ServerProcess) -> None:
    ann, bob = Player(), Player()
    created = await matchmake(a.base, "create", "keep", {"name": "ann"})
    room_id = created["room_id"]
    await ann.join(created)
    joined = await matchmake(b.base, "joinById", room_id, {"name": "bob"})  # seated at A
    assert urlsplit(joined["url"]).port == a.port
    await bob.join(joined)
    for player, move in ((ann, {"dx": 1, "dy": 0}), (bob, {"dx": 0, "dy": 1})):
        await player.play(1)
        await player.send_input(move)
    await asyncio.gather(ann.play(20), bob.play(20))
    before = {player: dict(player.state["players"]) for player in (ann, bob)}

    a.signal(signal.SIGTERM)
    codes = await asyncio.gather(ann.until_closed(), bob.until_closed())
    assert list(codes) == [CloseCode.MAY_TRY_RECONNECT] * 2
    assert a.wait() == 0
    last_ticks = {ann: ann.tick, bob: bob.tick}

    for player in (ann, bob):
        body = {"reconnect_token": player.reconnect_token}
        seat = await matchmake(b.base, "reconnect", room_id, body)
        assert (seat["room_id"], urlsplit(seat["url"]).port) == (room_id, b.port)
        await player.reconnect(seat)
        await player.play(1)
        assert player.welcome is not None
        assert player.welcome.room_id == room_id
        # The same room, at the tick it was saved: not a new one starting from 0.
        assert last_ticks[player] <= player.welcome.tick <= last_ticks[player] + 10

    await asyncio.gather(ann.play(20), bob.play(20))
    for player in (ann, bob):
        players = player.state["players"]
        assert set(players) == set(before[player])  # both bodies came along
        response = await player.request(1, "hashes")
        assert isinstance(response.payload, dict)
        assert_hashes_match_the_server(player, response.payload)
    ann_body, bob_body = ann.state["players"], before[ann]
    ann_id = ann.welcome.session_id if ann.welcome else ""
    assert ann_body[ann_id]["x"] >= bob_body[ann_id]["x"]  # its input still moves it
    assert [room["room_id"] for room in await rooms(b.base, "keep")] == [room_id]
    await asyncio.gather(ann.close(), bob.close())


def test_a_persistent_room_continues_in_another_process_after_sigterm(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    asyncio.run(asyncio.wait_for(scenario(a, b), 60))
