"""The registry's records: the plain values ``RoomRegistry`` hands out (``SeatReservation``,
``Presence``, ``RoomType``, ``RegistryStats``) and the one it keeps for each room this process
hosts (``HostedRoom``).

Import the public ones from ``game_server.registry``; this module exists so that the registry's
parts (``registry``, ``registry_listings``, ``registry_remote``) share them without importing
each other.

Must never: do I/O, start tasks, or change a room (``HostedRoom`` only reads its room).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from game_server.client import Client, ClientStatus
from game_server.loop import TickLoop
from game_server.room import Room


@dataclass(frozen=True, slots=True)
class SeatReservation:
    """A seat held for one client. Hand ``token`` to the client: its socket must send JOIN with
    it (RECONNECT, for a reservation from ``reconnect()``) before ``expires_at``."""

    room_id: str
    room_name: str
    session_id: str
    token: str
    """The seat token (unguessable); for ``reconnect()``, the reconnect token."""
    expires_at: float
    """Seconds on the registry's clock after which the seat is gone."""
    spectator: bool = False
    process_id: str = ""
    """The process hosting the room."""
    url: str = ""
    """The public base URL of that process (``RoomRegistry.public_url``): the HTTP layer
    points the client's socket there."""


@dataclass(frozen=True, slots=True)
class Presence:
    """Who is where: players per live process and per listed room (``RoomRegistry.presence``)."""

    by_process: dict[str, int] = field(default_factory=dict)
    by_room: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RoomType:
    """A room type as ``define`` registered it."""

    name: str
    room_class: type[Room]
    defaults: dict[str, Any]
    """Room settings, passed as ``Room(settings=defaults)``."""
    filter_by: tuple[str, ...]
    """Option keys whose values must equal the room's creation options to join it."""


class RegistryStats:
    """Counters for the metrics endpoint."""

    __slots__ = (
        "remote_calls",
        "reservations_expired",
        "rooms_created",
        "rooms_disposed",
        "rooms_restored",
        "rooms_saved",
        "seats_reserved",
    )

    def __init__(self) -> None:
        self.rooms_created = 0
        self.rooms_disposed = 0
        self.rooms_saved = 0
        """Persistent rooms saved to the shared backend at shutdown."""
        self.rooms_restored = 0
        """Saved rooms this process restored."""
        self.remote_calls = 0
        """Requests this process sent to others (seats, room calls)."""
        self.seats_reserved = 0
        """Seats reserved by create and the joins (not reconnections)."""
        self.reservations_expired = 0
        """Seats never redeemed before the room's ``seat_reservation_timeout``."""


class HostedRoom:
    """The registry's record of one room this process hosts: the room and its loop, the options
    it was created with, its seats not yet redeemed, and what its listing last said."""

    __slots__ = (
        "created_at",
        "fingerprint",
        "listing_error",
        "loop",
        "metadata",
        "options",
        "pending",
        "published_clients",
        "room",
        "room_type",
        "seen",
    )

    def __init__(
        self, room: Room, room_type: RoomType, options: dict[str, Any], loop: TickLoop, now: float
    ) -> None:
        self.room = room
        self.room_type = room_type
        self.options = options
        """The options the room was created with (``filter_by`` compares them)."""
        self.loop = loop
        self.created_at = now
        self.pending: dict[str, Client] = {}
        """Seats reserved here and not yet seen redeemed or expired, by seat token."""
        self.seen: tuple[int, int, bool, bool] | None = None
        """(seats_version, max_clients, locked, private) at the last listing check: while it
        and the metadata are unchanged, the seat count is not recounted."""
        self.fingerprint: tuple[int, int, bool, bool] | None = None
        """(players, max_clients, locked, private) as last queued for publication."""
        self.metadata: dict[str, Any] = {}
        """A deep copy of the room's metadata as last queued for publication."""
        self.published_clients = 0
        """Players counted in the backend's presence counter for this room."""
        self.listing_error: Exception | None = None
        """Why the last write of its listing failed (None once one succeeds): the backend may
        not show its latest seats."""

    def joinable(self, options: dict[str, Any]) -> bool:
        """Whether matchmaking may seat a player who asks with ``options``: the room is public,
        has a free seat, and its creation options equal ``options`` on every ``filter_by``
        key."""
        room = self.room
        return (
            not room.private
            and room.has_free_seat()
            and all(options.get(key) == self.options.get(key) for key in self.room_type.filter_by)
        )

    def reconnectable(self, token: str) -> Client | None:
        """The joined or dropped client whose reconnect token is ``token``, or None."""
        client = self.room._tokens.get(token)
        if (
            client is None
            or client.reconnect_token != token
            or client.status not in (ClientStatus.JOINED, ClientStatus.DROPPED)
        ):
            return None
        return client
