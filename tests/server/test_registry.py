"""``RoomRegistry`` on a ``ManualClock``, once per backend (memory and redis, see
``conftest.py``), and the memory backend: no test sleeps in real time.

Sockets are simulated as the WebSocket endpoint sees them: a server-side ``protocol.Connection``
that received JOIN (or RECONNECT) is attached with ``room._redeem`` (or ``room._resume``) and
detached with ``room._closed``. ``ticks(clock, seconds)`` moves time and lets the loops run.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from game_server.backends import MemoryBackend, RoomListing
from game_server.client import Client, ClientStatus
from game_server.clock import ManualClock
from game_server.errors import (
    AuthRefusedError,
    RoomError,
    RoomFullError,
    RoomLockedError,
    RoomNotFoundError,
    SeatInvalidError,
    UnknownRoomTypeError,
)
from game_server.loop import TICK_BUCKETS
from game_server.registry import RoomRegistry, SeatReservation
from game_server.room import Room
from protocol.codes import PROTOCOL_VERSION, CloseCode, Role
from protocol.connection import Connection
from protocol.messages import Reconnect
from server.conftest import BackendFactory
from server.endpoint import redeem, server_connection

pytestmark = pytest.mark.anyio


class Arena(Room):
    max_clients = 4
    tick_rate = 20.0

    def on_create(self, options: dict[str, Any]) -> None:
        self.state["players"] = {}
        self.set_metadata(mode=options.get("mode", "ffa"))


class Picky(Arena):
    def on_auth(self, client: Client, options: dict[str, Any]) -> Any:
        raise AuthRefusedError("not invited")


class Broken(Arena):
    def on_create(self, options: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    def on_uncaught_exception(self, error: Exception, where: str) -> None:
        raise error


@pytest.fixture
async def registry(clock: ManualClock, make_backend: BackendFactory) -> AsyncIterator[RoomRegistry]:
    """A started registry on this run's backend (``conftest.py``: memory, then redis)."""
    registry = RoomRegistry(clock, make_backend(), process_id="p1", wall_clock=lambda: 1000.0)
    registry.define("arena", Arena)
    async with registry:
        yield registry


async def ticks(clock: ManualClock, seconds: float = 0.1) -> None:
    """Advance ``seconds`` in 50 ms steps (one tick each at 20 Hz), letting the loops run."""
    await clock.run_for(seconds, 0.05)


def resume(registry: RoomRegistry, seat: SeatReservation) -> tuple[Client, Connection]:
    """Reconnect with a reservation from ``registry.reconnect`` as the endpoint does."""
    conn = server_connection(Reconnect(PROTOCOL_VERSION, seat.token, -1))
    room = registry.room_for_reconnect(seat.token)
    return room._resume(seat.token, -1, conn), conn


def room_of(registry: RoomRegistry, seat: SeatReservation) -> Room:
    room = registry.get(seat.room_id)
    assert room is not None
    return room


# -- define and create ---------------------------------------------------------------------------


async def test_create_reserves_a_seat_in_a_new_room(
    registry: RoomRegistry, clock: ManualClock
) -> None:
    seat = await registry.create("arena")
    assert seat.room_name == "arena"
    assert seat.process_id == "p1"
    assert not seat.spectator
    assert seat.expires_at == clock.now() + Arena.seat_reservation_timeout
    assert len(seat.token) >= 32
    room = room_of(registry, seat)
    assert room.name == "arena"
    assert room.clients[seat.session_id].status is ClientStatus.RESERVED
    assert (registry.stats.rooms_created, registry.stats.seats_reserved) == (1, 1)


async def test_create_passes_the_defaults_as_room_settings(registry: RoomRegistry) -> None:
    registry.define("small", Arena, max_clients=2, tick_rate=10.0)
    room = room_of(registry, await registry.create("small"))
    assert (room.max_clients, room.tick_rate) == (2, 10.0)
    assert Arena.max_clients == 4


async def test_create_passes_the_options_to_on_create(registry: RoomRegistry) -> None:
    room = room_of(registry, await registry.create("arena", {"mode": "duel"}))
    assert room.metadata == {"mode": "duel"}


async def test_create_reserves_a_spectator_seat(registry: RoomRegistry) -> None:
    seat = await registry.create("arena", spectator=True)
    assert seat.spectator
    assert room_of(registry, seat).clients[seat.session_id].role is Role.SPECTATOR


async def test_create_disposes_the_new_room_when_auth_is_refused(registry: RoomRegistry) -> None:
    registry.define("picky", Picky)
    with pytest.raises(AuthRefusedError, match=r"^not invited$"):
        await registry.create("picky")
    assert registry.rooms == {}
    assert registry.stats.rooms_created == 0


async def test_create_reports_a_room_that_failed_to_start(registry: RoomRegistry) -> None:
    registry.define("broken", Broken)
    with pytest.raises(RoomError, match=r"^room failed to start$"):
        await registry.create("broken")
    assert registry.rooms == {}


async def test_unknown_room_type_is_refused(registry: RoomRegistry) -> None:
    with pytest.raises(UnknownRoomTypeError, match=r"^unknown room type$"):
        await registry.join_or_create("nope")


def test_define_refuses_an_unknown_setting(clock: ManualClock) -> None:
    with pytest.raises(AttributeError, match="unknown room setting 'max_players'"):
        RoomRegistry(clock).define("arena", Arena, max_players=3)


def test_define_refuses_a_name_already_defined(clock: ManualClock) -> None:
    registry = RoomRegistry(clock)
    registry.define("arena", Arena)
    with pytest.raises(ValueError, match="already defined"):
        registry.define("arena", Arena)


async def test_seat_operations_need_a_started_registry(clock: ManualClock) -> None:
    registry = RoomRegistry(clock)
    registry.define("arena", Arena)
    with pytest.raises(RoomError, match=r"^registry is not started$"):
        await registry.create("arena")


# -- join ------------------------------------------------------------------------------------------


async def test_join_reserves_a_seat_in_an_existing_room(registry: RoomRegistry) -> None:
    first = await registry.create("arena")
    second = await registry.join("arena")
    assert second.room_id == first.room_id
    assert second.session_id != first.session_id
    assert room_of(registry, first).player_count == 2


async def test_join_without_a_room_raises_room_not_found(registry: RoomRegistry) -> None:
    with pytest.raises(RoomNotFoundError, match=r"^no joinable room$"):
        await registry.join("arena")


async def test_join_skips_a_full_room(registry: RoomRegistry) -> None:
    await registry.create("arena")
    for _ in range(3):
        await registry.join("arena")
    with pytest.raises(RoomNotFoundError):
        await registry.join("arena")


async def test_join_skips_a_private_room(registry: RoomRegistry) -> None:
    registry.define("secret", Arena, private=True)
    await registry.create("secret")
    with pytest.raises(RoomNotFoundError):
        await registry.join("secret")


async def test_join_skips_a_locked_room(registry: RoomRegistry) -> None:
    room_of(registry, await registry.create("arena")).lock()
    with pytest.raises(RoomNotFoundError):
        await registry.join("arena")


async def test_join_honours_filter_by(registry: RoomRegistry) -> None:
    registry.define("duel", Arena, filter_by=("mode",))
    await registry.create("duel", {"mode": "ranked"})
    with pytest.raises(RoomNotFoundError):
        await registry.join("duel", {"mode": "casual"})


async def test_join_or_create_joins_an_existing_room(registry: RoomRegistry) -> None:
    first = await registry.join_or_create("arena")
    second = await registry.join_or_create("arena")
    assert second.room_id == first.room_id
    assert len(registry.rooms) == 1


async def test_join_or_create_creates_a_room_when_the_others_are_full(
    registry: RoomRegistry,
) -> None:
    seats = [await registry.join_or_create("arena") for _ in range(5)]
    assert [len({s.room_id for s in seats[:4]}), seats[4].room_id != seats[0].room_id] == [1, True]


async def test_join_or_create_never_picks_a_private_room(registry: RoomRegistry) -> None:
    registry.define("secret", Arena, private=True)
    first = await registry.create("secret")
    second = await registry.join_or_create("secret")
    assert second.room_id != first.room_id


async def test_join_or_create_matches_rooms_by_filter_by_options(registry: RoomRegistry) -> None:
    registry.define("duel", Arena, filter_by=("mode",))
    ranked = await registry.join_or_create("duel", {"mode": "ranked", "name": "ann"})
    casual = await registry.join_or_create("duel", {"mode": "casual"})
    ranked_again = await registry.join_or_create("duel", {"mode": "ranked", "name": "bob"})
    assert casual.room_id != ranked.room_id
    assert ranked_again.room_id == ranked.room_id


async def test_concurrent_join_or_create_fills_every_room_exactly(registry: RoomRegistry) -> None:
    registry.define("big", Arena, max_clients=10)
    seats = await asyncio.gather(*(registry.join_or_create("big") for _ in range(200)))
    per_room = Counter(seat.room_id for seat in seats)
    assert len({seat.session_id for seat in seats}) == 200
    assert len(per_room) == 20
    assert set(per_room.values()) == {10}
    assert len(registry.rooms) == 20
    assert all(room.player_count == 10 for room in registry.rooms.values())


async def test_join_by_id_joins_a_private_room(registry: RoomRegistry) -> None:
    registry.define("secret", Arena, private=True)
    first = await registry.create("secret")
    second = await registry.join_by_id(first.room_id)
    assert second.room_id == first.room_id


async def test_join_by_id_refuses_a_locked_room(registry: RoomRegistry) -> None:
    seat = await registry.create("arena")
    room_of(registry, seat).lock()
    with pytest.raises(RoomLockedError, match=r"^room is locked$"):
        await registry.join_by_id(seat.room_id)


async def test_join_by_id_refuses_a_full_room(registry: RoomRegistry) -> None:
    registry.define("solo", Arena, max_clients=1)
    seat = await registry.create("solo")
    with pytest.raises(RoomFullError, match=r"^room is full$"):
        await registry.join_by_id(seat.room_id)


async def test_join_by_id_seats_a_spectator_in_a_full_room(registry: RoomRegistry) -> None:
    registry.define("solo", Arena, max_clients=1)
    seat = await registry.create("solo")
    watcher = await registry.join_by_id(seat.room_id, spectator=True)
    assert watcher.spectator
    assert room_of(registry, seat).spectator_count == 1


async def test_join_by_id_of_an_unknown_room_raises_room_not_found(
    registry: RoomRegistry,
) -> None:
    with pytest.raises(RoomNotFoundError, match=r"^room not found$"):
        await registry.join_by_id("nope")


# -- redeeming and expiring seats ---------------------------------------------------------------


async def test_room_for_seat_finds_the_room_of_a_reserved_seat(registry: RoomRegistry) -> None:
    seat = await registry.create("arena")
    assert registry.room_for_seat(seat.token) is registry.get(seat.room_id)


async def test_room_for_seat_refuses_a_redeemed_seat(registry: RoomRegistry) -> None:
    seat = await registry.create("arena")
    client, _ = redeem(registry, seat)
    assert client.status is ClientStatus.JOINED
    with pytest.raises(SeatInvalidError, match=r"^seat reservation is invalid or expired$"):
        registry.room_for_seat(seat.token)


async def test_room_for_seat_refuses_an_unknown_token(registry: RoomRegistry) -> None:
    with pytest.raises(SeatInvalidError):
        registry.room_for_seat("not-a-token")


async def test_seat_is_still_valid_just_before_the_timeout(
    registry: RoomRegistry, clock: ManualClock
) -> None:
    seat = await registry.create("arena")
    await ticks(clock, 14.5)
    assert registry.room_for_seat(seat.token).room_id == seat.room_id


async def test_unredeemed_seat_expires_after_the_timeout(
    registry: RoomRegistry, clock: ManualClock
) -> None:
    redeem(registry, await registry.create("arena"))
    late = await registry.join("arena")
    await ticks(clock, 16)
    with pytest.raises(SeatInvalidError):
        registry.room_for_seat(late.token)
    assert room_of(registry, late).player_count == 1
    assert registry.stats.reservations_expired == 1


async def test_room_created_for_an_unredeemed_seat_is_disposed_after_the_timeout(
    registry: RoomRegistry, clock: ManualClock
) -> None:
    seat = await registry.create("arena")
    await ticks(clock, 14.5)
    assert registry.get(seat.room_id) is not None
    await ticks(clock, 1.5)
    assert registry.get(seat.room_id) is None
    assert registry.stats.rooms_disposed == 1
    assert registry.stats.reservations_expired == 1
    assert await registry.list_rooms() == []


async def test_room_is_disposed_when_the_last_client_leaves(
    registry: RoomRegistry, clock: ManualClock
) -> None:
    ann, ann_conn = redeem(registry, await registry.create("arena"))
    bob, bob_conn = redeem(registry, await registry.join("arena"))
    room = ann.room
    room._closed(ann, ann_conn, consented=True)
    await ticks(clock)
    assert registry.get(room.room_id) is room
    room._closed(bob, bob_conn, consented=True)
    await ticks(clock)
    assert room.disposed
    assert registry.get(room.room_id) is None
    assert registry.stats.rooms_disposed == 1


async def test_disposed_room_stops_its_tick_loop(
    registry: RoomRegistry, clock: ManualClock
) -> None:
    seat = await registry.create("arena")
    room = room_of(registry, seat)
    await registry.dispose_room(seat.room_id)
    await ticks(clock)
    assert room.disposed
    assert all(task.get_name() != f"tick:{room.room_id}" for task in asyncio.all_tasks())


# -- reconnection ----------------------------------------------------------------------------------


async def test_reconnect_within_the_grace_period_resumes_the_session(
    registry: RoomRegistry, clock: ManualClock
) -> None:
    client, conn = redeem(registry, await registry.create("arena"))
    client.room._closed(client, conn, consented=False)
    await ticks(clock, 5)
    assert client.status is ClientStatus.DROPPED
    seat = await registry.reconnect(client.room.room_id, client.reconnect_token)
    assert (seat.token, seat.session_id) == (client.reconnect_token, client.session_id)
    resumed, new_conn = resume(registry, seat)
    assert resumed is client
    assert resumed.status is ClientStatus.JOINED
    assert resumed.connection is new_conn
    assert new_conn.data_to_send()  # WELCOME


async def test_reconnect_expires_when_the_grace_period_ends(
    registry: RoomRegistry, clock: ManualClock
) -> None:
    client, conn = redeem(registry, await registry.create("arena"))
    client.room._closed(client, conn, consented=False)
    await ticks(clock, 4)
    seat = await registry.reconnect(client.room.room_id, client.reconnect_token)
    assert seat.expires_at == pytest.approx(clock.now() + Arena.reconnection_grace - 4, abs=0.11)


async def test_reconnect_after_the_grace_period_is_refused(
    registry: RoomRegistry, clock: ManualClock
) -> None:
    redeem(registry, await registry.create("arena"))
    client, conn = redeem(registry, await registry.join("arena"))
    client.room._closed(client, conn, consented=False)
    await ticks(clock, Arena.reconnection_grace + 1)
    with pytest.raises(SeatInvalidError, match=r"^reconnect token is invalid or expired$"):
        await registry.reconnect(client.room.room_id, client.reconnect_token)
    with pytest.raises(SeatInvalidError):
        registry.room_for_reconnect(client.reconnect_token)


async def test_reconnect_of_a_connected_client_is_allowed(registry: RoomRegistry) -> None:
    client, old_conn = redeem(registry, await registry.create("arena"))
    seat = await registry.reconnect(client.room.room_id, client.reconnect_token)
    resumed, _ = resume(registry, seat)
    assert resumed is client
    assert old_conn.close_code == CloseCode.MAY_TRY_RECONNECT


async def test_reconnect_with_a_seat_token_is_refused(registry: RoomRegistry) -> None:
    seat = await registry.create("arena")
    with pytest.raises(SeatInvalidError):
        await registry.reconnect(seat.room_id, seat.token)


async def test_reconnect_to_an_unknown_room_raises_room_not_found(
    registry: RoomRegistry,
) -> None:
    with pytest.raises(RoomNotFoundError):
        await registry.reconnect("nope", "token")


# -- leave -----------------------------------------------------------------------------------------


async def test_leave_kicks_a_connected_client(registry: RoomRegistry, clock: ManualClock) -> None:
    redeem(registry, await registry.create("arena"))
    client, conn = redeem(registry, await registry.join("arena"))
    assert await registry.leave(client.room.room_id, client.session_id)
    assert conn.close_code == CloseCode.KICKED
    await ticks(clock)
    assert client.session_id not in client.room.clients


async def test_leave_of_a_reserved_seat_frees_it_without_counting_an_expiry(
    registry: RoomRegistry, clock: ManualClock
) -> None:
    redeem(registry, await registry.create("arena"))
    seat = await registry.join("arena")
    assert await registry.leave(seat.room_id, seat.session_id)
    await ticks(clock)
    assert room_of(registry, seat).player_count == 1
    assert registry.stats.reservations_expired == 0
    with pytest.raises(SeatInvalidError):
        registry.room_for_seat(seat.token)


async def test_leave_of_an_unknown_client_returns_false(registry: RoomRegistry) -> None:
    seat = await registry.create("arena")
    assert not await registry.leave(seat.room_id, "nobody")


# -- listings --------------------------------------------------------------------------------------


async def test_list_rooms_describes_each_public_room(registry: RoomRegistry) -> None:
    seat = await registry.create("arena", {"mode": "duel"})
    assert await registry.list_rooms() == [
        RoomListing(
            room_id=seat.room_id,
            name="arena",
            process_id="p1",
            clients=1,
            max_clients=4,
            locked=False,
            private=False,
            metadata={"mode": "duel"},
            created_at=1000.0,
        )
    ]


async def test_list_rooms_lists_rooms_created_back_to_back_oldest_first(
    registry: RoomRegistry,
) -> None:
    seats = [await registry.create("arena") for _ in range(3)]
    listed = await registry.list_rooms()
    assert [listing.room_id for listing in listed] == [seat.room_id for seat in seats]


async def test_list_rooms_hides_private_rooms(registry: RoomRegistry) -> None:
    registry.define("secret", Arena, private=True)
    await registry.create("secret")
    assert await registry.list_rooms() == []


async def test_a_room_created_with_the_private_option_is_never_listed(
    registry: RoomRegistry,
) -> None:
    seat = await registry.create("arena", {"private": True})
    assert await registry.list_rooms() == []  # not even before its first tick
    assert room_of(registry, seat).private
    with pytest.raises(RoomNotFoundError):
        await registry.join("arena")


async def test_list_rooms_hides_locked_rooms_until_unlocked(
    registry: RoomRegistry, clock: ManualClock
) -> None:
    room = room_of(registry, await registry.create("arena"))
    room.lock()
    await ticks(clock)
    assert await registry.list_rooms() == []
    room.unlock()
    await ticks(clock)
    assert [listing.room_id for listing in await registry.list_rooms()] == [room.room_id]


async def test_list_rooms_filters_by_name(registry: RoomRegistry) -> None:
    registry.define("lobby", Arena)
    await registry.create("arena")
    lobby = await registry.create("lobby")
    assert [listing.room_id for listing in await registry.list_rooms("lobby")] == [lobby.room_id]


async def test_list_rooms_filters_by_metadata(registry: RoomRegistry) -> None:
    await registry.create("arena", {"mode": "ffa"})
    duel = await registry.create("arena", {"mode": "duel"})
    listings = await registry.list_rooms(mode="duel")
    assert [listing.room_id for listing in listings] == [duel.room_id]
    assert await registry.list_rooms(mode="duel", map="dust") == []


async def test_listing_follows_metadata_changes(registry: RoomRegistry, clock: ManualClock) -> None:
    room = room_of(registry, await registry.create("arena"))
    room.set_metadata(map="dust")
    await ticks(clock)
    assert [listing.room_id for listing in await registry.list_rooms(map="dust")] == [room.room_id]


async def test_listing_follows_the_client_count(registry: RoomRegistry, clock: ManualClock) -> None:
    client, conn = redeem(registry, await registry.create("arena"))
    await registry.join("arena")
    assert [listing.clients for listing in await registry.list_rooms()] == [2]
    client.room._closed(client, conn, consented=True)
    await ticks(clock)
    assert [listing.clients for listing in await registry.list_rooms()] == [1]


async def test_listing_is_removed_when_the_room_is_disposed(registry: RoomRegistry) -> None:
    seat = await registry.create("arena")
    await registry.dispose_room(seat.room_id)
    assert await registry.list_rooms() == []
    assert await registry.backend.get(seat.room_id) is None


async def test_client_count_counts_players_per_room_type(
    registry: RoomRegistry, clock: ManualClock
) -> None:
    registry.define("lobby", Arena)
    await registry.create("arena")
    await registry.join("arena")
    seat = await registry.create("lobby")
    assert (await registry.client_count("arena"), await registry.client_count()) == (2, 3)
    await registry.dispose_room(seat.room_id)
    assert await registry.client_count() == 2


# -- disposal and shutdown -------------------------------------------------------------------------


async def test_dispose_room_closes_clients_with_room_disposed(registry: RoomRegistry) -> None:
    seat = await registry.create("arena")
    _, conn = redeem(registry, seat)
    await registry.dispose_room(seat.room_id)
    assert conn.close_code == CloseCode.ROOM_DISPOSED
    assert registry.get(seat.room_id) is None


async def test_dispose_room_of_an_unknown_room_raises_room_not_found(
    registry: RoomRegistry,
) -> None:
    with pytest.raises(RoomNotFoundError):
        await registry.dispose_room("nope")


async def test_shutdown_closes_clients_with_server_shutdown(registry: RoomRegistry) -> None:
    _, ann = redeem(registry, await registry.create("arena"))
    _, bob = redeem(registry, await registry.create("arena"))
    await registry.shutdown()
    assert [ann.close_code, bob.close_code] == [CloseCode.SERVER_SHUTDOWN] * 2
    assert ann.close_to_send == (CloseCode.SERVER_SHUTDOWN, "server shutting down")
    assert registry.rooms == {}
    assert registry.stats.rooms_disposed == 2


async def test_shutdown_stops_every_tick_loop(registry: RoomRegistry) -> None:
    await registry.create("arena")
    await registry.create("arena")
    await registry.shutdown(timeout=1.0)
    assert all(not task.get_name().startswith("tick:") for task in asyncio.all_tasks())


async def test_shutdown_refuses_new_seats(registry: RoomRegistry) -> None:
    await registry.shutdown()
    with pytest.raises(RoomError, match=r"^registry is closed$"):
        await registry.join_or_create("arena")


# -- metrics ---------------------------------------------------------------------------------------


async def test_tick_histograms_are_shared_by_every_room(
    registry: RoomRegistry, clock: ManualClock
) -> None:
    first = room_of(registry, await registry.create("arena"))
    second = room_of(registry, await registry.create("arena"))
    await ticks(clock, 1)
    assert registry.tick_duration.count == first.stats.ticks + second.stats.ticks
    assert registry.tick_lateness.count > 0
    assert registry.tick_lateness.bounds == registry.tick_duration.bounds == TICK_BUCKETS


async def test_a_late_loop_catches_up_at_most_max_catch_up_ticks(clock: ManualClock) -> None:
    registry = RoomRegistry(clock, max_catch_up=2)
    registry.define("arena", Arena)
    async with registry:
        room = room_of(registry, await registry.create("arena"))
        clock.advance(1.02)  # 20 deadlines missed
        await clock.settle()
        assert room.tick == 2


# -- the memory backend ----------------------------------------------------------------------------


def listing(room_id: str, **metadata: Any) -> RoomListing:
    return RoomListing(room_id, "arena", "p1", 0, 4, False, False, metadata, 0.0)


async def test_memory_backend_queries_by_name_and_metadata() -> None:
    backend = MemoryBackend()
    await backend.publish(listing("a", mode="duel"))
    await backend.publish(listing("b", mode="ffa"))
    await backend.publish(listing("c"))
    assert [each.room_id for each in await backend.query("arena", {"mode": "duel"})] == ["a"]
    assert [each.room_id for each in await backend.query()] == ["a", "b", "c"]
    assert await backend.query("lobby") == []


async def test_memory_backend_update_keeps_the_room_in_place() -> None:
    backend = MemoryBackend()
    await backend.publish(listing("a"))
    await backend.publish(listing("b"))
    await backend.publish(listing("a", mode="duel"))
    assert [each.room_id for each in await backend.query()] == ["a", "b"]
    assert (await backend.get("a")) == listing("a", mode="duel")


async def test_memory_backend_lock_admits_one_holder_at_a_time() -> None:
    backend = MemoryBackend()
    inside: list[int] = []
    overlaps: list[int] = []

    async def hold(n: int) -> None:
        async with backend.lock("k"):
            if inside:
                overlaps.append(n)
            inside.append(n)
            await asyncio.sleep(0)
            inside.remove(n)

    await asyncio.gather(*(hold(n) for n in range(5)))
    assert overlaps == []
    assert len(backend._locks) == 0


async def test_memory_backend_counters_add_and_forget_zero() -> None:
    backend = MemoryBackend()
    assert await backend.incr("clients:arena", 3) == 3
    assert await backend.incr("clients:arena", -3) == 0
    assert await backend.counter("clients:arena") == 0
    assert backend._counters == {}


def test_listing_round_trips_through_a_dict() -> None:
    original = listing("a", mode="duel")
    assert RoomListing.from_dict(original.to_dict()) == original
