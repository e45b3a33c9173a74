/**
 * `Client`: HTTP matchmaking against a tickroom server, and the rooms it joins.
 *
 *     const client = new Client();                      // the server that served this page
 *     const room = await client.joinOrCreate("arena", { name: "ann" });
 *     room.on("state", ({ state }) => draw(state));
 *     room.sendInput({ dx: 1, dy: 0 });
 *
 * Matchmaking is `POST /matchmake/{method}/{room_name}` with the join options as a JSON body;
 * the answer is a seat reservation, redeemed over WebSocket by `Room.join()`. Listings are
 * `GET /rooms`. A refusal is a `MatchmakeError` carrying the server's ErrorCode.
 *
 * Owns: the HTTP calls. Must never: hold a socket (room.js does), or know a game.
 *
 * @module client
 */

import { describeError } from "./closes.js";
import { MatchmakeError } from "./errors.js";
import { Room } from "./room.js";

export { MatchmakeError };

/**
 * @typedef {object} RoomListing one entry of GET /rooms
 * @property {string} room_id
 * @property {string} name
 * @property {number} clients
 * @property {number} max_clients
 * @property {Record<string, unknown>} metadata
 */

/** The base URL of the page's own server, or the default development server. */
function defaultEndpoint() {
  const location = globalThis.location;
  if (location && /^https?:$/.test(location.protocol)) return location.origin;
  return "http://127.0.0.1:8000";
}

export class Client {
  /**
   * @param {string} [endpoint] the server's base URL (default: the page's origin)
   * @param {import("./room.js").RoomOptions & {fetch?: typeof fetch}} [options] passed to every Room
   */
  constructor(endpoint = defaultEndpoint(), options = {}) {
    this.endpoint = endpoint.replace(/\/+$/, "");
    const { fetch: fetchFunction, ...roomOptions } = options;
    this.fetch = fetchFunction ?? globalThis.fetch.bind(globalThis);
    this.roomOptions = roomOptions;
  }

  /**
   * Public, unlocked rooms, optionally of one type.
   * @param {string} [name]
   * @returns {Promise<RoomListing[]>}
   */
  async getAvailableRooms(name) {
    const query = name ? `?name=${encodeURIComponent(name)}` : "";
    return this.call("GET", `/rooms${query}`);
  }

  /**
   * Join the oldest public room of type `name` with a free seat, or create one.
   * @param {string} name
   * @param {Record<string, unknown>} [options] join options, e.g. `{name: "ann"}`
   * @returns {Promise<Room>}
   */
  async joinOrCreate(name, options = {}) {
    return this.consumeSeatReservation(await this.reserve("joinOrCreate", name, options));
  }

  /**
   * Create a room of type `name` (`{private: true}` in the options hides it from listings and
   * matchmaking: share its id).
   * @param {string} name
   * @param {Record<string, unknown>} [options]
   * @param {{spectator?: boolean}} [seat]
   * @returns {Promise<Room>}
   */
  async create(name, options = {}, seat = {}) {
    return this.consumeSeatReservation(await this.reserve("create", name, options, seat));
  }

  /**
   * Join the oldest public room of type `name` with a free seat.
   * @param {string} name
   * @param {Record<string, unknown>} [options]
   * @returns {Promise<Room>}
   */
  async join(name, options = {}) {
    return this.consumeSeatReservation(await this.reserve("join", name, options));
  }

  /**
   * Join room `roomId`, private or not (as a spectator with `{spectator: true}`).
   * @param {string} roomId
   * @param {Record<string, unknown>} [options]
   * @param {{spectator?: boolean}} [seat]
   * @returns {Promise<Room>}
   */
  async joinById(roomId, options = {}, seat = {}) {
    return this.consumeSeatReservation(await this.reserve("joinById", roomId, options, seat));
  }

  /**
   * Reserve a seat without joining yet.
   * @param {"create" | "join" | "joinOrCreate" | "joinById"} method
   * @param {string} roomName the room type, or the room id for joinById
   * @param {Record<string, unknown>} [options]
   * @param {{spectator?: boolean}} [seat]
   * @returns {Promise<import("./room.js").SeatReservation>}
   */
  async reserve(method, roomName, options = {}, { spectator = false } = {}) {
    const query = spectator ? "?spectator=true" : "";
    const path = `/matchmake/${method}/${encodeURIComponent(roomName)}${query}`;
    return this.call("POST", path, options);
  }

  /**
   * Redeem a reservation (from `reserve`, or handed over by another program): resolves with the
   * joined Room, rejects with a RoomError whose message is for people.
   * @param {import("./room.js").SeatReservation} reservation
   * @returns {Promise<Room>}
   */
  async consumeSeatReservation(reservation) {
    return new Room(reservation, this.roomOptions).join();
  }

  /**
   * @param {"GET" | "POST"} method
   * @param {string} path
   * @param {unknown} [body]
   * @returns {Promise<any>}
   */
  async call(method, path, body = undefined) {
    /** @type {Response} */
    let response;
    try {
      response = await this.fetch(`${this.endpoint}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new MatchmakeError(`Could not reach the game server at ${this.endpoint}.`, 0, 0);
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const error = data?.error;
      if (error && typeof error.code === "number") {
        throw new MatchmakeError(describeError(error.code, error.message), error.code, response.status);
      }
      throw new MatchmakeError(
        `The game server refused the request (HTTP ${response.status}).`,
        0,
        response.status,
      );
    }
    return data;
  }
}
