/**
 * Declared precision of numeric state fields, as WELCOME's `schema` carries it
 * (docs/protocol.md, "Declared precision and the schema in WELCOME"; protocol/schema.py).
 *
 * `[[path, kind, step], ...]`: `path` is an array of keys where `null` is the wildcard `*`;
 * kind 1 is quantised (the value travels as the integer `round(value / step)` and is stored as
 * `n * step`), kind 2 is float32 (travels as a msgpack float32, stored as the number), kind 3 is
 * relative quantised (as kind 1, except that a bare integer in a PATCH is the change of the
 * count since the baseline: state.js adds it to the current count). When
 * several patterns match one path, the most specific wins: parts are compared from the last one
 * back, an exact key beating `*`.
 *
 * Owns: the pattern trie and the two precisions. Must never: know about frames or sockets.
 *
 * @module schema
 */

import { PrecisionKind } from "./codes.js";

/** A state or delta that does not fit: the state must be replaced by a full state. */
export class PatchError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "PatchError";
  }
}

/** A number stored as a multiple of `step`, travelling as that multiple's integer count. */
export class Quantized {
  /**
   * @param {number} step a positive finite number
   * @param {{relative?: boolean}} [options] `relative`: a PATCH carries the change of the count
   */
  constructor(step, { relative = false } = {}) {
    if (typeof step !== "number" || !Number.isFinite(step) || step <= 0) {
      throw new PatchError("step must be a positive finite number");
    }
    this.step = step;
    this.relative = relative;
    this.kind = relative ? PrecisionKind.QUANTIZED_RELATIVE : PrecisionKind.QUANTIZED;
  }

  /**
   * The integer count that travels for `value`.
   * @param {number} value
   * @returns {number}
   */
  toWire(value) {
    return roundHalfEven(value / this.step);
  }

  /**
   * The number a received integer stands for.
   * @param {unknown} value
   * @returns {number}
   */
  fromWire(value) {
    if (typeof value !== "number" || !Number.isInteger(value)) {
      throw new PatchError("a quantised field must travel as an integer");
    }
    return value * this.step;
  }

  /**
   * `value` rounded to the nearest multiple of `step`, as the server stores it (Python rounds
   * halves to even; so does this).
   * @param {number} value
   * @returns {number}
   */
  normalize(value) {
    return this.toWire(value) * this.step;
  }
}

/** A number stored rounded to the nearest float32. */
export class Float32 {
  constructor() {
    this.kind = PrecisionKind.FLOAT32;
  }

  /**
   * @param {unknown} value
   * @returns {number}
   */
  fromWire(value) {
    if (typeof value !== "number") throw new PatchError("a float32 field must travel as a number");
    return value;
  }

  /**
   * @param {number} value
   * @returns {number}
   */
  normalize(value) {
    return Math.fround(value);
  }
}

/** @typedef {Quantized | Float32} Precision */

/**
 * Round to the nearest integer, halves to even (Python's `round`).
 * @param {number} x
 * @returns {number}
 */
export function roundHalfEven(x) {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** One level of the compiled pattern trie. */
export class SchemaNode {
  constructor() {
    /** @type {Map<string, SchemaNode>} */
    this.children = new Map();
    /** @type {SchemaNode | null} */
    this.wildcard = null;
    /** @type {Map<string, Precision>} */
    this.precisions = new Map();
    /** @type {Precision | null} */
    this.wildcardPrecision = null;
  }

  /**
   * The node for `key`'s subtree (exact match first, then `*`), or null.
   * @param {string | number} key a map key, or a list index (which only `*` matches)
   * @returns {SchemaNode | null}
   */
  child(key) {
    const node = typeof key === "string" ? this.children.get(key) : undefined;
    return node ?? this.wildcard;
  }

  /**
   * The precision declared for the value at `key`, or null.
   * @param {string | number} key
   * @returns {Precision | null}
   */
  precision(key) {
    const found = typeof key === "string" ? this.precisions.get(key) : undefined;
    return found ?? this.wildcardPrecision;
  }
}

/** @typedef {Array<string | null>} Pattern */

/**
 * The trie node for `entries` (patterns relative to it); a later entry beats an earlier one.
 * The node for an exact key holds the wildcard's patterns too, listed first, so that the exact
 * key's own patterns win.
 * @param {Array<[Pattern, Precision]>} entries
 * @returns {SchemaNode}
 */
function compile(entries) {
  const node = new SchemaNode();
  /** @type {Map<string | null, Array<[Pattern, Precision]>>} */
  const below = new Map();
  for (const [parts, precision] of entries) {
    const [head, ...rest] = parts;
    if (rest.length) {
      if (!below.has(head)) below.set(head, []);
      /** @type {Array<[Pattern, Precision]>} */ (below.get(head)).push([rest, precision]);
    } else if (head === null) {
      node.wildcardPrecision = precision;
    } else {
      node.precisions.set(head, precision);
    }
  }
  const wildcard = below.get(null) ?? [];
  below.delete(null);
  if (wildcard.length) node.wildcard = compile(wildcard);
  for (const [key, exact] of below) {
    node.children.set(/** @type {string} */ (key), compile([...wildcard, ...exact]));
  }
  return node;
}

/** The precision declarations of a room's state. */
export class Schema {
  /** @param {Array<[Pattern, Precision]>} [fields] */
  constructor(fields = []) {
    /** @type {Map<string, [Pattern, Precision]>} */
    const unique = new Map();
    for (const [parts, precision] of fields) unique.set(JSON.stringify(parts), [parts, precision]);
    /** @type {Array<[Pattern, Precision]>} */
    this.fields = [...unique.values()];
    this.root = compile(this.fields);
  }

  /** True when nothing is declared. */
  get empty() {
    return this.fields.length === 0;
  }

  /**
   * The schema a WELCOME carried.
   * @param {unknown} value `[[path, kind, step], ...]`
   * @returns {Schema}
   */
  static fromWire(value) {
    if (!Array.isArray(value)) throw new PatchError("schema must be a list");
    /** @type {Array<[Pattern, Precision]>} */
    const fields = [];
    for (const item of value) {
      if (!Array.isArray(item) || item.length !== 3 || !Array.isArray(item[0])) {
        throw new PatchError("schema entries are [path, kind, step]");
      }
      const [path, kind, step] = item;
      if (
        path.length === 0 ||
        path.some((part) => part !== null && (typeof part !== "string" || part === ""))
      ) {
        throw new PatchError(`bad schema pattern ${JSON.stringify(path)}`);
      }
      if (kind === PrecisionKind.QUANTIZED) fields.push([path, new Quantized(step)]);
      else if (kind === PrecisionKind.QUANTIZED_RELATIVE) {
        fields.push([path, new Quantized(step, { relative: true })]);
      } else if (kind === PrecisionKind.FLOAT32) fields.push([path, new Float32()]);
      else throw new PatchError(`unknown precision kind ${JSON.stringify(kind)}`);
    }
    return new Schema(fields);
  }

  /**
   * The precision declared for the value at `path`, or null.
   * @param {Array<string | number>} path
   * @returns {Precision | null}
   */
  precisionAt(path) {
    /** @type {SchemaNode | null} */
    let node = this.root;
    for (const key of path.slice(0, -1)) {
      node = node.child(key);
      if (node === null) return null;
    }
    return path.length ? node.precision(path[path.length - 1]) : null;
  }
}
