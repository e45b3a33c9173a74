"""The Python floor on picows: the least a Python server can spend on the arena workload.

The anchor's floor (``../shared/bench/python/floor_server.py``) measures Python's floor on
uvicorn and on the ``websockets`` library. Our fast game socket is picows, so this is the same
floor on picows and uvloop: each tick a room is stepped by the anchor's own ``arena.Room`` and
msgpack-encoded **once** (``MODE=delta``: the players and the 20 NPCs that moved), and the same
bytes go to every member; an input ``[seq, dx, dy]`` is unpacked into its player and nothing
else. No rooms registry, no protocol, no per-member header, no acknowledgements beyond the
``lastSeq`` the state carries. What tickroom costs above this is the price of its features; what
this costs is the price of Python, uvloop and picows on the machine.

It speaks the anchor's floor wire format, so the anchor's own driver and Node bots
(``node/rawbot.cjs --format msgpack-delta``) run it; ``bench.arena_runs`` calls it
``floor-picows``. Usage: ``python bench/floor_picows.py PORT [full|delta]``.

Must never: be used as a server (it trusts every byte it gets); change the workload (the room,
its step and its fixed tick are the anchor's, imported from its folder).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from pathlib import Path
from typing import Any

import msgpack
import uvloop
from picows import (
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    ws_create_server,
)


def _anchor_python_dir() -> Path:
    """The anchor's ``python/`` folder (``$SHARED_BENCH`` overrides ``../shared/bench``)."""
    env = os.environ.get("SHARED_BENCH")
    base = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "bench"
    return base / "python"


sys.path.insert(0, str(_anchor_python_dir()))
# The anchor's workload module, found on the path set just above.
import arena  # type: ignore[import-not-found]  # noqa: E402

packb = msgpack.packb
unpackb = msgpack.unpackb
_BINARY = WSMsgType.BINARY


class FloorRoom:
    """One room: the anchor's ``arena.Room`` and the transports of its members."""

    def __init__(self, room_id: str, delta: bool) -> None:
        self.room: Any = arena.Room(room_id)
        self.members: dict[int, WSTransport] = {}
        self.delta = delta

    def encode_tick(self) -> bytes:
        """Step the room and encode its state once (the floor's ``encode_tick``)."""
        room = self.room
        moved = room.step()
        players = [[p.id, p.x, p.y, p.last_seq] for p in room.players.values()]
        if self.delta:
            npcs = room.npcs
            return packb([room.tick, players, [[i, npcs[i][0], npcs[i][1]] for i in moved]])
        return packb([room.tick, players, room.npcs])

    def full_snapshot(self) -> bytes:
        """Every player and NPC, in the layout of the current mode."""
        room = self.room
        players = [[p.id, p.x, p.y, p.last_seq] for p in room.players.values()]
        if self.delta:
            return packb([room.tick, players, [[i, x, y] for i, (x, y) in enumerate(room.npcs)]])
        return packb([room.tick, players, room.npcs])

    async def run(self) -> None:
        """The anchor's fixed tick; each tick's bytes go to every member as they are."""

        async def tick() -> None:
            data = self.encode_tick()
            for transport in list(self.members.values()):
                transport.send(_BINARY, data)

        await arena.fixed_tick(tick)


class FloorServer:
    """Rooms by id (from the socket's path ``/ws/<room>``), created on first join."""

    def __init__(self, delta: bool) -> None:
        self.rooms: dict[str, FloorRoom] = {}
        self.delta = delta
        self.ids = itertools.count(1)
        self.tasks: set[asyncio.Task[None]] = set()

    def listener(self, request: WSUpgradeRequest) -> FloorListener:
        """A listener for one socket, joined to the room its path names."""
        room_id = request.path.decode().rsplit("/", 1)[-1]
        room = self.rooms.get(room_id)
        if room is None:
            room = self.rooms[room_id] = FloorRoom(room_id, self.delta)
            task = asyncio.get_running_loop().create_task(room.run())
            self.tasks.add(task)
        return FloorListener(room, next(self.ids))


class FloorListener(WSListener):
    """One member: sends its id and a snapshot on connect, applies inputs as they come."""

    def __init__(self, room: FloorRoom, pid: int) -> None:
        super().__init__()
        self.room = room
        self.pid = pid
        self.player: Any = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        room = self.room
        self.player = room.room.players[self.pid] = arena.Player(self.pid)
        transport.send(_BINARY, packb({"you": self.pid}))
        transport.send(_BINARY, room.full_snapshot())
        room.members[self.pid] = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is _BINARY:
            player = self.player
            player.seq, player.dx, player.dy = unpackb(frame.get_payload_as_bytes())
        elif frame.msg_type is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.room.room.players.pop(self.pid, None)
        self.room.members.pop(self.pid, None)


async def main(port: int, delta: bool) -> None:
    """Listen on 127.0.0.1:``port`` and print the driver's ``TICKS`` lines until killed."""
    server = FloorServer(delta)
    await ws_create_server(server.listener, "127.0.0.1", port)
    await arena.report_ticks()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]), len(sys.argv) > 2 and sys.argv[2] == "delta"))
