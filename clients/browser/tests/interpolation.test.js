/** The interpolation buffer: entities drawn between two states, a little in the past. */

import assert from "node:assert/strict";
import test from "node:test";

import { InterpolationBuffer } from "../interpolation.js";

const TICK = 50; // ms per tick at 20 ticks per second

/**
 * A buffer fed ticks 0..last on time, entity "a" at x = 10 * tick.
 * @param {number} last
 * @param {object} [options]
 */
function steady(last, options = {}) {
  const buffer = new InterpolationBuffer({ tickRate: 20, ...options });
  for (let tick = 0; tick <= last; tick++) buffer.push(tick, { a: { x: 10 * tick } }, 1000 + tick * TICK);
  return buffer;
}

test("nothing to draw before the first state", () => {
  const buffer = new InterpolationBuffer({ tickRate: 20 });
  assert.equal(buffer.renderTick(0), null);
  assert.equal(buffer.sample(0).size, 0);
});

test("with a perfect network it renders two ticks behind the newest state", () => {
  const buffer = steady(10);
  assert.equal(buffer.delay, 2 * TICK);
  assert.equal(buffer.renderTick(1000 + 10 * TICK), 8);
  assert.deepEqual(buffer.sample(1000 + 10 * TICK).get("a"), { x: 80 });
});

test("between two states it interpolates", () => {
  const buffer = steady(10);
  const halfway = 1000 + 10 * TICK + TICK / 2; // render tick 8.5
  assert.deepEqual(buffer.sample(halfway).get("a"), { x: 85 });
});

test("past the newest state it holds the newest; before the oldest, the oldest", () => {
  const buffer = steady(10);
  assert.deepEqual(buffer.sample(1000 + 100 * TICK).get("a"), { x: 100 });
  assert.deepEqual(buffer.sample(0).get("a"), { x: 0 });
});

test("jitter pushes the render time further back, up to the maximum", () => {
  const buffer = new InterpolationBuffer({ tickRate: 20 });
  for (let tick = 0; tick <= 40; tick++) {
    const late = tick % 2 ? 40 : 0; // every other state arrives 40 ms late
    buffer.push(tick, { a: { x: tick } }, 1000 + tick * TICK + late);
  }
  assert.ok(buffer.jitter > 10, `jitter ${buffer.jitter}`);
  assert.ok(buffer.delay > 2 * TICK);
  assert.ok(buffer.delay <= 10 * TICK);
});

test("old or repeated ticks are ignored", () => {
  const buffer = steady(5);
  buffer.push(3, { a: { x: -1 } }, 5000);
  buffer.push(5, { a: { x: -1 } }, 5000);
  assert.equal(buffer.snapshots.length, 6);
});

test("an entity in only one of the two states is taken from the one that has it", () => {
  const buffer = new InterpolationBuffer({ tickRate: 20, delayTicks: 0 });
  buffer.push(0, { a: { x: 0 }, gone: { x: 5 } }, 1000);
  buffer.push(1, { a: { x: 10 }, new: { x: 7 } }, 1000 + TICK);
  const sample = buffer.sample(1000 + TICK / 2);
  assert.deepEqual(sample.get("a"), { x: 5 });
  assert.deepEqual(sample.get("gone"), { x: 5 });
  assert.deepEqual(sample.get("new"), { x: 7 });
});

test("the buffer keeps at most `capacity` states, and clear() forgets them", () => {
  const buffer = steady(100, { capacity: 8 });
  assert.equal(buffer.snapshots.length, 8);
  assert.equal(buffer.snapshots[0].tick, 93);
  buffer.clear();
  assert.equal(buffer.sample(9999).size, 0);
});

test("a Map of entities works as well as an object", () => {
  const buffer = new InterpolationBuffer({ tickRate: 20 });
  buffer.push(0, new Map([["a", { x: 1 }]]), 0);
  assert.deepEqual(buffer.sample(0).get("a"), { x: 1 });
});

test("bad settings are refused", () => {
  assert.throws(() => new InterpolationBuffer({ tickRate: 0 }), RangeError);
  assert.throws(() => new InterpolationBuffer({ tickRate: 20, capacity: 1 }), RangeError);
});
