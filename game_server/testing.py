"""pytest fixtures for testing games headless: public API.

Enable them in your ``conftest.py``::

    pytest_plugins = ["game_server.testing"]

then ask for them by name::

    from game_server.testing import SimulationFactory

    def test_players_move(simulation: SimulationFactory) -> None:
        sim = simulation(Arena, seed=7)
        alice = sim.join({"name": "alice"})
        alice.send_input({"dx": 1, "dy": 0})
        sim.step(20)
        assert alice.state_hash == sim.room.state_hash()

Fixtures:

``simulation``
    A ``SimulationFactory``: call it like ``Simulation(room_class, seed=..., options=...,
    settings=..., record=...)``. Every simulation it made is in ``made``. No sockets, no
    sleeping, no asyncio: a test runs thousands of ticks in a fraction of a second.
``manual_clock``
    A ``ManualClock`` at time 0.0, for driving a ``TickLoop`` (or anything that takes a
    ``Clock``) by hand inside ``asyncio.run``.

Helpers, for byte-level checks of a room without a simulation:

``seat(room, options=None, role=Role.PLAYER)``
    Reserve a seat and redeem it over a fresh server-side ``Connection`` (as the WebSocket
    endpoint does after JOIN); returns the ``Client``.
``resume(room, token, last_tick)``
    Resume a session on a new connection that sent RECONNECT; returns the ``Client``.
``received(client)``
    Drain ``client`` (its state frame included when one is due) and decode every frame.

And for tests over real sockets:

``free_port()``
    A TCP port on 127.0.0.1 that nothing listens on right now: give it to a server you start.

Owns: these fixtures and helpers. Must never: hold global state (each test gets fresh objects).
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from game_server.client import Client
from game_server.clock import ManualClock
from game_server.room import Room
from game_server.simulation import Simulation
from protocol.codec import decode, encode
from protocol.codes import PROTOCOL_VERSION, Role
from protocol.connection import Connection
from protocol.messages import Join, Message, Reconnect
from protocol.state import Side

__all__ = [
    "SimulationFactory",
    "free_port",
    "manual_clock",
    "received",
    "resume",
    "seat",
    "simulation",
]


def seat(room: Room, options: dict[str, Any] | None = None, *, role: Role = Role.PLAYER) -> Client:
    """Reserve a seat and redeem it over a fresh server-side connection."""
    reserved = room._reserve(options, role=role)
    conn = Connection(Side.SERVER)
    conn.receive_data(encode(Join(PROTOCOL_VERSION, reserved.seat_token)))
    conn.events_received()
    return room._redeem(reserved.seat_token, conn)


def resume(room: Room, token: str, last_tick: int) -> Client:
    """Open a new connection that sends RECONNECT and resume the session on it."""
    conn = Connection(Side.SERVER)
    conn.receive_data(encode(Reconnect(PROTOCOL_VERSION, token, last_tick)))
    conn.events_received()
    return room._resume(token, last_tick, conn)


def received(client: Client) -> list[Message]:
    """Drain ``client`` and decode every frame."""
    out: list[Message] = []
    for data in client.drain():
        assert isinstance(data, bytes), "received() decodes msgpack frames only"
        out.extend(decode(data))
    return out


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (another process may still
    take it before your server binds it, so start the server straight away)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class SimulationFactory:
    """Makes ``Simulation`` objects for one test; what the ``simulation`` fixture gives."""

    def __init__(self) -> None:
        self.made: list[Simulation] = []
        """Every simulation made, in order."""

    def __call__(
        self,
        room_class: type[Room],
        *,
        seed: int = 0,
        options: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        record: bool = False,
    ) -> Simulation:
        """A new ``Simulation`` of ``room_class`` (same arguments as ``Simulation``)."""
        sim = Simulation(room_class, seed=seed, options=options, settings=settings, record=record)
        self.made.append(sim)
        return sim


@pytest.fixture
def simulation() -> SimulationFactory:
    """A factory of headless simulations (see ``SimulationFactory``)."""
    return SimulationFactory()


@pytest.fixture
def manual_clock() -> ManualClock:
    """A ``ManualClock`` starting at 0.0."""
    return ManualClock()
