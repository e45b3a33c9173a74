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

Owns: these fixtures. Must never: hold global state (each test gets fresh objects).
"""

from __future__ import annotations

from typing import Any

import pytest

from game_server.clock import ManualClock
from game_server.room import Room
from game_server.simulation import Simulation

__all__ = ["SimulationFactory", "manual_clock", "simulation"]


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
