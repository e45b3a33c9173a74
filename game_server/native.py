"""The game server's optional C extension, ``game_server._native``: the fast socket's two
per-client paths, and the room's per-input path.

- ``publish(room)``: ``Room._publish`` with ``FastSession.wake``'s state-frame path inlined (a
  member's frame from the room's shared one, written to its transport);
- ``receive_frame(session, frame)``: ``FastSession.on_ws_frame`` with ``EdgeSession.receive``'s
  path for a joined player's INPUT and ACK (rate limit, decode, queue) inlined, and
  ``on_ws_frame``, the same as the method ``game_server.fastsocket`` puts on the class;
- ``process_events(room, events)``: ``Room._process_events`` (a tick's queued events) with
  ``Room._process``'s INPUT path inlined: the game's ``on_input`` called from C.

It is built from ``game_server/_native*.c`` by ``setup.py`` beside ``protocol._native``, and
follows the same rules (``protocol/native.py``): the Python methods stay the definition, the C
takes their checks in the same order and calls them for every case it does not finish, and
``TICKROOM_PURE_PYTHON=1`` turns it off with the protocol's C code. ``configure(...)``
hands it what it needs, once, from ``game_server.fastsocket``; ``configure_room(...)``, from
``game_server.room``.

What a game can tell apart: an exception from ``on_input`` has a traceback that starts at
``on_input`` (``Room._run``'s frame is not in it), and a room's ``_process_events``,
``_process``, ``_run``, ``_validated_input``, ``_take_input``, ``_take_ack`` or
``_state_frame`` is honoured when its class defines it, not when it is set on an instance.

Must never: hold logic of its own.
"""

from __future__ import annotations

from typing import Any

from protocol.native import load_extension


def _load_native() -> Any:
    """``game_server._native``, or None (see ``protocol.native.load_extension``)."""
    return load_extension("game_server._native")


native: Any = _load_native()
"""``game_server._native``, or None when the Python code runs."""

NATIVE: bool = native is not None
"""True when the C paths run."""

publish: Any = None
"""``native.publish`` once ``configure`` ran, else None: ``Room._publish`` calls it when set."""

on_ws_frame: Any = None
"""``native.on_ws_frame`` once ``configure`` ran, else None: ``FastSession.on_ws_frame`` in C
(``receive_frame`` with picows's arguments), an instancemethod that ``game_server.fastsocket``
puts on the class in place of the Python method."""

process_events: Any = None
"""``native.process_events`` once ``configure_room`` ran, else None: ``Room._advance`` calls it
instead of ``Room._process_events`` when set."""


def configure(*args: Any) -> None:
    """Hand the C paths what they compare with and call (``native.configure``'s arguments) and
    turn them on; nothing when the C module is not loaded. ``game_server.fastsocket`` calls it
    once, when it is imported."""
    global publish, on_ws_frame  # noqa: PLW0603  # set once, read on every tick
    if native is None:
        return
    native.configure(*args)
    publish = native.publish
    on_ws_frame = native.on_ws_frame


def configure_room(*args: Any) -> None:
    """Hand the room's C path what it compares with (``native.configure_room``'s arguments)
    and turn it on; nothing when the C module is not loaded. ``game_server.room`` calls it
    once, when it is imported (rooms tick without the fast socket too: headless, on uvicorn)."""
    global process_events  # noqa: PLW0603  # set once, read on every tick
    if native is None or not hasattr(native, "configure_room"):  # none, or built before it
        return
    native.configure_room(*args)
    process_events = native.process_events
