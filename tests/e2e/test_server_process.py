"""End to end: the real command line, a real socket, a real SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from game_server.testing import free_port
from protocol.codes import SUBPROTOCOL_MSGPACK, CloseCode
from protocol.connection import Connection
from protocol.messages import FullState, Patch, Welcome
from protocol.state import Side

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {**os.environ, "TICKROOM_SHUTDOWN_TIMEOUT": "1", "TICKROOM_LOG_LEVEL": "warning"}
    process = subprocess.Popen(
        [sys.executable, "-m", "game_server", "run", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("server did not start")
    try:
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def play_until_sigterm(process: subprocess.Popen[bytes], base: str) -> tuple[int, int]:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{base}/matchmake/joinOrCreate/arena", json={"name": "e2e"})
    seat = response.json()
    states = 0
    conn = Connection(Side.CLIENT)
    async with websockets.connect(
        seat["url"],
        subprotocols=[Subprotocol(SUBPROTOCOL_MSGPACK)],
        compression=None,
    ) as ws:
        conn.send_join(seat["token"])
        for data in conn.data_to_send():
            await ws.send(data)
        try:
            async with asyncio.timeout(15):
                while True:
                    conn.receive_data(await ws.recv())
                    for event in conn.events_received():
                        if isinstance(event, FullState | Patch):
                            states += 1
                            conn.send_ack(event.tick)
                            if states == 5:
                                process.send_signal(signal.SIGTERM)
                        assert not isinstance(event, Welcome) or event.room_id == seat["room_id"]
                    for data in conn.data_to_send():
                        await ws.send(data)
        except websockets.ConnectionClosed as closed:
            return (closed.rcvd.code if closed.rcvd else -1), states
    raise AssertionError("the socket never closed")


def test_sigterm_drains_rooms_then_closes_clients_with_server_shutdown(
    server: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, base = server
    code, states = asyncio.run(play_until_sigterm(process, base))
    assert code == CloseCode.SERVER_SHUTDOWN
    assert states > 5  # the room kept ticking while it drained
    assert process.wait(timeout=15) == 0
