/**
 * What the demo pages share: the player's name, the server to talk to, status lines, colours.
 *
 * Owns: small page helpers. Must never: talk to the server (the library does).
 *
 * @module demo/common
 */

const NAME_KEY = "tickroom.name";

/**
 * The server's base URL: `?server=` when given, else the page's own origin.
 * @returns {string}
 */
export function serverEndpoint() {
  const given = new URLSearchParams(location.search).get("server");
  return given || location.origin;
}

/**
 * The name typed last time, or a random one.
 * @returns {string}
 */
export function savedName() {
  try {
    const saved = localStorage.getItem(NAME_KEY);
    if (saved) return saved;
  } catch {
    // storage can be off (private windows): a fresh name each time then
  }
  return `player-${Math.floor(Math.random() * 900 + 100)}`;
}

/** @param {string} name */
export function saveName(name) {
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch {
    // see savedName
  }
}

/**
 * Show `text` in a status line; `kind` is "info", "ok", "warn" or "error" (its colour).
 * @param {HTMLElement} element
 * @param {string} text
 * @param {"info" | "ok" | "warn" | "error"} [kind]
 */
export function setStatus(element, text, kind = "info") {
  element.textContent = text;
  element.dataset.kind = kind;
}

/**
 * A stable, bright colour for an id.
 * @param {string} id
 * @returns {string}
 */
export function colorFor(id) {
  let hash = 2166136261; // FNV-1a, then the golden angle spreads neighbouring hashes apart
  for (const char of id) hash = Math.imul(hash ^ /** @type {number} */ (char.codePointAt(0)), 16777619) >>> 0;
  return `hsl(${Math.round((hash * 137.508) % 360)} 75% 60%)`;
}

/**
 * `element` by id, typed for the caller.
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
export function byId(id) {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`no #${id} on this page`);
  return /** @type {T} */ (element);
}
