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
    GET  /                                 the demo lobby (arena, Connect Four) in the browser
    GET  /client/...                       the browser client library and demo (static files)

A seat reservation answers ``{room_id, room_name, session_id, token, url, expires_in,
spectator}``; the client opens ``url`` as it is and sends JOIN with ``token``. Refusals are HTTP
errors whose body is ``{"error": {"code": <ErrorCode>, "name": "...", "message": "..."}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Body, FastAPI, Query, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketClose

from game_server.backends import MemoryBackend, RegistryBackend
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

BROWSER_CLIENT = Path(__file__).resolve().parents[1] / "clients" / "browser"
"""The browser client (ES modules) and its demo pages, served at /client/."""


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
    game_socket: GameSocketServer | None = None
    """The fast game socket server itself (its ``sessions``), when enabled: on ``game_port``,
    or on the HTTP port (``settings.fast_socket``, served by the run command)."""


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


def _socket_url(request: Request, state: ServerState, seat: SeatReservation) -> str:
    room_id = seat.room_id
    if seat.process_id != state.registry.process_id and seat.url:
        return f"{_ws_base(seat.url)}/ws/{room_id}"  # the room lives in another process
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
    return f"{_ws_base(base)}/ws/{room_id}"


def _ws_base(base: str) -> str:
    base = base.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :]
    if base.startswith("http://"):
        return "ws://" + base[len("http://") :]
    return base


def process_url(settings: Settings, game_port: int | None = None) -> str:
    """Where clients of other processes' matchmaking reach this one: the fast game socket's
    public URL when it runs, else ``public_url``, else ``http://host:port``."""
    if game_port is not None:
        return settings.public_game_url or f"ws://{settings.host}:{game_port}"
    return settings.public_url or f"http://{settings.host}:{settings.port}"


def make_backend(settings: Settings) -> RegistryBackend:
    """The registry backend ``settings`` ask for: Redis when ``redis_url`` is set, else memory."""
    if not settings.redis_url:
        return MemoryBackend()
    # Imported here: redis-py costs a one-process server 7 MB of memory it would never use.
    from game_server.backends.redis import RedisBackend  # noqa: PLC0415

    return RedisBackend.from_url(
        settings.redis_url,
        prefix=settings.redis_prefix,
        ttl=settings.heartbeat_ttl,
        saved_ttl=settings.saved_room_ttl,
    )


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
        registry = RoomRegistry(
            clock,
            make_backend(settings),
            process_id=settings.process_id or None,
            public_url=process_url(settings),
            max_catch_up=settings.max_catch_up,
            remote_timeout=settings.remote_timeout,
        )
        register_games(registry, settings)
        state = ServerState(settings, clock, registry)
        app.state.server = state
        await registry.start()
        game_socket: GameSocketServer | None = None
        if settings.game_port is not None:
            game_socket = GameSocketServer(state, settings.host, settings.game_port)
            state.game_port = await game_socket.start()
            state.game_socket = game_socket
            registry.public_url = process_url(settings, state.game_port)
        elif settings.fast_socket:  # served on the HTTP port (serve.uvicorn_config hands over)
            game_socket = GameSocketServer(state, settings.host)
            state.game_socket = game_socket
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
    _mount_browser_client(app)
    return app


class _ClientFiles(StaticFiles):
    """Static files whose JavaScript is always ``text/javascript``: browsers refuse module
    scripts of another type, and not every machine's MIME table knows ``.mjs``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # a socket opened on a file path: refuse it, don't crash
            await WebSocketClose()(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if str(full_path).endswith((".js", ".mjs")):
            response.headers["content-type"] = "text/javascript; charset=utf-8"
        return response


def _mount_browser_client(app: FastAPI) -> None:
    """Serve clients/browser at /client/ and its demo lobby at / (when the folder exists: an
    installed package may come without it). Same-origin pages pass the socket's Origin check."""
    if not (BROWSER_CLIENT / "demo" / "index.html").is_file():
        return
    app.mount("/client", _ClientFiles(directory=BROWSER_CLIENT), name="client")

    @app.get("/", include_in_schema=False)
    async def demo_lobby() -> FileResponse:
        return FileResponse(BROWSER_CLIENT / "demo" / "index.html")

    @app.get("/connect-four", include_in_schema=False)
    async def demo_connect_four() -> FileResponse:
        return FileResponse(BROWSER_CLIENT / "demo" / "connect-four.html")


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
            503: {"model": ErrorOut},
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
            url=_socket_url(request, state, seat),
            expires_in=max(0.0, seat.expires_at - state.clock.now()),
            spectator=seat.spectator,
        )

    @router.get(
        "/rooms",
        response_model=list[RoomOut],
        responses={503: {"model": ErrorOut}},
        tags=["matchmaking"],
    )
    async def rooms(request: Request, name: str | None = None) -> Any:
        """Public, unlocked rooms; every query parameter but ``name`` filters metadata."""
        filters = {k: v for k, v in request.query_params.items() if k != "name"}
        try:
            listings = await _server(request).registry.list_rooms(name, **filters)
        except MatchmakeError as exc:  # the backend is unreachable: 503
            return _error(exc.code, exc.message, exc.http_status)
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
