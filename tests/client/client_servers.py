"""Servers for the Python client's tests: a live uvicorn server, in a thread or a process.

``live_server()`` runs ``create_app`` under uvicorn in a background thread on a free 127.0.0.1
port, with its own event loop; the test reaches the rooms through ``live.app`` and runs code on
the server's loop with ``live.call``. ``server_process()`` runs the server as a separate process
(for load tests, so the bots and the server do not share one GIL). Both are context managers
that stop the server on exit, bounded in time. Tests that need no socket use
``clients.python.memory.InMemoryServer`` instead. (Plain context managers rather than fixtures:
a second conftest.py would clash with tests/conftest.py as a module name for mypy.)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from game_server.app import create_app
from game_server.room import Room
from game_server.settings import Settings
from game_server.testing import free_port

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]


def run(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Run ``coro`` in a fresh event loop, failing the test after ``timeout`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def record_hashes(room: Room) -> dict[int, str]:
    """Start recording the room's state hash after every tick: ``{tick: hash}``."""
    hashes: dict[int, str] = {}

    def after(committed: Room) -> None:
        hashes[committed.tick] = committed.state_hash()

    room.after_tick = after
    return hashes


@dataclass
class LiveServer:
    """A running server: ``url`` to connect to, ``app`` to look inside."""

    url: str
    port: int
    app: FastAPI
    loop: asyncio.AbstractEventLoop
    server: uvicorn.Server

    def call(self, function: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``function()`` on the server's event loop (rooms live there) and return it."""

        async def call() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout)

    def room(self, room_id: str) -> Room:
        """The server's room ``room_id``."""
        room = self.call(lambda: self.app.state.server.registry.get(room_id))
        assert isinstance(room, Room), f"no room {room_id}"
        return room


@contextlib.contextmanager
def live_server(**settings: Any) -> Iterator[LiveServer]:
    """uvicorn serving ``create_app`` on a free 127.0.0.1 port in a background thread
    (``settings`` override ``Settings`` fields, e.g. ``game_port=0`` for the fast socket)."""
    port = free_port()
    app = create_app(Settings(host="127.0.0.1", port=port, **settings))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws_per_message_deflate=False, log_level="warning"
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(server.serve(),), name="uvicorn", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", port, app, loop, server)
    finally:
        server.should_exit = True
        thread.join(20)
        assert not thread.is_alive(), "uvicorn did not stop"
        with contextlib.suppress(concurrent.futures.CancelledError):
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@dataclass
class ServerProcess:
    """A server running in its own process."""

    url: str
    port: int
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def server_process(tmp_path: Path) -> Iterator[ServerProcess]:
    """``python -m uvicorn --factory game_server.app:create_app`` on a free 127.0.0.1 port."""
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "game_server.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--ws-per-message-deflate",
            "false",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            pytest.fail(f"server did not start: {(tmp_path / 'server.log').read_text()}")
        yield ServerProcess(url, port, process)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()
