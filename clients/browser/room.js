/**
 * `Room`: one seat in one room, over one WebSocket at a time, across reconnections.
 *
 * Theory of operation. A room is made from a seat reservation (see client.js). `join()` opens
 * the reservation's `url` with the `tickroom.v2.msgpack` subprotocol, sends JOIN, and resolves
 * once WELCOME and the first state are applied. From then on every FULL_STATE replaces
 * `room.state` (in place: the object stays the same) and every PATCH is applied to it, each
 * followed by an ACK; a "state" event names the changed paths. Inputs get sequence numbers and
 * wait in `unackedInputs` until a state's `last_seq` covers them, so a game can predict its own
 * player (prediction.js). A PING goes out every `pingInterval` ms and `rtt` follows the PONGs.
 *
 * When the socket closes without a deliberate close (1006, any code below 4000, or a
 * reconnectable application code), the room waits (exponential backoff with jitter), opens a new
 * socket and sends RECONNECT with its reconnect token and the tick of its last state; once
 * WELCOME arrives it re-sends the inputs the server has not acknowledged, in order, a few per
 * state frame. A PATCH that does not fit (another baseline, a PatchError) makes it reconnect at
 * once asking for a full state. Any other close ends the room: a "close" event carries the code
 * and a sentence for people (closes.js).
 *
 * Owns: the socket, the client side of the connection state machine, the state object, input
 * sequencing, requests, pings and reconnection. Must never: know a game, draw, or block.
 *
 * Events (`room.on(name, callback)`, which returns an unsubscribe function):
 *   "welcome"      {roomId, sessionId, role, tick, resumed}
 *   "state"        {tick, lastSeq, full, changes, state, receivedAt}
 *   "message"      {kind, payload}
 *   "error"        {code, message, text}            an ERROR frame: the socket stays open
 *   "pong"         {rtt}
 *   "reconnecting" {attempt, delay, code, reason, text}
 *   "reconnected"  {attempt, tick}
 *   "close"        {code, reason, consented, opened, text}   the room has ended for good
 *
 * @module room
 */

import { describeClose, describeError } from "./closes.js";
import {
  CloseCode,
  ErrorCode,
  PROTOCOL_VERSION,
  Role,
  SUBPROTOCOL_MSGPACK,
  isReconnectable,
} from "./codes.js";
import { ProtocolError, SERVER_MAX_SIZE, decodeFrames, encodeFrame } from "./codec.js";
import { RequestError, RoomError } from "./errors.js";
import { Emitter, PendingCalls } from "./events.js";
import { InputQueue } from "./inputs.js";
import { Outbox } from "./outbox.js";
import { ReconnectPolicy } from "./reconnect.js";
import { PatchError, Schema } from "./schema.js";
import { applyDelta, decodeState, touches, valueAt } from "./state.js";

/**
 * Milliseconds between ACKs, at most: the first state of a connection is acknowledged at once,
 * then the state after which the next would come a second or more after the last ACK (one state
 * interval early). So ACKs go out about once a second at any tick rate, and with every state in a
 * room that publishes less often. The server needs one within its ack timeout (10 s by default)
 * and reads each as a message.
 */
const ACK_INTERVAL_MS = 1000;

export { ReconnectPolicy, RequestError, RoomError };

const NORMAL_CLOSURE = 1000;
const NO_STATUS = 1005;

/**
 * @typedef {object} SeatReservation what POST /matchmake/... answers
 * @property {string} room_id
 * @property {string} [room_name]
 * @property {string} session_id
 * @property {string} token
 * @property {string} url
 * @property {boolean} [spectator]
 */

/**
 * @typedef {object} RoomOptions
 * @property {typeof WebSocket} [WebSocket] the WebSocket class (tests pass a fake)
 * @property {Partial<ReconnectPolicy>} [reconnect] reconnection settings; `{retries: 0}` turns it off
 * @property {number} [inputBurst] inputs written at most per state frame received (default 4)
 * @property {number} [requestTimeout] ms before a request fails (default 10000)
 * @property {number} [joinTimeout] ms the first join may take (default 10000)
 * @property {number} [pingInterval] ms between pings; 0 turns them off (default 1000)
 * @property {() => number} [now] the clock, in ms (default performance.now)
 */

/** @typedef {{ws: WebSocket, opened: boolean, synced: boolean, settled: boolean,
 *   closing: {code: number, reason: string} | null, resolve: () => void,
 *   reject: (error: RoomError) => void, timer: any}} Attempt */

/** @typedef {{type: string, [field: string]: any}} Message */

export class Room extends Emitter {
  /**
   * @param {SeatReservation} reservation
   * @param {RoomOptions} [options]
   */
  constructor(reservation, options = {}) {
    super();
    this.reservation = reservation;
    /** The room's id. */
    this.id = reservation.room_id;
    /** The room type's name. */
    this.name = reservation.room_name ?? "";
    this.sessionId = reservation.session_id;
    this.url = reservation.url;
    this.role = reservation.spectator ? Role.SPECTATOR : Role.PLAYER;
    this.reconnectToken = "";
    this.tickRate = 20;
    this.patchRate = 1;
    this.schema = new Schema();
    /** @type {Record<string, any>} The room state: plain objects and arrays, updated in place. */
    this.state = {};
    /** The tick of the last state applied (-1 before the first). */
    this.tick = -1;
    /** The last input sequence number the server processed. */
    this.lastSeq = 0;
    /** @type {number | null} the round-trip time of the last ping, in ms */
    this.rtt = null;
    /** Counters for a HUD: bytes and WebSocket messages each way, states, reconnections. */
    this.stats = {
      bytesIn: 0,
      bytesOut: 0,
      messagesIn: 0,
      messagesOut: 0,
      states: 0,
      fullStates: 0,
      patches: 0,
      inputsSent: 0,
      reconnects: 0,
      resyncs: 0,
    };
    /** @type {null | {code: number, reason: string, consented: boolean, opened: boolean, text: string}} */
    this.closed = null;
    /** @type {number | null} when this socket's last ACK went out (`now()`); null: none yet */
    this.ackedAt = null;
    /** ms from an ACK to the state that acknowledges next: ACK_INTERVAL_MS less one state interval */
    this.ackAfter = ACK_INTERVAL_MS;

    this.policy = new ReconnectPolicy(options.reconnect);
    this.inputs = new InputQueue(options.inputBurst ?? 4, this.policy.maxUnacked);
    this.requestTimeout = options.requestTimeout ?? 10000;
    this.joinTimeout = options.joinTimeout ?? 10000;
    this.pingInterval = options.pingInterval ?? 1000;
    this.now = options.now ?? (() => performance.now());
    /** @type {typeof WebSocket} */
    this.WebSocket = options.WebSocket ?? globalThis.WebSocket;

    /** @type {"idle" | "connecting" | "joined" | "reconnecting" | "leaving" | "closed"} */
    this.phase = "idle";
    /** @type {Attempt | null} */
    this.attempt = null;
    /** @type {Array<{path: Array<string | number>, callback: Function}>} */
    this.watchers = [];
    this.outbox = new Outbox(() => (this.attempt?.opened ? this.attempt.ws : null), this.stats);
    /** @type {Message[]} messages and requests sent while disconnected */
    this.queue = [];
    this.nextRequest = 1;
    /** @type {PendingCalls<any>} requests awaiting their RESPONSE, by id */
    this.requests = new PendingCalls();
    /** @type {PendingCalls<number>} pings awaiting their PONG, by time */
    this.pings = new PendingCalls();
    this.pingTimer = null;
    this.resync = false;
    this.leaving = false;
    /** @type {any} */
    this.leaveTimer = undefined;
    /** @type {Array<(info: any) => void>} */
    this.closeWaiters = [];
  }

  /** @returns {Map<number, unknown>} inputs not acknowledged yet, by sequence number, in order */
  get unackedInputs() {
    return this.inputs.unacked;
  }

  /** True while joined and the socket is open. */
  get connected() {
    return this.phase === "joined";
  }

  /** True for spectators, who watch and send no input. */
  get isSpectator() {
    return this.role === Role.SPECTATOR;
  }

  // -- events -----------------------------------------------------------------------------------

  /**
   * Call `callback(payload)` for every application message of `kind`.
   * @param {string | number} kind
   * @param {(payload: any) => void} callback
   * @returns {() => void} unsubscribe
   */
  onMessage(kind, callback) {
    return this.on("message", (event) => {
      if (event.kind === kind) callback(event.payload);
    });
  }

  /**
   * Call `callback(value, event)` whenever a state frame changes `path` or anything under it
   * (every full state counts): `room.onChange(["players"], (players) => ...)`.
   * @param {Array<string | number>} path
   * @param {(value: any, event: any) => void} callback
   * @returns {() => void} unsubscribe
   */
  onChange(path, callback) {
    const watcher = { path, callback };
    this.watchers.push(watcher);
    return () => {
      this.watchers = this.watchers.filter((item) => item !== watcher);
    };
  }

  // -- joining ----------------------------------------------------------------------------------

  /**
   * Redeem the reservation: resolves once WELCOME and the first state are applied. Rejects with
   * a RoomError (its message is for people) when the seat is refused or the socket fails.
   * @returns {Promise<Room>}
   */
  async join() {
    if (this.phase !== "idle") throw new Error("join() was already called");
    const join = { type: "join", version: PROTOCOL_VERSION, token: this.reservation.token };
    try {
      await this.open(join, this.joinTimeout);
    } catch (error) {
      const failure = /** @type {RoomError} */ (error);
      this.finish(failure.code, failure.reason, false, failure.opened);
      throw failure;
    }
    this.startPinging();
    return this;
  }

  /**
   * Open a socket, send `first`, and settle once a state is applied (or the socket closes).
   * @param {Message} first JOIN or RECONNECT
   * @param {number} timeout ms
   * @returns {Promise<void>}
   */
  open(first, timeout) {
    return new Promise((resolve, reject) => {
      const ws = new this.WebSocket(this.url, [SUBPROTOCOL_MSGPACK]);
      ws.binaryType = "arraybuffer";
      /** @type {Attempt} */
      const attempt = {
        ws,
        opened: false,
        synced: false,
        settled: false,
        closing: null,
        resolve,
        reject,
        timer: null,
      };
      attempt.timer = setTimeout(() => {
        if (attempt.settled) return;
        attempt.settled = true;
        this.closeSocket(attempt, NORMAL_CLOSURE, "join timed out");
        reject(new RoomError("The game server did not answer in time.", 1006, "", attempt.opened));
      }, timeout);
      this.attempt = attempt;
      this.phase = "connecting";
      this.outbox.clear();
      ws.onopen = () => {
        attempt.opened = true;
        this.write(first);
        this.flush();
      };
      ws.onmessage = (event) => this.receive(attempt, event.data);
      ws.onclose = (event) => this.socketClosed(attempt, event.code, event.reason);
      ws.onerror = () => {}; // a close event always follows
    });
  }

  // -- incoming ---------------------------------------------------------------------------------

  /**
   * @param {Attempt} attempt
   * @param {unknown} data
   */
  receive(attempt, data) {
    if (attempt !== this.attempt || attempt.closing !== null) return;
    const receivedAt = this.now();
    if (!(data instanceof ArrayBuffer)) {
      this.protocolError(attempt, new ProtocolError("text message on the msgpack subprotocol"));
      return;
    }
    this.stats.bytesIn += data.byteLength;
    this.stats.messagesIn += 1;
    let messages;
    try {
      messages = decodeFrames(data, { maxSize: SERVER_MAX_SIZE });
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.protocolError(attempt, error);
      return;
    }
    for (const message of messages) {
      if (attempt !== this.attempt || attempt.closing !== null) break;
      this.handle(attempt, message, receivedAt);
    }
    this.flush();
  }

  /**
   * @param {Attempt} attempt
   * @param {Message} message
   * @param {number} receivedAt
   */
  handle(attempt, message, receivedAt) {
    const welcomed = this.phase === "joined" || this.phase === "leaving";
    switch (message.type) {
      case "welcome":
        if (this.phase !== "connecting") break;
        this.welcomed(attempt, message);
        return;
      case "error":
        this.emit("error", {
          code: message.code,
          message: message.message,
          text: describeError(message.code, message.message),
        });
        return;
      case "full_state":
      case "patch":
        if (!welcomed) break;
        this.stateFrame(attempt, message, receivedAt);
        return;
      case "message":
        if (!welcomed) break;
        this.emit("message", { kind: message.kind, payload: message.payload });
        return;
      case "response":
        if (!welcomed) break;
        this.answered(message);
        return;
      case "ping":
        if (!welcomed) break;
        if (this.phase === "joined") {
          this.write({ type: "pong", time: message.time, peer_time: Date.now() });
        }
        return;
      case "pong":
        if (!welcomed) break;
        this.ponged(message);
        return;
      default:
        break;
    }
    this.protocolError(attempt, new ProtocolError(`${message.type} is not allowed now`));
  }

  /**
   * @param {Attempt} attempt
   * @param {Message} welcome
   */
  welcomed(attempt, welcome) {
    if (welcome.version !== PROTOCOL_VERSION) {
      this.closeSocket(attempt, CloseCode.UNSUPPORTED_VERSION, "unsupported version");
      return;
    }
    try {
      this.schema = Schema.fromWire(welcome.schema);
    } catch (error) {
      if (!(error instanceof PatchError)) throw error;
      this.closeSocket(attempt, CloseCode.PROTOCOL_ERROR, "bad schema");
      return;
    }
    const resumed = this.reconnectToken !== "";
    this.id = welcome.room_id;
    this.sessionId = welcome.session_id;
    this.reconnectToken = welcome.reconnect_token;
    this.tickRate = welcome.tick_rate;
    this.patchRate = welcome.patch_rate;
    this.role = welcome.role;
    this.phase = "joined";
    this.ackedAt = null; // the first state of a connection is acknowledged
    this.ackAfter = ACK_INTERVAL_MS - (1000 * this.patchRate) / this.tickRate;
    // Everything after the last acknowledged input goes out again on this socket, in order.
    this.inputs.rewind(this.lastSeq);
    this.pumpInputs();
    for (const message of this.queue.splice(0)) this.write(message);
    this.emit("welcome", {
      roomId: this.id,
      sessionId: this.sessionId,
      role: this.role,
      tick: welcome.tick,
      resumed,
    });
  }

  /**
   * @param {Attempt} attempt
   * @param {Message} frame FULL_STATE or PATCH
   * @param {number} receivedAt
   */
  stateFrame(attempt, frame, receivedAt) {
    /** @type {Array<Array<string | number>>} */
    const changes = [];
    const full = frame.type === "full_state";
    try {
      if (full) {
        const decoded = decodeState(frame.state, this.schema);
        for (const key of Object.keys(this.state)) delete this.state[key];
        Object.assign(this.state, decoded);
        changes.push([]);
        this.stats.fullStates += 1;
      } else {
        if (frame.baseline !== this.tick) throw new PatchError("patch baseline is not our tick");
        applyDelta(this.state, frame.delta, this.schema, changes);
        this.stats.patches += 1;
      }
    } catch (error) {
      if (!(error instanceof PatchError)) throw error;
      this.resyncNow(attempt);
      return;
    }
    this.tick = frame.tick;
    this.lastSeq = frame.last_seq;
    this.inputs.acknowledge(frame.last_seq);
    this.stats.states += 1;
    if (this.phase === "joined") {
      if (this.ackedAt === null || receivedAt - this.ackedAt >= this.ackAfter) {
        this.ackedAt = receivedAt;
        this.write({ type: "ack", tick: frame.tick });
      }
      this.pumpInputs();
    }
    if (!attempt.synced) {
      attempt.synced = true;
      if (!attempt.settled) {
        attempt.settled = true;
        clearTimeout(attempt.timer);
        attempt.resolve();
      }
    }
    const event = {
      tick: frame.tick,
      lastSeq: frame.last_seq,
      full,
      changes,
      state: this.state,
      receivedAt,
    };
    this.emit("state", event);
    for (const { path, callback } of this.watchers) {
      if (changes.some((changed) => touches(changed, path))) {
        try {
          callback(valueAt(this.state, path), event);
        } catch (error) {
          console.error("tickroom: an onChange callback failed", error);
        }
      }
    }
  }

  /** @param {Message} response */
  answered(response) {
    if (response.code === 0) {
      this.requests.resolve(response.id, response.payload);
      return;
    }
    const text = typeof response.payload === "string" ? response.payload : "";
    this.requests.reject(response.id, new RequestError(describeError(response.code, text), response.code));
  }

  /** @param {Message} pong */
  ponged(pong) {
    const rtt = this.now() - pong.time;
    if (!this.pings.resolve(pong.time, rtt)) return;
    this.rtt = rtt;
    this.emit("pong", { rtt });
  }

  // -- closing and reconnecting -----------------------------------------------------------------

  /**
   * @param {Attempt} attempt
   * @param {ProtocolError} error
   */
  protocolError(attempt, error) {
    console.warn("tickroom: protocol error:", error.message);
    this.closeSocket(attempt, error.closeCode, error.message.slice(0, 120));
  }

  /**
   * Our state and the server's no longer line up: reconnect at once asking for a full state.
   * @param {Attempt} attempt
   */
  resyncNow(attempt) {
    this.stats.resyncs += 1;
    this.resync = true;
    this.closeSocket(attempt, NORMAL_CLOSURE, "resync");
  }

  /**
   * Close the socket ourselves; the close event then reports `code`, whatever the browser says.
   * @param {Attempt} attempt
   * @param {number} code
   * @param {string} reason
   */
  closeSocket(attempt, code, reason) {
    if (attempt.closing !== null) return;
    attempt.closing = { code, reason };
    this.flush();
    try {
      attempt.ws.close(code, reason);
    } catch {
      attempt.ws.close();
    }
  }

  /**
   * @param {Attempt} attempt
   * @param {number} eventCode
   * @param {string} eventReason
   */
  socketClosed(attempt, eventCode, eventReason) {
    clearTimeout(attempt.timer);
    const code = attempt.closing?.code ?? eventCode ?? NO_STATUS;
    const reason = attempt.closing?.reason ?? eventReason ?? "";
    if (attempt !== this.attempt) return;
    this.attempt = null;
    this.failPings();
    if (!attempt.synced) {
      if (!attempt.settled) {
        attempt.settled = true;
        attempt.reject(
          new RoomError(describeClose(code, reason, { opened: attempt.opened }), code, reason, attempt.opened),
        );
      }
      return;
    }
    if (this.leaving || code === CloseCode.CONSENTED) {
      this.finish(code, reason, this.leaving, true);
    } else if (
      !this.resync &&
      (!isReconnectable(code) || this.policy.retries === 0 || this.reconnectToken === "")
    ) {
      this.finish(code, reason, false, true);
    } else {
      void this.reconnect(code, reason);
    }
  }

  /**
   * @param {number} code the close that started it
   * @param {string} reason
   */
  async reconnect(code, reason) {
    this.phase = "reconnecting";
    this.stopPinging();
    let lastCode = code;
    let lastReason = reason;
    for (let attempt = 1; attempt <= this.policy.retries; attempt++) {
      const immediate = this.resync && attempt === 1;
      const delay = immediate ? 0 : this.policy.delay(attempt, Math.random());
      this.emit("reconnecting", {
        attempt,
        delay,
        code: lastCode,
        reason: lastReason,
        text: describeClose(lastCode, lastReason),
      });
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.leaving) {
        this.finish(CloseCode.CONSENTED, "left", true, true);
        return;
      }
      const first = {
        type: "reconnect",
        version: PROTOCOL_VERSION,
        token: this.reconnectToken,
        last_tick: this.resync ? -1 : this.tick,
      };
      try {
        await this.open(first, this.policy.attemptTimeout);
      } catch (error) {
        const failure = /** @type {RoomError} */ (error);
        lastCode = failure.code;
        lastReason = failure.reason;
        if (failure.opened && !isReconnectable(failure.code)) {
          this.finish(failure.code, failure.reason, false, true);
          return;
        }
        continue;
      }
      this.resync = false;
      this.stats.reconnects += 1;
      this.startPinging();
      this.emit("reconnected", { attempt, tick: this.tick });
      return;
    }
    this.finish(lastCode, lastReason, false, true);
  }

  /**
   * The room has ended for good.
   * @param {number} code
   * @param {string} reason
   * @param {boolean} consented
   * @param {boolean} opened
   */
  finish(code, reason, consented, opened) {
    if (this.phase === "closed") return;
    this.phase = "closed";
    clearTimeout(this.leaveTimer);
    this.stopPinging();
    this.failPings();
    this.requests.rejectAll(new RequestError("the connection closed before an answer", 0));
    const text = consented ? describeClose(CloseCode.CONSENTED) : describeClose(code, reason, { opened });
    this.closed = { code, reason, consented, opened, text };
    this.emit("close", this.closed);
    for (const resolve of this.closeWaiters.splice(0)) resolve(this.closed);
  }

  // -- outgoing ---------------------------------------------------------------------------------

  /**
   * Queue a frame on the current socket; it goes out at the end of this turn (outbox.js).
   * @param {Message} message
   */
  write(message) {
    this.outbox.push(encodeFrame(message));
  }

  /** Send the queued frames now. */
  flush() {
    this.outbox.flush();
  }

  /** Write unacknowledged inputs in order, at most `inputBurst` per state frame received. */
  pumpInputs() {
    if (this.phase !== "joined" || this.isSpectator) return;
    for (const [seq, payload] of this.inputs.due()) {
      this.write({ type: "input", seq, payload });
      this.stats.inputsSent += 1;
    }
  }

  /** Throws unless the room may still send. */
  checkOpen() {
    if (this.phase === "closed") throw new RoomError("the room is closed", this.closed?.code ?? 0);
    if (this.leaving) throw new RoomError("the room is being left", CloseCode.CONSENTED);
  }

  /**
   * Send an input for the room's tick; returns its sequence number. While reconnecting it waits
   * in `unackedInputs` and goes out once the session is resumed.
   * @param {unknown} payload plain data, e.g. `{dx: 1, dy: 0}`
   * @returns {number}
   */
  sendInput(payload) {
    this.checkOpen();
    if (this.isSpectator) throw new RoomError("spectators cannot send input", 0);
    encodeFrame({ type: "input", seq: 1, payload }); // throws ProtocolError for what cannot travel
    const seq = this.inputs.add(payload);
    this.pumpInputs();
    return seq;
  }

  /**
   * Send an application message (queued while reconnecting).
   * @param {string | number} kind
   * @param {unknown} [payload]
   */
  send(kind, payload = null) {
    this.checkOpen();
    this.sendMessage({ type: "message", kind, payload });
  }

  /** @param {Message} message */
  sendMessage(message) {
    encodeFrame(message); // check it now, not on the next socket
    if (this.phase === "joined") {
      this.write(message);
      return;
    }
    if (this.queue.length >= this.policy.maxQueued) {
      const dropped = /** @type {Message} */ (this.queue.shift());
      if (dropped.type === "request") {
        this.requests.reject(dropped.id, new RequestError("request dropped from the queue", 0));
      }
    }
    this.queue.push(message);
  }

  /**
   * Send a request; resolves with the room's answer, rejects with a RequestError.
   * @param {string | number} kind
   * @param {unknown} [payload]
   * @param {{timeout?: number}} [options] ms (default `requestTimeout`)
   * @returns {Promise<any>}
   */
  request(kind, payload = null, { timeout = this.requestTimeout } = {}) {
    this.checkOpen();
    const id = this.nextRequest++;
    const answer = this.requests.add(
      id,
      timeout,
      () => new RequestError("No answer in time.", ErrorCode.REQUEST_TIMEOUT),
    );
    this.sendMessage({ type: "request", id, kind, payload });
    return answer;
  }

  /**
   * Measure the round-trip time once: resolves with it in ms (and updates `rtt`).
   * @param {{timeout?: number}} [options]
   * @returns {Promise<number>}
   */
  ping({ timeout = 5000 } = {}) {
    if (this.phase !== "joined") return Promise.reject(new RoomError("not connected", 0));
    const time = this.now();
    const answer = this.pings.add(time, timeout, () => new RoomError("no pong in time", 0));
    this.write({ type: "ping", time });
    return answer;
  }

  startPinging() {
    this.stopPinging();
    if (this.pingInterval > 0) {
      this.pingTimer = setInterval(() => {
        if (this.phase === "joined") this.ping().catch(() => {});
      }, this.pingInterval);
      if (this.phase === "joined") this.ping().catch(() => {});
    }
  }

  stopPinging() {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  failPings() {
    this.pings.rejectAll(new RoomError("the connection closed before a pong", 0));
  }

  /**
   * Leave on purpose: the server closes with CONSENTED. Resolves with the close once the socket
   * has closed (or after `timeout` ms, closing it ourselves).
   * @param {{timeout?: number}} [options]
   * @returns {Promise<any>}
   */
  leave({ timeout = 5000 } = {}) {
    if (this.phase === "closed") return Promise.resolve(this.closed);
    const closed = new Promise((resolve) => this.closeWaiters.push(resolve));
    if (this.leaving) return closed;
    this.leaving = true;
    const attempt = this.attempt;
    if (this.phase === "joined" && attempt !== null) {
      this.write({ type: "leave" });
      this.flush();
      this.phase = "leaving";
      this.leaveTimer = setTimeout(() => {
        if (this.attempt === attempt) this.closeSocket(attempt, CloseCode.CONSENTED, "left");
      }, timeout);
    } else if (attempt !== null) {
      this.closeSocket(attempt, CloseCode.CONSENTED, "left");
    } else if (this.phase !== "reconnecting") {
      this.finish(CloseCode.CONSENTED, "left", true, false);
    }
    return closed;
  }

  /** Resolves with the close once the room has ended. */
  waitClosed() {
    if (this.closed !== null) return Promise.resolve(this.closed);
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }
}
