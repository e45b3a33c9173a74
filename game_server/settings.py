"""Server settings: one pydantic model, read from ``TICKROOM_*`` environment variables and
overridden by command-line flags (``python -m game_server run --help``).

Every edge default is the safe one: a 4 KiB frame limit, a per-client rate limit, Origin checks,
idle, join and acknowledgement timeouts, and no permessage-deflate. ``docs/reference/settings.md``
lists each setting; change them together.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_GAMES = (
    "arena=game_server.games.arena:Arena",
    "connect_four=game_server.games.connect_four:ConnectFour",
    "relay=game_server.games.relay:RelayRoom",
)


class Settings(BaseSettings):
    """Everything ``create_app`` needs. Environment: ``TICKROOM_<FIELD>`` (lists as JSON)."""

    model_config = SettingsConfigDict(env_prefix="TICKROOM_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: str = "info"
    public_url: str = ""
    """Base URL clients reach this process at (``https://games.example.com``); empty: taken
    from each request's Host header. Seat reservations' ``url`` is built from it."""
    game_port: int | None = Field(default=None, ge=0, le=65535)
    """Serve the game socket on this port with the dedicated fast transport (picows); seat
    reservations then point there. None: it is served on ``port`` (see ``fast_socket``)."""
    fast_socket: bool = True
    """The run command serves game sockets on ``port`` with the fast transport (picows): its
    HTTP port hands each ``GET /ws/...`` connection over. False: the FastAPI app serves them."""
    public_game_url: str = ""
    """Base URL (``wss://games.example.com:8001``) of the fast game socket as clients reach it;
    empty: the request's host with ``game_port``."""
    games: list[str] = Field(default_factory=lambda: list(DEFAULT_GAMES))
    """Room types to register, each ``name=module:RoomClass``."""
    tick_rate: float | None = Field(default=None, gt=0)
    """Overrides every registered room's ``tick_rate`` when set."""
    allowed_origins: list[str] = Field(default_factory=list)
    """Origins (``https://example.com``) allowed to open sockets, besides the server's own
    origin. Requests with no Origin header (bots, native clients) are allowed."""
    allow_any_origin: bool = False
    """Turn the Origin check off (development only)."""
    max_frame_size: int = Field(default=4096, ge=64, le=2**30)
    """Largest incoming frame in bytes; larger ones close the socket with MESSAGE_TOO_BIG. At
    most 1 GiB: C sizes are made from it (picows's frame limit, four times it; msgpack's
    streaming buffer, twice it), and from about 2**61 they overflowed."""
    join_timeout: float = Field(default=10.0, gt=0)
    """Seconds a new socket has to send JOIN or RECONNECT."""
    idle_timeout: float = Field(default=60.0, gt=0)
    """Seconds without any frame from a client before it is closed with IDLE_TIMEOUT."""
    ack_timeout: float = Field(default=10.0, gt=0)
    """Seconds a client may go without acknowledging newer state before TOO_SLOW."""
    ws_ping_interval: float = Field(default=20.0, gt=0)
    ws_ping_timeout: float = Field(default=20.0, gt=0)
    shutdown_timeout: float = Field(default=10.0, ge=0)
    """Seconds graceful shutdown waits for rooms to drain before closing everyone."""
    gc_threshold: int = Field(default=50_000, ge=0)
    """The run command's garbage collector: allocations between passes over the youngest
    generation (Python's default is 700), after freezing what startup built. 0: Python's own."""
    max_catch_up: int = Field(default=5, ge=1)
    """Ticks a late room loop may run back to back before it skips."""
    redis_url: str = ""
    """``redis://host:port/db`` of the Redis every process of one deployment shares (listings,
    matchmaking lock, presence, requests between processes, saved rooms); empty: the in-memory
    backend, one process."""
    redis_prefix: str = "tickroom:"
    """Prefix of every Redis key and channel (one per deployment sharing a Redis)."""
    process_id: str = ""
    """This process's name in listings and channels; empty: a random one at each start."""
    heartbeat_ttl: float = Field(default=10.0, gt=0)
    """Seconds after which the rooms of a process that stopped (crashed, killed) leave the
    listings; it beats every third of that."""
    remote_timeout: float = Field(default=2.0, gt=0)
    """Seconds a request to another process (a seat in its room, a remote room call) waits."""
    saved_room_ttl: float = Field(default=3600.0, gt=0)
    """Seconds a persistent room saved at shutdown waits in Redis to be restored."""
