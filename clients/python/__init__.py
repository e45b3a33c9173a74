"""The Python client for tickroom servers (asyncio), its bot runner and the agent API.

    from clients.python import GameClient

    async with GameClient("http://127.0.0.1:8000") as client:
        room = await client.join_or_create("arena", {"name": "ada"})
        room.send_input({"dx": 1, "dy": 0})

Modules: ``client`` (GameClient, matchmaking), ``room`` (RoomConnection), ``events``,
``errors``, ``links`` (sockets), ``memory`` (an ASGI app in-process, for tests), ``sync``
(SyncGameClient for scripts and notebooks), ``prediction`` (interpolation and reconciliation),
``bots`` (the load tester, ``python -m clients.python.bots``) and ``agents`` (gym-style
environments, headless and live). Nothing here imports ``game_server`` except the headless
agent environment, lazily.
"""

from clients.python.client import GameClient
from clients.python.errors import (
    AuthFailedError,
    ClientError,
    DisconnectedError,
    InvalidOptionsError,
    MatchmakeError,
    ReconnectFailedError,
    RequestError,
    RequestTimeoutError,
    RoomFullError,
    RoomLockedError,
    RoomNotFoundError,
    SeatExpiredError,
    ServerUnavailableError,
    UnknownRoomTypeError,
)
from clients.python.events import (
    NO_RECONNECT,
    ConnectionStats,
    ErrorReceived,
    Latency,
    Left,
    MessageReceived,
    Reconnected,
    Reconnecting,
    ReconnectPolicy,
    RoomEvent,
    StateChange,
)
from clients.python.room import RoomConnection, SeatReservation
from clients.python.sync import SyncGameClient, SyncRoom

__all__ = [
    "NO_RECONNECT",
    "AuthFailedError",
    "ClientError",
    "ConnectionStats",
    "DisconnectedError",
    "ErrorReceived",
    "GameClient",
    "InvalidOptionsError",
    "Latency",
    "Left",
    "MatchmakeError",
    "MessageReceived",
    "ReconnectFailedError",
    "ReconnectPolicy",
    "Reconnected",
    "Reconnecting",
    "RequestError",
    "RequestTimeoutError",
    "RoomConnection",
    "RoomEvent",
    "RoomFullError",
    "RoomLockedError",
    "RoomNotFoundError",
    "SeatExpiredError",
    "SeatReservation",
    "ServerUnavailableError",
    "StateChange",
    "SyncGameClient",
    "SyncRoom",
    "UnknownRoomTypeError",
]
