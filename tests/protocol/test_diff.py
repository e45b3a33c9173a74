"""protocol.diff, the sending side: tracked maps and lists record every change game code makes.

Most tests mutate a tracker's state, commit, and check the delta the tracker sends; ``replayed``
also applies that delta (through msgpack, as a client gets it) to the state before the change
and checks the result is the tracker's state, so every shape asserted here is also proved right.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from delta_helpers import committed, replayed

from protocol.diff import (
    StateTracker,
    TrackedList,
    TrackedMap,
)
from protocol.errors import StateError

# -- map mutators ---------------------------------------------------------------------------------


def test_setting_a_new_key_sends_its_value() -> None:
    assert replayed({}, lambda s: s.__setitem__("hp", 3)) == {"hp": 3}


def test_changing_a_number_sends_the_new_number() -> None:
    assert replayed({"hp": 3}, lambda s: s.__setitem__("hp", 2.5)) == {"hp": 2.5}


def test_changing_a_string_sends_the_new_string() -> None:
    assert replayed({"name": "a"}, lambda s: s.__setitem__("name", "b")) == {"name": "b"}


def test_setting_a_key_in_a_nested_map_sends_a_nested_delta() -> None:
    delta = replayed({"p": {"a": {"hp": 1}}}, lambda s: s["p"]["a"].__setitem__("hp", 0))
    assert delta == {"p": {"a": {"hp": 0}}}


def test_deleting_a_key_sends_the_delete_operation() -> None:
    def mutate(state: TrackedMap) -> None:
        del state["hp"]

    assert replayed({"hp": 3, "x": 1}, mutate) == {"hp": [0]}


def test_deleting_a_missing_key_raises_key_error() -> None:
    tracker = committed({})
    with pytest.raises(KeyError):
        del tracker.state["nope"]
    assert not tracker.changed


def test_pop_returns_the_value_and_deletes_the_key() -> None:
    popped: list[Any] = []
    delta = replayed({"p": {"x": 1}}, lambda s: popped.append(s.pop("p")))
    assert delta == {"p": [0]}
    assert popped == [{"x": 1}]


def test_pop_of_a_missing_key_returns_the_default_and_changes_nothing() -> None:
    tracker = committed({"a": 1})
    assert tracker.state.pop("b", 7) == 7
    assert not tracker.changed


def test_pop_of_a_missing_key_without_default_raises_key_error() -> None:
    with pytest.raises(KeyError, match="'b'"):
        committed({}).state.pop("b")


def test_popitem_removes_the_last_inserted_key() -> None:
    popped: list[Any] = []
    delta = replayed({"a": 1, "b": 2}, lambda s: popped.append(s.popitem()))
    assert delta == {"b": [0]}
    assert popped == [("b", 2)]


def test_popitem_of_an_empty_map_raises_key_error() -> None:  # regression: was StopIteration
    with pytest.raises(KeyError) as raised:
        committed({}).state.popitem()
    assert raised.value.args == ("popitem(): dictionary is empty",)


def test_clear_deletes_every_key() -> None:
    assert replayed({"a": 1, "b": {}}, lambda s: s.clear()) == {"a": [0], "b": [0]}


def test_setdefault_sets_a_missing_key_and_returns_the_tracked_copy() -> None:
    stored: list[Any] = []
    delta = replayed({}, lambda s: stored.append(s.setdefault("p", {"x": 1})))
    assert delta == {"p": [1, {"x": 1}]}
    assert type(stored[0]) is TrackedMap


def test_setdefault_of_a_present_key_returns_it_and_changes_nothing() -> None:
    tracker = committed({"a": 1})
    assert tracker.state.setdefault("a", 2) == 1
    assert not tracker.changed


def test_update_sets_every_key_given_positionally_and_by_name() -> None:
    assert replayed({"a": 1}, lambda s: s.update({"a": 2}, b=3)) == {"a": 2, "b": 3}


def test_in_place_or_sets_every_key_and_keeps_the_map() -> None:
    def mutate(state: TrackedMap) -> None:
        inner = state["p"]
        inner |= {"x": 1}
        assert state["p"] is inner

    assert replayed({"p": {}}, mutate) == {"p": {"x": 1}}


def test_put_returns_the_tracked_copy_whose_later_edits_travel() -> None:
    tracker = committed({})
    player = tracker.state.put("p", {"x": 1})
    assert type(player) is TrackedMap
    tracker.commit(2)
    player["x"] = 2
    tracker.commit(3)
    assert tracker.delta(2) == {"p": {"x": 2}}


def test_replacing_a_map_sends_the_whole_new_map() -> None:
    delta = replayed({"p": {"x": 1, "y": 2}}, lambda s: s.__setitem__("p", {"z": 3}))
    assert delta == {"p": [1, {"z": 3}]}


def test_replacing_a_list_sends_the_whole_new_list() -> None:
    assert replayed({"l": [1, 2]}, lambda s: s.__setitem__("l", [3])) == {"l": [1, [3]]}


def test_edits_inside_a_map_replaced_in_the_same_tick_travel_with_it() -> None:
    def mutate(state: TrackedMap) -> None:
        state["p"] = {"x": 1}
        state["p"]["y"] = 2

    assert replayed({"p": {}}, mutate) == {"p": [1, {"x": 1, "y": 2}]}


def test_edits_inside_a_list_replaced_in_the_same_tick_travel_with_it() -> None:
    def mutate(state: TrackedMap) -> None:
        state["l"] = [1, 2]
        state["l"][0] = 5
        state["l"].pop()

    assert replayed({"l": []}, mutate) == {"l": [1, [5]]}


def test_a_number_replacing_a_map_is_sent_as_the_number() -> None:
    assert replayed({"p": {"x": 1}}, lambda s: s.__setitem__("p", 4)) == {"p": 4}


def test_a_tuple_is_stored_as_a_tracked_list() -> None:
    tracker = committed({"t": (1, 2)})
    assert type(tracker.state["t"]) is TrackedList
    assert tracker.state["t"] == [1, 2]


# -- list mutators --------------------------------------------------------------------------------


def test_setting_a_list_item_sends_a_list_edit_of_that_index() -> None:
    delta = replayed({"l": [1, 2, 3]}, lambda s: s["l"].__setitem__(1, 9))
    assert delta == {"l": [2, 3, {1: 9}]}


def test_setting_a_list_item_by_negative_index_edits_that_item() -> None:
    delta = replayed({"l": [1, 2, 3]}, lambda s: s["l"].__setitem__(-1, 9))
    assert delta == {"l": [2, 3, {2: 9}]}


def test_setting_a_list_item_out_of_range_raises_index_error() -> None:
    with pytest.raises(IndexError):
        committed({"l": [1]}).state["l"][3] = 0


def test_setting_a_slice_resends_the_whole_list() -> None:
    delta = replayed({"l": [1, 2, 3]}, lambda s: s["l"].__setitem__(slice(0, 2), [7]))
    assert delta == {"l": [1, [7, 3]]}


def test_deleting_the_last_item_shrinks_the_list() -> None:
    def mutate(state: TrackedMap) -> None:
        del state["l"][-1]

    assert replayed({"l": [1, 2, 3]}, mutate) == {"l": [2, 2, {}]}


def test_deleting_a_middle_item_resends_the_whole_list() -> None:
    def mutate(state: TrackedMap) -> None:
        del state["l"][0]

    assert replayed({"l": [{"a": 1}, 2, 3]}, mutate) == {"l": [1, [2, 3]]}


def test_deleting_a_slice_resends_the_whole_list() -> None:
    def mutate(state: TrackedMap) -> None:
        del state["l"][1:]

    assert replayed({"l": [1, {"a": 1}, 3]}, mutate) == {"l": [1, [1]]}


def test_append_sends_only_the_new_item() -> None:
    delta = replayed({"l": [1, 2, 3]}, lambda s: s["l"].append({"a": 4}))
    assert delta == {"l": [2, 4, {3: [1, {"a": 4}]}]}


def test_extend_sends_only_the_new_items() -> None:
    delta = replayed({"l": [1]}, lambda s: s["l"].extend(iter([2, 3])))
    assert delta == {"l": [2, 3, {1: 2, 2: 3}]}


def at_most(items: list[Any], limit: int) -> Iterator[Any]:
    """``items``, one by one, failing once more than ``limit`` are read (not looping forever)."""
    for count, item in enumerate(items):
        assert count < limit, "read the items it appended"
        yield item


def test_extend_reads_all_its_values_before_appending() -> None:  # regression: looped forever
    tracker = committed({"l": [1, {"a": 2}]})
    items = tracker.state["l"]
    items.extend(at_most(items, 2))
    items += at_most(items, 4)
    assert tracker.state["l"] == [1, {"a": 2}] * 4


def test_in_place_add_appends_and_keeps_the_list() -> None:
    def mutate(state: TrackedMap) -> None:
        items = state["l"]
        items += [2]
        assert state["l"] is items

    assert replayed({"l": [1]}, mutate) == {"l": [2, 2, {1: 2}]}


def test_in_place_multiply_repeats_copies_and_resends_the_list() -> None:
    def mutate(state: TrackedMap) -> None:
        items = state["l"]
        items *= 2
        items[1]["a"] = 5
        assert state["l"] is items

    assert replayed({"l": [{"a": 1}]}, mutate) == {"l": [1, [{"a": 1}, {"a": 5}]]}


def test_insert_at_the_end_is_an_append() -> None:
    assert replayed({"l": [1]}, lambda s: s["l"].insert(5, 2)) == {"l": [2, 2, {1: 2}]}


def test_insert_in_the_middle_resends_the_whole_list() -> None:
    assert replayed({"l": [1, 3]}, lambda s: s["l"].insert(1, 2)) == {"l": [1, [1, 2, 3]]}


def test_insert_at_a_negative_index_inserts_before_that_item() -> None:
    assert replayed({"l": [1, 3]}, lambda s: s["l"].insert(-1, 2)) == {"l": [1, [1, 2, 3]]}


def test_insert_far_below_zero_inserts_at_the_start() -> None:
    assert replayed({"l": [1]}, lambda s: s["l"].insert(-9, 0)) == {"l": [1, [0, 1]]}


def test_pop_at_the_end_shrinks_the_list() -> None:
    popped: list[Any] = []
    delta = replayed({"l": [1, {"a": 2}]}, lambda s: popped.append(s["l"].pop()))
    assert delta == {"l": [2, 1, {}]}
    assert popped == [{"a": 2}]


def test_pop_in_the_middle_resends_the_whole_list() -> None:
    popped: list[Any] = []
    delta = replayed({"l": [{"a": 1}, 2]}, lambda s: popped.append(s["l"].pop(0)))
    assert delta == {"l": [1, [2]]}
    assert popped == [{"a": 1}]


def test_pop_of_an_empty_list_raises_index_error() -> None:
    with pytest.raises(IndexError):
        committed({"l": []}).state["l"].pop()


def test_remove_of_the_last_item_shrinks_the_list() -> None:
    assert replayed({"l": [1, 2]}, lambda s: s["l"].remove(2)) == {"l": [2, 1, {}]}


def test_remove_of_an_earlier_item_resends_the_whole_list() -> None:
    assert replayed({"l": [2, 1, 2]}, lambda s: s["l"].remove(2)) == {"l": [1, [1, 2]]}


def test_clear_empties_the_list_with_a_list_edit() -> None:
    assert replayed({"l": [1, {"a": 1}]}, lambda s: s["l"].clear()) == {"l": [2, 0, {}]}


def test_sort_resends_the_whole_list() -> None:
    delta = replayed({"l": [3, 1, 2]}, lambda s: s["l"].sort(reverse=True))
    assert delta == {"l": [1, [3, 2, 1]]}


def test_reverse_resends_the_whole_list() -> None:
    delta = replayed({"l": [[1], {"a": 2}]}, lambda s: s["l"].reverse())
    assert delta == {"l": [1, [{"a": 2}, [1]]]}


def test_editing_a_map_inside_a_list_sends_a_nested_delta_at_its_index() -> None:
    delta = replayed({"l": [{"hp": 1}, {"hp": 1}]}, lambda s: s["l"][1].__setitem__("hp", 0))
    assert delta == {"l": [2, 2, {1: {"hp": 0}}]}


def test_editing_a_list_inside_a_list_sends_a_nested_list_edit() -> None:
    delta = replayed({"l": [[1]]}, lambda s: s["l"][0].append(2))
    assert delta == {"l": [2, 1, {0: [2, 2, {1: 2}]}]}


def test_items_moved_by_a_restructure_keep_tracking_at_their_new_index() -> None:
    tracker = committed({"l": [{"a": 1}, {"a": 2}]})
    tracker.state["l"].reverse()
    tracker.commit(2)
    tracker.state["l"][0]["a"] = 9
    tracker.commit(3)
    assert tracker.delta(2) == {"l": [2, 2, {0: {"a": 9}}]}


def test_an_item_appended_after_a_pop_travels_whole() -> None:
    def mutate(state: TrackedMap) -> None:
        state["l"].pop()
        state["l"].append({"a": 1})
        state["l"][1]["b"] = 2

    assert replayed({"l": [1, {"a": 0}]}, mutate) == {"l": [2, 2, {1: [1, {"a": 1, "b": 2}]}]}


# -- stale dirty nodes (regressions: these raised TypeError) ----------------------------------


def test_a_list_restructured_after_an_item_edit_can_edit_the_new_item_there() -> None:
    def mutate(state: TrackedMap) -> None:
        state["l"][0].append(2)
        state["l"].reverse()
        state["l"][0]["k"] = 1

    assert replayed({"l": [[1], {"a": 1}]}, mutate) == {"l": [1, [{"a": 1, "k": 1}, [1, 2]]]}


def test_a_list_cleared_after_an_item_edit_can_edit_a_new_item_there() -> None:
    def mutate(state: TrackedMap) -> None:
        state["l"][0].append(2)
        state["l"].clear()
        state["l"].append({})
        state["l"][0]["k"] = 1

    assert replayed({"l": [[1]]}, mutate) == {"l": [2, 1, {0: [1, {"k": 1}]}]}


def test_a_delta_over_ticks_that_refilled_a_list_sends_the_new_items_whole() -> None:
    tracker = committed({"l": [[1]]})
    tracker.state["l"][0].append(2)
    tracker.state["l"].clear()
    tracker.state["l"].append({"k": 0})
    tracker.commit(2)
    tracker.state["l"][0]["k"] = 1
    tracker.commit(3)
    assert tracker.delta(1) == {"l": [2, 1, {0: [1, {"k": 1}]}]}
    assert tracker.delta(2) == {"l": [2, 1, {0: {"k": 1}}]}


# -- detached containers ------------------------------------------------------------------------


def test_a_deleted_map_no_longer_marks_anything() -> None:
    tracker = committed({"p": {"x": 1}})
    removed = tracker.state["p"]
    del tracker.state["p"]
    tracker.commit(2)
    removed["x"] = 2
    del removed["x"]
    assert not tracker.changed


def test_a_replaced_list_no_longer_marks_anything() -> None:
    tracker = committed({"l": [1]})
    removed = tracker.state["l"]
    tracker.state["l"] = []
    tracker.commit(2)
    removed.append(2)
    removed[0] = 5
    removed.clear()
    removed.extend([1, 2])
    removed.reverse()
    assert not tracker.changed


def test_the_children_of_a_removed_map_no_longer_mark_anything() -> None:
    tracker = committed({"p": {"q": {"x": 1}}})
    grandchild = tracker.state["p"]["q"]
    tracker.state["p"] = 0
    tracker.commit(2)
    grandchild["x"] = 2
    assert not tracker.changed


def test_a_popped_list_item_no_longer_marks_anything() -> None:
    tracker = committed({"l": [{"a": 1}, {"a": 2}, {"a": 3}]})
    last = tracker.state["l"].pop()
    middle = tracker.state["l"].pop(0)
    tracker.commit(2)
    last["a"] = 0
    middle["a"] = 0
    assert not tracker.changed


def test_items_of_a_cleared_list_no_longer_mark_anything() -> None:
    tracker = committed({"l": [{"a": 1}], "m": {"p": {"a": 1}}})
    item, entry = tracker.state["l"][0], tracker.state["m"]["p"]
    tracker.state["l"].clear()
    tracker.state["m"].clear()
    tracker.commit(2)
    item["a"] = 2
    entry["a"] = 2
    assert not tracker.changed


def test_items_replaced_in_a_list_no_longer_mark_anything() -> None:
    tracker = committed({"l": [{"a": 1}, {"a": 2}, [3]]})
    first, second, third = tracker.state["l"]
    tracker.state["l"][0] = 0
    tracker.state["l"][1:2] = [0]
    del tracker.state["l"][1:]
    tracker.commit(2)
    first["a"] = second["a"] = 9
    third.append(4)
    assert not tracker.changed


def test_a_failed_extended_slice_assignment_keeps_the_items_tracked() -> None:  # regression
    tracker = committed({"l": [{"a": 1}, 2, {"a": 3}]})
    kept = tracker.state["l"][0]
    with pytest.raises(ValueError, match="extended slice of size 2"):
        tracker.state["l"][::2] = [0]
    tracker.commit(2)
    kept["a"] = 5
    tracker.commit(3)
    assert tracker.delta(2) == {"l": [2, 3, {0: {"a": 5}}]}


# -- assignment copies -----------------------------------------------------------------------


def test_assigning_a_dict_stores_a_copy() -> None:
    tracker = committed({})
    original = {"x": 1, "inner": {"y": 2}}
    tracker.state["p"] = original
    original["x"] = 5
    original["inner"]["y"] = 5  # type: ignore[index]
    assert tracker.state["p"] == {"x": 1, "inner": {"y": 2}}
    assert tracker.state["p"] is not original


def test_assigning_a_list_stores_a_copy() -> None:
    tracker = committed({})
    original = [1, [2]]
    tracker.state["l"] = original
    original.append(3)
    assert tracker.state["l"] == [1, [2]]


def test_assigning_a_tracked_subtree_elsewhere_copies_it() -> None:
    tracker = committed({"a": {"x": 1}})
    tracker.state["b"] = tracker.state["a"]
    tracker.state["b"]["x"] = 2
    assert tracker.state["a"] == {"x": 1}


def test_assigning_a_map_to_its_own_key_keeps_tracking_the_copy() -> None:
    def mutate(state: TrackedMap) -> None:
        state["a"] = state["a"]
        state["a"]["x"] = 2

    assert replayed({"a": {"x": 1}}, mutate) == {"a": [1, {"x": 2}]}


# -- equal-value writes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [3, 2.5, None, True, "text", "".join(["te", "xt"])],
    ids=["int", "float", "none", "bool", "str", "equal-str"],
)
def test_writing_the_value_a_key_already_holds_marks_nothing(value: Any) -> None:
    tracker = committed({"k": copy.copy(value) if value != "text" else "text"})
    tracker.state["k"] = value
    assert not tracker.changed


def test_writing_an_equal_number_of_another_type_is_a_change() -> None:
    assert replayed({"k": 1}, lambda s: s.__setitem__("k", 1.0)) == {"k": 1.0}


def test_writing_an_equal_list_item_marks_nothing() -> None:
    tracker = committed({"l": [1, "a"]})
    tracker.state["l"][0] = 1
    tracker.state["l"][1] = "".join(["a"])
    assert not tracker.changed


def test_writing_an_equal_map_resends_it() -> None:
    assert replayed({"p": {"x": 1}}, lambda s: s.__setitem__("p", {"x": 1})) == {"p": [1, {"x": 1}]}


def test_a_tick_without_changes_commits_an_empty_delta() -> None:
    tracker = committed({"a": 1})
    tracker.commit(2)
    assert tracker.delta(1) == {}
    assert tracker.encode_delta(1) == b"\x80"


# -- values state cannot hold -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"raw", "state cannot hold a bytes"),
        (object(), "state cannot hold a object"),
        ({1, 2}, "state cannot hold a set"),
        (float("nan"), "state numbers must be finite"),
        (float("inf"), "state numbers must be finite"),
        (-float("inf"), "state numbers must be finite"),
        (2**53, "state integers must lie within 2**53-1"),
        (-(2**53), "state integers must lie within 2**53-1"),
        ({"a": {1: 2}}, "state map keys must be strings"),
        ([{"a": float("nan")}], "state numbers must be finite"),
        ([2**60], "state integers must lie within 2**53-1"),
    ],
)
def test_values_state_cannot_hold_raise_state_error(value: Any, message: str) -> None:
    tracker = committed({})
    with pytest.raises(StateError) as raised:
        tracker.state["k"] = value
    assert str(raised.value) == message
    assert "k" not in tracker.state
    assert not tracker.changed


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), "state numbers must be finite"),
        (2**53, "state integers must lie within 2**53-1"),
        (b"x", "state cannot hold a bytes"),
    ],
)
def test_list_items_state_cannot_hold_raise_state_error(value: Any, message: str) -> None:
    tracker = committed({"l": [0]})
    with pytest.raises(StateError) as raised:
        tracker.state["l"].append(value)
    assert str(raised.value) == message
    with pytest.raises(StateError):
        tracker.state["l"][0] = value
    assert tracker.state["l"] == [0]


def test_a_non_string_key_raises_state_error() -> None:
    tracker = committed({})
    with pytest.raises(StateError, match=r"^state map keys must be strings$"):
        tracker.state[1] = 2  # type: ignore[arg-type]


def test_a_non_string_key_in_the_initial_state_raises_state_error() -> None:
    with pytest.raises(StateError, match=r"^state map keys must be strings$"):
        StateTracker({1: 2})  # type: ignore[dict-item]


def test_state_error_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        committed({}).state["k"] = b"x"


def test_a_container_finds_its_dirty_node_once_per_tick() -> None:
    tracker = StateTracker({"players": {"a": {"x": 1}}})
    body = tracker.state["players"]["a"]
    body["x"] = 2
    node = body._dirty_node()
    assert node is body._dirty_node()  # cached for the rest of the tick
    assert node == {"x": True}
    tracker.commit(1)
    body["x"] = 3
    assert body._dirty_node() is not node  # a new tick, a new node
