"""Real server processes and socket clients for the multi-process end-to-end tests.

``ServerProcess`` runs ``python -m game_server run --redis URL`` on a free loopback port with a
short heartbeat ttl; ``Player`` is one game socket (``websockets``) driving the client end of
the protocol (``protocol.Connection``): it decodes every state frame into its own copy of the
state, ACKs it and keeps the hash of the state it holds at each tick. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from game_server.testing import free_port
from protocol.codes import SUBPROTOCOL_MSGPACK
from protocol.connection import Connection, ConnectionClosed
from protocol.diff import apply_delta, decode_state, state_hash
from protocol.messages import FullState, Patch, Response, Welcome
from protocol.schema import Schema
from protocol.state import Side

ROOT = Path(__file__).resolve().parents[2]
TTL = 2.0
"""The heartbeat ttl the servers run with (seconds)."""
ABNORMAL_CLOSURE = 1006
"""What a client sees when the server process dies: the socket drops with no close frame."""
GAMES = ("arena=game_server.games.arena:Arena", "keep=tests.e2e.e2e_rooms:PersistentArena")


class ServerProcess:
    """``python -m game_server run`` sharing ``redis_url``, named ``name`` (its process id)."""

    def __init__(self, name: str, redis_url: str, prefix: str) -> None:
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.redis_url = redis_url
        self.prefix = prefix
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        env = {
            **os.environ,
            "TICKROOM_PROCESS_ID": self.name,
            "TICKROOM_REDIS_PREFIX": self.prefix,
            "TICKROOM_HEARTBEAT_TTL": str(TTL),
            "TICKROOM_SHUTDOWN_TIMEOUT": "1",
            "TICKROOM_LOG_LEVEL": "warning",
        }
        command = [sys.executable, "-m", "game_server", "run", "--no-demo-games"]
        command += ["--port", str(self.port), "--redis", self.redis_url]
        for game in GAMES:
            command += ["--game", game]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait until ``/healthz`` answers (the registry is registered in Redis by then)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server {self.name} exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server {self.name} did not start")

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """Kill it if it still runs, and reap it."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def matchmake(base: str, method: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """``POST {base}/matchmake/{method}/{name}``: the seat reservation (status 200 checked)."""
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{base}/matchmake/{method}/{name}", json=body, timeout=5.0)
    assert response.status_code == 200, response.text
    seat: dict[str, Any] = response.json()
    return seat


async def rooms(base: str, name: str) -> list[dict[str, Any]]:
    """``GET {base}/rooms?name=...``."""
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{base}/rooms", params={"name": name}, timeout=5.0)
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


class Player:
    """One game socket, as a game client drives it."""

    def __init__(self) -> None:
        self.conn = Connection(Side.CLIENT)
        self.ws: ClientConnection | None = None
        self.schema = Schema()
        self.state: dict[str, Any] = {}
        self.tick = -1
        self.hashes: dict[int, str] = {}
        """The hash of this client's decoded state at each tick it applied."""
        self.welcome: Welcome | None = None
        self.responses: dict[int, Response] = {}
        self.close_code: int | None = None
        self.input_seq = 0

    @property
    def reconnect_token(self) -> str:
        assert self.welcome is not None
        return self.welcome.reconnect_token

    async def join(self, seat: dict[str, Any]) -> None:
        """Open the seat's url and send JOIN."""
        await self._open(seat["url"])
        self.conn.send_join(seat["token"])
        await self.flush()

    async def reconnect(self, seat: dict[str, Any]) -> None:
        """Open the url of a reconnect reservation with a new Connection and send RECONNECT
        with the last tick applied."""
        self.conn = Connection(Side.CLIENT)
        self.welcome = None
        self.close_code = None
        await self._open(seat["url"])
        self.conn.send_reconnect(seat["token"], self.tick)
        await self.flush()

    async def _open(self, url: str) -> None:
        self.ws = await websockets.connect(
            url, subprotocols=[Subprotocol(SUBPROTOCOL_MSGPACK)], compression=None, open_timeout=5
        )

    async def flush(self) -> None:
        assert self.ws is not None
        try:
            for data in self.conn.data_to_send():
                await self.ws.send(data)
        except websockets.ConnectionClosed as closed:
            self.close_code = closed.rcvd.code if closed.rcvd is not None else ABNORMAL_CLOSURE

    async def send_input(self, payload: dict[str, Any]) -> None:
        self.input_seq += 1
        self.conn.send_input(self.input_seq, payload)
        await self.flush()

    async def request(self, request_id: int, kind: str, timeout: float = 5.0) -> Response:
        """Send a request and read until its response arrives."""
        self.conn.send_request(request_id, kind, None)
        await self.flush()
        async with asyncio.timeout(timeout):
            while request_id not in self.responses:
                await self.receive()
        return self.responses[request_id]

    async def play(self, states: int, timeout: float = 10.0) -> None:
        """Read until ``states`` more state frames were applied."""
        target = len(self.hashes) + states
        async with asyncio.timeout(timeout):
            while len(self.hashes) < target:
                await self.receive()

    async def until_closed(self, timeout: float = 10.0) -> int:
        """Read (applying states) until the socket closes; returns the close code seen."""
        async with asyncio.timeout(timeout):
            while self.close_code is None:
                await self.receive()
        return self.close_code

    async def receive(self) -> None:
        """One frame from the socket, handled; the close code when it closed."""
        assert self.ws is not None
        try:
            data = await self.ws.recv()
        except websockets.ConnectionClosed as closed:
            self.close_code = closed.rcvd.code if closed.rcvd is not None else ABNORMAL_CLOSURE
            return
        self.conn.receive_data(data)
        for event in self.conn.events_received():
            self._handle(event)
        await self.flush()

    def _handle(self, event: object) -> None:
        if isinstance(event, Welcome):
            self.welcome = event
            self.schema = Schema.from_wire(event.schema)
        elif isinstance(event, FullState):
            self.state = decode_state(event.state, self.schema)
            self._applied(event.tick)
        elif isinstance(event, Patch):
            assert event.baseline == self.tick, "patch on a state this client does not hold"
            apply_delta(self.state, event.delta, self.schema)
            self._applied(event.tick)
        elif isinstance(event, Response):
            self.responses[event.id] = event
        elif isinstance(event, ConnectionClosed):
            self.close_code = event.code

    def _applied(self, tick: int) -> None:
        self.tick = tick
        self.hashes[tick] = state_hash(self.state)
        self.conn.send_ack(tick)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


@contextlib.contextmanager
def process_pair(redis_url: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Servers A and B sharing ``redis_url`` under a key prefix of their own, both ready; both
    stopped on exit."""
    prefix = f"e2e:{secrets.token_hex(4)}:"
    a = ServerProcess("A", redis_url, prefix).start()
    b = ServerProcess("B", redis_url, prefix).start()
    try:
        a.wait_ready()
        b.wait_ready()
        yield a, b
    finally:
        a.stop()
        b.stop()
