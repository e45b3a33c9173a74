"""The tickroom server as the shared bench driver runs it: the arena only, rooms by ``roomKey``.

    python bench/arena_server.py --port PORT [--players 10] [--transport shared] [--stats FILE]
        [--npc-moves 20]

Builds ``create_app(Settings(...))`` with the arena registered as ``filter_by=("roomKey",)`` and
``max_clients=P`` (each bot room ``room<r>`` gets its own room, as the Colyseus anchor's
``filterBy(["roomKey"])`` does; ``--npc-moves 0`` keeps the NPCs still, which is what the
anchor's Colyseus server does in fact, see ``bench/node/colyseus_moving.cjs``), serves it on
127.0.0.1 with uvloop, and prints ``TICKS <unix time> <total ticks>`` about once a second (the
driver's contract; ticks of every room, disposed ones included). ``--stats FILE`` also appends
one JSON line a second with the registry's cumulative tick-lateness and tick-duration histograms
and the edge's counters, which ``bench.arena_load`` turns into window figures.

The transport is a table entry (``TRANSPORTS``): each entry is an async function that serves the
app until SIGTERM. The edge settings are the defaults (ack timeout, rate limit, frame cap), so the
bots do the honest work: they acknowledge state about once a second, as our clients do.

Owns: the benchmark's server process. Must never: tune or patch the server it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvloop
from fastapi import FastAPI

from game_server.app import ServerState, create_app
from game_server.games.arena import Arena
from game_server.room import Room
from game_server.serve import GameServer, uvicorn_config
from game_server.settings import Settings

ROOM_NAME = "arena"
REPORT_PERIOD = 1.0
"""Seconds between TICKS lines."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class BenchGame:
    """The arena as the bench runs it: room size and how many NPCs step each tick."""

    players: int = 10
    npc_moves: int = Arena.npcs_per_tick

    def room_class(self) -> type[Room]:
        """``Arena``, or a subclass of it with another ``npcs_per_tick``."""
        if self.npc_moves == Arena.npcs_per_tick:
            return Arena
        return type("Arena", (Arena,), {"npcs_per_tick": self.npc_moves})


class ArenaBenchApp:
    """The tickroom app, with the arena defined on the registry the moment the lifespan has
    built it (before the server listens): ``Settings.games`` cannot carry ``filter_by``."""

    def __init__(self, app: FastAPI, game: BenchGame) -> None:
        self.app = app
        self.game = game

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_after_define(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                server: ServerState = self.app.state.server
                server.registry.define(
                    ROOM_NAME,
                    self.game.room_class(),
                    filter_by=("roomKey",),
                    max_clients=self.game.players,
                )
            await send(message)

        await self.app(scope, receive, send_after_define)


class TickReporter:
    """Prints ``TICKS`` lines and, optionally, appends JSON stats lines."""

    def __init__(self, app: FastAPI, out: TextIO, stats: TextIO | None) -> None:
        self.app = app
        self.out = out
        self.stats = stats
        self._seen: dict[str, Room] = {}
        self._retired_ticks = 0

    def total_ticks(self, server: ServerState) -> int:
        """Ticks of every room so far: live rooms, plus the final count of rooms gone since."""
        rooms = server.registry.rooms
        for room_id, room in self._seen.items():
            if room_id not in rooms:
                self._retired_ticks += room.stats.ticks
        self._seen = rooms
        return self._retired_ticks + sum(room.stats.ticks for room in rooms.values())

    def report(self) -> None:
        """One TICKS line (and a stats line), if the app has started."""
        server: ServerState | None = getattr(self.app.state, "server", None)
        if server is None:
            return
        now = time.time()
        ticks = self.total_ticks(server)
        self.out.write(f"TICKS {now:.3f} {ticks}\n")
        self.out.flush()
        if self.stats is not None:
            self.stats.write(json.dumps(stats_line(server, now, ticks)) + "\n")
            self.stats.flush()

    async def run(self) -> None:
        """Report every ``REPORT_PERIOD`` seconds, on the period (no drift)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            deadline += REPORT_PERIOD
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            self.report()


def stats_line(server: ServerState, now: float, ticks: int) -> dict[str, Any]:
    """Cumulative counters at ``now``: clients, tick histograms, edge counters."""
    registry = server.registry
    rooms = registry.rooms.values()
    metrics = server.metrics
    return {
        "t": round(now, 3),
        "ticks": ticks,
        "rooms": len(rooms),
        "clients": sum(room.player_count for room in rooms),
        "sockets": metrics.sockets_open,
        "lateness": _histogram(registry.tick_lateness),
        "duration": _histogram(registry.tick_duration),
        "frames_out": metrics.frames_out,
        "bytes_out": metrics.bytes_out,
        "too_slow": metrics.too_slow,
        "rate_limited": metrics.rate_limited,
        "protocol_errors": metrics.protocol_errors,
        "disconnects": {str(code): n for code, n in metrics.disconnects.items()},
        "frames_coalesced": sum(room.stats.frames_coalesced for room in rooms),
        "inputs_dropped": sum(room.stats.inputs_dropped for room in rooms),
        "room_errors": sum(room.stats.errors for room in rooms),
    }


def _histogram(histogram: Any) -> dict[str, Any]:
    return {
        "bounds": list(histogram.bounds),
        "counts": list(histogram.counts),
        "count": histogram.count,
        "sum": histogram.sum,
    }


async def serve_uvicorn(app: FastAPI, settings: Settings, game: BenchGame) -> None:
    """The run command's edge: uvicorn (httptools, websockets-sansio) with the project's config
    (game sockets on the fast transport when the settings say so)."""
    config = uvicorn_config(app, settings)
    config.app = ArenaBenchApp(app, game)
    await GameServer(config, app, settings).serve()


def uvicorn_with(ws: str) -> Callable[[FastAPI, Settings, BenchGame], Awaitable[None]]:
    """``serve_uvicorn`` with uvicorn's WebSocket implementation ``ws`` instead of its default
    (websockets-sansio): the same app and settings, another protocol class under it."""

    async def serve(app: FastAPI, settings: Settings, game: BenchGame) -> None:
        config = uvicorn_config(app, settings)
        config.app = ArenaBenchApp(app, game)
        config.ws = ws
        await GameServer(config, app, settings).serve()

    return serve


async def serve_granian(app: FastAPI, settings: Settings, game: BenchGame) -> None:
    """The same FastAPI app on Granian (Rust HTTP and WebSocket I/O, the app on this event loop,
    one runtime thread) instead of uvicorn. Needs ``pip install granian``: it is measured, not
    adopted (see docs/performance-history.md), so it is no dependency of ours."""
    embed = importlib.import_module("granian.server.embed")
    constants = importlib.import_module("granian.constants")
    log = importlib.import_module("granian.log")
    server = embed.Server(
        ArenaBenchApp(app, game),
        address=settings.host,
        port=settings.port,
        interface=constants.Interfaces.ASGI,
        websockets=True,
        runtime_threads=1,
        log_level=log.LogLevels.warning,
    )
    await server.serve()


Transport = Callable[[FastAPI, Settings, BenchGame], Awaitable[None]]

TRANSPORTS: dict[str, Transport] = {
    "shared": serve_uvicorn,
    "uvicorn": serve_uvicorn,
    "uvicorn-wsproto": uvicorn_with("wsproto"),
    "uvicorn-websockets": uvicorn_with("websockets"),
    "picows": serve_uvicorn,
    "granian": serve_granian,
}
"""Edges the bench can run; another transport is one more entry. ``shared`` is the run command's
default: one port, uvicorn for HTTP, game sockets handed to the fast transport
(``Settings.fast_socket``); ``uvicorn`` serves them through the FastAPI app instead;
``picows`` is uvicorn for HTTP with the game socket on a port of its own (``Settings.game_port``);
``uvicorn-wsproto`` (needs the ``wsproto`` package) and ``uvicorn-websockets`` (the
``websockets`` library's legacy asyncio protocol) swap uvicorn's WebSocket implementation;
``granian`` (needs the ``granian`` package) swaps uvicorn for Granian."""

TRANSPORT_SETTINGS: dict[str, dict[str, Any]] = {
    "picows": {"game_port": 0},
    **{
        name: {"fast_socket": False}
        for name in ("uvicorn", "uvicorn-wsproto", "uvicorn-websockets", "granian")
    },
}
"""Settings each transport needs (applied before the app is built)."""


def bench_settings(port: int) -> Settings:
    """Defaults everywhere but: 127.0.0.1, quiet logs, no other games, a short drain (the
    driver kills a server that takes more than 5 s to stop)."""
    return Settings(
        host="127.0.0.1", port=port, log_level="warning", games=[], shutdown_timeout=1.0
    )


async def serve(args: argparse.Namespace) -> None:
    """Serve with the chosen transport and report ticks until the transport returns."""
    settings = bench_settings(args.port).model_copy(
        update=TRANSPORT_SETTINGS.get(args.transport, {})
    )
    app = create_app(settings)
    stats = Path(args.stats).open("a") if args.stats else None  # noqa: SIM115
    reporter = TickReporter(app, sys.stdout, stats)
    task = asyncio.create_task(reporter.run())
    try:
        game = BenchGame(players=args.players, npc_moves=args.npc_moves)
        await TRANSPORTS[args.transport](app, settings, game)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if stats is not None:
            stats.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--players", type=int, default=10, help="max_clients per room")
    parser.add_argument("--transport", choices=sorted(TRANSPORTS), default="shared")
    parser.add_argument("--stats", metavar="FILE", help="append JSON stats lines to FILE")
    parser.add_argument(
        "--npc-moves",
        type=int,
        default=Arena.npcs_per_tick,
        help="NPCs that step each tick (0: still, as the Colyseus anchor's NPCs in fact are)",
    )
    args = parser.parse_args(argv)
    uvloop.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
