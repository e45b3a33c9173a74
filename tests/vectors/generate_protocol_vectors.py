"""Writes ``tests/vectors/protocol_vectors.json``: frames every tickroom client must agree on.

Each entry of ``messages`` is one message as its JSON debug object (``message``), its binary frame
(``hex``) and its JSON debug frame (``json``). Each entry of ``invalid`` is a binary frame that a
receiver with a 4 KiB limit must refuse, closing with ``close_code``; ``error`` is the reason the
Python implementation gives. Values are JSON-representable and exact (no bytes; floats such as
0.5), so the browser client can run the same file.

Run from the repository root after changing the protocol, then commit the result:

    .venv/bin/python -m tests.vectors.generate_protocol_vectors

The output is deterministic; ``tests/protocol/test_vectors.py`` checks the committed file is what
this script produces now. The state-delta vectors live apart, in ``diff_vectors.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from protocol.codec import DEFAULT_MAX_SIZE, encode, encode_json
from protocol.codes import PROTOCOL_VERSION, CloseCode, ErrorCode, MessageType, Role
from protocol.messages import (
    MAX_SAFE_INT,
    Ack,
    AppMessage,
    Error,
    FullState,
    Input,
    Join,
    Leave,
    Message,
    Patch,
    Ping,
    Pong,
    Reconnect,
    Request,
    Response,
    Welcome,
)

PATH = Path(__file__).with_name("protocol_vectors.json")

V = PROTOCOL_VERSION

VALID: list[tuple[str, Message]] = [
    ("join", Join(V, "seat-4f2a")),
    ("reconnect without state", Reconnect(V, "rk-77", -1)),
    ("reconnect from tick 1200 (uint16)", Reconnect(V, "rk-77", 1200)),
    ("leave", Leave()),
    ("input", Input(1, {"dx": 1, "dy": -1, "fire": True})),
    ("input with a float and seq 300 (uint16)", Input(300, {"aim": 0.5, "keys": ["w", "a"]})),
    ("ack", Ack(42)),
    ("ack of the largest safe integer (uint64)", Ack(MAX_SAFE_INT)),
    ("message with a string kind", AppMessage("chat", {"text": "gg"})),
    ("message with an integer kind and no payload", AppMessage(3, None)),
    (
        "message with 31 characters of utf-8 in 36 bytes (str8: lengths count bytes)",
        AppMessage("chat", {"text": "gr\u00fc\u00dfe aus K\u00f6ln, \u00e7a va tr\u00e8s bien"}),
    ),
    ("request", Request(7, "buy", {"item": "sword", "count": 2})),
    ("ping", Ping(1234.5)),
    ("pong", Pong(1234.5, 99.25)),
    (
        "welcome a player",
        Welcome(V, "room-1", "sess-1", "rk-77", 20, 2, 1200, Role.PLAYER, []),
    ),
    (
        "welcome a spectator without a reconnect token",
        Welcome(V, "room-1", "sess-2", "", 62.5, 3, 0, Role.SPECTATOR, [["players", "x", 1]]),
    ),
    (
        "full state",
        FullState(1200, 0, {"players": {"sess-1": {"name": "ann", "x": 10, "y": 0.5}}, "round": 1}),
    ),
    ("patch of a nested map", Patch(1202, 1200, 3, {"players": {"sess-1": {"x": 11}}})),
    (
        "patch with a list edit and a delete",
        Patch(1203, 1202, 300, {"log": [2, 2, {1: "hit"}], "bonus": [0], "round": 2}),
    ),
    ("response with a result", Response(7, 0, {"gold": 5})),
    (
        "response refusing the request",
        Response(8, ErrorCode.INVALID_PAYLOAD, "count must be positive"),
    ),
    ("error", Error(ErrorCode.NOT_ALLOWED, "inputs are not allowed while spectating")),
]

TOO_DEEP: Any = None
for _ in range(33):
    TOO_DEEP = [TOO_DEEP]

P = CloseCode.PROTOCOL_ERROR
INVALID: list[tuple[str, bytes, CloseCode, str]] = [
    ("unknown message type 0", b"\x00\x90", P, "unknown message type 0"),
    ("unknown message type 127", b"\x7f\x90", P, "unknown message type 127"),
    ("type byte is a negative fixint", b"\xff\x90", P, "unknown message type -1"),
    ("type is not an integer", b"\xa3ack\x91\x01", P, "unknown message type 'ack'"),
    ("lone type byte", b"\x05", P, "truncated frame"),
    ("truncated string", b"\x01\x92\x01\xa4se", P, "truncated frame"),
    ("truncated array", b"\x04\x92\x01", P, "truncated frame"),
    ("body is not an array", b"\x05\x05", P, "ack body must be an array"),
    ("too few fields", b"\x01\x91\x01", P, "join needs 2 fields"),
    ("no fields for a message that has one", b"\x05\x90", P, "ack needs 1 fields"),
    ("tick is a string", b"\x05\x91\xa11", P, "tick must be an integer in 0..2**53-1"),
    ("tick is a float", b"\x05\x91\xcb" + bytes(8), P, "tick must be an integer in 0..2**53-1"),
    ("tick is negative", b"\x05\x91\xff", P, "tick must be an integer in 0..2**53-1"),
    (
        "tick is above 2**53-1",
        b"\x05\x91\xcf\x00\x20\x00\x00\x00\x00\x00\x00",
        P,
        "tick must be an integer in 0..2**53-1",
    ),
    ("token is an integer", b"\x01\x92\x01\x07", P, "token must be a string of 1..128 characters"),
    ("token is empty", b"\x01\x92\x01\xa0", P, "token must be a string of 1..128 characters"),
    (
        "patch baseline is not older than its tick",
        b"\x42\x94\x05\x05\x00\x80",
        P,
        "baseline must be older than tick",
    ),
    (
        "welcome role 2",
        encode(Welcome(V, "r", "s", "", 20, 2, 0, 0, []))[:-2] + b"\x02\x90",
        P,
        "role must be 0 (player) or 1 (spectator)",
    ),
    (
        "payload nested 33 deep",
        encode(Input(1, [0]))[:-2] + b"\x91" * 33 + b"\xc0",
        P,
        "payload is nested too deeply",
    ),
    ("not msgpack (0xc1)", b"\x05\xc1", P, "invalid msgpack"),
    ("msgpack extension type", b"\x04\x92\x01\xd4\x01\x00", P, "invalid msgpack"),
    (
        "frame above 4096 bytes",
        encode(Input(1, "x" * DEFAULT_MAX_SIZE)),
        CloseCode.MESSAGE_TOO_BIG,
        "frame exceeds 4096 bytes",
    ),
]

NOTES = (
    "Binary frames are lowercase hex. 'json' is the JSON debug frame as Python writes it "
    "(compact, non-ASCII escaped as \\uXXXX); an encoder that writes non-ASCII characters as-is "
    "is equally valid, so compare parsed objects when yours differs. 'message' is the JSON debug "
    "object: in a patch, list-edit indexes are object keys and so strings. Judge 'invalid' "
    "frames as one WebSocket message with a 4096-byte limit; 'error' is the Python reason."
)


def vectors() -> dict[str, Any]:
    """The whole file as a JSON-ready object."""
    messages = [
        {
            "name": name,
            "message": json.loads(encode_json(message)),
            "hex": encode(message).hex(),
            "json": encode_json(message),
        }
        for name, message in VALID
    ]
    invalid = [
        {"name": name, "hex": data.hex(), "close_code": int(code), "error": error}
        for name, data, code, error in INVALID
    ]
    missing = set(MessageType) - {message.TYPE for _, message in VALID}
    assert not missing, f"no vector for {sorted(t.name for t in missing)}"
    return {
        "protocol_version": PROTOCOL_VERSION,
        "max_size": DEFAULT_MAX_SIZE,
        "notes": NOTES,
        "messages": messages,
        "invalid": invalid,
    }


def render() -> str:
    """The file's exact text."""
    return json.dumps(vectors(), indent=2) + "\n"


def main() -> None:
    PATH.write_text(render())
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()
