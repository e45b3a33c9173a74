/**
 * How a room resumes a dropped connection: the retry schedule (the same fields, in
 * milliseconds, as the Python client's `ReconnectPolicy`).
 *
 * Owns: the numbers. Must never: open sockets (room.js does).
 *
 * @module reconnect
 */

export class ReconnectPolicy {
  /**
   * Attempt `n` (from 1) waits `min(maxDelay, minDelay * factor ** (n - 1))` ms plus up to
   * `jitter` of that at random; after `retries` failed attempts the room closes.
   * `{retries: 0}` turns reconnection off.
   * @param {Partial<ReconnectPolicy>} [options]
   */
  constructor(options = {}) {
    this.retries = 8;
    this.minDelay = 100;
    this.maxDelay = 5000;
    this.factor = 2;
    this.jitter = 0.1;
    /** Milliseconds one attempt may take to be welcomed and get its first state. */
    this.attemptTimeout = 10000;
    /** Messages and requests kept while disconnected (the oldest is dropped beyond). */
    this.maxQueued = 64;
    /** Inputs kept unacknowledged at most (the oldest is dropped beyond). */
    this.maxUnacked = 1024;
    Object.assign(this, options);
  }

  /**
   * Milliseconds to wait before attempt `attempt` (1, 2, ...).
   * @param {number} attempt
   * @param {number} [random] a number in 0..1
   * @returns {number}
   */
  delay(attempt, random = 0) {
    const base = Math.min(this.maxDelay, this.minDelay * this.factor ** Math.max(0, attempt - 1));
    return base * (1 + this.jitter * random);
  }
}
