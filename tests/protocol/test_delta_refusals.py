"""tests/vectors/delta_refusals.json: deltas every receiver refuses with the same PatchError.

The browser client runs the same file (clients/browser/tests/state.test.js)."""

from __future__ import annotations

import copy
import json
from typing import Any

import msgpack
import pytest
from vector_files import VECTORS_DIR, generated

from protocol.diff import apply_delta
from protocol.errors import PatchError

VECTORS: list[dict[str, Any]] = json.loads((VECTORS_DIR / "delta_refusals.json").read_text())


def test_the_file_is_what_the_generator_writes_now() -> None:
    assert (VECTORS_DIR / "delta_refusals.json").read_text() == generated(
        "generate_refusal_vectors"
    )
    assert len(VECTORS) >= 40


@pytest.mark.parametrize("vector", VECTORS, ids=lambda vector: vector["name"])
def test_the_delta_is_refused_with_its_message(vector: dict[str, Any]) -> None:
    delta = msgpack.unpackb(bytes.fromhex(vector["delta_hex"]), raw=False, strict_map_key=False)
    with pytest.raises(PatchError) as raised:
        apply_delta(copy.deepcopy(vector["before"]), delta)
    assert raised.value.message == vector["message"]
