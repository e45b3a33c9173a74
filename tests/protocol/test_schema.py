"""protocol.schema: precisions, pattern matching, and the schema's wire form (sent in WELCOME)."""

from __future__ import annotations

import struct
from typing import Any

import msgpack
import pytest

from protocol.codes import PrecisionKind
from protocol.errors import PatchError, StateError
from protocol.schema import (
    MAX_QUANTIZED,
    Float32,
    Precision,
    Quantized,
    Schema,
    SchemaNode,
    iter_patterns,
    pack_float32,
)


def precision_at(schema: Schema, *path: str | int) -> Precision | None:
    """The precision a value at ``path`` gets, found the way the tracker walks the trie."""
    node: SchemaNode | None = schema.root
    for key in path[:-1]:
        assert node is not None
        node = node.child(key)
        if node is None:
            return None
    assert node is not None
    return node.precision(path[-1])


Q16 = Quantized(1 / 16)
Q1 = Quantized(1)


# -- Quantized ----------------------------------------------------------------------------------


def test_quantized_normalize_rounds_to_the_nearest_multiple_of_the_step() -> None:
    assert Q16.normalize(1.03) == 1.0
    assert Q16.normalize(1.04) == 1.0625
    assert Quantized(0.5).normalize(-0.76) == -1.0


def test_quantized_to_wire_is_the_count_of_steps() -> None:
    assert Q16.to_wire(1.5) == 24
    assert Q16.to_wire(-0.0625) == -1


def test_quantized_from_wire_multiplies_by_the_step() -> None:
    assert Q16.from_wire(24) == 1.5


def test_quantized_with_an_integer_step_keeps_integers() -> None:
    assert Q1.normalize(3) == 3
    assert type(Q1.normalize(3)) is int


@pytest.mark.parametrize("value", [1.5, "1", True, None])
def test_quantized_from_wire_refuses_anything_but_an_integer(value: Any) -> None:
    with pytest.raises(PatchError, match=r"^a quantised field must travel as an integer$"):
        Q16.from_wire(value)


@pytest.mark.parametrize("value", [MAX_QUANTIZED + 1.0, -(MAX_QUANTIZED + 1.0) * 16, 1e308])
def test_quantized_to_wire_refuses_counts_beyond_two_to_the_53(value: float) -> None:
    with pytest.raises(StateError, match=r"^value out of range for its quantised step$"):
        Quantized(1 if value == MAX_QUANTIZED + 1.0 else 1 / 16).to_wire(value)


def test_quantized_counts_up_to_two_to_the_53_minus_one_are_allowed() -> None:
    assert Q1.to_wire(float(MAX_QUANTIZED)) == MAX_QUANTIZED


@pytest.mark.parametrize("step", [0, -1, float("inf"), float("nan"), True, "1", None])
def test_quantized_step_must_be_a_positive_finite_number(step: Any) -> None:
    with pytest.raises(StateError, match=r"^step must be a positive finite number$"):
        Quantized(step)


def test_quantized_wire_form_is_kind_and_step() -> None:
    assert Q16.wire() == [PrecisionKind.QUANTIZED, 0.0625]


# -- Float32 ------------------------------------------------------------------------------------


def test_float32_normalize_rounds_to_the_nearest_float32() -> None:
    assert Float32().normalize(0.1) == struct.unpack(">f", struct.pack(">f", 0.1))[0]
    assert Float32().normalize(0.5) == 0.5


def test_float32_normalize_refuses_values_beyond_float32() -> None:
    with pytest.raises(StateError, match=r"^value out of range for float32$"):
        Float32().normalize(1e39)


def test_float32_to_wire_is_the_value() -> None:
    assert Float32().to_wire(0.5) == 0.5


@pytest.mark.parametrize(("value", "expected"), [(2, 2.0), (0.25, 0.25)])
def test_float32_from_wire_accepts_numbers_as_floats(value: float, expected: float) -> None:
    received = Float32().from_wire(value)
    assert received == expected
    assert type(received) is float


@pytest.mark.parametrize("value", ["1", True, None, [1.0]])
def test_float32_from_wire_refuses_anything_but_a_number(value: Any) -> None:
    with pytest.raises(PatchError, match=r"^a float32 field must travel as a number$"):
        Float32().from_wire(value)


def test_float32_wire_form_is_kind_and_null() -> None:
    assert Float32().wire() == [PrecisionKind.FLOAT32, None]


def test_pack_float32_is_msgpack_float32() -> None:
    assert pack_float32(0.5) == b"\xca\x3f\x00\x00\x00"
    assert msgpack.unpackb(pack_float32(0.5)) == 0.5


# -- patterns -----------------------------------------------------------------------------------


def test_an_exact_pattern_matches_only_its_path() -> None:
    schema = Schema({"players.me.x": Q16})
    assert precision_at(schema, "players", "me", "x") == Q16
    assert precision_at(schema, "players", "you", "x") is None
    assert precision_at(schema, "players", "me", "y") is None
    assert precision_at(schema, "npcs", "me", "x") is None


def test_a_wildcard_matches_any_map_key_and_any_list_index() -> None:
    schema = Schema({"players.*.x": Q16})
    assert precision_at(schema, "players", "me", "x") == Q16
    assert precision_at(schema, "players", 3, "x") == Q16
    assert precision_at(schema, "players", "me", "y") is None


def test_a_trailing_wildcard_matches_every_child() -> None:
    schema = Schema({"path.*": Q1})
    assert precision_at(schema, "path", 0) == Q1
    assert precision_at(schema, "path", "k") == Q1


def test_an_exact_sibling_does_not_hide_a_wildcard_pattern() -> None:  # regression
    schema = Schema({"players.*.x": Q16, "players.me.hp": Q1})
    assert precision_at(schema, "players", "me", "x") == Q16
    assert precision_at(schema, "players", "me", "hp") == Q1
    assert precision_at(schema, "players", "you", "x") == Q16
    assert precision_at(schema, "players", "you", "hp") is None


def test_an_exact_last_part_beats_a_wildcard_last_part() -> None:
    schema = Schema({"a.b.x": Q1, "a.b.*": Q16, "*.*.y": Float32()})
    assert precision_at(schema, "a", "b", "x") == Q1
    assert precision_at(schema, "a", "b", "z") == Q16
    assert precision_at(schema, "a", "b", "y") == Float32()


def test_with_equal_last_parts_the_pattern_exact_further_along_wins() -> None:
    schema = Schema({"*.b.x": Q1, "a.*.x": Q16})
    assert precision_at(schema, "a", "b", "x") == Q1
    assert precision_at(schema, "a", "c", "x") == Q16
    assert precision_at(schema, "z", "b", "x") == Q1


def test_an_exact_pattern_beats_the_same_pattern_with_a_wildcard() -> None:
    schema = Schema({"a.me.x": Q1, "a.*.x": Q16})
    assert precision_at(schema, "a", "me", "x") == Q1
    assert precision_at(schema, "a", "you", "x") == Q16


def test_patterns_may_be_given_as_tuples_with_none_for_the_wildcard() -> None:
    assert Schema({("players", None, "x"): Q16}) == Schema({"players.*.x": Q16})


def test_a_path_with_nothing_declared_below_has_no_node() -> None:
    schema = Schema({"players.*.x": Q16})
    assert schema.root.child("npcs") is None
    assert schema.root.child(0) is None


def test_has_float32_marks_every_node_above_a_float32_field() -> None:
    schema = Schema({"a.*.f": Float32(), "b.q": Q1})
    assert schema.root.has_float32
    a = schema.root.child("a")
    assert a is not None
    assert a.has_float32
    b = schema.root.child("b")
    assert b is not None
    assert not b.has_float32
    assert not Schema({"q": Q1}).root.has_float32


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "bad schema pattern ''"),
        ("a..b", "bad schema pattern 'a..b'"),
        ((), "bad schema pattern ()"),
        (("a", ""), "bad schema pattern ('a', '')"),
        (("a", 1), "bad schema pattern ('a', 1)"),
    ],
)
def test_bad_patterns_raise_state_error(pattern: Any, message: str) -> None:
    with pytest.raises(StateError) as raised:
        Schema({pattern: Q1})
    assert str(raised.value) == message


def test_a_precision_must_be_quantized_or_float32() -> None:
    with pytest.raises(StateError, match=r"^precision for 'a' must be Quantized or Float32$"):
        Schema({"a": 0.5})  # type: ignore[dict-item]


def test_iter_patterns_gives_dotted_patterns_with_stars() -> None:
    schema = Schema({("a", None, "x"): Q1, "b": Float32()})
    assert list(iter_patterns(schema)) == ["a.*.x", "b"]


# -- the wire form ------------------------------------------------------------------------------


def test_the_wire_form_lists_path_kind_and_step() -> None:
    schema = Schema({"npcs.*.x": Q16, "npcs.*.angle": Float32()})
    assert schema.wire() == [[["npcs", None, "x"], 1, 0.0625], [["npcs", None, "angle"], 2, None]]


def test_the_wire_form_round_trips_through_msgpack() -> None:
    schema = Schema({"npcs.*.x": Q16, "npcs.*.angle": Float32(), "t": Quantized(2)})
    wire = msgpack.unpackb(msgpack.packb(schema.wire()))
    assert Schema.from_wire(wire) == schema


def test_an_empty_schema_travels_as_an_empty_list() -> None:
    assert Schema().wire() == []
    assert Schema.from_wire([]) == Schema()


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ({}, "schema must be a list"),
        ([["a", 1, 1]], "schema entries are [path, kind, step]"),
        ([[["a"], 1]], "schema entries are [path, kind, step]"),
        (["a"], "schema entries are [path, kind, step]"),
        ([[["a"], 4, None]], "unknown precision kind 4"),
        ([[["a"], True, 1]], "unknown precision kind True"),
        ([[["a"], [1], 1]], "unknown precision kind [1]"),
        ([[["a"], 1, 0]], "step must be a positive finite number"),
        ([[["a"], 1, None]], "step must be a positive finite number"),
        ([[[], 1, 1]], "bad schema pattern ()"),
        ([[["a", 1], 1, 1]], "bad schema pattern ('a', 1)"),
    ],
)
def test_a_malformed_wire_schema_raises_patch_error(wire: Any, message: str) -> None:
    with pytest.raises(PatchError) as raised:
        Schema.from_wire(wire)
    assert raised.value.message == message


def test_a_float32_entry_ignores_its_step() -> None:
    assert Schema.from_wire([[["a"], 2, 5]]) == Schema({"a": Float32()})


# -- equality -----------------------------------------------------------------------------------


def test_schemas_with_the_same_fields_are_equal_and_hash_equal() -> None:
    assert Schema({"a": Q1}) == Schema({("a",): Quantized(1)})
    assert hash(Schema({"a": Q1})) == hash(Schema({("a",): Quantized(1)}))
    assert Schema({"a": Q1}) != Schema({"a": Q16})
    assert Schema({"a": Q1}) != {"a": Q1}


def test_a_schema_repr_shows_its_fields() -> None:
    assert repr(Schema({"a.*": Q1})) == "Schema({('a', None): Quantized(step=1, relative=False)})"
