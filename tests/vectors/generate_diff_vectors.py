"""Writes ``tests/vectors/diff_vectors.json``: state deltas every tickroom client must apply alike.

The file is a list of cases. Each holds ``schema`` (the room's ``Schema.wire()``, as WELCOME
carries it), ``before`` (a plain state), ``delta_hex`` (the msgpack bytes of the delta a
``StateTracker`` sends, as in a PATCH body), ``delta`` (the same delta as JSON), ``after`` (the
state once the delta is applied to ``before``) and ``after_hash`` (``state_hash(after)``).

In ``delta``, the index keys of list edits (``[2, length, {index: entry}]``) are strings, because
JSON object keys are strings; on the wire (``delta_hex``) they are integers. Every number is
exact in JSON: quantised fields hold multiples of their step and float32 fields hold values a
float32 represents exactly, so the browser client can run the same file.

Run from the repository root after changing protocol/diff.py, then commit the result:

    .venv/bin/python -m tests.vectors.generate_diff_vectors

The output is deterministic; ``tests/protocol/test_diff_vectors.py`` checks the committed file is
what this script produces now.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack

from protocol.diff import StateTracker, TrackedMap, state_hash
from protocol.schema import Float32, Quantized, Schema

OUTPUT = Path(__file__).resolve().parent / "diff_vectors.json"
NPCS = Schema({"npcs.*.x": Quantized(1 / 16), "npcs.*.y": Quantized(1 / 16)})
ANGLES = Schema({"ships.*.angle": Float32(), "speed": Float32()})
MOVERS = Schema(
    {
        "players.*.x": Quantized(1 / 16, relative=True),
        "players.*.y": Quantized(1 / 16, relative=True),
        "npcs.*.x": Quantized(1 / 16, relative=True),
        "npcs.*.y": Quantized(1 / 16, relative=True),
    }
)

Mutation = Callable[[TrackedMap], object]


def _json_delta(value: Any) -> Any:
    """The delta as JSON would carry it: list-edit index keys become strings."""
    if type(value) is dict:
        return {str(key): _json_delta(child) for key, child in value.items()}
    if type(value) is list:
        return [_json_delta(child) for child in value]
    return value


def case(
    name: str, before: dict[str, Any], mutate: Mutation, schema: Schema | None = None
) -> dict[str, Any]:
    """One vector: the delta a tracker sends for one tick in which ``mutate`` ran."""
    schema = schema or Schema()
    tracker = StateTracker(before, schema=schema)
    plain_before = tracker.snapshot()
    mutate(tracker.state)
    tracker.commit(1)
    body = tracker.encode_delta(0)
    assert body is not None
    after = tracker.snapshot()
    return {
        "name": name,
        "schema": schema.wire(),
        "before": plain_before,
        "delta_hex": body.hex(),
        "delta": _json_delta(msgpack.unpackb(body, raw=False, strict_map_key=False)),
        "after": after,
        "after_hash": state_hash(after),
    }


def _set(*path_and_value: Any) -> Mutation:
    """A mutation setting the key at ``path`` (all but the last argument) to the last one."""
    *path, key, value = path_and_value

    def mutate(state: TrackedMap) -> None:
        target: Any = state
        for part in path:
            target = target[part]
        target[key] = value

    return mutate


def _delete_hp_and_log(state: TrackedMap) -> None:
    del state["hp"]
    state.pop("log")


def _two_ticks_of_edits(state: TrackedMap) -> None:
    state["round"] = 2
    state["players"]["b"] = {"hp": 5, "team": "blue"}
    del state["players"]["a"]["team"]
    state["players"]["a"]["hp"] = 2


def _move_npc(state: TrackedMap) -> None:
    state["npcs"][1]["x"] = 20.0625
    state["npcs"][1]["y"] = 512.5


def _spawn_npc(state: TrackedMap) -> None:
    state["npcs"].append({"x": 1.5, "y": 2.25, "kind": "orc"})


def _steer(state: TrackedMap) -> None:
    state["ships"]["s1"]["angle"] = 0.75
    state["speed"] = 2.0
    state["ships"]["s2"] = {"angle": -1.5, "name": "b"}


def _move_players(state: TrackedMap) -> None:
    for key, dx in (("a", 1.0), ("b", -0.5), ("d", 2.0)):
        state["players"][key]["x"] += dx
        state["players"][key]["y"] -= 1.0
    state["players"]["c"]["hp"] = 2


def _move_npcs_and_log(state: TrackedMap) -> None:
    for npc in state["npcs"][:2]:
        npc["x"] += 0.25
        npc["y"] += 0.5
    for npc in state["npcs"][2:]:
        npc["log"].append("hit")


def vectors() -> list[dict[str, Any]]:
    """Every case, in a fixed order."""
    players = {"players": {"a": {"hp": 3, "team": "red"}}, "round": 1}
    return [
        case("no change", {"hp": 3}, lambda state: None),
        case("scalar set", {"hp": 3, "name": "a"}, lambda s: s.update(hp=2, name="b", ok=True)),
        case("scalar set to null and float", {"a": 1}, lambda s: s.update(a=None, b=0.5)),
        case("nested map", players, _set("players", "a", "hp", 2)),
        case("delete", {"hp": 3, "log": ["x"], "keep": 1}, _delete_hp_and_log),
        case("replace map", players, _set("players", "a", {"hp": 10, "skin": "gold"})),
        case("new map", {}, _set("players", {"a": {"hp": 3}})),
        case("replace list", {"log": ["a", "b", "c"]}, _set("log", ["x", "y"])),
        case("several keys at once", players, _two_ticks_of_edits),
        case("list append", {"log": ["a", "b"]}, lambda s: s["log"].append("c")),
        case("list extend", {"log": []}, lambda s: s["log"].extend([1, {"k": 2}, [3]])),
        case("list truncate", {"log": ["a", "b", "c"]}, lambda s: (s["log"].pop(), s["log"].pop())),
        case("list clear", {"log": ["a", "b"]}, lambda s: s["log"].clear()),
        case("list item set", {"cells": [0, 0, 0]}, _set("cells", 1, 7)),
        case("list item set at the end", {"cells": [0, 0, 0]}, _set("cells", -1, "x")),
        case("list insert in the middle", {"log": ["a", "c"]}, lambda s: s["log"].insert(1, "b")),
        case("nested in list item", {"npcs": [{"hp": 3}, {"hp": 4}]}, _set("npcs", 1, "hp", 0)),
        case("list in list item", {"grid": [[0], [1]]}, lambda s: s["grid"][1].append(2)),
        case(
            "quantized move",
            {"npcs": [{"x": 10.0, "y": 10.0}, {"x": 20.0, "y": 500.0}]},
            _move_npc,
            NPCS,
        ),
        case("quantized spawn", {"npcs": [{"x": 10.0, "y": 10.0}]}, _spawn_npc, NPCS),
        case(
            "float32 fields",
            {"ships": {"s1": {"angle": 0.25, "name": "a"}}, "speed": 1.0},
            _steer,
            ANGLES,
        ),
        case(
            "grouped map: three players moved, one hit",
            {
                "players": {
                    key: {"x": 10.0 * n, "y": 20.0 * n, "hp": 3}
                    for n, key in enumerate("abcd", start=1)
                }
            },
            _move_players,
            MOVERS,
        ),
        case(
            "grouped list: two NPCs moved, two logged",
            {
                "npcs": [
                    {"x": 1.0, "y": 2.0, "log": []},
                    {"x": 3.0, "y": 4.0, "log": []},
                    {"x": 5.0, "y": 6.0, "log": ["a"]},
                    {"x": 7.0, "y": 8.0, "log": []},
                ]
            },
            _move_npcs_and_log,
            MOVERS,
        ),
        case(
            "hash sorts keys by code point",
            {"Z": 1, "a": 2, "é": 3},
            lambda s: s.update({"\uff71": 4, "\U0001f600": 5, "speed": 2.0}),
        ),
    ]


def render() -> str:
    """The file's contents."""
    return json.dumps(vectors(), indent=2, ensure_ascii=True) + "\n"


def main() -> None:
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
