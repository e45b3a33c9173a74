"""Record a room's match and replay it headless, checking the state hash at every tick.

A recording holds what makes a match: the room class, seed, options and settings, and every
event the room processed, by tick (joins with their auth data, drops, reconnections, leaves,
inputs, messages, requests), plus the state hash after each tick. Replaying builds the same room
with the same seed, feeds the same events at the same ticks, and compares hashes.

File format (msgpack stream): a header map ``{"format": "tickroom-recording", "version": 1,
"room": "module:Class", "seed", "options", "settings", "tick_rate"}``, then one array per
tick ``[tick, hash, [event, ...]]``, each event an array ``[kind, session_id, *data]``.

Must never: need sockets or real time. ``python -m game_server replay FILE`` is the CLI.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgpack

from game_server.errors import ReplayDivergedError
from protocol.codes import Role

if TYPE_CHECKING:
    from game_server.room import Event, Room

FORMAT = "tickroom-recording"
VERSION = 1


def _plain(value: Any) -> Any:
    """``value`` if msgpack can store it, else None (e.g. an auth object)."""
    try:
        msgpack.packb(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return value


@dataclass
class Recording:
    """A recorded match: header fields and ``ticks`` as (tick, hash, events)."""

    room: str
    seed: int
    options: dict[str, Any]
    settings: dict[str, Any]
    tick_rate: float
    ticks: list[tuple[int, str, list[list[Any]]]] = field(default_factory=list)

    def save(self, path: str | Path) -> None:
        """Write the recording to ``path``."""
        packer = msgpack.Packer(use_bin_type=True)
        with open(path, "wb") as out:
            out.write(
                packer.pack(
                    {
                        "format": FORMAT,
                        "version": VERSION,
                        "room": self.room,
                        "seed": self.seed,
                        "options": self.options,
                        "settings": self.settings,
                        "tick_rate": self.tick_rate,
                    }
                )
            )
            for tick, state_hash, events in self.ticks:
                out.write(packer.pack([tick, state_hash, events]))

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        """Read a recording; ValueError if the file is not one."""
        with open(path, "rb") as source:
            unpacker = msgpack.Unpacker(source, raw=False, strict_map_key=False)
            header = next(unpacker, None)
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise ValueError("not a tickroom recording")
            if header.get("version") != VERSION:
                raise ValueError(f"unsupported recording version {header.get('version')!r}")
            recording = cls(
                room=header["room"],
                seed=header["seed"],
                options=header["options"],
                settings=header["settings"],
                tick_rate=header["tick_rate"],
            )
            for tick, state_hash, events in unpacker:
                recording.ticks.append((tick, state_hash, events))
        return recording


class Recorder:
    """Records a live room. ``Recorder.attach(room, options, settings)`` before ``_start``."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self._events: list[list[Any]] = []

    @classmethod
    def attach(cls, room: Room, options: dict[str, Any], settings: dict[str, Any]) -> Recorder:
        """Start recording ``room`` (call before the room's first tick)."""
        kind = type(room)
        recorder = cls(
            Recording(
                room=f"{kind.__module__}:{kind.__qualname__}",
                seed=room.seed,
                options=dict(options),
                settings=dict(settings),
                tick_rate=float(room.tick_rate),
            )
        )
        room.recorder = recorder.record
        room.after_tick = recorder.tick_done
        return recorder

    def record(self, tick: int, event: Event) -> None:
        """Store one processed event (the room calls this)."""
        kind, client = event[0], event[1]
        data = list(event[2:])
        if kind == "join":
            data = [int(client.role), _plain(data[0]), _plain(client.auth)]
        self._events.append([kind, client.session_id, *data])

    def tick_done(self, room: Room) -> None:
        """Close the tick: store its events and the state hash (the room calls this)."""
        self.recording.ticks.append((room.tick, room.state_hash(), self._events))
        self._events = []

    def save(self, path: str | Path) -> None:
        """Write what was recorded so far."""
        self.recording.save(path)


@dataclass
class ReplayResult:
    """What a replay found: ticks replayed and the first divergence, if any."""

    ticks: int
    diverged_at: int | None = None
    expected: str | None = None
    actual: str | None = None

    @property
    def ok(self) -> bool:
        """True when every tick's hash matched."""
        return self.diverged_at is None


def load_room_class(path: str) -> type[Room]:
    """The class named ``module:Qualname``."""
    module_name, _, qualname = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target  # type: ignore[no-any-return]


def replay(recording: Recording, *, strict: bool = False) -> ReplayResult:
    """Re-run ``recording`` headless and compare the state hash after every tick. With
    ``strict``, raise ReplayDivergedError at the first difference."""
    room_class = load_room_class(recording.room)
    room = room_class(
        room_id="replay",
        seed=recording.seed,
        settings={"auto_dispose": False, **recording.settings},
    )
    room._start(recording.options)
    for count, (tick, expected, events) in enumerate(recording.ticks, start=1):
        while room.tick < tick - 1:
            room._advance()
        for event in _events(room, events):
            room._inject(event)
        room._advance()
        actual = room.state_hash()
        if actual != expected:
            if strict:
                raise ReplayDivergedError(tick, expected, actual)
            return ReplayResult(count, tick, expected, actual)
    return ReplayResult(len(recording.ticks))


def _events(room: Room, events: list[list[Any]]) -> Iterator[Event]:
    for kind, session_id, *data in events:
        if kind == "join":
            client = room._replay_client(session_id, Role(data[0]), data[1] or {}, data[2])
            yield ("join", client, data[1] or {})
            continue
        member = room.clients.get(session_id)
        if member is None:
            continue  # already gone (e.g. a leave the room also generated itself)
        yield (kind, member, *data)
