"""A seeded workload of tracked writes, printed as the deltas and errors it produces.

``test_native.py`` runs this file in two interpreters, one with the C write
(``protocol._native``) and one with ``TICKROOM_PURE_PYTHON=1``, and compares what they print:
the two implementations of a map's write must give the same state, the same dirty trees and so
the same bytes on the wire, and refuse the same writes with the same errors.

    python tests/protocol/native_parity_workload.py SEED TICKS
"""

from __future__ import annotations

import random
import sys
from typing import Any

from protocol.diff import StateTracker, TrackedList, TrackedMap
from protocol.errors import StateError
from protocol.native import NATIVE
from protocol.schema import Float32, Quantized, Schema

SCHEMA = Schema(
    {
        "ents.*.x": Quantized(1 / 16, relative=True),
        "ents.*.y": Quantized(0.25),
        "ents.*.f": Float32(),
        "grid.*.x": Quantized(1 / 16, relative=True),
        "deep.*.*.x": Quantized(1 / 8, relative=True),
        "teams.*.x": Quantized(1 / 16, relative=True),
        "track.*": Quantized(1 / 16, relative=True),  # numbers as list items: they travel whole
        "teams.red.y": Float32(),  # an exact key beside the wildcard: groups render per key
        "grid.*.n": Quantized(2),  # an int step: the values stored are ints
        "*": Quantized(0.5),
    }
)
KEYS = ["x", "y", "f", "n", "s", "m", "l"]
EDGE_NUMBERS: list[Any] = [
    0,
    -0.0,
    0.5,
    -0.5,
    1.5,
    2.5,
    -2.5,
    1 / 32,
    -1 / 32,
    3 / 32,
    1e300,
    -1e300,
    float("inf"),
    float("nan"),
    2**53 - 1,
    2**53,
    -(2**53) + 1,
    -(2**53),
    10**30,
    True,
    False,
    None,
    "text",
    2**48,
    2.0**48 + 0.5,
    2.0**60,
]


def a_value(rng: random.Random) -> Any:
    """A number most of the time (the hot path), else an edge case or a container."""
    roll = rng.random()
    if roll < 0.55:
        return round(rng.uniform(-1000, 1000), rng.choice([0, 1, 3, 6]))
    if roll < 0.7:
        return rng.randint(-5000, 5000)
    if roll < 0.9:
        return rng.choice(EDGE_NUMBERS)
    if roll < 0.95:
        return {"x": rng.uniform(0, 10), "y": rng.randint(0, 9)}
    return [rng.uniform(0, 10) for _ in range(rng.randint(0, 3))]


def a_map(rng: random.Random, state: TrackedMap) -> TrackedMap:
    """One of the state's maps, at any depth."""
    maps: list[TrackedMap] = [state]
    stack: list[Any] = [state]
    while stack:
        node = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if type(child) is TrackedMap:
                maps.append(child)
            if type(child) in (TrackedMap, TrackedList):
                stack.append(child)
    return rng.choice(maps)


def a_list(rng: random.Random, state: TrackedMap) -> TrackedList | None:
    """One of the state's lists, at any depth (None when there is none)."""
    lists: list[TrackedList] = []
    stack: list[Any] = [state]
    while stack:
        node = stack.pop()
        for child in node.values() if isinstance(node, dict) else node:
            if type(child) is TrackedList:
                lists.append(child)
            if type(child) in (TrackedMap, TrackedList):
                stack.append(child)
    return rng.choice(lists) if lists else None


def edit_list(rng: random.Random, items: TrackedList, out: list[str]) -> None:
    """One list edit: in place (an item, the end) or one that resends the list."""
    roll = rng.random()
    try:
        if roll < 0.4 and items:
            items[rng.randrange(len(items))] = a_value(rng)
        elif roll < 0.6:
            items.append(a_value(rng))
        elif roll < 0.75 and items:
            items.pop()
        elif roll < 0.8:
            items.insert(rng.randrange(len(items) + 1), a_value(rng))
        elif roll < 0.85 and items:
            del items[0]
        elif roll < 0.9:
            items.clear()
        elif items and type(items[0]) is TrackedMap:  # an entity moved in place
            items[0]["x"] = rng.uniform(0, 100)
    except (StateError, TypeError) as exc:
        out.append(f"refused {type(exc).__name__}: {exc}")


def mutate(rng: random.Random, state: TrackedMap, out: list[str]) -> None:
    """One write, delete or replacement somewhere in ``state``; refusals are printed."""
    if rng.random() < 0.25:
        items = a_list(rng, state)
        if items is not None:
            edit_list(rng, items, out)
            return
    target = a_map(rng, state)
    roll = rng.random()
    key: Any = rng.choice(KEYS) if rng.random() < 0.97 else rng.choice([1, None, b"k"])
    try:
        if roll < 0.85:
            target[key] = a_value(rng)
        elif roll < 0.92 and len(target):
            del target[rng.choice(list(target))]
        elif roll < 0.96:
            target.setdefault(key, a_value(rng))
        else:
            target.update({key: a_value(rng)})
    except (StateError, KeyError, TypeError) as exc:
        out.append(f"refused {type(exc).__name__}: {exc}")


def run(seed: int, ticks: int) -> list[str]:
    """The workload's transcript: every tick's state and deltas, and every refusal."""
    rng = random.Random(seed)
    tracker = StateTracker(
        {
            "ents": [{"x": 1.0, "y": 2.0, "f": 0.5} for _ in range(8)],
            "grid": {"a": {"x": 0.0}, "b": {"x": 3.0}},
            "deep": {"p": {"q": {"x": 1.0}}},
            "teams": {team: {"x": 1.0, "y": 0.5} for team in ("red", "blue", "gold")},
            "track": [1.0, 2.0, 3.0],
        },
        schema=SCHEMA,
        history=4,
    )
    out: list[str] = []
    state = tracker.state
    for tick in range(1, ticks + 1):
        for _ in range(rng.randint(0, 12)):
            mutate(rng, state, out)
        teams = state.get("teams")
        if type(teams) is TrackedMap and rng.random() < 0.7:  # teams moving together: a group
            for team in list(teams.values()):
                if type(team) is TrackedMap:
                    team["x"] = rng.uniform(-50, 50)
                    team["y"] = rng.uniform(-50, 50)
        for ent in state["ents"] if type(state.get("ents")) is TrackedList else []:
            if type(ent) is not TrackedMap or rng.random() < 0.5:
                continue
            try:  # the arena's step; some also turn (y, f), so groups differ by fields
                x = ent.get("x")
                ent["x"] = (x if isinstance(x, int | float) else 0.0) + rng.uniform(-2, 2)
                if rng.random() < 0.4:
                    ent["y"] = rng.uniform(-100, 100)
                    ent["f"] = rng.uniform(-1, 1)
                if rng.random() < 0.1:
                    ent["x"] = None  # no number at the baseline next tick: the count whole
            except (StateError, TypeError) as exc:
                out.append(f"refused {type(exc).__name__}: {exc}")
        tracker.commit(tick)
        out.append(f"{tick} full {tracker.encode_full().hex()}")
        for baseline in range(max(0, tick - 5), tick):
            delta = tracker.encode_delta(baseline)
            out.append(f"{tick} from {baseline} {None if delta is None else delta.hex()}")
    out.append(f"final {sorted(map(str, state.items()))}")
    return out


if __name__ == "__main__":
    transcript = run(int(sys.argv[1]), int(sys.argv[2]))
    print(f"native={NATIVE}")
    print("\n".join(transcript))
