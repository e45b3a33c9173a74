"""Save and restore a room: at every tick of a 1,000-tick arena match the room is saved,
restored into a twin, both step one tick with the same events, and their hashes must agree; a
restored room takes its clients back with their reconnect tokens and continues from the same
tick."""

from __future__ import annotations

import random
from typing import Any

import msgpack
import pytest

from game_server.client import Client, ClientStatus
from game_server.games.arena import Arena
from game_server.persistence import FORMAT, restore_room, save_room
from game_server.room import Event, Room
from game_server.simulation import SimClient
from game_server.testing import SimulationFactory, received, resume
from game_server.testing import seat as connect
from protocol.codec import encode
from protocol.codes import PROTOCOL_VERSION, Role
from protocol.connection import Connection
from protocol.messages import FullState, Input, Join, Message, Patch, Welcome
from protocol.state import Side

# -- helpers --------------------------------------------------------------------------------------


def twin_of(room: Room) -> Any:
    """``room`` saved and restored (typed Any: tests read game attributes)."""
    return restore_room(save_room(room))


def translated(twin: Room, event: Event) -> Event:
    """``event`` from the live room, for the same client in ``twin``."""
    kind, client, *data = event
    if kind == "join":
        member = twin._replay_client(client.session_id, client.role, data[0], client.auth)
    else:
        member = twin.clients[client.session_id]
    return (kind, member, *data)


def feed(client: Client, *messages: Message) -> None:
    conn = client.connection
    assert conn is not None
    for one in messages:
        conn.receive_data(encode(one))
    client.room._receive(client, [e for e in conn.events_received() if isinstance(e, Message)])


def started(room_class: type[Room], **settings: Any) -> Any:
    room = room_class(room_id="saved", seed=11, settings={"auto_dispose": False, **settings})
    room._start()
    return room


class Tally(Room):
    """Keeps every input payload per player; counts ``on_create`` runs in ``created``."""

    def on_create(self, options: dict[str, Any]) -> None:
        self.state["seen"] = {}
        self.state["created"] = self.state.get("created", 0) + 1

    def on_join(self, client: Client, options: dict[str, Any]) -> None:
        self.state["seen"][client.session_id] = []

    def on_input(self, client: Client, payload: Any) -> None:
        client.input = payload
        self.state["seen"][client.session_id].append(payload)


class Session:
    """An auth object msgpack cannot store."""


class Guarded(Tally):
    def on_auth(self, client: Client, options: dict[str, Any]) -> Any:
        return Session()


class Watchful(Tally):
    def on_drop(self, client: Client) -> None:
        self.state["dropped"] = client.session_id


class Metronome(Room):
    """Counts to ``state["beats"]`` every half second, with a timer it re-creates on restore."""

    tick_rate = 10

    def on_create(self, options: dict[str, Any]) -> None:
        self.state["beats"] = 0
        self.timers.interval(0.5, self.beat)

    def beat(self) -> None:
        self.state["beats"] += 1

    def restore_game(self, data: dict[str, Any]) -> None:
        self.timers.interval(0.5, self.beat)


# -- the every-tick check -------------------------------------------------------------------------


def test_save_restore_and_step_agree_with_the_live_room_at_every_tick_of_1000(
    simulation: SimulationFactory,
) -> None:
    sim = simulation(Arena, seed=77)
    room = sim.room
    players: list[SimClient] = [sim.join({"name": f"p{n}"}) for n in range(10)]
    processed: list[Event] = []
    room.recorder = lambda tick, event: processed.append(event)
    rng = random.Random(77)
    for tick in range(1, 1001):
        for player in players:
            if player.connected and rng.random() < 0.3:
                player.send_input({"dx": rng.randint(-1, 1), "dy": rng.randint(-1, 1)})
        if tick == 300:
            players[2].drop()
        if tick == 340:
            players[2].reconnect()
        if tick == 500:
            players[5].leave()
        if tick == 600:
            players.append(sim.join({"name": "late"}))  # a reserved seat at the save
        if tick == 700:
            room.clients[players[6].session_id].kick()  # its leave is queued at the save
        twin = restore_room(save_room(room))
        pending = list(room._events)  # queued before the save: the twin has them already
        processed.clear()
        sim.step()
        for event in processed:
            if not any(event is queued for queued in pending):
                twin._inject(translated(twin, event))
        twin._advance()
        assert (twin.tick, twin.state_hash()) == (room.tick, room.state_hash()), tick
    assert {p.state_hash for p in players if p.connected} == {room.state_hash()}
    assert room.player_count == 9


# -- what a save holds ----------------------------------------------------------------------------


def test_a_restored_room_has_the_same_identity_tick_state_and_random_state() -> None:
    room = started(Arena)
    connect(room, {"name": "alice"})
    for _ in range(25):
        room._advance()
    twin = twin_of(room)
    assert type(twin) is Arena
    assert (twin.room_id, twin.name, twin.seed, twin.tick) == ("saved", "Arena", 11, 25)
    assert twin.snapshot() == room.snapshot()
    assert twin.random.getstate() == room.random.getstate()
    assert twin.published_tick == 25


def test_restore_does_not_run_on_create() -> None:
    room = started(Tally)
    twin = twin_of(room)
    assert twin.state["created"] == 1


def test_save_game_and_restore_game_carry_game_attributes() -> None:
    room = started(Arena)
    for _ in range(3):
        room._advance()
    assert room.next_npc != 0
    twin = twin_of(room)
    assert (twin.next_npc, twin.npc_count) == (room.next_npc, room.npc_count)


def test_settings_that_differ_from_the_class_defaults_are_kept() -> None:
    room = started(Arena, patch_rate=2, reconnection_grace=3.0, max_clients=4)
    twin = twin_of(room)
    assert (twin.patch_rate, twin.reconnection_grace, twin.max_clients) == (2, 3.0, 4)
    assert twin.auto_dispose is False
    assert Arena.patch_rate == 1


def test_metadata_and_lock_are_kept() -> None:
    room = started(Arena)
    room.set_metadata(mode="ranked")
    room.lock()
    twin = twin_of(room)
    assert twin.metadata == {"mode": "ranked"}
    assert twin.locked


def test_clients_keep_their_session_options_auth_input_and_sequence_numbers() -> None:
    room = started(Tally)
    alice = connect(room, {"name": "alice"})
    feed(alice, Input(1, "a"), Input(2, "b"))
    room._advance()
    alice.user_data["score"] = 3
    saved = twin_of(room).clients[alice.session_id]
    assert (saved.role, saved.options, saved.auth) == (Role.PLAYER, {"name": "alice"}, True)
    assert (saved.input, saved.last_input_seq, saved.received_seq) == ("b", 2, 2)
    assert saved.user_data == {"score": 3}
    assert saved.reconnect_token == alice.reconnect_token


def test_auth_that_msgpack_cannot_store_comes_back_as_none() -> None:
    room = started(Guarded)
    alice = connect(room)
    assert twin_of(room).clients[alice.session_id].auth is None


def test_inputs_queued_for_the_next_tick_survive_the_save() -> None:
    room = started(Tally)
    alice = connect(room)
    room._advance()
    feed(alice, Input(1, "queued"))
    twin = twin_of(room)
    twin._advance()
    assert twin.state["seen"][alice.session_id] == ["queued"]
    assert twin.clients[alice.session_id].last_input_seq == 1


def test_timers_are_not_saved_but_restore_game_can_re_create_them() -> None:
    room = started(Metronome)
    for _ in range(7):
        room._advance()
    assert room.state["beats"] == 1
    twin = twin_of(room)
    for _ in range(13):
        room._advance()
        twin._advance()
    assert twin.state["beats"] == 3  # fired at ticks 12, 17 and 20: counted from the restore
    assert room.state["beats"] == 4  # fired at ticks 10, 15 and 20


# -- clients after a restore ----------------------------------------------------------------------


def test_connected_players_are_dropped_by_a_restore_and_get_on_drop() -> None:
    room = started(Watchful)
    alice = connect(room)
    room._advance()
    twin = twin_of(room)
    restored = twin.clients[alice.session_id]
    assert restored.status is ClientStatus.DROPPED
    assert restored.dropped_at == twin.time
    assert restored.connection is None
    twin._advance()
    assert twin.state["dropped"] == alice.session_id


def test_a_restored_room_accepts_reconnect_tokens_and_continues_from_the_same_tick() -> None:
    room = started(Arena)
    alice = connect(room, {"name": "alice"})
    for _ in range(40):
        room._advance()
    received(alice)
    twin = twin_of(room)
    back = resume(twin, alice.reconnect_token, 40)
    assert back.session_id == alice.session_id
    assert back.status is ClientStatus.JOINED
    (welcome,) = received(back)  # it has the state of tick 40 already
    assert isinstance(welcome, Welcome)
    assert welcome.tick == 40
    feed(back, Input(1, {"dx": 1, "dy": 0}))
    room_x = twin.state["players"][alice.session_id]["x"]
    twin._advance()
    (patch,) = [m for m in received(back) if isinstance(m, Patch)]
    assert (patch.baseline, patch.tick, patch.last_seq) == (40, 41, 1)
    assert twin.state["players"][alice.session_id]["x"] == min(1000.0, room_x + 2.0)


def test_a_client_behind_the_restored_tick_gets_a_full_state() -> None:
    room = started(Arena)
    alice = connect(room)
    for _ in range(40):
        room._advance()
    twin = twin_of(room)
    back = resume(twin, alice.reconnect_token, 39)
    welcome, state = received(back)
    assert isinstance(welcome, Welcome)
    assert isinstance(state, FullState)  # a restored room has no history to patch from
    assert state.tick == 40


def test_simulated_clients_reconnect_to_a_restored_room(simulation: SimulationFactory) -> None:
    sim = simulation(Arena, seed=5)
    players = [sim.join({"name": f"p{n}"}) for n in range(4)]
    sim.step(30)
    saved_tick = sim.tick
    data = save_room(sim.room)
    for player in players:
        player.drop()  # the old server is gone: every link breaks
    sim.room = restore_room(data)
    for player in players:
        player.reconnect()
    sim.step(3)
    assert sim.tick == saved_tick + 3
    players[0].send_input({"dx": 1, "dy": 1})
    sim.step(5)
    assert all(p.connected for p in players)
    assert {p.state_hash for p in players} == {sim.room.state_hash()}


def test_a_reserved_seat_can_be_redeemed_in_the_restored_room() -> None:
    room = started(Tally)
    seat = room._reserve({"name": "bob"})
    twin = twin_of(room)
    conn = Connection(Side.SERVER)
    conn.receive_data(encode(Join(PROTOCOL_VERSION, seat.seat_token)))
    bob = twin._redeem(seat.seat_token, conn)
    twin._advance()
    assert bob.options == {"name": "bob"}
    assert twin.state["seen"] == {seat.session_id: []}


def test_a_player_dropped_before_the_save_keeps_its_grace_deadline() -> None:
    room = started(Tally, reconnection_grace=1.0)  # 20 ticks
    alice = connect(room)
    room._advance()
    assert alice.connection is not None
    room._closed(alice, alice.connection, consented=False)
    for _ in range(10):
        room._advance()
    twin = twin_of(room)
    assert twin.clients[alice.session_id].dropped_at == alice.dropped_at
    for _ in range(11):
        twin._advance()
    assert alice.session_id not in twin.clients


def test_connected_spectators_leave_at_a_restore() -> None:
    room = started(Tally)
    watcher = connect(room, role=Role.SPECTATOR)
    room._advance()
    twin = twin_of(room)
    assert twin.clients[watcher.session_id].status is ClientStatus.LEFT
    twin._advance()
    assert twin.spectator_count == 0


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"junk", msgpack.packb([1, 2]), msgpack.packb({"format": "tickroom-recording"})],
    ids=["empty", "junk", "array", "recording"],
)
def test_restore_rejects_bytes_that_are_not_a_saved_room(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"^not a saved tickroom room$"):
        restore_room(data)


def test_restore_rejects_an_unsupported_version() -> None:
    data = msgpack.packb({"format": FORMAT, "version": 2})
    with pytest.raises(ValueError, match=r"^unsupported saved room version 2$"):
        restore_room(data)
