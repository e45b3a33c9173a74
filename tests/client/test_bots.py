"""The bot runner: a small load against a live server, its JSON, its exit status, the driver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from client_servers import ROOT, live_server, run

from clients.python.bots import BotConfig, BotRunner, Histogram, Scripted, Step, load_strategy
from clients.python.bots.cli import main
from clients.python.memory import InMemoryServer
from game_server.app import create_app
from game_server.settings import Settings

SMALL_LOAD = ["--rooms", "2", "--players", "3", "--duration", "3", "--no-progress", "--seed", "4"]
UNKNOWN_ROOM = ["--room", "chess", "--rooms", "2", "--players", "2", "--duration", "0.2"]
DRIVER = ["--driver", "--rooms", "1", "--players", "3", "--offset", "5"]


def test_a_small_load_produces_the_json_summary_with_no_failures(tmp_path: Path) -> None:
    out = tmp_path / "bots.json"
    with live_server() as live:
        status = main([*SMALL_LOAD, "--url", live.url, "--json", str(out)])
    assert status == 0
    figures = json.loads(out.read_text())
    assert figures["ok"] is True
    assert (figures["bots"], figures["joined"], figures["failed"]) == (6, 6, 0)
    assert figures["dropped"] == 0
    assert figures["inputs_per_client_s"] > 15
    assert figures["states_per_client_s"] > 15
    assert figures["bytes_per_s"] > 0
    latency = figures["latency_ms"]
    assert latency["samples"] > 0
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"] + 0.5
    assert figures["state_gap_ms"]["p50"] > 0


def test_bots_that_cannot_join_make_the_exit_status_non_zero(tmp_path: Path) -> None:
    out = tmp_path / "bots.json"
    with live_server() as live:
        status = main([*UNKNOWN_ROOM, "--url", live.url, "--json", str(out)])
    assert status == 1
    figures = json.loads(out.read_text())
    assert (figures["joined"], figures["failed"], figures["ok"]) == (0, 4, False)
    assert "could not create a room: unknown room type" in figures["failures"][0]


def test_bad_arguments_exit_with_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--options", "[1]"]) == 2
    assert "--options must be a JSON object" in capsys.readouterr().err
    assert main(["--strategy", "nothing"]) == 2


def test_the_runner_works_in_memory_with_a_scripted_strategy() -> None:
    script = Scripted([{"dx": 1, "dy": 0}, None])

    async def main() -> None:
        async with InMemoryServer(create_app(Settings())) as server:
            config = BotConfig(room="arena", rooms=1, players=2, duration=1.0)
            report = await BotRunner(config, script, client=server.client()).run()
            assert report.ok
            assert report.totals.inputs_sent == pytest.approx(20, abs=3)  # half the steps send
            registry = server.app.state.server.registry
            assert len(registry.rooms) <= 1

    run(main())


def test_strategies_load_by_name(tmp_path: Path) -> None:
    script = tmp_path / "walk.json"
    script.write_text(json.dumps([{"dx": 1}, {"dx": -1}]))
    scripted = load_strategy(f"scripted:{script}")
    step = Step(0, 0, 3, {}, "s", __import__("random").Random(0))
    assert scripted(step) == {"dx": -1}
    walk = load_strategy("random")
    payload: Any = walk(step)
    assert set(payload) == {"dx", "dy"}
    assert -1 <= payload["dx"] <= 1
    assert load_strategy("clients.python.agents:toward_target") is not None
    with pytest.raises(ValueError, match="cannot load strategy"):
        load_strategy("no.such.module:function")


def test_the_histogram_percentiles_are_bin_upper_edges() -> None:
    histogram = Histogram()
    for ms in (1.0, 1.2, 3.0, 10.0):
        histogram.add(ms)
    assert histogram.percentile(0.5) == 1.5
    assert histogram.percentile(0.99) == 10.5
    assert histogram.summary() == {"samples": 4, "p50": 1.5, "p95": 10.5, "p99": 10.5, "max": 10.0}
    assert Histogram().percentile(0.5) is None


def test_driver_mode_speaks_the_bench_contract() -> None:
    with live_server() as live:
        process = subprocess.Popen(
            [sys.executable, "-m", "clients.python.bots", "--port", str(live.port), *DRIVER],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            assert process.stdin is not None
            assert process.stdout.readline().split() == ["JOINED", "3", "0"]
            process.stdin.write("START\n")
            process.stdin.flush()
            time.sleep(1.0)  # one second of measured play, as the driver's window
            process.stdin.write("STOP\n")
            process.stdin.flush()
            line = process.stdout.readline()
            assert process.wait(20) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(5)
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
    assert line.startswith("RESULT ")
    result = json.loads(line[len("RESULT ") :])
    assert set(result) >= {"hist", "bin_ms", "states", "bytes", "inputs", "clients", "failed"}
    assert (result["clients"], result["failed"], result["closed"]) == (3, 0, 0)
    assert result["bin_ms"] == 0.5
    assert 30 <= result["inputs"] <= 90  # 3 bots x 20/s x ~1 s
    assert sum(result["hist"].values()) > 0
    assert all(int(key) >= 0 for key in result["hist"])  # what driver.py's int(k) needs
