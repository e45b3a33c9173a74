"""Drive the app as a game client does, over Starlette's in-memory ``TestClient``.

    with running() as server:                    # create_app on a ManualClock, lifespan run
        alice = server.join("walk")                 # matchmake, open the url, JOIN, WELCOME, state
        alice.send_input({"dx": 1})
        server.tick()                               # one tick of room time, loops and sockets run
        alice.expect(Patch)
        assert alice.state["players"][alice.session_id]["x"] == 1

``Server`` wraps the running app: HTTP matchmaking, sockets that are closed before the app
stops, and ``tick()`` for its ``ManualClock`` (advanced on the app's event loop, through the
TestClient's portal, and settled before the call returns). ``WireClient`` is one socket plus
the client end of the protocol, ``protocol.Connection(Side.CLIENT)``: it sends frames, decodes
what arrives, and keeps its own copy of the room state from FULL_STATE and PATCH, decoded with
the schema its WELCOME announced, exactly as a game client would.

Every receive has a real-time timeout (the TestClient's own ``receive()`` waits forever), so a
frame that never comes fails the test instead of hanging it. Ticks are 1/16 s: that step is
exact in binary floating point, so a ManualClock moved by it lands on every tick deadline and
each ``tick()`` runs exactly one tick.

Must never: sleep in real time except while waiting for something due (a receive timeout, the
shutdown gate), or touch a room's state from the test thread (``Server.call`` runs code on the
app's event loop).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, cast, overload

import anyio
import httpx2
from fastapi import FastAPI
from rooms_for_tests import GAMES
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.types import Message as AsgiMessage
from starlette.types import Receive, Scope, Send

from game_server.app import ServerState, create_app
from game_server.clock import ManualClock
from game_server.room import Room
from game_server.settings import Settings
from protocol.codes import SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK
from protocol.connection import Connection, ConnectionClosed, Event
from protocol.diff import apply_delta, decode_state
from protocol.messages import FullState, Message, Patch, Welcome
from protocol.schema import Schema
from protocol.state import Side

TICK_RATE = 16.0
TICK = 1.0 / TICK_RATE
TIMEOUT = 2.0
"""Real seconds a receive waits before the test fails."""

M = TypeVar("M", bound=Message)
T = TypeVar("T")


def app_settings(**overrides: Any) -> Settings:
    """Settings with the test rooms registered and every room at ``TICK_RATE``."""
    values: dict[str, Any] = {"games": GAMES, "tick_rate": TICK_RATE, **overrides}
    return Settings(**values)


class WireClient:
    """One game socket and the client end of the protocol. See the module docstring."""

    def __init__(self, session: WebSocketTestSession, close: Callable[[], None]) -> None:
        self.session = session
        self.subprotocol: str = session.accepted_subprotocol or SUBPROTOCOL_MSGPACK
        self.conn = Connection(Side.CLIENT, subprotocol=self.subprotocol)
        self._close_socket = close
        self._events: deque[Event] = deque()
        self.welcome: Welcome | None = None
        self.schema = Schema()
        self.state: dict[str, Any] = {}
        self.tick = -1
        """Tick of the last state applied (-1: none yet)."""
        self.last_seq = 0
        """``last_seq`` of the last state frame: the last input the server processed."""
        self.seq = 0
        """Sequence number of the last input sent."""
        self.received: list[Message] = []
        """Every message received, in order."""

    @property
    def session_id(self) -> str:
        """This client's session id, from its WELCOME."""
        assert self.welcome is not None, "not welcomed yet"
        return self.welcome.session_id

    @property
    def room_id(self) -> str:
        """The room's id, from the WELCOME."""
        assert self.welcome is not None, "not welcomed yet"
        return self.welcome.room_id

    # -- sending ----------------------------------------------------------------------------

    def flush(self) -> None:
        """Write every frame the connection has queued, one WebSocket message each."""
        for data in self.conn.data_to_send():
            self.send_raw(data)

    def send_raw(self, data: bytes | str) -> None:
        """Write one WebSocket message as it is (bytes: binary, str: text)."""
        if isinstance(data, bytes):
            self.session.send_bytes(data)
        else:
            self.session.send_text(data)

    def send(self, message: Message) -> None:
        """Queue ``message`` through the client connection (its state machine applies)."""
        self.conn.send(message)
        self.flush()

    def join(self, token: str) -> Welcome:
        """Send JOIN; return the WELCOME once the FULL_STATE after it was applied."""
        self.conn.send_join(token)
        self.flush()
        welcome = self.expect(Welcome)
        self.expect(FullState)
        return welcome

    def send_input(self, payload: Any) -> int:
        """Send the next INPUT; returns its sequence number."""
        self.seq += 1
        self.conn.send_input(self.seq, payload)
        self.flush()
        return self.seq

    def send_message(self, kind: str, payload: Any = None) -> None:
        """Send an application MESSAGE."""
        self.conn.send_message(kind, payload)
        self.flush()

    def ack(self) -> None:
        """Acknowledge the last state applied."""
        self.conn.send_ack(self.tick)
        self.flush()

    def leave(self) -> None:
        """Send LEAVE."""
        self.conn.send_leave()
        self.flush()

    def resume(self, session: WebSocketTestSession, close: Callable[[], None]) -> Welcome:
        """Continue this client on a new socket: RECONNECT with the reconnect token and the last
        tick applied. Returns the new WELCOME (state frames follow on later ticks)."""
        assert self.welcome is not None, "never welcomed"
        token = self.welcome.reconnect_token
        self.session = session
        self._close_socket = close
        self.conn = Connection(Side.CLIENT, subprotocol=self.subprotocol)
        self._events.clear()
        self.conn.send_reconnect(token, self.tick)
        self.flush()
        return self.expect(Welcome)

    def disconnect(self, code: int = 1001) -> None:
        """Close the socket from this side with ``code`` (1001: going away, not a LEAVE)."""
        self.session.close(code)
        self._close_socket()

    # -- receiving --------------------------------------------------------------------------

    def receive_raw(self, timeout: float = TIMEOUT) -> AsgiMessage:
        """The next ASGI message the app sent on this socket (``websocket.send`` or
        ``websocket.close``), without decoding it."""
        stream = self.session._send_rx  # TestClient.receive() has no timeout

        async def receive() -> AsgiMessage:
            with anyio.fail_after(timeout):
                return await stream.receive()

        try:
            return self.session.portal.call(receive)
        except TimeoutError:
            raise AssertionError(f"nothing arrived within {timeout} s") from None

    def next_event(self, timeout: float = TIMEOUT) -> Event:
        """The next message or ``ConnectionClosed``; state frames are applied on the way."""
        while not self._events:
            raw = self.receive_raw(timeout)
            if raw["type"] == "websocket.close":
                self.conn.receive_close(int(raw.get("code", 1000)), str(raw.get("reason", "")))
            else:
                data = raw.get("bytes")
                self.conn.receive_data(data if data is not None else raw["text"])
            for event in self.conn.events_received():
                if not isinstance(event, ConnectionClosed):
                    self._apply(event)
                    self.received.append(event)
                self._events.append(event)
        return self._events.popleft()

    def expect(self, kind: type[M], timeout: float = TIMEOUT) -> M:
        """The next message, which must be a ``kind``."""
        event = self.next_event(timeout)
        assert isinstance(event, kind), f"expected {kind.__name__}, got {event!r}"
        return event

    def expect_close(self, timeout: float = TIMEOUT) -> tuple[int, str]:
        """Skip frames until the server closes the socket; returns (code, reason)."""
        while True:
            event = self.next_event(timeout)
            if isinstance(event, ConnectionClosed):
                return event.code, event.reason

    def _apply(self, message: Message) -> None:
        if isinstance(message, Welcome):
            self.welcome = message
            self.schema = Schema.from_wire(message.schema)
        elif isinstance(message, FullState):
            self.state = decode_state(message.state, self.schema)
            self.tick, self.last_seq = message.tick, message.last_seq
        elif isinstance(message, Patch):
            assert message.baseline == self.tick, (
                f"patch from {message.baseline}, but the client is at {self.tick}"
            )
            apply_delta(self.state, message.delta, self.schema)
            self.tick, self.last_seq = message.tick, message.last_seq


class Server:
    """The app running in a TestClient. See the module docstring."""

    def __init__(
        self,
        http: TestClient,
        app: FastAPI,
        clock: ManualClock | None,
        sockets: contextlib.ExitStack,
    ) -> None:
        self.http = http
        self.app = app
        self.clock = clock
        self._sockets = sockets

    @property
    def state(self) -> ServerState:
        """What the lifespan built: settings, clock, registry, edge metrics."""
        return cast(ServerState, self.app.state.server)

    @overload
    def call(self, function: Callable[..., Awaitable[T]], *args: Any) -> T: ...

    @overload
    def call(self, function: Callable[..., T], *args: Any) -> T: ...

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function(*args)`` on the app's event loop (sync or async) and return its
        result."""
        portal = self.http.portal
        assert portal is not None, "the TestClient is not running"
        return portal.call(function, *args)

    def room(self, room_id: str) -> Room:
        """The live room ``room_id`` (read it through ``call``)."""
        room = self.state.registry.get(room_id)
        assert room is not None, f"no room {room_id}"
        return room

    def tick(self, count: int = 1) -> None:
        """Run ``count`` ticks of every room, one at a time, letting sockets drain in
        between."""
        clock = self.clock
        assert clock is not None, "this server runs on the real clock"
        self.call(clock.run_for, count * TICK, TICK)

    # -- HTTP -------------------------------------------------------------------------------

    def matchmake(
        self,
        method: str,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        spectator: bool = False,
    ) -> httpx2.Response:
        """``POST /matchmake/{method}/{name}`` with ``options`` as the body."""
        params = {"spectator": "true"} if spectator else None
        return self.http.post(
            f"/matchmake/{method}/{name}", json=dict(options or {}), params=params
        )

    def reserve(
        self,
        method: str,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        spectator: bool = False,
    ) -> dict[str, Any]:
        """A seat reservation (the request must succeed)."""
        response = self.matchmake(method, name, options, spectator=spectator)
        assert response.status_code == 200, response.text
        seat: dict[str, Any] = response.json()
        return seat

    # -- sockets ----------------------------------------------------------------------------

    def open(
        self,
        url: str,
        *,
        subprotocols: Sequence[str] = (SUBPROTOCOL_MSGPACK,),
        headers: Mapping[str, str] | None = None,
    ) -> tuple[WebSocketTestSession, Callable[[], None]]:
        """Open the game socket at ``url``; returns it and a function that closes it (also
        called when the server stops)."""
        session = self.http.websocket_connect(
            url, subprotocols=list(subprotocols), headers=dict(headers or {})
        )
        entered = session.__enter__()
        done = threading.Event()

        def close() -> None:
            if not done.is_set():
                done.set()
                session.__exit__(None, None, None)

        self._sockets.callback(close)
        return entered, close

    def connect(
        self, url: str, *, subprotocols: Sequence[str] = (SUBPROTOCOL_MSGPACK,)
    ) -> WireClient:
        """A WireClient on a new socket at ``url`` (a reservation's ``url``, or ``/ws/<id>``)."""
        return WireClient(*self.open(url, subprotocols=subprotocols))

    def join(
        self,
        name: str = "walk",
        options: Mapping[str, Any] | None = None,
        *,
        method: str = "joinOrCreate",
        spectator: bool = False,
        json: bool = False,
    ) -> WireClient:
        """Matchmake, open the reservation's url and join: a welcomed client with its state."""
        seat = self.reserve(method, name, options, spectator=spectator)
        protocols = (SUBPROTOCOL_JSON,) if json else (SUBPROTOCOL_MSGPACK,)
        client = self.connect(seat["url"], subprotocols=protocols)
        client.join(seat["token"])
        return client

    def reconnect(self, client: WireClient) -> Welcome:
        """Matchmake a reconnection for ``client`` and resume it on a new socket."""
        assert client.welcome is not None
        seat = self.reserve(
            "reconnect", client.room_id, {"reconnect_token": client.welcome.reconnect_token}
        )
        return client.resume(*self.open(seat["url"], subprotocols=(client.subprotocol,)))

    def watch(self, *clients: WireClient, ticks: int = 3) -> None:
        """Tick ``ticks`` times; each client must get exactly one PATCH per tick, for the next
        tick, and nothing else (it acknowledges each one)."""
        for _ in range(ticks):
            self.tick()
            for client in clients:
                before = client.tick
                patch = client.expect(Patch)
                assert patch.tick == before + 1, f"tick {patch.tick} after {before}"
                client.ack()


@contextlib.contextmanager
def running(
    settings: Settings | None = None, *, clock: ManualClock | None = None, real_clock: bool = False
) -> Iterator[Server]:
    """The app in a TestClient, lifespan included, on a ManualClock (``clock``, or a new one)
    unless ``real_clock``. Every socket opened through the server is closed before it stops."""
    manual = None if real_clock else (clock or ManualClock())
    app = create_app(settings or app_settings(), clock=manual)
    with TestClient(app) as http, contextlib.ExitStack() as sockets:
        yield Server(http, app, manual, sockets)


class ShutdownGate:
    """ASGI wrapper holding the app's ``lifespan.shutdown.complete`` until ``release()``.

    Leaving a TestClient stops its event loop right after the lifespan's shutdown, and a socket
    still open then keeps that loop waiting forever. A test that wants to see what shutdown does
    to an open socket leaves the TestClient in another thread, reads the close while the gate
    holds, closes its socket, then releases the gate.
    """

    def __init__(self, app: FastAPI, limit: float = 5.0) -> None:
        self.app = app
        self.limit = limit
        self._released = threading.Event()

    def release(self) -> None:
        """Let the shutdown finish."""
        self._released.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def held(message: AsgiMessage) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                deadline = time.monotonic() + self.limit
                while not self._released.is_set() and time.monotonic() < deadline:
                    await anyio.sleep(0.005)
            await send(message)

        await self.app(scope, receive, held)
