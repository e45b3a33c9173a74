/**
 * Room over a fake WebSocket: joining, applying states and acknowledging them, inputs with
 * sequence numbers, requests, pings, leaving, every way a connection ends, and reconnection.
 */

import assert from "node:assert/strict";
import test from "node:test";

import { CloseCode, ErrorCode, PROTOCOL_VERSION, SUBPROTOCOL_MSGPACK } from "../codes.js";
import { Room, RoomError, RequestError } from "../room.js";
import { FakeNetwork, settle } from "./fake-socket.js";

const RESERVATION = {
  room_id: "room-1",
  room_name: "arena",
  session_id: "sess-1",
  token: "seat-1",
  url: "ws://game.test/ws/room-1",
};

/** @type {Room[]} every room a test made, left after each test so no timer outlives it */
const rooms = [];

test.afterEach(async () => {
  await Promise.all(rooms.splice(0).map((room) => room.leave({ timeout: 0 })));
});

/**
 * A room over a fake network, remembered for cleanup.
 * @param {FakeNetwork} network
 * @param {object} [options]
 */
function makeRoom(network, options = {}) {
  const room = new Room(RESERVATION, {
    WebSocket: /** @type {any} */ (network.WebSocket),
    pingInterval: 0,
    reconnect: { minDelay: 0, jitter: 0, retries: 3 },
    ...options,
  });
  rooms.push(room);
  return room;
}

/** @param {number} tick */
function welcome(tick = 10, extra = {}) {
  return {
    type: "welcome",
    version: PROTOCOL_VERSION,
    room_id: "room-1",
    session_id: "sess-1",
    reconnect_token: "rk-1",
    tick_rate: 20,
    patch_rate: 1,
    tick,
    role: 0,
    schema: [[["players", null, "x"], 1, 0.0625]],
    ...extra,
  };
}

/**
 * A room joined over a fake socket at tick 10, with one player at x = 1.
 * @param {object} [options] room options
 * @param {object} [extra] WELCOME fields to change
 */
async function joined(options = {}, extra = {}) {
  const network = new FakeNetwork();
  const room = makeRoom(network, options);
  const joining = room.join();
  const socket = network.last;
  socket.accept();
  await settle();
  socket.push(welcome(10, extra), {
    type: "full_state",
    tick: 10,
    last_seq: 0,
    state: { players: { "sess-1": { x: 16, name: "ann" } } },
  });
  await joining;
  await settle();
  return { network, room, socket };
}

test("join opens the reservation's url with the msgpack subprotocol and sends JOIN", async () => {
  const network = new FakeNetwork();
  const room = makeRoom(network);
  const joining = room.join();
  const socket = network.last;
  assert.equal(socket.url, RESERVATION.url);
  assert.deepEqual(socket.protocols, [SUBPROTOCOL_MSGPACK]);
  assert.equal(socket.binaryType, "arraybuffer");
  socket.accept();
  await settle();
  assert.deepEqual(socket.sent, [{ type: "join", version: PROTOCOL_VERSION, token: "seat-1" }]);
  socket.push(welcome(), { type: "full_state", tick: 10, last_seq: 0, state: { round: 1 } });
  assert.equal(await joining, room);
  assert.ok(room.connected);
  assert.equal(room.reconnectToken, "rk-1");
});

test("a full state is decoded with the schema, then acknowledged", async () => {
  const { room, socket } = await joined();
  assert.deepEqual(room.state, { players: { "sess-1": { x: 1, name: "ann" } } });
  assert.equal(room.tick, 10);
  assert.deepEqual(socket.sentOf("ack"), [{ type: "ack", tick: 10 }]);
});

test("patches change the same state object and name the changed paths", async () => {
  const { room, socket } = await joined();
  const state = room.state;
  /** @type {any[]} */
  const events = [];
  room.on("state", (event) => events.push(event));
  /** @type {any[]} */
  const watched = [];
  room.onChange(["players", "sess-1"], (value) => watched.push({ ...value }));
  socket.push({ type: "patch", tick: 11, baseline: 10, last_seq: 0, delta: { players: { "sess-1": { x: 32 } } } });
  await settle();
  assert.equal(room.state, state);
  assert.equal(state.players["sess-1"].x, 2);
  assert.deepEqual(events[0].changes, [["players", "sess-1", "x"]]);
  assert.equal(events[0].full, false);
  assert.deepEqual(watched, [{ x: 2, name: "ann" }]);
  assert.deepEqual(socket.sentOf("ack").at(-1), { type: "ack", tick: 10 }); // once a second
});

test("states are acknowledged about once a second, starting with the first", async () => {
  let clock = 0;
  const { socket } = await joined({ now: () => clock }); // the full state at tick 10, acked at 0
  for (let tick = 11; tick <= 50; tick++) {
    clock = (tick - 10) * 50; // 20 Hz
    socket.push({ type: "patch", tick, baseline: tick - 1, last_seq: 0, delta: {} });
    await settle();
  }
  // The state after which the next would be a second or more after the last ACK: never later.
  assert.deepEqual(socket.sentOf("ack").map((ack) => ack.tick), [10, 29, 48]); // 0, 950, 1900 ms
});

test("a room at 1 Hz has every state acknowledged, early or late by a few ms", async () => {
  let clock = 0;
  const { socket } = await joined({ now: () => clock }, { tick_rate: 1 });
  for (const [tick, at] of [[11, 990], [12, 2010], [13, 2995]]) {
    clock = at;
    socket.push({ type: "patch", tick, baseline: tick - 1, last_seq: 0, delta: {} });
    await settle();
  }
  assert.deepEqual(socket.sentOf("ack").map((ack) => ack.tick), [10, 11, 12, 13]);
});

test("a new socket acknowledges its first state at once", async () => {
  let clock = 0;
  const { network, socket } = await joined({ now: () => clock });
  clock = 100;
  socket.drop(1006);
  await settle();
  const again = network.last;
  assert.notEqual(again, socket);
  again.accept();
  await settle();
  again.push(welcome(11), { type: "patch", tick: 11, baseline: 10, last_seq: 0, delta: {} });
  await settle();
  assert.deepEqual(again.sentOf("ack").map((ack) => ack.tick), [11]); // 100 ms after the last
});

test("several frames in one message are all applied", async () => {
  const { room, socket } = await joined();
  socket.push(
    { type: "patch", tick: 11, baseline: 10, last_seq: 0, delta: { round: 1 } },
    { type: "patch", tick: 12, baseline: 11, last_seq: 0, delta: { round: 2 } },
    { type: "message", kind: "chat", payload: "hi" },
  );
  await settle();
  assert.equal(room.state.round, 2);
  assert.equal(room.tick, 12);
});

test("inputs get sequence numbers and wait until a state acknowledges them", async () => {
  const { room, socket } = await joined();
  assert.equal(room.sendInput({ dx: 1 }), 1);
  assert.equal(room.sendInput({ dx: 0 }), 2);
  assert.equal(room.sendInput({ dx: -1 }), 3);
  await settle();
  assert.deepEqual(
    socket.sentOf("input").map((input) => input.seq),
    [1, 2, 3],
  );
  assert.equal(socket.raw.length, 3, "join, ack, then the inputs in one message");
  socket.push({ type: "patch", tick: 11, baseline: 10, last_seq: 2, delta: {} });
  await settle();
  assert.deepEqual([...room.unackedInputs.keys()], [3]);
  assert.equal(room.lastSeq, 2);
});

test("at most inputBurst inputs go out per state frame", async () => {
  const { room, socket } = await joined({ inputBurst: 2 });
  for (let i = 0; i < 5; i++) room.sendInput({ dx: 1 });
  await settle();
  assert.equal(socket.sentOf("input").length, 2);
  socket.push({ type: "patch", tick: 11, baseline: 10, last_seq: 0, delta: {} });
  await settle();
  assert.equal(socket.sentOf("input").length, 4);
});

test("messages, requests and their answers", async () => {
  const { room, socket } = await joined();
  /** @type {any[]} */
  const chats = [];
  room.onMessage("chat", (payload) => chats.push(payload));
  room.send("wave", { to: "sess-2" });
  const answer = room.request("leaderboard", { limit: 3 });
  const refused = room.request("buy", { item: "x" });
  await settle();
  const [first, second] = socket.sentOf("request");
  assert.deepEqual(socket.sentOf("message"), [{ type: "message", kind: "wave", payload: { to: "sess-2" } }]);
  socket.push(
    { type: "response", id: first.id, code: 0, payload: [{ name: "ann" }] },
    { type: "response", id: second.id, code: ErrorCode.NOT_ALLOWED, payload: "not now" },
    { type: "message", kind: "chat", payload: "gg" },
  );
  assert.deepEqual(await answer, [{ name: "ann" }]);
  await assert.rejects(refused, (/** @type {any} */ error) => {
    assert.ok(error instanceof RequestError);
    assert.equal(error.code, ErrorCode.NOT_ALLOWED);
    assert.match(error.message, /not now/);
    return true;
  });
  assert.deepEqual(chats, ["gg"]);
});

test("an ERROR frame is an event; the connection stays open", async () => {
  const { room, socket } = await joined();
  /** @type {any[]} */
  const errors = [];
  room.on("error", (event) => errors.push(event));
  socket.push({ type: "error", code: ErrorCode.NOT_ALLOWED, message: "not your turn" });
  assert.equal(errors[0].code, ErrorCode.NOT_ALLOWED);
  assert.match(errors[0].text, /not your turn/);
  assert.ok(room.connected);
});

test("ping measures the round trip; a server ping is answered", async () => {
  let clock = 1000.25;
  const { room, socket } = await joined({ now: () => clock });
  const rtt = room.ping();
  await settle();
  const [ping] = socket.sentOf("ping");
  assert.equal(ping.time, 1000.25);
  clock += 12;
  socket.push({ type: "pong", time: ping.time, peer_time: 5 }, { type: "ping", time: 77.5 });
  assert.equal(await rtt, 12);
  assert.equal(room.rtt, 12);
  await settle();
  assert.equal(socket.sentOf("pong")[0].time, 77.5);
});

test("leave sends LEAVE and ends with a consented close", async () => {
  const { room, socket } = await joined();
  const left = room.leave();
  await settle();
  assert.equal(socket.sentOf("leave").length, 1);
  assert.throws(() => room.sendInput({ dx: 1 }), RoomError);
  socket.drop(CloseCode.CONSENTED, "left");
  const closed = await left;
  assert.equal(closed.consented, true);
  assert.equal(closed.text, "You left the room. [4000 CONSENTED]");
});

test("a refused seat rejects join() with the close code and a sentence", async () => {
  const network = new FakeNetwork();
  const room = makeRoom(network);
  const joining = room.join();
  network.last.accept();
  await settle();
  network.last.push({ type: "error", code: ErrorCode.ROOM_FULL, message: "room is full" });
  network.last.drop(CloseCode.ROOM_FULL, "room is full");
  await assert.rejects(joining, (/** @type {any} */ error) => {
    assert.ok(error instanceof RoomError);
    assert.equal(error.code, CloseCode.ROOM_FULL);
    assert.equal(error.message, "The room is full. (room is full) [4006 ROOM_FULL]");
    return true;
  });
  assert.equal(room.closed?.code, CloseCode.ROOM_FULL);
});

test("a socket that never opens says the server refused or is unreachable", async () => {
  const network = new FakeNetwork();
  const room = makeRoom(network);
  const joining = room.join();
  network.last.drop(1006);
  await assert.rejects(joining, (/** @type {any} */ error) => {
    assert.equal(error.opened, false);
    assert.match(error.message, /Could not connect to the game server: it refused this page/);
    return true;
  });
});

test("a drop reconnects with the reconnect token and the last tick, then re-sends unacked inputs", async () => {
  const { network, room, socket } = await joined();
  room.sendInput({ dx: 1 });
  room.sendInput({ dx: 1 });
  await settle();
  socket.push({ type: "patch", tick: 11, baseline: 10, last_seq: 1, delta: {} });
  await settle();
  /** @type {any[]} */
  const events = [];
  room.on("reconnecting", (event) => events.push(["reconnecting", event.attempt, event.code]));
  room.on("reconnected", (event) => events.push(["reconnected", event.attempt, event.tick]));
  room.sendInput({ dx: -1 }); // seq 3, sent on the old socket too
  socket.drop(1006);
  assert.ok(!room.connected);
  room.sendInput({ dx: 0 }); // seq 4, while disconnected
  await settle();
  const next = network.last;
  assert.notEqual(next, socket);
  next.accept();
  await settle();
  assert.deepEqual(next.sent, [{ type: "reconnect", version: PROTOCOL_VERSION, token: "rk-1", last_tick: 11 }]);
  next.push(welcome(12), { type: "patch", tick: 12, baseline: 11, last_seq: 2, delta: { round: 3 } });
  await settle();
  assert.deepEqual(
    next.sentOf("input").map((input) => input.seq),
    [2, 3, 4],
    "everything after the acknowledged seq 1, in order",
  );
  assert.deepEqual(events, [
    ["reconnecting", 1, 1006],
    ["reconnected", 1, 12],
  ]);
  assert.equal(room.state.round, 3);
  assert.deepEqual([...room.unackedInputs.keys()], [3, 4]);
  assert.equal(room.stats.reconnects, 1);
});

test("MAY_TRY_RECONNECT and SERVER_SHUTDOWN are reconnectable", async () => {
  for (const code of [CloseCode.MAY_TRY_RECONNECT, CloseCode.SERVER_SHUTDOWN, CloseCode.INTERNAL_ERROR]) {
    const { network, socket } = await joined();
    socket.drop(code, "dropped");
    await settle();
    assert.equal(network.sockets.length, 2, `after ${code}`);
  }
});

test("a close that is not reconnectable ends the room with a sentence for people", async () => {
  const { network, room, socket } = await joined();
  /** @type {any[]} */
  const closes = [];
  room.on("close", (event) => closes.push(event));
  socket.drop(CloseCode.KICKED, "kicked");
  await settle();
  assert.equal(network.sockets.length, 1);
  assert.deepEqual(closes, [
    {
      code: CloseCode.KICKED,
      reason: "kicked",
      consented: false,
      opened: true,
      text: "You were removed from the room. (kicked) [4009 KICKED]",
    },
  ]);
});

test("a refused RECONNECT (FAILED_TO_RECONNECT) ends the room", async () => {
  const { network, room, socket } = await joined();
  socket.drop(1006);
  await settle();
  network.last.accept();
  await settle();
  network.last.drop(CloseCode.FAILED_TO_RECONNECT, "reconnect token is invalid or expired");
  const closed = await room.waitClosed();
  assert.equal(closed.code, CloseCode.FAILED_TO_RECONNECT);
  assert.match(closed.text, /join the room again/);
});

test("reconnection gives up after its retries", async () => {
  const { network, room, socket } = await joined();
  socket.drop(1006);
  for (let attempt = 0; attempt < 3; attempt++) {
    await settle();
    network.last.drop(1006); // the server is down: the socket never opens
  }
  const closed = await room.waitClosed();
  assert.equal(network.sockets.length, 4);
  assert.equal(closed.code, 1006);
});

test("a patch from another baseline makes it resync with a full state at once", async () => {
  const { network, room, socket } = await joined();
  socket.push({ type: "patch", tick: 14, baseline: 13, last_seq: 0, delta: {} });
  await settle();
  assert.deepEqual(socket.closedByClient, { code: 1000, reason: "resync" });
  await settle();
  network.last.accept();
  await settle();
  assert.equal(network.last.sent[0].last_tick, -1);
  assert.equal(room.stats.resyncs, 1);
});

test("a frame the state machine forbids closes with PROTOCOL_ERROR", async () => {
  const { room, socket } = await joined();
  socket.push({ type: "ack", tick: 1 });
  await settle();
  assert.equal(socket.closedByClient?.code, CloseCode.PROTOCOL_ERROR);
  const closed = await room.waitClosed();
  assert.equal(closed.code, CloseCode.PROTOCOL_ERROR);
});

test("bytes that are not frames, or text, close with PROTOCOL_ERROR", async () => {
  for (const data of [new Uint8Array([0x05, 0xc1]).buffer, "{}"]) {
    const { socket } = await joined();
    socket.pushRaw(data);
    assert.equal(socket.closedByClient?.code, CloseCode.PROTOCOL_ERROR);
  }
});

test("a WELCOME of another protocol version closes with UNSUPPORTED_VERSION", async () => {
  const network = new FakeNetwork();
  const room = makeRoom(network);
  const joining = room.join();
  network.last.accept();
  await settle();
  network.last.push(welcome(10, { version: PROTOCOL_VERSION + 1 }));
  await assert.rejects(joining, (/** @type {any} */ error) => error.code === CloseCode.UNSUPPORTED_VERSION);
});

test("spectators cannot send input", async () => {
  const { room } = await joined();
  room.role = 1;
  assert.throws(() => room.sendInput({ dx: 1 }), /spectators cannot send input/);
});

test("messages sent while reconnecting wait and go out once welcomed", async () => {
  const { network, room, socket } = await joined();
  socket.drop(1006);
  room.send("chat", "still here");
  await settle();
  network.last.accept();
  await settle();
  network.last.push(welcome(11), { type: "full_state", tick: 11, last_seq: 0, state: {} });
  await settle();
  assert.deepEqual(network.last.sentOf("message"), [{ type: "message", kind: "chat", payload: "still here" }]);
});
