"""protocol.diff, the sending side of groups: maps that changed the same keys travel as one group.

Every case goes through ``replayed``, which also applies the delta to the state before the change
and checks it rebuilds the tracker's state (docs/protocol.md, "Groups").
"""

from __future__ import annotations

from delta_helpers import replayed

from protocol.diff import TrackedMap
from protocol.schema import Float32, Quantized, Schema


def test_the_tracker_groups_entities_that_changed_the_same_fields() -> None:
    def mutate(state: TrackedMap) -> None:
        for key in "ab":
            state["p"][key]["x"] = 1
            state["p"][key]["y"] = 2
        state["p"]["c"]["hp"] = 0
        state["l"][0]["x"] = 5
        state["l"][2]["x"] = 6

    initial = {"p": {k: {"x": 0, "y": 0, "hp": 1} for k in "abc"}, "l": [{"x": 0}] * 3}
    assert replayed(initial, mutate) == {
        "p": [3, {"c": {"hp": 0}}, [["x", "y"], "a", 1, 2, "b", 1, 2]],
        "l": [2, 3, {}, [["x"], 0, 5, 2, 6]],
    }


def test_grouped_numbers_travel_in_each_field_s_declared_precision() -> None:
    def mutate(state: TrackedMap) -> None:
        for key, value in (("a", 1.5), ("b", 2.5)):
            entity = state["p"][key]
            entity["q"], entity["f"], entity["n"] = value, value, value
            entity["r"], entity["s"] = value * 2, key + "!"

    schema = Schema({"p.*.q": Quantized(0.5), "p.*.f": Float32(), "p.*.r": Quantized(1, True)})
    initial = {"p": {k: {"q": 0.0, "f": 0.0, "n": 0, "r": 0, "s": "a"} for k in "ab"}}
    assert replayed(initial, mutate, schema) == {
        "p": [
            3,
            {},
            [["q", "f", "n", "r", "s"], "a", 3, 1.5, 1.5, 3, "a!", "b", 5, 2.5, 2.5, 5, "b!"],
        ]
    }


def test_a_grouped_relative_field_without_a_number_at_the_baseline_travels_whole() -> None:
    def mutate(state: TrackedMap) -> None:
        state["p"]["a"]["x"] = 1.0
        state["p"]["b"]["x"] = 2.0

    schema = Schema({"p.*.x": Quantized(1 / 16, relative=True)})
    initial = {"p": {"a": {"x": None}, "b": {"x": None}}}
    assert replayed(initial, mutate, schema) == {"p": [3, {}, [["x"], "a", [1, 16], "b", [1, 32]]]}


def test_maps_with_their_own_patterns_are_grouped_each_in_its_precision() -> None:
    def mutate(state: TrackedMap) -> None:
        state["p"]["a"]["x"] = 0.5
        state["p"]["b"]["x"] = 0.5

    schema = Schema({"p.*.x": Quantized(1 / 16), "p.a.x": Float32()})
    initial = {"p": {"a": {"x": 0.0}, "b": {"x": 0.0}}}
    assert replayed(initial, mutate, schema) == {"p": [3, {}, [["x"], "a", 0.5, "b", 8]]}


def test_groups_hold_any_entry_and_nest() -> None:
    def mutate(state: TrackedMap) -> None:
        for key in "ab":
            entity = state["p"][key]
            del entity["gone"]
            entity["log"].append(key)
            entity["in"]["u"]["v"] = 1
            entity["in"]["w"]["v"] = 2

    initial = {"p": {k: {"gone": 1, "log": [], "in": {"u": {"v": 0}, "w": {"v": 0}}} for k in "ab"}}
    inner = [3, {}, [["v"], "u", 1, "w", 2]]
    a_entries = ["a", [0], [2, 1, {0: "a"}], inner]
    b_entries = ["b", [0], [2, 1, {0: "b"}], inner]
    assert replayed(initial, mutate) == {
        "p": [3, {}, [["gone", "log", "in"], *a_entries, *b_entries]]
    }


def test_entities_changing_a_key_named_proto_are_not_grouped() -> None:
    def mutate(state: TrackedMap) -> None:
        state["p"]["a"]["__proto__"] = 1
        state["p"]["b"]["__proto__"] = 2

    initial = {"p": {"a": {"__proto__": 0}, "b": {"__proto__": 0}}}
    assert replayed(initial, mutate) == {"p": {"a": {"__proto__": 1}, "b": {"__proto__": 2}}}


def test_a_lone_entity_change_is_not_grouped() -> None:
    def mutate(state: TrackedMap) -> None:
        state["p"]["a"]["x"] = 1
        state["p"]["b"]["y"] = 1

    initial = {"p": {"a": {"x": 0}, "b": {"y": 0}}}
    assert replayed(initial, mutate) == {"p": {"a": {"x": 1}, "b": {"y": 1}}}
