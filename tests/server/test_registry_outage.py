"""Matchmaking while Redis is down: 503 UNAVAILABLE with a JSON error, rooms that keep ticking.

Each test runs its own ``redis-server`` (``RedisServer``) and stops it under registries (or an
app) that were started against it, as a Redis crash does; the session's shared server is never
touched. Registries run on a ``ManualClock``: rooms tick only when a test moves time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from game_server.app import create_app
from game_server.backends import BackendUnavailableError
from game_server.backends.redis import RedisBackend
from game_server.client import ClientStatus
from game_server.clock import ManualClock
from game_server.errors import RoomUnavailableError
from game_server.registry import RoomRegistry
from game_server.room import Room
from game_server.settings import Settings
from game_server.testing import free_port
from protocol.codes import ErrorCode
from server.endpoint import redeem
from server.redis_server import RedisServer

pytestmark = pytest.mark.anyio

UNAVAILABLE = "matchmaking backend unavailable"
UNAVAILABLE_BODY = {
    "error": {"code": int(ErrorCode.UNAVAILABLE), "name": "UNAVAILABLE", "message": UNAVAILABLE}
}


TICK = 1 / 16
"""One tick of ``Arena``: exact in binary, so a ManualClock moved by it lands on each deadline."""


class Arena(Room):
    max_clients = 4
    tick_rate = 16.0


@pytest.fixture
async def hosts(
    own_redis: RedisServer, clock: ManualClock, key_prefix: str
) -> AsyncIterator[tuple[RoomRegistry, RoomRegistry]]:
    """Registries ``a`` and ``b`` (process ids too) sharing ``own_redis``."""
    started: list[RoomRegistry] = []
    for name in ("a", "b"):
        backend = RedisBackend.from_url(own_redis.url, prefix=key_prefix)
        registry = RoomRegistry(clock, backend, process_id=name, remote_timeout=1.0)
        registry.define("arena", Arena)
        await registry.start()
        started.append(registry)
    a, b = started
    try:
        yield a, b
    finally:
        for registry in started:
            await registry.close()


async def matchmake(registry: RoomRegistry, operation: str, room_id: str) -> Any:
    """One public registry operation that needs the backend when ``registry`` hosts no room."""
    if operation == "create":
        return await registry.create("arena")
    if operation == "join":
        return await registry.join("arena")
    if operation == "join_or_create":
        return await registry.join_or_create("arena")
    if operation == "join_by_id":
        return await registry.join_by_id(room_id)
    if operation == "reconnect":
        return await registry.reconnect(room_id, "any token")
    return await registry.list_rooms()


# -- the registry ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation", ["create", "join", "join_or_create", "join_by_id", "reconnect", "list_rooms"]
)
async def test_each_matchmaking_operation_raises_unavailable_while_redis_is_down(
    hosts: tuple[RoomRegistry, RoomRegistry], own_redis: RedisServer, operation: str
) -> None:
    a, b = hosts
    seat = await a.create("arena")
    own_redis.stop()
    with pytest.raises(RoomUnavailableError, match=rf"^{UNAVAILABLE}$") as refused:
        await matchmake(b, operation, seat.room_id)
    assert (refused.value.code, refused.value.http_status) == (ErrorCode.UNAVAILABLE, 503)
    assert isinstance(refused.value.__cause__, BackendUnavailableError)
    assert b.rooms == {}  # a room created for a seat nobody got is gone again


async def test_rooms_keep_ticking_and_their_players_stay_while_redis_is_down(
    hosts: tuple[RoomRegistry, RoomRegistry], own_redis: RedisServer, clock: ManualClock
) -> None:
    a, _ = hosts
    seat = await a.create("arena")
    client, _ = redeem(a, seat)
    room = client.room
    await clock.run_for(0.5, TICK)
    tick = room.tick
    own_redis.stop()
    with pytest.raises(RoomUnavailableError):
        await a.join_or_create("arena")
    await clock.run_for(1.0, TICK)
    assert room.tick == tick + 16
    assert room.clients[seat.session_id].status is ClientStatus.JOINED
    assert a.get(room.room_id) is room


async def test_a_seat_whose_listing_cannot_be_written_is_released(
    hosts: tuple[RoomRegistry, RoomRegistry], own_redis: RedisServer, clock: ManualClock
) -> None:
    a, _ = hosts
    client, _ = redeem(a, await a.create("arena"))
    room = client.room
    own_redis.stop()
    with pytest.raises(RoomUnavailableError, match=rf"^{UNAVAILABLE}$"):
        await a.join("arena")  # a seat in a's own room: reserved, then not listed
    await clock.run_for(TICK, TICK)
    assert room.player_count == 1
    assert a.stats.reservations_expired == 0


async def test_a_reconnect_into_a_room_of_this_process_needs_no_redis(
    hosts: tuple[RoomRegistry, RoomRegistry], own_redis: RedisServer
) -> None:
    a, _ = hosts
    client, _ = redeem(a, await a.create("arena"))
    room = client.room
    own_redis.stop()
    again = await a.reconnect(room.room_id, client.reconnect_token)
    assert (again.room_id, again.token) == (room.room_id, client.reconnect_token)


async def test_matchmaking_works_again_once_redis_is_back(
    hosts: tuple[RoomRegistry, RoomRegistry], own_redis: RedisServer
) -> None:
    a, b = hosts
    first = await a.create("arena")
    own_redis.stop()
    with pytest.raises(RoomUnavailableError):
        await b.join_or_create("arena")
    own_redis.start()  # empty: a's listing is gone until a publishes it again
    seat = await a.join_or_create("arena")
    assert seat.room_id == first.room_id
    assert [listing.room_id for listing in await b.list_rooms()] == [first.room_id]


async def test_a_redis_backend_on_a_closed_port_raises_backend_unavailable(
    key_prefix: str,
) -> None:
    backend = RedisBackend.from_url(f"redis://127.0.0.1:{free_port()}/0", prefix=key_prefix)
    try:
        with pytest.raises(BackendUnavailableError) as refused:
            await backend.query("arena")
        assert isinstance(refused.value, ConnectionError)
        assert refused.value.__cause__ is not None
        with pytest.raises(BackendUnavailableError):
            async with backend.lock("matchmake:arena"):
                pass
        with pytest.raises(BackendUnavailableError):
            await backend.call("nobody", "join", {}, timeout=1.0)
    finally:
        await backend.close()


async def test_a_registry_cannot_start_on_a_closed_port(
    clock: ManualClock, key_prefix: str
) -> None:
    backend = RedisBackend.from_url(f"redis://127.0.0.1:{free_port()}/0", prefix=key_prefix)
    registry = RoomRegistry(clock, backend)
    try:
        with pytest.raises(BackendUnavailableError):
            await registry.start()
    finally:
        await registry.close()


# -- over HTTP -------------------------------------------------------------------------------------


def test_http_matchmaking_answers_503_with_a_json_error_while_rooms_keep_ticking(
    own_redis: RedisServer, key_prefix: str
) -> None:
    clock = ManualClock()
    settings = Settings(
        redis_url=own_redis.url,
        redis_prefix=key_prefix,
        process_id="a",
        games=["arena=server.test_registry_outage:Arena"],
    )
    app = create_app(settings, clock=clock)
    with TestClient(app) as http:
        portal = http.portal
        assert portal is not None
        seat = http.post("/matchmake/create/arena", json={}).json()
        room = app.state.server.registry.get(seat["room_id"])
        assert room is not None
        own_redis.stop()
        for method, name in (
            ("joinOrCreate", "arena"),
            ("join", "arena"),
            ("create", "arena"),
            ("joinById", seat["room_id"]),
        ):
            refused = http.post(f"/matchmake/{method}/{name}", json={})
            assert (refused.status_code, refused.json()) == (503, UNAVAILABLE_BODY), method
            assert "127.0.0.1" not in refused.text
        listing = http.get("/rooms")
        assert (listing.status_code, listing.json()) == (503, UNAVAILABLE_BODY)
        tick = portal.call(lambda: room.tick)
        portal.call(clock.run_for, 1.0, TICK)
        assert portal.call(lambda: room.tick) == tick + 16
        assert not room.disposed
