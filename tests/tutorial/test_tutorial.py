"""The tutorial's Tag game, step by step, and the tutorial's code listings.

docs/tutorial shows its code as listings of real files. A ```python block whose first line is
``# file: PATH`` is PATH, byte for byte; one whose first line is ``# excerpt: PATH`` appears
in PATH verbatim (the rest of the block, after that line). Every python block is one or the
other, so the tutorial never shows code that these tests don't run.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from game_server import ErrorCode, Recording, Room, RoomFullError, SimClient, Simulation, replay

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorial"
CODE = TUTORIAL / "code"
CHAPTERS = [
    "01-first-room.md",
    "02-inputs-and-state.md",
    "03-messages-and-requests.md",
    "04-testing-headless.md",
]
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"# (file|excerpt): (\S+)\n")


def load_step(number: int) -> type[Room]:
    """The ``Tag`` room of docs/tutorial/code/tag_step<number>.py (docs/ is no package)."""
    name = f"tag_step{number}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, CODE / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # pydantic and the recorder find the module by its name
        spec.loader.exec_module(module)
    room_class: object = module.Tag
    assert isinstance(room_class, type)
    assert issubclass(room_class, Room)
    return room_class


Step1, Step2, Step3 = load_step(1), load_step(2), load_step(3)
Tag = Step3
EVERY_STEP = pytest.mark.parametrize("room_class", [Step1, Step2, Step3], ids=["1", "2", "3"])
MOVING_STEPS = pytest.mark.parametrize("room_class", [Step2, Step3], ids=["2", "3"])


def two_players(room_class: type[Room]) -> tuple[Simulation, SimClient, SimClient]:
    """alice at (12, 13), "it", and bob at (1, 8): seed 0 puts them there."""
    sim = Simulation(room_class, seed=0)
    alice, bob = sim.join({"name": "alice"}), sim.join({"name": "bob"})
    sim.step()
    return sim, alice, bob


def position(client: SimClient) -> tuple[int, int]:
    body = client.state["players"][client.session_id]
    return body["x"], body["y"]


# -- step 1: a room --------------------------------------------------------------------------------


@EVERY_STEP
def test_the_first_player_is_it(room_class: type[Room]) -> None:
    sim, alice, bob = two_players(room_class)
    assert alice.state["it"] == alice.session_id
    assert alice.state["players"] == {
        alice.session_id: {"name": "alice", "x": 12, "y": 13, "score": 0},
        bob.session_id: {"name": "bob", "x": 1, "y": 8, "score": 0},
    }
    assert bob.state == sim.room.snapshot()


@EVERY_STEP
def test_when_it_leaves_the_next_player_is_it(room_class: type[Room]) -> None:
    sim, alice, bob = two_players(room_class)
    alice.leave()
    sim.step(2)
    assert bob.state["it"] == bob.session_id
    assert list(bob.state["players"]) == [bob.session_id]
    bob.leave()
    sim.step(2)
    assert sim.room.state == {"players": {}, "it": None}


@EVERY_STEP
def test_there_are_no_spectator_seats(room_class: type[Room]) -> None:
    sim = Simulation(room_class)
    with pytest.raises(RoomFullError, match="no spectator seats left"):
        sim.join(spectator=True)


def test_a_name_is_cut_to_sixteen_characters() -> None:
    sim = Simulation(Step1)
    alice = sim.join({"name": "a" * 40})
    sim.step()
    assert alice.state["players"][alice.session_id]["name"] == "a" * 16


# -- step 2: inputs, update and timers -------------------------------------------------------------


def test_a_player_walks_one_cell_per_tick() -> None:
    sim = Simulation(Tag, seed=0)
    alice = sim.join()
    sim.step()
    assert position(alice) == (12, 13)
    alice.send_input({"dx": -1, "dy": 1})
    sim.step(2)
    assert position(alice) == (10, 15)
    sim.step(5)
    assert position(alice) == (5, 15)  # y stops at the edge of the grid


def test_an_invalid_input_is_refused() -> None:
    sim = Simulation(Tag, seed=0)
    alice = sim.join()
    sim.step()
    alice.send_input({"dx": 2, "dy": 0})
    sim.step()
    assert [error.code for error in alice.errors] == [ErrorCode.INVALID_PAYLOAD]
    assert position(alice) == (12, 13)


def test_it_passes_to_a_player_it_touches() -> None:
    sim, alice, bob = two_players(Tag)
    alice.send_input({"dx": -1, "dy": -1})  # both walk to the top left corner
    bob.send_input({"dx": -1, "dy": -1})
    sim.run_until(lambda: alice.state["it"] == bob.session_id, max_ticks=20)
    sim.step(9)  # standing together, but nobody can be tagged for a second
    assert alice.state["it"] == bob.session_id
    sim.step()
    assert alice.state["it"] == alice.session_id


@MOVING_STEPS
def test_players_apart_do_not_tag(room_class: type[Room]) -> None:
    sim, alice, bob = two_players(room_class)
    alice.send_input({"dx": 1, "dy": 1})
    bob.send_input({"dx": -1, "dy": -1})
    sim.step(40)
    assert bob.state["it"] == alice.session_id


def test_everyone_but_it_scores_a_point_a_second() -> None:
    sim, alice, bob = two_players(Tag)
    sim.step(29)  # 3 seconds since the room was created
    scores = {sid: body["score"] for sid, body in alice.state["players"].items()}
    assert scores == {alice.session_id: 0, bob.session_id: 3}


@MOVING_STEPS
def test_scores_follow_whoever_is_not_it(room_class: type[Room]) -> None:
    sim, alice, bob = two_players(room_class)
    alice.send_input({"dx": -1, "dy": -1})
    bob.send_input({"dx": -1, "dy": -1})
    sim.step(49)
    players = alice.state["players"]
    assert players[alice.session_id]["score"] + players[bob.session_id]["score"] == 5
    assert players[alice.session_id]["score"] > 0
    assert alice.state == sim.room.snapshot()


# -- step 3: messages and requests -----------------------------------------------------------------


def test_a_player_renames_itself() -> None:
    sim, alice, bob = two_players(Tag)
    alice.send("rename", {"name": "Al"})
    sim.step()
    assert bob.state["players"][alice.session_id]["name"] == "Al"


def test_a_taken_name_is_refused() -> None:
    sim, alice, _ = two_players(Tag)
    alice.send("rename", {"name": "bob"})
    sim.step()
    assert [(e.code, e.message) for e in alice.errors] == [(ErrorCode.NOT_ALLOWED, "name is taken")]
    assert alice.state["players"][alice.session_id]["name"] == "alice"


@pytest.mark.parametrize("payload", [{"name": ""}, {"name": "x" * 17}, {}, "bob"])
def test_an_invalid_rename_is_refused(payload: object) -> None:
    sim, alice, _ = two_players(Tag)
    alice.send("rename", payload)
    sim.step()
    assert [error.code for error in alice.errors] == [ErrorCode.INVALID_PAYLOAD]


def test_a_wave_reaches_only_the_player_waved_at() -> None:
    sim = Simulation(Tag)
    alice, bob, carol = sim.join(), sim.join(), sim.join()
    sim.step()
    alice.send("wave", {"to": bob.session_id})
    alice.send("wave", {"to": "nobody"})
    sim.step()
    assert [(m.kind, m.payload) for m in bob.messages] == [("wave", {"from": alice.session_id})]
    assert carol.messages == []
    assert [(e.code, e.message) for e in alice.errors] == [
        (ErrorCode.NOT_ALLOWED, "no such player")
    ]


def test_the_leaderboard_lists_the_best_scores_first() -> None:
    sim, alice, _ = two_players(Tag)
    sim.step(19)  # two seconds: bob scores twice
    asked = alice.request("leaderboard", {"limit": 1})
    sim.step()
    answer = alice.responses[asked]
    assert answer.code == 0
    assert answer.payload == [{"name": "bob", "score": 2}]


def test_a_bad_leaderboard_request_is_refused() -> None:
    sim, alice, _ = two_players(Tag)
    asked = alice.request("leaderboard", {"limit": 0})
    sim.step()
    assert alice.responses[asked].code == ErrorCode.INVALID_PAYLOAD


def test_messages_need_step_three() -> None:
    sim, alice, _ = two_players(Step2)
    alice.send("rename", {"name": "Al"})
    sim.step()
    assert [error.code for error in alice.errors] == [ErrorCode.UNKNOWN_MESSAGE]


# -- step 4: a match replays exactly ---------------------------------------------------------------


def test_a_recorded_match_replays_exactly(tmp_path: Path) -> None:
    sim = Simulation(Tag, seed=0, record=True)
    alice, bob = sim.join({"name": "alice"}), sim.join({"name": "bob"})
    sim.step()
    alice.send_input({"dx": -1, "dy": -1})
    bob.send_input({"dx": -1, "dy": -1})
    bob.send("rename", {"name": "Bo"})
    sim.step(40)
    assert sim.recording is not None
    sim.recording.save(tmp_path / "tag.tickrec")
    result = replay(Recording.load(tmp_path / "tag.tickrec"))
    assert result.ok
    assert result.ticks == 41


# -- the listings ----------------------------------------------------------------------------------


def listings() -> list[tuple[str, str, str, str]]:
    """Every python block of the tutorial: (where, marker kind, path, code)."""
    found = []
    for chapter in ["README.md", *CHAPTERS]:
        text = (TUTORIAL / chapter).read_text(encoding="utf-8")
        for block in BLOCK.finditer(text):
            where = f"{chapter}:{text.count(chr(10), 0, block.start()) + 1}"
            marker = MARKER.match(block.group(1))
            kind, path = (marker.group(1), marker.group(2)) if marker else ("", "")
            found.append((where, kind, path, block.group(1)))
    return found


LISTINGS = listings()


def listed(kind: str) -> list[object]:
    return [pytest.param(path, code, id=where) for where, k, path, code in LISTINGS if k == kind]


def test_the_index_links_every_chapter() -> None:
    index = (TUTORIAL / "README.md").read_text(encoding="utf-8")
    for chapter in CHAPTERS:
        assert f"]({chapter})" in index, chapter


def test_every_python_block_is_a_file_or_an_excerpt() -> None:
    assert [where for where, kind, _, _ in LISTINGS if not kind] == []


@pytest.mark.parametrize(("path", "code"), listed("file"))
def test_a_file_listing_is_the_file(path: str, code: str) -> None:
    assert code == (ROOT / path).read_text(encoding="utf-8")


@pytest.mark.parametrize(("path", "code"), listed("excerpt"))
def test_an_excerpt_is_in_its_file(path: str, code: str) -> None:
    body = code.split("\n", 1)[1]
    assert body in (ROOT / path).read_text(encoding="utf-8")


def test_every_step_is_shown_in_full() -> None:
    shown = {path for _, kind, path, _ in LISTINGS if kind == "file"}
    steps = {f"docs/tutorial/code/{file.name}" for file in CODE.glob("tag_step*.py")}
    assert steps == {f"docs/tutorial/code/tag_step{n}.py" for n in (1, 2, 3)}
    assert steps <= shown
