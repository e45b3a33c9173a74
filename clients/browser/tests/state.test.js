/**
 * Full states and deltas against tests/vectors/diff_vectors.json (written by protocol/diff.py's
 * tracker), the canonical hash, and the delta grammar's refusals.
 */

import assert from "node:assert/strict";
import test from "node:test";

import { decodeFrames, fromHex } from "../codec.js";
import { PatchError, Schema } from "../schema.js";
import {
  applyDelta,
  canonicalBytes,
  compareCodePoints,
  decodeState,
  stateHash,
  touches,
} from "../state.js";
import { loadVectors } from "./vectors.js";

const cases = loadVectors("diff_vectors.json");

/**
 * The delta of a case as the wire carries it: the PATCH body decoded by the codec.
 * @param {string} deltaHex
 */
function wireDelta(deltaHex) {
  // PATCH(tick=2, baseline=1, last_seq=0, delta=<the case's bytes>)
  return decodeFrames(fromHex(`4294020100${deltaHex}`))[0].delta;
}

test("there are diff vectors to run", () => {
  assert.ok(cases.length >= 20);
});

for (const vector of cases) {
  test(`applies: ${vector.name}`, async () => {
    const schema = Schema.fromWire(vector.schema);
    const state = structuredClone(vector.before);
    /** @type {Array<Array<string | number>>} */
    const changes = [];
    applyDelta(state, wireDelta(vector.delta_hex), schema, changes);
    assert.deepEqual(state, vector.after);
    assert.equal(await stateHash(state), vector.after_hash);
    if (vector.name !== "no change") assert.ok(changes.length > 0);
  });

  test(`applies the JSON form alike: ${vector.name}`, () => {
    const state = structuredClone(vector.before);
    applyDelta(state, structuredClone(vector.delta), Schema.fromWire(vector.schema));
    assert.deepEqual(state, vector.after);
  });
}

test("the hash examples of docs/protocol.md", async () => {
  assert.equal(await stateHash({}), "76be8b528d0075f7");
  assert.equal(await stateHash({ a: 1 }), "ac22adafdfd6421b");
});

test("integral floats and -0 hash like integers", async () => {
  assert.equal(await stateHash({ a: 1.0, b: -0 }), await stateHash({ a: 1, b: 0 }));
  assert.deepEqual([...canonicalBytes({ b: -0 })], [0x81, 0xa1, 0x62, 0x00]);
});

test("canonical integers take their shortest encoding", () => {
  const hex = (/** @type {unknown} */ value) => Buffer.from(canonicalBytes(value)).toString("hex");
  assert.equal(hex(127), "7f");
  assert.equal(hex(128), "cc80");
  assert.equal(hex(256), "cd0100");
  assert.equal(hex(65536), "ce00010000");
  assert.equal(hex(2 ** 32), "cf0000000100000000");
  assert.equal(hex(-32), "e0");
  assert.equal(hex(-33), "d0df");
  assert.equal(hex(-129), "d1ff7f");
  assert.equal(hex(-32769), "d2ffff7fff");
  assert.equal(hex(-(2 ** 31) - 1), "d3ffffffff7fffffff");
  assert.equal(hex(0.5), "cb3fe0000000000000");
  assert.equal(hex("x".repeat(40)), `d928${"78".repeat(40)}`);
});

test("keys sort by code point, not by UTF-16 unit", () => {
  const keys = ["\uff71", "\u{1f600}", "a", "Z", "é"];
  assert.deepEqual(keys.sort(compareCodePoints), ["Z", "a", "é", "\uff71", "\u{1f600}"]);
  assert.ok(compareCodePoints("ab", "abc") < 0);
  assert.equal(compareCodePoints("same", "same"), 0);
});

test("a full state is decoded with its schema's precision", () => {
  const schema = Schema.fromWire([[["players", null, "x"], 1, 0.0625]]);
  const state = decodeState({ players: { a: { x: 1608, name: "ann" } }, round: 1 }, schema);
  assert.deepEqual(state, { players: { a: { x: 100.5, name: "ann" } }, round: 1 });
});

test("the docs' worked example: a PATCH moving one NPC", () => {
  const hex = "42 94 cd 04 b2 cd 04 b1 07 81 a4 6e 70 63 73 93 02 03 81 02 82 a1 78 cd 06 48 a1 79 cd 01 44";
  const frame = decodeFrames(fromHex(hex.replaceAll(" ", "")))[0];
  assert.deepEqual(frame.delta, { npcs: [2, 3, { 2: { x: 1608, y: 324 } }] });
  const schema = Schema.fromWire([
    [["npcs", null, "x"], 1, 0.0625],
    [["npcs", null, "y"], 1, 0.0625],
  ]);
  const state = { npcs: [{ x: 10, y: 10 }, { x: 20, y: 30 }, { x: 100, y: 20 }] };
  applyDelta(state, frame.delta, schema);
  assert.deepEqual(state.npcs[2], { x: 100.5, y: 20.25 });
});

test("the docs' worked example: a PATCH moving two players (a group)", () => {
  const hex =
    "42 94 cd 04 b2 cd 04 b1 07 81 a7 70 6c 61 79 65 72 73 93 03 80 97 92 a1 78 a1 79 a1 61 20 f0 a1 62 e8 10";
  const frame = decodeFrames(fromHex(hex.replaceAll(" ", "")))[0];
  assert.deepEqual(frame.delta, { players: [3, {}, [["x", "y"], "a", 32, -16, "b", -24, 16]] });
  const schema = Schema.fromWire([
    [["players", null, "x"], 3, 0.0625],
    [["players", null, "y"], 3, 0.0625],
  ]);
  const state = { players: { a: { x: 100, y: 50 }, b: { x: 20, y: 30 } } };
  applyDelta(state, frame.delta, schema);
  assert.deepEqual(state.players, { a: { x: 102, y: 49 }, b: { x: 18.5, y: 31 } });
});

/**
 * Refusals only a JS receiver can meet (the shared ones are tests/vectors/delta_refusals.json).
 * @type {Array<[string, Record<string, any>, unknown, RegExp]>}
 */
const REFUSED = [
  ["a delta that is not a map", {}, [1], /a delta must be a map/],
  ["bytes in state", {}, { a: new Uint8Array([1]) }, /cannot hold a bytes/],
];

const refusals = loadVectors("delta_refusals.json");

test("there are shared refusals to run", () => {
  assert.ok(refusals.length >= 40);
});

for (const vector of refusals) {
  test(`refuses, as every receiver does: ${vector.name}`, () => {
    const delta = wireDelta(vector.delta_hex);
    assert.throws(() => applyDelta(structuredClone(vector.before), delta), (/** @type {any} */ error) => {
      assert.ok(error instanceof PatchError);
      assert.equal(error.message, vector.message);
      return true;
    });
  });
}

for (const [name, before, delta, message] of REFUSED) {
  test(`refuses ${name}`, () => {
    assert.throws(() => applyDelta(structuredClone(before), delta), (/** @type {any} */ error) => {
      assert.ok(error instanceof PatchError);
      assert.match(error.message, message);
      return true;
    });
  });
}

test("groups apply the same fields to each key and report each path", () => {
  const schema = Schema.fromWire([
    [["p", null, "x"], 3, 0.0625],
    [["l", null, "x"], 1, 0.0625],
  ]);
  const state = {
    p: { a: { x: 1, hp: 3 }, b: { x: 2, hp: 3 }, c: { x: 0 } },
    l: [{ x: 0, tag: "a" }, { x: 0, tag: "b" }],
  };
  /** @type {Array<Array<string | number>>} */
  const changes = [];
  applyDelta(
    state,
    {
      p: [3, { c: [0] }, [["x", "hp"], "a", 16, 2, "b", -8, [0]]],
      l: [2, 2, {}, [["x", "tag"], 0, 32, "c", 1, 48, "d"]],
    },
    schema,
    changes,
  );
  assert.deepEqual(state, {
    p: { a: { x: 2, hp: 2 }, b: { x: 1.5 } },
    l: [{ x: 2, tag: "c" }, { x: 3, tag: "d" }],
  });
  assert.deepEqual(changes, [
    ["p", "c"],
    ["p", "a", "x"],
    ["p", "a", "hp"],
    ["p", "b", "x"],
    ["p", "b", "hp"],
    ["l", 0, "x"],
    ["l", 0, "tag"],
    ["l", 1, "x"],
    ["l", 1, "tag"],
  ]);
});

test("REPLACE accepts any whole value", () => {
  const state = { a: 1, b: 2 };
  applyDelta(state, { a: [1, 5], b: [1, null] });
  assert.deepEqual(state, { a: 5, b: null });
});

test("a relative quantised field adds the change of its count", () => {
  const schema = Schema.fromWire([[["npcs", null, "x"], 3, 0.0625]]);
  const state = { npcs: [{ x: 10 }, { x: 20 }] };
  applyDelta(state, { npcs: [2, 2, { 1: { x: -32 } }] }, schema);
  assert.deepEqual(state.npcs[1], { x: 18 });
  applyDelta(state, { npcs: [2, 3, { 2: [1, { x: 160 }] }] }, schema); // a new item: whole
  assert.deepEqual(state.npcs[2], { x: 10 });
  delete state.npcs[0].x;
  applyDelta(state, { npcs: [2, 3, { 0: { x: [1, 32] } }] }, schema); // no number to change: whole
  assert.deepEqual(state.npcs[0], { x: 2 });
  assert.throws(
    () => applyDelta({ npcs: [{ x: "far" }] }, { npcs: [2, 1, { 0: { x: 1 } }] }, schema),
    /a relative change needs a number/,
  );
});

test("a quantised field must travel as an integer", () => {
  const schema = Schema.fromWire([[["x"], 1, 0.5]]);
  assert.throws(() => applyDelta({ x: 0 }, { x: 1.5 }, schema), /must travel as an integer/);
});

test("touches: a change at a path or above it, or below it", () => {
  assert.ok(touches([], ["players", "a"]));
  assert.ok(touches(["players"], ["players", "a", "x"]));
  assert.ok(touches(["players", "a", "x"], ["players"]));
  assert.ok(touches(["npcs", 2], ["npcs", "2"]));
  assert.ok(!touches(["npcs"], ["players"]));
});
