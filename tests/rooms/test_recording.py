"""Record and replay: a 1,000-tick arena match with ten clients, random inputs, a drop and
reconnection and a leave replays to the same state hash at every tick; a tampered input makes
the replay name the first tick that differs."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import msgpack
import pytest

from game_server.errors import ReplayDivergedError
from game_server.games.arena import Arena
from game_server.recording import FORMAT, Recording, replay
from game_server.testing import SimulationFactory

TICKS = 1000
DROP_AT, RECONNECT_AT, LEAVE_AT = 300, 340, 500


def record_match(simulation: SimulationFactory, path: Path) -> list[str]:
    """Play the match, save its recording to ``path``; returns the room's hash per tick."""
    sim = simulation(Arena, seed=2024, record=True)
    players = [sim.join({"name": f"p{n}"}) for n in range(10)]
    hashes: list[str] = []
    rng = random.Random(99)
    for tick in range(1, TICKS + 1):
        for player in players:
            if rng.random() < 0.3:
                player.send_input({"dx": rng.randint(-1, 1), "dy": rng.randint(-1, 1)})
        if tick == DROP_AT:
            players[3].drop()
        if tick == RECONNECT_AT:
            players[3].reconnect()
        if tick == LEAVE_AT:
            players[7].leave()
        sim.step()
        hashes.append(sim.room.state_hash())
    assert sim.recording is not None
    sim.recording.save(path)
    return hashes


@pytest.fixture(scope="module")
def match(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The match recorded once for this module (every test loads its own copy)."""
    path = tmp_path_factory.mktemp("recording") / "match.tickrec"
    return path, record_match(SimulationFactory(), path)


def kinds(recording: Recording) -> set[str]:
    return {event[0] for _, _, events in recording.ticks for event in events}


def tamper_one_input(recording: Recording, after: int) -> int:
    """Reverse the first moving input recorded after tick ``after``; returns its tick."""
    for tick, _, events in recording.ticks:
        if tick <= after:
            continue
        for event in events:
            payload: dict[str, Any] = event[3] if event[0] == "input" else {}
            if payload.get("dx") or payload.get("dy"):
                event[3] = {"dx": -payload["dx"], "dy": -payload["dy"]}
                return tick
    raise AssertionError("no input to tamper with")


def test_a_recorded_match_replays_to_the_same_hash_at_every_tick(
    match: tuple[Path, list[str]],
) -> None:
    path, hashes = match
    recording = Recording.load(path)
    assert [state_hash for _, state_hash, _ in recording.ticks] == hashes
    result = replay(recording)
    assert result.ok
    assert result.ticks == TICKS
    assert (result.diverged_at, result.expected, result.actual) == (None, None, None)


def test_the_recording_holds_every_tick_and_every_kind_of_event(
    match: tuple[Path, list[str]],
) -> None:
    recording = Recording.load(match[0])
    assert [tick for tick, _, _ in recording.ticks] == list(range(1, TICKS + 1))
    assert kinds(recording) == {"join", "input", "drop", "reconnect", "leave"}
    assert recording.room == "game_server.games.arena:Arena"
    assert recording.seed == 2024


def test_a_tampered_input_makes_replay_report_the_first_diverging_tick(
    match: tuple[Path, list[str]],
) -> None:
    path, hashes = match
    recording = Recording.load(path)
    tampered = tamper_one_input(recording, after=LEAVE_AT)
    result = replay(recording)
    assert not result.ok
    assert result.diverged_at == tampered
    assert result.ticks == tampered  # it stops there
    assert result.expected == hashes[tampered - 1]
    assert result.actual != result.expected


def test_a_tampered_recording_saved_and_loaded_still_diverges(
    match: tuple[Path, list[str]], tmp_path: Path
) -> None:
    recording = Recording.load(match[0])
    tampered = tamper_one_input(recording, after=10)
    recording.save(tmp_path / "tampered.tickrec")
    assert replay(Recording.load(tmp_path / "tampered.tickrec")).diverged_at == tampered


def test_strict_replay_raises_replay_diverged_error(match: tuple[Path, list[str]]) -> None:
    path, hashes = match
    recording = Recording.load(path)
    tampered = tamper_one_input(recording, after=DROP_AT)
    with pytest.raises(ReplayDivergedError) as diverged:
        replay(recording, strict=True)
    error = diverged.value
    assert error.tick == tampered
    assert error.expected == hashes[tampered - 1]
    assert str(error) == (
        f"state diverged at tick {tampered}: expected {error.expected}, got {error.actual}"
    )


def test_strict_replay_of_an_intact_recording_returns_ok(match: tuple[Path, list[str]]) -> None:
    assert replay(Recording.load(match[0]), strict=True).ok


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"hello, world\n",
        msgpack.packb([1, 2, 3]),
        msgpack.packb({"format": "something-else", "version": 1}),
    ],
    ids=["empty", "text", "msgpack-array", "other-format"],
)
def test_load_rejects_a_file_that_is_not_a_recording(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "not.tickrec"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"^not a tickroom recording$"):
        Recording.load(path)


def test_load_rejects_an_unsupported_version(tmp_path: Path) -> None:
    path = tmp_path / "future.tickrec"
    path.write_bytes(msgpack.packb({"format": FORMAT, "version": 99}))
    with pytest.raises(ValueError, match=r"^unsupported recording version 99$"):
        Recording.load(path)
