"""The server's own Python cost per client-tick, in one process, with no sockets.

    python -m bench.server_path [--rooms 50] [--ticks 400] [--gc-threshold 50000]
                                [--patch-rate 1] [--json bench/results/server_path.json]

What ``bench.arena_load`` measures end to end includes the kernel (TCP over loopback), the event
loop and picows's framing. This benchmark leaves those out to show what our code costs: R arena
rooms of 10 players, each player a real ``FastSession`` (the picows transport's session, so the
edge rules, the sans-I/O ``Connection``, the registry and the rooms are the production ones)
whose socket is a stand-in that only counts the frames written. Each tick every player's input
frame enters through ``on_ws_frame``, as picows delivers it (every twentieth tick, a second at
20 Hz, an ACK too), then every room ticks through its ``TickLoop`` and writes each member's
state frame. Time is this process's CPU time; the garbage collector is tuned as the run
command tunes it (``tune_gc``), and restored afterwards.

Rows: ``receive`` (inputs and acks through the edge into the room), ``tick`` (the room ticks:
inputs applied, ``update``, commit), ``publish`` (the shared patch built once per room and each
member's frame written), and ``total``, each in µs per client-tick, averaged over every tick
(with ``--patch-rate N`` the rooms publish on every N-th tick only). Prints a table, writes JSON.

Owns: a reproducible figure for the Python path, for profiling (``--profile`` prints the top of
cProfile). Must never: open a socket.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import platform
import pstats
import random
import sys
import time
from pathlib import Path
from typing import Any

from picows import WSMsgType

from game_server.app import ServerState
from game_server.clock import ManualClock
from game_server.fastsocket import FastSession
from game_server.games.arena import Arena
from game_server.registry import RoomRegistry
from game_server.room import Room
from game_server.serve import tune_gc
from game_server.settings import Settings
from protocol.codec import encode
from protocol.codes import PROTOCOL_VERSION
from protocol.messages import Ack, Input, Join

ACK_EVERY = 20
"""Ticks between a client's acknowledgements: a second at the arena's 20 Hz, what our clients do
(``clients.python.room.ACK_INTERVAL``)."""


class CountingSocket:
    """Stands in for a picows ``WSTransport``: counts what would be written."""

    is_close_frame_sent = False

    def __init__(self) -> None:
        self.frames = 0
        self.bytes = 0

    def send(self, kind: WSMsgType, data: bytes) -> None:
        self.frames += 1
        self.bytes += len(data)

    def send_close(self, *args: Any) -> None:
        pass

    def disconnect(self, graceful: bool = True) -> None:
        pass


class Frame:
    """Stands in for a picows ``WSFrame``: one whole binary message."""

    __slots__ = ("payload",)
    msg_type = WSMsgType.BINARY
    fin = True

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def get_payload_as_bytes(self) -> bytes:
        return self.payload


async def _players(
    rooms: int, players: int, patch_rate: int = 1
) -> tuple[list[FastSession], RoomRegistry, ManualClock]:
    clock = ManualClock(1000.0)
    registry = RoomRegistry(clock)
    registry.define(
        "arena", Arena, filter_by=("roomKey",), max_clients=players, patch_rate=patch_rate
    )
    server = ServerState(settings=Settings(games=[]), clock=clock, registry=registry)
    await registry.start()
    sessions: list[FastSession] = []
    for room in range(rooms):
        for _ in range(players):
            seat = await registry.join_or_create("arena", {"roomKey": f"room{room}"})
            session = FastSession(server, seat.room_id, None)
            session.transport = CountingSocket()  # type: ignore[assignment]
            session.on_frame(Frame(encode(Join(PROTOCOL_VERSION, seat.token))))  # type: ignore[arg-type]
            sessions.append(session)
    return sessions, registry, clock


def _written(sessions: list[FastSession]) -> tuple[int, int]:
    """Frames and bytes written so far to every session's counting socket."""
    sockets: list[CountingSocket] = [session.transport for session in sessions]  # type: ignore[misc]
    return sum(s.frames for s in sockets), sum(s.bytes for s in sockets)


def measure(
    rooms: int,
    players: int,
    ticks: int,
    warmup: int,
    profile: bool = False,
    patch_rate: int = 1,
) -> dict[str, Any]:
    """Run the scenario and return the figures (µs per client-tick)."""
    return asyncio.run(_measure(rooms, players, ticks, warmup, profile, patch_rate))


async def _measure(
    rooms: int, players: int, ticks: int, warmup: int, profile: bool, patch_rate: int
) -> dict[str, Any]:
    sessions, registry, clock = await _players(rooms, players, patch_rate)
    loops = [registry._rooms[room_id].loop for room_id in registry.rooms]
    rng = random.Random(1)
    inputs = [
        [
            Frame(encode(Input(seq, {"dx": rng.uniform(-1, 1), "dy": rng.uniform(-1, 1)})))
            for seq in range(1, warmup + ticks + 1)
        ]
        for _ in range(8)
    ]
    spent = {"receive": 0.0, "tick": 0.0, "publish": 0.0}
    publish = Room._publish

    def timed_publish(room: Room) -> None:
        started = time.process_time()
        publish(room)
        spent["publish"] += time.process_time() - started

    now = clock.now()

    def run(first: int, last: int) -> None:
        nonlocal now
        cpu = time.process_time
        for tick in range(first, last):
            now += 0.05
            clock._now = now  # time passes for the edge's rate limit; no sleeper is woken
            started = cpu()
            for index, session in enumerate(sessions):
                socket = session.transport
                session.on_ws_frame(socket, inputs[index & 7][tick])  # type: ignore[arg-type]
                client = session.client
                if tick % ACK_EVERY == 0 and client is not None:
                    ack = Frame(encode(Ack(client.sent_tick)))
                    session.on_ws_frame(socket, ack)  # type: ignore[arg-type]
            received = cpu()
            for loop in loops:
                loop.run_due(now)
            spent["receive"] += received - started
            spent["tick"] += cpu() - received

    run(0, warmup)
    for key in spent:
        spent[key] = 0.0
    frames_before, bytes_before = _written(sessions)
    profiler = cProfile.Profile() if profile else None
    Room._publish = timed_publish  # type: ignore[method-assign,assignment]
    try:
        if profiler is not None:
            profiler.enable()
        run(warmup, warmup + ticks)
        if profiler is not None:
            profiler.disable()
    finally:
        Room._publish = publish  # type: ignore[method-assign]
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    client_ticks = len(sessions) * ticks
    # the measured window's frames only (the warm-up's include each member's welcome and full state)
    frames, sent = _written(sessions)
    frames, sent = frames - frames_before, sent - bytes_before
    tick_only = spent["tick"] - spent["publish"]
    return {
        "clients": len(sessions),
        "rooms": rooms,
        "ticks": ticks,
        "patch_rate": patch_rate,
        "state_frames_per_client_tick": frames / client_ticks,
        "us_per_client_tick": {
            "receive": 1e6 * spent["receive"] / client_ticks,
            "tick": 1e6 * tick_only / client_ticks,
            "publish": 1e6 * spent["publish"] / client_ticks,
            "total": 1e6 * (spent["receive"] + spent["tick"]) / client_ticks,
        },
        "bytes_per_frame": sent / frames if frames else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write the JSON. Exit 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--players", type=int, default=10)
    parser.add_argument("--ticks", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--gc-threshold",
        type=int,
        default=Settings.model_fields["gc_threshold"].default,
        help="the run command's gc_threshold (0: Python's collector as it is)",
    )
    parser.add_argument(
        "--patch-rate",
        type=int,
        default=1,
        help="the arena's patch_rate: a state frame every N ticks (the arena's own is 1)",
    )
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--json", type=Path, default=Path("bench/results/server_path.json"))
    args = parser.parse_args(argv)
    if args.patch_rate < 1:
        parser.error("--patch-rate must be at least 1")

    before = gc.get_threshold()
    tune_gc(args.gc_threshold)
    try:
        report = measure(
            args.rooms, args.players, args.ticks, args.warmup, args.profile, args.patch_rate
        )
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    report.update(
        benchmark="server_path",
        python=sys.version.split()[0],
        machine=platform.machine(),
        gc_threshold=args.gc_threshold,
    )
    figures = report["us_per_client_tick"]
    print(
        f"server path, in process: {report['clients']} clients in {report['rooms']} arena rooms, "
        f"{report['ticks']} ticks, gc_threshold {args.gc_threshold or 'python default'}, "
        f"patch_rate {args.patch_rate}"
    )
    print(f"{'part':<9} {'µs/client-tick':>15}")
    for part in ("receive", "tick", "publish", "total"):
        print(f"{part:<9} {figures[part]:>15.2f}")
    print(f"bytes per state frame: {report['bytes_per_frame']:.0f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
