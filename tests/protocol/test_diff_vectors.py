"""The shared state-delta vectors: each delta applies exactly, and the file is current.

The browser client runs the same ``tests/vectors/diff_vectors.json``. The docs' worked PATCH
example (docs/protocol.md, "State: snapshots and deltas") is checked here too.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import msgpack
import pytest
from vector_files import VECTORS_DIR, generated

from protocol.codec import CLIENT_MAX_SIZE, StateFrame, decode, decode_json
from protocol.diff import StateTracker, apply_delta, state_hash
from protocol.messages import Patch
from protocol.schema import Quantized, Schema

ROOT = Path(__file__).resolve().parents[2]
VECTORS_FILE = VECTORS_DIR / "diff_vectors.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())


def vector_id(vector: dict[str, Any]) -> str:
    return str(vector["name"])


def test_the_file_is_what_the_generator_writes_now() -> None:
    assert VECTORS_FILE.read_text() == generated("generate_diff_vectors"), (
        "run: python -m tests.vectors.generate_diff_vectors"
    )


def test_the_vectors_cover_every_operation() -> None:
    hexes = " ".join(vector["delta_hex"] for vector in VECTORS)
    names = {vector["name"] for vector in VECTORS}
    assert {"scalar set", "nested map", "delete", "replace map", "replace list"} <= names
    assert {"list append", "list truncate", "list item set", "nested in list item"} <= names
    assert "9100" in hexes  # [0]
    assert "9201" in hexes  # [1, whole]
    assert "9302" in hexes  # [2, length, entries]
    assert "9303" in hexes  # [3, delta, group]
    assert "9502" in hexes  # [2, length, entries, group, group]
    assert "ca" in hexes  # a float32
    assert {kind for vector in VECTORS for _, kind, _ in vector["schema"]} == {1, 2, 3}


@pytest.mark.parametrize("vector", VECTORS, ids=vector_id)
def test_the_delta_applied_to_before_gives_after(vector: dict[str, Any]) -> None:
    schema = Schema.from_wire(vector["schema"])
    state = copy.deepcopy(vector["before"])
    delta = msgpack.unpackb(bytes.fromhex(vector["delta_hex"]), raw=False, strict_map_key=False)
    apply_delta(state, delta, schema)
    assert state == vector["after"]
    assert state_hash(state) == vector["after_hash"] == state_hash(vector["after"])


@pytest.mark.parametrize("vector", VECTORS, ids=vector_id)
def test_a_json_patch_frame_decodes_to_the_binary_delta(vector: dict[str, Any]) -> None:
    delta = msgpack.unpackb(bytes.fromhex(vector["delta_hex"]), raw=False, strict_map_key=False)
    frame = json.dumps(
        {"type": "patch", "tick": 2, "baseline": 1, "last_seq": 0, "delta": vector["delta"]}
    )
    assert decode_json(frame) == Patch(2, 1, 0, delta)


@pytest.mark.parametrize("vector", VECTORS, ids=vector_id)
def test_before_already_holds_its_numbers_in_their_declared_precision(
    vector: dict[str, Any],
) -> None:
    schema = Schema.from_wire(vector["schema"])
    assert StateTracker(vector["before"], schema=schema).snapshot() == vector["before"]


def documented_patch_frame(example: str, tracker: StateTracker) -> bytes:
    """The PATCH frame (tick 1202 from 1201, last input 7) for ``tracker``'s changes, after
    checking it is the whole frame docs/protocol.md gives under "Worked example: <example>"."""
    doc = (ROOT / "docs" / "protocol.md").read_text()
    section = doc.split(f"### Worked example: {example}", 1)[1]
    documented = re.search(r"Whole frame, (\d+) bytes: `([0-9a-f ]+)`", section)
    assert documented is not None
    tracker.commit(1202)
    body = tracker.encode_delta(1201)
    assert body is not None
    frame = StateFrame(1202, 1201, body).for_member(7)
    assert documented.group(2) == frame.hex(" ")
    assert int(documented.group(1)) == len(frame)
    return frame


def test_the_docs_worked_patch_example_is_what_the_tracker_sends() -> None:
    schema = Schema({"npcs.*.x": Quantized(1 / 16), "npcs.*.y": Quantized(1 / 16)})
    npcs = [{"x": 10, "y": 10}, {"x": 20, "y": 30}, {"x": 100, "y": 20}]
    tracker = StateTracker({"npcs": npcs}, schema=schema, tick=1201)
    tracker.state["npcs"][2]["x"] = 100.5
    tracker.state["npcs"][2]["y"] = 20.25
    frame = documented_patch_frame("a PATCH moving one NPC", tracker)
    delta = {"npcs": [2, 3, {2: {"x": 1608, "y": 324}}]}
    assert decode(frame, CLIENT_MAX_SIZE) == [Patch(1202, 1201, 7, delta)]


def test_the_docs_worked_group_example_is_what_the_tracker_sends() -> None:
    step = Quantized(1 / 16, relative=True)
    schema = Schema({"players.*.x": step, "players.*.y": step})
    players = {"a": {"x": 100.0, "y": 50.0}, "b": {"x": 20.0, "y": 30.0}}
    tracker = StateTracker({"players": players}, schema=schema, tick=1201)
    for key, (x, y) in {"a": (102.0, 49.0), "b": (18.5, 31.0)}.items():
        tracker.state["players"][key]["x"] = x
        tracker.state["players"][key]["y"] = y
    frame = documented_patch_frame("a PATCH moving two players (a group)", tracker)
    delta = {"players": [3, {}, [["x", "y"], "a", 32, -16, "b", -24, 16]]}
    assert decode(frame, CLIENT_MAX_SIZE) == [Patch(1202, 1201, 7, delta)]
