"""Property tests: whatever game code does to tracked state, receivers that apply the deltas end
up with exactly the tracker's state; and no bytes from a peer raise anything but PatchError.

A run builds a random tree, then plays ticks: a few random mutations anywhere in the tree (keys
set, deleted and replaced, lists edited every way a list can be), then a commit. A receiver
starts from the full state and applies each tick's delta; at every tick, a delta from every
baseline still in the ring, applied to the snapshot of that baseline, must also give the state.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import diff as diff_module
from protocol.diff import (
    StateTracker,
    TrackedList,
    TrackedMap,
    apply_delta,
    decode_state,
    state_hash,
)
from protocol.errors import PatchError
from protocol.schema import Float32, Quantized, Schema

KEYS = st.sampled_from(["a", "b", "l", "x", "y", "é", "Z"])
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def values(numbers: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """State values: scalars, and small maps and lists of them."""
    scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=3))
    return st.recursive(
        scalars,
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(KEYS, kids, max_size=3),
        max_leaves=6,
    )


ANY_NUMBERS = st.integers(-(2**53) + 1, 2**53 - 1) | st.floats(
    allow_nan=False, allow_infinity=False
)
SMALL_NUMBERS = st.integers(-(10**6), 10**6) | st.floats(-1e6, 1e6)
SCHEMA = Schema(
    {
        "x": Quantized(1 / 16),
        "*.x": Quantized(1 / 16),
        "*.*.x": Quantized(1 / 16),
        "y": Float32(),
        "*.y": Float32(),
        "*.*.y": Float32(),
        "l.*": Quantized(0.25),
    }
)


def containers(root: TrackedMap) -> list[TrackedMap | TrackedList]:
    """Every tracked container in the tree, root first."""
    found: list[TrackedMap | TrackedList] = []
    stack: list[Any] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, TrackedMap | TrackedList):
            found.append(item)
            stack.extend(item.values() if isinstance(item, dict) else item)
    return found


def mutate_map(data: st.DataObject, target: TrackedMap, value: st.SearchStrategy[Any]) -> None:
    op = data.draw(
        st.sampled_from(
            [
                *("set", "set", "set", "delete", "pop", "popitem", "setdefault", "update"),
                *("ior", "put", "clear"),
            ]
        )
    )
    key = data.draw(KEYS)
    if op == "set":
        target[key] = data.draw(value)
    elif op == "delete" and target:
        del target[data.draw(st.sampled_from(sorted(target)))]
    elif op == "pop":
        target.pop(key, None)
    elif op == "popitem" and target:
        target.popitem()
    elif op == "setdefault":
        target.setdefault(key, data.draw(value))
    elif op == "update":
        target.update({key: data.draw(value)})
    elif op == "ior":
        target |= {key: data.draw(value)}
    elif op == "put":
        target.put(key, data.draw(value))
    elif op == "clear":
        target.clear()


def mutate_list(data: st.DataObject, target: TrackedList, value: st.SearchStrategy[Any]) -> None:
    length = len(target)
    op = data.draw(
        st.sampled_from(
            [
                *("append", "append", "pop", "pop", "insert", "setitem", "setitem", "slice"),
                *("del", "extend", "iadd", "imul", "remove", "clear", "sort", "reverse"),
                "del_slice",
            ]
        )
    )
    index = data.draw(st.integers(-length, length - 1)) if length else None
    if op == "append":
        target.append(data.draw(value))
    elif op == "extend":
        target.extend(data.draw(st.lists(value, max_size=2)))
    elif op == "iadd":
        target += data.draw(st.lists(value, max_size=2))
    elif op == "imul" and length <= 3:
        target *= data.draw(st.integers(0, 2))
    elif op == "insert":
        target.insert(data.draw(st.integers(-length - 1, length + 1)), data.draw(value))
    elif op == "clear":
        target.clear()
    elif op == "sort":
        target.sort(key=repr)
    elif op == "reverse":
        target.reverse()
    elif op == "slice":
        start, stop = sorted(data.draw(st.lists(st.integers(0, length), min_size=2, max_size=2)))
        target[start:stop] = data.draw(st.lists(value, max_size=2))
    elif op == "del_slice":
        start, stop = sorted(data.draw(st.lists(st.integers(0, length), min_size=2, max_size=2)))
        del target[start:stop]
    elif index is None:
        return
    elif op == "pop":
        target.pop(data.draw(st.sampled_from([-1, index])))
    elif op == "setitem":
        target[index] = data.draw(value)
    elif op == "del":
        del target[index]
    elif op == "remove":
        target.remove(target[index])


def play_tick(data: st.DataObject, tracker: StateTracker, value: st.SearchStrategy[Any]) -> None:
    """A few random mutations anywhere in the tree, then a commit."""
    for _ in range(data.draw(st.integers(0, 4))):
        target = data.draw(st.sampled_from(containers(tracker.state)))
        if isinstance(target, TrackedMap):
            mutate_map(data, target, value)
        else:
            mutate_list(data, target, value)
    tracker.commit(tracker.tick + 1)


def through_msgpack(body: bytes | None) -> Any:
    assert body is not None
    return msgpack.unpackb(body, raw=False, strict_map_key=False)


def check_replay(data: st.DataObject, schema: Schema | None, value: st.SearchStrategy[Any]) -> None:
    initial = data.draw(st.dictionaries(KEYS, value, max_size=4))
    tracker = StateTracker(initial, schema=schema, history=3)
    receiver = decode_state(through_msgpack(tracker.encode_full()), schema)
    assert receiver == decode_state(tracker.full_state(), schema) == tracker.snapshot()
    snapshots = {tracker.tick: tracker.snapshot()}
    for _ in range(data.draw(st.integers(1, 6))):
        play_tick(data, tracker, value)
        if data.draw(st.booleans()):  # a room packs a tick's changes once its frames are out
            baselines = [tick for tick in snapshots if tracker.has_baseline(tick)]
            bodies = [tracker.encode_delta(baseline) for baseline in baselines]
            tracker.compact(tracker.tick)
            assert [tracker.encode_delta(baseline) for baseline in baselines] == bodies
            # and forgets what every receiver is past (``receiver`` is on the tick before):
            # the deltas from then on stay the same
            through = data.draw(st.integers(tracker.floor - 1, tracker.tick - 1))
            tracker.release(through)
            assert [
                tracker.encode_delta(baseline) if baseline >= through else None
                for baseline in baselines
            ] == [
                body if baseline >= through else None
                for baseline, body in zip(baselines, bodies, strict=True)
            ]
            assert all(
                tracker.delta(baseline) is None for baseline in baselines if baseline < through
            )
        expected = tracker.snapshot()
        apply_delta(receiver, through_msgpack(tracker.encode_delta(tracker.tick - 1)), schema)
        assert receiver == expected
        assert state_hash(receiver) == tracker.hash()
        for baseline, snapshot in snapshots.items():
            if not tracker.has_baseline(baseline):
                assert tracker.delta(baseline) is None
                continue
            from_wire = copy.deepcopy(snapshot)
            apply_delta(from_wire, through_msgpack(tracker.encode_delta(baseline)), schema)
            in_process = copy.deepcopy(snapshot)
            apply_delta(in_process, tracker.delta(baseline), schema)
            assert from_wire == in_process == expected
            assert state_hash(from_wire) == state_hash(expected)
        snapshots[tracker.tick] = expected


@SETTINGS
@given(st.data())
def test_per_tick_and_older_baseline_deltas_rebuild_the_state(data: st.DataObject) -> None:
    check_replay(data, None, values(ANY_NUMBERS))


@SETTINGS
@given(st.data())
def test_deltas_with_declared_precision_rebuild_the_normalised_state(data: st.DataObject) -> None:
    check_replay(data, SCHEMA, values(SMALL_NUMBERS))


_GARBAGE_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(),
    st.text(max_size=3),
    st.binary(max_size=3),
    st.builds(msgpack.Timestamp, st.integers(0, 2**33), st.integers(0, 10**9 - 1)),
    st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=3)),
    st.sampled_from([0, 1, 2, 3, -1]),
)
_GARBAGE_KEYS = st.one_of(st.integers(-1, 4), KEYS, st.booleans(), st.none())


def _shaped(kids: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Garbage that looks like deltas: op arrays and maps, right or almost right."""
    return st.one_of(
        st.lists(kids, max_size=4),
        st.dictionaries(_GARBAGE_KEYS, kids, max_size=3),
        st.builds(lambda v: [0, *v], st.lists(kids, max_size=1)),
        st.builds(lambda v: [1, *v], st.lists(kids, max_size=2)),
        st.builds(
            lambda n, entries: [2, n, entries],
            st.integers(-1, 5),
            st.dictionaries(_GARBAGE_KEYS, kids, max_size=3) | kids,
        ),
    )


GARBAGE = st.recursive(_GARBAGE_SCALARS, _shaped, max_leaves=12)
TARGET_STATE = st.dictionaries(
    KEYS,
    st.recursive(
        st.integers(0, 3) | st.text(max_size=2),
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(KEYS, kids, max_size=3),
        max_leaves=8,
    ),
    max_size=4,
)


def feed(garbage: Any, state: dict[str, Any], schema: Schema | None) -> None:
    with contextlib.suppress(PatchError):
        apply_delta(state, garbage, schema, changes=[])
    with contextlib.suppress(PatchError):
        decode_state(garbage, schema)


@settings(max_examples=300, deadline=None)
@given(GARBAGE, TARGET_STATE, st.sampled_from([None, SCHEMA]))
def test_garbage_deltas_and_states_raise_only_patch_error(
    garbage: Any, state: dict[str, Any], schema: Schema | None
) -> None:
    feed(garbage, state, schema)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40), TARGET_STATE, st.sampled_from([None, SCHEMA]))
def test_any_decodable_msgpack_bytes_raise_only_patch_error(
    data: bytes, state: dict[str, Any], schema: Schema | None
) -> None:
    try:
        garbage = msgpack.unpackb(b"\x81\xa1a" + data, raw=False, strict_map_key=False)
    except Exception:  # not msgpack at all: nothing to apply
        return
    feed(garbage, state, schema)


# -- groups render numbers as the generic path does ----------------------------------------------

GROUP_SCHEMAS = [
    Schema(),
    Schema({"p.*.x": Quantized(1 / 16, relative=True), "p.*.y": Quantized(0.5)}),
    Schema({"p.*.x": Float32(), "p.*.y": Quantized(1 / 16, relative=True)}),
    Schema({"p.*.x": Quantized(1 / 16, relative=True), "p.a.x": Float32()}),
]
GROUP_VALUES = st.one_of(
    st.integers(-1000, 1000).map(lambda n: n / 16),
    st.integers(-1000, 1000),
    st.sampled_from(["s", None, True]),
    st.just(DELETED := object()),
)


def _generic_group_values(
    fields: tuple[Any, ...], members: Any, schema: Any, flat: list[Any]
) -> None:
    """What a group of ``members`` must hold: each member's generic nested delta, in order."""
    for key, mark, child in members:
        flat.append(key)
        flat.extend(diff_module._map_delta(mark, child, schema).values())


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    schema=st.sampled_from(GROUP_SCHEMAS),
    start=st.lists(st.tuples(GROUP_VALUES, GROUP_VALUES), min_size=4, max_size=4),
    ticks=st.lists(
        st.lists(
            st.tuples(st.sampled_from("abcd"), st.sampled_from("xy"), GROUP_VALUES), max_size=8
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_grouped_entries_are_what_the_generic_path_renders(
    schema: Schema, start: list[tuple[Any, Any]], ticks: list[list[tuple[str, str, Any]]]
) -> None:
    def entity(x: Any, y: Any) -> dict[str, Any]:
        return {k: v for k, v in (("x", x), ("y", y)) if v is not DELETED}

    initial = {"p": {key: entity(x, y) for key, (x, y) in zip("abcd", start, strict=True)}}
    deltas = []
    for group_values in (diff_module._group_values, _generic_group_values):
        tracker = StateTracker(initial, schema=schema)
        for tick, writes in enumerate(ticks, start=1):
            for key, field, value in writes:
                body = tracker.state["p"][key]
                if value is DELETED:
                    body.pop(field, None)
                else:
                    body[field] = value
            tracker.commit(tick)
        original = diff_module._group_values
        diff_module._group_values = group_values
        try:
            deltas.append(tracker.encode_delta(0))
        finally:
            diff_module._group_values = original
    assert deltas[0] == deltas[1]
