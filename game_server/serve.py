"""Running the app under uvicorn, with the graceful shutdown a game server needs.

uvicorn on its own answers SIGTERM by closing every WebSocket with 1012 before the app hears of
it. ``GameServer`` intercepts the first SIGINT/SIGTERM instead: matchmaking stops, every room is
locked and told (``Room.on_before_shutdown``), rooms get ``shutdown_timeout`` seconds to empty,
the rest are closed with SERVER_SHUTDOWN (4001), and only then does uvicorn stop. A second
signal forces the exit at once. With Redis, ``persistent`` rooms are saved instead and their
clients closed with MAY_TRY_RECONNECT (4003), to continue in another process.

``run_workers`` starts several such servers, each a process of its own on its own port (rooms
live in one process, so clients must reach the very process that hosts theirs: a reverse proxy
routes by process address, see docs/howto/scale.md); they share one Redis.

Owns: the uvicorn configuration (permessage-deflate off for game frames, pings, frame cap), the
shutdown sequence, and the process's garbage-collector tuning (``tune_gc``). Must never: hold
game or protocol logic.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import subprocess
import sys
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI

from game_server.app import ServerState, create_app
from game_server.fastsocket import GameSocketServer
from game_server.settings import Settings
from game_server.sharedport import shared_port_protocol

logger = logging.getLogger("game_server.serve")

CLOSE_FLUSH = 0.25
"""Seconds the socket writers get to send their close frames before uvicorn stops."""


def uvicorn_config(app: FastAPI, settings: Settings) -> uvicorn.Config:
    """The uvicorn configuration for ``app``: deflate off, our pings, a frame cap above ours
    (so oversized frames get our MESSAGE_TOO_BIG close, not uvicorn's 1009), and with
    ``settings.fast_socket`` (and no ``game_port``) game sockets handed to the fast transport
    on the same port (game_server/sharedport.py)."""
    extra: dict[str, Any] = {}
    if settings.fast_socket and settings.game_port is None:

        def game_socket() -> GameSocketServer | None:
            state: ServerState | None = getattr(app.state, "server", None)
            return None if state is None else state.game_socket

        extra["http"] = shared_port_protocol(game_socket)
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        ws_per_message_deflate=False,
        ws_ping_interval=settings.ws_ping_interval,
        ws_ping_timeout=settings.ws_ping_timeout,
        ws_max_size=max(64 * 1024, settings.max_frame_size * 4),
        timeout_graceful_shutdown=max(1, int(settings.shutdown_timeout)),
        lifespan="on",
        **extra,
    )


class GameServer(uvicorn.Server):
    """A uvicorn server whose first SIGINT/SIGTERM drains the rooms before sockets close."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, settings: Settings) -> None:
        super().__init__(config)
        self.app = app
        self.settings = settings
        self._draining = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        """Remember the event loop, start as uvicorn does, then tune the garbage collector."""
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)  # type: ignore[arg-type]
        tune_gc(self.settings.gc_threshold)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """First signal: drain gracefully. Second: let uvicorn exit now."""
        if self._draining or self._loop is None or not self.started:
            super().handle_exit(sig, frame)
            return
        self._draining = True
        logger.info("shutting down: draining rooms for up to %ss", self.settings.shutdown_timeout)
        self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._drain()))

    async def _drain(self) -> None:
        state: ServerState | None = getattr(self.app.state, "server", None)
        try:
            if state is not None:
                await state.registry.shutdown(
                    timeout=self.settings.shutdown_timeout, drain=self.settings.shutdown_timeout
                )
                await asyncio.sleep(CLOSE_FLUSH)
                if state.game_socket is not None:  # uvicorn does not know its connections
                    await state.game_socket.stop()
        finally:
            self.should_exit = True


def tune_gc(threshold: int) -> None:
    """Freeze every object built so far (modules, app, routes: never garbage) out of the
    collector's reach, and collect the youngest generation every ``threshold`` allocations
    instead of Python's 700. Room state changes allocate many short-lived, acyclic containers
    that reference counting frees; the collector's frequent passes over them, and over the
    rooms' change history, cost about 7 % of the server's Python path (``bench.server_path``,
    docs/performance-history.md). 0 leaves the collector as it is."""
    if threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(threshold, older, oldest)


def run(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM (blocking)."""
    app = create_app(settings)
    server = GameServer(uvicorn_config(app, settings), app, settings)
    server.run()


def worker_settings(settings: Settings, index: int) -> Settings:
    """The settings of worker ``index`` (from 0): ``port + index`` (and ``game_port + index``),
    with ``{port}``, ``{game_port}`` and ``{worker}`` filled in the public URLs."""
    port = settings.port + index
    game_port = None if settings.game_port is None else settings.game_port + index
    fill = {"{port}": str(port), "{game_port}": str(game_port), "{worker}": str(index)}

    def filled(url: str) -> str:
        for placeholder, value in fill.items():
            url = url.replace(placeholder, value)
        return url

    return settings.model_copy(
        update={
            "port": port,
            "game_port": game_port,
            "public_url": filled(settings.public_url),
            "public_game_url": filled(settings.public_game_url),
            "process_id": f"{settings.process_id}-{index}" if settings.process_id else "",
        }
    )


def _environment(settings: Settings) -> dict[str, str]:
    """``settings`` as the ``TICKROOM_*`` variables a child process reads them from."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        key = f"TICKROOM_{name.upper()}"
        if value is None:
            env.pop(key, None)
        elif isinstance(value, list | dict | bool):
            env[key] = json.dumps(value)
        else:
            env[key] = str(value)
    return env


def run_workers(settings: Settings, workers: int, *, poll: float = 0.5) -> int:
    """Run ``workers`` server processes (``worker_settings``) until they exit; blocking. The
    first SIGINT/SIGTERM is passed on to each (a graceful drain), a second one kills them.
    Returns 0 when every worker exited with 0, else 1."""
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "game_server", "run"],
            env=_environment(worker_settings(settings, index)),
            start_new_session=True,  # the terminal's Ctrl-C reaches them through us, once
        )
        for index in range(workers)
    ]
    signals = 0

    def forward(sig: int, frame: FrameType | None) -> None:
        nonlocal signals
        signals += 1
        for child in children:
            if child.poll() is None:
                if signals == 1:
                    child.send_signal(signal.SIGTERM)
                else:
                    child.kill()

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while running := [child for child in children if child.poll() is None]:
            with contextlib.suppress(subprocess.TimeoutExpired):
                running[0].wait(timeout=poll)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    return 0 if all(child.returncode == 0 for child in children) else 1
