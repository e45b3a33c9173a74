"""The shared test vectors: Python encodes and decodes them exactly, and the file is current.

The browser client runs the same ``tests/vectors/protocol_vectors.json``; a frame both sides
agree on here cannot drift apart later without one of the two suites failing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from vector_files import VECTORS_DIR, generated

from protocol.codec import DEFAULT_MAX_SIZE, decode, decode_json, encode, encode_json
from protocol.codes import PROTOCOL_VERSION, MessageType
from protocol.errors import FrameError
from protocol.messages import MESSAGE_NAMES

VECTORS_FILE = VECTORS_DIR / "protocol_vectors.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_FILE.read_text())


def vector_id(vector: dict[str, Any]) -> str:
    return str(vector["name"])


def test_the_file_is_what_the_generator_writes_now() -> None:
    assert VECTORS_FILE.read_text() == generated("generate_protocol_vectors"), (
        "run: python -m tests.vectors.generate_protocol_vectors"
    )


def test_the_file_names_this_protocol_version_and_limit() -> None:
    assert (VECTORS["protocol_version"], VECTORS["max_size"]) == (
        PROTOCOL_VERSION,
        DEFAULT_MAX_SIZE,
    )


def test_every_message_type_has_a_vector() -> None:
    names = {vector["message"]["type"] for vector in VECTORS["messages"]}
    assert {MESSAGE_NAMES[name].TYPE for name in names} == set(MessageType)


def test_vector_names_are_unique() -> None:
    names = [vector["name"] for vector in VECTORS["messages"] + VECTORS["invalid"]]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("vector", VECTORS["messages"], ids=vector_id)
def test_the_binary_frame_decodes_to_the_message(vector: dict[str, Any]) -> None:
    message = decode_json(json.dumps(vector["message"]))
    assert decode(bytes.fromhex(vector["hex"])) == [message]


@pytest.mark.parametrize("vector", VECTORS["messages"], ids=vector_id)
def test_the_message_encodes_to_exactly_the_binary_frame(vector: dict[str, Any]) -> None:
    message = decode_json(json.dumps(vector["message"]))
    assert encode(message).hex() == vector["hex"]


@pytest.mark.parametrize("vector", VECTORS["messages"], ids=vector_id)
def test_the_json_frame_decodes_to_the_message(vector: dict[str, Any]) -> None:
    assert json.loads(vector["json"]) == vector["message"]
    [message] = decode(bytes.fromhex(vector["hex"]))
    assert decode_json(vector["json"]) == message


@pytest.mark.parametrize("vector", VECTORS["messages"], ids=vector_id)
def test_the_message_encodes_to_exactly_the_json_frame(vector: dict[str, Any]) -> None:
    [message] = decode(bytes.fromhex(vector["hex"]))
    assert encode_json(message) == vector["json"]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=vector_id)
def test_an_invalid_frame_is_refused_with_its_close_code(vector: dict[str, Any]) -> None:
    with pytest.raises(FrameError) as info:
        decode(bytes.fromhex(vector["hex"]), VECTORS["max_size"])
    assert (info.value.close_code, info.value.message) == (vector["close_code"], vector["error"])
