/**
 * Every number on the wire, mirrored from protocol/codes.py (the one source of truth).
 *
 * Owns: the protocol version, subprotocol names, message types, close codes, error codes,
 * roles, patch operations and precision kinds. Must never: hold behaviour, or change a value
 * without protocol/codes.py. tests/browser/test_codes_mirror.py compares the two files.
 *
 * @module codes
 */

/** Bumped on any incompatible change to frames, fields or codes (docs/protocol.md). */
export const PROTOCOL_VERSION = 2;

/** Default subprotocol: binary WebSocket messages holding msgpack frames. */
export const SUBPROTOCOL_MSGPACK = "tickroom.v2.msgpack";

/** Debug subprotocol: text WebSocket messages holding one JSON object per frame. */
export const SUBPROTOCOL_JSON = "tickroom.v2.json";

export const SUBPROTOCOLS = Object.freeze([SUBPROTOCOL_MSGPACK, SUBPROTOCOL_JSON]);

/** First byte of every binary frame (a msgpack positive fixint, so always below 128). */
export const MessageType = Object.freeze({
  JOIN: 1,
  RECONNECT: 2,
  LEAVE: 3,
  INPUT: 4,
  ACK: 5,
  REQUEST: 7,
  MESSAGE: 6,
  PING: 8,
  PONG: 9,
  WELCOME: 64,
  FULL_STATE: 65,
  PATCH: 66,
  RESPONSE: 67,
  ERROR: 68,
});

/** WebSocket close codes used by the server (and by a client leaving on purpose). */
export const CloseCode = Object.freeze({
  CONSENTED: 4000,
  SERVER_SHUTDOWN: 4001,
  INTERNAL_ERROR: 4002,
  MAY_TRY_RECONNECT: 4003,
  FAILED_TO_RECONNECT: 4004,
  SEAT_INVALID: 4005,
  ROOM_FULL: 4006,
  ROOM_NOT_FOUND: 4007,
  ROOM_LOCKED: 4008,
  KICKED: 4009,
  MESSAGE_TOO_BIG: 4010,
  RATE_LIMITED: 4011,
  TOO_SLOW: 4012,
  PROTOCOL_ERROR: 4013,
  UNSUPPORTED_VERSION: 4014,
  ROOM_DISPOSED: 4015,
  AUTH_FAILED: 4016,
  IDLE_TIMEOUT: 4017,
});

/**
 * Close codes after which a client may try its reconnect token. Any close that is not an
 * application code (a dropped TCP connection, 1006) is reconnectable too.
 */
export const RECONNECTABLE_CLOSE_CODES = Object.freeze([
  CloseCode.SERVER_SHUTDOWN,
  CloseCode.MAY_TRY_RECONNECT,
  CloseCode.INTERNAL_ERROR,
]);

/** Codes carried in ERROR frames, RESPONSE failures and HTTP matchmaking refusals. */
export const ErrorCode = Object.freeze({
  INVALID_PAYLOAD: 1,
  UNKNOWN_MESSAGE: 2,
  NOT_ALLOWED: 3,
  RATE_LIMITED: 4,
  HANDLER_FAILED: 5,
  ROOM_FULL: 6,
  ROOM_NOT_FOUND: 7,
  ROOM_LOCKED: 8,
  AUTH_FAILED: 9,
  SEAT_INVALID: 10,
  UNKNOWN_ROOM_TYPE: 11,
  REQUEST_TIMEOUT: 12,
  INVALID_OPTIONS: 13,
  UNAVAILABLE: 14,
});

/** What a member is in its room, announced in WELCOME. */
export const Role = Object.freeze({
  PLAYER: 0,
  SPECTATOR: 1,
});

/** Tag in the first element of an array entry of a state delta. */
export const PatchOp = Object.freeze({
  DELETE: 0,
  REPLACE: 1,
  LIST: 2,
  MAP: 3,
});

/** How a declared numeric field travels (see protocol/schema.py). */
export const PrecisionKind = Object.freeze({
  QUANTIZED: 1,
  FLOAT32: 2,
  QUANTIZED_RELATIVE: 3,
});

/**
 * Whether a session may be resumed after a close with `code`: a reconnectable application code,
 * or any code that is not an application code (1006, 1001, 1011, ...).
 * @param {number} code the WebSocket close code
 * @returns {boolean}
 */
export function isReconnectable(code) {
  return RECONNECTABLE_CLOSE_CODES.includes(code) || !(code >= 4000 && code <= 4999);
}

/**
 * The name of a code in one of the tables above, or undefined.
 * @param {Readonly<Record<string, number>>} table e.g. CloseCode
 * @param {number} code
 * @returns {string | undefined}
 */
export function codeName(table, code) {
  for (const [name, value] of Object.entries(table)) if (value === code) return name;
  return undefined;
}
