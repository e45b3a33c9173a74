"""The relay room, and the ``Room.on_message`` hook it is built on."""

from __future__ import annotations

from typing import Any

from game_server import Client, ErrorCode, RequestRefusedError, Room, SimClient, Simulation
from game_server.games.relay import RelayRoom


def received(client: SimClient) -> list[tuple[str | int, Any]]:
    return [(message.kind, message.payload) for message in client.messages]


def test_a_message_goes_to_everyone_else_with_its_sender() -> None:
    sim = Simulation(RelayRoom)
    alice, bob, carol = (sim.join({"name": name}) for name in ("alice", "bob", "carol"))
    sim.step()
    alice.send("chat", {"text": "hi"})
    sim.step()
    expected = [("chat", {"from": alice.session_id, "payload": {"text": "hi"}})]
    assert received(bob) == expected
    assert received(carol) == expected
    assert received(alice) == []


def test_any_kind_and_payload_pass_through_in_order() -> None:
    sim = Simulation(RelayRoom)
    alice, bob = sim.join(), sim.join()
    sim.step()
    alice.send("cursor", [1, 2])
    alice.send(7, None)
    bob.send("board", {"cells": [[0, 1], [1, 0]]})
    sim.step()
    assert received(bob) == [
        ("cursor", {"from": alice.session_id, "payload": [1, 2]}),
        (7, {"from": alice.session_id, "payload": None}),
    ]
    assert received(alice) == [
        ("board", {"from": bob.session_id, "payload": {"cells": [[0, 1], [1, 0]]}})
    ]


def test_members_are_listed_with_name_and_join_tick() -> None:
    sim = Simulation(RelayRoom)
    alice = sim.join({"name": "alice"})
    sim.step(3)
    bob = sim.join()
    sim.step()
    assert bob.state == {
        "members": {
            alice.session_id: {"name": "alice", "joined_at": 1},
            bob.session_id: {"name": bob.session_id, "joined_at": 4},
        }
    }
    assert alice.state == sim.room.snapshot()


def test_a_member_who_leaves_is_unlisted() -> None:
    sim = Simulation(RelayRoom)
    alice, bob = sim.join(), sim.join()
    sim.step()
    bob.leave()
    sim.step(2)
    assert list(alice.state["members"]) == [alice.session_id]


def test_spectators_are_unlisted_receive_and_cannot_send() -> None:
    sim = Simulation(RelayRoom)
    alice = sim.join()
    watcher = sim.join(spectator=True)
    sim.step()
    alice.send("chat", "hello")
    watcher.send("chat", "me too")
    sim.step()
    assert list(watcher.state["members"]) == [alice.session_id]
    assert received(watcher) == [("chat", {"from": alice.session_id, "payload": "hello"})]
    assert received(alice) == []
    assert [(e.code, e.message) for e in watcher.errors] == [
        (ErrorCode.NOT_ALLOWED, "spectators cannot send")
    ]


def test_requests_are_still_refused() -> None:
    sim = Simulation(RelayRoom)
    alice = sim.join()
    sim.step()
    asked = alice.request("anything", 1)
    sim.step()
    answer = alice.responses[asked]
    assert (answer.code, answer.payload) == (ErrorCode.UNKNOWN_MESSAGE, "no handler for 'anything'")


def test_max_clients_defaults_to_64_and_settings_change_it() -> None:
    assert RelayRoom.max_clients == 64
    sim = Simulation(RelayRoom, settings={"max_clients": 2})
    sim.join()
    sim.join()
    assert not sim.room.has_free_seat()


# -- Room.on_message ------------------------------------------------------------------------------


class Quiet(Room):
    """A room that declares no handlers and keeps the default ``on_message``."""


def test_by_default_an_unknown_message_kind_is_refused() -> None:
    sim = Simulation(Quiet)
    alice = sim.join()
    sim.step()
    alice.send("shout", "hi")
    alice.send(3)
    sim.step()
    assert [(e.code, e.message) for e in alice.errors] == [
        (ErrorCode.UNKNOWN_MESSAGE, "no handler for 'shout'"),
        (ErrorCode.UNKNOWN_MESSAGE, "no handler for 3"),
    ]


class Picky(Room):
    """Takes every kind but ``"bad"``; a ``"boom"`` breaks it."""

    def on_create(self, options: dict[str, Any]) -> None:
        self.state["seen"] = []

    def on_message(self, client: Client, kind: str | int, payload: Any) -> None:
        if kind == "bad":
            raise RequestRefusedError("not that one")
        if kind == "boom":
            raise RuntimeError("boom")
        self.state["seen"].append([kind, payload])


def test_an_overridden_on_message_takes_any_kind() -> None:
    sim = Simulation(Picky)
    alice = sim.join()
    sim.step()
    alice.send("one", 1)
    alice.send(2, [2])
    sim.step()
    assert alice.state["seen"] == [["one", 1], [2, [2]]]
    assert alice.errors == []


def test_on_message_refuses_by_raising_and_its_failures_are_contained() -> None:
    sim = Simulation(Picky)
    alice = sim.join()
    sim.step()
    alice.send("bad")
    alice.send("boom")
    alice.send("fine")
    sim.step()
    assert [(e.code, e.message) for e in alice.errors] == [
        (ErrorCode.NOT_ALLOWED, "not that one"),
        (ErrorCode.HANDLER_FAILED, "handler failed"),
    ]
    assert alice.state["seen"] == [["fine", None]]
    assert sim.room.stats.errors == 1
