/**
 * The tutorial's Tag game (docs/tutorial/code/tag_step3.py) in the browser, with the client
 * library only: join, draw the state, send inputs, a message (`rename`, `wave`) and a request
 * (`leaderboard`). docs/tutorial/05-in-the-browser.md walks through this file.
 *
 * Run the server with the game registered, then open /client/examples/tag.html:
 *
 *     PYTHONPATH=docs/tutorial/code scripts/serve --game tag=tag_step3:Tag
 *
 * @module examples/tag
 */

import { Client } from "../tickroom.js";

const GRID = 16;
const KEYS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
const client = new Client();
const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById("grid"));
const context = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
const status = /** @type {HTMLElement} */ (document.getElementById("status"));
const nameInput = /** @type {HTMLInputElement} */ (document.getElementById("name"));
/** @type {{room: import("../room.js").Room | null}} */
const tag = { room: null };
Object.assign(window, { tag });
nameInput.value = `tagger-${Math.floor(Math.random() * 90 + 10)}`;

// 1. Join: matchmaking over HTTP, then the room's WebSocket.
document.getElementById("join")?.addEventListener("click", async () => {
  try {
    tag.room = await client.joinOrCreate("tag", { name: nameInput.value });
  } catch (error) {
    status.textContent = /** @type {Error} */ (error).message;
    return;
  }
  const room = tag.room;
  document.body.dataset.view = "game";
  /** @type {HTMLElement} */ (document.getElementById("lobby")).hidden = true;
  /** @type {HTMLElement} */ (document.getElementById("game")).hidden = false;

  // 2. Draw every state the room sends.
  room.on("state", ({ state }) => draw(state, room.sessionId));
  room.onMessage("wave", ({ from }) => {
    status.textContent = `${room.state.players[from]?.name ?? "someone"} waved at you!`;
  });
  room.on("error", ({ text }) => (status.textContent = text));
  room.on("close", ({ text }) => (status.textContent = text));

  // 3. Inputs: the room keeps the latest one and moves us one cell per tick by it.
  /** @type {string | null} */
  let held = null;
  window.addEventListener("keydown", (event) => {
    if (!(event.key in KEYS) || event.key === held) return;
    event.preventDefault();
    held = event.key;
    const [dx, dy] = KEYS[/** @type {keyof typeof KEYS} */ (event.key)];
    room.sendInput({ dx, dy });
  });
  window.addEventListener("keyup", (event) => {
    if (event.key !== held) return;
    held = null;
    room.sendInput({ dx: 0, dy: 0 });
  });

  // 4. A message: rename ourselves (the room refuses a name that is taken, with an ERROR).
  document.getElementById("rename")?.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = /** @type {HTMLInputElement} */ (document.getElementById("new-name")).value;
    if (name) room.send("rename", { name });
  });

  // 5. A request: the leaderboard, every two seconds.
  const leaderboard = /** @type {HTMLElement} */ (document.getElementById("leaderboard"));
  setInterval(async () => {
    if (!room.connected) return;
    const top = await room.request("leaderboard", { limit: 3 });
    leaderboard.replaceChildren(
      ...top.map((/** @type {{name: string, score: number}} */ row) => {
        const item = document.createElement("li");
        item.textContent = `${row.name}: ${row.score}`;
        return item;
      }),
    );
  }, 2000);
  draw(room.state, room.sessionId);
});

/**
 * @param {Record<string, any>} state `{players: {id: {name, x, y, score}}, it}`
 * @param {string} me
 */
function draw(state, me) {
  const cell = canvas.width / GRID;
  context.fillStyle = "#10141f";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.strokeStyle = "#1f2638";
  for (let i = 0; i <= GRID; i++) {
    context.beginPath();
    context.moveTo(i * cell, 0);
    context.lineTo(i * cell, canvas.height);
    context.moveTo(0, i * cell);
    context.lineTo(canvas.width, i * cell);
    context.stroke();
  }
  const scores = /** @type {HTMLElement} */ (document.getElementById("scores"));
  scores.replaceChildren();
  for (const [id, player] of Object.entries(state.players ?? {})) {
    const it = state.it === id;
    context.fillStyle = it ? "#ff5a5a" : id === me ? "#6ea8ff" : "#5fd19b";
    context.fillRect(player.x * cell + 3, player.y * cell + 3, cell - 6, cell - 6);
    context.fillStyle = "#e8ecf6";
    context.font = "11px system-ui, sans-serif";
    context.fillText(player.name, player.x * cell, player.y * cell - 2);
    const item = document.createElement("li");
    item.dataset.it = String(it);
    item.textContent = `${player.name}${id === me ? " (you)" : ""}: ${player.score}${it ? " — it!" : ""}`;
    if (id !== me) {
      const wave = document.createElement("button");
      wave.textContent = "wave";
      wave.addEventListener("click", () => tag.room?.send("wave", { to: id }));
      item.append(wave);
    }
    scores.append(item);
  }
}
