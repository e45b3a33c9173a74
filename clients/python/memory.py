"""``InMemoryServer``: the real client against an ASGI app in the same event loop, no sockets.

    async with InMemoryServer(create_app(Settings())) as server:
        async with server.client() as client:
            room = await client.join_or_create("arena")
            server_room = server.app.state.server.registry.get(room.room_id)

It runs the app's lifespan (so ``create_app`` builds its registry and room loops), answers HTTP
with ``httpx.ASGITransport``, and opens each room socket as an ASGI ``websocket`` call whose
messages travel through bounded in-memory queues. The client code is the same as over TCP:
same frames, same ``protocol.Connection``, same reconnection. ``MemoryLink.abort()`` drops a
socket the way a network failure does (both sides see 1006), and ``server.links`` lists every
socket opened, so a test can cut one from "the server side" too.

Owns: the ASGI lifespan and websocket plumbing for tests and demos. Must never: import
``game_server`` (any ASGI app that speaks tickroom works), or be used for real traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from clients.python.client import GameClient
from clients.python.errors import ABNORMAL_CLOSURE
from clients.python.links import Link, LinkClosed, LinkError

Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HOST = "testserver"
QUEUE_SIZE = 1024
"""Messages in flight per direction before the sender waits (like a full TCP window)."""


class MemoryLink:
    """One in-memory WebSocket to an ASGI app. A Link (see ``clients.python.links``)."""

    def __init__(self, app: ASGIApp, path: str, subprotocols: Sequence[str]) -> None:
        self.subprotocol: str | None = None
        self.path = path
        self.closed: tuple[int, str] | None = None
        """(code, reason) once the link has ended."""
        self._app = app
        self._subprotocols = list(subprotocols)
        self._up: asyncio.Queue[ASGIMessage] = asyncio.Queue(QUEUE_SIZE)
        self._down: asyncio.Queue[ASGIMessage] = asyncio.Queue(QUEUE_SIZE)
        self._accepted = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task[None] | None = None

    async def _open(self) -> None:
        scope: Scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "http_version": "1.1",
            "path": self.path,
            "raw_path": self.path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", HOST.encode()),
                (b"sec-websocket-protocol", ", ".join(self._subprotocols).encode()),
            ],
            "subprotocols": self._subprotocols,
            "client": ("127.0.0.1", 50000),
            "server": (HOST, 80),
            "state": {},
        }
        self._up.put_nowait({"type": "websocket.connect"})
        self._task = asyncio.get_running_loop().create_task(self._serve(scope))
        accepted = await self._accepted
        if not accepted:
            raise LinkError(f"cannot open {self.path}: the app refused the socket")

    async def _serve(self, scope: Scope) -> None:
        try:
            await self._app(scope, self._up.get, self._from_app)
        except Exception:
            pass  # the app's own error handling logged it; the peer sees 1006 below
        finally:
            if not self._accepted.done():
                self._accepted.set_result(False)
            self._end(ABNORMAL_CLOSURE, "")

    async def _from_app(self, message: ASGIMessage) -> None:
        kind = message["type"]
        if kind == "websocket.accept":
            self.subprotocol = message.get("subprotocol")
            if not self._accepted.done():
                self._accepted.set_result(True)
        elif kind == "websocket.send":
            if self.closed is not None:
                raise OSError("socket closed")
            data = message.get("bytes")
            await self._down.put({"data": data if data is not None else message.get("text", "")})
        elif kind == "websocket.close":
            if not self._accepted.done():
                self._accepted.set_result(False)
            self._end(int(message.get("code", 1000)), str(message.get("reason") or ""))

    def _end(self, code: int, reason: str) -> None:
        """The app closed (or finished): the client's recv ends with ``code``."""
        if self.closed is None:
            self.closed = (code, reason)
            _put_latest(self._down, {"close": (code, reason)})

    # -- the Link interface --------------------------------------------------------------------

    async def send(self, data: bytes | str) -> None:
        """Deliver one message to the app."""
        if self.closed is not None:
            raise LinkClosed(*self.closed)
        key = "bytes" if isinstance(data, bytes) else "text"
        await self._up.put({"type": "websocket.receive", key: data})

    async def recv(self) -> bytes | str:
        """The next message from the app; LinkClosed once it closed."""
        item = await self._down.get()
        if "close" in item:
            code, reason = item["close"]
            _put_latest(self._down, item)  # every later recv ends the same way
            raise LinkClosed(code, reason)
        data: bytes | str = item["data"]
        return data

    async def close(self, code: int, reason: str = "") -> None:
        """Close from the client side; the app sees ``websocket.disconnect`` with ``code``."""
        if self.closed is None:
            self.closed = (code, reason)
            _put_latest(self._up, {"type": "websocket.disconnect", "code": code})
            _put_latest(self._down, {"close": (code, reason)})
        await self._finish()

    def abort(self) -> None:
        """Drop the socket: both ends see 1006, frames in flight are lost."""
        if self.closed is None:
            self.closed = (ABNORMAL_CLOSURE, "")
        _clear(self._down)
        _clear(self._up)
        _put_latest(self._up, {"type": "websocket.disconnect", "code": ABNORMAL_CLOSURE})
        _put_latest(self._down, {"close": (ABNORMAL_CLOSURE, "")})

    async def _finish(self) -> None:
        task = self._task
        if task is not None and not task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), 2.0)
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


def _clear(queue: asyncio.Queue[ASGIMessage]) -> None:
    while not queue.empty():
        queue.get_nowait()


def _put_latest(queue: asyncio.Queue[ASGIMessage], item: ASGIMessage) -> None:
    """Put ``item`` even into a full queue (dropping the oldest): closes must get through."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)


class InMemoryServer:
    """Runs ``app``'s lifespan; ``client()`` gives GameClients wired to it without sockets."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.links: list[MemoryLink] = []
        """Every socket opened, oldest first."""
        self._lifespan: asyncio.Task[None] | None = None
        self._lifespan_in: asyncio.Queue[ASGIMessage] = asyncio.Queue()
        self._lifespan_out: asyncio.Queue[ASGIMessage] = asyncio.Queue()
        self._clients: list[GameClient] = []

    async def __aenter__(self) -> InMemoryServer:
        self._lifespan = asyncio.get_running_loop().create_task(
            self.app(
                {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                self._lifespan_in.get,
                self._lifespan_out.put,
            )
        )
        await self._lifespan_in.put({"type": "lifespan.startup"})
        reply = await asyncio.wait_for(self._lifespan_out.get(), 10.0)
        if reply["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"app failed to start: {reply.get('message', '')}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for client in self._clients:
            await client.aclose()
        for link in self.links:
            if link.closed is None:
                await link.close(1001, "server stopping")
        await self._lifespan_in.put({"type": "lifespan.shutdown"})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._lifespan_out.get(), 15.0)
        if self._lifespan is not None:
            await asyncio.gather(self._lifespan, return_exceptions=True)
        for link in self.links:
            await link._finish()

    async def open(self, url: str, subprotocols: Sequence[str]) -> Link:
        """The Opener: a MemoryLink to the path of ``url``."""
        link = MemoryLink(self.app, urlsplit(url).path, subprotocols)
        self.links.append(link)
        await link._open()
        return link

    def client(self, **options: Any) -> GameClient:
        """A GameClient that reaches this app in memory (``options`` as for GameClient). It is
        closed when the server stops, if not before."""
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=f"http://{HOST}"
        )
        client = GameClient(f"http://{HOST}", http=http, opener=self.open, **options)
        client._own_http = True  # close the in-memory HTTP client with the GameClient
        self._clients.append(client)
        return client
