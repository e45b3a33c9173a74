"""``python -m game_server``: ``replay FILE [--strict]`` and ``simulate``, called through
``main([...])`` (and once as a real subprocess)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from game_server.__main__ import main
from game_server.recording import Recording

ROOT = Path(__file__).resolve().parents[2]


def simulate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run ``simulate`` with small defaults; returns (exit status, stdout)."""
    status = main(["simulate", "--ticks", "120", "--clients", "3", "--seed", "5", *args])
    return status, capsys.readouterr().out


def final_hash(output: str) -> str:
    found = re.search(r"^final hash ([0-9a-f]{16})$", output, re.MULTILINE)
    assert found is not None, output
    return found.group(1)


@pytest.fixture
def recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "match.tickrec"
    assert simulate(capsys, "--record", str(path))[0] == 0
    return path


def tampered_copy(path: Path) -> tuple[Path, int]:
    """A copy of the recording with its first moving input reversed; and that tick."""
    recording = Recording.load(path)
    for tick, _, events in recording.ticks:
        for event in events:
            if event[0] == "input" and (event[3]["dx"] or event[3]["dy"]):
                event[3] = {"dx": -event[3]["dx"], "dy": -event[3]["dy"]}
                copy = path.with_name("tampered.tickrec")
                recording.save(copy)
                return copy, tick
    raise AssertionError("no input to tamper with")


# -- simulate -------------------------------------------------------------------------------------


def test_simulate_prints_ticks_per_second_and_the_final_hash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, output = simulate(capsys)
    assert status == 0
    assert re.match(r"^120 ticks, 3 clients, seed 5: [\d,]+ ticks/s$", output.splitlines()[0])
    final_hash(output)


def test_simulate_with_the_same_arguments_prints_the_same_final_hash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert final_hash(simulate(capsys)[1]) == final_hash(simulate(capsys)[1])


def test_simulate_with_another_seed_prints_another_final_hash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert final_hash(simulate(capsys)[1]) != final_hash(simulate(capsys, "--seed", "6")[1])


def test_simulate_record_saves_a_recording_that_ends_on_the_final_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sim.tickrec"
    status, output = simulate(capsys, "--record", str(path))
    assert status == 0
    assert f"recorded to {path}" in output
    recording = Recording.load(path)
    assert len(recording.ticks) == 120
    assert recording.ticks[-1][1] == final_hash(output)


def test_simulate_takes_a_game_as_module_and_class(capsys: pytest.CaptureFixture[str]) -> None:
    by_name = final_hash(simulate(capsys)[1])
    by_path = final_hash(simulate(capsys, "--game", "game_server.games.arena:Arena")[1])
    assert by_name == by_path


def test_simulate_refuses_an_unknown_game(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["simulate", "--game", "chess"])
    assert status == 2
    assert capsys.readouterr().err == "error: unknown game 'chess'\n"


def test_simulate_refuses_negative_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--ticks", "-1"]) == 2
    assert capsys.readouterr().err == "error: --ticks and --clients must not be negative\n"


# -- replay ---------------------------------------------------------------------------------------


def test_replay_of_an_intact_recording_prints_ok_and_exits_0(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(recorded)]) == 0
    assert capsys.readouterr().out == "replayed 120 ticks: OK\n"


def test_replay_of_a_tampered_recording_prints_the_first_diverging_tick_and_exits_1(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy, tick = tampered_copy(recorded)
    expected = Recording.load(recorded).ticks[tick - 1][1]
    assert main(["replay", str(copy)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"replayed {tick} ticks: DIVERGED at tick {tick}"
    assert lines[1] == f"  expected hash {expected}"
    assert re.fullmatch(r"  actual hash   [0-9a-f]{16}", lines[2])
    assert lines[2][-16:] != expected


def test_strict_replay_of_a_tampered_recording_prints_the_error_and_exits_1(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy, tick = tampered_copy(recorded)
    assert main(["replay", "--strict", str(copy)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: state diverged at tick {tick}: expected ")


def test_replay_of_a_file_that_is_not_a_recording_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a match\n")
    assert main(["replay", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {path}: not a tickroom recording\n"


def test_replay_of_a_missing_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(tmp_path / "missing.tickrec")]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'missing.tickrec'}: ")


def test_a_missing_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "usage: python -m game_server" in capsys.readouterr().err


def test_python_m_game_server_replay_runs_as_a_program(recorded: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "game_server", "replay", str(recorded)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "replayed 120 ticks: OK\n", "")
