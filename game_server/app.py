"""``create_app(settings)``: the FastAPI application (HTTP matchmaking, listings, health,
metrics, and the game WebSocket).

Everything with a lifetime (the registry, its backend, the room loops) is built in the lifespan
and kept on ``app.state.server``; there are no module globals, so tests build as many apps as they
like. Routes:

    POST /matchmake/{method}/{room_name}   create | join | joinOrCreate | joinById | reconnect
    GET  /rooms                            public rooms (filter: ?name=...&<metadata key>=value)
    GET  /healthz                          liveness and counts
    GET  /metrics                          Prometheus text format
    WS   /ws/{room_id}                     the game socket: send JOIN (or RECONNECT) first

A seat reservation answers ``{room_id, room_name, session_id, token, url, expires_in,
spectator}``; the client opens ``url`` as it is and sends JOIN with ``token``. Refusals are HTTP
errors whose body is ``{"error": {"code": <ErrorCode>, "name": "...", "message": "..."}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import APIRouter, Body, FastAPI, Query, Request, WebSocket
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from game_server.clock import Clock, MonotonicClock
from game_server.errors import MatchmakeError, SeatInvalidError
from game_server.fastsocket import GameSocketServer
from game_server.metrics_text import render_metrics
from game_server.recording import load_room_class
from game_server.registry import RoomRegistry, SeatReservation
from game_server.settings import Settings
from game_server.transport import serve_websocket
from protocol.codes import PROTOCOL_VERSION, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, ErrorCode

logger = logging.getLogger("game_server.app")

MatchmakeMethod = Literal["create", "join", "joinOrCreate", "joinById", "reconnect"]


@dataclass
class ServerMetrics:
    """Counters of the socket edge (rooms and ticks are read from the registry)."""

    sockets_open: int = 0
    joins: int = 0
    reconnects: int = 0
    leaves: int = 0
    frames_out: int = 0
    bytes_out: int = 0
    protocol_errors: int = 0
    rate_limited: int = 0
    origin_refused: int = 0
    too_slow: int = 0
    disconnects: dict[int, int] = field(default_factory=dict)


@dataclass
class ServerState:
    """What the lifespan builds; routes and sessions reach it through ``app.state.server``."""

    settings: Settings
    clock: Clock
    registry: RoomRegistry
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    game_port: int | None = None
    """The port of the fast game socket, when ``settings.game_port`` enabled it."""


class SeatReservationOut(BaseModel):
    """A reserved seat: open ``url`` and send JOIN with ``token`` within ``expires_in`` s."""

    room_id: str
    room_name: str
    session_id: str
    token: str
    url: str
    expires_in: float
    spectator: bool
    protocol_version: int = PROTOCOL_VERSION
    subprotocols: list[str] = Field(default=[SUBPROTOCOL_MSGPACK, SUBPROTOCOL_JSON])


class ErrorDetail(BaseModel):
    """A refusal: ``code`` is an ErrorCode, ``name`` its name."""

    code: int
    name: str
    message: str


class ErrorOut(BaseModel):
    """The body of every matchmaking refusal."""

    error: ErrorDetail


class RoomOut(BaseModel):
    """One public room in a listing."""

    room_id: str
    name: str
    clients: int
    max_clients: int
    metadata: dict[str, Any]


class HealthOut(BaseModel):
    """Liveness: the process answers, with a few counts."""

    status: str
    rooms: int
    sockets: int


def _error(code: ErrorCode, message: str, status: int) -> JSONResponse:
    body = ErrorOut(error=ErrorDetail(code=int(code), name=code.name, message=message))
    return JSONResponse(body.model_dump(), status_code=status)


def _socket_url(request: Request, state: ServerState, room_id: str) -> str:
    settings = state.settings
    if state.game_port is not None:
        base = settings.public_game_url.rstrip("/")
        if not base:
            scheme = "wss" if request.url.scheme == "https" else "ws"
            base = f"{scheme}://{request.url.hostname}:{state.game_port}"
        return f"{base}/ws/{room_id}"
    base = settings.public_url.rstrip("/")
    if not base:
        base = str(request.base_url).rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return f"{base}/ws/{room_id}"


def register_games(registry: RoomRegistry, settings: Settings) -> None:
    """Define every ``name=module:Class`` of ``settings.games`` on ``registry``."""
    for entry in settings.games:
        name, _, path = entry.partition("=")
        if not path:
            raise ValueError(f"game {entry!r} must look like name=module:RoomClass")
        defaults: dict[str, Any] = {}
        if settings.tick_rate is not None:
            defaults["tick_rate"] = settings.tick_rate
        registry.define(name.strip(), load_room_class(path.strip()), **defaults)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The application. Run it with uvicorn (``python -m game_server run`` does), or test it
    with ``starlette.testclient.TestClient(create_app(...))`` used as a context manager."""
    settings = settings or Settings()
    clock = clock or MonotonicClock()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = RoomRegistry(clock, max_catch_up=settings.max_catch_up)
        register_games(registry, settings)
        state = ServerState(settings, clock, registry)
        app.state.server = state
        await registry.start()
        game_socket: GameSocketServer | None = None
        if settings.game_port is not None:
            game_socket = GameSocketServer(state, settings.host, settings.game_port)
            state.game_port = await game_socket.start()
        try:
            yield
        finally:
            await registry.shutdown(timeout=settings.shutdown_timeout)
            if game_socket is not None:
                await asyncio.sleep(0)  # let the sockets write their close frames
                await game_socket.stop()
            await registry.close()

    app = FastAPI(
        title="tickroom",
        version="0.1.0",
        summary="Authoritative fixed-tick game rooms over WebSocket",
        lifespan=lifespan,
    )
    app.include_router(_matchmaking_routes())
    app.include_router(_operations_routes())
    return app


def _server(request: Request) -> ServerState:
    state: ServerState = request.app.state.server
    return state


def _matchmaking_routes() -> APIRouter:
    router = APIRouter(tags=["matchmaking"])

    @router.post(
        "/matchmake/{method}/{room_name}",
        response_model=SeatReservationOut,
        responses={
            403: {"model": ErrorOut},
            404: {"model": ErrorOut},
            409: {"model": ErrorOut},
            410: {"model": ErrorOut},
            422: {"model": ErrorOut},
        },
        tags=["matchmaking"],
    )
    async def matchmake(
        request: Request,
        method: MatchmakeMethod,
        room_name: str,
        options: dict[str, Any] = Body(default_factory=dict),  # noqa: B008
        spectator: bool = Query(False),
    ) -> Any:
        """Reserve a seat. ``room_name`` is the room type, or the room id for ``joinById`` and
        ``reconnect`` (whose body is ``{"reconnect_token": "..."}``)."""
        state = _server(request)
        registry = state.registry
        try:
            seat: SeatReservation
            if method == "create":
                seat = await registry.create(room_name, options, spectator=spectator)
            elif method == "join":
                seat = await registry.join(room_name, options)
            elif method == "joinOrCreate":
                seat = await registry.join_or_create(room_name, options)
            elif method == "joinById":
                seat = await registry.join_by_id(room_name, options, spectator=spectator)
            else:
                token = options.get("reconnect_token")
                if not isinstance(token, str):
                    raise SeatInvalidError("reconnect_token is required")
                seat = await registry.reconnect(room_name, token)
        except MatchmakeError as exc:
            return _error(exc.code, exc.message, exc.http_status)
        return SeatReservationOut(
            room_id=seat.room_id,
            room_name=seat.room_name,
            session_id=seat.session_id,
            token=seat.token,
            url=_socket_url(request, state, seat.room_id),
            expires_in=max(0.0, seat.expires_at - state.clock.now()),
            spectator=seat.spectator,
        )

    @router.get("/rooms", response_model=list[RoomOut], tags=["matchmaking"])
    async def rooms(request: Request, name: str | None = None) -> list[RoomOut]:
        """Public, unlocked rooms; every query parameter but ``name`` filters metadata."""
        filters = {k: v for k, v in request.query_params.items() if k != "name"}
        listings = await _server(request).registry.list_rooms(name, **filters)
        return [
            RoomOut(
                room_id=listing.room_id,
                name=listing.name,
                clients=listing.clients,
                max_clients=listing.max_clients,
                metadata=listing.metadata,
            )
            for listing in listings
        ]

    return router


def _operations_routes() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", response_model=HealthOut, tags=["operations"])
    async def healthz(request: Request) -> HealthOut:
        """Liveness and a few counts."""
        state = _server(request)
        return HealthOut(
            status="ok", rooms=len(state.registry.rooms), sockets=state.metrics.sockets_open
        )

    @router.get("/metrics", response_class=PlainTextResponse, tags=["operations"])
    async def metrics(request: Request) -> str:
        """Prometheus text format: rooms, clients, ticks, tick timing, frames, disconnects."""
        state = _server(request)
        return render_metrics(state.registry, state.metrics)

    @router.websocket("/ws/{room_id}")
    async def game_socket(websocket: WebSocket, room_id: str) -> None:
        """The game socket. Offer a subprotocol, then send JOIN (or RECONNECT) first."""
        state: ServerState = websocket.app.state.server
        await serve_websocket(websocket, state, room_id)

    return router
