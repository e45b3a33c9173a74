"""A dedicated, fast transport for the game socket: picows, beside the FastAPI app.

The Starlette socket costs a task switch and several awaits per frame in each direction. Here
the WebSocket framing is picows's (Cython): each incoming message arrives in a plain callback
(``on_ws_frame``), and the room's ``wake()`` writes the member's frames straight into the
transport's buffer, synchronously, right after the tick that produced them (a member's state
frame, when it is all that is due, through ``Client.state_to_send`` without a drain). No task
per socket, no await per frame, and the bytes of a shared state frame go out as they are.

Backpressure: when a socket's write buffer passes asyncio's high-water mark, picows calls
``pause_writing``; the session then stops draining, so the member's state coalesces in the room
(lazy state frames) instead of piling up here. ``resume_writing`` drains again: one catch-up
patch. A client that never reads stops acknowledging and is closed as TOO_SLOW; if even the close
cannot be written, the socket is aborted after ``WRITER_GRACE``.

Served two ways. By default (``Settings.fast_socket``) the run command's HTTP port hands every
``GET /ws/...`` connection to ``GameSocketServer.protocol()`` (``game_server.sharedport``), so one
port serves the HTTP API and the fast game socket. With ``Settings.game_port`` (``--game-port``)
it listens on a port of its own, and seat reservations point there. Either way the Starlette
socket stays on the main port for what reaches the ASGI app. Must never: hold protocol or game
logic (that is ``EdgeSession``'s and the room's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from picows import (
    WSAutoPingStrategy,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)
from picows.picows import WSProtocol  # type: ignore[attr-defined]  # not in its stubs

import game_server.native
from game_server.client import ClientStatus
from game_server.edge import EdgeSession, choose_subprotocol, origin_allowed
from game_server.room import Room
from protocol.codec import StateFrame, decode_ack, decode_input
from protocol.codes import Role
from protocol.state import ConnectionState

if TYPE_CHECKING:
    from game_server.app import ServerState

logger = logging.getLogger("game_server.fastsocket")

SWEEP_PERIOD = 0.5
"""Seconds between timeout checks of every session."""
WRITER_GRACE = 2.0
"""Seconds a paused socket gets to take its close frame before it is aborted."""
READ_BUFFER = 2048
"""Initial read buffer per socket (picows grows it when needed; its default is 16 KiB):
clients send small frames, and a thousand sockets should not hold 16 MB for them."""
_BINARY = WSMsgType.BINARY
_TEXT = WSMsgType.TEXT


class FastSession(EdgeSession, WSListener):
    """One picows connection, and its listener: picows calls ``on_ws_frame`` and the rest on it
    directly. Writes happen in ``wake()``, synchronously and never blocking."""

    __slots__ = (  # read for every frame in and out: at fixed offsets, without a dict
        *EdgeSession.EDGE_SLOTS,
        "_again",
        "_binary_only",
        "_flushing",
        "_fragments",
        "closed_at",
        "paused",
        "sessions",
        "transport",
    )

    def __init__(
        self,
        server: ServerState,
        room_id: str,
        subprotocol: str | None,
        sessions: set[FastSession] | None = None,
    ) -> None:
        EdgeSession.__init__(self, server, room_id, subprotocol)
        WSListener.__init__(self)
        self.sessions: set[FastSession] = set() if sessions is None else sessions
        """The server's open sessions: this one is in it while its socket is connected."""
        self.transport: WSTransport | None = None
        self.paused = False
        self.closed_at: float | None = None
        self._flushing = False
        self._again = False
        self._fragments: list[bytes] = []
        self._binary_only = not self.connection.is_json

    def wake(self) -> None:
        """Write every frame due now, then the close if one is pending."""
        if self._flushing:
            self._again = True
            return
        transport = self.transport
        if transport is None or self.paused or transport.is_close_frame_sent:
            return
        self._flushing = True
        try:
            self._again = False
            client = self.client
            if client is not None and client.connection is self.connection:
                data = client.state_to_send()  # the hot path: a member's state frame, alone
                if data is not None:
                    self._write(transport, data)
                    if not self._again:
                        return
            again = True
            while again:
                self._again = False
                for frame in self.drain():
                    self._write(transport, frame)
                again = self._again
            close = self.connection.close_to_send
            if close is not None:
                transport.send_close(close[0], close[1].encode())  # type: ignore[arg-type]
                transport.disconnect()
                if self.closed_at is None:
                    self.closed_at = self.clock.now()
        except Exception as exc:
            self._write_failed(transport, exc)
        finally:
            self._flushing = False

    def _write_failed(self, transport: WSTransport, exc: Exception) -> None:
        """wake() runs inside the room's tick: a socket that fails to take its bytes must never
        reach the room. Drop this socket; the room sees it go (a drop)."""
        logger.error("game socket write failed; disconnecting it", exc_info=exc)
        transport.disconnect(graceful=False)

    def _write(self, transport: WSTransport, frame: bytes | str) -> None:
        """Send one frame as one WebSocket message (binary, or text for JSON) and count it."""
        if type(frame) is bytes:
            transport.send(_BINARY, frame)
        else:
            transport.send(_TEXT, frame.encode())  # type: ignore[union-attr]
        metrics = self.server.metrics
        metrics.frames_out += 1
        metrics.bytes_out += len(frame)

    # -- picows callbacks -------------------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.sessions.add(self)
        self.server.metrics.sockets_open += 1

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        # with the C module, game_server._native.on_ws_frame replaces this method (below the class)
        if frame.msg_type is _BINARY and frame.fin and self._binary_only and not self._fragments:
            self.receive(frame.get_payload_as_bytes())  # the hot path: one whole binary message
        else:
            self.on_frame(frame)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.sessions.discard(self)
        self.server.metrics.sockets_open -= 1
        self.transport = None
        self.finish()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.wake()

    def on_frame(self, frame: WSFrame) -> None:
        """One WebSocket frame from the peer, of any kind (``on_ws_frame`` takes the common case
        itself)."""
        kind = frame.msg_type
        if kind is _BINARY or kind is _TEXT or kind is WSMsgType.CONTINUATION:
            if not frame.fin or self._fragments:
                self._fragments.append(frame.get_payload_as_bytes())
                if sum(len(part) for part in self._fragments) > self.settings.max_frame_size:
                    self._fragments.clear()
                    self.receive(b"\x00" * (self.settings.max_frame_size + 1))  # too big
                    return
                if not frame.fin:
                    return
                payload = b"".join(self._fragments)
                self._fragments.clear()
            else:
                payload = frame.get_payload_as_bytes()
            if self.connection.is_json:
                try:
                    self.receive(payload.decode())
                except UnicodeDecodeError:
                    self.receive(payload)  # a binary frame on the JSON subprotocol: refused
            else:
                self.receive(payload)
        elif kind is WSMsgType.CLOSE:
            transport = self.transport
            code = frame.get_close_code()
            self.connection.receive_close(int(code.value) if code is not None else 1005)
            if transport is not None and not transport.is_close_frame_sent:
                transport.send_close(code)
                transport.disconnect()


game_server.native.configure(
    FastSession,
    Room,
    StateFrame,
    ClientStatus.JOINED,
    ConnectionState.JOINED,
    ConnectionState.CLOSED,
    Role.SPECTATOR,
    _BINARY,
    decode_input,
    decode_ack,
)
if game_server.native.on_ws_frame is not None:
    # the method above in C: picows calls it for every frame, and no Python frame runs first
    FastSession.on_ws_frame = game_server.native.on_ws_frame  # type: ignore[method-assign]


class GameSocketServer:
    """The picows server for ``/ws/{room_id}``. ``await start()``, then ``await stop()``."""

    def __init__(self, server: ServerState, host: str, port: int | None = None) -> None:
        self.server = server
        self.host = host
        self.port = port
        self.sessions: set[FastSession] = set()
        self._listening: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None

    def _own_origins(self) -> list[str]:
        settings = self.server.settings
        own = [
            f"http://{settings.host}:{settings.port}",
            f"https://{settings.host}:{settings.port}",
        ]
        if settings.public_url:
            own.append(settings.public_url)
        return own

    def _factory(self, request: WSUpgradeRequest) -> WSUpgradeResponseWithListener | None:
        path = request.path.decode("latin-1").split("?", 1)[0]
        if not path.startswith("/ws/") or len(path) <= len("/ws/"):
            return None  # 404
        settings = self.server.settings
        headers = request.headers
        if not origin_allowed(
            headers.get("Origin"),
            headers.get("Host", ""),
            settings.allowed_origins,
            settings.allow_any_origin,
            self._own_origins(),
        ):
            self.server.metrics.origin_refused += 1
            return WSUpgradeResponseWithListener(
                WSUpgradeResponse.create_error_response(403, b"origin not allowed"), None
            )
        offered = headers.get("Sec-WebSocket-Protocol", "")
        chosen = choose_subprotocol(offered.split(",")) if offered else None
        session = FastSession(self.server, path[len("/ws/") :], chosen, self.sessions)
        extra = {"Sec-WebSocket-Protocol": chosen} if chosen else None
        return WSUpgradeResponseWithListener(
            WSUpgradeResponse.create_101_response(extra_headers=extra), session
        )

    def _options(self) -> dict[str, Any]:
        """picows's options for every connection: frame cap, pings, handshake time, buffer."""
        settings = self.server.settings
        return {
            "max_frame_size": max(64 * 1024, settings.max_frame_size * 4),
            "enable_auto_ping": True,
            "auto_ping_idle_timeout": settings.ws_ping_interval,
            # picows refuses a pong wait longer than the ping interval: the interval bounds it.
            "auto_ping_reply_timeout": min(settings.ws_ping_timeout, settings.ws_ping_interval),
            "websocket_handshake_timeout": settings.join_timeout,
            "read_buffer_init_size": READ_BUFFER,
        }

    async def start(self) -> int:
        """Listen on ``port``; returns the port (useful when ``port`` was 0)."""
        self._listening = await ws_create_server(
            self._factory, self.host, self.port, **self._options()
        )
        self.port = self._listening.sockets[0].getsockname()[1]
        self._start_sweeper()
        return self.port

    def protocol(self) -> asyncio.BufferedProtocol:
        """A picows protocol for one connection accepted elsewhere (the HTTP port's
        ``SharedPortProtocol``), with the options ``start()`` listens with. Make it the
        transport's protocol, call its ``connection_made``, then feed it what was read."""
        options = self._options()
        self._start_sweeper()
        # The arguments picows's own ws_create_server passes (picows/api.py); tests drive this
        # over real sockets, so a picows that changes them fails the suite, not a user.
        return WSProtocol(  # type: ignore[no-any-return]
            None,  # host and port: a client's
            None,  # path: a client's
            False,  # the server side
            self._factory,
            logging.getLogger("picows.server"),
            True,  # disconnect on a listener exception
            options["websocket_handshake_timeout"],
            options["enable_auto_ping"],
            options["auto_ping_idle_timeout"],
            options["auto_ping_reply_timeout"],
            WSAutoPingStrategy.PING_WHEN_IDLE,
            True,  # auto pong
            options["max_frame_size"],
            None,  # extra headers: a client's
            options["read_buffer_init_size"],
        )

    def _start_sweeper(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="fastsocket")

    async def _sweep(self) -> None:
        clock = self.server.clock
        while True:
            await clock.sleep_until(clock.now() + SWEEP_PERIOD)
            now = clock.now()
            for session in list(self.sessions):
                session.check_timeouts(now)
                if session.connection.close_to_send is None:
                    continue
                session.wake()  # a close requested while paused goes out once resumed
                if session.closed_at is None:
                    session.closed_at = now
                elif now - session.closed_at > WRITER_GRACE and session.transport is not None:
                    session.transport.disconnect(graceful=False)  # it never read its close

    async def stop(self) -> None:
        """Stop listening and disconnect every socket still open."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._listening is not None:
            self._listening.close()
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.disconnect(graceful=False)
