/**
 * Interpolation of remote entities: draw them a little in the past, between two states already
 * received, so they move smoothly although states arrive in steps and with jitter.
 *
 * The buffer maps local arrival times onto the room's tick timeline (the earliest arrivals are
 * the least delayed, so the timeline follows them), measures the jitter of arrivals (RFC 3550's
 * running mean of |arrival - expected|), and renders at `delayTicks + jitterFactor * jitter`
 * ticks behind the newest state: 2 ticks by default, more when the network is jittery. It is
 * the same algorithm as `InterpolationBuffer` in clients/python/prediction.py.
 *
 *     const buffer = new InterpolationBuffer({ tickRate: room.tickRate });
 *     room.on("state", ({ tick, state, receivedAt }) => buffer.push(tick, positions(state), receivedAt));
 *     // each animation frame:
 *     for (const [id, { x, y }] of buffer.sample(performance.now())) draw(id, x, y);
 *
 * Owns: this pure helper. Must never: read a clock by itself (callers pass `now`, in
 * milliseconds), or know the game (entities come from the caller).
 *
 * @module interpolation
 */

/** @typedef {Record<string, number>} Values */
/** @typedef {Map<string, Values>} Entities */
/** @typedef {{tick: number, arrived: number, entities: Entities}} Snapshot */

export class InterpolationBuffer {
  /**
   * @param {object} options
   * @param {number} options.tickRate the room's ticks per second
   * @param {number} [options.delayTicks] how far behind to render with a perfect network
   * @param {number} [options.jitterFactor] times the measured jitter (in ticks), added
   * @param {number} [options.maxDelayTicks] the delay never grows past this
   * @param {number} [options.capacity] snapshots kept
   */
  constructor({ tickRate, delayTicks = 2, jitterFactor = 2, maxDelayTicks = 10, capacity = 64 }) {
    if (!(tickRate > 0) || delayTicks < 0 || capacity < 2) {
      throw new RangeError("tickRate > 0, delayTicks >= 0 and capacity >= 2 are required");
    }
    /** Milliseconds per tick. */
    this.tickInterval = 1000 / tickRate;
    this.delayTicks = delayTicks;
    this.jitterFactor = jitterFactor;
    this.maxDelayTicks = Math.max(maxDelayTicks, delayTicks);
    this.capacity = capacity;
    /** @type {Snapshot[]} */
    this.snapshots = [];
    /** Running mean of how far arrivals stray from the tick timeline, in milliseconds. */
    this.jitter = 0;
    /** @type {number | null} local time of tick 0, from the least delayed arrival seen */
    this.origin = null;
    /** @type {number | null} */
    this.lastTransit = null;
  }

  /** How far behind the timeline's present rendering happens, in milliseconds. */
  get delay() {
    const ticks = this.delayTicks + (this.jitterFactor * this.jitter) / this.tickInterval;
    return Math.min(ticks, this.maxDelayTicks) * this.tickInterval;
  }

  /** Forget every snapshot and the timeline (after a reconnection to another room, say). */
  clear() {
    this.snapshots = [];
    this.jitter = 0;
    this.origin = null;
    this.lastTransit = null;
  }

  /**
   * Add the entities' values at `tick`, which arrived at local time `arrived` (ms). Snapshots
   * not newer than the newest are ignored.
   * @param {number} tick
   * @param {Map<string, Values> | Record<string, Values>} entities
   * @param {number} arrived
   */
  push(tick, entities, arrived) {
    const newest = this.snapshots[this.snapshots.length - 1];
    if (newest !== undefined && tick <= newest.tick) return;
    const transit = arrived - tick * this.tickInterval; // origin + this arrival's delay
    if (this.lastTransit !== null) {
      this.jitter += (Math.abs(transit - this.lastTransit) - this.jitter) / 16;
    }
    this.lastTransit = transit;
    if (this.origin === null || transit < this.origin) this.origin = transit;
    else this.origin += (transit - this.origin) * 0.01; // drift slowly towards later arrivals
    /** @type {Entities} */
    const copy = new Map();
    const pairs = entities instanceof Map ? entities.entries() : Object.entries(entities);
    for (const [key, values] of pairs) copy.set(key, { ...values });
    this.snapshots.push({ tick, arrived, entities: copy });
    if (this.snapshots.length > this.capacity) this.snapshots.shift();
  }

  /**
   * The (fractional) tick to draw at local time `now`; null before the first push.
   * @param {number} now milliseconds, on the clock `push` was given
   * @returns {number | null}
   */
  renderTick(now) {
    if (this.origin === null) return null;
    return (now - this.origin - this.delay) / this.tickInterval;
  }

  /**
   * Every entity's values at the render time for `now`: interpolated between the two snapshots
   * around it; held at the oldest or newest snapshot outside them. An entity missing from one
   * of the two snapshots is taken from the one that has it.
   * @param {number} now
   * @returns {Entities}
   */
  sample(now) {
    const render = this.renderTick(now);
    const snapshots = this.snapshots;
    if (render === null || !snapshots.length) return new Map();
    let index = 0; // the first snapshot newer than `render`
    while (index < snapshots.length && snapshots[index].tick <= render) index++;
    if (index === 0) return copyEntities(snapshots[0].entities);
    if (index === snapshots.length) return copyEntities(snapshots[index - 1].entities);
    const older = snapshots[index - 1];
    const newer = snapshots[index];
    const fraction = (render - older.tick) / (newer.tick - older.tick);
    /** @type {Entities} */
    const out = new Map();
    for (const [key, a] of older.entities) {
      const b = newer.entities.get(key);
      if (b === undefined) {
        out.set(key, { ...a });
        continue;
      }
      /** @type {Values} */
      const values = {};
      for (const name of Object.keys(a)) {
        values[name] = name in b ? a[name] + (b[name] - a[name]) * fraction : a[name];
      }
      out.set(key, values);
    }
    for (const [key, b] of newer.entities) if (!out.has(key)) out.set(key, { ...b });
    return out;
  }
}

/**
 * @param {Entities} entities
 * @returns {Entities}
 */
function copyEntities(entities) {
  return new Map(Array.from(entities, ([key, values]) => [key, { ...values }]));
}
