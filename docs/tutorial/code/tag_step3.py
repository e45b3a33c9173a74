# file: docs/tutorial/code/tag_step3.py
"""Tag, step 3: players rename themselves, wave at each other and ask for the leaderboard.

Step 2's game, plus two messages (``rename``, ``wave``) and a request (``leaderboard``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from game_server import Client, ErrorCode, Room, message, request

GRID = 16
TAG_COOLDOWN = 1.0
"""Seconds after a tag during which nobody can be tagged (no tagging straight back)."""


class Move(BaseModel):
    """One input: the direction to walk in, one cell per tick on each axis at most."""

    dx: int = Field(0, ge=-1, le=1)
    dy: int = Field(0, ge=-1, le=1)


class Rename(BaseModel):
    """The ``rename`` message."""

    name: str = Field(min_length=1, max_length=16)


class Wave(BaseModel):
    """The ``wave`` message: wave at one player."""

    to: str


class Top(BaseModel):
    """The ``leaderboard`` request: how many players to list."""

    limit: int = Field(3, ge=1, le=8)


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

    @message("rename")
    def rename(self, client: Client, payload: Rename) -> None:
        players = self.state["players"]
        if any(body["name"] == payload.name for body in players.values()):
            client.error(ErrorCode.NOT_ALLOWED, "name is taken")
            return
        players[client.session_id]["name"] = payload.name

    @message("wave")
    def wave(self, client: Client, payload: Wave) -> None:
        if payload.to not in self.state["players"]:
            client.error(ErrorCode.NOT_ALLOWED, "no such player")
            return
        self.clients[payload.to].send("wave", {"from": client.session_id})

    @request("leaderboard")
    def leaderboard(self, client: Client, payload: Top) -> list[dict[str, Any]]:
        ranked = sorted(self.state["players"].values(), key=lambda body: -body["score"])
        return [{"name": body["name"], "score": body["score"]} for body in ranked[: payload.limit]]

    def award_points(self) -> None:
        for session_id, body in self.state["players"].items():
            if session_id != self.state["it"]:
                body["score"] += 1
