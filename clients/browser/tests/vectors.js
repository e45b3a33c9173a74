/**
 * The shared test vectors of tests/vectors/, read for the JS tests.
 *
 * @module tests/vectors
 */

import { readFileSync } from "node:fs";

const VECTORS = new URL("../../../tests/vectors/", import.meta.url);

/**
 * @param {string} name a file in tests/vectors/
 * @returns {any}
 */
export function loadVectors(name) {
  return JSON.parse(readFileSync(new URL(name, VECTORS), "utf8"));
}
