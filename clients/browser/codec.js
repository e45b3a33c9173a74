/**
 * The binary frame codec: messages to bytes and back (docs/protocol.md, "Framing").
 *
 * A frame is one type byte (a msgpack positive fixint) followed by one msgpack array holding the
 * message's fields in wire order; one WebSocket message may hold several frames back to back.
 * A message is a plain object named as in the protocol's JSON form:
 * `{type: "input", seq: 7, payload: {dx: 1}}`.
 *
 * Owns: the field order and the checks of every message (the same rules as protocol/messages.py),
 * and turning msgpack failures into a `ProtocolError` carrying its close code. Must never: touch a
 * socket, or know about rooms and state.
 *
 * JavaScript cannot tell `20` from `20.0`, so the decoder keeps track of which top-level fields
 * travelled as msgpack floats: an integer field (tick, seq, ...) that arrives as a float is
 * refused, as the Python receiver refuses it.
 *
 * @module codec
 */

import { Decoder, Encoder, DecodeError } from "./vendor/msgpack/index.mjs";
import { CloseCode, MessageType } from "./codes.js";

export const MAX_SAFE_INT = Number.MAX_SAFE_INTEGER;
export const MAX_TOKEN_LENGTH = 128;
export const MAX_KIND_LENGTH = 64;
export const MAX_TEXT_LENGTH = 1024;
export const MAX_PAYLOAD_DEPTH = 32;
/** Largest frame a client accepts from the server (docs/protocol.md, "Limits"). */
export const SERVER_MAX_SIZE = 16 * 1024 * 1024;
/** Largest frame the server accepts from a client. */
export const CLIENT_MAX_SIZE = 4096;

/** A frame or field that breaks the protocol; `closeCode` is what the receiver closes with. */
export class ProtocolError extends Error {
  /**
   * @param {string} message short lower-case fragment, as the Python side words it
   * @param {number} [closeCode] PROTOCOL_ERROR unless said otherwise
   */
  constructor(message, closeCode = CloseCode.PROTOCOL_ERROR) {
    super(message);
    this.name = "ProtocolError";
    this.closeCode = closeCode;
  }
}

/** A number that travelled as a msgpack float, at the top level of a frame. */
class WireFloat {
  /** @param {number} value */
  constructor(value) {
    this.value = value;
  }
}

/** A msgpack decoder that boxes floats found at the top of a frame (the type and its fields). */
class FrameValueDecoder extends Decoder {
  readF32() {
    const value = super.readF32();
    return this.stack.length <= 1 ? new WireFloat(value) : value;
  }

  readF64() {
    const value = super.readF64();
    return this.stack.length <= 1 ? new WireFloat(value) : value;
  }
}

/** Extension types are not part of the protocol: refuse every one, timestamps included. */
const NO_EXTENSIONS = {
  decode() {
    throw new DecodeError("ext types are not part of the protocol");
  },
  tryToEncode() {
    return null;
  },
};

// -- field checks ----------------------------------------------------------------------------

/** @typedef {(value: unknown, name: string) => unknown} Check */

/** @param {unknown} value */
function isInteger(value) {
  return typeof value === "number" && Number.isInteger(value);
}

/** @param {string} text */
function codePoints(text) {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** @type {Check} */
function uint(value, name) {
  if (!isInteger(value) || value < 0 || value > MAX_SAFE_INT) {
    throw new ProtocolError(`${name} must be an integer in 0..2**53-1`);
  }
  return value;
}

/** @type {Check} */
function lastTick(value, name) {
  return value === -1 ? -1 : uint(value, name);
}

/** @type {Check} */
function number(value, name) {
  if (value instanceof WireFloat) return value.value;
  if (typeof value !== "number") throw new ProtocolError(`${name} must be a number`);
  return value;
}

/**
 * @param {number} max
 * @param {boolean} [empty]
 * @returns {Check}
 */
function text(max, empty = false) {
  return (value, name) => {
    if (typeof value !== "string" || (!empty && value === "")) {
      throw new ProtocolError(`${name} must be a string of ${empty ? 0 : 1}..${max} characters`);
    }
    if (value.length > max && codePoints(value) > max) {
      throw new ProtocolError(`${name} must be a string of ${empty ? 0 : 1}..${max} characters`);
    }
    return value;
  };
}

const token = text(MAX_TOKEN_LENGTH);

/** @type {Check} */
function kind(value, name) {
  return typeof value === "number" ? uint(value, name) : text(MAX_KIND_LENGTH)(value, name);
}

/**
 * Whether `value` is a plain object (a msgpack map), not an array, bin, date or class instance.
 * @param {unknown} value
 * @returns {value is Record<string, unknown>}
 */
export function isPlainObject(value) {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * @param {unknown} value
 * @param {string} name
 * @param {number} depth
 */
function checkPlain(value, name, depth) {
  if (value === null || value === undefined) return;
  const type = typeof value;
  if (type === "boolean" || type === "number" || type === "string") return;
  if (value instanceof Uint8Array) return;
  if (Array.isArray(value) || isPlainObject(value)) {
    if (depth >= MAX_PAYLOAD_DEPTH) throw new ProtocolError(`${name} is nested too deeply`);
    for (const item of Object.values(value)) checkPlain(item, name, depth + 1);
    return;
  }
  throw new ProtocolError(`${name} holds a ${type}, which is not plain data`);
}

/** @type {Check} */
function payload(value, name) {
  const unboxed = value instanceof WireFloat ? value.value : value;
  checkPlain(unboxed, name, 0);
  return unboxed === undefined ? null : unboxed;
}

/** @type {Check} */
function map(value, name) {
  if (!isPlainObject(value)) throw new ProtocolError(`${name} must be a map`);
  return value;
}

/** @type {Check} */
function list(value, name) {
  if (!Array.isArray(value)) throw new ProtocolError(`${name} must be a list`);
  return value;
}

/** @type {Check} */
function positive(value, name) {
  const n = /** @type {number} */ (number(value, name));
  if (!(n > 0)) throw new ProtocolError(`${name} must be positive`);
  return n;
}

/** @type {Check} */
function atLeastOne(value, name) {
  const n = /** @type {number} */ (uint(value, name));
  if (n < 1) throw new ProtocolError(`${name} must be at least 1`);
  return n;
}

/** @type {Check} */
function role(value, name) {
  if (value !== 0 && value !== 1) {
    throw new ProtocolError(`${name} must be 0 (player) or 1 (spectator)`);
  }
  return value;
}

/**
 * Every message: its JSON name, type code and fields in wire order with their checks.
 * @type {Readonly<Record<string, {type: number, fields: Array<[string, Check]>}>>}
 */
export const MESSAGES = Object.freeze({
  join: { type: MessageType.JOIN, fields: [["version", uint], ["token", token]] },
  reconnect: {
    type: MessageType.RECONNECT,
    fields: [["version", uint], ["token", token], ["last_tick", lastTick]],
  },
  leave: { type: MessageType.LEAVE, fields: [] },
  input: { type: MessageType.INPUT, fields: [["seq", uint], ["payload", payload]] },
  ack: { type: MessageType.ACK, fields: [["tick", uint]] },
  message: { type: MessageType.MESSAGE, fields: [["kind", kind], ["payload", payload]] },
  request: {
    type: MessageType.REQUEST,
    fields: [["id", uint], ["kind", kind], ["payload", payload]],
  },
  ping: { type: MessageType.PING, fields: [["time", number]] },
  pong: { type: MessageType.PONG, fields: [["time", number], ["peer_time", number]] },
  welcome: {
    type: MessageType.WELCOME,
    fields: [
      ["version", uint],
      ["room_id", token],
      ["session_id", token],
      ["reconnect_token", text(MAX_TOKEN_LENGTH, true)],
      ["tick_rate", positive],
      ["patch_rate", atLeastOne],
      ["tick", uint],
      ["role", role],
      ["schema", list],
    ],
  },
  full_state: {
    type: MessageType.FULL_STATE,
    fields: [["tick", uint], ["last_seq", uint], ["state", map]],
  },
  patch: {
    type: MessageType.PATCH,
    fields: [["tick", uint], ["baseline", uint], ["last_seq", uint], ["delta", map]],
  },
  response: {
    type: MessageType.RESPONSE,
    fields: [["id", uint], ["code", uint], ["payload", payload]],
  },
  error: {
    type: MessageType.ERROR,
    fields: [["code", uint], ["message", text(MAX_TEXT_LENGTH, true)]],
  },
});

/** @type {Map<number, string>} */
const NAMES_BY_TYPE = new Map(Object.entries(MESSAGES).map(([name, spec]) => [spec.type, name]));

/**
 * @typedef {{type: string, [field: string]: any}} Message
 */

/**
 * Build a checked message from its JSON name and its fields in wire order.
 * @param {string} name
 * @param {unknown[]} values
 * @returns {Message}
 */
function build(name, values) {
  const spec = MESSAGES[name];
  if (values.length < spec.fields.length) {
    throw new ProtocolError(`${name} needs ${spec.fields.length} fields`);
  }
  /** @type {Message} */
  const message = { type: name };
  spec.fields.forEach(([field, check], index) => {
    message[field] = check(values[index], field);
  });
  if (name === "patch" && message.baseline >= message.tick) {
    throw new ProtocolError("baseline must be older than tick");
  }
  return message;
}

/**
 * Check a message object as the encoder would, without encoding it.
 * @param {Message} message
 * @returns {Message} a normalised copy
 */
export function checkMessage(message) {
  const spec = MESSAGES[message?.type];
  if (spec === undefined) throw new ProtocolError(`unknown message type ${message?.type}`);
  return build(
    message.type,
    spec.fields.map(([field]) => message[field]),
  );
}

// -- encoding ----------------------------------------------------------------------------------

const encoder = new Encoder({ extensionCodec: /** @type {any} */ (NO_EXTENSIONS) });

/**
 * One binary frame for `message` (checked first: a bad local value throws ProtocolError).
 * Integers travel in their shortest encoding, other numbers as float 64.
 * @param {Message} message
 * @returns {Uint8Array}
 */
export function encodeFrame(message) {
  const checked = checkMessage(message);
  const spec = MESSAGES[checked.type];
  const body = encoder.encode(spec.fields.map(([field]) => checked[field]));
  const frame = new Uint8Array(body.length + 1);
  frame[0] = spec.type;
  frame.set(body, 1);
  return frame;
}

/**
 * Several frames in one WebSocket message.
 * @param {Message[]} messages
 * @returns {Uint8Array}
 */
export function encodeFrames(messages) {
  const frames = messages.map(encodeFrame);
  const out = new Uint8Array(frames.reduce((total, frame) => total + frame.length, 0));
  let offset = 0;
  for (const frame of frames) {
    out.set(frame, offset);
    offset += frame.length;
  }
  return out;
}

// -- decoding ----------------------------------------------------------------------------------

/**
 * @param {unknown} value
 * @returns {string}
 */
function show(value) {
  if (value instanceof WireFloat) return String(value.value);
  if (typeof value === "string") return `'${value}'`;
  return String(value);
}

/**
 * Every message in one WebSocket message, which must hold whole frames only.
 * Throws ProtocolError: PROTOCOL_ERROR for bytes that are not valid frames, MESSAGE_TOO_BIG
 * for a frame (or a declared string, bin, array or map) larger than `maxSize`.
 * @param {ArrayBuffer | Uint8Array} data
 * @param {{maxSize?: number}} [options] `maxSize` defaults to SERVER_MAX_SIZE
 * @returns {Message[]}
 */
export function decodeFrames(data, { maxSize = SERVER_MAX_SIZE } = {}) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length > maxSize) {
    throw new ProtocolError(`frame exceeds ${maxSize} bytes`, CloseCode.MESSAGE_TOO_BIG);
  }
  const decoder = new FrameValueDecoder({
    extensionCodec: /** @type {any} */ (NO_EXTENSIONS),
    maxStrLength: maxSize,
    maxBinLength: maxSize,
    maxArrayLength: maxSize,
    maxMapLength: maxSize,
    maxExtLength: maxSize,
  });
  /** @type {Message[]} */
  const out = [];
  /** @type {unknown} */
  let pendingType = undefined;
  try {
    for (const value of decoder.decodeMulti(bytes)) {
      if (pendingType === undefined) {
        if (!isInteger(value) || !NAMES_BY_TYPE.has(/** @type {number} */ (value))) {
          throw new ProtocolError(`unknown message type ${show(value)}`);
        }
        pendingType = value;
        continue;
      }
      const name = /** @type {string} */ (NAMES_BY_TYPE.get(/** @type {number} */ (pendingType)));
      pendingType = undefined;
      if (!Array.isArray(value)) throw new ProtocolError(`${name} body must be an array`);
      out.push(build(name, value));
    }
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    if (error instanceof RangeError) throw new ProtocolError("truncated frame");
    if (error instanceof DecodeError && /max length exceeded/i.test(error.message)) {
      throw new ProtocolError(
        "declared length exceeds the frame limit",
        CloseCode.MESSAGE_TOO_BIG,
      );
    }
    throw new ProtocolError("invalid msgpack");
  }
  if (pendingType !== undefined) throw new ProtocolError("truncated frame");
  return out;
}

/**
 * Lowercase hex of bytes (for logs and tests).
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function toHex(bytes) {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * Bytes of a hex string.
 * @param {string} hex
 * @returns {Uint8Array}
 */
export function fromHex(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
