/**
 * Outgoing frames, batched: frames written during one turn of the event loop go out together,
 * in as few WebSocket messages as the server's size limit allows (a message may hold several
 * frames, but no more bytes than one frame may: `CLIENT_MAX_SIZE`).
 *
 * Owns: the queue and the batching. Must never: encode or decide what to send.
 *
 * @module outbox
 */

import { CLIENT_MAX_SIZE } from "./codec.js";

const OPEN = 1;

export class Outbox {
  /**
   * @param {() => WebSocket | null} socket the socket to write to now, or null
   * @param {{bytesOut: number, messagesOut: number}} stats counted as messages go out
   */
  constructor(socket, stats) {
    this.socket = socket;
    this.stats = stats;
    /** @type {Uint8Array[]} */
    this.frames = [];
    this.queued = false;
  }

  /**
   * Queue an encoded frame; it goes out at the end of this turn (or at `flush()`).
   * @param {Uint8Array} frame
   */
  push(frame) {
    this.frames.push(frame);
    if (!this.queued) {
      this.queued = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Forget what was queued for a socket that is gone. */
  clear() {
    this.frames = [];
  }

  /** Send what is queued, if the socket is open (else keep it for later). */
  flush() {
    this.queued = false;
    const ws = this.socket();
    if (!this.frames.length || ws === null || ws.readyState !== OPEN) return;
    /** @type {Uint8Array[]} */
    let batch = [];
    let size = 0;
    const send = () => {
      if (!batch.length) return;
      const data = new Uint8Array(size);
      let offset = 0;
      for (const frame of batch) {
        data.set(frame, offset);
        offset += frame.length;
      }
      ws.send(data);
      this.stats.bytesOut += size;
      this.stats.messagesOut += 1;
      batch = [];
      size = 0;
    };
    for (const frame of this.frames.splice(0)) {
      if (size + frame.length > CLIENT_MAX_SIZE) send();
      batch.push(frame);
      size += frame.length;
    }
    send();
  }
}
