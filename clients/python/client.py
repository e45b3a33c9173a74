"""``GameClient``: matchmaking over HTTP, then a ``RoomConnection`` over WebSocket.

    async with GameClient("http://127.0.0.1:8000") as client:
        room = await client.join_or_create("arena", {"name": "ada"})
        room.send_input({"dx": 1, "dy": 0})
        await room.wait_for(lambda r: r.last_seq >= 1)
        print(room.state["players"][room.session_id])
        await room.leave()

Each join method asks ``POST /matchmake/{method}/{room_name}`` for a seat reservation, opens the
reservation's ``url``, redeems the seat and returns once the first state is applied. Refusals
raise the MatchmakeError subclass for the server's ErrorCode (see ``clients.python.errors``).

Owns: the HTTP calls (``httpx.AsyncClient``) and the settings every RoomConnection it makes
shares. Must never: import ``game_server``, or keep state between rooms beyond that.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from clients.python.errors import (
    ClientError,
    MatchmakeError,
    ServerUnavailableError,
    matchmake_error,
)
from clients.python.events import Left, ReconnectPolicy
from clients.python.links import Opener, websocket_opener
from clients.python.room import RoomConnection, SeatReservation

_RESERVATION_FIELDS = ("room_id", "room_name", "session_id", "token", "url")


class GameClient:
    """A client of one tickroom server at ``base_url`` (``http://host:port``).

    ``json`` picks the JSON subprotocol (for debugging); ``reconnect`` is the policy every
    connection uses; ``input_burst``, ``request_timeout`` and ``join_timeout`` are passed to
    each ``RoomConnection``. ``http`` and ``opener`` replace the HTTP client and the socket
    opener (``clients.python.memory.InMemoryServer`` uses them to run without sockets).
    """

    def __init__(
        self,
        base_url: str,
        *,
        json: bool = False,
        reconnect: ReconnectPolicy | None = None,
        input_burst: int = 4,
        request_timeout: float = 10.0,
        join_timeout: float = 10.0,
        http_timeout: float = 10.0,
        trust_env: bool = True,
        http: httpx.AsyncClient | None = None,
        opener: Opener | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.json = json
        self.reconnect_policy = reconnect or ReconnectPolicy()
        self.input_burst = input_burst
        self.request_timeout = request_timeout
        self.join_timeout = join_timeout
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(
            base_url=self.base_url, timeout=http_timeout, trust_env=trust_env
        )
        self._opener = opener or websocket_opener(open_timeout=join_timeout, trust_env=trust_env)
        self.rooms: list[RoomConnection] = []
        """Every connection this client opened that has not ended yet."""

    async def __aenter__(self) -> GameClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Leave every room still joined and close the HTTP client."""
        for room in list(self.rooms):
            await room.leave()
        self.rooms.clear()
        if self._own_http:
            await self._http.aclose()

    # -- matchmaking -------------------------------------------------------------------------

    async def join_or_create(
        self, room_name: str, options: dict[str, Any] | None = None
    ) -> RoomConnection:
        """Join a room of type ``room_name`` with a free seat, or create one."""
        return await self.consume(await self.reserve("joinOrCreate", room_name, options))

    async def create(
        self, room_name: str, options: dict[str, Any] | None = None, *, spectator: bool = False
    ) -> RoomConnection:
        """Create a new room of type ``room_name`` and join it."""
        return await self.consume(await self.reserve("create", room_name, options, spectator))

    async def join(self, room_name: str, options: dict[str, Any] | None = None) -> RoomConnection:
        """Join an existing room of type ``room_name``; RoomNotFoundError when none has a seat."""
        return await self.consume(await self.reserve("join", room_name, options))

    async def join_by_id(
        self, room_id: str, options: dict[str, Any] | None = None, *, spectator: bool = False
    ) -> RoomConnection:
        """Join the room ``room_id`` (private rooms too), as a player or a spectator."""
        return await self.consume(await self.reserve("joinById", room_id, options, spectator))

    async def reconnect(self, room_id: str, reconnect_token: str) -> RoomConnection:
        """Resume a session from another process or after a restart: the ``reconnect_token``
        of its WELCOME (``room.reconnect_token``), within the room's reconnection grace. The
        room's state arrives whole."""
        seat = await self.reserve("reconnect", room_id, {"reconnect_token": reconnect_token})
        return await self.consume(seat, resume=True)

    async def reserve(
        self,
        method: str,
        room_name: str,
        options: dict[str, Any] | None = None,
        spectator: bool = False,
    ) -> SeatReservation:
        """Ask the matchmaker for a seat (``method``: create, join, joinOrCreate, joinById or
        reconnect). Raises the MatchmakeError subclass of the refusal, or
        ServerUnavailableError."""
        path = f"/matchmake/{quote(method, safe='')}/{quote(room_name, safe='')}"
        params = {"spectator": "true"} if spectator else None
        try:
            response = await self._http.post(path, json=options or {}, params=params)
        except httpx.HTTPError as exc:
            raise ServerUnavailableError(f"cannot reach the server: {exc}") from None
        body = _json(response)
        if response.status_code >= 400:
            raise _refusal(response.status_code, body)
        if not isinstance(body, dict) or not all(
            isinstance(body.get(key), str) for key in _RESERVATION_FIELDS
        ):
            raise ServerUnavailableError("not a seat reservation")
        extra = {key: value for key, value in body.items() if key not in _RESERVATION_FIELDS}
        return SeatReservation(
            room_id=body["room_id"],
            room_name=body["room_name"],
            session_id=body["session_id"],
            token=body["token"],
            url=body["url"],
            expires_in=float(body.get("expires_in", 15.0)),
            spectator=bool(body.get("spectator", False)),
            extra=extra,
        )

    async def consume(self, seat: SeatReservation, *, resume: bool = False) -> RoomConnection:
        """Redeem ``seat``: open its socket, join, and return once the first state is applied."""
        room = RoomConnection(
            seat,
            self._opener,
            json=self.json,
            policy=self.reconnect_policy,
            input_burst=self.input_burst,
            request_timeout=self.request_timeout,
            join_timeout=self.join_timeout,
        )
        await room._start(resume=resume)
        self.rooms.append(room)

        def forget(_: Left) -> None:
            if room in self.rooms:
                self.rooms.remove(room)

        room.on_leave(forget)
        return room

    async def list_rooms(
        self, room_name: str | None = None, **metadata: str
    ) -> list[dict[str, Any]]:
        """Public rooms with a free seat (``GET /rooms``), of type ``room_name`` if given and
        whose metadata has each given key with that value."""
        params = dict(metadata)
        if room_name is not None:
            params["name"] = room_name
        try:
            response = await self._http.get("/rooms", params=params)
        except httpx.HTTPError as exc:
            raise ServerUnavailableError(f"cannot reach the server: {exc}") from None
        body = _json(response)
        if response.status_code >= 400 or not isinstance(body, list):
            raise _refusal(response.status_code, body)
        return [item for item in body if isinstance(item, dict)]


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _refusal(status: int, body: Any) -> ClientError:
    """The exception for an HTTP error answer."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), int):
        return matchmake_error(error["code"], str(error.get("message", "")), status)
    if status >= 500 or body is None:
        return ServerUnavailableError(f"server answered {status}")
    return MatchmakeError(f"request refused ({status})", status=status)
