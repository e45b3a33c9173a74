/**
 * The client's errors. Every one carries a message written for people (pages may show it as
 * it is) and the code it came with:
 *
 *     Error
 *     ├── ProtocolError   (codec.js)   a frame that breaks the protocol; .closeCode
 *     ├── PatchError      (schema.js)  a state or delta that does not fit; the room resyncs
 *     ├── MatchmakeError               an HTTP matchmaking refusal; .code (ErrorCode), .status
 *     ├── RoomError                    a join refused, or a room that ended; .code (close code),
 *     │                                .reason, .opened (false: the socket never opened)
 *     └── RequestError                 a request the room refused or never answered; .code
 *
 * Owns: these classes. Must never: decide what to do about an error.
 *
 * @module errors
 */

import { codeName, ErrorCode } from "./codes.js";

/** A refused matchmaking call (or a server that could not be reached: `code` 0). */
export class MatchmakeError extends Error {
  /**
   * @param {string} message for people
   * @param {number} code an ErrorCode, 0 when there was no answer
   * @param {number} status the HTTP status, 0 when there was no answer
   */
  constructor(message, code, status) {
    super(message);
    this.name = "MatchmakeError";
    this.code = code;
    this.codeName = codeName(ErrorCode, code);
    this.status = status;
  }
}

/** A room that could not be joined, or a connection that ended, with its close code. */
export class RoomError extends Error {
  /**
   * @param {string} message
   * @param {number} code the close code
   * @param {string} [reason]
   * @param {boolean} [opened] false when the socket never opened
   */
  constructor(message, code, reason = "", opened = true) {
    super(message);
    this.name = "RoomError";
    this.code = code;
    this.reason = reason;
    this.opened = opened;
  }
}

/** A request the room refused (or that got no answer in time). */
export class RequestError extends Error {
  /**
   * @param {string} message
   * @param {number} code an ErrorCode (0 when the request never got an answer)
   */
  constructor(message, code) {
    super(message);
    this.name = "RequestError";
    this.code = code;
  }
}
