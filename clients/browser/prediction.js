/**
 * Prediction and reconciliation of the local player.
 *
 * The local player is drawn ahead of the server: the last state the server sent, plus every
 * input it has not acknowledged yet, replayed with the game's own `apply(state, input)`. When a
 * state arrives, the acknowledged inputs (up to its `last_seq`) are dropped and the rest are
 * replayed on the new authoritative state, so a misprediction corrects itself. The same
 * algorithm as `Predictor` in clients/python/prediction.py.
 *
 *     const predictor = new Predictor(move, myBody(room.state));
 *     const seq = room.sendInput(direction);
 *     predictor.input(seq, direction);
 *     room.on("state", ({ state, lastSeq }) => predictor.reconcile(myBody(state), lastSeq));
 *     draw(predictor.predicted);
 *
 * Owns: this pure helper. Must never: do I/O, or know the game (`apply` comes from the caller).
 *
 * @module prediction
 */

/**
 * @template S
 * @param {S} value
 * @returns {S}
 */
function clone(value) {
  return structuredClone(value);
}

/**
 * `state` with each input applied in order by `apply(state, input) -> state`. The state is
 * deep-copied first, so `apply` may change it in place (and return it).
 * @template S
 * @param {S} state
 * @param {Iterable<unknown>} inputs
 * @param {(state: S, input: any) => S} apply
 * @returns {S}
 */
export function replay(state, inputs, apply) {
  let predicted = clone(state);
  for (const input of inputs) predicted = apply(predicted, input);
  return predicted;
}

/**
 * The local player's predicted state: the authoritative state plus unacknowledged inputs.
 * @template S
 */
export class Predictor {
  /**
   * @param {(state: S, input: any) => S} apply the game's own movement rule
   * @param {S} initial
   * @param {object} [options]
   * @param {number} [options.maxPending] inputs kept at most (the oldest are dropped)
   * @param {(a: S, b: S) => boolean} [options.equal] tells a correction (default: deep equal)
   */
  constructor(apply, initial, { maxPending = 1024, equal = deepEqual } = {}) {
    this.apply = apply;
    /** @type {Map<number, unknown>} inputs not yet acknowledged, by sequence number */
    this.pending = new Map();
    this.authoritative = initial;
    this.predicted = clone(initial);
    /** States where the prediction for the acknowledged inputs was wrong. */
    this.corrections = 0;
    this.maxPending = maxPending;
    this.equal = equal;
    /** @type {Map<number, S>} predicted state after each pending input */
    this.history = new Map();
  }

  /**
   * Record input `seq` and apply it to the prediction at once.
   * @param {number} seq what `room.sendInput` returned
   * @param {unknown} input
   * @returns {S} the new predicted state
   */
  input(seq, input) {
    this.pending.set(seq, input);
    this.predicted = this.apply(this.predicted, input);
    this.history.set(seq, clone(this.predicted));
    while (this.pending.size > this.maxPending) {
      const oldest = /** @type {number} */ (this.pending.keys().next().value);
      this.pending.delete(oldest);
      this.history.delete(oldest);
    }
    return this.predicted;
  }

  /**
   * Take a new authoritative state that includes every input up to `lastSeq`: drop those
   * inputs, replay the others on top of it.
   * @param {S} serverState
   * @param {number} lastSeq
   * @returns {S} the new prediction
   */
  reconcile(serverState, lastSeq) {
    const expected = this.history.get(lastSeq);
    for (const seq of [...this.pending.keys()]) {
      if (seq <= lastSeq) {
        this.pending.delete(seq);
        this.history.delete(seq);
      }
    }
    if (expected !== undefined && !this.equal(expected, serverState)) this.corrections++;
    this.authoritative = serverState;
    let state = clone(serverState);
    /** @type {Map<number, S>} */
    const history = new Map();
    for (const [seq, input] of this.pending) {
      state = this.apply(state, input);
      history.set(seq, clone(state));
    }
    this.history = history;
    this.predicted = state;
    return state;
  }

  /**
   * Start again from `state` (after joining another room, or when the body reappears).
   * @param {S} state
   */
  reset(state) {
    this.pending.clear();
    this.history.clear();
    this.authoritative = state;
    this.predicted = clone(state);
  }
}

/**
 * Structural equality of plain data.
 * @param {unknown} a
 * @param {unknown} b
 * @returns {boolean}
 */
export function deepEqual(a, b) {
  if (Object.is(a, b) || a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every(
    (key) =>
      Object.hasOwn(b, key) &&
      deepEqual(/** @type {any} */ (a)[key], /** @type {any} */ (b)[key]),
  );
}
