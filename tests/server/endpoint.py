"""Sockets as the WebSocket endpoint sees them, for registry tests without a transport.

``server_connection(first)`` is a server-side ``protocol.Connection`` whose peer just sent
``first`` (JOIN or RECONNECT); ``redeem(registry, seat)`` attaches one to the seat's room, as the
endpoint does after JOIN. Detach with ``room._closed(client, conn, consented=...)``.

Must never: open a socket or run an event loop.
"""

from __future__ import annotations

from game_server.client import Client
from game_server.registry import RoomRegistry, SeatReservation
from protocol.codes import PROTOCOL_VERSION
from protocol.connection import Connection
from protocol.messages import Join, Message
from protocol.state import Side


def server_connection(first: Message) -> Connection:
    """A server-side connection whose peer just sent ``first``."""
    peer = Connection(Side.CLIENT)
    peer.send(first)
    conn = Connection(Side.SERVER)
    for data in peer.data_to_send():
        conn.receive_data(data)
    assert conn.events_received() == [first]
    return conn


def redeem(registry: RoomRegistry, seat: SeatReservation) -> tuple[Client, Connection]:
    """Join with ``seat`` as the WebSocket endpoint does: find the room, redeem the seat."""
    conn = server_connection(Join(PROTOCOL_VERSION, seat.token))
    room = registry.room_for_seat(seat.token)
    return room._redeem(seat.token, conn), conn
