"""The registry fixtures: every registry and matchmaking test runs once per backend.

``registry`` is parametrised over ``memory`` and ``redis``. The Redis runs use one real
``redis-server`` for the whole session (``redis_server``), each test under its own key prefix,
so they never see each other's rooms. Without redis-server installed they fail, never skip.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from game_server.backends import MemoryBackend, RegistryBackend
from game_server.backends.redis import RedisBackend
from game_server.clock import ManualClock
from server.redis_server import RedisServer

BACKENDS = ("memory", "redis")

BackendFactory = Callable[..., RegistryBackend]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may stop or restart (never the session's)."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> str:
    """The session's redis-server (started on first use)."""
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


@pytest.fixture
def key_prefix() -> str:
    """A key prefix of this test's own."""
    return f"test:{secrets.token_hex(4)}:"


@pytest.fixture(params=BACKENDS)
def backend_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def make_backend(
    backend_kind: str, request: pytest.FixtureRequest, key_prefix: str
) -> BackendFactory:
    """``make_backend(**options)`` builds a new backend of this run's kind (Redis: all with
    this test's prefix, as the processes of one deployment share theirs)."""

    def make(**options: Any) -> RegistryBackend:
        if backend_kind == "memory":
            return MemoryBackend()
        url: str = request.getfixturevalue("redis_url")
        return RedisBackend.from_url(url, prefix=key_prefix, **options)

    return make


@pytest.fixture
async def redis_backend(redis_url: str, key_prefix: str) -> AsyncIterator[RedisBackend]:
    backend = RedisBackend.from_url(redis_url, prefix=key_prefix)
    try:
        yield backend
    finally:
        await backend.close()
