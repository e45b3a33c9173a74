"""Rooms the multi-process end-to-end tests serve (``--game NAME=tests.e2e.e2e_rooms:Class``)."""

from __future__ import annotations

from typing import Any

from game_server.client import Client
from game_server.games.arena import Arena
from game_server.handlers import request

HASH_LOG = 200
"""Ticks of state hashes a room keeps for the ``hashes`` request."""


class PersistentArena(Arena):
    """The arena, saved at shutdown and restored by another process. Its ``hashes`` request
    answers the hash of each recent tick's committed state, so a client can compare its own
    decoded state with the server's, tick for tick."""

    persistent = True
    reconnection_grace = 30.0

    def on_create(self, options: dict[str, Any]) -> None:
        """As the arena, with a few NPCs (small frames) and the hash log."""
        super().on_create({"npcs": 10, **options})
        self.hash_log: dict[str, str] = {}

    def restore_game(self, data: dict[str, Any]) -> None:
        """As the arena; the hash log starts again."""
        super().restore_game(data)
        self.hash_log = {}

    def update(self, dt: float) -> None:
        """As the arena, then log the hash of the state this tick commits."""
        super().update(dt)
        self.hash_log[str(self.tick)] = self.state_hash()
        if len(self.hash_log) > HASH_LOG:
            del self.hash_log[next(iter(self.hash_log))]

    @request("hashes")
    def hashes(self, client: Client, payload: Any) -> dict[str, str]:
        """``{tick: state hash}`` of the last ticks."""
        return dict(self.hash_log)
