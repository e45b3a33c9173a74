/**
 * What to tell a person about a close code or an error code.
 *
 * Every `CloseCode` of codes.js has a sentence here, and so do the standard WebSocket codes a
 * browser reports (1000-1015); a test checks none is missing. Owns: the wording. Must never:
 * decide whether to reconnect (that is `isReconnectable` in codes.js).
 *
 * @module closes
 */

import { CloseCode, ErrorCode, codeName } from "./codes.js";

/** @type {Readonly<Record<number, string>>} */
export const CLOSE_MESSAGES = Object.freeze({
  1000: "The connection was closed.",
  1001: "The server went away (it is restarting, or this page is being left).",
  1002: "The connection was closed for a protocol error.",
  1003: "The server refused data it cannot accept.",
  1005: "The connection closed without giving a reason.",
  1006: "The connection to the game server was lost.",
  1007: "The connection was closed for bad data.",
  1008: "The game server refused this connection (policy).",
  1009: "A message was too big for the server.",
  1011: "The game server hit an unexpected error.",
  1012: "The game server is restarting.",
  1013: "The game server is overloaded: try again later.",
  1015: "The secure connection (TLS) failed.",
  [CloseCode.CONSENTED]: "You left the room.",
  [CloseCode.SERVER_SHUTDOWN]: "The game server is shutting down or restarting.",
  [CloseCode.INTERNAL_ERROR]: "The room failed on the server.",
  [CloseCode.MAY_TRY_RECONNECT]: "The server dropped this connection but kept your seat.",
  [CloseCode.FAILED_TO_RECONNECT]:
    "Your seat could not be resumed (it expired or was taken): join the room again.",
  [CloseCode.SEAT_INVALID]: "The seat reservation is invalid or expired: join again.",
  [CloseCode.ROOM_FULL]: "The room is full.",
  [CloseCode.ROOM_NOT_FOUND]: "The room does not exist (any more).",
  [CloseCode.ROOM_LOCKED]: "The room is locked: nobody new may join.",
  [CloseCode.KICKED]: "You were removed from the room.",
  [CloseCode.MESSAGE_TOO_BIG]: "A message was larger than the server allows.",
  [CloseCode.RATE_LIMITED]: "Too many messages: the server closed the connection.",
  [CloseCode.TOO_SLOW]: "The connection was too slow to keep up with the game.",
  [CloseCode.PROTOCOL_ERROR]: "Protocol error: this client and the server disagree.",
  [CloseCode.UNSUPPORTED_VERSION]:
    "The server speaks another protocol version: reload the page to get a matching client.",
  [CloseCode.ROOM_DISPOSED]: "The room has ended.",
  [CloseCode.AUTH_FAILED]: "The room refused your credentials.",
  [CloseCode.IDLE_TIMEOUT]: "Disconnected after being idle too long.",
});

/**
 * Said when the socket closed before it ever opened: the browser hides why (an HTTP refusal
 * such as the server's Origin check, a server that is down, a wrong address), so say all three.
 */
export const REFUSED_MESSAGE =
  "Could not connect to the game server: it refused this page (only pages it serves, or " +
  "origins it allows with --allow-origin, may connect), or it is down or unreachable.";

/**
 * A sentence for a close: the code's own, then the server's reason when it adds something.
 * @param {number} code the WebSocket close code
 * @param {string} [reason] the close frame's reason
 * @param {{opened?: boolean}} [context] `opened: false` when the socket never opened
 * @returns {string}
 */
export function describeClose(code, reason = "", { opened = true } = {}) {
  if (!opened && (code === 1006 || code === 1005 || code === 1015)) return REFUSED_MESSAGE;
  const name = codeName(CloseCode, code);
  let text = CLOSE_MESSAGES[code];
  if (text === undefined) {
    text =
      code >= 4000 && code <= 4999
        ? `The server closed the connection (code ${code}).`
        : `The connection closed (code ${code}).`;
  }
  const suffix = name === undefined ? ` [${code}]` : ` [${code} ${name}]`;
  return reason ? `${text} (${reason})${suffix}` : `${text}${suffix}`;
}

/** @type {Readonly<Record<number, string>>} */
export const ERROR_MESSAGES = Object.freeze({
  [ErrorCode.INVALID_PAYLOAD]: "The room refused the data sent.",
  [ErrorCode.UNKNOWN_MESSAGE]: "The room does not know this message.",
  [ErrorCode.NOT_ALLOWED]: "Not allowed now.",
  [ErrorCode.RATE_LIMITED]: "Too many messages: one was dropped.",
  [ErrorCode.HANDLER_FAILED]: "The room failed while handling it.",
  [ErrorCode.ROOM_FULL]: "The room is full.",
  [ErrorCode.ROOM_NOT_FOUND]: "No such room.",
  [ErrorCode.ROOM_LOCKED]: "The room is locked.",
  [ErrorCode.AUTH_FAILED]: "The room refused your credentials.",
  [ErrorCode.SEAT_INVALID]: "The seat reservation is invalid or expired.",
  [ErrorCode.UNKNOWN_ROOM_TYPE]: "The server has no game of that name.",
  [ErrorCode.REQUEST_TIMEOUT]: "No answer in time.",
  [ErrorCode.INVALID_OPTIONS]: "The join options were refused.",
  [ErrorCode.UNAVAILABLE]: "The game server cannot take players now (shutting down, or the room failed to start).",
});

/**
 * A sentence for an error code (ERROR frames, refused requests, matchmaking refusals).
 * @param {number} code
 * @param {string} [message] the server's own words
 * @returns {string}
 */
export function describeError(code, message = "") {
  const text = ERROR_MESSAGES[code] ?? `Error ${code}.`;
  return message ? `${text} (${message})` : text;
}
