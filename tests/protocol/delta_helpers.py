"""What the state-delta tests share: run one tick of mutations and check the delta rebuilds it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack

from protocol.diff import StateTracker, TrackedMap, apply_delta, decode_state, state_hash
from protocol.schema import Schema

Mutation = Callable[[TrackedMap], object]


def unpack(body: bytes | None) -> Any:
    """A msgpack body decoded as a receiver decodes it."""
    assert body is not None
    return msgpack.unpackb(body, raw=False, strict_map_key=False)


def replayed(
    initial: dict[str, Any], mutate: Mutation, schema: Schema | None = None
) -> dict[str, Any]:
    """The delta of one tick in which ``mutate`` ran, after checking that it rebuilds the state."""
    tracker = StateTracker(initial, schema=schema)
    before = decode_state(unpack(tracker.encode_full()), schema)
    mutate(tracker.state)
    tracker.commit(1)
    delta = unpack(tracker.encode_delta(0))
    apply_delta(before, delta, schema)
    assert before == tracker.snapshot()
    assert state_hash(before) == tracker.hash()
    return delta  # type: ignore[no-any-return]


def committed(initial: dict[str, Any], schema: Schema | None = None) -> StateTracker:
    """A tracker holding ``initial``, committed at tick 1."""
    tracker = StateTracker(initial, schema=schema)
    tracker.commit(1)
    return tracker
