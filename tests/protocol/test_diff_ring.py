"""protocol.diff: declared precision, commits, the ring of recent changes and the wire form.

``replayed`` applies a tick's delta (through msgpack, as a client gets it) to the state before
the change and checks the result is the tracker's state.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest
from delta_helpers import committed, replayed, unpack

from protocol.diff import (
    StateTracker,
    TrackedMap,
    _pack_changes,
    apply_delta,
    decode_state,
    state_hash,
)
from protocol.errors import LocalProtocolError, StateError
from protocol.schema import Float32, Quantized, Schema

# -- declared precision -------------------------------------------------------------------------

F32_TENTH = struct.unpack(">f", struct.pack(">f", 0.1))[0]


def test_a_quantised_field_is_stored_rounded_and_travels_as_an_integer() -> None:
    schema = Schema({"p.x": Quantized(1 / 16)})
    delta = replayed({"p": {"x": 0.0}}, lambda s: s["p"].__setitem__("x", 1.03), schema)
    assert delta == {"p": {"x": 16}}


def test_a_quantised_integer_is_stored_as_a_multiple_of_the_step() -> None:
    tracker = committed({"x": 3}, Schema({"x": Quantized(0.5)}))
    assert tracker.state["x"] == 3.0
    assert type(tracker.state["x"]) is float
    assert tracker.full_state() == {"x": 6}


def test_a_write_that_rounds_to_the_stored_value_marks_nothing() -> None:
    tracker = committed({"x": 1.0}, Schema({"x": Quantized(1 / 16)}))
    tracker.state["x"] = 1.01
    assert not tracker.changed


def test_a_float32_field_is_stored_as_the_nearest_float32() -> None:
    schema = Schema({"a": Float32()})
    delta = replayed({"a": 0.0}, lambda s: s.__setitem__("a", 0.1), schema)
    assert delta == {"a": F32_TENTH}
    assert F32_TENTH != 0.1


def test_a_float32_field_travels_in_five_bytes() -> None:
    tracker = StateTracker({"a": 0.0}, schema=Schema({"a": Float32()}))
    tracker.state["a"] = 0.5
    tracker.commit(1)
    assert tracker.encode_delta(0) == b"\x81\xa1a\xca\x3f\x00\x00\x00"


def test_an_undeclared_float_travels_as_float64_beside_float32_fields() -> None:
    tracker = committed({"a": 0.5, "b": 0.5, "c": "s"}, Schema({"a": Float32()}))
    assert tracker.encode_full() == (
        b"\x83\xa1a\xca\x3f\x00\x00\x00\xa1b\xcb\x3f\xe0\x00\x00\x00\x00\x00\x00\xa1c\xa1s"
    )


def test_declared_list_items_and_fields_of_list_items_travel_in_their_precision() -> None:
    schema = Schema({"l.*": Quantized(0.5), "m.*.x": Float32()})
    tracker = committed({"l": [1.0, "s", [2.0]], "m": [{"x": 0.1, "y": 0.1}, 2.0]}, schema)
    assert tracker.full_state() == {"l": [2, "s", [2.0]], "m": [{"x": F32_TENTH, "y": 0.1}, 2.0]}
    assert decode_state(unpack(tracker.encode_full()), schema) == tracker.snapshot()


def test_booleans_and_strings_in_declared_fields_travel_as_themselves() -> None:  # regression
    schema = Schema({"*": Quantized(1 / 16)})
    delta = replayed({"a": 1.0}, lambda s: s.update(a="far", b=True, c=None), schema)
    assert delta == {"a": "far", "b": True, "c": None}


def test_a_value_too_big_for_float32_raises_state_error() -> None:
    tracker = committed({}, Schema({"a": Float32()}))
    with pytest.raises(StateError, match=r"^value out of range for float32$"):
        tracker.state["a"] = 1e39


def test_a_value_too_big_for_its_quantised_step_raises_state_error() -> None:  # regression
    tracker = committed({}, Schema({"a": Quantized(1 / 16)}))
    with pytest.raises(StateError, match=r"^value out of range for its quantised step$"):
        tracker.state["a"] = 1e308
    with pytest.raises(StateError, match=r"^value out of range for its quantised step$"):
        tracker.state["a"] = 2.0**52


def test_precision_applies_to_list_items_set_and_appended() -> None:
    schema = Schema({"l.*": Quantized(0.5)})

    def mutate(state: TrackedMap) -> None:
        state["l"][0] = 0.9
        state["l"].append(1.2)

    assert replayed({"l": [0.0]}, mutate, schema) == {"l": [2, 2, {0: 2, 1: 2}]}


def test_a_replaced_declared_subtree_travels_in_its_precision() -> None:
    schema = Schema({"p.*.x": Quantized(0.25), "p.*.a": Float32()})
    delta = replayed({}, lambda s: s.__setitem__("p", {"me": {"x": 0.3, "a": 0.1}}), schema)
    assert delta == {"p": [1, {"me": {"x": 1, "a": F32_TENTH}}]}


def test_an_in_process_float32_delta_applies_without_msgpack() -> None:  # regression
    schema = Schema({"a": Float32()})
    tracker = committed({"a": 0.0, "l": []}, schema)
    tracker.state["a"] = 0.1
    tracker.state["l"] = [{"a": 0.1}]
    tracker.commit(2)
    state = decode_state(tracker.full_state(), schema)
    assert state == tracker.snapshot()
    older = {"a": 0.0, "l": []}
    apply_delta(older, tracker.delta(1), schema)
    assert older == state
    assert type(older["a"]) is float
    assert state_hash(older) == tracker.hash()


# -- commit, the ring and its floor ------------------------------------------------------------


def test_history_must_be_at_least_one() -> None:
    with pytest.raises(LocalProtocolError, match=r"^history must be at least 1$"):
        StateTracker(history=0)


def test_commit_ticks_must_increase() -> None:
    tracker = StateTracker(tick=5)
    with pytest.raises(LocalProtocolError, match=r"^commit ticks must increase$"):
        tracker.commit(5)
    tracker.commit(6)
    with pytest.raises(LocalProtocolError, match=r"^commit ticks must increase$"):
        tracker.commit(4)


@pytest.mark.parametrize(
    "encode",
    [
        StateTracker.full_state,
        StateTracker.encode_full,
        lambda t: t.delta(0),
        lambda t: t.encode_delta(0),
    ],
    ids=["full_state", "encode_full", "delta", "encode_delta"],
)
def test_encoding_with_uncommitted_changes_raises(encode: Callable[[StateTracker], Any]) -> None:
    tracker = committed({})
    tracker.state["a"] = 1
    with pytest.raises(LocalProtocolError, match=r"^commit the tick before encoding state$"):
        encode(tracker)


def test_changed_says_whether_anything_changed_since_the_last_commit() -> None:
    tracker = committed({})
    assert not tracker.changed
    tracker.state["a"] = 1
    assert tracker.changed
    tracker.commit(2)
    assert not tracker.changed


def test_the_ring_keeps_the_last_history_commits() -> None:
    tracker = StateTracker({"n": 0}, history=2, tick=10)
    assert (tracker.tick, tracker.floor) == (10, 10)
    for tick in (11, 12, 13):
        tracker.state["n"] = tick
        tracker.commit(tick)
    assert (tracker.tick, tracker.floor) == (13, 11)
    assert [tracker.has_baseline(tick) for tick in (10, 11, 12, 13, 14)] == [
        False,
        True,
        True,
        True,
        False,
    ]


def test_rebase_makes_the_current_state_the_committed_one_and_empties_the_ring() -> None:
    tracker = committed({"a": 1})
    tracker.state["a"] = 2
    tracker.rebase()
    assert not tracker.changed
    assert (tracker.tick, tracker.floor) == (1, 1)
    assert tracker.full_state() == {"a": 2}
    tracker.state["a"] = 3
    tracker.commit(2)
    assert tracker.delta(1) == {"a": 3}


def test_a_delta_from_a_baseline_that_fell_out_of_the_ring_is_none() -> None:
    tracker = StateTracker({"n": 0}, history=1)
    tracker.commit(1)
    tracker.commit(2)
    assert tracker.delta(0) is None
    assert tracker.encode_delta(0) is None
    assert tracker.delta(1) == {}


def test_a_delta_from_a_future_or_negative_baseline_is_none() -> None:
    tracker = committed({})
    assert tracker.delta(2) is None
    assert tracker.delta(-1) is None


def test_a_delta_from_the_current_tick_is_empty() -> None:
    tracker = committed({"a": 1})
    assert tracker.delta(1) == {}
    assert tracker.encode_delta(1) == b"\x80"


def test_a_delta_from_an_older_baseline_holds_every_change_since() -> None:
    tracker = committed({"a": 1, "b": 1, "p": {"x": 1}, "q": {"x": 1}})
    tracker.state["a"] = 2
    tracker.state["p"]["x"] = 2
    tracker.state["q"] = {"y": 1}
    tracker.commit(2)
    tracker.state["b"] = 2
    tracker.state["p"]["y"] = 2
    tracker.state["q"]["y"] = 2
    del tracker.state["a"]
    tracker.commit(3)
    assert tracker.delta(1) == {"a": [0], "p": {"x": 2, "y": 2}, "q": [1, {"y": 2}], "b": 2}
    assert tracker.delta(2) == {"b": 2, "p": {"y": 2}, "q": {"y": 2}, "a": [0]}


def test_list_edits_of_several_ticks_merge_into_one_edit() -> None:
    tracker = committed({"l": [{"a": 1}, {"a": 1}, 3, 4]})
    tracker.state["l"][0]["a"] = 2
    tracker.state["l"].pop()
    tracker.commit(2)
    tracker.state["l"][0]["b"] = 2
    tracker.state["l"][1]["a"] = 2
    tracker.commit(3)
    tracker.state["l"].append(5)
    tracker.commit(4)
    assert tracker.delta(1) == {"l": [2, 4, {0: {"a": 2, "b": 2}, 1: {"a": 2}, 3: 5}]}
    before = {"l": [{"a": 1}, {"a": 1}, 3, 4]}
    apply_delta(before, tracker.delta(1))
    assert before == tracker.snapshot()


def test_a_list_shrunk_in_one_tick_and_grown_in_the_next_resends_from_the_shortest() -> None:
    tracker = committed({"l": ["a", "b", "c", "d"]})
    tracker.state["l"].clear()
    tracker.state["l"].extend(["x", "y"])
    tracker.commit(2)
    tracker.state["l"].append("z")
    tracker.state["l"][0] = "w"
    tracker.commit(3)
    assert tracker.delta(1) == {"l": [2, 3, {0: "w", 1: "y", 2: "z"}]}
    assert tracker.delta(2) == {"l": [2, 3, {0: "w", 2: "z"}]}


def test_a_list_replaced_after_an_edit_is_sent_whole_from_before_both() -> None:
    tracker = committed({"l": [1]})
    tracker.state["l"].append(2)
    tracker.commit(2)
    tracker.state["l"] = [9]
    tracker.commit(3)
    tracker.state["l"].append(10)
    tracker.commit(4)
    assert tracker.delta(1) == {"l": [1, [9, 10]]}
    assert tracker.delta(3) == {"l": [2, 2, {1: 10}]}


def test_the_full_state_and_deltas_are_plain_copies() -> None:  # regression: were the live state
    tracker = committed({"p": {"x": 1}, "l": [[1]]})
    full = tracker.full_state()
    tracker.state["l"] = [[2]]
    tracker.commit(2)
    delta = tracker.delta(1)
    tracker.state["p"]["x"] = 3
    tracker.state["l"][0].append(3)
    tracker.commit(3)
    assert full == {"p": {"x": 1}, "l": [[1]]}
    assert type(full) is dict
    assert type(full["l"]) is list
    assert delta == {"l": [1, [[2]]]}
    assert type(delta["l"][1][0]) is list
    assert decode_state(full) == {"p": {"x": 1}, "l": [[1]]}


def test_the_snapshot_is_a_plain_deep_copy() -> None:
    tracker = committed({"p": {"l": [1]}})
    snapshot = tracker.snapshot()
    tracker.state["p"]["l"].append(2)
    assert snapshot == {"p": {"l": [1]}}
    assert type(snapshot["p"]) is dict
    assert type(snapshot["p"]["l"]) is list


# -- packed history and released nodes ----------------------------------------------------------

POSITION = Quantized(1 / 16, relative=True)
MOVING = Schema({"e.*.x": POSITION, "e.*.y": POSITION, "l.*.x": POSITION})


def _moving_tracker() -> StateTracker:
    entities = {"a": {"x": 1.0, "y": 2.0}, "b": {"x": 3.0, "y": 4.0}}
    return StateTracker({"e": entities, "l": [{"x": 0.0}, {"x": 1.0}]}, schema=MOVING, history=4)


def _play(tracker: StateTracker, tick: int) -> None:
    state = tracker.state
    state["e"]["a"]["x"] += 1.5  # relative: the ring keeps the number at the baseline
    if "b" in state["e"]:
        state["e"]["b"]["y"] -= 0.25
    state["l"][tick % 2]["x"] += 2.0
    if tick == 3:
        state["l"].append({"x": 9.0})  # the list grows: its tail travels whole
        state["e"]["c"] = {"x": 5.0, "y": 5.0}
    if tick == 4:
        del state["e"]["b"]
        state["l"].pop()
    tracker.commit(tick)


def test_compact_packs_each_tick_once_and_every_delta_stays_the_same() -> None:
    tracker = _moving_tracker()
    for tick in range(1, 6):
        _play(tracker, tick)
        baselines = range(tracker.floor, tracker.tick + 1)
        before = {baseline: tracker.encode_delta(baseline) for baseline in baselines}
        tracker.compact(tracker.tick)
        assert all(type(changes) is bytes for _, changes in tracker._ring)
        assert {baseline: tracker.encode_delta(baseline) for baseline in baselines} == before
    packed = list(tracker._ring)
    tracker.compact(tracker.tick)  # nothing new: the packed entries are left as they are
    assert all(now[1] is then[1] for now, then in zip(tracker._ring, packed, strict=True))


def test_compact_packs_only_the_ticks_up_to_through() -> None:
    tracker = _moving_tracker()
    for tick in range(1, 4):
        _play(tracker, tick)
    tracker.compact(2)
    assert [type(changes) for _, changes in tracker._ring] == [bytes, bytes, dict]
    tracker.compact(0)  # nothing that old is left unpacked
    assert type(tracker._ring[-1][1]) is dict


def test_a_delta_merges_packed_and_unpacked_ticks() -> None:
    tracker = _moving_tracker()
    twin = _moving_tracker()
    for tick in range(1, 5):
        _play(tracker, tick)
        _play(twin, tick)
        if tick % 2:
            tracker.compact(tick)  # ticks 1 and 3 packed, 2 and 4 not
    for baseline in range(twin.floor, twin.tick + 1):
        assert tracker.encode_delta(baseline) == twin.encode_delta(baseline)
        assert tracker.delta(baseline) == twin.delta(baseline)


def _played_twins(ticks: int) -> tuple[StateTracker, StateTracker]:
    """Two moving trackers that played ticks 1 to ``ticks`` alike."""
    tracker, twin = _moving_tracker(), _moving_tracker()
    for tick in range(1, ticks + 1):
        _play(tracker, tick)
        _play(twin, tick)
    return tracker, twin


def test_release_forgets_the_ticks_through_its_argument_and_keeps_the_deltas_after() -> None:
    tracker, twin = _played_twins(4)
    tracker.compact(2)  # packed or not, a released tick goes
    tracker.release(2)
    assert [tick for tick, _ in tracker._ring] == [3, 4]
    assert tracker.floor == 2
    assert [tracker.has_baseline(tick) for tick in range(6)] == [
        False,
        False,
        True,
        True,
        True,
        False,
    ]
    assert tracker.delta(1) is None
    for baseline in (2, 3, 4):
        assert tracker.encode_delta(baseline) == twin.encode_delta(baseline)


def test_release_of_an_older_or_the_current_tick() -> None:
    tracker, twin = _played_twins(3)
    tracker.release(-1)  # older than the ring: nothing goes
    assert (len(tracker._ring), tracker.floor) == (3, 0)
    tracker.release(tracker.tick)  # everyone is on the newest tick: nothing is needed
    assert (len(tracker._ring), tracker.floor) == (0, 3)
    assert tracker.delta(3) == {}
    _play(tracker, 4)
    _play(twin, 4)
    assert tracker.encode_delta(3) == twin.encode_delta(3) != b"\x80"
    assert tracker.delta(2) is None


def test_commit_and_rebase_let_go_of_the_nodes_the_containers_cached() -> None:
    tracker = _moving_tracker()
    entity, item = tracker.state["e"]["a"], tracker.state["l"][0]
    entity["x"] = 7.0
    item["x"] = 7.0
    assert entity._dnode is not None
    assert tracker.state["l"]._dnode is not None
    assert {id(container) for container in tracker._cached} >= {id(entity), id(item)}
    tracker.commit(1)
    assert tracker._cached == []
    for container in (tracker.state, tracker.state["e"], entity, tracker.state["l"], item):
        assert (container._dnode, container._dgen) == (None, -1)
    entity["y"] = 8.0  # found again on the next write
    assert entity._dnode == {"y": 2.0}
    tracker.rebase()
    assert tracker._cached == []
    assert (entity._dnode, entity._dgen) == (None, -1)


def test_a_change_tree_packs_only_dirty_nodes() -> None:
    with pytest.raises(TypeError, match="not a dirty node"):
        _pack_changes({"a": object()})
