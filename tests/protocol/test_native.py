"""The protocol's C twins (protocol._native) against their Python definitions.

The whole protocol suite runs twice in scripts/test, once with the C code and once with
``TICKROOM_PURE_PYTHON=1``; these tests check what neither run can alone: that the module is
built where it should be, that the switch works, that tracked writes and the delta renderer
give byte-identical deltas both ways, and that the INPUT decoder agrees with its definition.
"""

from __future__ import annotations

import importlib
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import protocol
from protocol import codec, diff, native, tracked
from protocol.codes import MessageType
from protocol.diff import StateTracker
from protocol.messages import MAX_PAYLOAD_DEPTH
from protocol.schema import Quantized, Schema

WORKLOAD = Path(__file__).with_name("native_parity_workload.py")
PURE = os.environ.get("TICKROOM_PURE_PYTHON", "") not in ("", "0")


def test_the_c_code_is_built_and_used_unless_switched_off() -> None:
    if PURE:
        assert not native.NATIVE
        assert "__setitem__" in vars(tracked.TrackedMap)
        assert codec.decode_input is codec._decode_input
    else:
        assert native.NATIVE, (
            "protocol._native is not built: install a C compiler (apt-get install gcc) and "
            "rerun scripts/setup"
        )
        assert "__setitem__" not in vars(tracked.TrackedMap)  # the C base's slot runs
        assert codec.decode_input is native.native.decode_input


def test_load_native_honours_the_switch_and_a_missing_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TICKROOM_PURE_PYTHON", "1")
    assert native._load_native() is None
    monkeypatch.setenv("TICKROOM_PURE_PYTHON", "0")
    assert native._load_native() is not None
    monkeypatch.setitem(sys.modules, "protocol._native", None)  # import now raises
    monkeypatch.delattr(protocol, "_native")
    assert native._load_native() is None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_c_and_python_writes_give_the_same_bytes_and_refusals(
    seed: int, transcript: Callable[..., list[str]]
) -> None:
    native, python = transcript(WORKLOAD, seed, 150, False), transcript(WORKLOAD, seed, 150, True)
    assert sum(line.startswith("refused") for line in python) > 10  # the edges were reached
    assert native == python


def test_quantised_writes_round_half_to_even_and_never_store_minus_zero() -> None:
    tracker = StateTracker(schema=Schema({"*": Quantized(0.5)}))
    state = tracker.state
    written = {"a": 0.25, "b": 0.75, "c": -0.25, "d": -0.1, "e": 3, "f": -0.0}
    for key, value in written.items():
        state[key] = value
    assert dict(state) == {"a": 0.0, "b": 1.0, "c": -0.0, "d": 0.0, "e": 3.0, "f": 0.0}
    assert [str(state[key]) for key in "cdf"] == ["0.0", "0.0", "0.0"]  # +0.0, as round() gives
    assert all(type(value) is float for value in state.values())


def test_an_integer_step_stores_integers_as_the_python_write_does() -> None:
    tracker = StateTracker(schema=Schema({"*": Quantized(2), "f": Quantized(0.5)}))
    state = tracker.state
    state["a"] = 2.4
    state["b"] = 3
    state["f"] = 3
    assert [(value, type(value)) for value in state.values()] == [
        (2, int),  # round(2.4 / 2) * 2: int times int
        (4, int),  # round(1.5) is 2 (half to even)
        (3.0, float),
    ]


def test_a_write_of_a_detached_subtree_marks_nothing() -> None:
    tracker = StateTracker({"p": {"q": {"x": 1}}}, schema=Schema({"*.*.x": Quantized(1)}))
    tracker.commit(1)
    grandchild = tracker.state["p"]["q"]
    tracker.state["p"] = 0
    tracker.commit(2)
    grandchild["x"] = 5
    assert not tracker.changed
    assert grandchild == {"x": 5.0}


class CountingTracker(StateTracker):
    """A tracker whose ``gen`` is a property: the C write must read it through getattr (its
    slot read applies only where the class's own lookup finds the slot)."""

    reads = 0

    @property
    def gen(self) -> int:
        CountingTracker.reads += 1
        return self._generation

    @gen.setter
    def gen(self, value: int) -> None:
        self._generation = value


def test_a_tracker_subclass_with_its_own_gen_is_read_through_it() -> None:
    tracker = CountingTracker({"ents": [{"x": 1.0}]}, schema=Schema({"ents.*.x": Quantized(0.5)}))
    tracker.commit(1)
    CountingTracker.reads = 0
    tracker.state["ents"][0]["x"] = 2.0
    tracker.commit(2)
    assert CountingTracker.reads > 0
    assert tracker.delta(1) == {"ents": [2, 1, {0: {"x": 4}}]}


class Unrelated:
    """A class that borrows another class's slot descriptor: Python's getattr refuses it."""

    __slots__ = ("a", "b")
    gen = StateTracker.__dict__["gen"]


def test_a_borrowed_slot_descriptor_is_refused_as_python_refuses_it() -> None:
    tracker = StateTracker()
    tracker.state["x"] = 1.0  # the C write reads the real tracker's gen through its cache
    tracker.state._tracker = Unrelated()  # type: ignore[assignment]  # a "gen" of another class
    with pytest.raises(TypeError):
        tracker.state["x"] = 2.0


# -- decode_input: the C decoder against its definition, in one process --------------------------


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (1, 1.0 and True are == in Python)."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return a == b or (math.isnan(a) and math.isnan(b))
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return list(a) == list(b) and all(
            same(ka, kb) and same(a[ka], b[kb]) for ka, kb in zip(a, b, strict=True)
        )
    return bool(a == b)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.binary(max_size=8),
)
PLAIN = st.recursive(
    SCALARS,
    lambda kids: (
        st.lists(kids, max_size=20)
        | st.dictionaries(st.text(max_size=5) | st.integers(-5, 300), kids, max_size=20)
    ),
    max_leaves=40,
)
INPUT = bytes((MessageType.INPUT,))


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def pack_single(body: tuple[Any, Any]) -> bytes:
    """An INPUT frame with float32 numbers and raw (old-style) strings where they fit."""
    try:
        return INPUT + msgpack.packb(list(body), use_single_float=True, use_bin_type=False)
    except OverflowError:  # a float beyond float32's range
        return INPUT + msgpack.packb(list(body))


def frames() -> st.SearchStrategy[bytes]:
    """INPUT frames of every shape: valid ones, float32 and wide headers, trailing bytes,
    keys a payload may not have, seqs out of range, and plain garbage."""
    body = st.tuples(st.integers(-(2**63), 2**64 - 1) | SCALARS, PLAIN)
    packed = body.map(lambda b: INPUT + msgpack.packb(list(b)))
    single_floats = body.map(pack_single)
    wide_array = body.map(
        lambda b: INPUT + b"\xdc\x00\x02" + msgpack.packb(b[0]) + msgpack.packb(b[1])
    )
    trailing = st.tuples(packed, st.binary(min_size=1, max_size=3)).map(lambda p: p[0] + p[1])
    odd_keys = st.sampled_from(
        [
            INPUT + msgpack.packb([1, {True: 1}]),
            INPUT + msgpack.packb([1, {1.5: 1}]),
            INPUT + msgpack.packb([1, {None: 1}]),
            INPUT + msgpack.packb([1, {(1, 2): 1}]),
            INPUT + msgpack.packb([1, {"a": 1, "a ": 2}]),
            INPUT + b"\x92\x01\x82\xa1a\x01\xa1a\x02",  # a key twice: the last wins
            INPUT + msgpack.packb([2**53, {}]),
            INPUT + msgpack.packb([2**53 - 1, {}]),
            INPUT + msgpack.packb([-1, {}]),
            INPUT + msgpack.packb([True, {}]),
            INPUT + msgpack.packb([1, nested(31)]),
            INPUT + msgpack.packb([1, nested(32)]),
            INPUT + msgpack.packb([1, msgpack.ExtType(1, b"x")]),
            INPUT + msgpack.packb([1, "é" * 40000]),
            INPUT + b"\x92\x01\xa2\xff\xfe",  # not UTF-8
            INPUT + b"\x93\x01\x02\x03",
            INPUT + b"\x92\x01",
            INPUT + b"\x92",
            INPUT + b"\x91\x01",
            INPUT + b"\xc1",
            INPUT,
            b"",
        ]
    )
    cut = packed.flatmap(lambda f: st.integers(0, len(f)).map(lambda n: f[:n]))
    return st.one_of(
        packed, single_floats, wide_array, trailing, odd_keys, cut, st.binary(max_size=40)
    )


def c_module() -> Any:
    """protocol._native, configured as codec.py configures it (also in the pure run, where the
    module is built but unused)."""
    module = importlib.import_module("protocol._native")
    module.configure_input(codec._decode_input, int(MessageType.INPUT), MAX_PAYLOAD_DEPTH)
    return module


@settings(max_examples=400, deadline=None)
@given(frames())
def test_decode_input_gives_what_its_definition_gives(data: bytes) -> None:
    assert same(c_module().decode_input(data), codec._decode_input(data))
    assert same(codec.decode_input(data), codec._decode_input(data))


def test_decode_input_takes_every_common_encoding_itself() -> None:
    """The common encodings are decoded in C (the definition is not called for them)."""
    module = c_module()
    calls: list[bytes] = []
    module.configure_input(calls.append, int(MessageType.INPUT), MAX_PAYLOAD_DEPTH)
    try:
        payload = {
            "i": [0, 127, -1, -32, 128, -129, 2**16, -(2**31), 2**40, -(2**63), 2**64 - 1],
            "f": [0.5, -1e30, float("inf")],
            "s": ["", "x" * 31, "y" * 200, "z" * 60000],
            "o": [None, True, False, {7: {}}, list(range(20))],
        }
        for single in (False, True):
            data = INPUT + msgpack.packb([5, payload], use_single_float=single)
            fields = module.decode_input(data)
            assert fields is not None
            assert fields[0] == 5
            assert fields[1]["o"] == payload["o"]
    finally:
        c_module()
    assert calls == []


def test_decode_input_gives_short_keys_back_interned_and_every_key_right() -> None:
    """Short str keys come from a small cache of interned strs (the same object every frame);
    long keys, evicted keys, bad UTF-8 and container keys decode as their definition says."""
    module = c_module()
    first = module.decode_input(INPUT + msgpack.packb([1, {"dx": 0.5, "dy": -1}]))
    again = module.decode_input(INPUT + msgpack.packb([2, {"dy": 1, "dx": 0}]))
    (dx1, dy1), (dy2, dx2) = list(first[1]), list(again[1])
    assert dx1 is dx2 is sys.intern("dx")
    assert dy1 is dy2
    keys = [f"k{n}" for n in range(300)] + ["x" * 16, "x" * 17, "é" * 8, "é" * 9]
    for rounds in range(2):  # the second round finds some in the cache, others evicted
        for key in keys:
            data = INPUT + msgpack.packb([rounds, {key: len(key), "dx": rounds}])
            assert same(module.decode_input(data), codec._decode_input(data))
    for data in (
        INPUT + b"\x92\x01\x81\xa2\xff\xfe\x01",  # a key that is no UTF-8
        INPUT + b"\x92\x01\x81\xa3dx",  # the key's bytes end early
        INPUT + msgpack.packb([1, {"dx": 1}])[:-2],
        INPUT + b"\x92\x01\x81" + msgpack.packb(nested(40)) + b"\x01",  # a deep container key
    ):
        assert same(module.decode_input(data), codec._decode_input(data))


def test_a_write_deeper_than_the_recursion_limit_raises_recursion_error() -> None:
    """Both writes walk up the tree to find the dirty node: the C one within the interpreter's
    recursion limit too, so deep state raises RecursionError instead of overflowing C's stack."""
    tracker = StateTracker()
    tracker.commit(1)
    node = tracker.state
    for _ in range(5000):  # one level at a time: each assignment marks only its own key
        node["c"] = {}
        node = node["c"]
    tracker.commit(2)
    with pytest.raises(RecursionError):
        node["x"] = 1


def test_a_tracked_map_reads_through_dict_s_own_slots() -> None:
    """``m[key]`` and ``key in m`` on a tracked map are dict's C slots, not the generic method
    lookup a Python subclass of dict gets; ``__missing__`` of a subclass still answers."""

    class Defaulted(tracked.TrackedMap):
        def __missing__(self, key: str) -> int:
            return len(key)

    tracker = StateTracker()
    tracker.state["p"] = {"x": 1.5}
    inner = tracker.state["p"]
    assert (inner["x"], "x" in inner, "y" in inner) == (1.5, True, False)
    with pytest.raises(KeyError):
        inner["y"]
    assert Defaulted()["abc"] == 3
    if native.NATIVE:
        slot = type(tracked.TrackedMap.__getitem__).__name__
        assert slot == "wrapper_descriptor"  # a slot's wrapper, found in MapBase


def test_members_with_equal_keys_that_are_other_objects_share_a_group() -> None:
    """The C renderer reuses the last bucket for a member whose keys are the same objects; keys
    that are equal but other objects (built at run time) still land in that bucket, and a
    member with other keys in between starts or finds its own, as the Python renderer does."""
    schema = Schema({"p.*.px": Quantized(1 / 16, relative=True)})
    entities = {f"e{n}": {"px": 0.0, "py": 0.0} for n in range(8)}
    tracker = StateTracker({"p": entities}, schema=schema)
    tracker.commit(1)
    for n in range(8):
        body = tracker.state["p"][f"e{n}"]
        field = "".join(["p", "x"]) if n % 3 else "px"  # equal to "px", another object for some
        assert field == "px"
        body[field] = n / 16
        if n in (2, 5):
            body["py"] = 1.0  # other keys in between
    tracker.commit(2)
    tree, value, root = tracker._ring[-1][1], tracker.state, tracker.state._schema
    assert type(tree) is dict  # committed, not packed
    python = diff._map_delta(tree, value, root)
    assert diff._render_delta(tree, value, root) == python
    if native.NATIVE:
        assert importlib.import_module("protocol._native").map_delta(tree, value, root) == python


# -- the ring's packer --------------------------------------------------------------------------


def _list_node(tail: int | None, items: Any) -> tracked._ListDirty:
    node = tracked._ListDirty()
    node.tail, node.items = tail, items
    return node


_INTS = [0, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53 - 1, -1, -32, -33, -128]
_INTS += [-129, -(2**15), -(2**15) - 1, -(2**31), -(2**31) - 1, -(2**53) + 1]
_TEXTS = ["", "x" * 31, "x" * 32, "é" * 127, "x" * 256, "x" * 65535, "x" * 65536]
_EVERY_FORM: list[Any] = (
    [{"n": number} for number in [*_INTS, 0.0, -0.0, 1.5, -1e300, math.inf]]
    + [{text: True} for text in _TEXTS]
    + [
        {"map16": {f"k{n}": True for n in range(16)}},
        {"map32": {f"k{n}": n for n in range(65536)}},
        {"b": False, "n": None},
        {"list": [1, "a", [2, [3.5]], {"k": None}], "empty": []},
        {"list16": list(range(16)), "list32": [0] * 65536},
        {"bin": b"\x00\x01", "bin16": b"x" * 256, "bin32": b"x" * 65536},
        {"npcs": _list_node(None, {0: {"x": 1.25}, 7: True})},
        {"npcs": _list_node(3, {})},
        {"l": _list_node(None, {0: False})},
        {"l": _list_node(0, {0: _list_node(None, {1: {"a": {"b": -5}}})})},
        {},
    ]
)
_LEFT_TO_THE_PACKER: list[Any] = [
    {"big": 2**63},
    {"tuple": (1, 2), "bytearray": bytearray(b"x")},
    [{"deep": [2**64]}],
    {"l": _list_node(None, [1])},  # items that are not a dict
    {"s": "\ud800"},  # a lone surrogate: the Packer raises its own error
    {"t": object()},  # not a node at all: the Packer's default raises TypeError
    {2**64: True},
]


def _holds_a_list(value: Any) -> bool:
    if type(value) is list:
        return True
    return type(value) is dict and any(_holds_a_list(child) for child in value.values())


def _packer_result(tree: Any) -> Any:
    try:
        return diff._change_packer.pack(tree)
    except (TypeError, ValueError, OverflowError) as exc:
        return type(exc)


def test_the_c_packer_writes_what_the_msgpack_packer_writes_for_every_form() -> None:
    for tree in _EVERY_FORM:
        expected = diff._change_packer.pack(tree)
        assert diff._pack_changes(tree) == expected
        if not any(type(value) is tracked._ListDirty for value in tree.values()):
            assert diff._pack_plain(tree) == diff._packb(tree) == expected
        if not _holds_a_list(tree):  # a change tree: it unpacks to itself
            assert diff._pack_changes(diff._unpacked(expected)) == expected
        if native.NATIVE:
            c_module = importlib.import_module("protocol._native")
            assert c_module.pack_changes(tree) == expected
            has_node = any(type(value) is tracked._ListDirty for value in tree.values())
            assert c_module.pack(tree) == (None if has_node else expected)  # nodes: trees only


def test_the_c_packer_leaves_anything_else_to_the_msgpack_packer() -> None:
    for tree in _LEFT_TO_THE_PACKER:
        expected = _packer_result(tree)
        if native.NATIVE:
            assert importlib.import_module("protocol._native").pack_changes(tree) is None
        if isinstance(expected, bytes):
            assert diff._pack_changes(tree) == expected
            if "l" not in tree:
                assert diff._pack_plain(tree) == diff._packb(tree) == expected
        else:
            with pytest.raises(expected):
                diff._pack_changes(tree)


_MARKS = st.recursive(
    st.one_of(
        st.just(True),
        st.integers(-(2**53) + 1, 2**53 - 1),
        st.floats(allow_nan=False),
    ),
    lambda children: st.one_of(
        st.dictionaries(st.text(max_size=40), children, max_size=20),
        st.builds(
            _list_node,
            st.none() | st.integers(0, 300),
            st.dictionaries(st.integers(0, 300), children, max_size=8),
        ),
    ),
    max_leaves=40,
)


_WIRE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=40)
    | st.binary(max_size=40),
    lambda children: (
        st.lists(children, max_size=20)
        | st.dictionaries(st.text(max_size=8) | st.integers(-5, 300), children, max_size=20)
    ),
    max_leaves=60,
)


@settings(max_examples=150, deadline=None)
@given(_WIRE)
def test_any_wire_value_packs_the_same_from_c_and_from_the_packer(value: Any) -> None:
    assert diff._pack_plain(value) == diff._packb(value)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _MARKS, max_size=8))
def test_any_change_tree_packs_the_same_both_ways_and_unpacks_to_itself(tree: Any) -> None:
    packed = diff._pack_changes(tree)
    assert packed == diff._change_packer.pack(tree)
    if native.NATIVE:
        assert importlib.import_module("protocol._native").pack_changes(tree) == packed
    assert diff._pack_changes(diff._unpacked(packed)) == packed


def test_a_delta_never_packs_a_change_trees_list_node() -> None:
    with pytest.raises(TypeError):
        diff._pack_plain({"x": _list_node(None, {})})  # as the Packer: no such type on the wire


def test_values_nested_past_the_c_writers_depth_are_the_packers_to_pack() -> None:
    deep: Any = 1
    for _ in range(600):
        deep = [deep]
    assert diff._pack_plain(deep) == diff._packb(deep)
    if native.NATIVE:
        assert importlib.import_module("protocol._native").pack(deep) is None
