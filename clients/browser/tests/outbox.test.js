/** Outgoing frames are batched per turn, in messages no larger than the server accepts. */

import assert from "node:assert/strict";
import test from "node:test";

import { CLIENT_MAX_SIZE, decodeFrames, encodeFrame } from "../codec.js";
import { InputQueue } from "../inputs.js";
import { Outbox } from "../outbox.js";

/** A socket that records what it is sent. */
function recorder() {
  return { readyState: 1, /** @type {Uint8Array[]} */ sent: [], send(/** @type {Uint8Array} */ data) { this.sent.push(data); } };
}

test("frames written in one turn go out together, split at the size limit", async () => {
  const socket = recorder();
  const stats = { bytesOut: 0, messagesOut: 0 };
  const outbox = new Outbox(() => /** @type {any} */ (socket), stats);
  const frames = Array.from({ length: 40 }, (_, seq) =>
    encodeFrame({ type: "input", seq: seq + 1, payload: "x".repeat(200) }),
  );
  for (const frame of frames) outbox.push(frame);
  assert.equal(socket.sent.length, 0, "nothing before the end of the turn");
  await Promise.resolve();
  assert.ok(socket.sent.length >= 2);
  assert.ok(socket.sent.every((message) => message.length <= CLIENT_MAX_SIZE));
  const decoded = socket.sent.flatMap((message) => decodeFrames(message, { maxSize: CLIENT_MAX_SIZE }));
  assert.deepEqual(
    decoded.map((message) => message.seq),
    Array.from({ length: 40 }, (_, i) => i + 1),
  );
  assert.equal(stats.messagesOut, socket.sent.length);
  assert.equal(stats.bytesOut, frames.reduce((total, frame) => total + frame.length, 0));
});

test("frames wait while there is no open socket", () => {
  /** @type {any} */
  let socket = null;
  const outbox = new Outbox(() => socket, { bytesOut: 0, messagesOut: 0 });
  outbox.push(encodeFrame({ type: "ack", tick: 1 }));
  outbox.flush();
  socket = recorder();
  outbox.flush();
  assert.equal(socket.sent.length, 1);
});

test("inputs are paced per state frame and due again after a rewind", () => {
  const inputs = new InputQueue(2, 3);
  for (let i = 0; i < 4; i++) inputs.add({ dx: i });
  assert.deepEqual([...inputs.unacked.keys()], [2, 3, 4], "at most maxUnacked kept");
  assert.deepEqual(inputs.due().map(([seq]) => seq), [2, 3]);
  assert.deepEqual(inputs.due(), []);
  inputs.acknowledge(2);
  assert.deepEqual(inputs.due().map(([seq]) => seq), [4]);
  inputs.rewind(2);
  assert.deepEqual(inputs.due().map(([seq]) => seq), [3, 4]);
});
