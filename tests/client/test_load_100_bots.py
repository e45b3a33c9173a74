"""CI-scale load: 100 bots join one server and play a 60 s arena match within 90 s of wall time.

The server and the bots run as separate processes (one core each on a 2-core machine), the bots
through the real command line (``python -m clients.python.bots``, uvloop). Every bot must join,
none may drop, and the latency figures must be reported. It takes about 65 s: marked slow, and
run by the default test command all the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from client_servers import ROOT, server_process

ROOMS, PLAYERS, DURATION = 10, 10, 60
WALL_LIMIT = 90.0


@pytest.mark.slow
def test_100_bots_play_a_60_second_arena_match(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    started = time.monotonic()
    with server_process(tmp_path) as server:
        command = [sys.executable, "-m", "clients.python.bots", "--url", server.url]
        command += ["--rooms", str(ROOMS), "--players", str(PLAYERS)]
        command += ["--duration", str(DURATION), "--json", str(out), "--no-progress"]
        result = subprocess.run(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=WALL_LIMIT,
            check=False,
        )
    elapsed = time.monotonic() - started
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(out.read_text())
    assert elapsed <= WALL_LIMIT
    assert figures["joined"] == ROOMS * PLAYERS
    assert figures["failed"] == 0
    assert figures["dropped"] == 0
    assert figures["window_s"] >= DURATION - 1
    assert figures["states_per_client_s"] >= 15  # 20 Hz rooms: states keep coming
    latency = figures["latency_ms"]
    assert latency["samples"] >= ROOMS * PLAYERS * DURATION * 10
    for key in ("p50", "p95", "p99", "max"):
        assert latency[key] is not None
        assert latency[key] > 0
