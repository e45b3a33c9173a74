"""The picows floor speaks the anchor's floor wire format (the anchor's bots can drive it) and
does what makes it a floor: one encoding per tick, the same bytes to every member."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from websockets.asyncio.client import ClientConnection, connect

from bench.arena_runs import REPO, shared_bench_dir
from game_server.testing import free_port


@pytest.fixture
def floor_port(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    errors = tmp_path / "stderr.txt"
    with errors.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "bench" / "floor_picows.py"), str(port), "delta"],
            env={"SHARED_BENCH": str(shared_bench_dir()), "PATH": "/usr/bin:/bin"},
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the first TICKS line: it is listening
        assert line.startswith("TICKS "), errors.read_text()
        yield port
    finally:
        proc.kill()
        proc.communicate()


async def recv(ws: ClientConnection) -> Any:
    return msgpack.unpackb(await ws.recv(decode=False), strict_map_key=False)


async def acknowledging(ws: ClientConnection, pid: int, seq: int) -> tuple[bytes, list[Any]]:
    """The first state (raw and decoded) whose entry for player ``pid`` has lastSeq ``seq``."""
    while True:
        raw = await ws.recv(decode=False)
        delta = msgpack.unpackb(raw)
        if any(p[0] == pid and p[3] == seq for p in delta[1]):
            return raw, delta


def test_a_member_gets_its_id_a_snapshot_then_deltas_that_acknowledge_its_input(
    floor_port: int,
) -> None:
    async def play() -> tuple[dict[str, int], list[Any], list[Any]]:
        async with (
            asyncio.timeout(10),
            connect(f"ws://127.0.0.1:{floor_port}/ws/room0", compression=None) as ws,
        ):
            hello = await recv(ws)
            snapshot = await recv(ws)
            await ws.send(msgpack.packb([7, 1.0, 0.0]))
            _, delta = await acknowledging(ws, hello["you"], 7)
            return hello, snapshot, delta

    hello, snapshot, delta = asyncio.run(play())
    assert hello == {"you": 1}
    assert [npc[0] for npc in snapshot[2]] == list(range(100))  # every NPC as [index, x, y]
    assert {len(npc) for npc in snapshot[2]} == {3}
    assert len(delta[2]) == 20  # the block of NPCs that moved this tick
    (player,) = delta[1]
    assert player[0] == 1  # [pid, x, y, lastSeq]
    assert len(player) == 4


def test_every_member_of_a_room_gets_the_same_bytes(floor_port: int) -> None:
    async def play() -> tuple[bytes, bytes]:
        url = f"ws://127.0.0.1:{floor_port}/ws/room1"
        async with (
            asyncio.timeout(10),
            connect(url, compression=None) as one,
            connect(url, compression=None) as two,
        ):
            first, second = (await recv(one))["you"], (await recv(two))["you"]
            await one.send(msgpack.packb([3, 0.0, 1.0]))
            raw, delta = await acknowledging(one, first, 3)
            while True:  # the other member's copy of that same tick
                other = await two.recv(decode=False)
                if msgpack.unpackb(other)[0] == delta[0]:
                    assert {p[0] for p in delta[1]} == {first, second}
                    return raw, other

    raw, other = asyncio.run(play())
    assert raw == other
