"""clients/browser/codes.js mirrors protocol/codes.py, value for value.

protocol/codes.py is the one source of truth for every number on the wire; the browser client
keeps a copy in codes.js. These tests read codes.js as text (no JavaScript runtime needed) and
compare every table, the subprotocol names and the protocol version with the Python enums.
"""

from __future__ import annotations

import re
from enum import IntEnum
from pathlib import Path

import pytest

from protocol import codes

CODES_JS = Path(__file__).resolve().parents[2] / "clients" / "browser" / "codes.js"
SOURCE = CODES_JS.read_text(encoding="utf-8")
TABLE = re.compile(r"^export const (\w+) = Object\.freeze\(\{\n(.*?)^\}\);", re.M | re.S)
ENTRY = re.compile(r"^\s*([A-Z][A-Z0-9_]*): (\d+),\s*$")
CONSTANT = re.compile(r'^export const (\w+) = ("[^"]*"|\d+);$', re.M)
LIST = re.compile(r"^export const (\w+) = Object\.freeze\(\[\n?(.*?)\]\);", re.M | re.S)
ENUMS: list[type[IntEnum]] = [
    codes.MessageType,
    codes.CloseCode,
    codes.ErrorCode,
    codes.PatchOp,
    codes.PrecisionKind,
    codes.Role,
]


def js_tables() -> dict[str, dict[str, int]]:
    """Every ``export const Name = Object.freeze({KEY: 1, ...})`` of codes.js, in file order."""
    tables: dict[str, dict[str, int]] = {}
    for name, body in TABLE.findall(SOURCE):
        entries: dict[str, int] = {}
        for line in body.splitlines():
            if not line.strip() or line.strip().startswith("//"):
                continue
            match = ENTRY.match(line)
            assert match is not None, f"codes.js {name}: cannot read {line!r}"
            assert match[1] not in entries, f"codes.js {name}: {match[1]} twice"
            entries[match[1]] = int(match[2])
        tables[name] = entries
    return tables


def js_constants() -> dict[str, str | int]:
    return {
        name: value.strip('"') if value.startswith('"') else int(value)
        for name, value in CONSTANT.findall(SOURCE)
    }


def js_list(name: str) -> list[str]:
    lists = dict(LIST.findall(SOURCE))
    return [item.strip() for item in lists[name].split(",") if item.strip()]


def test_codes_js_has_a_table_for_every_enum() -> None:
    assert set(js_tables()) == {enum.__name__ for enum in ENUMS}


@pytest.mark.parametrize("enum", ENUMS, ids=lambda enum: enum.__name__)
def test_every_value_matches(enum: type[IntEnum]) -> None:
    assert js_tables()[enum.__name__] == {member.name: member.value for member in enum}


def test_the_protocol_version_matches() -> None:
    assert js_constants()["PROTOCOL_VERSION"] == codes.PROTOCOL_VERSION


def test_the_subprotocol_names_match() -> None:
    constants = js_constants()
    assert constants["SUBPROTOCOL_MSGPACK"] == codes.SUBPROTOCOL_MSGPACK
    assert constants["SUBPROTOCOL_JSON"] == codes.SUBPROTOCOL_JSON
    assert js_list("SUBPROTOCOLS") == ["SUBPROTOCOL_MSGPACK", "SUBPROTOCOL_JSON"]
    assert codes.SUBPROTOCOLS == (codes.SUBPROTOCOL_MSGPACK, codes.SUBPROTOCOL_JSON)


def test_the_reconnectable_close_codes_match() -> None:
    names = js_list("RECONNECTABLE_CLOSE_CODES")
    assert all(name.startswith("CloseCode.") for name in names)
    assert {codes.CloseCode[name.removeprefix("CloseCode.")] for name in names} == set(
        codes.RECONNECTABLE_CLOSE_CODES
    )


def test_a_changed_value_would_be_caught() -> None:
    """The parser reads what it should: a doctored copy no longer matches."""
    doctored = SOURCE.replace("ROOM_FULL: 4006,", "ROOM_FULL: 4106,")
    assert doctored != SOURCE
    close_table = dict(TABLE.findall(doctored))["CloseCode"]
    assert "ROOM_FULL: 4106," in close_table
