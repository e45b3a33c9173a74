/** Every close code and error code has a sentence for people. */

import assert from "node:assert/strict";
import test from "node:test";

import { CLOSE_MESSAGES, ERROR_MESSAGES, REFUSED_MESSAGE, describeClose, describeError } from "../closes.js";
import { CloseCode, ErrorCode, isReconnectable } from "../codes.js";

for (const [name, code] of Object.entries(CloseCode)) {
  test(`close code ${code} ${name} has a message`, () => {
    assert.ok(CLOSE_MESSAGES[code], `no message for ${name}`);
    assert.equal(describeClose(code), `${CLOSE_MESSAGES[code]} [${code} ${name}]`);
  });
}

for (const [name, code] of Object.entries(ErrorCode)) {
  test(`error code ${code} ${name} has a message`, () => {
    assert.ok(ERROR_MESSAGES[code], `no message for ${name}`);
  });
}

test("the server's reason is added; unknown codes still get a sentence", () => {
  assert.equal(describeClose(4006, "room is full"), "The room is full. (room is full) [4006 ROOM_FULL]");
  assert.equal(describeClose(4999), "The server closed the connection (code 4999). [4999]");
  assert.equal(describeClose(3001), "The connection closed (code 3001). [3001]");
  assert.equal(describeError(77, "huh"), "Error 77. (huh)");
});

test("a socket that never opened is explained as a refusal or an unreachable server", () => {
  assert.equal(describeClose(1006, "", { opened: false }), REFUSED_MESSAGE);
  assert.match(REFUSED_MESSAGE, /--allow-origin/);
});

test("which closes are reconnectable", () => {
  assert.ok(isReconnectable(1006));
  assert.ok(isReconnectable(1001));
  assert.ok(isReconnectable(CloseCode.MAY_TRY_RECONNECT));
  assert.ok(isReconnectable(CloseCode.SERVER_SHUTDOWN));
  assert.ok(!isReconnectable(CloseCode.CONSENTED));
  assert.ok(!isReconnectable(CloseCode.KICKED));
  assert.ok(!isReconnectable(CloseCode.FAILED_TO_RECONNECT));
});
