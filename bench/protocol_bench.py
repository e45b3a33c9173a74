"""Protocol costs: frame encode/decode times, state patch sizes, and the tracker's cost per tick.

    python -m bench.protocol_bench [--quick] [--json bench/results/protocol.json]

Three tables:

- ``messages``: µs to encode and to decode one frame of each message type (realistic values;
  FULL_STATE and PATCH carry the 100-NPC state below), and what ``StateFrame.for_member`` costs
  per member next to encoding the same PATCH from scratch.
- ``state``: 100 NPCs in a list under ``"npcs"``, each ``{"x", "y"}`` in 0..1000, 20 of them
  moving each tick; the full-state size, the patch size per tick and per changed NPC, for plain
  floats (float64), ``Float32``, ``Quantized(1/16)`` and relative ``Quantized(1/16,
  relative=True)`` positions (the arena's: a patch sends the change), with the same change sent as
  JSON (the delta with float values, and the whole state as a naive server sends every tick).
  "per changed" divides the whole patch body by the NPCs that changed (the verdict's figure);
  "per entity" leaves out the patch's fixed overhead (its key, list-edit header and map header,
  and each group's header and field names: entities that moved on the same axes travel as one
  group, see docs/protocol.md).
- ``tracker``: µs per tick for the 20 moves, the commit and ``encode_delta``.

The issue's target is at most 12 bytes per changed 2-D entity with quantised positions, judged on
the relative row; the table says PASS or FAIL against it. Prints the tables and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import timeit
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import msgpack

from protocol.codec import CLIENT_MAX_SIZE, StateFrame, decode, encode
from protocol.codes import PROTOCOL_VERSION
from protocol.diff import StateTracker
from protocol.messages import (
    Ack,
    AppMessage,
    Error,
    FullState,
    Input,
    Join,
    Leave,
    Message,
    Patch,
    Ping,
    Pong,
    Reconnect,
    Request,
    Response,
    Welcome,
)
from protocol.schema import Float32, Quantized, Schema

TARGET_BYTES_PER_ENTITY = 12
ENTITIES = 100
CHANGED_PER_TICK = 20
PRECISIONS: dict[str, Schema] = {
    "float64": Schema(),
    "float32": Schema({"npcs.*.x": Float32(), "npcs.*.y": Float32()}),
    "quantized 1/16": Schema({"npcs.*.x": Quantized(1 / 16), "npcs.*.y": Quantized(1 / 16)}),
    "relative 1/16": Schema(
        {
            "npcs.*.x": Quantized(1 / 16, relative=True),
            "npcs.*.y": Quantized(1 / 16, relative=True),
        }
    ),
}
QUANTIZED = "quantized 1/16"
RELATIVE = "relative 1/16"
"""The row the target is judged on: the most compact quantised form (the arena's)."""

Moves = list[list[tuple[int, float, float]]]


def npc_world(seed: int, ticks: int) -> tuple[list[dict[str, float]], Moves]:
    """The NPCs at tick 0 and, for each later tick, the 20 NPCs that move and where to."""
    rng = random.Random(seed)
    npcs = [{"x": rng.uniform(0, 1000), "y": rng.uniform(0, 1000)} for _ in range(ENTITIES)]
    where = [(npc["x"], npc["y"]) for npc in npcs]
    moves: Moves = []
    for _ in range(ticks):
        step = []
        for index in sorted(rng.sample(range(ENTITIES), CHANGED_PER_TICK)):
            x, y = where[index]
            x = min(1000.0, max(0.0, x + rng.uniform(-8, 8)))
            y = min(1000.0, max(0.0, y + rng.uniform(-8, 8)))
            where[index] = (x, y)
            step.append((index, x, y))
        moves.append(step)
    return npcs, moves


def _per_call_us(func: Callable[[], object], number: int, repeat: int) -> float:
    return min(timeit.repeat(func, number=number, repeat=repeat)) / number * 1e6


def _overhead(body: bytes) -> int:
    """Bytes of a ``{"npcs": [2, 100, {...}, group...]}`` patch that do not belong to one NPC:
    the key and list-edit header, the entries map's header, each group's header and fields."""
    _, _, entries, *groups = msgpack.unpackb(body, strict_map_key=False)["npcs"]
    empty = len(msgpack.packb({"npcs": [2, ENTITIES, {}]}))
    count = len(entries)
    overhead = empty + (0 if count <= 15 else 2 if count <= 0xFFFF else 4)
    for group in groups:
        members = sum(len(msgpack.packb(item)) for item in group[1:])
        overhead += len(msgpack.packb(group)) - members  # its array header and field names
    return overhead


def bench_state(ticks: int, number: int, repeat: int) -> dict[str, Any]:
    """Sizes of full states and patches per precision, their JSON equivalents, tracker cost."""
    npcs, moves = npc_world(seed=7, ticks=ticks)
    rows: list[dict[str, Any]] = []
    json_delta = json_full = 0
    for name, schema in PRECISIONS.items():
        tracker = StateTracker({"npcs": npcs}, schema=schema)
        full_bytes = len(tracker.encode_full())
        patch_bytes = changed = entity_bytes = 0
        for tick, step in enumerate(moves, start=1):
            before = tracker.snapshot()["npcs"]
            for index, x, y in step:
                npc = tracker.state["npcs"][index]
                npc["x"] = x
                npc["y"] = y
            tracker.commit(tick)
            body = tracker.encode_delta(tick - 1)
            assert body is not None
            moved = sum(1 for a, b in zip(before, tracker.state["npcs"], strict=True) if a != b)
            patch_bytes += len(body)
            changed += moved
            entity_bytes += len(body) - _overhead(body)
            if name == "float64":
                json_delta += len(json.dumps(tracker.delta(tick - 1), separators=(",", ":")))
                json_full += len(json.dumps(tracker.snapshot(), separators=(",", ":")))
        rows.append(
            {
                "precision": name,
                "full_state_bytes": full_bytes,
                "patch_bytes_per_tick": patch_bytes / ticks,
                "changed_per_tick": changed / ticks,
                "bytes_per_changed_entity": patch_bytes / changed,
                "bytes_per_entity_without_overhead": entity_bytes / changed,
                "tracker_us_per_tick": bench_tracker(schema, npcs, moves, number, repeat),
            }
        )
    quantized = next(row for row in rows if row["precision"] == QUANTIZED)
    return {
        "entities": ENTITIES,
        "moving_per_tick": CHANGED_PER_TICK,
        "ticks": ticks,
        "rows": rows,
        "json": {
            "delta_bytes_per_tick": json_delta / ticks,
            "naive_full_state_bytes_per_tick": json_full / ticks,
            "delta_vs_quantized_patch": json_delta / ticks / quantized["patch_bytes_per_tick"],
            "naive_vs_quantized_patch": json_full / ticks / quantized["patch_bytes_per_tick"],
        },
    }


def bench_tracker(
    schema: Schema, npcs: list[dict[str, float]], moves: Moves, number: int, repeat: int
) -> float:
    """µs per tick: 20 NPCs moved, the commit, and the patch encoded."""
    best = float("inf")
    for _ in range(repeat):
        tracker = StateTracker({"npcs": npcs}, schema=schema)
        state_npcs = tracker.state["npcs"]
        script = [moves[tick % len(moves)] for tick in range(number)]
        clock = timeit.default_timer
        started = clock()
        for tick, step in enumerate(script, start=1):
            for index, x, y in step:
                npc = state_npcs[index]
                npc["x"] = x + tick % 2  # never equal to the last write: every move counts
                npc["y"] = y
            tracker.commit(tick)
            tracker.encode_delta(tick - 1)
        best = min(best, (clock() - started) / number * 1e6)
    return best


def sample_messages() -> list[Message]:
    """One realistic message of each type; state frames carry the quantised 100-NPC world."""
    schema = PRECISIONS[QUANTIZED]
    npcs, moves = npc_world(seed=7, ticks=1)
    tracker = StateTracker({"npcs": npcs}, schema=schema, tick=1201)
    full = tracker.full_state()
    for index, x, y in moves[0]:
        tracker.state["npcs"][index].update(x=x, y=y)
    tracker.commit(1202)
    delta = tracker.delta(1201)
    assert delta is not None
    return [
        Join(PROTOCOL_VERSION, "seat-4f2a9c1e77d04b1f"),
        Reconnect(PROTOCOL_VERSION, "rt-2c9d1f0a66e34c8b", 1201),
        Leave(),
        Input(1234, {"dx": 1, "dy": -1, "fire": True}),
        Ack(1202),
        AppMessage("chat", {"text": "gg wp"}),
        Request(7, "buy", {"item": "sword", "qty": 1}),
        Ping(1733140000123.5),
        Pong(1733140000123.5, 1733140000125.25),
        Welcome(1, "room-1", "sess-1", "rt-2c9d1f0a66e34c8b", 30.0, 1, 1201, 0, schema.wire()),
        FullState(1201, 7, full),
        Patch(1202, 1201, 7, delta),
        Response(7, 0, {"ok": True, "gold": 90}),
        Error(3, "not allowed now"),
    ]


def bench_messages(number: int, repeat: int) -> dict[str, Any]:
    """Encode and decode µs per message type, and StateFrame.for_member against encode."""
    rows = []
    patch: Patch | None = None
    for message in sample_messages():
        frame = encode(message)
        rows.append(
            {
                "type": message.NAME,
                "bytes": len(frame),
                "encode_us": _per_call_us(partial(encode, message), number, repeat),
                "decode_us": _per_call_us(partial(decode, frame, CLIENT_MAX_SIZE), number, repeat),
            }
        )
        if isinstance(message, Patch):
            patch = message
    assert patch is not None
    shared = StateFrame(patch.tick, patch.baseline, msgpack.packb(patch.delta))
    assert shared.for_member(patch.last_seq) == encode(patch)
    return {
        "rows": rows,
        "state_frame": {
            "patch_bytes": len(encode(patch)),
            "for_member_us": _per_call_us(lambda: shared.for_member(300), number, repeat),
            "encode_patch_us": _per_call_us(lambda: encode(patch), number, repeat),
        },
    }


def print_report(report: dict[str, Any]) -> None:
    messages, state = report["messages"], report["state"]
    print("messages (µs per frame)")
    print(f"{'type':<11} {'bytes':>6} {'encode':>8} {'decode':>8}")
    for row in messages["rows"]:
        print(
            f"{row['type']:<11} {row['bytes']:>6} {row['encode_us']:>8.2f} {row['decode_us']:>8.2f}"
        )
    frame = messages["state_frame"]
    print(
        f"StateFrame.for_member: {frame['for_member_us']:.2f} µs per member, against "
        f"{frame['encode_patch_us']:.2f} µs to encode the {frame['patch_bytes']}-byte PATCH"
    )
    print()
    print(
        f"state: {state['entities']} NPCs, {state['moving_per_tick']} moving per tick, "
        f"{state['ticks']} ticks"
    )
    print(
        f"{'precision':<15} {'full B':>7} {'patch B/tick':>13} {'B/changed':>10} "
        f"{'B/entity':>9} {'tracker µs/tick':>16}"
    )
    for row in state["rows"]:
        print(
            f"{row['precision']:<15} {row['full_state_bytes']:>7} "
            f"{row['patch_bytes_per_tick']:>13.1f} {row['bytes_per_changed_entity']:>10.2f} "
            f"{row['bytes_per_entity_without_overhead']:>9.2f} "
            f"{row['tracker_us_per_tick']:>16.1f}"
        )
    as_json = state["json"]
    print(
        f"as JSON: delta {as_json['delta_bytes_per_tick']:.0f} B/tick "
        f"({as_json['delta_vs_quantized_patch']:.1f}x the quantised patch); naive full state "
        f"{as_json['naive_full_state_bytes_per_tick']:.0f} B/tick "
        f"({as_json['naive_vs_quantized_patch']:.1f}x)"
    )
    verdict = report["pass"]
    figure = report["quantized_bytes_per_changed_entity"]
    print(
        f"target: <= {TARGET_BYTES_PER_ENTITY} B per changed 2-D entity, quantised: "
        f"{figure:.2f} B (whole patch / changed NPCs): "
        f"{'PASS' if verdict['bytes_per_changed_entity'] else 'FAIL'}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the tables, write the JSON. Exit 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="few repetitions (for tests)")
    parser.add_argument("--json", type=Path, default=Path("bench/results/protocol.json"))
    args = parser.parse_args(argv)
    number, repeat, ticks = (50, 1, 10) if args.quick else (2000, 5, 200)

    state = bench_state(ticks, number, repeat)
    judged = next(row for row in state["rows"] if row["precision"] == RELATIVE)
    figure = judged["bytes_per_changed_entity"]
    report = {
        "benchmark": "protocol",
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "quick": args.quick,
        "messages": bench_messages(number, repeat),
        "state": state,
        "quantized_bytes_per_changed_entity": figure,
        "target": {"bytes_per_changed_entity": TARGET_BYTES_PER_ENTITY},
        "pass": {"bytes_per_changed_entity": figure <= TARGET_BYTES_PER_ENTITY},
    }
    print_report(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
