"""A real server and a real browser for the browser tests.

``LiveServer`` runs ``create_app`` under uvicorn in a thread, on a free 127.0.0.1 port, with the
reference games and the tutorial's Tag game registered; ``call`` runs a function on the
server's event loop (where rooms live), so a test can reach ``app.state.server.registry`` and,
say, drop a client's connection from the server side. ``ForeignSite`` is a second tiny HTTP
server on another port (another Origin) serving the client library and tests/browser/pages/.

``launch_chromium`` starts Debian's Chromium (``/usr/bin/chromium``, or ``TICKROOM_CHROMIUM``)
through Playwright with the flags this machine needs and a fresh profile; it never downloads a
browser. A missing Chromium or Playwright fails the test with the command that installs it:
these tests never skip.

Must never: sleep except while waiting for something due, or touch a room from the test
thread except through ``LiveServer.call``.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import importlib.util
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from fastapi import FastAPI

from game_server.app import ServerState, create_app
from game_server.serve import uvicorn_config
from game_server.settings import DEFAULT_GAMES, Settings
from game_server.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
BROWSER_CLIENT = ROOT / "clients" / "browser"
PAGES = Path(__file__).resolve().parent / "pages"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
TUTORIAL_CODE = ROOT / "docs" / "tutorial" / "code"
CHROMIUM = os.environ.get("TICKROOM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_CHROMIUM = (
    "run scripts/setup as root (it installs Debian's chromium package), or "
    "`apt-get install -y chromium` yourself, or point TICKROOM_CHROMIUM at a Chromium binary"
)
T = TypeVar("T")


def load_tutorial_tag() -> None:
    """Make ``tag_step3`` importable by name (docs/ is no package), as the tutorial tests do."""
    if "tag_step3" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location("tag_step3", TUTORIAL_CODE / "tag_step3.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tag_step3"] = module
    spec.loader.exec_module(module)


class _Server(uvicorn.Server):
    """uvicorn, remembering its event loop so tests can run code on it."""

    loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().startup(sockets)


class LiveServer:
    """The app under uvicorn in a thread. Use as a context manager."""

    def __init__(self) -> None:
        load_tutorial_tag()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.settings = Settings(
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            games=[*DEFAULT_GAMES, "tag=tag_step3:Tag"],
        )
        self.app: FastAPI = create_app(self.settings)
        self.server = _Server(uvicorn_config(self.app, self.settings))
        self.thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the game server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)

    @property
    def state(self) -> ServerState:
        server_state: ServerState = self.app.state.server
        return server_state

    def call(self, function: Callable[[], T], timeout: float = 5.0) -> T:
        """Run ``function`` on the server's event loop and return its result."""
        loop = self.server.loop
        assert loop is not None

        async def run() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)


class _ForeignHandler(http.server.SimpleHTTPRequestHandler):
    """Serves /client/... from clients/browser and everything else from tests/browser/pages."""

    extensions_map = {  # noqa: RUF012 (the base class declares it this way)
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
    }

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0].split("#", 1)[0]
        if path.startswith("/client/"):
            return str(BROWSER_CLIENT / path.removeprefix("/client/"))
        return str(PAGES / path.lstrip("/"))

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class ForeignSite:
    """A second HTTP server, so its pages have another Origin than the game server's."""

    def __init__(self) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ForeignHandler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ForeignSite:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@functools.cache
def chromium_problem() -> str | None:
    """Why Chromium cannot run here, or None."""
    if not Path(CHROMIUM).is_file():
        return f"Chromium was not found at {CHROMIUM}: {INSTALL_CHROMIUM}"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is missing: run scripts/setup (pip install -e '.[dev]')"
    return None


def require_chromium() -> None:
    """Fail (never skip) the test when the browser cannot run."""
    problem = chromium_problem()
    if problem is not None:
        pytest.fail(problem, pytrace=False)
