"""The arena through the headless simulation: movement, NPCs, quantised state, and the testing
tools docs/howto/test-headless.md shows (latency, drops, hashes, recording and replay)."""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from game_server import ErrorCode, Recording, SimClient, Simulation, replay
from game_server.games.arena import FIELD, NPC_COUNT, NPCS_PER_TICK, SPEED, Arena, _axis

SIXTEENTHS = 16


def body(client: SimClient) -> dict[str, float]:
    """The client's own body, as the server has it."""
    return dict(client.sim.room.state["players"][client.session_id])


def test_a_player_gets_a_named_body_in_the_field() -> None:
    sim = Simulation(Arena, seed=7)
    alice = sim.join({"name": "alice"})
    sim.step()
    me = alice.state["players"][alice.session_id]
    assert me["name"] == "alice"
    assert 0 <= me["x"] <= FIELD
    assert 0 <= me["y"] <= FIELD


def test_a_player_moves_by_its_input_times_speed_each_tick() -> None:
    sim = Simulation(Arena, seed=7)
    alice = sim.join()
    sim.step()
    start = body(alice)
    alice.send_input({"dx": 1, "dy": -0.5})
    sim.step(10)
    assert body(alice)["x"] == min(FIELD, start["x"] + 10 * SPEED)
    assert body(alice)["y"] == max(0.0, start["y"] - 10 * SPEED / 2)


@pytest.mark.parametrize(
    ("dx", "dy", "x", "y"),
    [(1, 1, FIELD, FIELD), (-1, -1, 0.0, 0.0), (50, -50, FIELD, 0.0)],
)
def test_movement_is_clamped_to_the_field(dx: float, dy: float, x: float, y: float) -> None:
    sim = Simulation(Arena, seed=7)
    alice = sim.join()
    sim.step()  # inputs go out once the client is welcomed
    alice.send_input({"dx": dx, "dy": dy})
    sim.step(int(FIELD / SPEED))
    assert (body(alice)["x"], body(alice)["y"]) == (x, y)


def test_input_axes_beyond_one_move_at_speed() -> None:
    sim = Simulation(Arena, seed=7)
    alice = sim.join()
    sim.step()
    start = body(alice)
    alice.send_input({"dx": -9, "dy": 0})
    sim.step()
    assert body(alice)["x"] == start["x"] - SPEED


@pytest.mark.parametrize("payload", [None, [1, 0], {"dx": "1", "dy": None}, {}])
def test_a_malformed_input_stands_still(payload: object) -> None:
    sim = Simulation(Arena, seed=7)
    alice = sim.join()
    sim.step()
    start = body(alice)
    alice.send_input({"dx": 1, "dy": 1})
    alice.send_input(payload)
    sim.step(5)
    assert body(alice) == start


def test_a_nan_axis_stands_still_and_the_others_still_move() -> None:
    """NaN is a float that msgpack carries: it counts as 0, not as a position nobody can write."""
    sim = Simulation(Arena, seed=7)
    alice, bob = sim.join(), sim.join()
    sim.step()
    alice_start, bob_start = body(alice), body(bob)
    npcs_start = [dict(npc) for npc in sim.room.state["npcs"]]
    alice.send_input({"dx": float("nan"), "dy": 1.0})
    bob.send_input({"dx": 1.0, "dy": 0.0})
    sim.step(5)
    assert body(alice)["x"] == alice_start["x"]
    assert body(alice)["y"] == min(FIELD, alice_start["y"] + 5 * SPEED)
    assert body(bob)["x"] == min(FIELD, bob_start["x"] + 5 * SPEED)
    assert [dict(npc) for npc in sim.room.state["npcs"]] != npcs_start


class _Float(float):
    """A float subclass: not what the fast path keeps as it is."""


AXES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1.0, max_value=1.0).map(_Float),
    st.floats(min_value=-1.0, max_value=1.0),
    st.integers(-3, 3),
    st.booleans(),
    st.none(),
    st.text(max_size=2),
)


@given(dx=AXES, dy=AXES, keys=st.sampled_from(["both", "dx", "dy", "none"]))
def test_on_input_keeps_each_axis_clamped_as_axis_says(dx: object, dy: object, keys: str) -> None:
    """The fast path for two in-range floats keeps what the per-axis rule would."""
    sim = Simulation(Arena, seed=7)
    alice = sim.join()
    sim.step()
    client = sim.room.clients[alice.session_id]
    payload = {"dx": dx, "dy": dy}
    if keys != "both":
        payload = {} if keys == "none" else {keys: payload[keys]}
    sim.room.on_input(client, payload)
    expected = (_axis(payload.get("dx")), _axis(payload.get("dy")))
    got = client.input
    assert all(type(value) is float for value in got)
    assert [repr(value) for value in got] == [repr(value) for value in expected]


def test_a_rotating_block_of_npcs_moves_each_tick() -> None:
    sim = Simulation(Arena, seed=7)
    for tick in range(1, 2 * NPC_COUNT // NPCS_PER_TICK + 1):
        before = sim.room.snapshot()["npcs"]
        sim.step()
        after = sim.room.snapshot()["npcs"]
        moved = {index for index in range(NPC_COUNT) if before[index] != after[index]}
        first = (tick - 1) * NPCS_PER_TICK % NPC_COUNT
        assert moved == set(range(first, first + NPCS_PER_TICK)), f"tick {tick}"
        for old, new in zip(before, after, strict=True):
            assert abs(new["x"] - old["x"]) <= 1
            assert abs(new["y"] - old["y"]) <= 1


@pytest.mark.parametrize("per_tick", [0, 7, NPC_COUNT + 5])
def test_npcs_per_tick_sets_the_block_and_zero_keeps_them_still(per_tick: int) -> None:
    class Variant(Arena):
        npcs_per_tick = per_tick

    sim = Simulation(Variant, seed=7)
    before = sim.room.snapshot()["npcs"]
    sim.step()
    after = sim.room.snapshot()["npcs"]
    moved = {index for index in range(NPC_COUNT) if before[index] != after[index]}
    assert moved == set(range(min(per_tick, NPC_COUNT)))


def test_positions_are_quantised_to_sixteenths() -> None:
    sim = Simulation(Arena, seed=7)
    alice = sim.join()
    sim.step()
    alice.send_input({"dx": 0.3, "dy": -0.7})
    sim.step(30)
    state = alice.state
    points = [*state["players"].values(), *state["npcs"]]
    assert len(points) == NPC_COUNT + 1
    for point in points:
        assert (point["x"] * SIXTEENTHS).is_integer()
        assert (point["y"] * SIXTEENTHS).is_integer()


def test_positions_travel_as_integer_sixteenths() -> None:
    sim = Simulation(Arena, seed=7)
    alice = sim.join()
    sim.step()
    assert alice.welcome is not None
    assert [["npcs", None, "x"], 3, 1 / SIXTEENTHS] in alice.welcome.schema  # relative
    wire = msgpack.unpackb(sim.room._state_frame(-1).body)  # the shared FULL_STATE body
    npc = wire["npcs"][0]
    assert type(npc["x"]) is int
    assert npc["x"] == sim.room.state["npcs"][0]["x"] * SIXTEENTHS


def test_a_patch_carries_how_far_each_npc_moved_in_one_byte() -> None:
    sim = Simulation(Arena, seed=7)
    sim.join()
    sim.step(3)
    room = sim.room
    before = [(npc["x"], npc["y"]) for npc in room.state["npcs"]]
    sim.step()
    delta = msgpack.unpackb(room._state_frame(room.tick - 1).body, strict_map_key=False)
    op, length, edits, *groups = delta["npcs"]
    assert (op, length) == (2, NPC_COUNT)
    edits = dict(edits)
    for fields, *flat in groups:  # NPCs that moved on the same axes travel as a group
        assert fields in (["x", "y"], ["y", "x"], ["x"], ["y"])
        width = len(fields) + 1
        for start in range(0, len(flat), width):
            edits[flat[start]] = dict(zip(fields, flat[start + 1 : start + width], strict=True))
    assert groups, "twenty NPCs that moved share a group"
    assert len(edits) == 20
    for index, moved in edits.items():
        now = room.state["npcs"][index]
        for axis, was in zip(("x", "y"), before[index], strict=True):
            change = round((now[axis] - was) * SIXTEENTHS)
            assert moved.get(axis, 0) == change  # an axis that did not move is not sent
            assert -32 <= change <= 127  # a msgpack fixint: one byte


def test_every_client_state_equals_the_room_snapshot() -> None:
    sim = Simulation(Arena, seed=7)
    alice, bob = sim.join(), sim.join(json=True)
    sim.step()
    alice.send_input({"dx": 1, "dy": 0.25})
    bob.send_input({"dx": -0.5, "dy": 1})
    for _ in range(40):
        sim.step()
        assert alice.state == sim.room.snapshot()
        assert bob.state == sim.room.snapshot()


def test_spectators_get_no_body_and_cannot_send_input() -> None:
    sim = Simulation(Arena, seed=7)
    alice = sim.join()
    watcher = sim.join(spectator=True)
    sim.step()
    watcher.send_input({"dx": 1, "dy": 1})
    sim.step()
    assert list(watcher.state["players"]) == [alice.session_id]
    assert watcher.state == sim.room.snapshot()
    assert [(e.code, e.message) for e in watcher.errors] == [
        (ErrorCode.NOT_ALLOWED, "spectators cannot send input")
    ]


def test_a_player_who_leaves_takes_its_body() -> None:
    sim = Simulation(Arena, seed=7)
    alice, bob = sim.join(), sim.join()
    sim.step()
    bob.leave()
    sim.step(2)
    assert list(alice.state["players"]) == [alice.session_id]


# -- the tools of docs/howto/test-headless.md -----------------------------------------------------


def test_latency_delays_the_first_state() -> None:
    sim = Simulation(Arena, seed=7)
    far = sim.join(latency=3)  # each frame spends 3 ticks on the link, each way
    ticks = sim.run_until(lambda: far.tick >= 0, max_ticks=20)
    assert ticks == 5  # JOIN is in the room at tick 3; WELCOME and a state come 3 ticks later
    assert far.tick == sim.tick - 3  # it sees the state as it was 3 ticks ago


def test_run_until_gives_up_after_max_ticks() -> None:
    sim = Simulation(Arena, seed=7)
    with pytest.raises(TimeoutError, match="condition not met within 5 ticks"):
        sim.run_until(lambda: False, max_ticks=5)
    assert sim.tick == 5


def test_a_dropped_player_reconnects_and_catches_up() -> None:
    sim = Simulation(Arena, seed=7)
    alice = sim.join()
    sim.step()
    alice.drop()  # the link dies: the server keeps the seat for the grace period
    assert alice.close_code == 1006
    alice.send_input({"dx": 1, "dy": 0})  # kept, and re-sent on reconnection
    sim.step(20)
    assert alice.session_id in sim.room.state["players"]
    alice.reconnect()
    sim.step(2)  # WELCOME and a catch-up state; then the re-sent input is applied
    assert alice.connected
    assert alice.state == sim.room.snapshot()
    assert alice.unacked_inputs == {}


def test_a_dropped_player_leaves_after_the_grace_period() -> None:
    sim = Simulation(Arena, seed=7, settings={"reconnection_grace": 2.0})
    alice = sim.join()
    sim.step()
    alice.drop()
    sim.step(int(2.0 * Arena.tick_rate) + 1)
    assert sim.room.state["players"] == {}


def test_clients_and_room_agree_on_the_state_hash() -> None:
    sim = Simulation(Arena, seed=7)
    alice, bob = sim.join(), sim.join()
    sim.step()
    alice.send_input({"dx": 1, "dy": 1})
    sim.step(30)
    hashes = sim.hashes()
    assert set(hashes) == {"room", alice.session_id, bob.session_id}
    assert len(set(hashes.values())) == 1


def test_a_lagging_client_has_the_hash_the_room_had_at_its_tick() -> None:
    sim = Simulation(Arena, seed=7)
    far = sim.join(latency=2)
    room_hashes = {}
    for _ in range(30):
        sim.step()
        room_hashes[sim.tick] = sim.room.state_hash()
    assert far.tick == sim.tick - 2
    assert far.state_hash == room_hashes[far.tick]


def play_match(seed: int) -> list[str]:
    """The room's state hash after each of 50 ticks of a scripted two-player match."""
    sim = Simulation(Arena, seed=seed)
    alice, bob = sim.join(), sim.join()
    sim.step()
    hashes = []
    for tick in range(50):
        alice.send_input({"dx": 1 if tick % 10 < 5 else -1, "dy": 0})
        if tick == 20:
            bob.send_input({"dx": 0, "dy": -1})
        sim.step()
        hashes.append(sim.room.state_hash())
    return hashes


def test_the_same_seed_and_inputs_give_the_same_hashes() -> None:
    assert play_match(seed=11) == play_match(seed=11)
    assert play_match(seed=11) != play_match(seed=12)


def test_a_recorded_match_replays_exactly(tmp_path: Path) -> None:
    sim = Simulation(Arena, seed=3, record=True)
    alice, bob = sim.join({"name": "alice"}), sim.join({"name": "bob"})
    sim.step()
    alice.send_input({"dx": 1, "dy": 0})
    sim.step(10)
    bob.send_input({"dx": -1, "dy": 1})
    bob.drop()
    sim.step(10)
    bob.reconnect()
    sim.step(10)
    assert sim.recording is not None
    sim.recording.save(tmp_path / "match.tickrec")

    result = replay(Recording.load(tmp_path / "match.tickrec"))
    assert result.ok
    assert result.ticks == sim.tick


def test_a_tampered_recording_diverges() -> None:
    sim = Simulation(Arena, seed=3, record=True)
    alice = sim.join()
    sim.step()
    alice.send_input({"dx": 1, "dy": 0})
    sim.step(10)
    assert sim.recording is not None
    recording = sim.recording.recording
    tick, _, events = recording.ticks[4]
    recording.ticks[4] = (tick, "0" * 64, events)

    result = replay(recording)
    assert not result.ok
    assert result.diverged_at == 5
