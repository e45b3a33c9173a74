"""End to end: two server processes sharing one Redis.

A client matchmakes through process A into a room owned by process B and plays there (its
seat's url points at B). B is killed with SIGKILL: its clients see the socket drop (abnormal
closure, 1006: no close frame comes from a dead process), its rooms leave the listings within
the heartbeat ttl, and the clients join again through A. Then Redis restarts: the rooms keep
running and come back in the listings. Finally ``run --workers 2`` starts two processes that
share their rooms, and stops both on one SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from e2e_servers import (
    ABNORMAL_CLOSURE,
    ROOT,
    TTL,
    Player,
    ServerProcess,
    matchmake,
    process_pair,
    rooms,
)
from server.redis_server import RedisServer

from game_server.testing import free_port


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def pair(redis: RedisServer) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with process_pair(redis.url) as servers:
        yield servers


def two_free_ports() -> int:
    """A port that is free, with the next one free too (20 tries at most)."""
    for _ in range(20):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two consecutive free ports")


async def wait_for(predicate_seconds: float, check: object) -> float:
    """Poll the async ``check()`` every 0.1 s for ``predicate_seconds`` at most; returns the
    seconds it took to turn true (fails if it never does)."""
    assert callable(check)
    started = time.monotonic()
    while time.monotonic() - started < predicate_seconds:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"not true within {predicate_seconds} s")


async def scenario(a: ServerProcess, b: ServerProcess, redis: RedisServer) -> None:
    # A room on B, then a client matchmaking through A is seated in it, at B.
    host = Player()
    await host.join(await matchmake(b.base, "create", "arena", {"name": "host"}))
    await host.play(3)
    seat = await matchmake(a.base, "joinOrCreate", "arena", {"name": "guest"})
    assert host.welcome is not None
    assert seat["room_id"] == host.welcome.room_id
    assert urlsplit(seat["url"]).port == b.port
    guest = Player()
    await guest.join(seat)
    await guest.play(1)  # welcomed: inputs may go now
    await guest.send_input({"dx": 1, "dy": 0})
    await guest.play(10)
    assert guest.welcome is not None
    assert guest.welcome.session_id in guest.state["players"]
    listed = await rooms(a.base, "arena")
    assert [(room["room_id"], room["clients"]) for room in listed] == [(seat["room_id"], 2)]

    # B dies: its clients' sockets drop, its room leaves the listings within the ttl.
    killed = time.monotonic()
    b.signal(signal.SIGKILL)
    assert await guest.until_closed() == ABNORMAL_CLOSURE
    assert await host.until_closed() == ABNORMAL_CLOSURE

    async def b_unlisted() -> bool:
        return await rooms(a.base, "arena") == []

    await wait_for(TTL + 2.0, b_unlisted)
    assert time.monotonic() - killed <= TTL + 1.5

    # They join again, through A, into a room that A owns.
    again = await matchmake(a.base, "joinOrCreate", "arena", {"name": "guest"})
    assert urlsplit(again["url"]).port == a.port
    survivor = Player()
    await survivor.join(again)
    await survivor.play(5)

    # Redis restarts (empty): the room keeps running and A lists it again.
    redis.stop()
    await survivor.play(10)  # no Redis: the room still ticks
    redis.start()

    async def listed_again() -> bool:
        return [room["room_id"] for room in await rooms(a.base, "arena")] == [again["room_id"]]

    await wait_for(TTL + 3.0, listed_again)
    await survivor.play(5)
    await survivor.close()


def test_rooms_are_shared_and_survive_the_loss_of_a_process_and_a_redis_restart(
    pair: tuple[ServerProcess, ServerProcess], redis: RedisServer
) -> None:
    a, b = pair
    asyncio.run(asyncio.wait_for(scenario(a, b, redis), 60))


def test_run_workers_starts_processes_that_share_rooms(redis: RedisServer) -> None:
    port = two_free_ports()
    env = {
        **os.environ,
        "TICKROOM_REDIS_PREFIX": f"e2e:{secrets.token_hex(4)}:",
        "TICKROOM_SHUTDOWN_TIMEOUT": "1",
        "TICKROOM_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "game_server", "run", "--port", str(port)]
    command += ["--redis", redis.url, "--workers", "2"]
    parent = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        bases = [f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"]
        deadline = time.monotonic() + 20
        ready: set[str] = set()
        while len(ready) < 2 and time.monotonic() < deadline:
            for base in bases:
                try:
                    if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                        ready.add(base)
                except httpx.HTTPError:
                    time.sleep(0.05)
        assert len(ready) == 2, "the workers did not start"

        async def seats() -> tuple[dict[str, object], dict[str, object]]:
            first = await matchmake(bases[0], "joinOrCreate", "arena", {})
            second = await matchmake(bases[1], "joinOrCreate", "arena", {})
            return first, second

        first, second = asyncio.run(seats())
        assert first["room_id"] == second["room_id"]
        assert urlsplit(str(second["url"])).port == port
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=20) == 0
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.wait(timeout=10)
