"""Writes ``tests/vectors/delta_refusals.json``: deltas every tickroom receiver must refuse alike.

Each case holds ``name``, ``before`` (a plain state), ``delta_hex`` (the msgpack bytes of the
delta, as in a PATCH body) and ``message``: the PatchError message, which the Python receiver
(``protocol.replica.apply_delta``) and the browser's (``clients/browser/state.js``) both give.
``tests/protocol/test_delta_refusals.py`` and ``clients/browser/tests/state.test.js`` run it.
Cases a JavaScript receiver cannot even see (integer or boolean map keys, a float operation tag
that decodes as an integer, a root delta the codec refuses first) stay in
``tests/protocol/test_diff_apply.py``.

Run from the repository root after changing the cases, then commit the result:

    .venv/bin/python -m tests.vectors.generate_refusal_vectors
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgpack

GROUP_SHAPE = "a group needs distinct field names and one entry per field"
GROUP = "a group is [[field, ...], key, entry, ...]"
LIST = "a list delta is [2, length, {index: entry}]"

CASES: list[tuple[dict[str, Any], Any, str]] = [
    ({"a": 1}, {"a": {"b": 1}}, "a map delta needs a map"),
    ({}, {"a": {"b": 1}}, "a map delta needs a map"),
    ({"l": [1]}, {"l": [2, 1, {0: {"b": 1}}]}, "a map delta needs a map"),
    ({"a": {}}, {"a": [1]}, "unknown delta operation"),
    ({"a": 1}, {"a": []}, "unknown delta operation"),
    ({"a": 1}, {"a": [9]}, "unknown delta operation"),
    ({"a": 1}, {"a": ["x"]}, "unknown delta operation"),
    ({"a": 1}, {"a": [0, 1]}, "unknown delta operation"),
    ({"a": 1}, {"a": [1]}, "unknown delta operation"),
    ({"a": 1}, {"a": [1, 2, 3]}, "unknown delta operation"),
    ({"a": 1}, {"a": [2, 1]}, "unknown delta operation"),
    ({"a": 1}, {"a": [True]}, "unknown delta operation"),
    ({"a": 1}, {"a": [False]}, "unknown delta operation"),  # regression: deleted "a"
    ({"a": {}}, {"a": [2, 0, {}]}, "a list delta needs a list"),
    ({}, {"a": [2, 0, {}]}, "a list delta needs a list"),
    ({"l": []}, {"l": [2, -1, {}]}, "a list delta is [2, length, {index: entry}]"),
    ({"l": []}, {"l": [2, "1", {}]}, "a list delta is [2, length, {index: entry}]"),
    ({"l": []}, {"l": [2, True, {}]}, "a list delta is [2, length, {index: entry}]"),
    ({"l": []}, {"l": [2, 2**53, {}]}, "a list delta is [2, length, {index: entry}]"),
    ({"l": []}, {"l": [2, 0, [1]]}, "a list delta is [2, length, {index: entry}]"),
    ({"l": [1]}, {"l": [2, 3, {1: 1}]}, "a list delta must give every new item"),
    ({"l": [1]}, {"l": [2, 3, {0: 1, 1: 1}]}, "a list delta must give every new item"),
    ({"l": [1]}, {"l": [2, 1, {1: 1}]}, "list delta index out of range"),
    ({"l": [1]}, {"l": [2, 1, {-1: 1}]}, "list delta index out of range"),
    ({"l": []}, {"l": [2, 1, {0: {"x": 1}}]}, "a new list item must be a whole value"),
    ({"l": []}, {"l": [2, 1, {0: [2, 0, {}]}]}, "a new list item must be a whole value"),
    ({"l": [1]}, {"l": [2, 1, {0: [0]}]}, "unknown delta operation"),
    ({}, {"a": b"x"}, "state cannot hold a bytes"),
    ({"l": [1]}, {"l": [2, 1, {0: b""}]}, "state cannot hold a bytes"),
    ({"p": {"a": {}}}, {"p": [3, {}]}, "unknown delta operation"),
    ({"p": {"a": {}}}, {"p": [3, [], [["x"], "a", 1]]}, "a delta must be a map"),
    ({"p": 1}, {"p": [3, {}, [["x"], "a", 1]]}, "a map delta needs a map"),
    ({"p": {"a": {}}}, {"p": [3, {}, 5]}, "a group is [[field, ...], key, entry, ...]"),
    ({"p": {"a": {}}}, {"p": [3, {}, []]}, "a group is [[field, ...], key, entry, ...]"),
    (
        {"p": {"a": {}}},
        {"p": [3, {}, ["x", "a", 1]]},
        "a group is [[field, ...], key, entry, ...]",
    ),
    ({"p": {"a": {}}}, {"p": [3, {}, [[], "a"]]}, GROUP_SHAPE),
    ({"p": {"a": {}}}, {"p": [3, {}, [[1], "a", 1]]}, GROUP_SHAPE),
    ({"p": {"a": {}}}, {"p": [3, {}, [["x", "x"], "a", 1, 2]]}, GROUP_SHAPE),
    ({"p": {"a": {}}}, {"p": [3, {}, [["x"], "a", 1, "b"]]}, GROUP_SHAPE),
    ({"p": {"a": {}}}, {"p": [3, {}, [["__proto__"], "a", 1]]}, GROUP_SHAPE),
    ({"p": {"a": {}}}, {"p": [3, {}, [["x"], 1, 1]]}, "state map keys must be strings"),
    ({"p": {"a": 1}}, {"p": [3, {}, [["x"], "a", 1]]}, "a map delta needs a map"),
    ({"p": {}}, {"p": [3, {}, [["x"], "a", 1]]}, "a map delta needs a map"),
    ({"l": [{}]}, {"l": [2, 1, {}, [["x"], 1, 1]]}, "group index out of range"),
    ({"l": [{}]}, {"l": [2, 1, {}, [["x"], -1, 1]]}, "group index out of range"),
    ({"l": [{}]}, {"l": [2, 1, {}, [["x"], "0", 1]]}, "group index out of range"),
    ({"l": [{}]}, {"l": [2, 1, {}, [["x"], False, 1]]}, "group index out of range"),
    ({"l": [1]}, {"l": [2, 1, {}, [["x"], 0, 1]]}, "a map delta needs a map"),
    ({"l": [{}]}, {"l": [2, 1, {}, [["x"], 0, [9]]]}, "unknown delta operation"),
    (
        {"l": []},
        {"l": [2, 1, {0: [3, {}, [["x"], "a", 1]]}]},
        "a new list item must be a whole value",
    ),
]
"""(state before, delta, message)."""


def vectors() -> list[dict[str, Any]]:
    """Every case, named by its position and message."""
    return [
        {
            "name": f"{number}: {message}",
            "before": before,
            "delta_hex": msgpack.packb(delta, use_bin_type=True).hex(),
            "message": message,
        }
        for number, (before, delta, message) in enumerate(CASES, start=1)
    ]


def render() -> str:
    """The file's contents."""
    return json.dumps(vectors(), indent=2, ensure_ascii=True) + "\n"


def main() -> None:
    path = Path(__file__).with_name("delta_refusals.json")
    path.write_text(render())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
