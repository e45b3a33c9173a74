"""The browser client applies the Python tracker's deltas exactly: same states, same hashes.

Random changes of every kind the tracker sends (scalars, nested maps, deletes, whole
replacements, list appends, truncations, item edits, middle inserts, quantised, relative
quantised and float32 fields) are committed tick by tick; the tool
clients/browser/tests/tools/apply-deltas.js applies the full state and then each delta, and
prints the state hash after each step.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from browser.node_runner import BROWSER_CLIENT, run_node
from protocol.diff import StateTracker, TrackedMap
from protocol.schema import Float32, Quantized, Schema

SCHEMA = Schema(
    {
        "players.*.x": Quantized(1 / 16),
        "players.*.y": Quantized(1 / 16, relative=True),
        "npcs.*.x": Quantized(1 / 4, relative=True),
        "ships.*.angle": Float32(),
    }
)
NAMES = ["ann", "bob", "cy", "dee", "é", "\uff71", "\U0001f600", "10", "9"]


def mutate(state: TrackedMap, rng: random.Random) -> None:
    """One tick of random changes."""
    players: dict[str, Any] = state["players"]
    npcs: list[Any] = state["npcs"]
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(12)
        name = rng.choice(NAMES)
        if op == 0:
            players[name] = {"x": rng.uniform(0, 100), "y": rng.uniform(0, 100), "hp": 3}
        elif op == 1 and players:
            del players[rng.choice(list(players))]
        elif op == 2 and players:
            body = players[rng.choice(list(players))]
            body["x"] = rng.uniform(-50, 1000)
            body["y"] = body["y"] + rng.choice([-2, 2])
        elif op == 3:
            npcs.append({"x": rng.uniform(0, 10), "kind": rng.choice(["orc", None, True])})
        elif op == 4 and npcs:
            npcs.pop()
        elif op == 5 and npcs:
            npcs[rng.randrange(len(npcs))]["x"] = rng.uniform(0, 10)
        elif op == 6 and len(npcs) > 1:
            npcs.insert(rng.randrange(len(npcs)), {"x": 1.25})
        elif op == 7:
            state["ships"][name] = {"angle": rng.uniform(-3.2, 3.2), "log": [1, [2, 3]]}
        elif op == 8 and state["ships"]:
            ship = state["ships"][rng.choice(list(state["ships"]))]
            ship["angle"] = rng.uniform(-3.2, 3.2)
            ship["log"].append(rng.random())
            ship["log"][1].append(rng.randint(-(2**40), 2**40))
        elif op == 9:
            state["round"] = rng.choice([1, 2.5, "three", None, False, -(2**33)])
        elif op == 10:
            rows = rng.randint(0, 3)
            state["grid"] = [[rng.randint(0, 2) for _ in range(3)] for _ in range(rows)]
        elif op == 11 and state["grid"]:
            state["grid"][0][rng.randrange(3)] = rng.randint(0, 9)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_javascript_reaches_the_trackers_hash_after_every_tick(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    tracker = StateTracker(
        {"players": {}, "npcs": [], "ships": {}, "round": 0, "grid": []}, schema=SCHEMA
    )
    full_hex = tracker.encode_full().hex()
    hashes = [tracker.hash()]
    steps: list[dict[str, str]] = []
    for tick in range(1, 201):
        mutate(tracker.state, rng)
        tracker.commit(tick)
        delta = tracker.encode_delta(tick - 1)
        assert delta is not None
        steps.append({"delta_hex": delta.hex()})
        hashes.append(tracker.hash())
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps({"schema": SCHEMA.wire(), "full_hex": full_hex, "steps": steps}))
    result = run_node(str(BROWSER_CLIENT / "tests" / "tools" / "apply-deltas.js"), str(cases))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["hashes"] == hashes
    assert out["state"] == json.loads(json.dumps(tracker.snapshot()))
