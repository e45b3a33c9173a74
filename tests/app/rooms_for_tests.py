"""Room types the app tests register through ``Settings(games=[...])``.

Each is small on purpose: what a test needs to see on the wire, and nothing else. ``GAMES`` is
the ``name=module:Class`` list for ``Settings.games``, built from the classes themselves so it
names this module however pytest imported it.

Must never: sleep, do I/O, or keep state outside a room instance.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from game_server import AuthRefusedError, Client, Room, message

PASSWORD = "open sesame"
SECRET = "secret internal detail"
"""The text of the exception ``Fragile`` raises: it must never reach a client."""


def _step(value: Any) -> int:
    """An input axis as -1, 0 or 1 (anything that is not an int counts as 0)."""
    if type(value) is not int:
        return 0
    return max(-1, min(1, value))


class Walk(Room):
    """Players at ``{"x", "y"}``; each input ``{"dx": -1..1, "dy": -1..1}`` is one step.

    Options: ``mode`` (a string, shown in the listing's metadata), ``locked`` (lock the room at
    creation: only a spectator can create it then). Messages: ``kick_me`` (the room kicks the
    sender), ``spam`` (the room sends the sender ``payload`` messages within one tick).
    """

    max_clients = 3
    seat_reservation_timeout = 1.0
    reconnection_grace = 5.0
    max_messages_per_second = 60.0

    def on_create(self, options: dict[str, Any]) -> None:
        """An empty field, metadata from the options."""
        self.state["players"] = {}
        self.set_metadata(mode=str(options.get("mode", "classic")))
        if options.get("locked"):
            self.lock()

    def on_join(self, client: Client, options: dict[str, Any]) -> None:
        """A player starts at the origin; spectators have no body."""
        if not client.is_spectator:
            self.state["players"][client.session_id] = {"x": 0, "y": 0}

    def on_leave(self, client: Client, consented: bool) -> None:
        """The body goes with the player."""
        self.state["players"].pop(client.session_id, None)

    def on_input(self, client: Client, payload: Any) -> None:
        """One step per input."""
        body = self.state["players"].get(client.session_id)
        if body is None or type(payload) is not dict:
            return
        body["x"] += _step(payload.get("dx"))
        body["y"] += _step(payload.get("dy"))

    @message("kick_me")
    def kick_me(self, client: Client, payload: Any) -> None:
        """Kick the sender."""
        client.kick()

    @message("spam")
    def spam(self, client: Client, payload: Any) -> None:
        """Send the sender ``payload`` messages at once."""
        for number in range(int(payload)):
            client.send("spam", number)


class GuardedOptions(BaseModel):
    """What ``Guarded`` requires in the join options."""

    password: str


class Guarded(Walk):
    """Refuses every client whose ``password`` option is not ``PASSWORD``."""

    options_model = GuardedOptions

    def on_auth(self, client: Client, options: dict[str, Any]) -> Any:
        """Check the password."""
        if options["password"] != PASSWORD:
            raise AuthRefusedError("wrong password")
        return {"ok": True}


class Hidden(Walk):
    """A private room: not listed, not matched; joined by id only."""

    private = True


class Fragile(Walk):
    """``explode`` makes its handler raise, and any error disposes the room."""

    @message("explode")
    def explode(self, client: Client, payload: Any) -> None:
        """Fail with a message that must stay on the server."""
        raise RuntimeError(SECRET)

    def on_uncaught_exception(self, error: Exception, where: str) -> None:
        """Give up on the room (it is disposed with INTERNAL_ERROR)."""
        raise error


class Unstartable(Walk):
    """A room whose ``on_create`` always fails."""

    def on_create(self, options: dict[str, Any]) -> None:
        """Fail."""
        raise RuntimeError(SECRET)


def _path(room_class: type[Room]) -> str:
    return f"{room_class.__module__}:{room_class.__qualname__}"


GAMES = [
    f"walk={_path(Walk)}",
    f"guarded={_path(Guarded)}",
    f"hidden={_path(Hidden)}",
    f"fragile={_path(Fragile)}",
    f"unstartable={_path(Unstartable)}",
]
"""``Settings.games`` entries for every room type above."""
