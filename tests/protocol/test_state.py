"""The transition table: who may send what in which state, and the diagram drawn from it."""

from __future__ import annotations

import pytest

from protocol.codes import MessageType
from protocol.state import TRANSITIONS, ConnectionState, Side, mermaid_diagram, next_state

S = ConnectionState


def reachable_states() -> set[ConnectionState]:
    """States reachable from CONNECTING through the table, plus CLOSED (close is always legal)."""
    seen = {S.CONNECTING}
    frontier = [S.CONNECTING]
    while frontier:
        state = frontier.pop()
        for (source, _, _), target in TRANSITIONS.items():
            if source is state and target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen | {S.CLOSED}


def test_each_side_has_the_other_as_peer() -> None:
    assert (Side.CLIENT.peer, Side.SERVER.peer) == (Side.SERVER, Side.CLIENT)


def test_a_client_joins_with_join() -> None:
    assert next_state(S.CONNECTING, Side.CLIENT, MessageType.JOIN) is S.JOINING


def test_a_client_may_reconnect_instead_of_joining() -> None:
    assert next_state(S.CONNECTING, Side.CLIENT, MessageType.RECONNECT) is S.JOINING


def test_welcome_completes_the_join() -> None:
    assert next_state(S.JOINING, Side.SERVER, MessageType.WELCOME) is S.JOINED


def test_the_server_may_refuse_a_join_with_an_error_before_closing() -> None:
    assert next_state(S.JOINING, Side.SERVER, MessageType.ERROR) is S.JOINING


def test_leave_starts_leaving() -> None:
    assert next_state(S.JOINED, Side.CLIENT, MessageType.LEAVE) is S.LEAVING


def test_the_server_may_still_send_state_while_the_client_leaves() -> None:
    assert next_state(S.LEAVING, Side.SERVER, MessageType.PATCH) is S.LEAVING


def test_the_client_sends_nothing_while_leaving() -> None:
    assert not [key for key in TRANSITIONS if key[:2] == (S.LEAVING, Side.CLIENT)]


def test_an_illegal_frame_has_no_next_state() -> None:
    assert next_state(S.CONNECTING, Side.SERVER, MessageType.WELCOME) is None


def test_nothing_is_sent_on_a_closed_connection() -> None:
    assert not [key for key in TRANSITIONS if key[0] is S.CLOSED]


@pytest.mark.parametrize(
    ("message_type", "sender"),
    [
        (MessageType.JOIN, Side.CLIENT),
        (MessageType.RECONNECT, Side.CLIENT),
        (MessageType.LEAVE, Side.CLIENT),
        (MessageType.INPUT, Side.CLIENT),
        (MessageType.ACK, Side.CLIENT),
        (MessageType.REQUEST, Side.CLIENT),
        (MessageType.WELCOME, Side.SERVER),
        (MessageType.FULL_STATE, Side.SERVER),
        (MessageType.PATCH, Side.SERVER),
        (MessageType.RESPONSE, Side.SERVER),
        (MessageType.ERROR, Side.SERVER),
    ],
)
def test_one_way_messages_have_one_sender(message_type: MessageType, sender: Side) -> None:
    assert {side for (_, side, type_), _ in TRANSITIONS.items() if type_ is message_type} == {
        sender
    }


@pytest.mark.parametrize("message_type", [MessageType.MESSAGE, MessageType.PING, MessageType.PONG])
def test_messages_and_pings_go_both_ways_once_joined(message_type: MessageType) -> None:
    assert next_state(S.JOINED, Side.CLIENT, message_type) is S.JOINED
    assert next_state(S.JOINED, Side.SERVER, message_type) is S.JOINED


def test_every_message_type_is_legal_somewhere() -> None:
    assert {type_ for (_, _, type_) in TRANSITIONS} == set(MessageType)


def test_no_state_is_unreachable() -> None:
    assert reachable_states() == set(ConnectionState)


def test_the_diagram_draws_every_transition() -> None:
    lines = mermaid_diagram().splitlines()
    for (state, sender, message_type), target in TRANSITIONS.items():
        edge = f"    {state.value} --> {target.value}: "
        drawn = [line for line in lines if line.startswith(edge)]
        assert len(drawn) == 1, edge
        assert f"{sender.value} {message_type.name}" in drawn[0].removeprefix(edge).split(", ")


def test_the_diagram_draws_a_close_from_every_open_state() -> None:
    diagram = mermaid_diagram()
    for state in ConnectionState:
        if state is not S.CLOSED:
            assert f"    {state.value} --> closed: close\n" in diagram


def test_the_diagram_is_a_mermaid_state_diagram_from_connecting_to_closed() -> None:
    lines = mermaid_diagram().splitlines()
    assert lines[:2] == ["stateDiagram-v2", "    [*] --> connecting"]
    assert lines[-1] == "    closed --> [*]"


def test_the_diagram_draws_nothing_the_table_does_not_hold() -> None:
    edges = {(state.value, target.value) for (state, _, _), target in TRANSITIONS.items()}
    edges |= {(state.value, "closed") for state in ConnectionState if state is not S.CLOSED}
    drawn = {
        tuple(line.split(":")[0].strip().split(" --> "))
        for line in mermaid_diagram().splitlines()[2:-1]
    }
    assert drawn == edges
