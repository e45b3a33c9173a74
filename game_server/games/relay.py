"""The relay: a built-in room that passes application messages between its members.

It needs no game code. A message of any kind that a player sends goes to every other connected
member, as the same kind with the payload ``{"from": session_id, "payload": payload}``. The
sender doesn't get its own message back. The state holds presence only::

    {"members": {"<session id>": {"name": str, "joined_at": tick}}}

That is enough for chat, presence lists, cursors or a shared board whose logic lives in the
clients. Spectators appear in no list and receive every message, but cannot send (NOT_ALLOWED).
Join options: ``{"name": str}``. ``max_clients`` is 64; a definition's settings may change it.

It works through ``Room.on_message``, the hook for kinds that no ``@message`` handler
declares. Requests still need handlers, so every request is refused with UNKNOWN_MESSAGE.

Must never: look inside payloads (they are the clients' business), or do I/O.
"""

from __future__ import annotations

from typing import Any

from game_server.client import Client
from game_server.room import Room
from protocol.codes import ErrorCode

NAME_LENGTH = 32


class RelayRoom(Room):
    """Presence in the state, and every member's messages to everyone else."""

    max_clients = 64

    def on_create(self, options: dict[str, Any]) -> None:
        """Nobody is here yet."""
        self.state["members"] = {}

    def on_join(self, client: Client, options: dict[str, Any]) -> None:
        """A player appears in ``members`` with its name and the tick it joined at."""
        if client.is_spectator:
            return
        name = options.get("name")
        self.state["members"][client.session_id] = {
            "name": name[:NAME_LENGTH] if isinstance(name, str) and name else client.session_id,
            "joined_at": self.tick,
        }

    def on_leave(self, client: Client, consented: bool) -> None:
        """The member is taken off the list."""
        self.state["members"].pop(client.session_id, None)

    def on_message(self, client: Client, kind: str | int, payload: Any) -> None:
        """Pass the message to everyone else, saying who sent it."""
        if client.is_spectator:
            client.error(ErrorCode.NOT_ALLOWED, "spectators cannot send")
            return
        self.broadcast(kind, {"from": client.session_id, "payload": payload}, exclude=client)
