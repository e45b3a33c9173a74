"""Save a room between ticks and restore it later, in this process or another one.

    data = save_room(room)          # bytes (msgpack)
    room = restore_room(data)       # a Room of the same class, at the same tick

A save holds everything that decides the room's next ticks: its class, id, name and seed, the
settings that differ from the class defaults, metadata and lock, the tick, the state, the
state of ``room.random``, what the game's ``save_game()`` returned, every client (session id,
role, status, options, auth when it is plain data, latest input, input sequence numbers,
reconnect token, seat token and expiry of a reservation, ``dropped_at``) and the events queued
for the next tick. Restoring builds the room without ``on_create``, then calls
``restore_game()``.

A restored room has no connections. Clients that were connected become dropped at the restore
(an ``on_drop`` runs at its next tick), so they come back with their reconnect tokens within
``reconnection_grace``, as after any network failure, and get a full state then; connected
spectators leave, as they do on any drop. Not saved:
timers (re-create them in ``restore_game``), game attributes outside ``state`` that
``save_game`` does not return, and values msgpack cannot store (an auth object, a setting that
holds a class; those come back as None or as the class default). Inputs and options come back
as plain data: tuples as lists.

File format: one msgpack map ``{"format": "tickroom-room", "version": 1, ...}``. Must never:
touch sockets or the clock; call a hook other than ``restore_game`` (and ``on_drop``, inside
the tick that follows).
"""

from __future__ import annotations

from typing import Any

import msgpack

from game_server.client import Client, ClientStatus
from game_server.recording import _plain, load_room_class
from game_server.room import Event, Room
from protocol.codes import Role
from protocol.diff import StateTracker

FORMAT = "tickroom-room"
VERSION = 1

_NOT_SETTINGS = frozenset({"metadata"})
"""Class attributes a room copies per instance that are saved on their own."""


def _class_path(room: Room) -> str:
    kind = type(room)
    return f"{kind.__module__}:{kind.__qualname__}"


def _settings(room: Room) -> dict[str, Any]:
    """Instance overrides of class attributes (the ``settings`` a room was made with)."""
    kind = type(room)
    out: dict[str, Any] = {}
    for key, value in vars(room).items():
        if key.startswith("_") or key in _NOT_SETTINGS or not hasattr(kind, key):
            continue
        if value != getattr(kind, key) and _plain(value) is not None:
            out[key] = value
    return out


def _save_client(client: Client) -> dict[str, Any]:
    reserved = client.status is ClientStatus.RESERVED
    return {
        "session_id": client.session_id,
        "role": int(client.role),
        "status": client.status.value,
        "has_joined": client.has_joined,
        "options": _plain(client.options) or {},
        "auth": _plain(client.auth),
        "user_data": _plain(client.user_data) or {},
        "input": _plain(client.input),
        "last_input_seq": client.last_input_seq,
        "received_seq": client.received_seq,
        "reconnect_token": client.reconnect_token,
        "seat_token": client.seat_token if reserved else "",
        "expires_at": client.expires_at if reserved else 0.0,
        "dropped_at": client.dropped_at,
    }


def _save_event(event: Event) -> list[Any]:
    kind, client, *data = event
    return [kind, client.session_id, *(_plain(value) for value in data)]


def save_room(room: Room) -> bytes:
    """The room as bytes (see the module docstring). Call it between ticks."""
    data = {
        "format": FORMAT,
        "version": VERSION,
        "room": _class_path(room),
        "room_id": room.room_id,
        "name": room.name,
        "seed": room.seed,
        "tick": room.tick,
        "settings": _settings(room),
        "metadata": room.metadata,
        "locked": room.locked,
        "state": room.snapshot(),
        "random": room.random.getstate(),
        "game": room.save_game(),
        "clients": [_save_client(client) for client in room.clients.values()],
        "events": [_save_event(event) for event in room._events],
    }
    packed: bytes = msgpack.packb(data, use_bin_type=True)
    return packed


def _load(data: bytes) -> dict[str, Any]:
    try:
        saved = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, TypeError, msgpack.UnpackException):
        raise ValueError("not a saved tickroom room") from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError("not a saved tickroom room")
    if saved.get("version") != VERSION:
        raise ValueError(f"unsupported saved room version {saved.get('version')!r}")
    return saved


def _restore_client(room: Room, saved: dict[str, Any]) -> Client:
    client = Client(
        room,
        saved["session_id"],
        role=Role(saved["role"]),
        options=saved["options"],
        seat_token=saved["seat_token"],
        reconnect_token=saved["reconnect_token"],
        expires_at=saved["expires_at"],
    )
    client.status = ClientStatus(saved["status"])
    client.has_joined = saved["has_joined"]
    client.auth = saved["auth"]
    client.user_data = saved["user_data"]
    client.input = saved["input"]
    client.last_input_seq = saved["last_input_seq"]
    client.received_seq = saved["received_seq"]
    client.dropped_at = saved["dropped_at"]
    if client.status is ClientStatus.RESERVED:
        room._tokens[client.seat_token] = client
    elif client.status in (ClientStatus.JOINED, ClientStatus.DROPPED):
        room._tokens[client.reconnect_token] = client
    return client


def _disconnect(room: Room) -> None:
    """Connected clients lost their sockets with the old room: drop them as ``Room._closed``
    would (spectators, or every client when there is no grace, leave instead)."""
    now = room.time
    for client in room.clients.values():
        if client.status is not ClientStatus.JOINED:
            continue
        if client.role is Role.SPECTATOR or room.reconnection_grace <= 0:
            client.status = ClientStatus.LEFT
            room._tokens.pop(client.reconnect_token, None)
            room._events.append(("leave", client, False))
        else:
            client.status = ClientStatus.DROPPED
            client.dropped_at = now
            room._events.append(("drop", client))


def restore_room(data: bytes) -> Room:
    """A room rebuilt from ``save_room`` bytes, ready to tick on (see the module docstring).
    ValueError if ``data`` is not a saved room."""
    saved = _load(data)
    room = load_room_class(saved["room"])(
        room_id=saved["room_id"], name=saved["name"], seed=saved["seed"], settings=saved["settings"]
    )
    tick: int = saved["tick"]
    room.tick = tick
    room.timers.now = room.time
    room.metadata = saved["metadata"]
    room.locked = saved["locked"]
    room._tracker = StateTracker(
        saved["state"], schema=room._schema, history=room.state_history, tick=tick
    )
    version, internal, gauss_next = saved["random"]
    room.random.setstate((version, tuple(internal), gauss_next))
    for saved_client in saved["clients"]:
        client = _restore_client(room, saved_client)
        room.clients[client.session_id] = client
        room.seats_version += 1
    for kind, session_id, *rest in saved["events"]:
        client = room.clients[session_id]
        if kind in ("input", "message", "request"):
            client.queued += 1
        room._events.append((kind, client, *rest))
    _disconnect(room)
    room.restore_game(saved["game"])
    room.published_tick = tick
    return room
