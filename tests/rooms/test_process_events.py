"""``Room._process_events`` against its C path, ``game_server.native.process_events``.

The C takes a tick's events in the Python method's order and runs ``Room._process``'s INPUT path
itself (the game's ``on_input`` called from C, an error contained by ``_contain``). A seeded
workload of inputs, messages, leaves, errors, kicks and a disposal runs through both, and
everything a game or a member can observe is compared tick by tick; the cases the C hands back
to Python (a room's own ``_process`` or ``_process_events``, a recorder, an ``input_model``)
are checked on their own.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel

import game_server.native
from game_server.client import Client
from game_server.room import Event, Room
from game_server.testing import seat as connect
from protocol.codec import encode
from protocol.connection import ConnectionClosed
from protocol.messages import AppMessage, Input, Leave, Message

PURE = os.environ.get("TICKROOM_PURE_PYTHON", "") not in ("", "0")


class Halt(BaseException):
    """Not an Exception: ``_run`` does not contain it, so it leaves the tick."""


class Busy(Room):
    """Counts inputs per client; payloads name what to do besides."""

    max_inputs_per_tick = 3
    max_input_backlog = 8

    def on_create(self, options: dict[str, Any]) -> None:
        self.state["seen"] = {}
        self.reported: list[tuple[str, str, bool, str]] = []

    def on_join(self, client: Client, options: dict[str, Any]) -> None:
        self.state["seen"][client.session_id] = 0

    def on_input(self, client: Client, payload: Any) -> None:
        if payload == "boom":
            raise ValueError(f"boom at {client.last_input_seq}")
        if payload == "fatal":
            raise KeyError("fatal")
        if payload == "halt":
            raise Halt
        if payload == "kick":
            client.kick()
            return
        seen = self.state["seen"]
        if client.session_id in seen:
            seen[client.session_id] += 1

    def on_message(self, client: Client, kind: str | int, payload: Any) -> None:
        if kind == "boom":
            raise ValueError("message boom")

    def on_uncaught_exception(self, error: Exception, where: str) -> None:
        handled = sys.exc_info()[1] is error  # `except ... as exc:` is around the hook
        self.reported.append((where, repr(error), handled, type(error.__traceback__).__name__))
        if isinstance(error, KeyError):
            raise RuntimeError("give up")


@pytest.fixture(params=["c", "python"])
def process_events(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test twice: with the C path (unless switched off) and with the Python method."""
    if request.param == "python":
        monkeypatch.setattr(game_server.native, "process_events", None)
    elif PURE:
        assert game_server.native.process_events is None
    else:
        assert game_server.native.process_events is game_server.native.native.process_events
    return str(request.param)


def feed(client: Client, *messages: Message) -> None:
    conn = client.connection
    if conn is None:
        return
    for one in messages:
        conn.receive_data(encode(one))
    events = conn.events_received()
    client.room._receive(client, [e for e in events if not isinstance(e, ConnectionClosed)])


def started(room_class: type[Room]) -> Any:
    room = room_class(room_id="r", seed=1, settings={"auto_dispose": False})
    room._start()
    return room


def observed(room: Busy, clients: list[Client]) -> str:
    """What a game or a member can see of the room after a tick."""
    people = [
        (c.status.name, c.last_input_seq, c.received_seq, c.queued, c.inputs_dropped)
        for c in clients
    ]
    return repr(
        (
            room.tick,
            room.disposed,
            [room.state["seen"].get(c.session_id) for c in clients],  # session ids are random
            room.stats.errors,
            room.reported,
            people,
            [(e[0], e[2:]) for e in room._events],
        )
    )


PAYLOADS = [1, 1, 1, 2, 1, "boom", {"dx": 1}, None]


def workload(seed: int, fatal_at: int | None) -> list[str]:
    """A seeded run of 60 ticks; the transcript of what was observed after each. A member
    that left or was kicked is replaced by a new one."""
    rng = random.Random(seed)
    room = started(Busy)
    everyone = [connect(room) for _ in range(5)]
    present = list(everyone)
    room._advance()
    seqs = {c.session_id: 0 for c in everyone}
    lines = []
    for number in range(60):
        for index, member in enumerate(present):
            client = member
            if client.connection is None:
                client = present[index] = connect(room)
                everyone.append(client)
                seqs[client.session_id] = 0
            for _ in range(rng.randrange(0, 6)):
                roll = rng.random()
                if roll < 0.08:
                    feed(client, AppMessage(rng.choice(["note", "boom"]), rng.randrange(9)))
                elif roll < 0.1:
                    feed(client, Leave())
                    break  # nothing more on a leaving connection
                else:
                    seqs[client.session_id] += 1
                    payload = "kick" if roll < 0.12 else rng.choice(PAYLOADS)
                    feed(client, Input(seqs[client.session_id], payload))
        if number == fatal_at:  # the first member still there gives the room up
            client = next(c for c in present if c.connection is not None)
            seqs[client.session_id] += 1
            feed(client, Input(seqs[client.session_id], "fatal"))
        room._advance()
        lines.append(observed(room, everyone))
    return lines


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_c_and_python_process_a_tick_alike(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    fatal_at = 45 if seed % 2 else None
    c = workload(seed, fatal_at)
    monkeypatch.setattr(game_server.native, "process_events", None)
    python = workload(seed, fatal_at)
    assert c == python
    assert any("ValueError" in line for line in python)  # on_input errors were contained
    assert any("'LEFT'" in line for line in python)  # left, or kicked by its own input
    if fatal_at is not None:
        assert "True" in python[-1].split(",")[1]  # on_uncaught_exception raised: disposed


def test_an_input_error_is_contained_as_python_contains_it(process_events: str) -> None:
    room = started(Busy)
    alice = connect(room)
    room._advance()
    feed(alice, Input(1, 1), Input(2, "boom"), Input(3, 1))
    room._advance()
    assert room.state["seen"][alice.session_id] == 2
    assert room.stats.errors == 1
    where, error, handled, traceback = room.reported[0]
    assert (where, handled, traceback) == ("on_input", True, "traceback")
    assert "boom" in error
    assert alice.last_input_seq == 3  # the refused input counts as processed by the next


def test_a_hook_raising_from_on_uncaught_exception_disposes_and_stops_the_tick(
    process_events: str,
) -> None:
    room = started(Busy)
    alice, bob = connect(room), connect(room)
    room._advance()
    feed(alice, Input(1, "fatal"))
    feed(bob, Input(1, 1))
    room._advance()
    assert room.disposed
    assert room.state["seen"][bob.session_id] == 0  # the tick stopped before bob's turn
    assert room.reported == [("on_input", "KeyError('fatal')", True, "traceback")]


def test_an_exception_that_is_no_exception_leaves_the_tick(process_events: str) -> None:
    room = started(Busy)
    alice = connect(room)
    room._advance()
    feed(alice, Input(1, "halt"))
    with pytest.raises(Halt):
        room._advance()
    assert room.stats.errors == 0
    assert alice.last_input_seq == 0


def test_each_client_gets_its_share_and_the_rest_waits_in_order(process_events: str) -> None:
    room = started(Busy)  # max_inputs_per_tick = 3
    alice, bob = connect(room), connect(room)
    room._advance()
    feed(alice, *(Input(seq, 1) for seq in range(1, 6)))
    feed(bob, Input(1, 1))
    room._advance()
    assert (alice.last_input_seq, bob.last_input_seq) == (3, 1)
    assert [event[2] for event in room._events] == [4, 5]
    room._advance()
    assert alice.last_input_seq == 5
    assert room.state["seen"][alice.session_id] == 5


class Recorded(Busy):
    """Sees what ``_process`` is asked, through the methods the C path must honour."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.processed: list[Any] = []
        super().__init__(*args, **kwargs)


class OwnProcess(Recorded):
    def _process(self, event: Event) -> None:
        self.processed.append(event[2] if event[0] == "input" else event[0])
        super()._process(event)


class OwnRun(Recorded):
    def _run(self, where: str, function: Callable[..., Any], *args: Any) -> bool:
        self.processed.append(where)
        return super()._run(where, function, *args)


class OwnProcessEvents(Recorded):
    def _process_events(self, events: Any) -> bool:
        self.processed.append(len(events))
        return super()._process_events(events)


class Modelled(Recorded):
    class Move(BaseModel):
        dx: int

    input_model = Move

    def on_input(self, client: Client, payload: Any) -> None:
        self.processed.append(payload.dx)


def ticked(room_class: type[Recorded]) -> Iterator[Any]:
    room = started(room_class)
    alice = connect(room)
    room._advance()
    room.processed.clear()  # the join's tick
    feed(alice, Input(1, 1), Input(2, 1))
    room._advance()
    yield room
    yield alice


@pytest.mark.parametrize(
    ("room_class", "expected"),
    [
        (OwnProcess, [1, 2]),
        (OwnRun, ["on_input", "on_input", "update"]),
        (OwnProcessEvents, [2]),
    ],
)
def test_a_room_s_own_methods_run_instead_of_the_c(
    process_events: str, room_class: type[Recorded], expected: list[Any]
) -> None:
    room, alice = ticked(room_class)
    assert room.processed == expected
    assert alice.last_input_seq == 2
    assert room.state["seen"][alice.session_id] == 2


def test_an_input_model_and_a_recorder_go_through_process(process_events: str) -> None:
    room = started(Modelled)
    recorded: list[Any] = []
    room.recorder = lambda tick, event: recorded.append((tick, event[0], event[2]))
    alice = connect(room)
    room._advance()
    feed(alice, Input(1, {"dx": 4}), Input(2, {"dx": "x"}), Input(3, {"dx": 5}))
    room._advance()
    assert room.processed == [4, 5]
    assert [r for r in recorded if r[1] == "input"] == [
        (2, "input", 1),
        (2, "input", 2),
        (2, "input", 3),
    ]
    assert alice.last_input_seq == 3


def test_a_contained_error_leaves_nothing_handled_behind_in_a_coroutine(
    process_events: str,
) -> None:
    """The tick runs inside the loop's coroutine: while an outer ``except`` block is open
    elsewhere, containing an input's error must leave the coroutine with nothing being
    handled, as Python's ``except`` does (the C puts back the very entry it changed)."""
    room = started(Busy)
    alice = connect(room)
    room._advance()
    feed(alice, Input(1, "boom"))

    def tick_inside() -> Iterator[Any]:
        room._advance()
        yield None
        yield sys.exc_info()[1]  # resumed outside any except block

    coroutine = tick_inside()
    try:
        raise KeyError("outer")
    except KeyError:
        next(coroutine)
    assert next(coroutine) is None
    assert room.stats.errors == 1
