"""Connect Four: the turn-based reference game, to show rooms suit board and party games too.

Two players take turns dropping a disc into one of seven columns; a disc falls to the lowest
empty cell, and four in a row (horizontal, vertical or diagonal) wins. Whoever joins first plays
colour 1 and moves first. Anyone else may watch as a spectator. The whole game is in the state::

    {"board": [[0] * 7 for _ in range(6)],   # row 0 is the top; 0 empty, 1 or 2 a disc
     "turn": "<session id>" | None,          # who moves next (None unless playing)
     "players": {"<session id>": {"color": 1 | 2, "name": str}},
     "winner": "<session id>" | None, "draw": bool,
     "status": "waiting" | "playing" | "over",
     "rematch": ["<session id>", ...]}       # players who asked for another game

Messages: ``drop {"column": 0..6}``. Requests: ``rematch`` (when the game is over; the second
ask starts a new game with colours swapped). Refusals are ERRORs with NOT_ALLOWED.

The room locks when its second player joins; spectators may still come to watch. A player who
leaves mid-game (or who doesn't
come back within the reconnection grace) forfeits. The room then unlocks, and a new opponent
who joins starts a new game.

Must never: read the wall clock or do I/O.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from game_server.client import Client
from game_server.errors import RequestRefusedError
from game_server.handlers import message, request
from game_server.room import Room
from protocol.codes import ErrorCode

ROWS = 6
COLUMNS = 7
CONNECT = 4
NAME_LENGTH = 24
DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))
"""(row step, column step): horizontal, vertical, and both diagonals."""


class Drop(BaseModel):
    """The ``drop`` message: the column to drop a disc into."""

    model_config = ConfigDict(extra="forbid")

    column: StrictInt = Field(ge=0, le=COLUMNS - 1)


def empty_board() -> list[list[int]]:
    """A board with no discs: ``ROWS`` rows of ``COLUMNS`` zeros, row 0 at the top."""
    return [[0] * COLUMNS for _ in range(ROWS)]


def landing_row(board: list[list[int]], column: int) -> int | None:
    """The row a disc dropped into ``column`` comes to rest in, or None if it is full."""
    for row in range(ROWS - 1, -1, -1):
        if board[row][column] == 0:
            return row
    return None


def connects(board: list[list[int]], row: int, column: int) -> bool:
    """Whether the disc at (``row``, ``column``) is part of ``CONNECT`` in a line."""
    color = board[row][column]
    for d_row, d_col in DIRECTIONS:
        count = 1
        for sign in (1, -1):
            r, c = row + sign * d_row, column + sign * d_col
            while 0 <= r < ROWS and 0 <= c < COLUMNS and board[r][c] == color:
                count += 1
                r, c = r + sign * d_row, c + sign * d_col
        if count >= CONNECT:
            return True
    return False


class ConnectFour(Room):
    """Two players, one board. Join options: ``{"name": str}``."""

    max_clients = 2
    tick_rate = 10.0

    def on_create(self, options: dict[str, Any]) -> None:
        """An empty board, waiting for two players."""
        self.state["board"] = empty_board()
        self.state["turn"] = None
        self.state["players"] = {}
        self.state["winner"] = None
        self.state["draw"] = False
        self.state["status"] = "waiting"
        self.state["rematch"] = []

    def on_join(self, client: Client, options: dict[str, Any]) -> None:
        """A player takes the free colour; the second player starts the game."""
        if client.is_spectator:
            return
        players = self.state["players"]
        taken = {player["color"] for player in players.values()}
        name = options.get("name")
        players[client.session_id] = {
            "color": 1 if 1 not in taken else 2,
            "name": name[:NAME_LENGTH] if isinstance(name, str) and name else client.session_id,
        }
        if len(players) == 2:
            self.lock()
            self._start_game()

    def on_leave(self, client: Client, consented: bool) -> None:
        """A player who leaves a game in progress forfeits it; the seat opens again."""
        players = self.state["players"]
        if client.session_id not in players:
            return
        del players[client.session_id]
        if client.session_id in self.state["rematch"]:
            self.state["rematch"].remove(client.session_id)
        if self.state["status"] == "playing":
            self._finish(winner=next(iter(players), None))
        elif self.state["status"] == "over" and not players:
            self.state["status"] = "waiting"
        self.unlock()

    @message("drop")
    def drop(self, client: Client, payload: Drop) -> None:
        """Drop the mover's disc into a column; refuse it when it is not a legal move."""
        refusal = self._refusal(client)
        if refusal is not None:
            client.error(ErrorCode.NOT_ALLOWED, refusal)
            return
        board = self.state["board"]
        row = landing_row(board, payload.column)
        if row is None:
            client.error(ErrorCode.NOT_ALLOWED, "column is full")
            return
        color = self.state["players"][client.session_id]["color"]
        board[row][payload.column] = color
        if connects(board, row, payload.column):
            self._finish(winner=client.session_id)
        elif all(cell != 0 for cell in board[0]):
            self._finish(winner=None, draw=True)
        else:
            self.state["turn"] = self._opponent(client.session_id)

    @request("rematch")
    def rematch(self, client: Client, payload: Any) -> dict[str, bool]:
        """Ask for another game; the second player to ask starts it, colours swapped.
        Answers ``{"started": bool}``."""
        if client.session_id not in self.state["players"]:
            raise RequestRefusedError("spectators cannot play")
        if self.state["status"] != "over":
            raise RequestRefusedError("game is not over")
        if len(self.state["players"]) < 2:
            raise RequestRefusedError("waiting for an opponent")
        if client.session_id not in self.state["rematch"]:
            self.state["rematch"].append(client.session_id)
        if len(self.state["rematch"]) < 2:
            return {"started": False}
        for player in self.state["players"].values():
            player["color"] = 3 - player["color"]
        self._start_game()
        return {"started": True}

    # -- rules -----------------------------------------------------------------------------------

    def _refusal(self, client: Client) -> str | None:
        """Why ``client`` may not move now, or None if it may."""
        if client.session_id not in self.state["players"]:
            return "spectators cannot play"
        status = self.state["status"]
        if status == "waiting":
            return "game has not started"
        if status == "over":
            return "game is over"
        if self.state["turn"] != client.session_id:
            return "not your turn"
        return None

    def _opponent(self, session_id: str) -> str | None:
        return next((sid for sid in self.state["players"] if sid != session_id), None)

    def _start_game(self) -> None:
        """A fresh board; colour 1 moves first."""
        self.state["board"] = empty_board()
        self.state["winner"] = None
        self.state["draw"] = False
        self.state["rematch"] = []
        self.state["status"] = "playing"
        self.state["turn"] = next(
            sid for sid, player in self.state["players"].items() if player["color"] == 1
        )

    def _finish(self, *, winner: str | None, draw: bool = False) -> None:
        self.state["winner"] = winner
        self.state["draw"] = draw
        self.state["turn"] = None
        self.state["status"] = "over"
