"""tickroom's server: rooms, the fixed-tick loop, the registry, simulations and the app.

Game authors import from here::

    from game_server import Room, Client, message, request, Simulation, Quantized
"""

from game_server.client import Client, ClientStatus
from game_server.clock import ManualClock, MonotonicClock
from game_server.errors import (
    AuthRefusedError,
    InvalidOptionsError,
    MatchmakeError,
    RequestRefusedError,
    RoomError,
    RoomFullError,
    RoomLockedError,
    RoomNotFoundError,
    SeatInvalidError,
)
from game_server.handlers import message, request
from game_server.recording import Recorder, Recording, replay
from game_server.room import Room
from game_server.simulation import SimClient, Simulation
from protocol.codes import CloseCode, ErrorCode, Role
from protocol.schema import Float32, Quantized

__all__ = [
    "AuthRefusedError",
    "Client",
    "ClientStatus",
    "CloseCode",
    "ErrorCode",
    "Float32",
    "InvalidOptionsError",
    "ManualClock",
    "MatchmakeError",
    "MonotonicClock",
    "Quantized",
    "Recorder",
    "Recording",
    "RequestRefusedError",
    "Role",
    "Room",
    "RoomError",
    "RoomFullError",
    "RoomLockedError",
    "RoomNotFoundError",
    "SeatInvalidError",
    "SimClient",
    "Simulation",
    "message",
    "replay",
    "request",
]
