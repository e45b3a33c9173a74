/**
 * The arena on a canvas: the local player predicted, everyone else interpolated, and a HUD.
 *
 * The arena (game_server/games/arena.py) keeps each player's latest input `{dx, dy}` and moves
 * them by it times SPEED every tick, on a 1000 x 1000 field, with positions quantised to 1/16.
 * This view sends one input per tick while a direction is held (and one stop), so each input
 * stands for one tick of movement: the prediction replays the unacknowledged ones on top of the
 * last server position (prediction.js). Other players and the NPCs are drawn two ticks in the
 * past, interpolated between states (interpolation.js).
 *
 * Owns: drawing, keyboard and touch input, the HUD. Must never: decide game outcomes (the room
 * does), or talk to the server except through its Room.
 *
 * @module demo/arena
 */

import { InterpolationBuffer, Predictor, Quantized } from "../tickroom.js";
import { colorFor } from "./common.js";

export const FIELD = 1000;
export const SPEED = 2;
const POSITION = new Quantized(1 / 16);
const KEYS = {
  ArrowLeft: [-1, 0],
  ArrowRight: [1, 0],
  ArrowUp: [0, -1],
  ArrowDown: [0, 1],
  KeyA: [-1, 0],
  KeyD: [1, 0],
  KeyW: [0, -1],
  KeyS: [0, 1],
};

/**
 * The arena's movement rule, as the room runs it: one tick of `input` applied to `body`.
 * @param {{x: number, y: number}} body
 * @param {{dx: number, dy: number}} input
 * @returns {{x: number, y: number}}
 */
export function move(body, input) {
  if (input.dx) body.x = POSITION.normalize(Math.min(FIELD, Math.max(0, body.x + input.dx * SPEED)));
  if (input.dy) body.y = POSITION.normalize(Math.min(FIELD, Math.max(0, body.y + input.dy * SPEED)));
  return body;
}

/**
 * Positions of everyone but `me`, keyed "p:<session>" and "n:<index>".
 * @param {Record<string, any>} state
 * @param {string} me
 * @returns {Map<string, {x: number, y: number}>}
 */
function remoteEntities(state, me) {
  /** @type {Map<string, {x: number, y: number}>} */
  const entities = new Map();
  for (const [id, body] of Object.entries(state.players ?? {})) {
    if (id !== me) entities.set(`p:${id}`, { x: body.x, y: body.y });
  }
  (state.npcs ?? []).forEach((/** @type {any} */ npc, /** @type {number} */ index) => {
    entities.set(`n:${index}`, { x: npc.x, y: npc.y });
  });
  return entities;
}

export class ArenaView {
  /**
   * @param {import("../room.js").Room} room a joined arena room
   * @param {HTMLCanvasElement} canvas
   * @param {{hud: Record<string, HTMLElement>}} elements
   */
  constructor(room, canvas, { hud }) {
    this.room = room;
    this.canvas = canvas;
    this.context = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
    this.hud = hud;
    this.buffer = new InterpolationBuffer({ tickRate: room.tickRate });
    const body = room.state.players?.[room.sessionId] ?? { x: FIELD / 2, y: FIELD / 2 };
    this.predictor = new Predictor(move, { x: body.x, y: body.y });
    /** @type {{x: number, y: number}} where the local player is drawn (smoothed prediction) */
    this.shown = { x: body.x, y: body.y };
    /** @type {Set<string>} */
    this.held = new Set();
    /** @type {{dx: number, dy: number} | null} the pointer's direction, if touching */
    this.pointer = null;
    this.lastSent = { dx: 0, dy: 0 };
    this.frameAt = performance.now();
    this.traffic = { at: performance.now(), bytesIn: 0, bytesOut: 0, inRate: 0, outRate: 0 };
    /** @type {Array<() => void>} */
    this.cleanups = [];
    this.running = true;

    this.cleanups.push(room.on("state", (event) => this.onState(event)));
    this.onState({ tick: room.tick, lastSeq: room.lastSeq, state: room.state, receivedAt: performance.now() });
    this.listen(window, "keydown", (event) => this.onKey(/** @type {KeyboardEvent} */ (event), true));
    this.listen(window, "keyup", (event) => this.onKey(/** @type {KeyboardEvent} */ (event), false));
    this.listen(window, "blur", () => this.held.clear());
    for (const type of ["pointerdown", "pointermove"]) {
      this.listen(canvas, type, (event) => this.onPointer(/** @type {PointerEvent} */ (event)));
    }
    for (const type of ["pointerup", "pointercancel", "pointerleave"]) {
      this.listen(canvas, type, () => (this.pointer = null));
    }
    const interval = setInterval(() => this.sendInput(), 1000 / room.tickRate);
    this.cleanups.push(() => clearInterval(interval));
    const hudTimer = setInterval(() => this.updateHud(), 250);
    this.cleanups.push(() => clearInterval(hudTimer));
    requestAnimationFrame((now) => this.frame(now));
  }

  /**
   * @param {EventTarget} target
   * @param {string} type
   * @param {(event: Event) => void} handler
   */
  listen(target, type, handler) {
    target.addEventListener(type, handler);
    this.cleanups.push(() => target.removeEventListener(type, handler));
  }

  /** Stop drawing and listening (the room is left by the caller). */
  stop() {
    this.running = false;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }

  /** @param {{tick: number, lastSeq: number, state: Record<string, any>, receivedAt: number}} event */
  onState({ tick, lastSeq, state, receivedAt }) {
    this.buffer.push(tick, remoteEntities(state, this.room.sessionId), receivedAt);
    const body = state.players?.[this.room.sessionId];
    if (body !== undefined) this.predictor.reconcile({ x: body.x, y: body.y }, lastSeq);
  }

  /**
   * @param {KeyboardEvent} event
   * @param {boolean} down
   */
  onKey(event, down) {
    if (!(event.code in KEYS)) return;
    const target = /** @type {HTMLElement | null} */ (event.target);
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA")) return;
    event.preventDefault();
    if (down) this.held.add(event.code);
    else this.held.delete(event.code);
  }

  /** @param {PointerEvent} event */
  onPointer(event) {
    if (event.type === "pointermove" && event.buttons === 0 && event.pointerType === "mouse") return;
    event.preventDefault();
    const rect = this.canvas.getBoundingClientRect();
    const scale = rect.width / FIELD;
    const offsetX = event.clientX - rect.left - this.shown.x * scale;
    const offsetY = event.clientY - rect.top - this.shown.y * scale;
    const dead = 12;
    this.pointer = {
      dx: offsetX > dead ? 1 : offsetX < -dead ? -1 : 0,
      dy: offsetY > dead ? 1 : offsetY < -dead ? -1 : 0,
    };
  }

  /** The direction held now: keys first, else the pointer. */
  direction() {
    let dx = 0;
    let dy = 0;
    for (const code of this.held) {
      dx += KEYS[/** @type {keyof typeof KEYS} */ (code)][0];
      dy += KEYS[/** @type {keyof typeof KEYS} */ (code)][1];
    }
    if (!dx && !dy && this.pointer) return { ...this.pointer };
    return { dx: Math.sign(dx), dy: Math.sign(dy) };
  }

  /** Once per tick: send the direction while one is held, and one stop when it is let go. */
  sendInput() {
    const room = this.room;
    if (!room.connected || room.isSpectator) return;
    if (room.state.players?.[room.sessionId] === undefined) return;
    const input = this.direction();
    if (!input.dx && !input.dy && !this.lastSent.dx && !this.lastSent.dy) return;
    const seq = room.sendInput(input);
    this.predictor.input(seq, input);
    this.lastSent = input;
  }

  /** @param {number} now */
  frame(now) {
    if (!this.running) return;
    const dt = Math.min(0.1, (now - this.frameAt) / 1000);
    this.frameAt = now;
    const target = this.predictor.predicted;
    const distance = Math.hypot(target.x - this.shown.x, target.y - this.shown.y);
    if (distance > 80) this.shown = { ...target };
    else {
      const blend = 1 - Math.exp(-dt / 0.05);
      this.shown.x += (target.x - this.shown.x) * blend;
      this.shown.y += (target.y - this.shown.y) * blend;
    }
    this.draw(this.buffer.sample(now));
    requestAnimationFrame((next) => this.frame(next));
  }

  /** Fit the canvas's backing store to its size on screen. */
  resize() {
    const ratio = window.devicePixelRatio || 1;
    const size = Math.round(this.canvas.clientWidth * ratio);
    if (this.canvas.width !== size || this.canvas.height !== size) {
      this.canvas.width = size;
      this.canvas.height = size;
    }
    return size / FIELD;
  }

  /** @param {Map<string, Record<string, number>>} entities */
  draw(entities) {
    const scale = this.resize();
    const ctx = this.context;
    const ratio = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#10141f";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.strokeStyle = "#1f2638";
    ctx.lineWidth = 1;
    for (let line = 0; line <= FIELD; line += 100) {
      ctx.beginPath();
      ctx.moveTo(line * scale, 0);
      ctx.lineTo(line * scale, FIELD * scale);
      ctx.moveTo(0, line * scale);
      ctx.lineTo(FIELD * scale, line * scale);
      ctx.stroke();
    }
    const players = this.room.state.players ?? {};
    ctx.font = `${Math.round(12 * ratio)}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    for (const [key, at] of entities) {
      if (key.startsWith("n:")) {
        ctx.fillStyle = "#5f7a6a";
        ctx.beginPath();
        ctx.arc(at.x * scale, at.y * scale, Math.max(2, 5 * scale), 0, Math.PI * 2);
        ctx.fill();
      }
    }
    for (const [key, at] of entities) {
      if (!key.startsWith("p:")) continue;
      const id = key.slice(2);
      if (players[id] === undefined) continue;
      this.drawPlayer(at.x * scale, at.y * scale, colorFor(id), players[id].name, false, scale);
    }
    const me = players[this.room.sessionId];
    if (me !== undefined) {
      this.drawPlayer(this.shown.x * scale, this.shown.y * scale, colorFor(this.room.sessionId), `${me.name} (you)`, true, scale);
    }
  }

  /**
   * @param {number} x
   * @param {number} y
   * @param {string} color
   * @param {string} name
   * @param {boolean} local
   * @param {number} scale
   */
  drawPlayer(x, y, color, name, local, scale) {
    const ctx = this.context;
    const ratio = window.devicePixelRatio || 1;
    const radius = Math.max(6 * ratio, 13 * scale);
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(x, y, radius, 0, Math.PI * 2);
    ctx.fill();
    if (local) {
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = 2 * ratio;
      ctx.stroke();
    }
    ctx.fillStyle = "#e8ecf6";
    ctx.fillText(name, x, y - radius - 4 * ratio);
  }

  updateHud() {
    const room = this.room;
    const now = performance.now();
    const traffic = this.traffic;
    const seconds = (now - traffic.at) / 1000;
    if (seconds >= 1) {
      traffic.inRate = (room.stats.bytesIn - traffic.bytesIn) / seconds;
      traffic.outRate = (room.stats.bytesOut - traffic.bytesOut) / seconds;
      traffic.at = now;
      traffic.bytesIn = room.stats.bytesIn;
      traffic.bytesOut = room.stats.bytesOut;
    }
    this.hud.ping.textContent = room.rtt === null ? "–" : `${Math.round(room.rtt)} ms`;
    this.hud.tick.textContent = String(room.tick);
    this.hud.players.textContent = String(Object.keys(room.state.players ?? {}).length);
    this.hud.bytesIn.textContent = `${formatRate(traffic.inRate)}`;
    this.hud.bytesOut.textContent = `${formatRate(traffic.outRate)}`;
    this.hud.delay.textContent = `${Math.round(this.buffer.delay)} ms`;
  }
}

/**
 * @param {number} bytesPerSecond
 * @returns {string}
 */
function formatRate(bytesPerSecond) {
  if (bytesPerSecond >= 1024) return `${(bytesPerSecond / 1024).toFixed(1)} KiB/s`;
  return `${Math.round(bytesPerSecond)} B/s`;
}
