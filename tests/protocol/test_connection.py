"""``Connection``: a client and a server end wired together in memory, with no I/O.

``transfer(a, b)`` plays the network: it hands every WebSocket message ``a`` queued to
``b.receive_data`` and returns the events ``b`` produced.
"""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from protocol.codec import CLIENT_MAX_SIZE, DEFAULT_MAX_SIZE, StateFrame, decode, encode
from protocol.codes import (
    PROTOCOL_VERSION,
    SUBPROTOCOL_JSON,
    SUBPROTOCOL_MSGPACK,
    CloseCode,
    ErrorCode,
    MessageType,
)
from protocol.connection import Connection, ConnectionClosed, Event
from protocol.errors import FrameError, LocalProtocolError, RemoteProtocolError
from protocol.messages import (
    Ack,
    AppMessage,
    Error,
    FullState,
    Input,
    Join,
    Leave,
    Message,
    Patch,
    Ping,
    Pong,
    Reconnect,
    Request,
    Response,
    Welcome,
)
from protocol.state import TRANSITIONS, ConnectionState, Side

S = ConnectionState
WELCOME: dict[str, Any] = {
    "room_id": "room1",
    "session_id": "sess1",
    "reconnect_token": "again",
    "tick_rate": 20,
    "patch_rate": 2,
    "tick": 10,
    "role": 0,
    "schema": [],
}

SAMPLES: dict[MessageType, Message] = {
    MessageType.JOIN: Join(PROTOCOL_VERSION, "seat"),
    MessageType.RECONNECT: Reconnect(PROTOCOL_VERSION, "again", 10),
    MessageType.LEAVE: Leave(),
    MessageType.INPUT: Input(1, {"dx": 1}),
    MessageType.ACK: Ack(10),
    MessageType.MESSAGE: AppMessage("chat", "hi"),
    MessageType.REQUEST: Request(1, "buy", {"item": 3}),
    MessageType.PING: Ping(1000.5),
    MessageType.PONG: Pong(1000.5, 2000),
    MessageType.WELCOME: Welcome(version=PROTOCOL_VERSION, **WELCOME),
    MessageType.FULL_STATE: FullState(10, 0, {"hp": 3}),
    MessageType.PATCH: Patch(11, 10, 1, {"hp": 2}),
    MessageType.RESPONSE: Response(1, 0, "ok"),
    MessageType.ERROR: Error(ErrorCode.NOT_ALLOWED, "no"),
}


def transfer(source: Connection, target: Connection) -> list[Event]:
    """Deliver what ``source`` queued to ``target``; return the events ``target`` produced."""
    for data in source.data_to_send():
        target.receive_data(data)
    return target.events_received()


def pair(subprotocol: str = SUBPROTOCOL_MSGPACK) -> tuple[Connection, Connection]:
    return Connection(Side.CLIENT, subprotocol=subprotocol), Connection(
        Side.SERVER, subprotocol=subprotocol
    )


def joined_pair(subprotocol: str = SUBPROTOCOL_MSGPACK) -> tuple[Connection, Connection]:
    client, server = pair(subprotocol)
    client.send_join("seat")
    transfer(client, server)
    server.send_welcome(**WELCOME)
    transfer(server, client)
    return client, server


def connection_in(
    state: ConnectionState, side: Side, subprotocol: str = SUBPROTOCOL_MSGPACK
) -> Connection:
    """The ``side`` end of a pair driven (legally) into ``state``."""
    client, server = pair(subprotocol)
    if state is not S.CONNECTING:
        client.send_join("seat")
        transfer(client, server)
    if state in (S.JOINED, S.LEAVING):
        server.send_welcome(**WELCOME)
        transfer(server, client)
    if state is S.LEAVING:
        client.send_leave()
        transfer(client, server)
    conn = client if side is Side.CLIENT else server
    if state is S.CLOSED:
        conn.close(CloseCode.CONSENTED)
        conn.events_received()
    assert conn.state is state
    return conn


def assert_sent(conn: Connection, *messages: Message) -> None:
    """``conn`` queued exactly ``messages``, one binary WebSocket message each."""
    sent = conn.data_to_send()
    assert [decode(data, CLIENT_MAX_SIZE) for data in sent] == [[m] for m in messages]  # type: ignore[arg-type]


def remote_refusal(conn: Connection, data: bytes | str) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as info:
        conn.receive_data(data)
    return info.value


LEGAL = sorted(TRANSITIONS, key=str)
ILLEGAL = [
    (state, side, message_type)
    for state in ConnectionState
    for side in Side
    for message_type in MessageType
    if (state, side, message_type) not in TRANSITIONS
]


def transition_id(key: tuple[ConnectionState, Side, MessageType]) -> str:
    state, side, message_type = key
    return f"{state.value}-{side.value}-{message_type.name}"


# -- the lifecycle ------------------------------------------------------------------------------


def test_a_session_from_join_to_consented_close() -> None:
    client, server = pair()
    assert (client.state, server.state) == (S.CONNECTING, S.CONNECTING)

    client.send_join("seat")
    assert transfer(client, server) == [Join(PROTOCOL_VERSION, "seat")]
    assert (client.state, server.state) == (S.JOINING, S.JOINING)

    server.send_welcome(**WELCOME)
    server.send_state(StateFrame(10, None, msgpack.packb({"hp": 3})), last_seq=0)
    assert transfer(server, client) == [
        Welcome(version=PROTOCOL_VERSION, **WELCOME),
        FullState(10, 0, {"hp": 3}),
    ]
    assert (client.state, server.state) == (S.JOINED, S.JOINED)

    client.send_input(1, {"dx": 1})
    client.send_ack(10)
    assert transfer(client, server) == [Input(1, {"dx": 1}), Ack(10)]

    server.send_state(StateFrame(11, 10, msgpack.packb({"hp": 2})), last_seq=1)
    assert transfer(server, client) == [Patch(11, 10, 1, {"hp": 2})]

    client.send_leave()
    assert transfer(client, server) == [Leave()]
    assert (client.state, server.state) == (S.LEAVING, S.LEAVING)

    server.send_message("bye")
    assert transfer(server, client) == [AppMessage("bye", None)]

    server.close(CloseCode.CONSENTED, "left")
    assert server.events_received() == [ConnectionClosed(CloseCode.CONSENTED, "left", False)]
    assert server.close_to_send == (CloseCode.CONSENTED, "left")
    client.receive_close(CloseCode.CONSENTED, "left")
    assert client.events_received() == [ConnectionClosed(CloseCode.CONSENTED, "left", True)]
    assert (client.state, server.state) == (S.CLOSED, S.CLOSED)
    assert (client.close_code, server.close_code) == (CloseCode.CONSENTED, CloseCode.CONSENTED)


def test_a_reconnect_is_the_first_frame_of_a_new_connection() -> None:
    client, server = pair()
    client.send_reconnect("again", last_tick=42)
    assert transfer(client, server) == [Reconnect(PROTOCOL_VERSION, "again", 42)]
    server.send_welcome(**WELCOME)
    transfer(server, client)
    assert (client.state, server.state) == (S.JOINED, S.JOINED)


def test_a_reconnect_without_state_names_last_tick_minus_1() -> None:
    client = Connection(Side.CLIENT)
    client.send_reconnect("again")
    assert_sent(client, Reconnect(PROTOCOL_VERSION, "again", -1))


def test_a_refused_join_gets_an_error_then_a_close() -> None:
    client, server = pair()
    client.send_join("stale")
    transfer(client, server)
    server.send_error(ErrorCode.SEAT_INVALID, "seat expired")
    server.close(CloseCode.SEAT_INVALID, "seat expired")
    assert transfer(server, client) == [Error(ErrorCode.SEAT_INVALID, "seat expired")]
    assert server.close_to_send == (CloseCode.SEAT_INVALID, "seat expired")


def test_requests_pings_and_messages_once_joined() -> None:
    client, server = joined_pair()
    client.send_request(7, "buy", {"item": 3})
    client.send_ping(1000.5)
    client.send_message(9, [1, 2])
    events = transfer(client, server)
    assert events == [Request(7, "buy", {"item": 3}), Ping(1000.5), AppMessage(9, [1, 2])]
    ping = events[1]
    assert isinstance(ping, Ping)
    server.send_pong(ping, 2000)
    server.send_response(7, 0, {"gold": 5})
    server.send_ping(3000)
    assert transfer(server, client) == [Pong(1000.5, 2000), Response(7, 0, {"gold": 5}), Ping(3000)]


def test_events_received_hands_each_event_out_once() -> None:
    client, server = joined_pair()
    client.send_ack(1)
    assert transfer(client, server) == [Ack(1)]
    assert server.events_received() == []


def test_data_to_send_hands_each_frame_out_once() -> None:
    client = Connection(Side.CLIENT)
    client.send_join("seat")
    assert len(client.data_to_send()) == 1
    assert client.data_to_send() == []


# -- every transition, legal and illegal --------------------------------------------------------


@pytest.mark.parametrize("key", LEGAL, ids=transition_id)
def test_a_legal_frame_moves_both_ends_to_the_same_state(
    key: tuple[ConnectionState, Side, MessageType],
) -> None:
    state, side, message_type = key
    sender, receiver = connection_in(state, side), connection_in(state, side.peer)
    sender.send(SAMPLES[message_type])
    assert transfer(sender, receiver) == [SAMPLES[message_type]]
    assert sender.state is receiver.state is TRANSITIONS[key]


@pytest.mark.parametrize("key", ILLEGAL, ids=transition_id)
def test_sending_an_illegal_frame_raises_local_protocol_error(
    key: tuple[ConnectionState, Side, MessageType],
) -> None:
    state, side, message_type = key
    conn = connection_in(state, side)
    message = SAMPLES[message_type]
    with pytest.raises(LocalProtocolError) as info:
        conn.send(message)
    assert info.value.message == f"the {side.value} cannot send {message.NAME} while {state.value}"
    assert conn.state is state
    assert conn.data_to_send() == []


@pytest.mark.parametrize(
    "key", [key for key in ILLEGAL if key[0] is not S.CLOSED], ids=transition_id
)
def test_receiving_an_illegal_frame_closes_with_protocol_error(
    key: tuple[ConnectionState, Side, MessageType],
) -> None:
    state, side, message_type = key
    conn = connection_in(state, side.peer)
    message = SAMPLES[message_type]
    error = remote_refusal(conn, encode(message))
    reason = f"{message.NAME} from the {side.value} is not allowed while {state.value}"
    assert (error.message, error.close_code) == (reason, CloseCode.PROTOCOL_ERROR)
    assert conn.close_to_send == (CloseCode.PROTOCOL_ERROR, reason)
    assert conn.events_received() == [ConnectionClosed(CloseCode.PROTOCOL_ERROR, reason, False)]
    assert conn.state is S.CLOSED


# -- versions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [Join(PROTOCOL_VERSION + 1, "seat"), Reconnect(PROTOCOL_VERSION + 1, "again", -1)],
    ids=["join", "reconnect"],
)
def test_the_server_closes_on_a_client_of_another_version(message: Message) -> None:
    server = Connection(Side.SERVER)
    error = remote_refusal(server, encode(message))
    reason = f"unsupported protocol version {PROTOCOL_VERSION + 1}"
    assert (error.message, error.close_code) == (reason, CloseCode.UNSUPPORTED_VERSION)
    assert server.close_to_send == (CloseCode.UNSUPPORTED_VERSION, reason)


def test_the_client_closes_on_a_server_of_another_version() -> None:
    client = connection_in(S.JOINING, Side.CLIENT)
    welcome = Welcome(version=0, **WELCOME)
    error = remote_refusal(client, encode(welcome))
    assert error.close_code is CloseCode.UNSUPPORTED_VERSION
    assert client.state is S.CLOSED


# -- subprotocols -------------------------------------------------------------------------------


def test_the_json_subprotocol_works_end_to_end() -> None:
    client, server = pair(SUBPROTOCOL_JSON)
    client.send_join("seat")
    [data] = client.data_to_send()
    assert data == f'{{"type":"join","version":{PROTOCOL_VERSION},"token":"seat"}}'
    server.receive_data(data)
    assert server.events_received() == [Join(PROTOCOL_VERSION, "seat")]
    server.send_welcome(**WELCOME)
    server.send_state(StateFrame(10, None, msgpack.packb({"hp": 3})), 0)
    server.send_state(StateFrame(12, 10, msgpack.packb({"log": [2, 2, {1: "hit"}]})), 5)
    assert transfer(server, client) == [
        Welcome(version=PROTOCOL_VERSION, **WELCOME),
        FullState(10, 0, {"hp": 3}),
        Patch(12, 10, 5, {"log": [2, 2, {1: "hit"}]}),
    ]
    client.send_input(1, {"dx": -1})
    assert transfer(client, server) == [Input(1, {"dx": -1})]


def test_send_state_on_json_sends_text() -> None:
    server = connection_in(S.JOINED, Side.SERVER, SUBPROTOCOL_JSON)
    server.send_state(StateFrame(11, 10, msgpack.packb({"hp": 2})), 4)
    assert server.data_to_send() == [
        '{"type":"patch","tick":11,"baseline":10,"last_seq":4,"delta":{"hp":2}}'
    ]


def test_a_text_frame_on_the_msgpack_subprotocol_is_refused() -> None:
    server = Connection(Side.SERVER)
    error = remote_refusal(server, '{"type":"join","version":1,"token":"seat"}')
    assert error.message == "text frames need the json subprotocol"
    assert server.close_to_send == (CloseCode.PROTOCOL_ERROR, error.message)


def test_a_binary_frame_on_the_json_subprotocol_is_refused() -> None:
    server = Connection(Side.SERVER, subprotocol=SUBPROTOCOL_JSON)
    error = remote_refusal(server, encode(Join(PROTOCOL_VERSION, "seat")))
    assert error.message == "binary frames need the msgpack subprotocol"
    assert server.state is S.CLOSED


def test_an_unknown_subprotocol_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError, match=r"^unknown subprotocol 'chat'$"):
        Connection(Side.SERVER, subprotocol="chat")


def test_a_frame_that_cannot_travel_as_json_is_not_sent() -> None:
    client, server = pair(SUBPROTOCOL_JSON)
    client.send_join("seat")
    transfer(client, server)
    with pytest.raises(LocalProtocolError):
        server.send_welcome(**(WELCOME | {"schema": [b"\x00"]}))
    assert (server.state, server.data_to_send()) == (S.JOINING, [])


# -- sizes --------------------------------------------------------------------------------------


def test_a_server_end_accepts_4_kib_frames_and_a_client_end_16_mib() -> None:
    client, server = pair()
    assert (client.max_size, server.max_size) == (CLIENT_MAX_SIZE, DEFAULT_MAX_SIZE)
    assert Connection(Side.SERVER, max_size=64).max_size == 64


def test_a_frame_above_max_size_closes_with_message_too_big() -> None:
    server = connection_in(S.JOINED, Side.SERVER)
    error = remote_refusal(server, encode(Input(1, "x" * DEFAULT_MAX_SIZE)))
    assert error.close_code is CloseCode.MESSAGE_TOO_BIG
    assert server.close_to_send == (CloseCode.MESSAGE_TOO_BIG, "frame exceeds 4096 bytes")


def test_a_close_reason_is_cut_to_fit_a_close_frame() -> None:
    server = Connection(Side.SERVER, subprotocol=SUBPROTOCOL_JSON)
    remote_refusal(server, '{"type":"' + "\u00e9" * 200 + '"}')
    assert server.close_to_send is not None
    reason = server.close_to_send[1]
    assert reason.startswith("unknown message type '\u00e9")
    assert len(reason.encode()) == 122  # 123 bytes would split the last two-byte character


def test_a_frame_may_arrive_in_two_websocket_messages() -> None:
    server = connection_in(S.JOINED, Side.SERVER)
    data = encode(Input(1, "split"))
    server.receive_data(data[:4])
    assert server.events_received() == []
    server.receive_data(data[4:])
    assert server.events_received() == [Input(1, "split")]


# -- failures and closing -----------------------------------------------------------------------


def test_events_decoded_before_a_bad_frame_are_kept() -> None:
    server = connection_in(S.JOINED, Side.SERVER)
    remote_refusal(server, encode(Input(1, "a")) + encode(Input(2, "b")) + b"\x04\xc1")
    assert server.events_received() == [
        Input(1, "a"),
        Input(2, "b"),
        ConnectionClosed(CloseCode.PROTOCOL_ERROR, "invalid msgpack", False),
    ]


def test_a_frame_before_a_bad_frame_still_obeys_the_transition_table() -> None:
    server = Connection(Side.SERVER)
    error = remote_refusal(server, encode(Input(1, "a")) + b"\x04\xc1")
    reason = "input from the client is not allowed while connecting"
    assert error.message == reason
    assert server.events_received() == [ConnectionClosed(CloseCode.PROTOCOL_ERROR, reason, False)]


def test_frames_in_one_message_are_checked_in_order() -> None:
    server = Connection(Side.SERVER)
    remote_refusal(server, encode(Join(PROTOCOL_VERSION, "seat")) + encode(Input(1, "early")))
    reason = "input from the client is not allowed while joining"
    assert server.events_received() == [
        Join(PROTOCOL_VERSION, "seat"),
        ConnectionClosed(CloseCode.PROTOCOL_ERROR, reason, False),
    ]


def test_a_bad_frame_is_a_frame_error() -> None:
    server = Connection(Side.SERVER)
    with pytest.raises(FrameError, match=r"^unknown message type 0$"):
        server.receive_data(b"\x00\x90")
    assert server.close_code == CloseCode.PROTOCOL_ERROR


def test_data_after_close_is_ignored() -> None:
    server = connection_in(S.JOINED, Side.SERVER)
    server.close(CloseCode.KICKED)
    server.events_received()
    server.receive_data(b"\x00 not even a frame")
    server.receive_close(1000)
    assert server.events_received() == []


def test_close_is_idempotent() -> None:
    server = connection_in(S.JOINED, Side.SERVER)
    server.close(CloseCode.KICKED, "cheating")
    server.close(CloseCode.SERVER_SHUTDOWN, "bye")
    assert server.close_to_send == (CloseCode.KICKED, "cheating")
    assert server.events_received() == [ConnectionClosed(CloseCode.KICKED, "cheating", False)]


def test_a_dropped_socket_closes_with_1006() -> None:
    client = connection_in(S.JOINED, Side.CLIENT)
    client.receive_close(1006)
    assert client.events_received() == [ConnectionClosed(1006, "", True)]
    assert client.close_to_send is None


def test_nothing_can_be_sent_after_close() -> None:
    client = connection_in(S.JOINED, Side.CLIENT)
    client.close(CloseCode.CONSENTED)
    with pytest.raises(LocalProtocolError, match=r"^the client cannot send ack while closed$"):
        client.send_ack(1)


# -- shared state frames ------------------------------------------------------------------------


@pytest.mark.parametrize("last_seq", [0, 127, 128, 2**53 - 1])
def test_send_state_sends_the_bytes_encode_would(last_seq: int) -> None:
    server = connection_in(S.JOINED, Side.SERVER)
    state, delta = {"hp": 3, "name": "a"}, {"hp": 2}
    server.send_state(StateFrame(20, None, msgpack.packb(state)), last_seq)
    server.send_state(StateFrame(21, 20, msgpack.packb(delta)), last_seq)
    assert server.data_to_send() == [
        encode(FullState(20, last_seq, state)),
        encode(Patch(21, 20, last_seq, delta)),
    ]


def test_state_to_send_gives_the_frame_now_when_nothing_is_queued() -> None:
    server = connection_in(S.JOINED, Side.SERVER)
    data = server.state_to_send(StateFrame(21, 20, msgpack.packb({"hp": 2})), 7)
    assert data == encode(Patch(21, 20, 7, {"hp": 2}))
    assert server.data_to_send() == []  # handed over, not queued


def test_state_to_send_queues_behind_frames_already_waiting() -> None:
    server = connection_in(S.JOINED, Side.SERVER)
    server.send_message("first")
    assert server.state_to_send(StateFrame(21, 20, msgpack.packb({"hp": 2})), 7) is None
    assert server.data_to_send() == [
        encode(AppMessage("first", None)),
        encode(Patch(21, 20, 7, {"hp": 2})),
    ]


def test_state_to_send_on_json_gives_text_and_moves_the_state() -> None:
    server = connection_in(S.JOINING, Side.SERVER, SUBPROTOCOL_JSON)
    server.send_welcome(**WELCOME)
    server.data_to_send()
    data = server.state_to_send(StateFrame(10, None, msgpack.packb({"hp": 3})), 0)
    assert data == '{"type":"full_state","tick":10,"last_seq":0,"state":{"hp":3}}'
    assert server.state is S.JOINED


def test_state_to_send_keeps_the_state_machine_rules() -> None:
    server = connection_in(S.JOINING, Side.SERVER)
    with pytest.raises(LocalProtocolError, match=r"^the server cannot send patch while joining$"):
        server.state_to_send(StateFrame(2, 1, msgpack.packb({})), 0)


def test_for_member_differs_only_in_last_seq() -> None:
    frame = StateFrame(21, 20, msgpack.packb({"hp": 2}))
    assert frame.for_member(127) == encode(Patch(21, 20, 127, {"hp": 2}))
    assert frame.for_member(128) == encode(Patch(21, 20, 128, {"hp": 2}))
    assert frame.for_member(127)[:4] == frame.for_member(128)[:4]


def test_the_client_cannot_send_state() -> None:
    client = connection_in(S.JOINED, Side.CLIENT)
    with pytest.raises(LocalProtocolError, match=r"^the client cannot send patch while joined$"):
        client.send_state(StateFrame(2, 1, msgpack.packb({})), 0)


def test_state_cannot_be_sent_before_welcome() -> None:
    server = connection_in(S.JOINING, Side.SERVER)
    with pytest.raises(
        LocalProtocolError, match=r"^the server cannot send full_state while joining$"
    ):
        server.send_state(StateFrame(1, None, msgpack.packb({})), 0)


def test_send_shared_sends_the_frame_encoded_once_for_every_member() -> None:
    server = connection_in(S.JOINED, Side.SERVER)
    message = AppMessage("announce", "round 2")
    frame = encode(message)
    server.send_shared(message, frame)
    [sent] = server.data_to_send()
    assert sent is frame


def test_send_shared_on_json_encodes_the_message_as_text() -> None:
    client, server = joined_pair(SUBPROTOCOL_JSON)
    message = AppMessage("announce", "round 2")
    server.send_shared(message, encode(message))
    assert transfer(server, client) == [message]


def test_send_shared_obeys_the_transition_table() -> None:
    server = connection_in(S.JOINING, Side.SERVER)
    message = AppMessage("announce", "round 2")
    with pytest.raises(LocalProtocolError, match=r"^the server cannot send message while joining$"):
        server.send_shared(message, encode(message))
    assert server.data_to_send() == []


# -- the server's input fast path -----------------------------------------------------------------


def test_receive_input_returns_a_lone_input_and_records_nothing() -> None:
    client, server = joined_pair()
    client.send_input(7, {"dx": 0.5, "dy": -1})
    (frame,) = client.data_to_send()
    assert server.receive_input(frame) == (7, {"dx": 0.5, "dy": -1})  # type: ignore[arg-type]
    assert server.state is S.JOINED
    assert server.events_received() == []


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "frame",
    [
        encode(Ack(3)),  # another message type
        encode(Input(1, None)) + encode(Ack(1)),  # two frames in one message
        encode(Input(1, None))[:-1],  # a partial frame
        b"\x04",  # a type byte alone
        bytes((MessageType.INPUT,)) + msgpack.packb([1, None, "later"]),  # a field it ignores
        bytes((MessageType.INPUT,)) + msgpack.packb({"seq": 1}),  # not an array
        bytes((MessageType.INPUT,)) + msgpack.packb([-1, None]),  # a bad seq
        bytes((MessageType.INPUT,)) + msgpack.packb([1, nested(40)]),  # too deep
        bytes((MessageType.INPUT,)) + b"\xc1",  # not msgpack
    ],
)
def test_receive_input_leaves_anything_else_to_receive_data(frame: bytes) -> None:
    _, server = joined_pair()
    assert server.receive_input(frame) is None
    assert server.state is S.JOINED


def test_receive_ack_returns_a_lone_ack_and_records_nothing() -> None:
    client, server = joined_pair()
    client.send_ack(41)
    (frame,) = client.data_to_send()
    assert server.receive_ack(frame) == 41  # type: ignore[arg-type]
    assert server.receive_ack(encode(Input(1, None))) is None
    assert server.state is S.JOINED
    assert server.events_received() == []


@pytest.mark.parametrize(
    ("method", "frame"),
    [("receive_input", encode(Input(1, {"dx": 1}))), ("receive_ack", encode(Ack(1)))],
)
def test_the_fast_paths_only_serve_a_joined_msgpack_server(method: str, frame: bytes) -> None:
    for conn in (
        connection_in(S.JOINING, Side.SERVER),
        connection_in(S.JOINED, Side.CLIENT),
        connection_in(S.JOINED, Side.SERVER, SUBPROTOCOL_JSON),
    ):
        assert getattr(conn, method)(frame) is None
    _, server = joined_pair()
    server.receive_data(encode(Ack(1))[:1])  # a frame begun and not finished
    assert getattr(server, method)(frame) is None
