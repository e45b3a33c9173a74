"""One port for the HTTP API and the fast game socket.

uvicorn builds one ``SharedPortProtocol`` for each connection it accepts (it is the run
command's ``uvicorn.Config.http`` class). The protocol reads the connection's request line and
then hands the connection over for good: ``GET /ws/...`` (a game socket's upgrade) to picows
through ``GameSocketServer.protocol()`` (game_server/fastsocket.py: no task and no await per
frame), anything else to uvicorn's own HTTP protocol, which serves the FastAPI app as usual
(keep-alive, every later request on that connection, a WebSocket upgrade that comes after
another request). Nothing is parsed twice: the bytes read so far go to the new protocol as
they came.

The choice is made on the first bytes: a connection goes to picows once it has sent
``GET /ws/``, to uvicorn as soon as a byte differs from that (or when it stays silent for
``FIRST_LINE_TIMEOUT``, or ends before). Each then applies its own limits and timeouts; a
``GET /ws/...`` that is no WebSocket upgrade gets picows's 400, where the app answered 404.

Owns: the choice of protocol per connection. Must never: answer a request itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

if TYPE_CHECKING:
    from game_server.fastsocket import GameSocketServer

logger = logging.getLogger("game_server.sharedport")

GAME_SOCKET_LINE = b"GET /ws/"
"""How a game socket's request line starts."""
FIRST_LINE_TIMEOUT = 5.0
"""Seconds a connection may wait here for its first bytes before it goes to uvicorn (which then
treats it as it treats any connection that has sent nothing)."""


class SharedPortProtocol(asyncio.Protocol):
    """The first protocol of each connection on the HTTP port. Made by uvicorn with the
    arguments of its HTTP protocol, which it forwards; ``shared_port_protocol`` makes the
    class for one app."""

    game_socket: Callable[[], GameSocketServer | None] = staticmethod(lambda: None)
    """The app's fast game socket, once the lifespan made it (None: every connection goes to
    uvicorn)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args = args
        self._kwargs = kwargs
        self._loop: asyncio.AbstractEventLoop = kwargs.get("_loop") or asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._read = b""
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._timer = self._loop.call_later(FIRST_LINE_TIMEOUT, self._hand_over_to_http)

    def data_received(self, data: bytes) -> None:
        self._read += data
        read = self._read
        if len(read) >= len(GAME_SOCKET_LINE) or not GAME_SOCKET_LINE.startswith(read):
            self._route()

    def eof_received(self) -> bool | None:
        """The peer stopped sending before it could be routed: uvicorn answers as it would."""
        protocol = self._hand_over_to_http()
        return None if protocol is None else protocol.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._transport = None

    def _route(self) -> None:
        game_socket = self.game_socket() if self._read.startswith(GAME_SOCKET_LINE) else None
        if game_socket is not None:
            try:
                protocol = game_socket.protocol()
            except Exception:  # never lose the connection: the app serves game sockets too
                logger.exception("the fast game socket failed; the app serves this one")
            else:
                self._hand_over(protocol)
                return
        self._hand_over_to_http()

    def _hand_over_to_http(self) -> asyncio.Protocol | None:
        if self._transport is None:
            return None
        protocol = AutoHTTPProtocol(*self._args, **self._kwargs)
        self._hand_over(protocol)
        return protocol

    def _hand_over(self, protocol: asyncio.BaseProtocol) -> None:
        """Make ``protocol`` the connection's own and give it what was read."""
        transport, read = self._transport, self._read
        if transport is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._transport, self._read = None, b""
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if transport.is_closing():
            return
        if isinstance(protocol, asyncio.BufferedProtocol):  # picows's
            view = memoryview(read)
            while view and not transport.is_closing():  # as a transport would: stop if closed
                buffer = memoryview(protocol.get_buffer(len(view)))
                size = min(len(buffer), len(view))
                if size == 0:
                    raise RuntimeError("get_buffer() returned an empty buffer")
                buffer[:size] = view[:size]
                protocol.buffer_updated(size)
                view = view[size:]
        elif read:
            protocol.data_received(read)  # type: ignore[attr-defined]


def shared_port_protocol(
    game_socket: Callable[[], GameSocketServer | None],
) -> type[SharedPortProtocol]:
    """The ``uvicorn.Config.http`` class that routes game sockets to ``game_socket()``."""
    return type(
        "SharedPortProtocol", (SharedPortProtocol,), {"game_socket": staticmethod(game_socket)}
    )
