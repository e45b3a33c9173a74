"""``RedisBackend``: the registry backend that several server processes share, over one Redis.

    backend = RedisBackend.from_url("redis://127.0.0.1:6379/0", ttl=10.0)
    registry = RoomRegistry(clock, backend, public_url="http://10.0.0.7:8001")

Besides the ``RegistryBackend`` interface it implements the registry's ``SharedBackend``
protocol: a heartbeat, a request channel per process, and storage for saved rooms.

Theory of operation. Every key starts with ``prefix`` (``tickroom:``)::

    room:<room_id>          a listing (JSON), expires after ``ttl`` unless its owner beats
    rooms, rooms:<name>     sorted sets of room ids in publication order (dead ids pruned lazily)
    seq                     the publication counter those sets are sorted by
    alive:<pid>             the process is alive: {"url": ...}, expires after ``ttl``
    proc:<pid>:rooms        the process's room ids (its heartbeat refreshes their expiry)
    proc:<pid>:counters     its presence counters (key -> players), expires with it
    procs                   process ids seen (pruned when their alive key is gone)
    lock:<key>              a matchmaking lock: SET NX PX with a random token, Lua release
    saved:<room_id>         a room saved at shutdown, expires after ``saved_ttl``

Each process refreshes its keys every ``ttl / 3`` seconds in one Lua call. A process that dies
stops refreshing, so its listings and counters disappear within ``ttl``: no sweeper is needed.
When the heartbeat finds its ``alive`` key gone (Redis restarted, or the process stalled for
longer than ``ttl``) it clears the process's leftovers and calls the registry's ``rejoined``
callback, which publishes every room again.

Requests between processes go over pub/sub, one channel per process (``proc:<pid>``): a
process subscribes to its own channel only and never decodes traffic meant for others. A
request ``{"id", "from", "method", "args"}`` is answered on the caller's channel with ``{"id",
"reply"}``; the caller waits ``timeout`` seconds at most. Messages are msgpack.

Failures. Every Redis command of a ``RegistryBackend`` or ``SharedBackend`` method goes through
``_io``, which turns redis-py's errors (refused, timed out, lost, or an error reply) into
``BackendUnavailableError`` with the cause chained: the registry then answers 503 without
knowing Redis. ``TimeoutError`` keeps its own meanings (a busy lock, a process that does not
answer). The background tasks catch the failure, log it once per outage and retry.

Must never: hold a Room, a Client or a socket (only plain data crosses it), block the event loop,
or let a Redis failure escape a background task (the heartbeat and the listener retry).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

import msgpack
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from game_server.backends.base import (
    BackendUnavailableError,
    RegistryBackend,
    RequestHandler,
    RoomListing,
)
from game_server.backends.key_locks import KeyLocks

logger = logging.getLogger("game_server.backends.redis")

T = TypeVar("T")

RETRY_DELAY = 0.5
"""Seconds the listener waits before subscribing again after a Redis failure."""
LOCK_POLL = (0.002, 0.05)
"""First and longest wait between two tries to take a busy lock (doubling, with jitter)."""

_PUBLISH = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
if not redis.call('ZSCORE', KEYS[2], ARGV[2]) then
  local seq = redis.call('INCR', KEYS[4])
  redis.call('ZADD', KEYS[2], seq, ARGV[2])
  redis.call('ZADD', KEYS[3], seq, ARGV[2])
end
redis.call('SADD', KEYS[5], ARGV[2])
redis.call('PEXPIRE', KEYS[5], ARGV[3])
"""
"""KEYS: room, rooms, rooms:<name>, seq, proc rooms. ARGV: listing, room id, ttl ms."""

_REMOVE = """
local data = redis.call('GET', KEYS[1])
if data then
  redis.call('ZREM', ARGV[2] .. 'rooms:' .. cjson.decode(data)['name'], ARGV[1])
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
"""
"""KEYS: room, rooms, proc rooms. ARGV: room id, prefix."""

_QUERY = """
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local data = redis.call('GET', ARGV[1] .. 'room:' .. id)
  if data then out[#out + 1] = data else redis.call('ZREM', KEYS[1], id) end
end
return out
"""
"""KEYS: an index. ARGV: prefix. Listings in order; ids whose listing expired are pruned."""

_HEARTBEAT = """
local old = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'GET')
if not old then
  redis.call('DEL', KEYS[2], KEYS[3])
end
redis.call('SADD', KEYS[4], ARGV[4])
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('PEXPIRE', ARGV[3] .. 'room:' .. id, ARGV[2])
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
if old then return 1 else return 0 end
"""
"""KEYS: alive, proc rooms, proc counters, procs. ARGV: info, ttl ms, prefix, pid. Returns 0
when the alive key was missing (the process starts afresh: its leftovers are cleared)."""

_INCR = """
local value = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if value == 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return value
"""
"""KEYS: proc counters. ARGV: counter, delta, ttl ms."""

_PRESENCE = """
local out = {}
for _, pid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. 'alive:' .. pid) == 1 then
    local value = redis.call('HGET', ARGV[1] .. 'proc:' .. pid .. ':counters', ARGV[2])
    out[#out + 1] = pid
    out[#out + 1] = value or '0'
  else
    redis.call('SREM', KEYS[1], pid)
  end
end
return out
"""
"""KEYS: procs. ARGV: prefix, counter. Flat [pid, value, ...] of live processes; dead ones are
pruned from ``procs``."""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
"""KEYS: lock. ARGV: token. Deletes the lock only if this holder still owns it."""


class RedisBackend(RegistryBackend):
    """Listings, locks, presence, requests and saved rooms in Redis (see the module docstring).

    ``ttl``: seconds after which a silent process's listings and counters are gone.
    ``lock_ttl``: seconds a matchmaking lock lives if its holder dies (keep it above the
    longest find-or-create, remote calls included). ``lock_timeout``: seconds a caller waits
    for a busy lock before TimeoutError. ``saved_ttl``: seconds a saved room waits to be
    restored.
    """

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "tickroom:",
        ttl: float = 10.0,
        lock_ttl: float = 10.0,
        lock_timeout: float = 10.0,
        saved_ttl: float = 3600.0,
    ) -> None:
        if ttl <= 0 or lock_ttl <= 0 or lock_timeout <= 0 or saved_ttl <= 0:
            raise ValueError("ttl, lock_ttl, lock_timeout and saved_ttl must be positive")
        self.client = client
        self.prefix = prefix
        self.ttl = ttl
        self.lock_ttl = lock_ttl
        self.lock_timeout = lock_timeout
        self.saved_ttl = saved_ttl
        self.process_id = "_"
        """Set by ``register_process``; presence counters are kept per process."""
        self.url = ""
        self.heartbeats = 0
        """Heartbeats written (a test and the metrics read it)."""
        self.rejoins = 0
        """Times the heartbeat found this process gone from Redis and registered it again."""
        self._scripts = {
            name: client.register_script(source)
            for name, source in (
                ("publish", _PUBLISH),
                ("remove", _REMOVE),
                ("query", _QUERY),
                ("heartbeat", _HEARTBEAT),
                ("incr", _INCR),
                ("presence", _PRESENCE),
                ("release", _RELEASE),
            )
        }
        self._locks = KeyLocks()
        self._handler: RequestHandler | None = None
        self._rejoined: Callable[[], None] | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._subscribed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._background: list[asyncio.Task[None]] = []
        self._healthy = True

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisBackend:
        """A backend on a new client for ``url`` (``redis://host:port/db``). ``options`` are
        the constructor's keyword arguments. A command that finds its pooled connection
        closed (Redis restarted) is sent once more on a new one; a timeout is not retried, so a
        silent Redis fails a command within ``socket_timeout`` (connecting: 2 s)."""
        client = Redis.from_url(
            url,
            socket_timeout=5.0,
            socket_connect_timeout=2.0,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            retry_on_error=[RedisConnectionError],
        )
        return cls(client, **options)

    # -- keys ------------------------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _proc(self, process_id: str, what: str) -> str:
        return self._key("proc", process_id, what)

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))

    async def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        return await _io(self._scripts[script](keys=keys, args=args))

    # -- RegistryBackend -------------------------------------------------------------------------

    async def publish(self, listing: RoomListing) -> None:
        """Store ``listing`` with this process's ttl (a new room goes last in the indexes)."""
        room_id = listing.room_id
        await self._run(
            "publish",
            [
                self._key("room", room_id),
                self._key("rooms"),
                self._key("rooms", listing.name),
                self._key("seq"),
                self._proc(self.process_id, "rooms"),
            ],
            [json.dumps(listing.to_dict()), room_id, self._ttl_ms],
        )

    async def remove(self, room_id: str) -> None:
        """Forget the listing of ``room_id``."""
        await self._run(
            "remove",
            [self._key("room", room_id), self._key("rooms"), self._proc(self.process_id, "rooms")],
            [room_id, self.prefix],
        )

    async def get(self, room_id: str) -> RoomListing | None:
        """The listing of ``room_id`` (None once its process stopped beating for ``ttl``)."""
        data = await _io(self.client.get(self._key("room", room_id)))
        return None if data is None else RoomListing.from_dict(json.loads(data))

    async def query(
        self, name: str | None = None, metadata: dict[str, Any] | None = None
    ) -> list[RoomListing]:
        """Live listings of type ``name`` whose metadata matches ``metadata``, oldest first."""
        index = self._key("rooms", name) if name is not None else self._key("rooms")
        wanted = (metadata or {}).items()
        listings = [
            RoomListing.from_dict(json.loads(data))
            for data in await self._run("query", [index], [self.prefix])
        ]
        return [
            listing
            for listing in listings
            if all(key in listing.metadata and listing.metadata[key] == v for key, v in wanted)
        ]

    def lock(self, key: str) -> AbstractAsyncContextManager[None]:
        """Exclusive across processes: one holder per process at a time (an asyncio lock),
        then ``SET lock:<key> <token> NX PX lock_ttl``, polled until ``lock_timeout``
        (TimeoutError). Released by a Lua script that checks the token."""
        return self._hold(key)

    @asynccontextmanager
    async def _hold(self, key: str) -> AsyncIterator[None]:
        async with self._locks.hold(key):
            name = self._key("lock", key)
            token = secrets.token_hex(16)
            await self._acquire(name, token)
            try:
                yield
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await self._run("release", [name], [token])

    async def _acquire(self, name: str, token: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lock_timeout
        delay, longest = LOCK_POLL
        ttl_ms = max(1, int(self.lock_ttl * 1000))
        while not await _io(self.client.set(name, token, nx=True, px=ttl_ms)):
            if loop.time() >= deadline:
                raise TimeoutError("matchmaking lock is busy")
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, longest)

    async def incr(self, key: str, delta: int = 1) -> int:
        """Add ``delta`` to this process's share of counter ``key``; returns that share."""
        value = await self._run(
            "incr", [self._proc(self.process_id, "counters")], [key, delta, self._ttl_ms]
        )
        return int(value)

    async def counter(self, key: str) -> int:
        """Counter ``key`` summed over the live processes."""
        return sum((await self.presence(key)).values())

    async def close(self) -> None:
        """Stop the heartbeat and the listener, fail pending calls, delete this process's keys
        (its listings were removed by the registry) and close the client."""
        for task in [*self._background, *self._tasks]:
            task.cancel()
        await asyncio.gather(*self._background, *self._tasks, return_exceptions=True)
        self._background.clear()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(TimeoutError("backend closed"))
        self._pending.clear()
        if self._handler is not None:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                await asyncio.wait_for(
                    self.client.delete(
                        self._key("alive", self.process_id),
                        self._proc(self.process_id, "rooms"),
                        self._proc(self.process_id, "counters"),
                    ),
                    2.0,
                )
        await self.client.aclose()

    # -- SharedBackend: processes ----------------------------------------------------------------

    async def register_process(
        self,
        process_id: str,
        url: str,
        handler: RequestHandler,
        rejoined: Callable[[], None],
    ) -> None:
        """Announce this process (``url`` is where its clients connect), start its heartbeat
        and subscribe to its channel; returns once subscribed. ``handler`` answers requests;
        ``rejoined`` is called when the process had to register again (publish everything)."""
        self.process_id = process_id
        self.url = url
        self._handler = handler
        self._rejoined = rejoined
        await self._beat()
        loop = asyncio.get_running_loop()
        self._background = [
            loop.create_task(self._beat_forever(), name=f"redis:heartbeat:{process_id}"),
            loop.create_task(self._listen_forever(), name=f"redis:listen:{process_id}"),
        ]
        await asyncio.wait_for(self._subscribed.wait(), self.ttl)

    async def _beat(self) -> bool:
        """Refresh this process's keys; True if they were still there."""
        pid = self.process_id
        info = json.dumps({"url": self.url})
        kept = await self._run(
            "heartbeat",
            [
                self._key("alive", pid),
                self._proc(pid, "rooms"),
                self._proc(pid, "counters"),
                self._key("procs"),
            ],
            [info, self._ttl_ms, self.prefix, pid],
        )
        self.heartbeats += 1
        return bool(kept)

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                kept = await self._beat()
            except (RedisError, OSError) as exc:
                if self._healthy:
                    logger.warning("redis: heartbeat failed (%s); retrying", exc)
                self._healthy = False
                continue
            if not self._healthy:
                logger.info("redis: heartbeat restored")
            self._healthy = True
            if not kept:
                self.rejoins += 1
                logger.warning("redis: this process was gone from redis; registering again")
                if self._rejoined is not None:
                    self._rejoined()

    async def process_url(self, process_id: str) -> str | None:
        """The URL a live process advertised, or None."""
        data = await _io(self.client.get(self._key("alive", process_id)))
        if data is None:
            return None
        url: str = json.loads(data)["url"]
        return url

    async def presence(self, key: str) -> dict[str, int]:
        """Counter ``key`` of each live process, by process id (zeros included)."""
        flat = await self._run("presence", [self._key("procs")], [self.prefix, key])
        pairs = zip(flat[::2], flat[1::2], strict=True)
        return {_text(pid): int(value) for pid, value in pairs}

    # -- SharedBackend: requests -----------------------------------------------------------------

    async def call(
        self, process_id: str, method: str, args: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        """Ask process ``process_id`` to run ``method`` with ``args``; its handler's reply.
        Raises TimeoutError when nobody listens on its channel or no answer comes in time."""
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            payload = {"id": request_id, "from": self.process_id, "method": method, "args": args}
            channel = self._key("proc", process_id)
            receivers = await _io(self.client.publish(channel, _pack(payload)))
            if not receivers:
                raise TimeoutError("process did not answer")
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise TimeoutError("process did not answer") from None
        finally:
            self._pending.pop(request_id, None)

    async def _listen_forever(self) -> None:
        channel = self._key("proc", self.process_id)
        lost = False
        while True:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(channel)
                self._subscribed.set()
                if lost:
                    logger.info("redis: channel %s subscribed again", channel)
                lost = False
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._dispatch(message["data"])
            except (RedisError, OSError) as exc:
                if not lost:
                    logger.warning("redis: channel %s lost (%s); subscribing again", channel, exc)
                lost = True
                await asyncio.sleep(RETRY_DELAY)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]  # typed in redis 8.2

    def _dispatch(self, data: bytes) -> None:
        try:
            message = msgpack.unpackb(data, raw=False)
            request_id = int(message["id"])
        except (ValueError, TypeError, KeyError, msgpack.UnpackException):
            logger.warning("redis: undecodable message on this process's channel")
            return
        if "reply" in message:
            future = self._pending.get(request_id)
            if future is not None and not future.done():
                future.set_result(dict(message["reply"]))
            return
        task = asyncio.get_running_loop().create_task(self._answer(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, message: dict[str, Any]) -> None:
        handler = self._handler
        assert handler is not None  # subscribed only after register_process set it
        try:
            reply = await handler(str(message["method"]), dict(message["args"]))
        except Exception:
            logger.exception("redis: request %r failed", message.get("method"))
            reply = {"error": {"type": "RoomError", "message": "remote call failed"}}
        payload = {"id": message["id"], "reply": reply}
        with contextlib.suppress(RedisError, OSError):
            await self.client.publish(self._key("proc", str(message["from"])), _pack(payload))

    # -- SharedBackend: saved rooms --------------------------------------------------------------

    async def save_room(self, room_id: str, data: bytes) -> None:
        """Keep a saved room for ``saved_ttl`` seconds."""
        ttl_ms = max(1, int(self.saved_ttl * 1000))
        await _io(self.client.set(self._key("saved", room_id), data, px=ttl_ms))

    async def load_room(self, room_id: str) -> bytes | None:
        """The saved room ``room_id``, or None."""
        data = await _io(self.client.get(self._key("saved", room_id)))
        if data is None:
            return None
        return data.encode() if isinstance(data, str) else bytes(data)

    async def delete_saved_room(self, room_id: str) -> None:
        """Forget the saved room ``room_id`` (it was restored)."""
        await _io(self.client.delete(self._key("saved", room_id)))


async def _io(command: Awaitable[T]) -> T:
    """The result of one Redis command; a failure to get it raises BackendUnavailableError."""
    try:
        return await command
    except (RedisError, OSError) as exc:
        raise BackendUnavailableError(f"redis: {exc}") from exc


def _pack(payload: dict[str, Any]) -> bytes:
    packed: bytes = msgpack.packb(payload, use_bin_type=True)
    return packed


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
