"""What a ``RoomConnection`` reports, and the small value types it is configured with.

Events (frozen, slotted dataclasses) reach callbacks and the ``events()`` async iterator in the
order things happened: ``StateChange`` after each state frame is applied, ``MessageReceived``,
``ErrorReceived``, ``Reconnecting``/``Reconnected`` around a resumed session, and ``Left`` last.

Owns: the event types, ``ReconnectPolicy``, ``Latency`` and ``ConnectionStats``. Must never:
do I/O or hold behaviour beyond arithmetic on its own fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clients.python.errors import ClientError

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class StateChange:
    """A FULL_STATE or PATCH was applied. ``state`` is the connection's live state dict (read it
    now; copy what you keep). ``changes`` lists the paths a patch set, deleted or edited; a full
    state has ``full=True`` and no changes listed."""

    tick: int
    last_seq: int
    full: bool
    changes: tuple[Path, ...]
    state: dict[str, Any] = field(repr=False, compare=False)
    received_at: float = 0.0
    """``time.perf_counter()`` when the frame was read."""


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """An application message from the room."""

    kind: str | int
    payload: Any


@dataclass(frozen=True, slots=True)
class ErrorReceived:
    """An ERROR frame: the room refused something this client sent (the connection stays)."""

    code: int
    message: str


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """The connection dropped with ``close_code``; attempt ``attempt`` starts after ``delay``
    seconds."""

    attempt: int
    delay: float
    close_code: int


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The session was resumed after ``attempts`` attempts; state frames continue."""

    attempts: int
    tick: int


@dataclass(frozen=True, slots=True)
class Left:
    """The connection ended for good: the last event. ``consented`` when this client left on
    purpose; otherwise ``error`` says why (a DisconnectedError or a MatchmakeError)."""

    code: int
    reason: str
    consented: bool
    error: ClientError | None = None


RoomEvent = StateChange | MessageReceived | ErrorReceived | Reconnecting | Reconnected | Left


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """How a dropped connection is resumed.

    Attempt ``n`` (from 1) waits ``min(max_delay, min_delay * factor ** (n - 1))`` seconds, plus
    up to ``jitter`` of that at random, then opens the room's socket and sends RECONNECT; after
    ``retries`` failed attempts the connection ends with ReconnectFailedError. ``retries=0``
    turns reconnection off. While disconnected, at most ``max_queued`` outgoing messages and
    requests wait (the oldest is dropped beyond that) and at most ``max_unacked`` inputs are kept.
    """

    retries: int = 8
    min_delay: float = 0.1
    max_delay: float = 5.0
    factor: float = 2.0
    jitter: float = 0.1
    attempt_timeout: float = 10.0
    """Seconds one attempt may take to be welcomed."""
    max_queued: int = 64
    max_unacked: int = 1024

    def __post_init__(self) -> None:
        if self.retries < 0 or self.min_delay < 0 or self.max_delay < self.min_delay:
            raise ValueError("retries and delays must be non-negative, min_delay <= max_delay")
        if self.factor < 1 or not 0 <= self.jitter <= 1:
            raise ValueError("factor must be at least 1 and jitter within 0..1")
        if self.max_queued < 1 or self.max_unacked < 1 or self.attempt_timeout <= 0:
            raise ValueError("queue bounds and attempt_timeout must be positive")

    def delay(self, attempt: int, random_fraction: float = 0.0) -> float:
        """Seconds to wait before attempt ``attempt`` (1, 2, ...)."""
        base = min(self.max_delay, self.min_delay * self.factor ** max(0, attempt - 1))
        return base * (1.0 + self.jitter * random_fraction)


NO_RECONNECT = ReconnectPolicy(retries=0)
"""A policy that never reconnects."""


@dataclass(frozen=True, slots=True)
class Latency:
    """One ping: round-trip time and the server's clock minus ours, both in milliseconds."""

    rtt_ms: float
    offset_ms: float


@dataclass(slots=True)
class ConnectionStats:
    """Counters of one RoomConnection, across its reconnections."""

    messages_received: int = 0
    """WebSocket messages read."""
    bytes_received: int = 0
    states_received: int = 0
    full_states: int = 0
    inputs_sent: int = 0
    """Input frames written (re-sent inputs count again)."""
    messages_sent: int = 0
    reconnects: int = 0
    resyncs: int = 0
    """Patches that did not apply, each repaired by asking for a full state."""
    queued_dropped: int = 0
    """Outgoing messages dropped because the queue was full while disconnected."""
    inputs_dropped: int = 0
    """Unacknowledged inputs forgotten beyond ``max_unacked``."""
    events_dropped: int = 0
    """Events an ``events()`` iterator had no room for (it fell behind)."""
    callback_errors: int = 0
