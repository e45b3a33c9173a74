"""Connect Four through the headless simulation: turns, wins, draws, refusals, forfeits."""

from __future__ import annotations

from typing import Any

import pytest

from game_server import ErrorCode, SimClient, Simulation
from game_server.games.connect_four import ConnectFour, connects, empty_board

HORIZONTAL = [0, 0, 1, 1, 2, 2, 3]
VERTICAL = [0, 1, 0, 1, 0, 1, 0]
RISING_DIAGONAL = [0, 1, 1, 2, 2, 3, 2, 6, 3, 3, 3]
FALLING_DIAGONAL = [6, 5, 5, 4, 4, 3, 4, 0, 3, 3, 3]
DRAW = [0] * 6 + [1] * 6 + [2] * 6 + [4] + [3] * 6 + [4] * 5 + [5] * 6 + [6] * 6


def start_game() -> tuple[Simulation, SimClient, SimClient]:
    """A room where alice (colour 1, to move) and bob have both joined."""
    sim = Simulation(ConnectFour, seed=1)
    alice = sim.join({"name": "alice"})
    bob = sim.join({"name": "bob"})
    sim.step()
    return sim, alice, bob


def play(sim: Simulation, alice: SimClient, bob: SimClient, columns: list[int]) -> None:
    """Alternate moves, alice first; every move but the last must leave the game going."""
    for number, column in enumerate(columns):
        assert sim.room.state["status"] == "playing", f"game ended before move {number}"
        mover = alice if number % 2 == 0 else bob
        mover.send("drop", {"column": column})
        sim.step()
    assert alice.errors == []
    assert bob.errors == []


def refusals(client: SimClient) -> list[tuple[int, str]]:
    return [(error.code, error.message) for error in client.errors]


def test_the_second_player_starts_the_game_and_locks_the_room() -> None:
    sim, alice, bob = start_game()
    state = alice.state
    assert state["status"] == "playing"
    assert state["turn"] == alice.session_id
    assert state["players"] == {
        alice.session_id: {"color": 1, "name": "alice"},
        bob.session_id: {"color": 2, "name": "bob"},
    }
    assert state["board"] == empty_board()
    assert sim.room.locked


def test_one_player_waits() -> None:
    sim = Simulation(ConnectFour)
    alice = sim.join()
    sim.step()
    assert alice.state["status"] == "waiting"
    assert alice.state["turn"] is None
    alice.send("drop", {"column": 3})
    sim.step()
    assert refusals(alice) == [(ErrorCode.NOT_ALLOWED, "game has not started")]


def test_a_disc_falls_to_the_lowest_empty_cell() -> None:
    sim, alice, bob = start_game()
    play(sim, alice, bob, [3, 3])
    board = alice.state["board"]
    assert board[5][3] == 1
    assert board[4][3] == 2
    assert sum(cell != 0 for row in board for cell in row) == 2
    assert alice.state["turn"] == alice.session_id


@pytest.mark.parametrize(
    "columns",
    [HORIZONTAL, VERTICAL, RISING_DIAGONAL, FALLING_DIAGONAL],
    ids=["horizontal", "vertical", "rising-diagonal", "falling-diagonal"],
)
def test_four_in_a_row_wins(columns: list[int]) -> None:
    sim, alice, bob = start_game()
    play(sim, alice, bob, columns)
    for client in (alice, bob):
        assert client.state["status"] == "over"
        assert client.state["winner"] == alice.session_id
        assert client.state["draw"] is False
        assert client.state["turn"] is None
        assert client.state == sim.room.snapshot()


def test_the_second_player_can_win() -> None:
    sim, alice, bob = start_game()
    play(sim, alice, bob, [6, *HORIZONTAL])
    assert bob.state["winner"] == bob.session_id


def test_a_full_board_without_four_is_a_draw() -> None:
    sim, alice, bob = start_game()
    play(sim, alice, bob, DRAW)
    state = bob.state
    assert state["status"] == "over"
    assert state["draw"] is True
    assert state["winner"] is None
    assert all(cell != 0 for row in state["board"] for cell in row)


def test_a_move_out_of_turn_is_refused() -> None:
    sim, alice, bob = start_game()
    bob.send("drop", {"column": 3})
    sim.step()
    assert refusals(bob) == [(ErrorCode.NOT_ALLOWED, "not your turn")]
    assert bob.state["board"] == empty_board()
    assert bob.state["turn"] == alice.session_id


def test_a_move_into_a_full_column_is_refused() -> None:
    sim, alice, bob = start_game()
    play(sim, alice, bob, [0] * 6)
    alice.send("drop", {"column": 0})
    sim.step()
    assert refusals(alice) == [(ErrorCode.NOT_ALLOWED, "column is full")]
    assert alice.state["turn"] == alice.session_id


def test_a_move_after_the_end_is_refused() -> None:
    sim, alice, bob = start_game()
    play(sim, alice, bob, VERTICAL)
    board = bob.state["board"]
    bob.send("drop", {"column": 6})
    sim.step()
    assert refusals(bob) == [(ErrorCode.NOT_ALLOWED, "game is over")]
    assert bob.state["board"] == board


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"column": 7}, "column"),
        ({"column": -1}, "column"),
        ({"column": "3"}, "column"),
        ({"column": 3.0}, "column"),
        ({"column": True}, "column"),
        ({}, "column"),
        ({"column": 3, "row": 0}, "row"),
        ([3], "payload"),
        (None, "payload"),
    ],
)
def test_an_invalid_drop_is_refused(payload: Any, where: str) -> None:
    sim, alice, _ = start_game()
    alice.send("drop", payload)
    sim.step()
    assert [error.code for error in alice.errors] == [ErrorCode.INVALID_PAYLOAD]
    assert alice.errors[0].message.startswith(f"invalid payload at {where}: ")
    assert alice.state["board"] == empty_board()


def test_leaving_mid_game_forfeits() -> None:
    sim, alice, bob = start_game()
    play(sim, alice, bob, [3, 3, 4])
    bob.leave()
    sim.step(2)
    state = alice.state
    assert state["status"] == "over"
    assert state["winner"] == alice.session_id
    assert list(state["players"]) == [alice.session_id]
    assert not sim.room.locked


def test_a_dropped_player_forfeits_after_the_grace_period() -> None:
    sim, alice, bob = start_game()
    bob.drop()
    grace_ticks = int(ConnectFour.reconnection_grace * ConnectFour.tick_rate)
    sim.step(grace_ticks - 1)
    assert alice.state["status"] == "playing"
    sim.step(2)
    assert alice.state["status"] == "over"
    assert alice.state["winner"] == alice.session_id


def test_a_player_who_reconnects_in_time_plays_on() -> None:
    sim, alice, bob = start_game()
    play(sim, alice, bob, [3])
    bob.drop()
    sim.step(5)
    bob.reconnect()
    sim.step()
    bob.send("drop", {"column": 3})
    sim.step()
    assert bob.errors == []
    assert bob.state["board"][4][3] == 2
    assert bob.state["status"] == "playing"


def test_a_new_opponent_starts_a_new_game_after_a_forfeit() -> None:
    sim, alice, bob = start_game()
    play(sim, alice, bob, [3])
    bob.leave()
    sim.step(2)
    carol = sim.join({"name": "carol"})
    sim.step()
    state = carol.state
    assert state["status"] == "playing"
    assert state["players"][carol.session_id] == {"color": 2, "name": "carol"}
    assert state["board"] == empty_board()
    assert sim.room.locked


def test_a_spectator_sees_the_board_and_cannot_move() -> None:
    sim = Simulation(ConnectFour, seed=1)
    alice = sim.join({"name": "alice"})
    bob = sim.join({"name": "bob"})
    watcher = sim.join(spectator=True)
    sim.step()
    play(sim, alice, bob, [2, 4])
    assert watcher.state == alice.state == sim.room.snapshot()
    assert watcher.state["board"][5][2] == 1
    assert watcher.session_id not in watcher.state["players"]
    watcher.send("drop", {"column": 0})
    sim.step()
    assert refusals(watcher) == [(ErrorCode.NOT_ALLOWED, "spectators cannot play")]
    assert watcher.state["board"][5][0] == 0
    assert watcher.state["turn"] == alice.session_id


def test_a_rematch_starts_when_both_ask_with_colours_swapped() -> None:
    sim, alice, bob = start_game()
    play(sim, alice, bob, VERTICAL)
    first = alice.request("rematch")
    sim.step()
    assert alice.responses[first].payload == {"started": False}
    assert alice.state["rematch"] == [alice.session_id]
    second = bob.request("rematch")
    sim.step()
    assert bob.responses[second].code == 0
    assert bob.responses[second].payload == {"started": True}
    state = bob.state
    assert state["status"] == "playing"
    assert state["board"] == empty_board()
    assert state["winner"] is None
    assert state["rematch"] == []
    assert state["players"][bob.session_id]["color"] == 1
    assert state["turn"] == bob.session_id


def test_a_rematch_is_refused_while_playing() -> None:
    sim, alice, _ = start_game()
    asked = alice.request("rematch")
    sim.step()
    answer = alice.responses[asked]
    assert (answer.code, answer.payload) == (ErrorCode.NOT_ALLOWED, "game is not over")


def test_a_rematch_is_refused_without_an_opponent() -> None:
    sim, alice, bob = start_game()
    bob.leave()
    sim.step(2)
    asked = alice.request("rematch")
    sim.step()
    answer = alice.responses[asked]
    assert (answer.code, answer.payload) == (ErrorCode.NOT_ALLOWED, "waiting for an opponent")


def test_win_detection_ignores_lines_of_three_and_other_colours() -> None:
    board = empty_board()
    board[5][0:3] = [1, 1, 1]
    board[5][3] = 2
    assert not connects(board, 5, 2)
    assert not connects(board, 5, 3)
    board[5][3] = 1
    assert connects(board, 5, 0)
