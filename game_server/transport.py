"""The Starlette adapter of the game socket: one ``WebSocketSession`` per socket.

It moves bytes between Starlette's WebSocket and an ``EdgeSession`` (game_server/edge.py, which
holds every edge rule: Origin, rate limit, size, join, timeouts). One reader task feeds each
message to ``receive``; one writer task, woken by the room through ``wake()``, writes what
``drain()`` returns; one watchdog task checks the timeouts. A writer that stays blocked on a
socket that does not read is abandoned after ``WRITER_GRACE``, so its task and memory go away.

The tick never waits on this class: the room only calls ``wake()``, which sets an event. For
the lowest cost per frame, ``game_server.fastsocket`` serves the same socket without tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketDisconnect

from game_server.edge import NO_STATUS, EdgeSession, choose_subprotocol, origin_allowed
from protocol.state import ConnectionState

if TYPE_CHECKING:
    from game_server.app import ServerState

logger = logging.getLogger("game_server.transport")

WATCHDOG_PERIOD = 0.5
WRITER_GRACE = 2.0
"""Seconds a blocked writer gets to deliver a close before the socket is abandoned."""


async def serve_websocket(websocket: WebSocket, server: ServerState, room_id: str) -> None:
    """Check the Origin, accept, and run the socket to its end."""
    settings = server.settings
    if not origin_allowed(
        websocket.headers.get("origin"),
        websocket.headers.get("host", ""),
        settings.allowed_origins,
        settings.allow_any_origin,
    ):
        server.metrics.origin_refused += 1
        await websocket.close(code=1008)  # before accept: the handshake is refused with HTTP 403
        return
    chosen = choose_subprotocol(websocket.scope.get("subprotocols") or [])
    await websocket.accept(subprotocol=chosen)
    await WebSocketSession(websocket, server, room_id, chosen).serve()


class WebSocketSession(EdgeSession):
    """One accepted Starlette socket. ``await session.serve()`` runs it to the end."""

    def __init__(
        self, websocket: WebSocket, server: ServerState, room_id: str, subprotocol: str | None
    ) -> None:
        super().__init__(server, room_id, subprotocol)
        self.websocket = websocket
        self._wake = asyncio.Event()
        self._writer_done = asyncio.Event()

    def wake(self) -> None:
        """The room has frames or a newer state for this socket (never blocks)."""
        self._wake.set()

    async def serve(self) -> None:
        """Read, write and watch until the socket ends."""
        metrics = self.server.metrics
        metrics.sockets_open += 1
        reader = asyncio.create_task(self._read_loop())
        writer = asyncio.create_task(self._write_loop())
        watchdog = asyncio.create_task(self._watchdog())
        tasks = {reader, writer, watchdog}
        done: set[asyncio.Task[None]] = set()
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.finish()
            try:
                if (
                    reader in done
                    and self.connection.close_to_send is not None
                    and not writer.done()
                ):
                    self.wake()  # we closed: let the writer deliver the last frames and the close
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(writer), WRITER_GRACE)
            finally:
                # Counted before the last await: a cancelled session still balances the gauge.
                for task in tasks:
                    task.cancel()
                metrics.sockets_open -= 1
            # asyncio.wait, not gather: a cancellation of this task stays this task's own (gather
            # would re-raise a child's CancelledError, which an enclosing cancel scope such as
            # anyio's does not recognise, so the ASGI server would see the session fail).
            await asyncio.wait(tasks)

    async def _read_loop(self) -> None:
        ws = self.websocket
        conn = self.connection
        while conn.state is not ConnectionState.CLOSED:
            try:
                message = await ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                conn.receive_close(NO_STATUS)
                return
            if message["type"] == "websocket.disconnect":
                conn.receive_close(int(message.get("code") or NO_STATUS), "")
                return
            data: bytes | str | None = message.get("bytes")
            if data is None:
                data = message.get("text") or ""
            self.receive(data)

    async def _write_loop(self) -> None:
        ws = self.websocket
        conn = self.connection
        metrics = self.server.metrics
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                for frame in self.drain():
                    if isinstance(frame, bytes):
                        await ws.send_bytes(frame)
                    else:
                        await ws.send_text(frame)
                    metrics.frames_out += 1
                    metrics.bytes_out += len(frame)
                if conn.close_to_send is not None:
                    code, reason = conn.close_to_send
                    with contextlib.suppress(Exception):
                        await ws.close(code=code, reason=reason)
                    return
                if conn.state is ConnectionState.CLOSED:
                    return
        except Exception:  # the peer went away mid-send: the reader sees the disconnect
            return
        finally:
            self._writer_done.set()

    async def _watchdog(self) -> None:
        conn = self.connection
        clock = self.clock
        while conn.state is not ConnectionState.CLOSED:
            await clock.sleep_until(clock.now() + WATCHDOG_PERIOD)
            self.check_timeouts(clock.now())
        # A writer blocked on a socket that does not read cannot send the close: give it a
        # moment, then return, which ends the session and releases the socket, task and buffers.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._writer_done.wait(), WRITER_GRACE)
