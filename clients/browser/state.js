/**
 * Room state on the receiving side: full states, deltas and the canonical state hash
 * (docs/protocol.md, "State: snapshots and deltas"; the Python side is protocol/diff.py).
 *
 * A delta is a map applied to a map. For each key, its entry is:
 *
 *     delta                              a nested delta, applied to the child map in place
 *     [0]                                delete the key
 *     [1, whole]                         set the key to a whole value (a map or a list, or
 *                                        the count of a relative quantised field)
 *     [2, length, {index: entry, ...}, group...]
 *                                        edit the list at the key in place (groups optional)
 *     [3, delta, group, ...]             edit the map at the key in place (one group or more)
 *     scalar                             nil, boolean, number or string: set the key to it
 *                                        (an integer for a relative field: add it)
 *
 * A group `[[field, ...], key, entry, ..., key, entry, ...]` stands for the nested deltas
 * `{key: {field: entry, ...}, ...}` of maps that changed the same fields.
 *
 * Numbers at paths the schema declares arrive in their precision: a quantised field as the
 * integer count of its step (stored as `count * step`), a float32 field as the number, and a
 * relative quantised field, in a PATCH, as the change of its count since the baseline.
 *
 * Owns: decoding a FULL_STATE's state, applying a PATCH's delta to a plain object in place (and
 * reporting the changed paths), and `stateHash`. Must never: know about sockets or rooms.
 *
 * @module state
 */

import { PatchOp } from "./codes.js";
import { isPlainObject, MAX_SAFE_INT } from "./codec.js";
import { PatchError, Quantized, Schema, SchemaNode } from "./schema.js";

export { PatchError };

const MAX_DEPTH = 64;
const MISSING = Symbol("missing");

/** @typedef {Array<string | number>} Path */
/** @typedef {Record<string, any>} State */

/**
 * @param {Schema | null | undefined} schema
 * @returns {SchemaNode | null}
 */
function rootOf(schema) {
  return schema && !schema.empty ? schema.root : null;
}

/**
 * @param {unknown} value
 * @returns {string}
 */
function typeName(value) {
  if (value instanceof Uint8Array) return "bytes";
  return typeof value;
}

/**
 * A plain state from a FULL_STATE's `state` field; PatchError if it is not valid state.
 * @param {unknown} wireState
 * @param {Schema | null} [schema]
 * @returns {State}
 */
export function decodeState(wireState, schema = null) {
  if (!isPlainObject(wireState)) throw new PatchError("state must be a map");
  return /** @type {State} */ (fromWire(wireState, rootOf(schema), 0));
}

/**
 * @param {unknown} value
 * @param {SchemaNode | null} schema
 * @param {number} depth
 * @returns {State | unknown[]}
 */
function fromWire(value, schema, depth) {
  if (depth > MAX_DEPTH) throw new PatchError("state is nested too deeply");
  if (isPlainObject(value)) {
    /** @type {State} */
    const out = {};
    for (const key of Object.keys(value)) out[key] = childFromWire(value[key], schema, key, depth);
    return out;
  }
  if (Array.isArray(value)) {
    return value.map((child, index) => childFromWire(child, schema, index, depth));
  }
  throw new PatchError("expected a map or a list");
}

/**
 * @param {unknown} value
 * @param {SchemaNode | null} schema
 * @param {string | number} key
 * @param {number} depth
 * @returns {unknown}
 */
function childFromWire(value, schema, key, depth) {
  if (isPlainObject(value) || Array.isArray(value)) {
    return fromWire(value, schema === null ? null : schema.child(key), depth + 1);
  }
  const type = typeof value;
  if (value !== null && type !== "boolean" && type !== "number" && type !== "string") {
    throw new PatchError(`state cannot hold a ${typeName(value)}`);
  }
  if (schema !== null && type === "number") {
    const precision = schema.precision(key);
    if (precision !== null) return precision.fromWire(value);
  }
  return value;
}

/**
 * Apply a PATCH's `delta` to `state` in place.
 *
 * `changes`, when given, receives the path of every key set, deleted or edited. Throws
 * PatchError when the delta does not fit the state; the state is then partly updated and must
 * be replaced by a full state.
 * @param {State} state
 * @param {unknown} delta
 * @param {Schema | null} [schema]
 * @param {Path[]} [changes]
 */
export function applyDelta(state, delta, schema = null, changes = undefined) {
  applyMap(state, delta, rootOf(schema), [], changes, 0);
}

/**
 * @param {unknown} target
 * @param {unknown} delta
 * @param {SchemaNode | null} schema
 * @param {Path} path
 * @param {Path[] | undefined} changes
 * @param {number} depth
 */
function applyMap(target, delta, schema, path, changes, depth) {
  if (!isPlainObject(target)) throw new PatchError("a map delta needs a map");
  if (!isPlainObject(delta)) throw new PatchError("a delta must be a map");
  if (depth > MAX_DEPTH) throw new PatchError("delta is nested too deeply");
  for (const key of Object.keys(delta)) {
    applyKey(target, key, delta[key], schema, path, changes, depth);
  }
}

/**
 * One entry of a map delta: delete the key, or apply the entry at it.
 * @param {any} target a map
 * @param {string} key
 * @param {unknown} entry
 * @param {SchemaNode | null} schema
 * @param {Path} path
 * @param {Path[] | undefined} changes
 * @param {number} depth
 */
function applyKey(target, key, entry, schema, path, changes, depth) {
  if (Array.isArray(entry) && entry.length === 1 && entry[0] === PatchOp.DELETE) {
    delete target[key];
    changes?.push([...path, key]);
  } else {
    applyEntry(target, key, entry, schema, path, changes, depth);
  }
}

/**
 * @param {any} target a map or a list
 * @param {string | number} key
 * @returns {unknown}
 */
function current(target, key) {
  return Object.hasOwn(target, key) ? target[key] : null;
}

/**
 * @param {any} target a map or a list
 * @param {string | number} key
 * @param {unknown} entry
 * @param {SchemaNode | null} schema
 * @param {Path} path
 * @param {Path[] | undefined} changes
 * @param {number} depth
 */
function applyEntry(target, key, entry, schema, path, changes, depth) {
  const childSchema = schema === null ? null : schema.child(key);
  if (isPlainObject(entry)) {
    applyMap(current(target, key), entry, childSchema, [...path, key], changes, depth + 1);
    return;
  }
  if (Array.isArray(entry)) {
    if (!entry.length || !Number.isInteger(entry[0])) {
      throw new PatchError("unknown delta operation");
    }
    const op = entry[0];
    if (op === PatchOp.REPLACE && entry.length === 2) {
      target[key] = childFromWire(entry[1], schema, key, depth);
    } else if (op === PatchOp.LIST && entry.length >= 3) {
      const list = current(target, key);
      applyList(list, entry[1], entry[2], childSchema, [...path, key], changes, depth);
      applyGroups(list, entry.slice(3), childSchema, [...path, key], changes, depth + 1);
      return;
    } else if (op === PatchOp.MAP && entry.length >= 3) {
      const map = current(target, key);
      applyMap(map, entry[1], childSchema, [...path, key], changes, depth + 1);
      applyGroups(map, entry.slice(2), childSchema, [...path, key], changes, depth + 1);
      return;
    } else {
      throw new PatchError("unknown delta operation");
    }
  } else {
    const precision = schema === null ? null : schema.precision(key);
    if (precision instanceof Quantized && precision.relative && Number.isInteger(entry)) {
      const now = current(target, key);
      if (typeof now !== "number") throw new PatchError("a relative change needs a number to change");
      target[key] = (precision.toWire(now) + /** @type {number} */ (entry)) * precision.step;
    } else {
      target[key] = childFromWire(entry, schema, key, depth);
    }
  }
  changes?.push([...path, key]);
}

const INDEX = /^(0|[1-9][0-9]*)$/;

/**
 * @param {unknown} target
 * @param {unknown} length
 * @param {unknown} entries
 * @param {SchemaNode | null} schema
 * @param {Path} path
 * @param {Path[] | undefined} changes
 * @param {number} depth
 */
function applyList(target, length, entries, schema, path, changes, depth) {
  if (!Array.isArray(target)) throw new PatchError("a list delta needs a list");
  if (
    typeof length !== "number" ||
    !Number.isInteger(length) ||
    length < 0 ||
    length > MAX_SAFE_INT ||
    !isPlainObject(entries)
  ) {
    throw new PatchError("a list delta is [2, length, {index: entry}]");
  }
  const keys = Object.keys(entries);
  const oldLength = target.length;
  if (length > oldLength + keys.length) {
    throw new PatchError("a list delta must give every new item");
  }
  if (length < oldLength) target.length = length;
  else for (let index = oldLength; index < length; index++) target.push(MISSING);
  for (const key of keys) {
    const index = INDEX.test(key) ? Number(key) : -1;
    if (index < 0 || index >= length) throw new PatchError("list delta index out of range");
    const entry = entries[key];
    if (target[index] === MISSING && (isPlainObject(entry) || isEdit(entry))) {
      throw new PatchError("a new list item must be a whole value");
    }
    applyEntry(target, index, entry, schema, path, changes, depth + 1);
  }
  for (let index = oldLength; index < length; index++) {
    if (target[index] === MISSING) {
      target.length = oldLength;
      throw new PatchError("a list delta must give every new item");
    }
  }
  if (changes !== undefined && length !== oldLength) changes.push(path);
}

/**
 * Apply each group `[[field, ...], key, entry, ..., key, entry, ...]` of a map or list edit:
 * the nested delta `{field: entry, ...}` to the map at each key of `target`.
 * @param {any} target the map or list just edited
 * @param {unknown[]} groups
 * @param {SchemaNode | null} schema
 * @param {Path} path
 * @param {Path[] | undefined} changes
 * @param {number} depth
 */
function applyGroups(target, groups, schema, path, changes, depth) {
  const isList = Array.isArray(target);
  for (const group of groups) {
    if (!Array.isArray(group) || !group.length || !Array.isArray(group[0])) {
      throw new PatchError("a group is [[field, ...], key, entry, ...]");
    }
    const fields = /** @type {unknown[]} */ (group[0]);
    const width = fields.length + 1;
    if (
      !fields.length ||
      fields.some((field) => typeof field !== "string" || field === "__proto__") ||
      new Set(fields).size !== fields.length ||
      (group.length - 1) % width !== 0
    ) {
      throw new PatchError("a group needs distinct field names and one entry per field");
    }
    for (let start = 1; start < group.length; start += width) {
      const key = group[start];
      let child;
      if (isList) {
        if (!Number.isInteger(key) || key < 0 || key >= target.length) {
          throw new PatchError("group index out of range");
        }
        child = target[key];
      } else {
        if (typeof key !== "string") throw new PatchError("state map keys must be strings");
        child = current(target, key);
      }
      if (!isPlainObject(child)) throw new PatchError("a map delta needs a map");
      if (depth + 1 > MAX_DEPTH) throw new PatchError("delta is nested too deeply");
      const childSchema = schema === null ? null : schema.child(/** @type {string | number} */ (key));
      const childPath = [...path, /** @type {string | number} */ (key)];
      fields.forEach((field, offset) => {
        const entry = group[start + 1 + offset];
        applyKey(child, /** @type {string} */ (field), entry, childSchema, childPath, changes, depth + 1);
      });
    }
  }
}

/** @param {unknown} entry */
function isEdit(entry) {
  return (
    Array.isArray(entry) &&
    entry.length > 0 &&
    (entry[0] === PatchOp.LIST || entry[0] === PatchOp.MAP)
  );
}

// -- the canonical hash ------------------------------------------------------------------------

/**
 * Compare two strings by Unicode code point (Python's string order), not UTF-16 code unit.
 * @param {string} a
 * @param {string} b
 * @returns {number}
 */
export function compareCodePoints(a, b) {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800..U+DFFF) encode code points above U+FFFF: they sort after U+E000..U+FFFF.
    if (x >= 0xd800) x += x < 0xe000 ? 0x2000 : -0x800;
    if (y >= 0xd800) y += y < 0xe000 ? 0x2000 : -0x800;
    return x - y;
  }
  return a.length - b.length;
}

const utf8 = new TextEncoder();

/** A growable byte buffer for the canonical encoding. */
class Bytes {
  constructor() {
    this.buffer = new Uint8Array(256);
    this.view = new DataView(this.buffer.buffer);
    this.length = 0;
  }

  /** @param {number} size */
  reserve(size) {
    if (this.length + size <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + size));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  /** @param {number[]} values */
  push(...values) {
    this.reserve(values.length);
    for (const value of values) this.buffer[this.length++] = value;
  }

  /**
   * @param {number} head
   * @param {"setUint16" | "setUint32" | "setInt8" | "setInt16" | "setInt32" | "setFloat64"} method
   * @param {number} size
   * @param {number} value
   */
  put(head, method, size, value) {
    this.reserve(size + 1);
    this.buffer[this.length++] = head;
    this.view[method](this.length, value);
    this.length += size;
  }

  /**
   * @param {number} head
   * @param {bigint} value
   * @param {boolean} signed
   */
  put64(head, value, signed) {
    this.reserve(9);
    this.buffer[this.length++] = head;
    if (signed) this.view.setBigInt64(this.length, value);
    else this.view.setBigUint64(this.length, value);
    this.length += 8;
  }

  /** @param {Uint8Array} bytes */
  append(bytes) {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }
}

/**
 * @param {Bytes} out
 * @param {number} size
 * @param {number} fix fixarray/fixmap head
 * @param {number} head16
 */
function writeHeader(out, size, fix, head16) {
  if (size < 16) out.push(fix + size);
  else if (size < 0x10000) out.put(head16, "setUint16", 2, size);
  else out.put(head16 + 1, "setUint32", 4, size);
}

/**
 * @param {Bytes} out
 * @param {number} value an integer within ±(2**53-1)
 */
function writeInt(out, value) {
  if (value >= 0) {
    if (value < 0x80) out.push(value);
    else if (value < 0x100) out.push(0xcc, value);
    else if (value < 0x10000) out.put(0xcd, "setUint16", 2, value);
    else if (value < 0x100000000) out.put(0xce, "setUint32", 4, value);
    else out.put64(0xcf, BigInt(value), false);
  } else if (value >= -32) out.push(0x100 + value);
  else if (value >= -0x80) out.put(0xd0, "setInt8", 1, value);
  else if (value >= -0x8000) out.put(0xd1, "setInt16", 2, value);
  else if (value >= -0x80000000) out.put(0xd2, "setInt32", 4, value);
  else out.put64(0xd3, BigInt(value), true);
}

/**
 * @param {Bytes} out
 * @param {unknown} value
 */
function writeCanonical(out, value) {
  if (value === null || value === undefined) out.push(0xc0);
  else if (value === false) out.push(0xc2);
  else if (value === true) out.push(0xc3);
  else if (typeof value === "number") {
    if (Number.isInteger(value) && Math.abs(value) <= MAX_SAFE_INT) writeInt(out, value + 0);
    else out.put(0xcb, "setFloat64", 8, value);
  } else if (typeof value === "string") {
    const bytes = utf8.encode(value);
    const size = bytes.length;
    if (size < 32) out.push(0xa0 + size);
    else if (size < 0x100) out.push(0xd9, size);
    else if (size < 0x10000) out.put(0xda, "setUint16", 2, size);
    else out.put(0xdb, "setUint32", 4, size);
    out.append(bytes);
  } else if (value instanceof Uint8Array) {
    const size = value.length;
    if (size < 0x100) out.push(0xc4, size);
    else if (size < 0x10000) out.put(0xc5, "setUint16", 2, size);
    else out.put(0xc6, "setUint32", 4, size);
    out.append(value);
  } else if (Array.isArray(value)) {
    writeHeader(out, value.length, 0x90, 0xdc);
    for (const item of value) writeCanonical(out, item);
  } else if (isPlainObject(value)) {
    const keys = Object.keys(value).sort(compareCodePoints);
    writeHeader(out, keys.length, 0x80, 0xde);
    for (const key of keys) {
      writeCanonical(out, key);
      writeCanonical(out, value[key]);
    }
  } else {
    throw new PatchError(`state cannot hold a ${typeName(value)}`);
  }
}

/**
 * The canonical msgpack encoding of a state: map keys in code point order, integral numbers
 * as integers in their shortest form, other numbers as float 64.
 * @param {unknown} state
 * @returns {Uint8Array}
 */
export function canonicalBytes(state) {
  const out = new Bytes();
  writeCanonical(out, state);
  return out.buffer.slice(0, out.length);
}

/**
 * The canonical hash of a state, the same on every side: the first 16 hex digits of SHA-256
 * over `canonicalBytes(state)`. Needs Web Crypto (a secure context in browsers: https or
 * localhost).
 * @param {State} state
 * @returns {Promise<string>}
 */
export async function stateHash(state) {
  const digest = await globalThis.crypto.subtle.digest("SHA-256", canonicalBytes(state));
  return Array.from(new Uint8Array(digest).subarray(0, 8), (byte) =>
    byte.toString(16).padStart(2, "0"),
  ).join("");
}

/**
 * Whether `path` is affected by a change at `changed`: one is a prefix of the other.
 * @param {Path} changed
 * @param {Path} path
 * @returns {boolean}
 */
export function touches(changed, path) {
  const length = Math.min(changed.length, path.length);
  for (let i = 0; i < length; i++) if (String(changed[i]) !== String(path[i])) return false;
  return true;
}

/**
 * The value at `path` in `state`, or undefined.
 * @param {any} state
 * @param {Array<string | number>} path
 * @returns {any}
 */
export function valueAt(state, path) {
  let value = state;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = value[key];
  }
  return value;
}
