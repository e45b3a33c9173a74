/**
 * The room's inputs in flight: sequence numbers, the ones the server has not acknowledged yet,
 * and how many go out per state frame.
 *
 * Every input gets the next sequence number and stays in `unacked` until a state's `last_seq`
 * covers it. `due()` says which to write now: those not written on this socket yet, in order,
 * at most `burst` per state frame received, so a backlog (inputs kept while reconnecting) goes
 * out paced instead of tripping the server's rate limit. After a reconnection `rewind()` makes
 * everything past the last acknowledged input due again.
 *
 * Owns: that bookkeeping. Must never: write to a socket (room.js does).
 *
 * @module inputs
 */

export class InputQueue {
  /**
   * @param {number} burst inputs written at most per state frame received
   * @param {number} maxUnacked inputs kept at most (the oldest is forgotten beyond)
   */
  constructor(burst, maxUnacked) {
    this.burst = burst;
    this.maxUnacked = maxUnacked;
    /** @type {Map<number, unknown>} inputs not acknowledged yet, by sequence number, in order */
    this.unacked = new Map();
    this.nextSeq = 1;
    /** The last sequence number written on the current socket. */
    this.written = 0;
    /** Inputs written since the last state frame. */
    this.sinceState = 0;
  }

  /**
   * Take an input; returns its sequence number.
   * @param {unknown} payload
   * @returns {number}
   */
  add(payload) {
    const seq = this.nextSeq++;
    this.unacked.set(seq, payload);
    if (this.unacked.size > this.maxUnacked) {
      this.unacked.delete(/** @type {number} */ (this.unacked.keys().next().value));
    }
    return seq;
  }

  /**
   * A state frame arrived saying the server processed every input up to `lastSeq`.
   * @param {number} lastSeq
   */
  acknowledge(lastSeq) {
    for (const seq of this.unacked.keys()) {
      if (seq > lastSeq) break;
      this.unacked.delete(seq);
    }
    this.written = Math.max(this.written, lastSeq);
    this.sinceState = 0;
  }

  /**
   * A new socket was welcomed: everything after `lastSeq` is due again.
   * @param {number} lastSeq
   */
  rewind(lastSeq) {
    this.written = lastSeq;
    this.sinceState = 0;
  }

  /**
   * The inputs to write now, marked as written.
   * @returns {Array<[number, unknown]>}
   */
  due() {
    /** @type {Array<[number, unknown]>} */
    const out = [];
    for (const [seq, payload] of this.unacked) {
      if (this.sinceState >= this.burst) break;
      if (seq <= this.written) continue;
      out.push([seq, payload]);
      this.written = seq;
      this.sinceState += 1;
    }
    return out;
  }
}
