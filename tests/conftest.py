"""Fixtures shared by the whole suite.

The ``simulation`` fixture (a factory of headless ``Simulation`` objects) and ``manual_clock``
come from the public pytest plugin ``game_server.testing``, which game authors enable the same
way in their own ``conftest.py``. ``transcript`` runs the C-against-Python parity workloads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytest_plugins = ["game_server.testing"]

ROOT = Path(__file__).resolve().parents[1]

Transcript = Callable[[Path, int, int, bool], list[str]]


@pytest.fixture
def transcript() -> Transcript:
    """Run a parity workload (``tests/*/native_*_workload.py SEED TICKS``) in a fresh
    interpreter, with the C code or with ``TICKROOM_PURE_PYTHON=1``, and return what it printed
    after its first line (which must say which code ran)."""

    def run(workload: Path, seed: int, ticks: int, pure: bool) -> list[str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TICKROOM_PURE_PYTHON": "1" if pure else "0",
        }
        done = subprocess.run(
            [sys.executable, str(workload), str(seed), str(ticks)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=120,
        )
        lines = done.stdout.splitlines()
        assert lines[0] == f"native={not pure}"
        return lines[1:]

    return run
