// tickroom's copy of ../shared/bench/colyseus/server.cjs with ONE line added (marked "tickroom:").
// In the anchor, ArenaState's `tick` starts undefined, so `st.tick++` makes it NaN, the rotating
// block's start is NaN and the NPC loop never runs: the anchor's NPCs never move, and its patches
// carry only the players. Starting `tick` at 0 makes it run the workload RESULTS.md defines (20 NPCs
// take a step every tick). tests/bench/test_arena_load_pairs.py checks that this file is the anchor
// plus that line and this header. Run by bench/arena_runs.py as the system "colyseus-moving".
// System 1: Colyseus 0.18 room server, idiomatic: @colyseus/schema state (MapSchema of players
// {x,y,lastSeq} and of NPCs {x,y}), setSimulationInterval(50 ms), patchRate 50 ms, onMessage("input").
// Usage: node server.cjs PORT
const { Server, Room } = require("@colyseus/core");
const { WebSocketTransport } = require("@colyseus/ws-transport");
const { schema, t, MapSchema } = require("@colyseus/schema");

const N_NPC = 100, NPC_MOVES = 20, SPEED = 2.0, SIZE = 1000.0;
const clamp = (v) => (v < 0 ? 0 : v > SIZE ? SIZE : v);
let TICKS = 0;

const Player = schema({ x: t.number(), y: t.number(), lastSeq: t.number() }, "Player");
const Npc = schema({ x: t.number(), y: t.number() }, "Npc");
const ArenaState = schema({ tick: t.number(), players: t.map(Player), npcs: t.map(Npc) }, "ArenaState");

class ArenaRoom extends Room {
  onCreate(options) {
    this.maxClients = options.players || 10;
    this.patchRate = 50;
    this.autoDispose = true;
    this.state = new ArenaState();
    this.state.tick = 0; // tickroom: the one change (see the header)
    for (let i = 0; i < N_NPC; i++) this.state.npcs.set(String(i), new Npc({ x: Math.random() * SIZE, y: Math.random() * SIZE }));
    this.inputs = new Map(); // sessionId -> {seq, dx, dy} (plain, not synced)
    this.onMessage("input", (client, msg) => { this.inputs.set(client.sessionId, msg); });
    this.setSimulationInterval(() => this.update(), 50);
  }
  update() {
    TICKS++;
    const st = this.state;
    st.tick++;
    const start = (st.tick % (N_NPC / NPC_MOVES)) * NPC_MOVES;
    for (let i = start; i < start + NPC_MOVES; i++) {
      const n = st.npcs.get(String(i));
      n.x = clamp(n.x + Math.random() * 2 - 1);
      n.y = clamp(n.y + Math.random() * 2 - 1);
    }
    st.players.forEach((p, sid) => {
      const inp = this.inputs.get(sid);
      if (!inp) return;
      p.x = clamp(p.x + inp.dx * SPEED);
      p.y = clamp(p.y + inp.dy * SPEED);
      p.lastSeq = inp.seq;
    });
  }
  onJoin(client) {
    this.state.players.set(client.sessionId, new Player({ x: Math.random() * SIZE, y: Math.random() * SIZE, lastSeq: 0 }));
  }
  onLeave(client) {
    this.state.players.delete(client.sessionId);
    this.inputs.delete(client.sessionId);
  }
}

const server = new Server({ transport: new WebSocketTransport(), greet: false });
server.define("arena", ArenaRoom).filterBy(["roomKey"]);
server.listen(+process.argv[2], "127.0.0.1");
setInterval(() => console.log(`TICKS ${(Date.now() / 1000).toFixed(3)} ${TICKS}`), 1000);
