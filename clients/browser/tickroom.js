/**
 * The tickroom browser client: import everything from here.
 *
 *     import { Client } from "/client/tickroom.js";
 *     const room = await new Client().joinOrCreate("arena", { name: "ann" });
 *
 * ES modules with no build step: the server serves this folder at /client/. msgpack comes from
 * the vendored `@msgpack/msgpack` (vendor/msgpack/, see vendor/README.md). The reference is
 * docs/reference/browser-client.md.
 *
 * @module tickroom
 */

export * from "./codes.js";
export { describeClose, describeError, CLOSE_MESSAGES, ERROR_MESSAGES, REFUSED_MESSAGE } from "./closes.js";
export {
  ProtocolError,
  decodeFrames,
  encodeFrame,
  encodeFrames,
  checkMessage,
  toHex,
  fromHex,
  MESSAGES,
  SERVER_MAX_SIZE,
  CLIENT_MAX_SIZE,
} from "./codec.js";
export { Schema, Quantized, Float32, PatchError, roundHalfEven } from "./schema.js";
export {
  decodeState,
  applyDelta,
  stateHash,
  canonicalBytes,
  compareCodePoints,
  valueAt,
} from "./state.js";
export { InterpolationBuffer } from "./interpolation.js";
export { Predictor, replay, deepEqual } from "./prediction.js";
export { MatchmakeError, RoomError, RequestError } from "./errors.js";
export { ReconnectPolicy } from "./reconnect.js";
export { Emitter } from "./events.js";
export { Room } from "./room.js";
export { Client } from "./client.js";
