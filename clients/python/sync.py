"""``SyncGameClient``: the asyncio client from plain, blocking code (scripts, notebooks, agents).

    with SyncGameClient("http://127.0.0.1:8000") as client:
        room = client.join_or_create("arena", {"name": "ada"})
        seq = room.send_input({"dx": 1, "dy": 0})
        room.wait_for(lambda r: r.last_seq >= seq, timeout=2)
        print(room.state["players"][room.session_id])
        room.leave()

An event loop runs in one background (daemon) thread; every method hands its work to that loop
and blocks until it is done, or its timeout passes. ``state`` returns a deep copy made on the
loop's thread, so it is consistent and never changes under the caller. Callbacks registered
with ``on_*`` run on the loop's thread: keep them short, and do not call blocking methods of
this client from them.

Owns: the loop thread and the blocking facade. Must never: touch a RoomConnection from the
calling thread (everything goes through the loop).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import functools
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from clients.python.client import GameClient
from clients.python.events import (
    ConnectionStats,
    Latency,
    Left,
    MessageReceived,
    RoomEvent,
    StateChange,
)
from clients.python.room import RoomConnection

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0


class _LoopThread:
    """An asyncio event loop running forever in a daemon thread, until ``stop()``."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        """Run ``coro`` on the loop; wait for its result (TimeoutError after ``timeout``)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError("timed out") from None

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` on the loop's thread and return what it returns."""

        async def call() -> T:
            return function(*args)

        return self.run(call(), DEFAULT_TIMEOUT)

    def stop(self) -> None:
        """Stop the loop (after cancelling what still runs on it) and join the thread."""
        if not self.loop.is_running():
            return

        async def cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        self.run(cancel_rest(), DEFAULT_TIMEOUT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(DEFAULT_TIMEOUT)
        self.loop.close()


class SyncRoom:
    """A blocking facade over one RoomConnection (see the module docstring)."""

    def __init__(self, room: RoomConnection, runner: _LoopThread, max_events: int) -> None:
        self.room = room
        """The underlying RoomConnection: touch it only from the loop's thread."""
        self._runner = runner
        self._events: deque[RoomEvent] = deque(maxlen=max_events)
        self._lock = threading.Lock()
        runner.call(self._watch)

    def _watch(self) -> None:
        def keep(event: Any) -> None:
            with self._lock:
                self._events.append(event)

        for subscribe in (self.room.on_state_change, self.room.on_error, self.room.on_leave):
            subscribe(keep)
        self.room.on_message(lambda kind, payload: keep(MessageReceived(kind, payload)))
        self.room.on_reconnect(keep)

    @property
    def room_id(self) -> str:
        """The room's id."""
        return self.room.room_id

    @property
    def session_id(self) -> str:
        """This client's session id in the room."""
        return self.room.session_id

    @property
    def tick(self) -> int:
        """The tick of the last state applied."""
        return self.room.tick

    @property
    def last_seq(self) -> int:
        """The last input the server processed."""
        return self.room.last_seq

    @property
    def connected(self) -> bool:
        """True while joined over a live socket."""
        return self.room.connected

    @property
    def closed(self) -> Left | None:
        """The Left event once the connection ended."""
        return self.room.closed

    @property
    def stats(self) -> ConnectionStats:
        """The connection's counters (read without copying)."""
        return self.room.stats

    @property
    def state(self) -> dict[str, Any]:
        """A deep copy of the room state as this client sees it."""
        return self._runner.call(copy.deepcopy, self.room.state)

    def view(self) -> tuple[int, int, dict[str, Any]]:
        """``(tick, last_seq, state copy)`` taken together."""

        def take() -> tuple[int, int, dict[str, Any]]:
            return self.room.tick, self.room.last_seq, copy.deepcopy(self.room.state)

        return self._runner.call(take)

    def poll_events(self) -> list[RoomEvent]:
        """Events since the last call (state changes, messages, errors, reconnections, leave),
        oldest first; at most ``max_events`` are kept between calls."""
        with self._lock:
            events = list(self._events)
            self._events.clear()
        return events

    def send_input(self, payload: Any) -> int:
        """Send an input; returns its sequence number."""
        return self._runner.call(self.room.send_input, payload)

    def send(self, kind: str | int, payload: Any = None) -> None:
        """Send an application message."""
        self._runner.call(self.room.send, kind, payload)

    def request(self, kind: str | int, payload: Any = None, *, timeout: float = 10.0) -> Any:
        """Send a request and return the answer (RequestError, RequestTimeoutError)."""
        return self._runner.run(self.room.request(kind, payload, timeout=timeout), timeout + 5)

    def latency(self, samples: int = 1, *, timeout: float = 5.0) -> Latency:
        """Ping the room (see ``RoomConnection.latency``)."""
        return self._runner.run(
            self.room.latency(samples, timeout=timeout), timeout * max(1, samples) + 5
        )

    def wait_for(self, predicate: Callable[[RoomConnection], bool], timeout: float = 10.0) -> None:
        """Block until ``predicate(room)`` is true (it runs on the loop's thread)."""
        self._runner.run(self.room.wait_for(predicate, timeout), timeout + 5)

    def wait_for_state(self, after_tick: int, timeout: float = 10.0) -> StateChange | None:
        """Block until a state newer than ``after_tick`` is applied; returns the last
        StateChange seen by then (None if only older events were kept)."""
        self.wait_for(lambda room: room.tick > after_tick, timeout)
        with self._lock:
            changes = [e for e in self._events if isinstance(e, StateChange)]
        return changes[-1] if changes else None

    def leave(self, *, timeout: float = 5.0) -> Left:
        """Leave the room and wait until the connection ended."""
        return self._runner.run(self.room.leave(timeout=timeout), timeout + 5)

    def drop(self) -> None:
        """Cut the socket as a network failure would (the connection reconnects)."""
        self._runner.call(self.room.drop)


class SyncGameClient:
    """A blocking GameClient: the same methods, without ``await``. Options as for GameClient;
    ``timeout`` bounds each blocking call."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_events: int = 1024,
        **options: Any,
    ) -> None:
        self.timeout = timeout
        self.max_events = max_events
        self._runner = _LoopThread("tickroom-client")
        self.client: GameClient = self._runner.call(
            functools.partial(GameClient, base_url, **options)
        )
        self._closed = False

    def __enter__(self) -> SyncGameClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _room(self, coro: Coroutine[Any, Any, RoomConnection]) -> SyncRoom:
        return SyncRoom(self._runner.run(coro, self.timeout), self._runner, self.max_events)

    def join_or_create(self, room_name: str, options: dict[str, Any] | None = None) -> SyncRoom:
        """Join a room of type ``room_name`` with a free seat, or create one."""
        return self._room(self.client.join_or_create(room_name, options))

    def create(
        self, room_name: str, options: dict[str, Any] | None = None, *, spectator: bool = False
    ) -> SyncRoom:
        """Create a room of type ``room_name`` and join it."""
        return self._room(self.client.create(room_name, options, spectator=spectator))

    def join(self, room_name: str, options: dict[str, Any] | None = None) -> SyncRoom:
        """Join an existing room of type ``room_name``."""
        return self._room(self.client.join(room_name, options))

    def join_by_id(
        self, room_id: str, options: dict[str, Any] | None = None, *, spectator: bool = False
    ) -> SyncRoom:
        """Join room ``room_id``."""
        return self._room(self.client.join_by_id(room_id, options, spectator=spectator))

    def reconnect(self, room_id: str, reconnect_token: str) -> SyncRoom:
        """Resume a session with its reconnect token."""
        return self._room(self.client.reconnect(room_id, reconnect_token))

    def close(self) -> None:
        """Leave every room, close the HTTP client and stop the loop thread."""
        if self._closed:
            return
        self._closed = True
        try:
            self._runner.run(self.client.aclose(), self.timeout)
        finally:
            self._runner.stop()
