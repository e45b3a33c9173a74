/**
 * Apply a Python-made sequence of deltas and print the state hash after each one.
 *
 *     node apply-deltas.js CASES.json
 *
 * CASES.json is `{schema, full_hex, steps: [{delta_hex}, ...]}`: a FULL_STATE body (the msgpack
 * `state` of protocol.diff.StateTracker.encode_full) and the PATCH deltas of each later tick.
 * The output is JSON: `{"hashes": [...], "state": <the final state>}`.
 * tests/browser/test_js_diff_agreement.py writes the cases from random changes and compares the
 * hashes with the tracker's own.
 *
 * @module tests/tools/apply-deltas
 */

import { readFileSync } from "node:fs";

import { fromHex } from "../../codec.js";
import { Schema } from "../../schema.js";
import { applyDelta, decodeState, stateHash } from "../../state.js";
import { Decoder } from "../../vendor/msgpack/index.mjs";

const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const decoder = new Decoder();
const schema = Schema.fromWire(cases.schema);
const state = decodeState(decoder.decode(fromHex(cases.full_hex)), schema);
const hashes = [await stateHash(state)];
for (const step of cases.steps) {
  applyDelta(state, decoder.decode(fromHex(step.delta_hex)), schema);
  hashes.push(await stateHash(state));
}
process.stdout.write(JSON.stringify({ hashes, state }));
