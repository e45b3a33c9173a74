/** Prediction and reconciliation of the local player. */

import assert from "node:assert/strict";
import test from "node:test";

import { Predictor, deepEqual, replay } from "../prediction.js";

/**
 * One step per input, as the arena moves a body.
 * @param {{x: number}} body
 * @param {{dx: number}} input
 */
function step(body, input) {
  body.x += input.dx;
  return body;
}

test("inputs move the prediction at once", () => {
  const predictor = new Predictor(step, { x: 0 });
  predictor.input(1, { dx: 1 });
  predictor.input(2, { dx: 1 });
  assert.deepEqual(predictor.predicted, { x: 2 });
  assert.equal(predictor.pending.size, 2);
});

test("a state drops the acknowledged inputs and replays the rest on top", () => {
  const predictor = new Predictor(step, { x: 0 });
  for (let seq = 1; seq <= 3; seq++) predictor.input(seq, { dx: 1 });
  predictor.reconcile({ x: 1 }, 1);
  assert.deepEqual(predictor.predicted, { x: 3 });
  assert.deepEqual([...predictor.pending.keys()], [2, 3]);
  assert.equal(predictor.corrections, 0);
});

test("a misprediction corrects itself and is counted", () => {
  const predictor = new Predictor(step, { x: 0 });
  for (let seq = 1; seq <= 3; seq++) predictor.input(seq, { dx: 1 });
  predictor.reconcile({ x: 10 }, 2); // the server says x = 10 after input 2, not 2
  assert.deepEqual(predictor.predicted, { x: 11 });
  assert.equal(predictor.corrections, 1);
});

test("the server's state is never changed by the replay", () => {
  const predictor = new Predictor(step, { x: 0 });
  predictor.input(1, { dx: 1 });
  const server = { x: 0 };
  predictor.reconcile(server, 0);
  assert.deepEqual(server, { x: 0 });
  assert.deepEqual(replay(server, [{ dx: 1 }, { dx: 1 }], step), { x: 2 });
  assert.deepEqual(server, { x: 0 });
});

test("at most maxPending inputs are kept", () => {
  const predictor = new Predictor(step, { x: 0 }, { maxPending: 2 });
  for (let seq = 1; seq <= 5; seq++) predictor.input(seq, { dx: 1 });
  assert.deepEqual([...predictor.pending.keys()], [4, 5]);
});

test("reset starts again from a state", () => {
  const predictor = new Predictor(step, { x: 0 });
  predictor.input(1, { dx: 1 });
  predictor.reset({ x: 50 });
  assert.deepEqual(predictor.predicted, { x: 50 });
  assert.equal(predictor.pending.size, 0);
});

test("deepEqual compares plain data", () => {
  assert.ok(deepEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }));
  assert.ok(!deepEqual({ a: [1] }, { a: [2] }));
  assert.ok(!deepEqual({ a: 1 }, { a: 1, b: 2 }));
  assert.ok(!deepEqual([1], { 0: 1 }));
  assert.ok(!deepEqual(null, {}));
});
