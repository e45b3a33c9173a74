"""The connection lifecycle: every legal transition, in one table.

Theory of operation
-------------------
A connection is one WebSocket between one client and one room. Both ends run the same machine;
each end drives it with the frames it sends and the frames it receives. A frame is legal only if
the table below has a row ``(state, sender, message type)``; the row says the next state.

    CONNECTING --client JOIN / RECONNECT--> JOINING --server WELCOME--> JOINED
    JOINED --client LEAVE--> LEAVING
    any state --close (either side, any code)--> CLOSED

In JOINING the server may send ERROR before it closes (a refused seat). In JOINED the client sends
inputs, acks, messages, requests and pings; the server sends state frames, messages, responses,
errors and pings. In LEAVING the server may still deliver frames already on their way; the client
sends nothing more. Reconnection is not a state of this machine: a reconnecting client opens a new
connection whose first frame is RECONNECT instead of JOIN.

Must never: perform I/O or know about rooms. ``protocol.connection`` consults this table;
``docs/protocol.md`` embeds the diagram that ``mermaid_diagram()`` generates from it.
"""

from __future__ import annotations

from enum import Enum

from protocol.codes import MessageType as T


class Side(Enum):
    """Which end of the connection a ``Connection`` object is."""

    __hash__ = object.__hash__  # members are singletons: identity hashing is C-fast

    CLIENT = "client"
    SERVER = "server"

    @property
    def peer(self) -> Side:
        """The other end."""
        return Side.SERVER if self is Side.CLIENT else Side.CLIENT


class ConnectionState(Enum):
    """Where a connection is in its lifecycle."""

    __hash__ = object.__hash__  # the transition table is looked up for every frame

    CONNECTING = "connecting"
    JOINING = "joining"
    JOINED = "joined"
    LEAVING = "leaving"
    CLOSED = "closed"


S = ConnectionState
C = Side.CLIENT
V = Side.SERVER

_SERVER_IN_ROOM = (T.FULL_STATE, T.PATCH, T.MESSAGE, T.RESPONSE, T.ERROR, T.PING, T.PONG)
_CLIENT_IN_ROOM = (T.INPUT, T.ACK, T.MESSAGE, T.REQUEST, T.PING, T.PONG)

TRANSITIONS: dict[tuple[ConnectionState, Side, T], ConnectionState] = {
    (S.CONNECTING, C, T.JOIN): S.JOINING,
    (S.CONNECTING, C, T.RECONNECT): S.JOINING,
    (S.JOINING, V, T.WELCOME): S.JOINED,
    (S.JOINING, V, T.ERROR): S.JOINING,
    **{(S.JOINED, C, t): S.JOINED for t in _CLIENT_IN_ROOM},
    (S.JOINED, C, T.LEAVE): S.LEAVING,
    **{(S.JOINED, V, t): S.JOINED for t in _SERVER_IN_ROOM},
    **{(S.LEAVING, V, t): S.LEAVING for t in _SERVER_IN_ROOM},
}
"""(state, sender, message type) -> next state. Anything missing is illegal. Closing is legal in
every state and always leads to CLOSED, so it is not listed."""


def next_state(state: ConnectionState, sender: Side, message_type: T) -> ConnectionState | None:
    """The state after ``sender`` sends ``message_type`` in ``state``, or None if illegal."""
    return TRANSITIONS.get((state, sender, message_type))


def mermaid_diagram() -> str:
    """The state machine as a Mermaid ``stateDiagram-v2``, generated from ``TRANSITIONS``."""
    edges: dict[tuple[ConnectionState, ConnectionState], list[str]] = {}
    for (state, sender, message_type), target in TRANSITIONS.items():
        label = f"{sender.value} {message_type.name}"
        edges.setdefault((state, target), []).append(label)
    lines = ["stateDiagram-v2", "    [*] --> connecting"]
    for (state, target), labels in edges.items():
        lines.append(f"    {state.value} --> {target.value}: {', '.join(labels)}")
    for state in ConnectionState:
        if state is not S.CLOSED:
            lines.append(f"    {state.value} --> closed: close")
    lines.append("    closed --> [*]")
    return "\n".join(lines) + "\n"
