"""The fast socket's C paths (game_server._native) against their Python definitions.

``publish`` (Room._publish with FastSession.wake's state frame) and ``receive_frame``
(FastSession.on_ws_frame with EdgeSession.receive's INPUT path) must write the same bytes, close
the same sockets with the same codes and count the same things as the Python methods. A seeded
workload (native_edge_workload.py) runs in two interpreters, one with ``TICKROOM_PURE_PYTHON=1``,
and the printouts are compared line by line.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import game_server
import game_server.fastsocket
import game_server.native
from game_server.fastsocket import FastSession
from game_server.settings import Settings

WORKLOAD = Path(__file__).with_name("native_edge_workload.py")
PURE = os.environ.get("TICKROOM_PURE_PYTHON", "") not in ("", "0")


def test_the_c_paths_are_built_and_configured_unless_switched_off() -> None:
    if PURE:
        assert game_server.native.publish is None
        assert FastSession.on_ws_frame.__code__  # the Python method
        return
    assert game_server.native.NATIVE, (
        "game_server._native is not built: install a C compiler (apt-get install gcc) and rerun "
        "scripts/setup"
    )
    assert game_server.native.publish is game_server.native.native.publish
    # picows calls the C method itself: FastSession.on_ws_frame is no Python function
    assert FastSession.on_ws_frame is game_server.native.native.on_ws_frame.__func__


def test_load_native_honours_the_switch_and_a_missing_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TICKROOM_PURE_PYTHON", "1")
    assert game_server.native._load_native() is None
    monkeypatch.setenv("TICKROOM_PURE_PYTHON", "0")
    monkeypatch.setitem(sys.modules, "game_server._native", None)  # import now raises
    if hasattr(game_server, "_native"):
        monkeypatch.delattr(game_server, "_native")
    assert game_server.native._load_native() is None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_c_and_python_write_the_same_bytes_and_count_the_same(
    seed: int, transcript: Callable[..., list[str]]
) -> None:
    c, python = transcript(WORKLOAD, seed, 400, False), transcript(WORKLOAD, seed, 400, True)
    written = [line for line in python if line.startswith(("BINARY", "TEXT"))]
    assert len(written) > 500  # state frames, each member's own header included
    assert any(line.startswith("TEXT") for line in written)  # the JSON member's frames
    assert any("graceful=False" in line for line in python)  # failed sends dropped a socket
    assert any("4011" in line for line in python) or seed != 1  # the rate limit's close
    own = next(line for line in python if line.startswith("own "))
    assert not own.startswith("own inputs=0 acks=0")  # a room's own _take_input, _take_ack ran
    assert "frames_failed=0" not in own  # and its _state_frame failed, a socket dropped
    assert c == python


@pytest.mark.parametrize("limit", ["256", "256.0"])
def test_the_frame_limit_is_compared_as_python_does(
    limit: str, transcript: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # an int (compared as C integers), and a float set after validation (compared as numbers):
    # a message of the limit's size passes, one a byte over closes with MESSAGE_TOO_BIG
    monkeypatch.setenv("WORKLOAD_MAX_FRAME_SIZE", limit)
    c, python = transcript(WORKLOAD, 1, 50, False), transcript(WORKLOAD, 1, 50, True)
    assert python.count(f"close 4010 b'message exceeds {limit} bytes'") == 1
    assert c == python


def test_the_largest_frame_limit_works(
    transcript: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the largest limit Settings takes: the connections' decoders take it too
    monkeypatch.setenv("WORKLOAD_MAX_FRAME_SIZE", str(2**30))
    assert transcript(WORKLOAD, 1, 200, False) == transcript(WORKLOAD, 1, 200, True)


def test_settings_refuse_a_frame_limit_over_a_gibibyte() -> None:
    assert Settings(games=[], max_frame_size=2**30).max_frame_size == 2**30
    with pytest.raises(ValidationError):
        Settings(games=[], max_frame_size=2**30 + 1)


class BrokenTransport:
    """A picows transport whose sends fail."""

    is_close_frame_sent = False

    def __init__(self) -> None:
        self.disconnected: list[bool] = []

    def send(self, *args: Any) -> None:
        raise OSError("broken")

    def disconnect(self, graceful: bool = True) -> None:
        self.disconnected.append(graceful)


def test_a_failed_write_is_logged_and_drops_only_that_socket(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = FastSession.__new__(FastSession)  # only what _write_failed reads
    transport = BrokenTransport()
    with caplog.at_level(logging.ERROR, logger="game_server.fastsocket"):
        session._write_failed(transport, OSError("broken"))  # type: ignore[arg-type]
    assert transport.disconnected == [False]
    assert "write failed" in caplog.text
    assert "OSError: broken" in caplog.text  # with its traceback text


def written_when_a_wake_comes_in_while_the_frame_is_built() -> list[tuple[int, int]]:
    """Two members of a room; while the room builds its shared frame for the first one, a
    message is queued for that member (its socket's wake() comes in): the frames and bytes
    each socket was written in that tick."""
    from bench.server_path import _players  # noqa: PLC0415  # the bench's stand-in sockets
    from protocol.diff import StateTracker  # noqa: PLC0415

    async def scenario() -> list[tuple[int, int]]:
        sessions, registry, clock = await _players(1, 2)
        loop = next(iter(registry._rooms.values())).loop
        first = sessions[0].client
        assert first is not None
        send = first.send  # the first member's, bound while it is known not to be None
        now = clock.now()
        loop.run_due(now + 0.05)  # everyone has the full state: the next frames are patches
        sent: list[bool] = []

        class Noisy(StateTracker):
            __slots__ = ()

            def encode_delta(self, baseline: int) -> bytes | None:
                if not sent:
                    sent.append(True)
                    send("note", {"while": "building"})  # its wake() comes in while _flushing
                return super().encode_delta(baseline)

        room = loop.room
        before = [(s.transport.frames, s.transport.bytes) for s in sessions]  # type: ignore[union-attr]
        room._tracker.__class__ = Noisy
        loop.run_due(now + 0.1)
        after = [(s.transport.frames, s.transport.bytes) for s in sessions]  # type: ignore[union-attr]
        return [(a[0] - b[0], a[1] - b[1]) for a, b in zip(after, before, strict=True)]

    return asyncio.run(scenario())


def test_a_wake_while_the_shared_frame_is_built_drains_after_it_both_ways(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    c = written_when_a_wake_comes_in_while_the_frame_is_built()
    monkeypatch.setattr(game_server.native, "publish", None)
    python = written_when_a_wake_comes_in_while_the_frame_is_built()
    assert [frames for frames, _ in python] == [2, 1]  # the state frame, then the note
    assert [frames for frames, _ in c] == [2, 1]  # (bytes differ: each run seeds its own room)


@pytest.mark.skipif(PURE, reason="the C method is off under TICKROOM_PURE_PYTHON=1")
def test_the_c_on_ws_frame_takes_picows_arguments_only() -> None:
    session = FastSession.__new__(FastSession)
    with pytest.raises(TypeError, match=re.escape("on_ws_frame(session, transport, frame)")):
        session.on_ws_frame(None)  # type: ignore[call-arg,arg-type]
