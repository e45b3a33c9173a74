"""Headless simulations: whole arena matches in-process, deterministic by seed, with latency,
drops and reconnections, over both subprotocols."""

from __future__ import annotations

import random
from typing import Any

import pytest

from game_server.client import Client
from game_server.games.arena import Arena
from game_server.room import Room
from game_server.simulation import SimClient, Simulation
from game_server.testing import SimulationFactory


class Tally(Room):
    """Keeps every input payload each player sent, in the order the room applied them."""

    reconnection_grace = 5.0

    def on_create(self, options: dict[str, Any]) -> None:
        self.state["seen"] = {}

    def on_join(self, client: Client, options: dict[str, Any]) -> None:
        self.state["seen"][client.session_id] = []

    def on_input(self, client: Client, payload: Any) -> None:
        self.state["seen"][client.session_id].append(payload)


def random_inputs(clients: list[SimClient], rng: random.Random, chance: float = 0.3) -> None:
    for client in clients:
        if rng.random() < chance:
            client.send_input({"dx": rng.randint(-1, 1), "dy": rng.randint(-1, 1)})


def hashes_per_tick(
    simulation: SimulationFactory, *, seed: int, ticks: int = 200, clients: int = 4
) -> list[str]:
    """The room's state hash after every tick of an arena match with scripted random inputs."""
    sim = simulation(Arena, seed=seed)
    seen: list[str] = []
    sim.room.after_tick = lambda room: seen.append(room.state_hash())
    players = [sim.join({"name": f"p{n}"}) for n in range(clients)]
    rng = random.Random(1234)  # the inputs script: the same for every seed
    for _ in range(ticks):
        random_inputs(players, rng)
        sim.step()
    return seen


@pytest.mark.slow
def test_10000_arena_ticks_with_10_clients_end_in_agreement(
    simulation: SimulationFactory,
) -> None:
    sim = simulation(Arena, seed=42)
    players = [sim.join({"name": f"p{n}"}) for n in range(10)]
    rng = random.Random(42)
    for _ in range(10_000):
        random_inputs(players, rng, chance=0.05)
        sim.step()
    assert sim.tick == 10_000
    room_hash = sim.room.state_hash()
    assert [p.state_hash for p in players] == [room_hash] * 10
    assert [p.tick for p in players] == [10_000] * 10
    assert sim.room.stats.errors == 0


def test_the_same_seed_and_inputs_give_identical_hashes_at_every_tick(
    simulation: SimulationFactory,
) -> None:
    first = hashes_per_tick(simulation, seed=7)
    second = hashes_per_tick(simulation, seed=7)
    assert len(first) == 200
    assert first == second


def test_another_seed_gives_a_different_hash_sequence(simulation: SimulationFactory) -> None:
    assert hashes_per_tick(simulation, seed=7) != hashes_per_tick(simulation, seed=8)


def test_every_client_follows_the_room_tick_by_tick(simulation: SimulationFactory) -> None:
    sim = simulation(Arena, seed=3)
    players = [sim.join() for _ in range(3)]
    rng = random.Random(3)
    for _ in range(50):
        random_inputs(players, rng, chance=0.5)
        sim.step()
        assert set(sim.hashes().values()) == {sim.room.state_hash()}


def test_without_latency_the_welcome_and_first_state_arrive_in_the_next_step(
    simulation: SimulationFactory,
) -> None:
    sim = simulation(Arena)
    alice = sim.join()
    assert alice.welcome is None
    sim.step()
    assert alice.welcome is not None
    assert alice.tick == 1


def test_latency_in_ticks_delays_the_welcome_by_the_round_trip(
    simulation: SimulationFactory,
) -> None:
    sim = simulation(Arena)
    alice = sim.join(latency=3)
    # JOIN travels 3 ticks up (arriving before tick 3), WELCOME 3 ticks down from there.
    assert sim.run_until(lambda: alice.welcome is not None, max_ticks=20) == 5
    assert alice.tick == 2  # the state it got was made before tick 3 ran


def test_latency_in_ticks_delays_the_state(simulation: SimulationFactory) -> None:
    sim = simulation(Arena)
    near, far = sim.join(), sim.join(latency=4)
    sim.step(30)
    assert near.tick == 30
    assert far.tick == 26
    assert far.state_hash != sim.room.state_hash()


def test_latency_delays_inputs_on_the_way_up(simulation: SimulationFactory) -> None:
    sim = simulation(Tally)
    far = sim.join(latency=2)
    sim.step(5)
    far.send_input("go")
    sim.step(1)
    assert sim.room.state["seen"][far.session_id] == []
    sim.step(1)
    assert sim.room.state["seen"][far.session_id] == ["go"]


def test_inputs_sent_before_the_welcome_are_sent_once_welcomed(
    simulation: SimulationFactory,
) -> None:
    sim = simulation(Tally)
    alice = sim.join(latency=2)
    alice.send_input("early")
    sim.step(10)
    assert sim.room.state["seen"][alice.session_id] == ["early"]
    assert alice.unacked_inputs == {}


def test_inputs_sent_while_reconnecting_are_sent_once_welcomed(
    simulation: SimulationFactory,
) -> None:
    sim = simulation(Tally)
    alice = sim.join(latency=2)
    sim.step(6)
    alice.drop()
    alice.reconnect()
    alice.send_input("on the way back")
    sim.step(10)
    assert sim.room.state["seen"][alice.session_id] == ["on the way back"]


def test_drop_and_reconnect_lose_no_input_and_apply_each_once(
    simulation: SimulationFactory,
) -> None:
    sim = simulation(Tally)
    alice = sim.join(latency=2)
    sim.step(5)
    for n in range(1, 31):
        alice.send_input(n)
        if n == 10:
            alice.drop()  # inputs 9 and 10 were still on the wire: lost
        if n == 20:
            alice.reconnect()
        sim.step()
    sim.step(10)
    assert sim.room.state["seen"][alice.session_id] == list(range(1, 31))
    assert alice.connected
    assert alice.unacked_inputs == {}
    assert alice.state_hash == sim.room.state_hash()


def test_a_reconnected_client_resumes_from_its_last_tick(simulation: SimulationFactory) -> None:
    sim = simulation(Arena, settings={"reconnection_grace": 5.0})
    alice, bob = sim.join(), sim.join()
    sim.step(10)
    alice.drop()
    bob.send_input({"dx": 1, "dy": 1})
    sim.step(10)
    assert alice.tick == 10
    alice.reconnect()
    sim.step()
    assert alice.tick == sim.tick
    assert alice.patches_dropped == 0
    assert alice.state_hash == sim.room.state_hash()


def test_json_subprotocol_clients_work_the_same(simulation: SimulationFactory) -> None:
    sim = simulation(Arena, seed=5)
    binary = [sim.join(), sim.join()]
    text = [sim.join(json=True), sim.join(json=True)]
    rng = random.Random(5)
    for _ in range(100):
        random_inputs(binary + text, rng, chance=0.5)
        sim.step()
    room_hash = sim.room.state_hash()
    assert [c.state_hash for c in binary + text] == [room_hash] * 4
    assert all(c.unacked_inputs == {} for c in text)


def test_json_subprotocol_clients_drop_and_reconnect(simulation: SimulationFactory) -> None:
    sim = simulation(Tally)
    alice = sim.join(json=True)
    sim.step(2)
    alice.send_input("a")
    alice.drop()
    alice.send_input("b")
    sim.step(3)
    alice.reconnect()
    sim.step(3)
    assert sim.room.state["seen"][alice.session_id] == ["a", "b"]
    assert alice.state_hash == sim.room.state_hash()


def test_run_until_returns_the_ticks_it_ran(simulation: SimulationFactory) -> None:
    sim = simulation(Arena)
    assert sim.run_until(lambda: sim.tick >= 7, max_ticks=10) == 7
    assert sim.run_until(lambda: True, max_ticks=10) == 0


def test_run_until_raises_timeout_error_after_max_ticks(simulation: SimulationFactory) -> None:
    sim = simulation(Arena)
    with pytest.raises(TimeoutError, match=r"^condition not met within 5 ticks$"):
        sim.run_until(lambda: False, max_ticks=5)
    assert sim.tick == 5


def test_the_simulation_fixture_keeps_what_it_made(simulation: SimulationFactory) -> None:
    first, second = simulation(Arena), simulation(Tally, seed=3)
    assert simulation.made == [first, second]
    assert isinstance(second, Simulation)
    assert second.room.seed == 3
