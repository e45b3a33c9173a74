# file: docs/tutorial/code/tag_step1.py
"""Tag, step 1: a room that players join and leave.

Players stand on the cells of a GRID x GRID board. The first player to arrive is "it".
"""

from __future__ import annotations

from typing import Any

from game_server import Client, Room

GRID = 16


class Tag(Room):
    """A game of tag. Join options: ``{"name": str}``."""

    max_clients = 8
    max_spectators = 0
    tick_rate = 10.0

    def on_create(self, options: dict[str, Any]) -> None:
        self.state["players"] = {}
        self.state["it"] = None

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
