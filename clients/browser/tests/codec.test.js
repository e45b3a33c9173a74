/**
 * The frame codec against tests/vectors/protocol_vectors.json: every message decodes to its JSON
 * form, client messages encode to the exact bytes, and every invalid frame is refused with the
 * close code and the reason the Python receiver gives.
 */

import assert from "node:assert/strict";
import test from "node:test";

import { CloseCode, PROTOCOL_VERSION } from "../codes.js";
import {
  ProtocolError,
  decodeFrames,
  encodeFrame,
  encodeFrames,
  fromHex,
  toHex,
} from "../codec.js";
import { loadVectors } from "./vectors.js";

const vectors = loadVectors("protocol_vectors.json");

/** Vectors whose message has integer map keys (list edits), which a JS object cannot encode. */
const INTEGER_KEYS = new Set(["patch with a list edit and a delete"]);

test("the vectors are for this protocol version", () => {
  assert.equal(vectors.protocol_version, PROTOCOL_VERSION);
  assert.ok(vectors.messages.length >= 20);
  assert.ok(vectors.invalid.length >= 20);
});

for (const vector of vectors.messages) {
  test(`decodes: ${vector.name}`, () => {
    const messages = decodeFrames(fromHex(vector.hex));
    assert.equal(messages.length, 1);
    assert.deepEqual(messages[0], vector.message);
  });

  if (!INTEGER_KEYS.has(vector.name)) {
    test(`encodes: ${vector.name}`, () => {
      assert.equal(toHex(encodeFrame(vector.message)), vector.hex);
    });
  }
}

test("a message of several frames decodes to each of them, in order", () => {
  const all = vectors.messages.map((/** @type {any} */ vector) => vector.hex).join("");
  const decoded = decodeFrames(fromHex(all));
  assert.deepEqual(
    decoded,
    vectors.messages.map((/** @type {any} */ vector) => vector.message),
  );
});

test("encodeFrames writes frames back to back", () => {
  const join = vectors.messages.find((/** @type {any} */ v) => v.name === "join");
  const ack = vectors.messages.find((/** @type {any} */ v) => v.name === "ack");
  assert.equal(toHex(encodeFrames([join.message, ack.message])), join.hex + ack.hex);
});

for (const vector of vectors.invalid) {
  test(`refuses: ${vector.name}`, () => {
    assert.throws(
      () => decodeFrames(fromHex(vector.hex), { maxSize: vectors.max_size }),
      (/** @type {unknown} */ error) => {
        assert.ok(error instanceof ProtocolError);
        assert.equal(error.closeCode, vector.close_code);
        // The reason is the Python receiver's wording (only the close code is protocol).
        assert.equal(error.message.replaceAll('"', "'"), vector.error.replaceAll('"', "'"));
        return true;
      },
    );
  });
}

test("trailing fields a newer sender adds are ignored", () => {
  // ACK(tick=42) with one extra field: 05 92 2a c0
  assert.deepEqual(decodeFrames(fromHex("05922ac0")), [{ type: "ack", tick: 42 }]);
});

test("a float where a number may be is taken as the number", () => {
  // WELCOME with tick_rate 20.0 as float 64, as the Python server sends it
  const hex = "409901a6726f6f6d2d31a6736573732d31a5726b2d3737cb403400000000000002cd04b00090";
  assert.equal(decodeFrames(fromHex(hex))[0].tick_rate, 20);
});

test("a declared string longer than the frame limit is MESSAGE_TOO_BIG", () => {
  // MESSAGE kind "x" with a str32 payload declaring 2**20 bytes
  assert.throws(
    () => decodeFrames(fromHex("0692a178db00100000"), { maxSize: 4096 }),
    (/** @type {any} */ error) => error.closeCode === CloseCode.MESSAGE_TOO_BIG,
  );
});

test("encoding checks fields first: a bad local value throws and sends nothing", () => {
  assert.throws(() => encodeFrame({ type: "input", seq: -1, payload: null }), /seq must be/);
  assert.throws(() => encodeFrame({ type: "ack", tick: 1.5 }), /tick must be/);
  assert.throws(() => encodeFrame({ type: "message", kind: "", payload: null }), /kind must be/);
  assert.throws(() => encodeFrame({ type: "input", seq: 1, payload: new Date() }), /not plain data/);
  assert.throws(() => encodeFrame({ type: "nope" }), /unknown message type/);
});

test("payload nesting is limited to 32 levels", () => {
  /** @type {any} */
  let deep = null;
  for (let i = 0; i < 32; i++) deep = [deep];
  assert.ok(encodeFrame({ type: "input", seq: 1, payload: deep }));
  assert.throws(() => encodeFrame({ type: "input", seq: 1, payload: [deep] }), /nested too deeply/);
});

test("strings are measured in code points, as Python measures them", () => {
  const token = "😀".repeat(128); // 128 code points, 256 UTF-16 units
  assert.ok(encodeFrame({ type: "join", version: 1, token }));
  assert.throws(() => encodeFrame({ type: "join", version: 1, token: `${token}x` }), /token must be/);
});
