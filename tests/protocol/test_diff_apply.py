"""protocol.diff, the receiving side: applying deltas, decoding full states, the state hash."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import msgpack
import pytest

from protocol.diff import (
    MAX_SAFE_INT,
    Path,
    StateTracker,
    apply_delta,
    decode_state,
    iter_paths,
    state_hash,
    to_plain,
)
from protocol.errors import PatchError
from protocol.schema import Float32, Quantized, Schema


def unpack(body: bytes | None) -> Any:
    assert body is not None
    return msgpack.unpackb(body, raw=False, strict_map_key=False)


def committed(initial: dict[str, Any], schema: Schema | None = None) -> StateTracker:
    tracker = StateTracker(initial, schema=schema)
    tracker.commit(1)
    return tracker


# -- applying deltas ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "delta", "message"),
    [
        # Deltas a JavaScript receiver cannot see as such (its decoder turns integer and boolean
        # map keys into strings, and 0.0 into 0); every other refusal is a shared vector in
        # tests/vectors/delta_refusals.json (tests/protocol/test_delta_refusals.py).
        ({}, [1], "a delta must be a map"),
        ({"a": 1}, {1: 2}, "state map keys must be strings"),
        ({"a": 1}, {"a": [0.0]}, "unknown delta operation"),
        ({"l": [1]}, {"l": [2, 1, {"0": 1}]}, "list delta index out of range"),
        ({"l": [1]}, {"l": [2, 1, {False: 1}]}, "list delta index out of range"),
        ({}, {"a": [1, {1: 1}]}, "state map keys must be strings"),
        ({}, {"a": msgpack.Timestamp(0)}, "state cannot hold a Timestamp"),
        ({}, {"a": msgpack.ExtType(1, b"")}, "state cannot hold a ExtType"),
        ({}, {"a": [1, {"b": (1,)}]}, "state cannot hold a tuple"),
    ],
)
def test_deltas_that_do_not_fit_raise_patch_error(
    state: dict[str, Any], delta: Any, message: str
) -> None:
    with pytest.raises(PatchError) as raised:
        apply_delta(state, delta)
    assert raised.value.message == message


def test_groups_apply_the_same_fields_to_each_key_and_report_each_path() -> None:
    schema = Schema({"p.*.x": Quantized(1 / 16, relative=True), "l.*.x": Quantized(1 / 16)})
    state: dict[str, Any] = {
        "p": {"a": {"x": 1.0, "hp": 3}, "b": {"x": 2.0, "hp": 3}, "c": {"x": 0.0}},
        "l": [{"x": 0.0, "tag": "a"}, {"x": 0.0, "tag": "b"}],
    }
    delta = {
        "p": [3, {"c": [0]}, [["x", "hp"], "a", 16, 2, "b", -8, [0]]],
        "l": [2, 2, {}, [["x", "tag"], 0, 32, "c", 1, 48, "d"]],
    }
    changes: list[Any] = []
    apply_delta(state, delta, schema, changes)
    assert state == {
        "p": {"a": {"x": 2.0, "hp": 2}, "b": {"x": 1.5}},
        "l": [{"x": 2.0, "tag": "c"}, {"x": 3.0, "tag": "d"}],
    }
    assert changes == [
        ("p", "c"),
        ("p", "a", "x"),
        ("p", "a", "hp"),
        ("p", "b", "x"),
        ("p", "b", "hp"),
        ("l", 0, "x"),
        ("l", 0, "tag"),
        ("l", 1, "x"),
        ("l", 1, "tag"),
    ]


def test_applying_a_delta_to_a_non_map_raises_patch_error() -> None:
    with pytest.raises(PatchError, match=r"^a map delta needs a map$"):
        apply_delta([], {})  # type: ignore[arg-type]


def nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def test_a_delta_nested_too_deeply_raises_patch_error() -> None:
    apply_delta(nested(70, 1), nested(65, 2))
    with pytest.raises(PatchError, match=r"^delta is nested too deeply$"):
        apply_delta(nested(70, 1), nested(66, 2))


def test_a_replaced_value_nested_too_deeply_raises_patch_error() -> None:
    with pytest.raises(PatchError, match=r"^state is nested too deeply$"):
        apply_delta({}, {"a": [1, nested(70, 1)]})


def test_a_quantised_field_that_is_not_an_integer_raises_patch_error() -> None:
    schema = Schema({"x": Quantized(0.5)})
    with pytest.raises(PatchError, match=r"^a quantised field must travel as an integer$"):
        apply_delta({}, {"x": 1.5}, schema)


def test_applying_sets_scalars_deletes_keys_and_replaces_containers() -> None:
    state: dict[str, Any] = {"a": 1, "b": 2, "m": {"x": 1}}
    apply_delta(state, {"a": 5, "b": [0], "m": [1, {"y": [1]}], "gone": [0]})
    assert state == {"a": 5, "m": {"y": [1]}}


def test_a_list_edit_resizes_then_sets_its_entries() -> None:
    state: dict[str, Any] = {"l": [1, [1], {"a": 1}, 4]}
    apply_delta(state, {"l": [2, 3, {1: [2, 2, {1: 2}]}]})
    assert state == {"l": [1, [1, 2], {"a": 1}]}
    apply_delta(state, {"l": [2, 5, {2: {"b": 2}, 3: [1, {"n": 1}], 4: [1, []]}]})
    assert state == {"l": [1, [1, 2], {"a": 1, "b": 2}, {"n": 1}, []]}


def test_changes_collects_the_path_of_every_key_touched() -> None:
    state: dict[str, Any] = {"a": 1, "b": 2, "p": {"x": 1}, "l": [0, 0, 0], "m": [[0]]}
    changes: list[Path] = []
    delta = {
        "a": 2,
        "b": [0],
        "p": {"x": 2, "y": [1, {}]},
        "l": [2, 2, {0: 5}],
        "m": [2, 1, {0: [2, 1, {0: 1}]}],
    }
    apply_delta(state, delta, changes=changes)
    assert changes == [("a",), ("b",), ("p", "x"), ("p", "y"), ("l", 0), ("l",), ("m", 0, 0)]


def test_a_list_edit_that_keeps_the_length_does_not_report_the_list() -> None:
    changes: list[Path] = []
    apply_delta({"l": [0]}, {"l": [2, 1, {0: 1}]}, changes=changes)
    assert changes == [("l", 0)]


# -- full states --------------------------------------------------------------------------------


def test_decode_state_makes_a_plain_copy() -> None:
    wire = {"p": {"l": [1, {"x": "s"}]}}
    state = decode_state(wire)
    assert state == wire
    state["p"]["l"].append(2)
    assert wire == {"p": {"l": [1, {"x": "s"}]}}


def test_decode_state_applies_the_declared_precision() -> None:
    schema = Schema({"p.*.x": Quantized(1 / 16), "p.*.a": Float32()})
    state = decode_state({"p": {"me": {"x": 24, "a": 2, "s": 1}}}, schema)
    assert state == {"p": {"me": {"x": 1.5, "a": 2.0, "s": 1}}}
    assert type(state["p"]["me"]["a"]) is float


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ([], "state must be a map"),
        (None, "state must be a map"),
        ({"a": {1: 1}}, "state map keys must be strings"),
        ({"a": [b"x"]}, "state cannot hold a bytes"),
        ({"a": {"b": {1, 2}}}, "state cannot hold a set"),
        (nested(70, 1), "state is nested too deeply"),
    ],
)
def test_decode_state_raises_patch_error_for_invalid_state(wire: Any, message: str) -> None:
    with pytest.raises(PatchError) as raised:
        decode_state(wire)
    assert raised.value.message == message


def test_an_empty_schema_decodes_like_no_schema() -> None:
    assert decode_state({"x": 3}, Schema()) == {"x": 3}


# -- the canonical hash -------------------------------------------------------------------------


def test_state_hash_is_sixteen_lowercase_hex_digits_of_sha256() -> None:
    assert state_hash({}) == "76be8b528d0075f7"  # sha256(b"\x80")
    assert state_hash({"a": 1}) == "ac22adafdfd6421b"  # sha256(b"\x81\xa1a\x01")


def test_state_hash_ignores_key_order() -> None:
    assert state_hash({"a": 1, "b": {"c": 1, "d": 2}}) == state_hash(
        {"b": {"d": 2, "c": 1}, "a": 1}
    )


def test_state_hash_writes_integral_floats_as_integers() -> None:
    assert state_hash({"a": 1.0, "l": [-0.0]}) == state_hash({"a": 1, "l": [0]})


def test_state_hash_keeps_floats_beyond_two_to_the_53_as_floats() -> None:
    assert state_hash({"a": 2.0**53}) != state_hash({"a": 2**53})


def test_state_hash_of_distinct_states_differs() -> None:
    hashes = {
        state_hash(state)
        for state in (
            {},
            {"a": 1},
            {"a": 1.5},
            {"a": "1"},
            {"a": True},
            {"a": None},
            {"a": [1]},
            {"a": {"b": 1}},
            {"b": 1},
        )
    }
    assert len(hashes) == 9


def test_state_hash_of_tracked_state_equals_that_of_its_snapshot() -> None:
    tracker = committed({"b": [1.0, {"y": 2}], "a": "x"})
    assert tracker.hash() == state_hash(tracker.snapshot()) == state_hash(tracker.state)


# -- helpers ------------------------------------------------------------------------------------


def test_iter_paths_yields_every_leaf_path() -> None:
    state = {"a": 1, "p": {"x": [5, {"y": None}], "e": {}}, "l": []}
    assert sorted(iter_paths(state), key=repr) == sorted(
        [("a",), ("p", "x", 0), ("p", "x", 1, "y")], key=repr
    )


def test_to_plain_copies_into_plain_dicts_and_lists() -> None:
    tracker = committed({"p": {"l": [{"x": 1}]}})
    plain = to_plain(tracker.state)
    assert plain == {"p": {"l": [{"x": 1}]}}
    assert type(plain) is dict
    assert type(plain["p"]["l"]) is list
    assert type(plain["p"]["l"][0]) is dict
    assert to_plain(3) == 3


def test_pickling_tracked_state_gives_plain_data() -> None:
    tracker = committed({"p": {"l": [{"x": 1}]}})
    for value in (tracker.state, tracker.state["p"]["l"]):
        restored = pickle.loads(pickle.dumps(value))
        assert restored == value
        assert type(restored) in (dict, list)
    restored_map = pickle.loads(pickle.dumps(tracker.state))
    assert type(restored_map["p"]["l"][0]) is dict


def test_copying_tracked_state_gives_plain_data() -> None:
    tracker = committed({"p": {"x": 1}})
    clone = copy.deepcopy(tracker.state)
    assert type(clone) is dict
    assert type(clone["p"]) is dict
    clone["p"]["x"] = 2
    assert not tracker.changed


def test_the_largest_safe_integer_is_two_to_the_53_minus_one() -> None:
    assert MAX_SAFE_INT == 2**53 - 1
    tracker = committed({"a": MAX_SAFE_INT, "b": -MAX_SAFE_INT})
    assert unpack(tracker.encode_full()) == {"a": MAX_SAFE_INT, "b": -MAX_SAFE_INT}


def test_a_replace_entry_may_carry_a_scalar() -> None:
    state: dict[str, Any] = {"a": {"b": 1}}
    apply_delta(state, {"a": [1, 5]})
    assert state == {"a": 5}
