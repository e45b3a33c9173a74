# file: docs/tutorial/code/tag_step2.py
"""Tag, step 2: players walk by their inputs, "it" passes on touch, and a score timer.

Each tick a player walks one cell in the direction of its latest input. When "it" stands on or
next to another player, that player becomes "it"; nobody can be tagged in the second after a
tag. Every second, each player who is not "it" scores a point.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from game_server import Client, Room

GRID = 16
TAG_COOLDOWN = 1.0
"""Seconds after a tag during which nobody can be tagged (no tagging straight back)."""


class Move(BaseModel):
    """One input: the direction to walk in, one cell per tick on each axis at most."""

    dx: int = Field(0, ge=-1, le=1)
    dy: int = Field(0, ge=-1, le=1)


class Tag(Room):
    """A game of tag. Join options: ``{"name": str}``. Inputs: ``Move``."""

    max_clients = 8
    max_spectators = 0
    tick_rate = 10.0
    input_model = Move

    def on_create(self, options: dict[str, Any]) -> None:
        self.state["players"] = {}
        self.state["it"] = None
        self.can_tag = True
        self.timers.interval(1.0, self.award_points)

    def on_join(self, client: Client, options: dict[str, Any]) -> None:
        name = options.get("name")
        self.state["players"][client.session_id] = {
            "name": name[:16] if isinstance(name, str) and name else client.session_id,
            "x": self.random.randrange(GRID),
            "y": self.random.randrange(GRID),
            "score": 0,
        }
        if self.state["it"] is None:
            self.state["it"] = client.session_id

    def on_leave(self, client: Client, consented: bool) -> None:
        players = self.state["players"]
        del players[client.session_id]
        if self.state["it"] == client.session_id:
            self.state["it"] = next(iter(players), None)

    def update(self, dt: float) -> None:
        players = self.state["players"]
        for client in self.players:
            move = client.input
            if isinstance(move, Move):
                body = players[client.session_id]
                body["x"] = min(GRID - 1, max(0, body["x"] + move.dx))
                body["y"] = min(GRID - 1, max(0, body["y"] + move.dy))
        self.pass_it_on()

    def pass_it_on(self) -> None:
        it = self.state["it"]
        if it is None or not self.can_tag:
            return
        players = self.state["players"]
        chaser = players[it]
        for session_id, body in players.items():
            near = abs(body["x"] - chaser["x"]) <= 1 and abs(body["y"] - chaser["y"]) <= 1
            if session_id != it and near:
                self.state["it"] = session_id
                self.can_tag = False
                self.timers.delay(TAG_COOLDOWN, self.allow_tagging)
                return

    def allow_tagging(self) -> None:
        self.can_tag = True

    def award_points(self) -> None:
        for session_id, body in self.state["players"].items():
            if session_id != self.state["it"]:
                body["score"] += 1
