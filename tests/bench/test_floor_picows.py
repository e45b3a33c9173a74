"""The picows floor speaks the anchor's floor wire format: the anchor's bots can drive it."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from websockets.asyncio.client import connect

from bench.arena_runs import REPO, shared_bench_dir


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def floor_port() -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "floor_picows.py"), str(port), "delta"],
        env={"SHARED_BENCH": str(shared_bench_dir()), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the first TICKS line: it is listening
        assert line.startswith("TICKS "), proc.stderr.read() if proc.stderr else line
        yield port
    finally:
        proc.kill()
        proc.communicate()


def test_a_member_gets_its_id_a_snapshot_then_deltas_that_acknowledge_its_input(
    floor_port: int,
) -> None:
    async def play() -> tuple[dict[str, int], list[Any], list[Any]]:
        async with connect(f"ws://127.0.0.1:{floor_port}/ws/room0", compression=None) as ws:
            hello = msgpack.unpackb(await ws.recv(decode=False))
            snapshot = msgpack.unpackb(await ws.recv(decode=False))
            await ws.send(msgpack.packb([7, 1.0, 0.0]))
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                delta = msgpack.unpackb(await ws.recv(decode=False))
                mine = [p for p in delta[1] if p[0] == hello["you"]]
                if mine and mine[0][3] == 7:
                    return hello, snapshot, delta
            raise AssertionError("no state acknowledged input 7 within 5 s")

    hello, snapshot, delta = asyncio.run(play())
    assert hello == {"you": 1}
    assert len(snapshot[2]) == 100  # every NPC, as [index, x, y]
    assert len(delta[2]) == 20  # the block of NPCs that moved this tick
