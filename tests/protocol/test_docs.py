"""docs/protocol.md stays true: it names every code, embeds the current state diagram, and its
worked examples are the bytes the encoder produces."""

from __future__ import annotations

import re
from enum import IntEnum
from pathlib import Path

import pytest

from protocol.codec import CLIENT_MAX_SIZE, DEFAULT_MAX_SIZE, encode, encode_json
from protocol.codes import (
    PROTOCOL_VERSION,
    SUBPROTOCOL_JSON,
    SUBPROTOCOL_MSGPACK,
    CloseCode,
    ErrorCode,
    MessageType,
)
from protocol.messages import MESSAGE_CLASSES, Input, Join, Message, Patch
from protocol.state import mermaid_diagram

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "protocol.md").read_text()
TABLE_ROWS = [line for line in DOC.splitlines() if line.startswith("|")]


def row_naming(name: str) -> list[str]:
    """The table rows whose cells include ``name`` in backticks."""
    return [row for row in TABLE_ROWS if f"| `{name}` |" in row]


def section_after(heading: str) -> str:
    """The text from ``heading`` up to the next heading of any level."""
    return re.split(r"\n##+ ", DOC.split(heading, 1)[1], maxsplit=1)[0]


def spaced_hex(data: bytes) -> str:
    return " ".join(f"{byte:02x}" for byte in data)


@pytest.mark.parametrize(
    "code", [*MessageType, *CloseCode, *ErrorCode], ids=lambda c: f"{type(c).__name__}.{c.name}"
)
def test_every_code_has_a_table_row_with_its_value(code: IntEnum) -> None:
    rows = row_naming(code.name)
    assert rows, f"no table row names `{code.name}`"
    assert any(re.match(rf"\| {code.value} \|", row) for row in rows)


@pytest.mark.parametrize("message_type", list(MessageType), ids=lambda t: t.name)
def test_every_message_has_a_section_listing_its_fields(message_type: MessageType) -> None:
    cls = MESSAGE_CLASSES[message_type]
    heading = f"### {message_type.name} ({message_type.value}, "
    assert heading in DOC
    section = section_after(heading)
    fields = re.findall(r"^\| (\d+) \| `(\w+)` \|", section, flags=re.MULTILINE)
    assert fields == [(str(index), name) for index, name in enumerate(cls.FIELDS)]


def test_every_message_is_in_the_summary_with_its_json_name() -> None:
    for message_type, cls in MESSAGE_CLASSES.items():
        summary = f"| {message_type.value} | `0x{message_type.value:02x}` | `{message_type.name}` |"
        assert any(row.startswith(f"{summary} `{cls.NAME}` |") for row in TABLE_ROWS)


def test_the_doc_embeds_the_current_state_diagram() -> None:
    assert f"```mermaid\n{mermaid_diagram()}```\n" in DOC


def test_the_doc_names_the_subprotocols_and_the_version() -> None:
    assert f"`{SUBPROTOCOL_MSGPACK}`" in DOC
    assert f"`{SUBPROTOCOL_JSON}`" in DOC
    assert f"`PROTOCOL_VERSION` is {PROTOCOL_VERSION}." in DOC


def test_every_version_the_docs_send_is_this_one() -> None:
    docs = [DOC, *(path.read_text() for path in (ROOT / "docs" / "reference").glob("*.md"))]
    found = [
        int(number)
        for text in docs
        for number in re.findall(
            r'(?:"version": ?|version: |version=|"protocol_version": |tickroom\.v)(\d+)', text
        )
    ]
    assert len(found) >= 10
    assert set(found) == {PROTOCOL_VERSION}


def test_the_doc_states_the_frame_limits() -> None:
    assert DEFAULT_MAX_SIZE == 4096
    assert CLIENT_MAX_SIZE == 16 * 1024 * 1024
    assert "| frame from client to server | 4 KiB (4096 bytes" in DOC
    assert "| frame from server to client | 16 MiB" in DOC


@pytest.mark.parametrize(
    "message",
    [
        Join(2, "seat-4f2a"),
        Input(7, {"dx": 1, "fire": True}),
        Patch(1202, 1200, 7, {"hp": 2, "log": [2, 3, {2: "hit"}]}),
    ],
    ids=lambda m: m.NAME,
)
def test_the_worked_examples_are_what_the_encoder_produces(message: Message) -> None:
    frame = encode(message)
    assert f"Whole frame, {len(frame)} bytes: `{spaced_hex(frame)}`" in DOC
    assert f"`{encode_json(message)}`" in DOC
    section = section_after(f"\n### {message.TYPE.name}\n")
    annotated = re.findall(r"^\| `([0-9a-f ]+)` \|", section, flags=re.MULTILINE)
    assert " ".join(annotated) == spaced_hex(frame)


def test_the_state_section_is_left_for_the_diff_documentation() -> None:
    messages_at = DOC.index("\n## Messages\n")
    assert DOC.index("\n## State: snapshots and deltas\n") > messages_at
