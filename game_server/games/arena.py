"""The arena: the io-style reference game and the benchmark workload.

Players move by their latest input ``{"dx": -1..1, "dy": -1..1}`` times ``SPEED`` each tick,
clamped to a 1000 x 1000 field. The room also holds ``NPC_COUNT`` NPCs; each tick a rotating
block of ``NPCS_PER_TICK`` of them takes a random step in [-1, 1] on each axis. This is the
workload of ``../shared/bench`` (Colyseus, the naive FastAPI server and the Python floor), so
the figures compare like with like. Positions are quantised to 1/16 of a unit and *relative*:
a full state carries each as a 3-byte count, and a patch carries how far it moved since the
client's baseline, a one-byte integer for a step of a unit or two, instead of a 9-byte float.
"""

from __future__ import annotations

from math import isnan
from typing import Any

from game_server.client import Client, ClientStatus
from game_server.room import Room
from protocol.schema import Quantized

FIELD = 1000.0
SPEED = 2.0
NPC_COUNT = 100
NPCS_PER_TICK = 20
POSITION = Quantized(1 / 16, relative=True)
LEFT = ClientStatus.LEFT
"""Read once: on Python 3.11 an enum member read through its class costs about 60 ns (the
enum metaclass's ``__getattr__`` puts every class attribute read on a slow path)."""


def _axis(value: Any) -> float:
    """An input axis clamped to -1..1 (anything that is not a number, NaN included, counts as 0:
    a NaN position would be refused by the state and stop the rest of the tick's moves)."""
    if type(value) is int or type(value) is float:
        if isnan(value):
            return 0.0
        return -1.0 if value < -1 else 1.0 if value > 1 else float(value)
    return 0.0


class Arena(Room):
    """Players and NPCs moving on a field. Join options: ``{"name": str}``."""

    max_clients = 10
    tick_rate = 20.0
    npcs_per_tick = NPCS_PER_TICK
    """How many NPCs (a rotating block) take a step each tick; 0 keeps them still."""
    state_history = 10
    """Half a second of changes: every NPC moves within 5 ticks, so a patch from an older
    baseline is about as big as the full state that replaces it (and the ring costs memory in
    every room)."""
    state_precision = {  # noqa: RUF012
        "players.*.x": POSITION,
        "players.*.y": POSITION,
        "npcs.*.x": POSITION,
        "npcs.*.y": POSITION,
    }

    def on_create(self, options: dict[str, Any]) -> None:
        """Place the NPCs at random."""
        self.npc_count = int(options.get("npcs", NPC_COUNT))
        self.state["players"] = {}
        self.state["npcs"] = [
            {"x": self.random.uniform(0, FIELD), "y": self.random.uniform(0, FIELD)}
            for _ in range(self.npc_count)
        ]
        self.next_npc = 0

    def save_game(self) -> dict[str, Any]:
        """The NPC count and the rotating block's start live outside ``state``."""
        return {"npc_count": self.npc_count, "next_npc": self.next_npc}

    def restore_game(self, data: dict[str, Any]) -> None:
        """Take back what ``save_game`` kept."""
        self.npc_count = int(data["npc_count"])
        self.next_npc = int(data["next_npc"])

    def on_join(self, client: Client, options: dict[str, Any]) -> None:
        """Spectators only watch; players get a body at a random spot."""
        if client.is_spectator:
            return
        name = options.get("name")
        self.state["players"][client.session_id] = {
            "name": name[:24] if isinstance(name, str) and name else client.session_id,
            "x": self.random.uniform(0, FIELD),
            "y": self.random.uniform(0, FIELD),
        }

    def on_leave(self, client: Client, consented: bool) -> None:
        """The body goes with the player."""
        self.state["players"].pop(client.session_id, None)

    def on_input(self, client: Client, payload: Any) -> None:
        """Keep the latest direction (malformed inputs count as standing still)."""
        if type(payload) is dict:
            dx, dy = payload.get("dx"), payload.get("dy")
            if type(dx) is float and type(dy) is float and -1.0 <= dx <= 1.0 and -1.0 <= dy <= 1.0:
                client.input = (dx, dy)  # what a client sends: kept as is, no call per axis
            else:
                client.input = (_axis(dx), _axis(dy))
        else:
            client.input = (0.0, 0.0)

    def update(self, dt: float) -> None:
        """Move every player by its input and a block of NPCs at random."""
        players = self.state["players"]
        for client in self.clients.values():  # spectators and reserved seats have no input
            move = client.input
            if move is None or client.status is LEFT:  # kicked in this tick
                continue
            body = players.get(client.session_id)
            if body is None:
                continue
            dx, dy = move
            if dx:  # kept on the field (0..FIELD), inline: 60 positions a tick in every room
                x = body["x"] + dx * SPEED
                body["x"] = 0.0 if x < 0.0 else FIELD if x > FIELD else x
            if dy:
                y = body["y"] + dy * SPEED
                body["y"] = 0.0 if y < 0.0 else FIELD if y > FIELD else y
        count = self.npc_count
        per_tick = self.npcs_per_tick
        if not count or per_tick <= 0:
            return
        npcs = self.state["npcs"]
        start = self.next_npc
        block = npcs[start : start + per_tick]  # the same NPC maps, in a plain list
        if len(block) < per_tick:
            block += npcs[: min(count, per_tick) - len(block)]  # wrapped around
        random = self.random.random  # a step in [-1, 1): 2 * random() - 1
        for npc in block:
            x = npc["x"] + 2.0 * random() - 1.0
            y = npc["y"] + 2.0 * random() - 1.0
            npc["x"] = 0.0 if x < 0.0 else FIELD if x > FIELD else x
            npc["y"] = 0.0 if y < 0.0 else FIELD if y > FIELD else y
        self.next_npc = (start + per_tick) % count
