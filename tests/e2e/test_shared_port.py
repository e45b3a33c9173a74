"""One port for HTTP and the fast game socket (game_server/sharedport.py), over real sockets.

Each test runs the run command's server (``GameServer`` with ``uvicorn_config``) in this event
loop on a free loopback port, then talks to it with httpx, the ``websockets`` client (through
``tests.e2e.e2e_servers.Player``) and a raw socket. Each runs on uvloop (what the run command
uses) and on asyncio's own loop: a connection changes protocol mid-stream on both.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import uvloop
import websockets
from e2e_servers import Player, matchmake
from websockets.typing import Origin

from game_server.app import ServerState, create_app
from game_server.serve import GameServer, uvicorn_config
from game_server.settings import Settings
from game_server.testing import free_port
from protocol.codes import SUBPROTOCOL_MSGPACK

ARENA = "arena=game_server.games.arena:Arena"
Runner = Callable[[Awaitable[None]], None]
LOOPS = pytest.mark.parametrize("run_on", [uvloop.run, asyncio.run], ids=["uvloop", "asyncio"])


def _bounded(run_on: Runner, test: Callable[[], Awaitable[None]]) -> None:
    run_on(asyncio.wait_for(test(), 30))


@contextlib.asynccontextmanager
async def running(**overrides: Any) -> AsyncIterator[tuple[str, ServerState]]:
    """The run command's server on a free port: its base URL and its state."""
    settings = Settings(
        host="127.0.0.1",
        port=free_port(),
        games=[ARENA],
        log_level="warning",
        shutdown_timeout=1.0,
        **overrides,
    )
    app = create_app(settings)
    server = GameServer(uvicorn_config(app, settings), app, settings)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                assert not task.done(), "the server did not start"
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{settings.port}", app.state.server
    finally:
        server.should_exit = True
        async with asyncio.timeout(10):
            await task


@LOOPS
def test_game_sockets_on_the_http_port_go_through_the_fast_transport(run_on: Runner) -> None:
    async def test() -> None:
        async with running() as (base, state):
            seat = await matchmake(base, "joinOrCreate", "arena", {"name": "ann"})
            assert seat["url"].startswith(base.replace("http", "ws", 1) + "/ws/")  # the same port
            player = Player()
            await player.join(seat)
            await player.play(3)
            assert state.game_socket is not None
            assert len(state.game_socket.sessions) == 1  # a picows session, not the ASGI route
            async with httpx.AsyncClient() as http:  # HTTP on the same port, meanwhile
                assert (await http.get(f"{base}/healthz", timeout=5)).status_code == 200
                listed = (await http.get(f"{base}/rooms", params={"name": "arena"})).json()
            assert listed[0]["clients"] == 1
            assert player.ws is not None
            await player.ws.close()

    _bounded(run_on, test)


@LOOPS
def test_a_pong_wait_longer_than_the_ping_interval_still_serves_game_sockets(
    run_on: Runner,
) -> None:
    """picows refuses such options; the fast transport waits at most the interval instead."""

    async def test() -> None:
        async with running(ws_ping_interval=5.0, ws_ping_timeout=30.0) as (base, state):
            player = Player()
            await player.join(await matchmake(base, "create", "arena", {}))
            await player.play(2)
            assert state.game_socket is not None
            assert len(state.game_socket.sessions) == 1
            assert player.ws is not None
            await player.ws.close()

    _bounded(run_on, test)


@LOOPS
def test_a_foreign_origin_is_refused_on_the_shared_port(run_on: Runner) -> None:
    async def test() -> None:
        async with running() as (base, state):
            seat = await matchmake(base, "create", "arena", {})
            with pytest.raises(websockets.InvalidStatus) as refused:
                await websockets.connect(seat["url"], origin=Origin("https://evil.example"))
            assert refused.value.response.status_code == 403
            assert state.metrics.origin_refused == 1

    _bounded(run_on, test)


@LOOPS
def test_with_fast_socket_off_the_app_serves_game_sockets(run_on: Runner) -> None:
    async def test() -> None:
        async with running(fast_socket=False) as (base, state):
            seat = await matchmake(base, "joinOrCreate", "arena", {})
            player = Player()
            await player.join(seat)
            await player.play(3)
            assert state.game_socket is None
            assert player.ws is not None
            await player.ws.close()

    _bounded(run_on, test)


@LOOPS
def test_an_upgrade_after_a_request_on_one_connection_is_served_by_the_app(run_on: Runner) -> None:
    """A connection whose first request was plain HTTP stays uvicorn's (as a proxy that reuses
    its upstream connections would send it): the upgrade still works, through the app."""

    async def test() -> None:
        async with running() as (base, state):
            seat = await matchmake(base, "create", "arena", {})
            path = seat["url"].split(f":{base.rsplit(':', 1)[1]}", 1)[1]
            host = base.removeprefix("http://")
            reader, writer = await asyncio.open_connection(*host.split(":"))
            writer.write(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                writer.write(_upgrade(path, host))
                head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101")
            assert state.game_socket is not None
            assert not state.game_socket.sessions
            writer.close()

    _bounded(run_on, test)


def _upgrade(path: str, host: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {SUBPROTOCOL_MSGPACK}\r\n\r\n"
    ).encode()


@LOOPS
def test_a_request_line_cut_anywhere_still_reaches_the_fast_transport(run_on: Runner) -> None:
    async def test() -> None:
        async with running() as (base, state):
            host = base.removeprefix("http://")
            request = _upgrade("/ws/someroom", host)
            for cut in (1, 5, 7, 8, 20):  # inside and just after "GET /ws/"
                reader, writer = await asyncio.open_connection(*host.split(":"))
                writer.write(request[:cut])
                await writer.drain()
                await asyncio.sleep(0.02)  # the first part arrives on its own
                writer.write(request[cut:])
                async with asyncio.timeout(5):
                    head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 101"), (cut, head)
                assert state.game_socket is not None
                assert len(state.game_socket.sessions) == 1  # picows's, not the app's
                writer.close()
                async with asyncio.timeout(5):
                    while state.game_socket.sessions:  # gone before the next cut
                        await asyncio.sleep(0.01)

    _bounded(run_on, test)


@LOOPS
def test_a_plain_get_of_a_game_socket_path_is_refused_and_the_port_serves_on(
    run_on: Runner,
) -> None:
    async def test() -> None:
        async with running() as (base, _state):
            host = base.removeprefix("http://")
            reader, writer = await asyncio.open_connection(*host.split(":"))
            writer.write(f"GET /ws/someroom HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400")  # picows's answer: the app's would be 404
            writer.close()
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"{base}/healthz", timeout=5)).status_code == 200

    _bounded(run_on, test)
