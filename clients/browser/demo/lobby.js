/**
 * The demo's front page: the lobby (room list, quick play, create, private rooms, join by id)
 * and, once joined, the arena view.
 *
 * A joined room's id goes into the address (`#room=<id>`), so a copied link joins the same room.
 * `window.tickroomDemo` holds the client, the room and the view, for the console and for tests.
 *
 * Owns: the page's flow between lobby and game. Must never: draw the game (arena.js does).
 *
 * @module demo/lobby
 */

import { Client } from "../tickroom.js";
import { ArenaView } from "./arena.js";
import { byId, savedName, saveName, serverEndpoint, setStatus } from "./common.js";

const client = new Client(serverEndpoint());
/** @type {{client: Client, room: import("../room.js").Room | null, view: ArenaView | null}} */
const demo = { client, room: null, view: null };
Object.assign(window, { tickroomDemo: demo });

const nameInput = /** @type {HTMLInputElement} */ (byId("name"));
const lobbyStatus = byId("lobby-status");
const gameStatus = byId("status");
const roomsBody = /** @type {HTMLTableSectionElement} */ (byId("rooms").querySelector("tbody"));
let busy = false;

nameInput.value = savedName();
nameInput.addEventListener("change", () => saveName(nameInput.value.trim()));

/** The join options: the name typed. */
function options() {
  const name = nameInput.value.trim() || savedName();
  saveName(name);
  return { name };
}

/**
 * Run one join attempt, showing what happens; returns to the game view when it works.
 * @param {string} what said while waiting
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
  if (room.name && room.name !== "arena") {
    room.leave();
    throw new Error(`Room ${room.id} is a ${room.name} room, not an arena.`);
  }
  demo.room = room;
  document.body.dataset.view = "game";
  byId("lobby").hidden = true;
  byId("game").hidden = false;
  byId("room-label").textContent = `Arena · ${room.id}`;
  history.replaceState(null, "", `#room=${encodeURIComponent(room.id)}`);
  setStatus(gameStatus, `Joined room ${room.id} as ${nameInput.value.trim() || room.sessionId}.`, "ok");
  const hud = {
    ping: byId("hud-ping"),
    tick: byId("hud-tick"),
    players: byId("hud-players"),
    bytesIn: byId("hud-in"),
    bytesOut: byId("hud-out"),
    delay: byId("hud-delay"),
  };
  demo.view = new ArenaView(room, /** @type {HTMLCanvasElement} */ (byId("arena")), { hud });
  document.body.dataset.connection = "joined";
  room.on("reconnecting", ({ attempt, text }) => {
    document.body.dataset.connection = "reconnecting";
    setStatus(gameStatus, `${text} Reconnecting (attempt ${attempt})…`, "warn");
  });
  room.on("reconnected", () => {
    document.body.dataset.connection = "joined";
    setStatus(gameStatus, "Reconnected: your session was resumed.", "ok");
  });
  room.on("error", ({ text }) => setStatus(gameStatus, text, "warn"));
  room.on("close", (closed) => {
    document.body.dataset.connection = "closed";
    backToLobby(closed.consented ? "You left the room." : closed.text, closed.consented ? "info" : "error");
  });
}

/**
 * @param {string} message
 * @param {"info" | "error"} kind
 */
function backToLobby(message, kind) {
  demo.view?.stop();
  demo.view = null;
  demo.room = null;
  document.body.dataset.view = "lobby";
  byId("game").hidden = true;
  byId("lobby").hidden = false;
  history.replaceState(null, "", location.pathname + location.search);
  setStatus(lobbyStatus, message, kind);
  void refreshRooms();
}

byId("quick-play").addEventListener("click", () =>
  enter("Finding a room", () => client.joinOrCreate("arena", options())),
);

byId("create").addEventListener("click", () => {
  const isPrivate = /** @type {HTMLInputElement} */ (byId("private")).checked;
  enter(isPrivate ? "Creating a private room" : "Creating a room", () =>
    client.create("arena", { ...options(), private: isPrivate }),
  );
});

byId("join-by-id").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = /** @type {HTMLInputElement} */ (byId("room-id")).value.trim();
  if (!id) {
    setStatus(lobbyStatus, "Type a room id first.", "warn");
    return;
  }
  enter(`Joining room ${id}`, () => client.joinById(id, options()));
});

byId("leave").addEventListener("click", () => demo.room?.leave());

byId("copy-id").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(location.href);
    setStatus(gameStatus, "Link copied: open it in another window to join this room.", "ok");
  } catch {
    setStatus(gameStatus, `Share this link: ${location.href}`, "info");
  }
});

/** Fill the table from GET /rooms. */
async function refreshRooms() {
  if (demo.room !== null) return;
  let rooms;
  try {
    rooms = await client.getAvailableRooms();
  } catch (error) {
    setStatus(lobbyStatus, /** @type {Error} */ (error).message, "error");
    return;
  }
  roomsBody.replaceChildren(
    ...rooms.map((listing) => {
      const row = document.createElement("tr");
      row.dataset.roomId = listing.room_id;
      for (const text of [listing.name, listing.room_id, `${listing.clients} / ${listing.max_clients}`]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      const action = document.createElement("td");
      if (listing.name === "arena") {
        const button = document.createElement("button");
        button.textContent = "Join";
        button.addEventListener("click", () =>
          enter(`Joining room ${listing.room_id}`, () => client.joinById(listing.room_id, options())),
        );
        action.append(button);
      } else if (listing.name === "connect_four") {
        const link = document.createElement("a");
        link.href = `/connect-four?room=${encodeURIComponent(listing.room_id)}`;
        link.textContent = "Play";
        action.append(link);
      }
      row.append(action);
      return row;
    }),
  );
  if (!rooms.length) {
    const row = document.createElement("tr");
    const cell = document.createElement("td");
    cell.colSpan = 4;
    cell.className = "empty";
    cell.textContent = "No open rooms yet: create one, or press Quick play.";
    row.append(cell);
    roomsBody.append(row);
  }
  byId("rooms-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

setInterval(refreshRooms, 2000);
void refreshRooms();

const linked = new URLSearchParams(location.hash.slice(1)).get("room");
if (linked) enter(`Joining room ${linked}`, () => client.joinById(linked, options()));

