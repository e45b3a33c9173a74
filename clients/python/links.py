"""Links: the one socket a ``RoomConnection`` talks through, behind a four-method interface.

    link = await open_websocket(url, [SUBPROTOCOL_MSGPACK])
    await link.send(frame_bytes)        # one WebSocket message
    data = await link.recv()            # bytes or str; raises LinkClosed(code, reason) at the end
    await link.close(4000, "left")
    link.abort()                        # drop the TCP connection without a close frame

``WebSocketLink`` wraps the ``websockets`` asyncio client with compression off (state frames
are small and already compact; deflate costs more CPU than it saves). ``clients.python.memory``
provides the same interface over an in-process ASGI app, with no socket at all.

Owns: opening and wrapping sockets, and turning the library's close exceptions into
``LinkClosed``. Must never: decode frames or know about rooms (that is ``protocol`` and
``clients.python.room``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from clients.python.errors import ABNORMAL_CLOSURE
from protocol.codec import CLIENT_MAX_SIZE


class LinkClosed(Exception):
    """The link ended: ``code`` is the close code (1006 when it dropped without one)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class LinkError(OSError):
    """The link could not be opened (refused, timed out, not a WebSocket endpoint)."""


class Link(Protocol):
    """One open socket to a room."""

    subprotocol: str | None

    async def send(self, data: bytes | str) -> None:
        """Send one WebSocket message."""
        ...

    async def recv(self) -> bytes | str:
        """The next WebSocket message; raises LinkClosed when the link has ended."""
        ...

    async def close(self, code: int, reason: str = "") -> None:
        """Close with ``code`` and wait (briefly) for the peer's close."""
        ...

    def abort(self) -> None:
        """Drop the connection at once, with no close frame (the peer sees 1006)."""
        ...


Opener = Callable[[str, Sequence[str]], Awaitable[Link]]
"""``await opener(url, subprotocols)``: an open Link, or LinkError."""


class WebSocketLink:
    """A Link over a ``websockets`` client connection."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self.subprotocol: str | None = ws.subprotocol

    async def send(self, data: bytes | str) -> None:
        """Send one message; LinkClosed if the connection is gone."""
        try:
            await self._ws.send(data)
        except websockets.ConnectionClosed as exc:
            raise _closed(exc) from None

    async def recv(self) -> bytes | str:
        """The next message; LinkClosed at the end."""
        try:
            return await self._ws.recv()
        except websockets.ConnectionClosed as exc:
            raise _closed(exc) from None

    async def close(self, code: int, reason: str = "") -> None:
        """Close the connection (waits at most the connection's close timeout)."""
        await self._ws.close(code, reason)

    def abort(self) -> None:
        """Drop the TCP connection without a close handshake."""
        self._ws.transport.abort()


def _closed(exc: websockets.ConnectionClosed) -> LinkClosed:
    frame = exc.rcvd if exc.rcvd is not None else exc.sent
    if frame is None:
        return LinkClosed(ABNORMAL_CLOSURE, "")
    return LinkClosed(frame.code, frame.reason)


def websocket_opener(*, open_timeout: float = 10.0, trust_env: bool = True) -> Opener:
    """An Opener that connects with ``websockets``: no compression, the client frame limit,
    a ``open_timeout`` for the TCP and WebSocket handshakes, environment proxies only when
    ``trust_env``."""

    async def open_websocket(url: str, subprotocols: Sequence[str]) -> Link:
        try:
            ws = await connect(
                url,
                subprotocols=[Subprotocol(name) for name in subprotocols],
                compression=None,
                max_size=CLIENT_MAX_SIZE,
                open_timeout=open_timeout,
                close_timeout=2.0,
                proxy=True if trust_env else None,
            )
        except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
            raise LinkError(f"cannot open {url}: {exc}") from None
        return WebSocketLink(ws)

    return open_websocket
