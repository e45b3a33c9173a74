"""Relative quantised fields: a PATCH carries the change of the count since the baseline."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from protocol.codes import PrecisionKind
from protocol.diff import StateTracker, apply_delta, decode_state, state_hash, to_plain
from protocol.errors import PatchError
from protocol.schema import Quantized, Schema

STEP = 1 / 16
SCHEMA = Schema(
    {
        "npcs.*.x": Quantized(STEP, relative=True),
        "p.*.x": Quantized(STEP, relative=True),
        "track": Quantized(STEP, relative=True),
    }
)


def wire(value: Any) -> Any:
    return msgpack.unpackb(msgpack.packb(value), strict_map_key=False)


def started(initial: dict[str, Any]) -> tuple[StateTracker, dict[str, Any]]:
    tracker = StateTracker(initial, schema=SCHEMA)
    return tracker, decode_state(wire(tracker.full_state()), SCHEMA)


def test_a_relative_field_travels_as_the_change_of_its_count() -> None:
    tracker, _ = started({"p": {"a": {"x": 10.0}}})
    tracker.state["p"]["a"]["x"] = 10.5
    tracker.commit(1)
    assert tracker.delta(0) == {"p": {"a": {"x": 8}}}  # 0.5 / (1/16)


def test_the_full_state_carries_the_count_itself() -> None:
    tracker, _ = started({"p": {"a": {"x": 10.0}}})
    assert tracker.full_state() == {"p": {"a": {"x": 160}}}


def test_several_changes_in_one_tick_send_the_change_since_the_baseline() -> None:
    tracker, _ = started({"track": 1.0})
    tracker.state["track"] = 3.0
    tracker.state["track"] = 2.0
    tracker.commit(1)
    assert tracker.delta(0) == {"track": 16}


def test_a_delta_from_an_older_baseline_adds_up_the_changes() -> None:
    tracker, replica = started({"track": 1.0})
    for tick in range(1, 4):
        tracker.state["track"] += 1
        tracker.commit(tick)
    assert tracker.delta(0) == {"track": 48}
    apply_delta(replica, wire(tracker.delta(0)), SCHEMA)
    assert replica == to_plain(tracker.state)


def test_a_relative_field_that_had_no_number_at_the_baseline_travels_whole() -> None:
    tracker, replica = started({"p": {"a": {}}})
    tracker.state["p"]["a"]["x"] = 2.0
    tracker.commit(1)
    assert tracker.delta(0) == {"p": {"a": {"x": [1, 32]}}}
    apply_delta(replica, wire(tracker.delta(0)), SCHEMA)
    assert replica == {"p": {"a": {"x": 2.0}}}


def test_a_relative_field_deleted_and_set_again_in_one_tick_travels_whole() -> None:
    tracker, _ = started({"track": 1.0})
    del tracker.state["track"]
    tracker.state["track"] = 4.0
    tracker.commit(1)
    assert tracker.delta(0) == {"track": [1, 64]}


def test_a_relative_list_item_travels_whole() -> None:
    schema = Schema({"xs.*": Quantized(STEP, relative=True)})
    tracker = StateTracker({"xs": [1.0, 2.0]}, schema=schema)
    tracker.state["xs"][1] = 3.0
    tracker.state["xs"].append(4.0)
    tracker.commit(1)
    assert tracker.delta(0) == {"xs": [2, 3, {1: [1, 48], 2: [1, 64]}]}


def test_a_relative_field_replaced_by_a_map_travels_whole() -> None:
    tracker, replica = started({"p": {"a": {"x": 1.0}}})
    tracker.state["p"]["a"]["x"] = 2.0
    tracker.commit(1)
    tracker.state["p"]["a"] = {"x": 5.0}
    tracker.commit(2)
    apply_delta(replica, wire(tracker.delta(0)), SCHEMA)
    assert state_hash(replica) == tracker.hash()


def test_a_relative_change_without_a_number_to_change_is_refused() -> None:
    with pytest.raises(PatchError, match=r"^a relative change needs a number to change$"):
        apply_delta({"track": "x"}, {"track": 3}, SCHEMA)


def test_the_schema_wire_form_marks_relative_fields() -> None:
    wired = Schema({"a": Quantized(STEP, relative=True)}).wire()
    assert wired == [[["a"], int(PrecisionKind.QUANTIZED_RELATIVE), STEP]]
    assert Schema.from_wire(wired) == Schema({"a": Quantized(STEP, relative=True)})


def test_many_ticks_of_moving_entities_replay_exactly() -> None:
    initial = {"npcs": [{"x": float(i)} for i in range(30)], "p": {}}
    tracker, replica = started(initial)
    snapshots = {0: to_plain(replica)}
    for tick in range(1, 40):
        for index in range(tick % 5, 30, 3):
            tracker.state["npcs"][index]["x"] += (index % 7 - 3) / 4
        if tick % 9 == 0:
            tracker.state["p"][f"q{tick}"] = {"x": tick / 2}
        tracker.commit(tick)
        apply_delta(replica, wire(tracker.delta(tick - 1)), SCHEMA)
        assert state_hash(replica) == tracker.hash()
        snapshots[tick] = to_plain(replica)
    for baseline in range(tracker.floor, tracker.tick, 4):
        caught_up = to_plain(snapshots[baseline])
        apply_delta(caught_up, wire(tracker.delta(baseline)), SCHEMA)
        assert caught_up == snapshots[tracker.tick]


def test_an_exact_key_that_is_not_relative_beats_a_relative_wildcard() -> None:
    schema = Schema({"e.*": Quantized(STEP, relative=True), "e.hp": Quantized(1.0)})
    tracker = StateTracker({"e": {"x": 10.0, "hp": 50}}, schema=schema)
    tracker.state["e"]["x"] = 10.5
    tracker.state["e"]["hp"] = 48
    tracker.commit(1)
    assert tracker.delta(0) == {"e": {"x": 8, "hp": 48}}  # x: the change; hp: the count itself
