"""Headless simulations: whole matches in-process, with no sockets and no sleeping.

    sim = Simulation(Arena, seed=7)
    alice, bob = sim.join({"name": "alice"}), sim.join({"name": "bob"})
    alice.send_input({"dx": 1, "dy": 0})
    sim.step(20)
    assert alice.state == sim.room.snapshot()

Every simulated client talks to the room through real ``protocol.Connection`` objects over an
in-memory link: frames are encoded, carried (with optional latency in ticks), decoded, and the
client keeps its own decoded view of the state by applying full states and patches exactly as a
real client does. Time is the room's tick count, so the same seed and the same inputs give the
same state hash at every tick, on every run and every machine.

Owns: ``Simulation``, ``SimClient`` and the in-memory link. Must never: use asyncio, sockets or
the wall clock.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any

from game_server.client import Client
from game_server.errors import MatchmakeError
from game_server.recording import Recorder
from game_server.room import Room
from protocol.codes import (
    PROTOCOL_VERSION,
    SUBPROTOCOL_JSON,
    SUBPROTOCOL_MSGPACK,
    CloseCode,
    Role,
)
from protocol.connection import Connection, ConnectionClosed
from protocol.diff import apply_delta, decode_state, state_hash
from protocol.errors import RemoteProtocolError
from protocol.messages import (
    AppMessage,
    Error,
    FullState,
    Join,
    Patch,
    Ping,
    Reconnect,
    Response,
    Welcome,
)
from protocol.schema import Schema
from protocol.state import ConnectionState, Side

ABNORMAL_CLOSURE = 1006
"""The close code a dropped TCP connection reports."""


class SimClient:
    """A simulated player or spectator. Read ``state``, ``tick``, ``messages``, ``errors``;
    act with ``send_input``, ``send``, ``request``, ``leave``, ``drop`` and ``reconnect``."""

    def __init__(self, sim: Simulation, seat: Client, *, latency: int, json: bool) -> None:
        self.sim = sim
        self.session_id = seat.session_id
        self.role = seat.role
        self.latency = latency
        """Ticks each frame spends on the link, each way."""
        self.json = json
        self.state: dict[str, Any] = {}
        self.tick = -1
        """The tick of the last state applied (-1 before the first)."""
        self.last_seq = 0
        """The last input sequence number the server said it processed."""
        self.welcome: Welcome | None = None
        self.schema = Schema()
        self.messages: list[AppMessage] = []
        self.errors: list[Error] = []
        self.responses: dict[int, Response] = {}
        self.close_code: int | None = None
        self.patches_dropped = 0
        self.reconnect_token = ""
        self._seat_token = seat.seat_token
        self._next_seq = 1
        self._next_request = 1
        self.unacked_inputs: dict[int, Any] = {}
        """Inputs sent that no state has acknowledged yet (for prediction)."""
        self._up: deque[tuple[int, bytes | str]] = deque()
        self._down: deque[tuple[int, bytes | str]] = deque()
        self._client_conn = self._new_connection(Side.CLIENT)
        self._server_conn = self._new_connection(Side.SERVER)
        self._server_client: Client | None = None
        self._pending_close: tuple[int, int] | None = None
        self._client_conn.send(Join(PROTOCOL_VERSION, self._seat_token))
        self._flush_up()

    def _new_connection(self, side: Side) -> Connection:
        return Connection(side, subprotocol=SUBPROTOCOL_JSON if self.json else SUBPROTOCOL_MSGPACK)

    @property
    def connected(self) -> bool:
        """True while joined over a live (simulated) socket."""
        return self._client_conn.state is ConnectionState.JOINED

    @property
    def state_hash(self) -> str:
        """The canonical hash of this client's view of the state."""
        return state_hash(self.state)

    # -- acting --------------------------------------------------------------------------------

    def send_input(self, payload: Any) -> int:
        """Send an input; returns its sequence number. Without a joined link (before the
        WELCOME, or dropped) it is kept and sent once the client is welcomed."""
        seq = self._next_seq
        self._next_seq += 1
        self.unacked_inputs[seq] = payload
        if self.connected:
            self._client_conn.send_input(seq, payload)
            self._flush_up()
        return seq

    def send(self, kind: str | int, payload: Any = None) -> None:
        """Send an application message."""
        self._client_conn.send_message(kind, payload)
        self._flush_up()

    def request(self, kind: str | int, payload: Any = None) -> int:
        """Send a request; its answer appears in ``responses[id]``. Returns the id."""
        request_id = self._next_request
        self._next_request += 1
        self._client_conn.send_request(request_id, kind, payload)
        self._flush_up()
        return request_id

    def ping(self) -> None:
        """Send a ping (the pong is handled internally)."""
        self._client_conn.send(Ping(float(self.sim.room.tick)))
        self._flush_up()

    def leave(self) -> None:
        """Leave on purpose (consented)."""
        self._client_conn.send_leave()
        self._flush_up()

    def drop(self) -> None:
        """Cut the link as a network failure would: frames in flight are lost, and both ends
        see an abnormal closure (1006) at once."""
        self._up.clear()
        self._down.clear()
        self._client_conn.receive_close(ABNORMAL_CLOSURE, "dropped")
        self._client_conn.events_received()
        self.close_code = ABNORMAL_CLOSURE
        self._server_side_closed(ABNORMAL_CLOSURE)

    def reconnect(self) -> None:
        """Open a new link and resume the session with the reconnect token; once welcomed,
        inputs not yet acknowledged (those sent while the link was down included) are re-sent
        (the server applies each once)."""
        self._client_conn = self._new_connection(Side.CLIENT)
        self._server_conn = self._new_connection(Side.SERVER)
        self.close_code = None
        self._client_conn.send(Reconnect(PROTOCOL_VERSION, self.reconnect_token, self.tick))
        self._flush_up()

    # -- the link --------------------------------------------------------------------------------

    def _flush_up(self) -> None:
        due = self.sim.tick + self.latency
        for data in self._client_conn.data_to_send():
            self._up.append((due, data))

    def _deliver_up(self, tick: int) -> None:
        """Frames that reached the server by ``tick``."""
        room = self.sim.room
        while self._up and self._up[0][0] <= tick:
            data = self._up.popleft()[1]
            conn = self._server_conn
            with contextlib.suppress(RemoteProtocolError):
                conn.receive_data(data)  # on error it closes itself; the close goes down below
            for event in conn.events_received():
                self._server_event(room, event)
            self._after_server_io()

    def _server_event(self, room: Room, event: Any) -> None:
        if isinstance(event, Join | Reconnect):
            try:
                if isinstance(event, Join):
                    self._server_client = room._redeem(event.token, self._server_conn)
                else:
                    self._server_client = room._resume(
                        event.token, event.last_tick, self._server_conn
                    )
            except MatchmakeError as exc:
                self._server_conn.close(exc.close_code, exc.message)
        elif isinstance(event, ConnectionClosed):
            if event.by_peer and self._server_client is not None:
                room._closed(self._server_client, self._server_conn, consented=False)
        elif self._server_client is not None:
            room._receive(self._server_client, [event], now_ms=float(room.tick))
            if event.NAME == "leave":
                self._server_conn.close(CloseCode.CONSENTED, "left")

    def _after_server_io(self) -> None:
        """Move what the server side wants to send onto the downlink."""
        client = self._server_client
        if client is not None and client.connection is self._server_conn:
            frames = client.drain()
        else:
            frames = self._server_conn.data_to_send()
        due = self.sim.tick + self.latency
        for data in frames:
            self._down.append((due, data))
        close = self._server_conn.close_to_send
        if close is not None and self._pending_close is None:
            self._pending_close = (due, close[0])

    def _server_side_closed(self, code: int) -> None:
        if self._server_client is not None:
            self.sim.room._closed(self._server_client, self._server_conn, consented=False)
        self._server_conn.receive_close(code)

    def _deliver_down(self, tick: int) -> None:
        """Frames that reached the client by ``tick``; then the close, if the server closed."""
        while self._down and self._down[0][0] <= tick:
            data = self._down.popleft()[1]
            try:
                self._client_conn.receive_data(data)
            except RemoteProtocolError:
                self._down.clear()
            self._handle_client_events()
        if self._pending_close is not None and self._pending_close[0] <= tick and not self._down:
            code = self._pending_close[1]
            self._pending_close = None
            self._client_conn.receive_close(code, "")
            self._handle_client_events()
            if self._server_client is not None:
                closed_by_leave = code == CloseCode.CONSENTED
                self.sim.room._closed(self._server_client, self._server_conn, closed_by_leave)
        self._flush_up()

    def _handle_client_events(self) -> None:
        for event in self._client_conn.events_received():
            if isinstance(event, Welcome):
                self.welcome = event
                self.reconnect_token = event.reconnect_token
                self.schema = Schema.from_wire(event.schema)
                # Inputs sent before this WELCOME went nowhere (no joined link): send them now.
                for seq, payload in sorted(self.unacked_inputs.items()):
                    self._client_conn.send_input(seq, payload)
            elif isinstance(event, FullState):
                self.state = decode_state(event.state, self.schema)
                self._applied(event.tick, event.last_seq)
            elif isinstance(event, Patch):
                if event.baseline != self.tick:
                    self.patches_dropped += 1
                    continue
                apply_delta(self.state, event.delta, self.schema)
                self._applied(event.tick, event.last_seq)
            elif isinstance(event, AppMessage):
                self.messages.append(event)
            elif isinstance(event, Error):
                self.errors.append(event)
            elif isinstance(event, Response):
                self.responses[event.id] = event
            elif isinstance(event, ConnectionClosed):
                self.close_code = event.code

    def _applied(self, tick: int, last_seq: int) -> None:
        self.tick = tick
        self.last_seq = last_seq
        for seq in [seq for seq in self.unacked_inputs if seq <= last_seq]:
            del self.unacked_inputs[seq]
        if self._client_conn.state is ConnectionState.JOINED:
            self._client_conn.send_ack(tick)


class Simulation:
    """One room, its simulated clients, and a tick counter. See the module docstring.

    ``record=True`` keeps a ``Recorder`` in ``recording`` (save it with ``recording.save``).
    """

    def __init__(
        self,
        room_class: type[Room],
        *,
        seed: int = 0,
        options: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        record: bool = False,
    ) -> None:
        self.room = room_class(
            room_id="sim", seed=seed, settings={"auto_dispose": False, **(settings or {})}
        )
        self.recording: Recorder | None = None
        if record:
            self.recording = Recorder.attach(self.room, options or {}, settings or {})
        self.room._start(options)
        self.clients: list[SimClient] = []
        self._joined = 0

    @property
    def tick(self) -> int:
        """The room's current tick."""
        return self.room.tick

    def join(
        self,
        options: dict[str, Any] | None = None,
        *,
        spectator: bool = False,
        latency: int = 0,
        json: bool = False,
    ) -> SimClient:
        """Reserve a seat and open a simulated connection that redeems it. The client is
        welcomed at the next ``step`` (after ``latency`` ticks) and gets its first state then."""
        self._joined += 1
        seat = self.room._reserve(
            options,
            role=Role.SPECTATOR if spectator else Role.PLAYER,
            session_id=f"c{self._joined}",
        )
        client = SimClient(self, seat, latency=latency, json=json)
        self.clients.append(client)
        return client

    def step(self, ticks: int = 1) -> None:
        """Run ``ticks`` ticks: deliver due frames up, tick the room, drain and deliver down."""
        for _ in range(ticks):
            tick = self.room.tick + 1
            for client in self.clients:
                client._deliver_up(tick)
            self.room._advance()
            for client in self.clients:
                client._after_server_io()
                client._deliver_down(tick)

    def run(self, ticks: int) -> None:
        """Run ``ticks`` ticks (``step`` under a name that reads well in tests)."""
        self.step(ticks)

    def run_until(self, predicate: Callable[[], bool], *, max_ticks: int) -> int:
        """Step until ``predicate()`` is true; returns the ticks run. Raises TimeoutError if it
        is still false after ``max_ticks``."""
        for ran in range(max_ticks + 1):
            if predicate():
                return ran
            if ran < max_ticks:
                self.step()
        raise TimeoutError(f"condition not met within {max_ticks} ticks")

    def hashes(self) -> dict[str, str]:
        """The server's state hash and every connected client's, by session id (and "room")."""
        out = {"room": self.room.state_hash()}
        for client in self.clients:
            if client.tick >= 0:
                out[client.session_id] = client.state_hash
        return out
