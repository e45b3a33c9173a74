// Arena bots speaking the tickroom protocol (docs/protocol.md), on the shared bench harness
// (../shared/bench/node/botlib.cjs: the same 20 Hz input schedule, latency rule and driver contract
// as the Colyseus and floor bots).
//
// Usage: node tickbot.cjs --port N --rooms R --players P [--offset K] [--observe-every N]
//                         [--slow-after S --slow-for D]
//
// Each bot POSTs /matchmake/joinOrCreate/arena with {"roomKey": "room<r>"} (the bench server
// filters rooms by roomKey, so bot room r is server room r), opens the seat's url with the
// subprotocol tickroom.v2.msgpack and sends JOIN. The join resolves on WELCOME.
// Then for every FULL_STATE / PATCH:
//   - observing bots (player p % N == 0) decode every frame with msgpackr (a message may hold
//     several frames), take last_seq (FULL_STATE [tick, last_seq, state], PATCH
//     [tick, baseline, last_seq, delta]) for the latency histogram, and ACK once a second;
//   - silent bots count the frame's bytes and read only the tick from the header bytes to ACK once
//     a second (the server closes clients that never acknowledge with TOO_SLOW, and acking is what
//     a real client does: ours ACK the first state, then about once a second, never more than a
//     second apart); any other message they decode in full.
// Inputs are INPUT [seq, {"dx": x, "dy": y}], encoded by hand (float64, as msgpackr would).
//
// --slow-after S --slow-for D: player 1 of the first room stops reading its socket S seconds after
// START, for D seconds, then reads again (the slow-client isolation benchmark). It never measures
// latency. Its close code (or null) is reported in RESULT as "slow": {"code", "closed_after_s"},
// and as "SLOW <json>" lines on stderr.
//
// The shared harness is found at <repo>/../shared/bench/node/botlib.cjs, or under $SHARED_BENCH.
const path = require("path");
const WebSocket = require("ws");
const { unpackMultiple } = require("msgpackr");

const SHARED = process.env.SHARED_BENCH || path.resolve(__dirname, "..", "..", "..", "shared", "bench");
const { Bot, runBots, stats, args } = require(path.join(SHARED, "node", "botlib.cjs"));

const SUBPROTOCOL = "tickroom.v2.msgpack";
const PROTOCOL_VERSION = 2;
const JOIN = 0x01, INPUT = 0x04, ACK = 0x05, WELCOME = 0x40, FULL_STATE = 0x41, PATCH = 0x42;
const JOIN_TIMEOUT_MS = 30000;
const ACK_INTERVAL_MS = 1000; // as our clients: ACKs a second apart at most, one state early
// (the state interval, patch_rate / tick_rate, from WELCOME: 50 ms in the arena's 20 Hz rooms)

const a = args();
const port = +a.port;
const observeEvery = +(a["observe-every"] || 1);
const slowAfter = a["slow-after"] !== undefined ? +a["slow-after"] : null;
const slowFor = +(a["slow-for"] || 15);
const base = `http://127.0.0.1:${port}`;

// -- msgpack by hand: the few fixed shapes bots send, and the header bytes they read ----------

function uintBytes(n) {
  if (n < 0x80) return [n];
  if (n < 0x100) return [0xcc, n];
  if (n < 0x10000) return [0xcd, n >> 8, n & 0xff];
  return [0xce, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

function joinFrame(token) {
  const t = Buffer.from(token, "utf8");
  const strHead = t.length < 32 ? [0xa0 | t.length] : [0xd9, t.length];  // tokens are <= 128 chars
  return Buffer.concat([Buffer.from([JOIN, 0x92, PROTOCOL_VERSION, ...strHead]), t]);
}

const DX = Buffer.from([0xa2, 0x64, 0x78]), DY = Buffer.from([0xa2, 0x64, 0x79]);

function inputFrame(seq, dx, dy) {
  const head = uintBytes(seq);
  const buf = Buffer.allocUnsafe(2 + head.length + 1 + 3 + 9 + 3 + 9);
  let o = 0;
  buf[o++] = INPUT; buf[o++] = 0x92;
  for (const b of head) buf[o++] = b;
  buf[o++] = 0x82;
  DX.copy(buf, o); o += 3; buf[o++] = 0xcb; buf.writeDoubleBE(dx, o); o += 8;
  DY.copy(buf, o); o += 3; buf[o++] = 0xcb; buf.writeDoubleBE(dy, o); o += 8;
  return buf;
}

function ackFrame(tick) {
  return Buffer.from([ACK, 0x91, ...uintBytes(tick)]);
}

// The tick of a state frame starting at offset 0: type byte, fixarray header, then a uint.
function headerTick(data) {
  const b = data[2];
  if (b < 0x80) return b;
  if (b === 0xcc) return data[3];
  if (b === 0xcd) return data.readUInt16BE(3);
  if (b === 0xce) return data.readUInt32BE(3);
  if (b === 0xcf) return Number(data.readBigUInt64BE(3));
  return -1;
}

// -- matchmaking ------------------------------------------------------------------------------

async function reserveSeat(r) {
  const res = await fetch(`${base}/matchmake/joinOrCreate/arena`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ roomKey: `room${r}` }),
    signal: AbortSignal.timeout(JOIN_TIMEOUT_MS),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`matchmake ${res.status}: ${JSON.stringify(body.error || body)}`);
  return body;  // {url, token, room_id, session_id, ...}
}

// -- one bot ----------------------------------------------------------------------------------

let startedAt = null;   // performance.now() at START
const slow = { code: null, closed_after_s: null, paused: false, resumed: false };

async function join(r, p) {
  const seat = await reserveSeat(r);
  const url = seat.url.replace("://localhost:", "://127.0.0.1:");
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [SUBPROTOCOL], { perMessageDeflate: false });
    const isSlow = slowAfter !== null && r === +(a.offset || 0) && p === 1;
    const observe = !isSlow && p % observeEvery === 0;
    const bot = new Bot((seq, dx, dy) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(inputFrame(seq, dx, dy));
    });
    let welcomed = false;
    let ackedAt = -Infinity;
    let ackAfter = ACK_INTERVAL_MS - 50; // set from WELCOME
    const ack = (tick) => {
      const now = performance.now();
      if (now - ackedAt >= ackAfter) { ackedAt = now; ws.send(ackFrame(tick)); }
    };
    const timer = setTimeout(() => { reject(new Error("no WELCOME in time")); ws.terminate(); }, JOIN_TIMEOUT_MS);

    // Decode every frame of the message; ACK once a second; measure when `measure`.
    const decodeAll = (data, measure) => {
      const values = unpackMultiple(data);
      let counted = false;
      for (let i = 0; i + 1 < values.length; i += 2) {
        const type = values[i], fields = values[i + 1];
        if (type === WELCOME) {
          ackAfter = ACK_INTERVAL_MS - (1000 * fields[5]) / fields[4]; // patch_rate / tick_rate
          if (!welcomed) { welcomed = true; clearTimeout(timer); resolve(bot); }
        } else if (type === FULL_STATE || type === PATCH) {
          ack(fields[0]);
          const nbytes = counted ? 0 : data.length;
          counted = true;
          if (measure) bot.onState(type === FULL_STATE ? fields[1] : fields[2], nbytes);
          else if (nbytes) bot.onFrame(nbytes);
        }
      }
    };

    ws.binaryType = "nodebuffer";
    ws.on("open", () => ws.send(joinFrame(seat.token)));
    ws.on("message", (data, isBinary) => {
      if (!isBinary) { stats.errors++; return; }
      if (!welcomed || observe) return decodeAll(data, observe && welcomed);
      const type = data[0];
      if ((type === FULL_STATE || type === PATCH) && (data[1] & 0xf0) === 0x90) {
        const tick = headerTick(data);
        if (tick >= 0) ack(tick);
        return bot.onFrame(data.length);
      }
      decodeAll(data, false);
    });
    ws.on("error", (e) => { stats.errors++; clearTimeout(timer); reject(e); });
    ws.on("close", (code) => {
      stats.closed++;
      if (isSlow) {
        slow.code = code;
        slow.closed_after_s = startedAt === null ? null : +((performance.now() - startedAt) / 1000).toFixed(2);
        reportSlow();
      }
      if (!welcomed) { clearTimeout(timer); reject(new Error(`closed ${code} before WELCOME`)); }
    });
    if (isSlow) scheduleSlow(ws);
  });
}

// The driver keeps only its own keys of RESULT: the slow client's story goes to stderr (the
// driver's log), one "SLOW <json>" line per change; the last one is the outcome.
function reportSlow() { console.error("SLOW " + JSON.stringify(slow)); }

// The slow client: pause reading at START + slowAfter, resume slowFor seconds later.
function scheduleSlow(ws) {
  const poll = setInterval(() => {
    if (startedAt === null) return;
    clearInterval(poll);
    setTimeout(() => {
      if (ws._socket) { ws._socket.pause(); slow.paused = true; reportSlow(); }
      setTimeout(() => {
        if (ws._socket) { ws._socket.resume(); slow.resumed = true; reportSlow(); }
      }, slowFor * 1000);
    }, slowAfter * 1000);
  }, 10);
  poll.unref();
}

if (slowAfter !== null) stats.slow = slow;   // botlib prints every key of stats in RESULT

// botlib starts recording on the stdin line START; note when, for the slow client's schedule.
if (slowAfter !== null) {
  const watch = setInterval(() => {
    if (stats.recording) { startedAt = performance.now(); clearInterval(watch); }
  }, 5);
  watch.unref();
}

runBots({ rooms: +a.rooms, players: +a.players, roomOffset: +(a.offset || 0), join });
