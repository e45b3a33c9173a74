"""The tracked map's C write (protocol._native) against its Python definition.

The whole protocol suite runs twice in scripts/test, once with the C write and once with
``TICKROOM_PURE_PYTHON=1``; these tests check what neither run can alone: that the module is
built where it should be, that the switch works, and that both give byte-identical deltas.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import protocol
from protocol import tracked
from protocol.diff import StateTracker
from protocol.schema import Quantized, Schema

WORKLOAD = Path(__file__).with_name("native_parity_workload.py")
ROOT = Path(__file__).resolve().parents[2]
PURE = os.environ.get("TICKROOM_PURE_PYTHON", "") not in ("", "0")


def test_the_c_write_is_built_and_used_unless_switched_off() -> None:
    if PURE:
        assert not tracked.NATIVE
        assert "__setitem__" in vars(tracked.TrackedMap)
    else:
        assert tracked.NATIVE, (
            "protocol._native is not built: install a C compiler (apt-get install gcc) and "
            "rerun scripts/setup"
        )
        assert "__setitem__" not in vars(tracked.TrackedMap)  # the C base's slot runs


def test_load_native_honours_the_switch_and_a_missing_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TICKROOM_PURE_PYTHON", "1")
    assert tracked._load_native() is None
    monkeypatch.setenv("TICKROOM_PURE_PYTHON", "0")
    assert tracked._load_native() is not None
    monkeypatch.setitem(sys.modules, "protocol._native", None)  # import now raises
    monkeypatch.delattr(protocol, "_native")
    assert tracked._load_native() is None


def transcript(seed: int, pure: bool) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TICKROOM_PURE_PYTHON": "1" if pure else "0"}
    done = subprocess.run(
        [sys.executable, str(WORKLOAD), str(seed), "150"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    lines = done.stdout.splitlines()
    assert lines[0] == f"native={not pure}"
    return lines[1:]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_c_and_python_writes_give_the_same_bytes_and_refusals(seed: int) -> None:
    native, python = transcript(seed, pure=False), transcript(seed, pure=True)
    assert sum(line.startswith("refused") for line in python) > 10  # the edges were reached
    assert native == python


def test_quantised_writes_round_half_to_even_and_never_store_minus_zero() -> None:
    tracker = StateTracker(schema=Schema({"*": Quantized(0.5)}))
    state = tracker.state
    written = {"a": 0.25, "b": 0.75, "c": -0.25, "d": -0.1, "e": 3, "f": -0.0}
    for key, value in written.items():
        state[key] = value
    assert dict(state) == {"a": 0.0, "b": 1.0, "c": -0.0, "d": 0.0, "e": 3.0, "f": 0.0}
    assert [str(state[key]) for key in "cdf"] == ["0.0", "0.0", "0.0"]  # +0.0, as round() gives
    assert all(type(value) is float for value in state.values())


def test_a_write_of_a_detached_subtree_marks_nothing() -> None:
    tracker = StateTracker({"p": {"q": {"x": 1}}}, schema=Schema({"*.*.x": Quantized(1)}))
    tracker.commit(1)
    grandchild = tracker.state["p"]["q"]
    tracker.state["p"] = 0
    tracker.commit(2)
    grandchild["x"] = 5
    assert not tracker.changed
    assert grandchild == {"x": 5.0}
