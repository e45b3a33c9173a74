/**
 * Connect Four in the browser: a lobby (play someone, a private game, join or watch by id) and
 * the board, drawn from the room state (game_server/games/connect_four.py).
 *
 * The whole game is in the state, so this page only draws it: `board` (row 0 at the top),
 * `players`, `turn`, `status`, `winner`, `draw`. A click on a column sends the `drop` message;
 * "Rematch" sends the `rematch` request. Refused moves come back as ERROR frames, shown as a
 * status line. `?room=<id>` in the address joins that game.
 *
 * Owns: this page. Must never: judge moves (the room does).
 *
 * @module demo/connect-four
 */

import { Client } from "../tickroom.js";
import { byId, savedName, saveName, serverEndpoint, setStatus } from "./common.js";

const ROWS = 6;
const COLUMNS = 7;
const client = new Client(serverEndpoint());
/** @type {{client: Client, room: import("../room.js").Room | null}} */
const demo = { client, room: null };
Object.assign(window, { tickroomDemo: demo });

const nameInput = /** @type {HTMLInputElement} */ (byId("name"));
const lobbyStatus = byId("lobby-status");
const status = byId("status");
const board = byId("board");
/** @type {HTMLButtonElement[]} */
const cells = [];
let busy = false;

nameInput.value = savedName();

for (let row = 0; row < ROWS; row++) {
  for (let column = 0; column < COLUMNS; column++) {
    const cell = document.createElement("button");
    cell.className = "cell";
    cell.dataset.row = String(row);
    cell.dataset.column = String(column);
    cell.setAttribute("aria-label", `column ${column + 1}`);
    cell.addEventListener("click", () => drop(column));
    board.append(cell);
    cells.push(cell);
  }
}

function options() {
  const name = nameInput.value.trim() || savedName();
  saveName(name);
  return { name };
}

/**
 * @param {string} what
 * @param {() => Promise<import("../room.js").Room>} join
 */
async function enter(what, join) {
  if (busy) return;
  busy = true;
  setStatus(lobbyStatus, `${what}…`);
  try {
    play(await join());
    setStatus(lobbyStatus, "");
  } catch (error) {
    setStatus(lobbyStatus, /** @type {Error} */ (error).message, "error");
  } finally {
    busy = false;
  }
}

/** @param {import("../room.js").Room} room */
function play(room) {
  if (room.name && room.name !== "connect_four") {
    room.leave();
    throw new Error(`Game ${room.id} is a ${room.name} room, not Connect Four.`);
  }
  demo.room = room;
  document.body.dataset.view = "game";
  byId("lobby").hidden = true;
  byId("game").hidden = false;
  byId("room-label").textContent = `Connect Four · ${room.id}`;
  setRoomParameter(room.id);
  room.on("state", () => render(room));
  room.on("error", ({ text }) => setStatus(status, text, "warn"));
  room.on("reconnecting", ({ attempt, text }) =>
    setStatus(status, `${text} Reconnecting (attempt ${attempt})…`, "warn"),
  );
  room.on("reconnected", () => render(room));
  room.on("close", (closed) => {
    demo.room = null;
    document.body.dataset.view = "lobby";
    byId("game").hidden = true;
    byId("lobby").hidden = false;
    setRoomParameter(null);
    setStatus(lobbyStatus, closed.consented ? "You left the game." : closed.text, closed.consented ? "info" : "error");
  });
  render(room);
}

/**
 * Put the game's id in the address (`?room=`), keeping other parameters; null takes it out.
 * @param {string | null} id
 */
function setRoomParameter(id) {
  const params = new URLSearchParams(location.search);
  if (id === null) params.delete("room");
  else params.set("room", id);
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
}

/** @param {import("../room.js").Room} room */
function render(room) {
  const state = room.state;
  const me = room.sessionId;
  (state.board ?? []).forEach((/** @type {number[]} */ line, /** @type {number} */ row) => {
    line.forEach((color, column) => {
      cells[row * COLUMNS + column].dataset.color = String(color);
    });
  });
  const players = Object.entries(state.players ?? {});
  byId("players").replaceChildren(
    ...players.map(([id, player]) => {
      const span = document.createElement("span");
      const disc = document.createElement("i");
      disc.className = "disc";
      disc.dataset.color = String(player.color);
      span.append(disc, `${player.name}${id === me ? " (you)" : ""}`);
      return span;
    }),
  );
  const mine = state.players?.[me];
  const myTurn = state.status === "playing" && state.turn === me;
  board.classList.toggle("locked", !myTurn);
  byId("rematch").hidden = !(state.status === "over" && mine !== undefined);
  let text = "";
  let kind = /** @type {"info" | "ok" | "warn"} */ ("info");
  if (state.status === "waiting") text = "Waiting for an opponent… share the link to invite someone.";
  else if (state.status === "playing") {
    if (mine === undefined) text = `${state.players?.[state.turn]?.name ?? "?"} to move (you are watching).`;
    else if (myTurn) [text, kind] = ["Your turn: click a column.", "ok"];
    else text = "Opponent's turn…";
  } else if (state.status === "over") {
    if (state.draw) text = "A draw!";
    else if (state.winner === me) [text, kind] = ["You won!", "ok"];
    else text = `${state.players?.[state.winner]?.name ?? "Your opponent"} won.`;
    if ((state.rematch ?? []).length) text += ` Rematch asked by ${state.rematch.length} of 2.`;
  }
  setStatus(status, text, kind);
}

/** @param {number} column */
function drop(column) {
  const room = demo.room;
  if (room === null || room.isSpectator) return;
  room.send("drop", { column });
}

byId("quick-play").addEventListener("click", () =>
  enter("Finding a game", () => client.joinOrCreate("connect_four", options())),
);
byId("create-private").addEventListener("click", () =>
  enter("Creating a private game", () => client.create("connect_four", { ...options(), private: true })),
);
byId("join-by-id").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = /** @type {HTMLInputElement} */ (byId("room-id")).value.trim();
  const spectator = /** @type {HTMLInputElement} */ (byId("spectate")).checked;
  if (!id) {
    setStatus(lobbyStatus, "Type a game id first.", "warn");
    return;
  }
  enter(`Joining game ${id}`, () => client.joinById(id, options(), { spectator }));
});
byId("leave").addEventListener("click", () => demo.room?.leave());
byId("rematch").addEventListener("click", async () => {
  try {
    const answer = await demo.room?.request("rematch");
    if (answer && !answer.started) setStatus(status, "Rematch asked: waiting for your opponent.", "info");
  } catch (error) {
    setStatus(status, /** @type {Error} */ (error).message, "warn");
  }
});
byId("copy-id").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(location.href);
    setStatus(status, "Link copied: open it in another window to join this game.", "ok");
  } catch {
    setStatus(status, `Share this link: ${location.href}`, "info");
  }
});

const linked = new URLSearchParams(location.search).get("room");
if (linked) enter(`Joining game ${linked}`, () => client.joinById(linked, options()));
