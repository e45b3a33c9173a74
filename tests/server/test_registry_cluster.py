"""Several registries sharing one Redis, as several processes do, inside one test process.

Each ``RoomRegistry`` has its own ``RedisBackend`` (its own connections, channel and heartbeat)
under one key prefix, on a ``ManualClock`` (rooms tick only when a test moves time). What
crosses between them is real Redis traffic: listings, the lock, requests on the per-process
channels. The heartbeat ttl is short where a test waits for it; those waits are bounded polls.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from game_server.backends import RoomListing
from game_server.backends.redis import RedisBackend
from game_server.client import Client, ClientStatus
from game_server.clock import ManualClock
from game_server.errors import (
    AuthRefusedError,
    RoomError,
    RoomFullError,
    RoomNotFoundError,
    SeatInvalidError,
)
from game_server.registry import RoomRegistry
from game_server.room import Room
from protocol.codes import PROTOCOL_VERSION, CloseCode
from protocol.messages import Reconnect
from server import redis_server
from server.endpoint import redeem, server_connection
from server.redis_server import RedisServer

pytestmark = pytest.mark.anyio

Cluster = Callable[..., Awaitable[RoomRegistry]]


class Arena(Room):
    max_clients = 4
    tick_rate = 20.0

    def on_create(self, options: dict[str, Any]) -> None:
        self.state["score"] = 0
        self.set_metadata(mode=options.get("mode", "ffa"))

    def update(self, dt: float) -> None:
        self.state["score"] += self.random.randint(1, 3)

    def add(self, points: int) -> int:
        """A method another process calls."""
        self.state["score"] += points
        return int(self.state["score"])

    def explode(self) -> None:
        raise RuntimeError("boom")

    def handle(self) -> object:
        return object()


class Saved(Arena):
    persistent = True


class Picky(Arena):
    def on_auth(self, client: Client, options: dict[str, Any]) -> Any:
        raise AuthRefusedError("not invited")


@pytest.fixture
async def cluster(clock: ManualClock, redis_url: str, key_prefix: str) -> AsyncIterator[Cluster]:
    """``await cluster(name, **backend_options)``: a started registry named ``name`` (its
    process id and url ``http://<name>``) sharing this test's Redis prefix."""
    started: list[RoomRegistry] = []

    async def start(name: str, **options: Any) -> RoomRegistry:
        backend = RedisBackend.from_url(redis_url, prefix=key_prefix, **options)
        registry = RoomRegistry(
            clock, backend, process_id=name, public_url=f"http://{name}", remote_timeout=1.0
        )
        for room_name, room_class in (("arena", Arena), ("saved", Saved), ("picky", Picky)):
            registry.define(room_name, room_class)
        registry.define("duel", Arena, filter_by=("mode",))
        await registry.start()
        started.append(registry)
        return registry

    yield start
    for registry in started:
        await registry.close()


async def poll(seconds: float, check: Callable[[], Awaitable[bool]]) -> None:
    """Wait (real time, ``seconds`` at most) until ``check()``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not true within {seconds} s")


# -- seats in another process's rooms --------------------------------------------------------------


async def test_join_or_create_seats_a_client_in_another_process_s_room(cluster: Cluster) -> None:
    a, b = await cluster("a"), await cluster("b")
    first = await b.create("arena")
    seat = await a.join_or_create("arena")
    assert (seat.room_id, seat.process_id, seat.url) == (first.room_id, "b", "http://b")
    assert a.rooms == {}
    assert b.room_for_seat(seat.token).room_id == first.room_id


async def test_join_or_create_creates_here_when_the_remote_room_is_full(cluster: Cluster) -> None:
    a, b = await cluster("a"), await cluster("b")
    await b.create("arena")
    for _ in range(3):
        await b.join("arena")
    seat = await a.join_or_create("arena")
    assert seat.process_id == "a"
    assert len(a.rooms) == 1


async def test_join_or_create_honours_filter_by_in_remote_rooms(cluster: Cluster) -> None:
    a, b = await cluster("a"), await cluster("b")
    ranked = await b.create("duel", {"mode": "ranked"})
    casual = await a.join_or_create("duel", {"mode": "casual"})
    again = await a.join_or_create("duel", {"mode": "ranked"})
    assert casual.process_id == "a"
    assert (again.room_id, again.process_id) == (ranked.room_id, "b")


async def test_concurrent_join_or_create_across_processes_fills_every_room_exactly(
    cluster: Cluster,
) -> None:
    a, b = await cluster("a"), await cluster("b")
    for registry in (a, b):
        registry.define("big", Arena, max_clients=10)
    calls = [(a if n % 2 else b).join_or_create("big") for n in range(100)]
    seats = await asyncio.gather(*calls)
    per_room = Counter(seat.room_id for seat in seats)
    assert len(per_room) == 10
    assert set(per_room.values()) == {10}
    rooms = {**a.rooms, **b.rooms}
    assert len(rooms) == 10
    assert all(room.player_count == 10 for room in rooms.values())


async def test_join_by_id_reserves_in_the_owning_process(cluster: Cluster) -> None:
    a, b = await cluster("a"), await cluster("b")
    first = await b.create("arena")
    seat = await a.join_by_id(first.room_id, spectator=True)
    assert (seat.process_id, seat.spectator) == ("b", True)
    client, _ = redeem(b, seat)
    assert client.status is ClientStatus.JOINED


async def test_remote_refusals_keep_their_class_and_message(cluster: Cluster) -> None:
    a, b = await cluster("a"), await cluster("b")
    b.define("solo", Arena, max_clients=1)
    a.define("solo", Arena, max_clients=1)
    solo = await b.create("solo")
    with pytest.raises(RoomFullError, match=r"^room is full$"):
        await a.join_by_id(solo.room_id)
    picky = await b.create("arena")
    with pytest.raises(SeatInvalidError, match=r"^reconnect token is invalid or expired$"):
        await a.reconnect(picky.room_id, "wrong")
    with pytest.raises(RoomNotFoundError, match=r"^room not found$"):
        await a.join_by_id("nope")


async def test_reconnect_through_another_process_points_at_the_owner(cluster: Cluster) -> None:
    a, b = await cluster("a"), await cluster("b")
    client, conn = redeem(b, await b.create("arena"))
    client.room._closed(client, conn, consented=False)
    seat = await a.reconnect(client.room.room_id, client.reconnect_token)
    assert (seat.token, seat.process_id, seat.url) == (client.reconnect_token, "b", "http://b")
    assert b.room_for_reconnect(seat.token) is client.room


async def test_a_process_that_does_not_answer_is_skipped_then_reported(
    cluster: Cluster,
) -> None:
    a, b = await cluster("a"), await cluster("b")
    first = await b.create("arena")
    for task in b.backend._background:  # type: ignore[attr-defined]
        task.cancel()  # b stops listening (and beating), its listing stays until the ttl
    await asyncio.sleep(0.05)
    with pytest.raises(RoomNotFoundError, match=r"^room's process did not answer$"):
        await a.join_by_id(first.room_id)
    seat = await a.join_or_create("arena")
    assert seat.process_id == "a"


# -- leave, dispose and remote room calls ----------------------------------------------------------


async def test_leave_and_dispose_reach_the_owning_process(cluster: Cluster) -> None:
    a, b = await cluster("a"), await cluster("b")
    client, conn = redeem(b, await b.create("arena"))
    await b.join("arena")
    assert await a.leave(client.room.room_id, client.session_id)
    assert conn.close_code == CloseCode.KICKED
    assert not await a.leave(client.room.room_id, "nobody")
    await a.dispose_room(client.room.room_id)
    assert client.room.disposed
    with pytest.raises(RoomNotFoundError):
        await a.dispose_room(client.room.room_id)


async def test_call_runs_a_room_method_in_the_owning_process(cluster: Cluster) -> None:
    a, b = await cluster("a"), await cluster("b")
    seat = await b.create("arena")
    assert await a.call(seat.room_id, "add", 5) == 5
    assert await b.call(seat.room_id, "add", 2) == 7  # a local call, same method
    with pytest.raises(RoomError, match=r"^no such room method$"):
        await a.call(seat.room_id, "_dispose")
    with pytest.raises(RoomError, match=r"^remote call failed$"):
        await a.call(seat.room_id, "explode")
    with pytest.raises(RoomError, match=r"^remote call result is not plain data$"):
        await a.call(seat.room_id, "handle")
    with pytest.raises(RoomNotFoundError):
        await a.call("nope", "add", 1)


async def test_call_times_out_when_the_owner_is_stuck(cluster: Cluster) -> None:
    a, b = await cluster("a"), await cluster("b")
    seat = await b.create("arena")
    room = b.get(seat.room_id)
    assert room is not None
    stuck = asyncio.Event()

    async def slow() -> None:
        await stuck.wait()

    room.slow = slow  # type: ignore[attr-defined]
    with pytest.raises(TimeoutError):
        await a.call(seat.room_id, "slow", timeout=0.2)
    stuck.set()


# -- listings and presence -------------------------------------------------------------------------


async def test_every_process_lists_every_room_oldest_first(cluster: Cluster) -> None:
    a, b = await cluster("a"), await cluster("b")
    first = await a.create("arena", {"mode": "duel"})
    second = await b.create("arena")
    for registry in (a, b):
        listed = await registry.list_rooms("arena")
        assert [(room.room_id, room.process_id) for room in listed] == [
            (first.room_id, "a"),
            (second.room_id, "b"),
        ]
    assert [room.room_id for room in await b.list_rooms(mode="duel")] == [first.room_id]


async def test_presence_counts_players_per_process_and_per_room(cluster: Cluster) -> None:
    a, b = await cluster("a"), await cluster("b")
    first = await a.create("arena")
    await a.join("arena")
    second = await b.create("arena")
    presence = await b.presence("arena")
    assert presence.by_process == {"a": 2, "b": 1}
    assert presence.by_room == {first.room_id: 2, second.room_id: 1}
    assert await b.client_count("arena") == 3


async def test_a_dead_process_leaves_the_listings_and_counts_within_the_ttl(
    cluster: Cluster,
) -> None:
    a = await cluster("a", ttl=0.5)
    b = await cluster("b", ttl=0.5)
    await b.create("arena")
    assert len(await a.list_rooms()) == 1
    for task in b.backend._background:  # type: ignore[attr-defined]
        task.cancel()  # b "dies": no more heartbeats
    died = time.monotonic()

    async def gone() -> bool:
        return await a.list_rooms() == [] and await a.client_count() == 0

    await poll(2.0, gone)
    assert time.monotonic() - died <= 0.5 + 0.3


async def test_listings_come_back_after_redis_restarts(
    clock: ManualClock, key_prefix: str, own_redis: RedisServer
) -> None:
    backend = RedisBackend.from_url(own_redis.url, prefix=key_prefix, ttl=0.6)
    registry = RoomRegistry(clock, backend, process_id="a")
    registry.define("arena", Arena)
    async with registry:
        seat = await registry.create("arena")
        own_redis.restart()

        async def listed() -> bool:
            try:
                listings = await registry.list_rooms()
            except Exception:
                return False
            return [listing.room_id for listing in listings] == [seat.room_id]

        await poll(5.0, listed)
        assert backend.rejoins == 1
        assert await registry.client_count() == 1


# -- persistent rooms ------------------------------------------------------------------------------


async def test_shutdown_saves_a_persistent_room_and_another_process_restores_it(
    cluster: Cluster, clock: ManualClock
) -> None:
    a, b = await cluster("a"), await cluster("b")
    client, conn = redeem(a, await a.create("saved"))
    waiting = await a.join("saved")  # a reserved seat travels too
    room = client.room
    await clock.run_for(1.0, 0.05)
    tick, state_hash = room.tick, room.state_hash()
    await a.shutdown()
    assert conn.close_code == CloseCode.MAY_TRY_RECONNECT
    assert a.stats.rooms_saved == 1
    assert await b.list_rooms() == []

    seat = await b.reconnect(room.room_id, client.reconnect_token)
    assert (seat.process_id, b.stats.rooms_restored) == ("b", 1)
    restored = b.get(room.room_id)
    assert restored is not None
    assert restored is not room
    assert (restored.tick, restored.state_hash()) == (tick, state_hash)
    assert b.room_for_seat(waiting.token) is restored
    resumed = restored._resume(
        seat.token, tick, server_connection(Reconnect(PROTOCOL_VERSION, seat.token, tick))
    )
    assert resumed.session_id == client.session_id
    listed = await b.list_rooms("saved")
    assert [(listing.room_id, listing.process_id) for listing in listed] == [(room.room_id, "b")]
    assert await b.shared.load_room(room.room_id) is None if b.shared else False


async def test_only_one_process_restores_a_saved_room(cluster: Cluster) -> None:
    a, b, c = await cluster("a"), await cluster("b"), await cluster("c")
    client, _ = redeem(a, await a.create("saved"))
    room_id, token = client.room.room_id, client.reconnect_token
    await a.shutdown()
    seats = await asyncio.gather(b.reconnect(room_id, token), c.reconnect(room_id, token))
    assert len({seat.process_id for seat in seats}) == 1
    assert len(b.rooms) + len(c.rooms) == 1


async def test_a_room_that_is_not_persistent_is_closed_as_before(cluster: Cluster) -> None:
    a, b = await cluster("a"), await cluster("b")
    client, conn = redeem(a, await a.create("arena"))
    await a.shutdown()
    assert conn.close_code == CloseCode.SERVER_SHUTDOWN
    with pytest.raises(RoomNotFoundError):
        await b.reconnect(client.room.room_id, client.reconnect_token)


# -- the Redis backend itself ----------------------------------------------------------------------


def listing(room_id: str, name: str = "arena", **metadata: Any) -> RoomListing:
    return RoomListing(room_id, name, "p1", 0, 4, False, False, metadata, 0.0)


async def test_redis_backend_keeps_publication_order_and_filters(
    redis_backend: RedisBackend,
) -> None:
    for each in (listing("b", mode="duel"), listing("a"), listing("c", "lobby")):
        await redis_backend.publish(each)
    await redis_backend.publish(listing("b", mode="ffa"))  # an update keeps its place
    assert [each.room_id for each in await redis_backend.query()] == ["b", "a", "c"]
    assert [each.room_id for each in await redis_backend.query("arena", {"mode": "ffa"})] == ["b"]
    await redis_backend.remove("b")
    assert [each.room_id for each in await redis_backend.query("arena")] == ["a"]
    assert await redis_backend.get("b") is None


async def test_redis_lock_is_exclusive_across_backends_and_times_out(
    redis_url: str, key_prefix: str
) -> None:
    first = RedisBackend.from_url(redis_url, prefix=key_prefix)
    second = RedisBackend.from_url(redis_url, prefix=key_prefix, lock_timeout=0.2)
    try:
        async with first.lock("k"):
            with pytest.raises(TimeoutError, match=r"^matchmaking lock is busy$"):
                async with second.lock("k"):
                    pass
        async with second.lock("k"):
            assert await first.client.get(f"{key_prefix}lock:k") is not None
        assert await first.client.get(f"{key_prefix}lock:k") is None
    finally:
        await first.close()
        await second.close()


async def test_redis_lock_expires_when_its_holder_dies(redis_url: str, key_prefix: str) -> None:
    dead = RedisBackend.from_url(redis_url, prefix=key_prefix)
    alive = RedisBackend.from_url(redis_url, prefix=key_prefix, lock_timeout=2.0)
    try:
        await dead.client.set(f"{key_prefix}lock:k", "someone", px=200)  # a crashed holder's
        started = time.monotonic()
        async with alive.lock("k"):
            assert 0.1 <= time.monotonic() - started < 1.0
        assert await alive.client.get(f"{key_prefix}lock:k") is None
    finally:
        await dead.close()
        await alive.close()


async def test_a_request_to_a_process_nobody_runs_fails_at_once(
    redis_backend: RedisBackend,
) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"^process did not answer$"):
        await redis_backend.call("nobody", "join", {}, timeout=5.0)
    assert time.monotonic() - started < 1.0


def test_a_missing_redis_server_fails_the_test_and_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redis_server, "REDIS_SERVER", "/nonexistent/redis-server")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception, match="scripts/setup"):
        redis_server.redis_server_binary()
