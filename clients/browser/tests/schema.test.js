/** Schema patterns: the most specific declaration wins, and malformed schemas are refused. */

import assert from "node:assert/strict";
import test from "node:test";

import { Float32, PatchError, Quantized, Schema, roundHalfEven } from "../schema.js";

test("an exact key beats the wildcard, comparing from the last part back", () => {
  const schema = Schema.fromWire([
    [[null, null, "x"], 1, 1],
    [["players", null, "x"], 1, 0.5],
    [["players", "boss", null], 2, null],
  ]);
  assert.equal(/** @type {Quantized} */ (schema.precisionAt(["npcs", 0, "x"])).step, 1);
  assert.equal(/** @type {Quantized} */ (schema.precisionAt(["players", "a", "x"])).step, 0.5);
  // ("players", "boss", "x"): "x" exact beats "*" at the last part
  assert.equal(/** @type {Quantized} */ (schema.precisionAt(["players", "boss", "x"])).step, 0.5);
  assert.ok(schema.precisionAt(["players", "boss", "hp"]) instanceof Float32);
  assert.equal(schema.precisionAt(["players", "a", "y"]), null);
  assert.equal(schema.precisionAt([]), null);
});

test("a later declaration of the same pattern replaces the earlier one", () => {
  const schema = Schema.fromWire([
    [["x"], 1, 1],
    [["x"], 1, 0.25],
  ]);
  assert.equal(schema.fields.length, 1);
  assert.equal(/** @type {Quantized} */ (schema.precisionAt(["x"])).step, 0.25);
});

/** @type {Array<[string, unknown, RegExp]>} */
const MALFORMED = [
  ["not a list", {}, /schema must be a list/],
  ["an entry of two", [[["x"], 1]], /entries are/],
  ["a path that is no list", [["x", 1, 1]], /entries are/],
  ["an empty path", [[[], 1, 1]], /bad schema pattern/],
  ["an empty key", [[[""], 1, 1]], /bad schema pattern/],
  ["an unknown kind", [[["x"], 4, null]], /unknown precision kind/],
  ["a zero step", [[["x"], 1, 0]], /positive finite/],
];

for (const [name, wire, message] of MALFORMED) {
  test(`refuses a schema with ${name}`, () => {
    assert.throws(() => Schema.fromWire(wire), (/** @type {any} */ error) => {
      assert.ok(error instanceof PatchError);
      assert.match(error.message, message);
      return true;
    });
  });
}

test("quantised values round as Python rounds (halves to even)", () => {
  assert.equal(roundHalfEven(0.5), 0);
  assert.equal(roundHalfEven(1.5), 2);
  assert.equal(roundHalfEven(-0.5), 0);
  assert.equal(roundHalfEven(-1.5), -2);
  assert.equal(roundHalfEven(2.4), 2);
  assert.equal(new Quantized(1 / 16).normalize(100.03), 100.0);
  assert.equal(new Quantized(1 / 16).normalize(100.04), 100.0625);
  assert.equal(new Float32().normalize(0.1), Math.fround(0.1));
});

test("kind 3 is a relative quantised field", () => {
  const precision = /** @type {Quantized} */ (Schema.fromWire([[["x"], 3, 0.5]]).precisionAt(["x"]));
  assert.ok(precision instanceof Quantized);
  assert.equal(precision.relative, true);
  assert.equal(precision.step, 0.5);
  assert.equal(precision.toWire(1.5), 3);
});
