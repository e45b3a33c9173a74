/**
 * A fake WebSocket for Room tests: the test plays the server, frame by frame, with no network
 * and no timers.
 *
 * @module tests/fake-socket
 */

import { decodeFrames, encodeFrames } from "../codec.js";

/** Every socket a test's Room opened, newest last. */
export class FakeNetwork {
  constructor() {
    /** @type {FakeSocket[]} */
    this.sockets = [];
    const network = this;
    /** The class to pass as `WebSocket` in the room options. */
    this.WebSocket = class extends FakeSocket {
      /**
       * @param {string} url
       * @param {string[]} protocols
       */
      constructor(url, protocols) {
        super(url, protocols);
        network.sockets.push(this);
      }
    };
  }

  /** The newest socket. */
  get last() {
    const socket = this.sockets[this.sockets.length - 1];
    if (socket === undefined) throw new Error("no socket was opened");
    return socket;
  }
}

export class FakeSocket {
  /**
   * @param {string} url
   * @param {string[]} protocols
   */
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.binaryType = "blob";
    this.readyState = 0;
    /** @type {any[]} every message the client sent, decoded */
    this.sent = [];
    /** @type {{code: number, reason: string} | null} the close the client asked for */
    this.closedByClient = null;
    /** @type {Array<Uint8Array>} raw WebSocket messages the client sent */
    this.raw = [];
    /** @type {any} */ this.onopen = null;
    /** @type {any} */ this.onmessage = null;
    /** @type {any} */ this.onclose = null;
    /** @type {any} */ this.onerror = null;
  }

  /** @param {Uint8Array} data */
  send(data) {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.raw.push(data);
    this.sent.push(...decodeFrames(data, { maxSize: 4096 }));
  }

  /**
   * The client closes: the close event follows on a later turn, as in a browser.
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code = 1000, reason = "") {
    if (this.readyState === 3) return;
    this.closedByClient = { code, reason };
    this.readyState = 3;
    setTimeout(() => this.onclose?.({ code, reason }), 0);
  }

  // -- the server's side --------------------------------------------------------------------

  /** The handshake succeeds. */
  accept() {
    this.readyState = 1;
    this.onopen?.({});
  }

  /**
   * Deliver messages as one WebSocket message of frames.
   * @param {...any} messages
   */
  push(...messages) {
    this.onmessage?.({ data: encodeFrames(messages).slice().buffer });
  }

  /**
   * Deliver raw bytes or text.
   * @param {ArrayBuffer | string} data
   */
  pushRaw(data) {
    this.onmessage?.({ data });
  }

  /**
   * The server (or the network) closes the socket.
   * @param {number} [code]
   * @param {string} [reason]
   */
  drop(code = 1006, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /**
   * Messages of one type the client sent.
   * @param {string} type
   */
  sentOf(type) {
    return this.sent.filter((message) => message.type === type);
  }
}

/** Let queued microtasks and zero-delay timers run. */
export function settle() {
  return new Promise((resolve) => setTimeout(resolve, 5));
}
