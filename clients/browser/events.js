/**
 * Events with subscribers: `on(name, callback)` returns the unsubscribe function; `emit` calls
 * every subscriber, and one that throws is logged without stopping the others.
 *
 * Owns: the subscriber lists. Must never: know what the events mean.
 *
 * @module events
 */

export class Emitter {
  constructor() {
    /** @type {Map<string, Set<(event: any) => void>>} */
    this.listeners = new Map();
  }

  /**
   * Call `callback` for every event `name`.
   * @param {string} name
   * @param {(event: any) => void} callback
   * @returns {() => void} unsubscribe
   */
  on(name, callback) {
    let set = this.listeners.get(name);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(name, set);
    }
    const callbacks = set;
    callbacks.add(callback);
    return () => callbacks.delete(callback);
  }

  /**
   * @param {string} name
   * @param {unknown} event
   */
  emit(name, event) {
    for (const callback of this.listeners.get(name) ?? []) {
      try {
        callback(event);
      } catch (error) {
        console.error(`tickroom: a "${name}" listener failed`, error);
      }
    }
  }
}

/**
 * Answers awaited by key (requests by id, pings by time), each with a timeout.
 * @template T
 */
export class PendingCalls {
  constructor() {
    /** @type {Map<unknown, {resolve: (value: T) => void, reject: (error: Error) => void, timer: any}>} */
    this.calls = new Map();
  }

  /**
   * A promise for the answer to `key`, rejected with `onTimeout()` after `timeout` ms.
   * @param {unknown} key
   * @param {number} timeout
   * @param {() => Error} onTimeout
   * @returns {Promise<T>}
   */
  add(key, timeout, onTimeout) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.calls.delete(key);
        reject(onTimeout());
      }, timeout);
      this.calls.set(key, { resolve, reject, timer });
    });
  }

  /**
   * @param {unknown} key
   * @param {T} value
   * @returns {boolean} whether `key` was awaited
   */
  resolve(key, value) {
    const call = this.take(key);
    call?.resolve(value);
    return call !== undefined;
  }

  /**
   * @param {unknown} key
   * @param {Error} error
   */
  reject(key, error) {
    this.take(key)?.reject(error);
  }

  /** @param {Error} error */
  rejectAll(error) {
    for (const key of [...this.calls.keys()]) this.reject(key, error);
  }

  /** @param {unknown} key */
  take(key) {
    const call = this.calls.get(key);
    if (call !== undefined) {
      clearTimeout(call.timer);
      this.calls.delete(key);
    }
    return call;
  }
}
