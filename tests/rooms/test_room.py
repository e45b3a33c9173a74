"""``Room``: hooks, handlers, inputs, seats, spectators, timers, state frames, failures and
reconnection, checked at the byte level through real server-side ``protocol.Connection``
objects (and through the ``Simulation`` where that reads better).

``connect`` reserves and redeems a seat the way the transport does; ``received`` drains a
member and decodes every frame with ``protocol.codec.decode``; ``feed`` hands a member's
messages to the room as its socket would.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, TypeVar

import pytest
from pydantic import BaseModel

from game_server.client import Client, ClientStatus
from game_server.errors import (
    AuthRefusedError,
    RequestRefusedError,
    RoomFullError,
    RoomLockedError,
    SeatInvalidError,
)
from game_server.handlers import message, request
from game_server.room import Room
from game_server.testing import SimulationFactory, received, resume
from game_server.testing import seat as connect
from protocol.codec import decode, encode
from protocol.codes import PROTOCOL_VERSION, CloseCode, ErrorCode, Role
from protocol.connection import Connection, ConnectionClosed
from protocol.diff import apply_delta, decode_state
from protocol.messages import (
    AppMessage,
    Error,
    FullState,
    Input,
    Join,
    Leave,
    Message,
    Patch,
    Request,
    Response,
    Welcome,
)
from protocol.state import Side

M = TypeVar("M", bound=Message)

# -- helpers --------------------------------------------------------------------------------------


def started(room_class: type[Room], **settings: Any) -> Any:
    """A started room of ``room_class`` that never disposes itself when empty."""
    room = room_class(room_id="r", seed=1, settings={"auto_dispose": False, **settings})
    room._start()
    return room


def of_type(messages: list[Message], kind: type[M]) -> list[M]:
    return [m for m in messages if isinstance(m, kind)]


def feed(client: Client, *messages: Message) -> None:
    """``messages`` arrive on the member's socket."""
    conn = client.connection
    assert conn is not None
    for one in messages:
        conn.receive_data(encode(one))
    events = conn.events_received()
    client.room._receive(client, [e for e in events if not isinstance(e, ConnectionClosed)])


def tick(room: Room, count: int = 1) -> None:
    for _ in range(count):
        room._advance()


class View:
    """What a client knows: the state built from the frames it received."""

    def __init__(self, room: Room) -> None:
        self.schema = room._schema
        self.state: dict[str, Any] = {}
        self.tick = -1

    def apply(self, messages: list[Message]) -> None:
        for one in messages:
            if isinstance(one, FullState):
                self.state, self.tick = decode_state(one.state, self.schema), one.tick
            elif isinstance(one, Patch):
                assert one.baseline == self.tick
                apply_delta(self.state, one.delta, self.schema)
                self.tick = one.tick


# -- rooms used below -----------------------------------------------------------------------------


class ChatLine(BaseModel):
    text: str


class Purchase(BaseModel):
    item: str
    count: int


class Receipt(BaseModel):
    item: str
    total: int


class Move(BaseModel):
    dx: int


class Journal(Room):
    """Writes every hook call into ``calls``; refuses players named "mallory"."""

    def on_create(self, options: dict[str, Any]) -> None:
        self.calls: list[tuple[Any, ...]] = [("create", options)]
        self.state["lines"] = []
        self.state["count"] = 0

    def on_auth(self, client: Client, options: dict[str, Any]) -> Any:
        self.calls.append(("auth", client.session_id))
        if options.get("name") == "mallory":
            raise AuthRefusedError("banned")
        return {"name": options.get("name", "anon")}

    def on_join(self, client: Client, options: dict[str, Any]) -> None:
        self.calls.append(("join", client.session_id))

    def on_drop(self, client: Client) -> None:
        self.calls.append(("drop", client.session_id))

    def on_reconnect(self, client: Client) -> None:
        self.calls.append(("reconnect", client.session_id))

    def on_leave(self, client: Client, consented: bool) -> None:
        self.calls.append(("leave", client.session_id, consented))

    def on_input(self, client: Client, payload: Any) -> None:
        self.calls.append(("input", client.session_id, payload))

    @message("chat", model=ChatLine)
    def chat(self, client: Client, line: Any) -> None:
        self.state["lines"].append(line.text)

    @message("say")
    def say(self, client: Client, line: ChatLine) -> None:  # model from the annotation
        self.state["lines"].append(f"{client.session_id}: {line.text}")

    @message("boom")
    def boom(self, client: Client, payload: Any) -> None:
        raise RuntimeError("handler exploded")

    @request("buy")
    def buy(self, client: Client, purchase: Purchase) -> dict[str, Any]:
        if purchase.count > 3:
            raise RequestRefusedError("too many", ErrorCode.NOT_ALLOWED)
        self.state["count"] += purchase.count
        return {"item": purchase.item, "total": self.state["count"]}

    @request("receipt")
    def receipt(self, client: Client, purchase: Purchase) -> Receipt:
        return Receipt(item=purchase.item, total=purchase.count)

    @request("crash")
    def crash(self, client: Client, payload: Any) -> None:
        raise RuntimeError("request handler exploded")


class Counted(Room):
    """Inputs must be ``{"dx": int}``; each one adds ``dx`` to the client's counter."""

    input_model = Move

    def on_create(self, options: dict[str, Any]) -> None:
        self.state["total"] = {}

    def on_join(self, client: Client, options: dict[str, Any]) -> None:
        self.state["total"][client.session_id] = 0

    def on_input(self, client: Client, payload: Any) -> None:
        self.state["total"][client.session_id] += payload.dx


class Ledger(Room):
    """Keeps every input payload in arrival order, per client."""

    max_inputs_per_tick = 4
    max_input_backlog = 6

    def on_create(self, options: dict[str, Any]) -> None:
        self.state["seen"] = {}

    def on_join(self, client: Client, options: dict[str, Any]) -> None:
        self.state["seen"][client.session_id] = []

    def on_input(self, client: Client, payload: Any) -> None:
        self.state["seen"][client.session_id].append(payload)


class Field(Room):
    """``keys`` entries in a map; ``step`` changes one per tick, ``wipe`` deletes them all."""

    def on_create(self, options: dict[str, Any]) -> None:
        self.keys = int(options.get("keys", 50))
        self.mode = "step"
        self.state["cells"] = {f"cell-number-{n:04d}": n for n in range(self.keys)}

    def update(self, dt: float) -> None:
        cells = self.state["cells"]
        if self.mode == "step":
            cells[f"cell-number-{self.tick % self.keys:04d}"] = self.tick
        elif self.mode == "wipe" and cells:
            cells.popitem()


class Clockwork(Room):
    """Timers write the tick they fired at into ``fired``."""

    tick_rate = 10

    def on_create(self, options: dict[str, Any]) -> None:
        self.fired: list[tuple[str, int]] = []

    def note(self, name: str) -> None:
        self.fired.append((name, self.tick))


class Faulty(Room):
    """``update`` raises on ticks listed in ``fail_on``; errors are noted in ``reported``."""

    fail_on: ClassVar[set[int]] = {2, 4}

    def on_create(self, options: dict[str, Any]) -> None:
        self.reported: list[tuple[str, str]] = []
        self.state["ticks"] = 0

    def update(self, dt: float) -> None:
        self.state["ticks"] += 1
        if self.tick in self.fail_on:
            raise ValueError(f"bad tick {self.tick}")

    def on_uncaught_exception(self, error: Exception, where: str) -> None:
        self.reported.append((where, str(error)))


class Fragile(Faulty):
    """Gives up on the first error: its ``on_uncaught_exception`` raises."""

    def on_uncaught_exception(self, error: Exception, where: str) -> None:
        raise error


# -- lifecycle hooks ------------------------------------------------------------------------------


def test_on_create_runs_once_with_the_options_before_the_first_tick() -> None:
    room = Journal(room_id="r", settings={"auto_dispose": False})
    room._start({"mode": "ranked"})
    assert room.calls == [("create", {"mode": "ranked"})]
    assert room.tick == 0
    assert room.published_tick == 0


def test_on_auth_return_value_becomes_client_auth() -> None:
    room = started(Journal)
    seat = room._reserve({"name": "alice"})
    assert seat.auth == {"name": "alice"}
    assert seat.status is ClientStatus.RESERVED


def test_on_auth_refusal_refuses_the_seat_with_its_reason() -> None:
    room = started(Journal)
    with pytest.raises(AuthRefusedError, match=r"^banned$") as refused:
        room._reserve({"name": "mallory"})
    assert refused.value.code is ErrorCode.AUTH_FAILED
    assert room.player_count == 0


def test_on_auth_crash_refuses_with_a_generic_reason_and_is_reported() -> None:
    class Broken(Faulty):
        def on_auth(self, client: Client, options: dict[str, Any]) -> Any:
            raise KeyError("secret detail")

    room = started(Broken)
    with pytest.raises(AuthRefusedError, match=r"^authentication failed$"):
        room._reserve()
    assert room.reported == [("on_auth", "'secret detail'")]
    assert room.player_count == 0


def test_redeem_welcomes_the_client_with_a_full_state_at_once() -> None:
    room = started(Journal)
    alice = connect(room, {"name": "alice"})
    welcome, state = received(alice)
    assert isinstance(welcome, Welcome)
    assert (welcome.room_id, welcome.session_id, welcome.role) == ("r", alice.session_id, 0)
    assert welcome.reconnect_token == alice.reconnect_token
    assert isinstance(state, FullState)
    assert state.tick == 0


def test_on_join_runs_in_the_next_tick_not_at_redeem() -> None:
    room = started(Journal)
    alice = connect(room, {"name": "alice"})
    assert ("join", alice.session_id) not in room.calls
    tick(room)
    assert ("join", alice.session_id) in room.calls


def test_hooks_run_in_order_auth_then_join_then_leave() -> None:
    room = started(Journal)
    alice = connect(room, {"name": "alice"})
    tick(room)
    feed(alice, Leave())
    tick(room)
    sid = alice.session_id
    assert room.calls == [("create", {}), ("auth", sid), ("join", sid), ("leave", sid, True)]


def test_on_leave_is_consented_after_a_leave_message() -> None:
    room = started(Journal)
    alice = connect(room)
    tick(room)
    feed(alice, Leave())
    tick(room)
    assert room.calls[-1] == ("leave", alice.session_id, True)
    assert alice.session_id not in room.clients
    assert alice.status is ClientStatus.LEFT


def test_on_leave_is_not_consented_when_the_socket_closes_without_grace() -> None:
    room = started(Journal, reconnection_grace=0)
    alice = connect(room)
    tick(room)
    assert alice.connection is not None
    room._closed(alice, alice.connection, consented=False)
    tick(room)
    assert room.calls[-1] == ("leave", alice.session_id, False)
    assert ("drop", alice.session_id) not in room.calls


def test_a_seat_left_before_join_gets_no_on_leave() -> None:
    room = started(Journal, seat_reservation_timeout=0.5)
    seat = room._reserve()
    tick(room, 20)
    assert seat.session_id not in room.clients
    assert [call[0] for call in room.calls] == ["create", "auth"]


# -- messages and requests ------------------------------------------------------------------------


def test_message_handler_gets_the_model_given_to_the_decorator() -> None:
    room = started(Journal)
    alice = connect(room)
    feed(alice, AppMessage("chat", {"text": "hello"}))
    tick(room)
    assert room.state["lines"] == ["hello"]


def test_message_handler_model_is_inferred_from_the_payload_annotation() -> None:
    room = started(Journal)
    alice = connect(room)
    feed(alice, AppMessage("say", {"text": "hi"}))
    tick(room)
    assert room.state["lines"] == [f"{alice.session_id}: hi"]
    assert room._handlers[(False, "say")].model is ChatLine


def test_invalid_message_payload_gets_an_error_to_that_client_only() -> None:
    room = started(Journal)
    alice, bob = connect(room), connect(room)
    received(alice)
    received(bob)
    before = room.state_hash()
    feed(alice, AppMessage("say", {"text": 42}))
    tick(room)
    errors = of_type(received(alice), Error)
    assert [e.code for e in errors] == [ErrorCode.INVALID_PAYLOAD]
    assert errors[0].message == "invalid payload at text: Input should be a valid string"
    assert of_type(received(bob), Error) == []
    assert room.state_hash() == before


def test_unknown_message_kind_gets_unknown_message_error() -> None:
    room = started(Journal)
    alice = connect(room)
    feed(alice, AppMessage("dance", None))
    tick(room)
    errors = of_type(received(alice), Error)
    assert [(e.code, e.message) for e in errors] == [
        (ErrorCode.UNKNOWN_MESSAGE, "no handler for 'dance'")
    ]


def test_message_handler_exception_sends_handler_failed_and_is_reported() -> None:
    class Reporting(Journal):
        def on_uncaught_exception(self, error: Exception, where: str) -> None:
            self.calls.append(("error", where, str(error)))

    room = started(Reporting)
    alice = connect(room)
    feed(alice, AppMessage("boom", None))
    tick(room)
    errors = of_type(received(alice), Error)
    assert [(e.code, e.message) for e in errors] == [(ErrorCode.HANDLER_FAILED, "handler failed")]
    assert ("error", "handler 'boom'", "handler exploded") in room.calls
    assert room.stats.errors == 1


def test_request_handler_return_value_is_the_response() -> None:
    room = started(Journal)
    alice = connect(room)
    feed(alice, Request(7, "buy", {"item": "sword", "count": 2}))
    tick(room)
    responses = of_type(received(alice), Response)
    assert responses == [Response(7, 0, {"item": "sword", "total": 2})]


def test_request_handler_returning_a_model_responds_with_its_plain_form() -> None:
    room = started(Journal)
    alice = connect(room)
    feed(alice, Request(1, "receipt", {"item": "shield", "count": 1}))
    tick(room)
    assert of_type(received(alice), Response) == [Response(1, 0, {"item": "shield", "total": 1})]


def test_request_refused_error_becomes_a_failed_response_with_its_code() -> None:
    room = started(Journal)
    alice = connect(room)
    feed(alice, Request(3, "buy", {"item": "arrow", "count": 99}))
    tick(room)
    assert of_type(received(alice), Response) == [Response(3, ErrorCode.NOT_ALLOWED, "too many")]
    assert room.state["count"] == 0


def test_request_with_an_invalid_payload_fails_with_invalid_payload() -> None:
    room = started(Journal)
    alice = connect(room)
    feed(alice, Request(4, "buy", {"item": "arrow"}))
    tick(room)
    (response,) = of_type(received(alice), Response)
    assert (response.id, response.code) == (4, ErrorCode.INVALID_PAYLOAD)
    assert response.payload == "invalid payload at count: Field required"


def test_request_of_an_unknown_kind_fails_with_unknown_message() -> None:
    room = started(Journal)
    alice = connect(room)
    feed(alice, Request(5, "sell", None))
    tick(room)
    assert of_type(received(alice), Response) == [
        Response(5, ErrorCode.UNKNOWN_MESSAGE, "no handler for 'sell'")
    ]


def test_request_handler_exception_fails_with_handler_failed() -> None:
    room = started(Journal)
    alice = connect(room)
    feed(alice, Request(6, "crash", None))
    tick(room)
    assert of_type(received(alice), Response) == [
        Response(6, ErrorCode.HANDLER_FAILED, "handler failed")
    ]
    assert room.stats.errors == 1


# -- inputs ---------------------------------------------------------------------------------------


def test_input_model_validates_inputs_before_on_input() -> None:
    room = started(Counted)
    alice = connect(room)
    tick(room)
    feed(alice, Input(1, {"dx": 3}), Input(2, {"dx": 4}))
    tick(room)
    assert room.state["total"][alice.session_id] == 7
    assert alice.last_input_seq == 2


def test_invalid_input_gets_invalid_payload_and_never_reaches_on_input() -> None:
    room = started(Counted)
    alice = connect(room)
    tick(room)
    received(alice)
    before = room.state_hash()
    feed(alice, Input(1, {"dx": "left"}))
    tick(room)
    errors = of_type(received(alice), Error)
    assert [e.code for e in errors] == [ErrorCode.INVALID_PAYLOAD]
    assert room.state_hash() == before
    assert room.stats.errors == 0  # on_input did not run on a stale or missing payload
    assert alice.last_input_seq == 1  # refused, but processed: the client may forget it


def test_inputs_carry_the_last_processed_seq_in_state_frames() -> None:
    room = started(Ledger)
    alice = connect(room)
    received(alice)
    feed(alice, Input(1, "a"), Input(2, "b"))
    tick(room)
    (patch,) = of_type(received(alice), Patch)
    assert patch.last_seq == 2


def test_duplicate_input_seqs_are_applied_once() -> None:
    room = started(Ledger)
    alice = connect(room)
    tick(room)
    feed(alice, Input(1, "a"), Input(1, "a"), Input(2, "b"))
    tick(room)
    feed(alice, Input(2, "b"), Input(1, "a"), Input(3, "c"))
    tick(room)
    assert room.state["seen"][alice.session_id] == ["a", "b", "c"]


def test_a_flooding_client_loses_only_its_own_excess_inputs() -> None:
    room = started(Ledger)  # max_inputs_per_tick = 4, max_input_backlog = 6
    flood, calm = connect(room), connect(room)
    tick(room)
    feed(flood, *(Input(seq, seq) for seq in range(1, 11)))
    feed(calm, *(Input(seq, seq) for seq in range(1, 5)))
    tick(room)
    assert room.state["seen"][flood.session_id] == [1, 2, 3, 4]
    assert room.state["seen"][calm.session_id] == [1, 2, 3, 4]
    assert flood.inputs_dropped == 4
    assert calm.inputs_dropped == 0
    assert room.stats.inputs_dropped == 4


def test_a_burst_over_the_per_tick_share_is_spread_over_the_next_ticks() -> None:
    room = started(Ledger)  # max_inputs_per_tick = 4, max_input_backlog = 6
    alice = connect(room)
    tick(room)
    feed(alice, *(Input(seq, seq) for seq in range(1, 7)))
    tick(room)
    assert room.state["seen"][alice.session_id] == [1, 2, 3, 4]
    tick(room)
    assert room.state["seen"][alice.session_id] == [1, 2, 3, 4, 5, 6]
    assert alice.inputs_dropped == 0


def test_an_input_the_backlog_dropped_is_applied_when_sent_again() -> None:
    room = started(Ledger)  # max_inputs_per_tick = 4, max_input_backlog = 6
    alice = connect(room)
    tick(room)
    feed(alice, *(Input(seq, seq) for seq in range(1, 9)))
    assert alice.received_seq == 6  # 7 and 8 were dropped, not accepted
    tick(room)
    tick(room)
    feed(alice, Input(7, 7), Input(8, 8))
    tick(room)
    assert room.state["seen"][alice.session_id] == [1, 2, 3, 4, 5, 6, 7, 8]


def test_the_input_cap_is_per_tick() -> None:
    room = started(Ledger)
    alice = connect(room)
    tick(room)
    for first in (1, 5, 9):
        feed(alice, *(Input(seq, seq) for seq in range(first, first + 4)))
        tick(room)
    assert room.state["seen"][alice.session_id] == list(range(1, 13))
    assert alice.inputs_dropped == 0


# -- spectators -----------------------------------------------------------------------------------


def test_spectators_receive_the_state() -> None:
    room = started(Field, max_spectators=2)
    watcher = connect(room, role=Role.SPECTATOR)
    view = View(room)
    tick(room, 3)
    view.apply(received(watcher))
    assert (view.tick, view.state) == (3, room.snapshot())


def test_spectator_input_is_refused_with_not_allowed() -> None:
    room = started(Ledger)
    watcher = connect(room, role=Role.SPECTATOR)
    tick(room)
    received(watcher)
    feed(watcher, Input(1, "sneaky"))
    tick(room)
    errors = of_type(received(watcher), Error)
    assert [(e.code, e.message) for e in errors] == [
        (ErrorCode.NOT_ALLOWED, "spectators cannot send input")
    ]
    assert room.state["seen"][watcher.session_id] == []


def test_spectators_do_not_take_player_seats() -> None:
    room = started(Ledger, max_clients=1, max_spectators=3)
    for _ in range(3):
        connect(room, role=Role.SPECTATOR)
    assert room.player_count == 0
    assert room.has_free_seat()
    connect(room)
    assert (room.player_count, room.spectator_count) == (1, 3)


def test_max_spectators_limits_spectator_seats() -> None:
    room = started(Ledger, max_spectators=1)
    connect(room, role=Role.SPECTATOR)
    with pytest.raises(RoomFullError, match=r"^no spectator seats left$"):
        room._reserve(role=Role.SPECTATOR)


# -- seats ----------------------------------------------------------------------------------------


def test_max_clients_counts_pending_reservations() -> None:
    room = started(Ledger, max_clients=2)
    connect(room)
    room._reserve()  # not redeemed yet, but the seat is taken
    assert not room.has_free_seat()
    with pytest.raises(RoomFullError, match=r"^room is full$") as full:
        room._reserve()
    assert full.value.code is ErrorCode.ROOM_FULL


def test_an_expired_reservation_frees_its_seat() -> None:
    room = started(Ledger, max_clients=1, seat_reservation_timeout=1.0)
    seat = room._reserve()
    tick(room, int(room.tick_rate))
    assert room.has_free_seat()
    with pytest.raises(SeatInvalidError, match=r"^seat reservation is invalid or expired$"):
        room._redeem(seat.seat_token, Connection(Side.SERVER))


def test_seats_version_counts_every_change_of_membership() -> None:
    room = started(Ledger, seat_reservation_timeout=1.0)
    versions = [room.seats_version]
    player = room._reserve()
    versions.append(room.seats_version)
    room._reserve(role=Role.SPECTATOR)
    versions.append(room.seats_version)
    tick(room, int(room.tick_rate))  # both reservations expire
    versions.append(room.seats_version)
    assert versions == [0, 1, 2, 4]
    assert player.status is ClientStatus.LEFT
    joined = connect(room)
    tick(room)
    before = room.seats_version
    joined.kick()
    tick(room)  # the leave is processed
    assert room.seats_version == before + 1


def test_a_seat_token_is_redeemed_only_once() -> None:
    room = started(Ledger)
    seat = room._reserve()
    conn = Connection(Side.SERVER)
    conn.receive_data(encode(Join(PROTOCOL_VERSION, seat.seat_token)))
    room._redeem(seat.seat_token, conn)
    with pytest.raises(SeatInvalidError):
        room._redeem(seat.seat_token, Connection(Side.SERVER))


def test_lock_refuses_new_seats_and_unlock_reopens_them() -> None:
    room = started(Ledger)
    room.lock()
    assert not room.has_free_seat()
    with pytest.raises(RoomLockedError, match=r"^room is locked$"):
        room._reserve()
    room.unlock()
    connect(room)
    assert room.player_count == 1


def test_a_locked_room_still_takes_spectators() -> None:
    room = started(Ledger)
    room.lock()
    with pytest.raises(RoomLockedError, match=r"^room is locked$"):
        room._reserve()
    assert room._reserve(role=Role.SPECTATOR).role is Role.SPECTATOR


def test_a_locked_room_still_takes_reconnections() -> None:
    room = started(Journal)
    alice = connect(room)
    tick(room)
    assert alice.connection is not None
    room._closed(alice, alice.connection, consented=False)
    room.lock()
    assert resume(room, alice.reconnect_token, room.tick) is alice
    assert alice.status is ClientStatus.JOINED


def test_metadata_starts_as_a_copy_of_the_class_metadata() -> None:
    class Listed(Room):
        metadata = {"mode": "duel"}  # noqa: RUF012

    one, two = started(Listed), started(Listed)
    one.set_metadata(mode="ffa", map="dust")
    assert one.metadata == {"mode": "ffa", "map": "dust"}
    assert two.metadata == {"mode": "duel"}
    assert Listed.metadata == {"mode": "duel"}


def test_kick_closes_with_the_code_and_the_client_leaves_unconsented() -> None:
    room = started(Journal)
    alice = connect(room)
    tick(room)
    conn = alice.connection
    assert conn is not None
    alice.kick(CloseCode.KICKED, "cheating")
    assert conn.close_to_send == (CloseCode.KICKED, "cheating")
    assert alice.status is ClientStatus.LEFT
    tick(room)
    assert room.calls[-1] == ("leave", alice.session_id, False)
    assert alice.session_id not in room.clients


# -- broadcast and send ---------------------------------------------------------------------------


def test_broadcast_sends_the_same_bytes_to_every_member() -> None:
    room = started(Ledger)
    members = [connect(room), connect(room), connect(room, role=Role.SPECTATOR)]
    for member in members:
        member.drain()
    room.broadcast("news", {"round": 2})
    frames = [member.drain() for member in members]
    assert frames == [[encode(AppMessage("news", {"round": 2}))]] * 3


def test_broadcast_excludes_the_given_client() -> None:
    room = started(Ledger)
    alice, bob = connect(room), connect(room)
    received(alice)
    received(bob)
    room.broadcast("hello", exclude=alice)
    assert received(alice) == []
    assert received(bob) == [AppMessage("hello", None)]


def test_broadcast_skips_members_without_a_socket() -> None:
    room = started(Ledger)
    alice, bob = connect(room), connect(room)
    tick(room)
    assert alice.connection is not None
    room._closed(alice, alice.connection, consented=False)
    room.broadcast("hello")
    assert received(alice) == []
    assert of_type(received(bob), AppMessage) == [AppMessage("hello", None)]


def test_send_reaches_only_that_client() -> None:
    room = started(Ledger)
    alice, bob = connect(room), connect(room)
    received(alice)
    received(bob)
    alice.send("secret", 1)
    assert received(alice) == [AppMessage("secret", 1)]
    assert received(bob) == []


# -- timers ---------------------------------------------------------------------------------------


def test_delay_fires_once_after_its_room_time() -> None:
    room = started(Clockwork)  # 10 ticks per second
    room.timers.delay(0.5, lambda: room.note("once"))
    tick(room, 20)
    assert room.fired == [("once", 5)]


def test_interval_fires_every_period_until_cancelled() -> None:
    room = started(Clockwork)
    timer = room.timers.interval(0.3, lambda: room.note("every"))
    tick(room, 10)
    timer.cancel()
    tick(room, 10)
    assert room.fired == [("every", 3), ("every", 6), ("every", 9)]


def test_a_cancelled_delay_never_fires() -> None:
    room = started(Clockwork)
    room.timers.delay(0.2, lambda: room.note("never")).cancel()
    tick(room, 5)
    assert room.fired == []


def test_timers_fire_in_deadline_order_then_creation_order() -> None:
    room = started(Clockwork)
    room.timers.delay(0.3, lambda: room.note("c"))
    room.timers.delay(0.1, lambda: room.note("a"))
    room.timers.delay(0.3, lambda: room.note("d"))
    room.timers.delay(0.2, lambda: room.note("b"))
    tick(room, 3)
    assert [name for name, _ in room.fired] == ["a", "b", "c", "d"]


def test_a_timer_set_while_events_are_processed_counts_from_that_tick() -> None:
    class Welcoming(Clockwork):
        def on_join(self, client: Client, options: dict[str, Any]) -> None:
            self.timers.delay(1.0, lambda: self.note("greet"))

    room = started(Welcoming)
    tick(room, 5)
    connect(room)
    tick(room)  # on_join at tick 6: the delay ends at tick 16
    tick(room, 20)
    assert room.fired == [("greet", 16)]


def test_timers_run_before_update_in_the_same_tick() -> None:
    class Ordered(Clockwork):
        def update(self, dt: float) -> None:
            self.note("update")

    room = started(Ordered)
    room.timers.delay(0.1, lambda: room.note("timer"))
    tick(room)
    assert room.fired == [("timer", 1), ("update", 1)]


# -- state frames ---------------------------------------------------------------------------------


def test_patch_rate_sends_a_state_frame_every_n_ticks() -> None:
    room = started(Field, patch_rate=3)
    alice = connect(room)
    received(alice)
    frame_ticks = []
    for _ in range(9):
        tick(room)
        frame_ticks += [m.tick for m in of_type(received(alice), Patch)]
    assert frame_ticks == [3, 6, 9]


def _ring_kinds(room: Room) -> list[type]:
    return [type(changes) for _, changes in room._tracker._ring]


def test_a_room_forgets_the_changes_every_member_is_past() -> None:
    room = started(Field, patch_rate=2)
    room.keys = 1  # cell 0 changes on every tick
    alice = connect(room)  # the test sink builds a frame when it is drained, not at publish
    view = View(room)
    view.apply(received(alice))
    tick(room)
    assert _ring_kinds(room) == [dict]  # not published
    tick(room)
    assert _ring_kinds(room) == [dict, dict]  # published, no frame built yet
    (patch,) = of_type(received(alice), Patch)  # built now, from the trees
    assert (patch.baseline, patch.tick) == (0, 2)
    view.apply([patch])
    tick(room)  # the next tick starts by settling what was published: alice is past it
    assert _ring_kinds(room) == [dict]
    assert room._tracker.floor == 2
    tick(room)
    view.apply(received(alice))
    assert view.state == room.snapshot()


def test_a_room_packs_the_changes_a_lagging_member_still_needs() -> None:
    room = started(Field, patch_rate=2)
    room.keys = 1  # cell 0 changes on every tick
    alice, bob = connect(room), connect(room)
    views = {alice: View(room), bob: View(room)}
    for member, view in views.items():
        view.apply(received(member))  # both on tick 0
    tick(room, 2)
    views[alice].apply(received(alice))  # alice on tick 2, bob still on 0
    tick(room)
    assert _ring_kinds(room) == [bytes, bytes, dict]  # bob needs ticks 1 and 2
    assert room._tracker.floor == 0
    tick(room)
    frames = {member: received(member) for member in views}
    (catch_up,) = of_type(frames[bob], Patch)  # a patch from the kept ticks, not a full state
    assert (catch_up.baseline, catch_up.tick) == (0, 4)
    for member, view in views.items():
        view.apply(frames[member])
        assert view.state == room.snapshot()
    tick(room)  # both past tick 4 now
    assert _ring_kinds(room) == [dict]


def test_a_dropped_player_holds_the_ring_from_its_last_state_on() -> None:
    room = started(Field)
    room.keys = 1  # cell 0 changes on every tick
    alice, bob = connect(room), connect(room)
    view = View(room)
    tick(room, 2)
    view.apply(received(alice))
    received(bob)
    room._closed(alice, alice.connection, consented=False)  # the socket closed: dropped
    for _ in range(4):
        tick(room)
        received(bob)  # bob keeps up: alice alone holds the ring
    assert [t for t, _ in room._tracker._ring] == [2, 3, 4, 5, 6]
    back = resume(room, alice.reconnect_token, view.tick)
    frames = received(back)
    (patch,) = of_type(frames, Patch)
    assert (patch.baseline, patch.tick) == (2, 6)
    view.apply(frames)
    assert view.state == room.snapshot()


def test_a_player_back_from_a_tick_the_ring_let_go_of_gets_a_full_state() -> None:
    room = started(Field)
    room.keys = 1
    alice = connect(room)
    view = View(room)
    tick(room)
    view.apply(received(alice))  # alice's view is on tick 1
    tick(room)
    received(alice)  # tick 2 is sent, and lost with the socket
    tick(room)  # settled: every member is on tick 2
    room._closed(alice, alice.connection, consented=False)
    tick(room)
    assert not room._tracker.has_baseline(1)
    back = resume(room, alice.reconnect_token, view.tick)
    frames = received(back)
    assert of_type(frames, Patch) == []
    (full,) = of_type(frames, FullState)
    assert full.tick == 4
    view.apply(frames)
    assert view.state == room.snapshot()


def test_a_room_whose_frames_are_built_at_publish_settles_the_tick_at_once() -> None:
    class Eager(Field):
        def _publish(self) -> None:
            super()._publish()
            self._state_frame(self.tick - self.patch_rate)  # as the fast socket's publish does

    room = started(Eager)
    lagging = connect(room)
    received(lagging)  # on tick 0 from now on
    tick(room)
    assert _ring_kinds(room) == [bytes]  # packed at once: the member still needs it
    room._leave(lagging, consented=True)
    tick(room)
    assert _ring_kinds(room) == []  # nobody left to need anything


def test_every_patch_keeps_the_client_view_equal_to_the_room_state() -> None:
    room = started(Field)
    alice = connect(room)
    view = View(room)
    for _ in range(30):
        tick(room)
        view.apply(received(alice))
        assert view.state == room.snapshot()


def test_a_slow_member_gets_one_catch_up_patch_from_its_last_baseline() -> None:
    room = started(Field)
    alice = connect(room)
    view = View(room)
    tick(room, 2)
    view.apply(received(alice))
    assert view.tick == 2
    tick(room, 10)  # ten ticks without draining
    frames = received(alice)
    assert len(frames) == 1
    (patch,) = of_type(frames, Patch)
    assert (patch.baseline, patch.tick) == (2, 12)
    view.apply(frames)
    assert view.state == room.snapshot()


def test_a_slow_member_whose_baseline_left_the_ring_gets_a_full_state() -> None:
    room = started(Field, state_history=4)
    alice = connect(room)
    view = View(room)
    tick(room)
    view.apply(received(alice))
    tick(room, 10)
    frames = received(alice)
    assert [type(m) for m in frames] == [FullState]
    view.apply(frames)
    assert (view.tick, view.state) == (11, room.snapshot())


def test_a_slow_member_gets_a_full_state_when_it_is_smaller_than_the_patch() -> None:
    room = started(Field)
    alice = connect(room)
    view = View(room)
    tick(room)
    view.apply(received(alice))
    room.mode = "wipe"
    tick(room, 60)  # every cell deleted: the patch lists 50 deletions, the full state none
    frames = received(alice)
    assert [type(m) for m in frames] == [FullState]
    view.apply(frames)
    assert view.state == {"cells": {}}


def test_state_to_send_hands_over_the_due_state_once() -> None:
    room = started(Field)
    alice = connect(room)
    view = View(room)
    view.apply(received(alice))
    tick(room)
    data = alice.state_to_send()
    assert isinstance(data, bytes)
    (patch,) = of_type(decode(data), Patch)
    assert (patch.baseline, patch.tick, alice.sent_tick) == (0, 1, 1)
    view.apply([patch])
    assert view.state == room.snapshot()
    assert alice.state_to_send() is None  # nothing newer is due
    assert alice.drain() == []  # and nothing was queued


def test_state_to_send_folds_skipped_ticks_into_one_patch_and_counts_them() -> None:
    room = started(Field)
    alice = connect(room)
    received(alice)
    tick(room, 4)
    data = alice.state_to_send()
    assert isinstance(data, bytes)
    (patch,) = of_type(decode(data), Patch)
    assert (patch.baseline, patch.tick) == (0, 4)
    assert room.stats.frames_coalesced == 3


def test_state_to_send_queues_the_state_behind_a_waiting_message() -> None:
    room = started(Field)
    alice = connect(room)
    received(alice)
    alice.send("news", 1)  # no transport drains it (no sink)
    tick(room)
    assert alice.state_to_send() is None
    assert alice.sent_tick == 1
    assert [type(m) for m in received(alice)] == [AppMessage, Patch]


def test_state_to_send_gives_nothing_to_a_member_that_left() -> None:
    room = started(Field)
    alice = connect(room)
    received(alice)
    feed(alice, Leave())
    tick(room, 2)
    assert alice.state_to_send() is None


def test_members_on_the_same_baseline_get_byte_identical_frames() -> None:
    room = started(Field)
    alice, bob = connect(room), connect(room)
    tick(room)
    received(alice)
    received(bob)
    tick(room)
    (from_alice,), (from_bob,) = alice.drain(), bob.drain()
    assert from_alice == from_bob
    frame = room._state_frame(1)
    assert frame.baseline == 1
    assert isinstance(from_alice, bytes)
    assert from_alice.endswith(frame.body)


def test_a_state_frame_is_built_once_per_baseline_per_tick() -> None:
    room = started(Field)
    tick(room, 3)
    assert room._state_frame(2) is room._state_frame(2)
    assert room._state_frame(-1) is room._state_frame(-1)
    assert room._state_frame(1) is not room._state_frame(2)


def test_members_on_the_same_baseline_share_the_body_but_not_last_seq() -> None:
    room = started(Ledger)
    alice, bob = connect(room), connect(room)
    tick(room)
    received(alice)
    received(bob)
    feed(alice, Input(1, "x"))
    tick(room)
    (frame_a,), (frame_b,) = alice.drain(), bob.drain()
    assert frame_a != frame_b
    body = room._state_frame(1).body
    assert isinstance(frame_a, bytes)
    assert isinstance(frame_b, bytes)
    assert frame_a.endswith(body)
    assert frame_b.endswith(body)
    (patch_a,), (patch_b,) = decode(frame_a), decode(frame_b)
    assert isinstance(patch_a, Patch)
    assert isinstance(patch_b, Patch)
    assert (patch_a.last_seq, patch_b.last_seq) == (1, 0)


# -- failures -------------------------------------------------------------------------------------


def test_update_raising_is_reported_with_where_and_the_room_keeps_ticking() -> None:
    room = started(Faulty)
    tick(room, 5)
    assert room.reported == [("update", "bad tick 2"), ("update", "bad tick 4")]
    assert room.tick == 5
    assert room.state["ticks"] == 5
    assert room.stats.errors == 2
    assert not room.disposed


def test_the_default_on_uncaught_exception_logs_and_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Noisy(Room):
        def update(self, dt: float) -> None:
            raise ValueError("oops")

    room = started(Noisy)
    with caplog.at_level(logging.ERROR, logger="game_server.room"):
        tick(room, 2)
    assert room.tick == 2
    assert [r.getMessage() for r in caplog.records] == ["room r (Noisy): error in update"] * 2


def test_on_uncaught_exception_raising_disposes_the_room_with_internal_error() -> None:
    room = started(Fragile)
    alice = connect(room)
    tick(room, 2)
    assert room.disposed
    assert alice.connection is not None
    assert alice.connection.close_to_send == (CloseCode.INTERNAL_ERROR, "internal error")
    tick(room, 3)
    assert room.tick == 2


def test_on_create_raising_disposes_the_room() -> None:
    class Stillborn(Faulty):
        def on_create(self, options: dict[str, Any]) -> None:
            self.reported = []
            raise RuntimeError("no")

    room = Stillborn(room_id="s")
    room._start()
    assert room.disposed
    assert room.reported == [("on_create", "no")]


def test_a_failing_room_does_not_affect_another_room() -> None:
    fragile, healthy = started(Fragile), started(Field)
    alice = connect(healthy)
    view = View(healthy)
    for _ in range(5):
        tick(fragile)
        tick(healthy)
        view.apply(received(alice))
    assert fragile.disposed
    assert not healthy.disposed
    assert healthy.tick == 5
    assert view.state == healthy.snapshot()


def test_a_hook_error_does_not_stop_later_events_in_the_tick() -> None:
    class Picky(Journal):
        def on_join(self, client: Client, options: dict[str, Any]) -> None:
            if options.get("name") == "bad":
                raise ValueError("bad join")
            super().on_join(client, options)

    room = started(Picky)
    connect(room, {"name": "bad"})
    good = connect(room, {"name": "good"})
    tick(room)
    assert ("join", good.session_id) in room.calls
    assert room.stats.errors == 1


# -- reconnection ---------------------------------------------------------------------------------


def test_a_drop_inside_grace_calls_on_drop_and_keeps_the_seat() -> None:
    room = started(Journal, reconnection_grace=2.0)
    alice = connect(room)
    tick(room)
    assert alice.connection is not None
    room._closed(alice, alice.connection, consented=False)
    assert alice.status is ClientStatus.DROPPED
    tick(room)
    assert room.calls[-1] == ("drop", alice.session_id)
    assert room.player_count == 1
    assert alice in room.players


def test_a_reconnect_inside_grace_calls_on_reconnect_and_resumes_with_a_patch() -> None:
    room = started(Field, reconnection_grace=2.0)
    alice = connect(room)
    view = View(room)
    tick(room, 3)
    view.apply(received(alice))
    assert alice.connection is not None
    room._closed(alice, alice.connection, consented=False)
    tick(room, 5)
    assert resume(room, alice.reconnect_token, view.tick) is alice
    welcome, patch = received(alice)
    assert isinstance(welcome, Welcome)
    assert isinstance(patch, Patch)
    assert (patch.baseline, patch.tick) == (3, 8)
    view.apply([patch])
    assert view.state == room.snapshot()


def test_reconnect_hooks_run_drop_then_reconnect() -> None:
    room = started(Journal, reconnection_grace=2.0)
    alice = connect(room)
    tick(room)
    assert alice.connection is not None
    room._closed(alice, alice.connection, consented=False)
    tick(room)
    resume(room, alice.reconnect_token, room.tick)
    tick(room)
    sid = alice.session_id
    assert room.calls[-3:] == [("join", sid), ("drop", sid), ("reconnect", sid)]


def test_a_reconnect_from_a_tick_out_of_the_ring_gets_a_full_state() -> None:
    room = started(Field, reconnection_grace=10.0, state_history=4)
    alice = connect(room)
    tick(room)
    received(alice)
    assert alice.connection is not None
    room._closed(alice, alice.connection, consented=False)
    tick(room, 10)
    resume(room, alice.reconnect_token, 1)
    assert [type(m) for m in received(alice)] == [Welcome, FullState]


def test_after_grace_the_player_leaves_unconsented_and_its_token_is_refused() -> None:
    room = started(Journal, reconnection_grace=1.0)  # 20 ticks
    alice = connect(room)
    tick(room)
    assert alice.connection is not None
    room._closed(alice, alice.connection, consented=False)
    tick(room, 25)
    assert room.calls[-1] == ("leave", alice.session_id, False)
    assert room.player_count == 0
    with pytest.raises(SeatInvalidError, match=r"^reconnect token is invalid or expired$"):
        resume(room, alice.reconnect_token, room.tick)


def test_reconnecting_a_connected_client_replaces_its_old_socket() -> None:
    room = started(Journal)
    alice = connect(room)
    tick(room)
    old = alice.connection
    assert old is not None
    resume(room, alice.reconnect_token, room.tick)
    assert old.close_to_send == (CloseCode.MAY_TRY_RECONNECT, "replaced by a new connection")
    assert alice.connection is not old
    tick(room)
    assert ("reconnect", alice.session_id) not in room.calls


def test_simulated_drop_and_reconnect_resume_the_state(simulation: SimulationFactory) -> None:
    sim = simulation(Journal, settings={"reconnection_grace": 5.0})
    alice = sim.join({"name": "alice"})
    bob = sim.join({"name": "bob"})
    sim.step(2)
    alice.drop()
    sim.step(3)
    bob.send("chat", {"text": "while you were away"})
    sim.step(2)
    alice.reconnect()
    sim.step(2)
    journal: Any = sim.room
    assert ("drop", alice.session_id) in journal.calls
    assert ("reconnect", alice.session_id) in journal.calls
    assert alice.connected
    assert alice.tick == sim.tick
    assert alice.state["lines"] == ["while you were away"]
    assert alice.state_hash == sim.room.state_hash()
