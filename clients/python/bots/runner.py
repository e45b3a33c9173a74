"""``BotRunner``: R rooms x P players of real clients, inputs at a fixed rate, measured.

Theory of operation. Joins are staggered: join number ``k`` starts ``k * stagger`` seconds after
the run starts. The first bot of each room creates it (``create``); the room's other bots join
it by id once it exists, so the run fills exactly R rooms of P players whatever else the server
hosts. Then one input task sends every bot's inputs at ``rate`` per second, bots spread over 10
slots per period (as ``../shared/bench/node/botlib.cjs`` does), until ``duration`` has passed.
Every loop is bounded: joins by count and ``join_timeout``, inputs by ``duration``, leaving by a
timeout.

Each bot remembers when it sent each input; its state callback turns ``last_seq`` into latency
samples (sent ``seq N`` -> first state with ``last_seq >= N``) and records the gap since its
previous state. Measurement is on while ``recording`` is set: from when every join has
finished to the end (the driver mode sets it from ``START`` to ``STOP`` instead).

Owns: ``BotConfig``, ``Bot`` and ``BotRunner``. Must never: import ``game_server``; block the
event loop (strategies run inline and must be quick).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clients.python.bots.report import BotReport, Histogram, RunTotals
from clients.python.bots.strategies import RandomWalk, Step, Strategy
from clients.python.client import GameClient
from clients.python.errors import ClientError
from clients.python.events import ErrorReceived, Left, ReconnectPolicy, StateChange
from clients.python.room import RoomConnection

SLOTS = 10
"""Input slots per period: bots are spread over them so inputs do not all leave at once."""
MAX_SENT_TIMES = 1024
"""Send times each bot keeps for inputs not yet acknowledged."""
MAX_FAILURES = 5


@dataclass
class BotConfig:
    """One run. ``rooms`` x ``players`` bots play ``duration`` seconds in rooms of type
    ``room`` on the server at ``url``."""

    url: str = "http://127.0.0.1:8000"
    room: str = "arena"
    rooms: int = 1
    players: int = 10
    duration: float = 10.0
    rate: float = 20.0
    """Inputs per second per bot."""
    stagger: float = 0.005
    """Seconds between the starts of consecutive joins."""
    join_timeout: float = 60.0
    options: dict[str, Any] = field(default_factory=dict)
    """Join options given to every bot (``name`` is added per bot)."""
    seed: int = 0
    room_offset: int = 0
    """Added to room numbers in bot names (several driver processes share one server)."""
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)

    def __post_init__(self) -> None:
        if self.rooms < 1 or self.players < 1:
            raise ValueError("rooms and players must be at least 1")
        if self.duration <= 0 or self.rate <= 0 or self.stagger < 0 or self.join_timeout <= 0:
            raise ValueError("duration, rate and join_timeout must be positive")


class Bot:
    """One simulated player and its measurements."""

    def __init__(self, runner: BotRunner, index: int, room: int) -> None:
        self.runner = runner
        self.index = index
        self.room = room
        self.connection: RoomConnection | None = None
        self.random = random.Random(f"{runner.config.seed}:{index}")
        self.step = 0
        self.sent_at: dict[int, float] = {}
        self.acked = 0
        self.last_state_at: float | None = None
        self.dropped = False
        self.bytes_at_start = 0

    def attach(self, connection: RoomConnection) -> None:
        """Watch ``connection``'s states, errors and end."""
        self.connection = connection
        connection.on_state_change(self._on_state)
        connection.on_error(self._on_error)
        connection.on_leave(self._on_leave)

    def send_input(self, strategy: Strategy) -> None:
        """Ask the strategy for this step's input and send it (only while connected)."""
        conn = self.connection
        if conn is None or not conn.connected:
            return
        step = Step(self.index, self.room, self.step, conn.state, conn.session_id, self.random)
        self.step += 1
        payload = strategy(step)
        if payload is None:
            return
        seq = conn.send_input(payload)
        self.sent_at[seq] = time.perf_counter()
        if len(self.sent_at) > MAX_SENT_TIMES:
            del self.sent_at[next(iter(self.sent_at))]
        if self.runner.recording:
            self.runner.totals.inputs_sent += 1

    def _on_state(self, change: StateChange) -> None:
        runner = self.runner
        now = change.received_at
        recording = runner.recording
        while self.acked < change.last_seq:
            self.acked += 1
            sent = self.sent_at.pop(self.acked, None)
            if sent is not None and recording:
                runner.latency.add((now - sent) * 1000.0)
        if recording:
            runner.totals.states_received += 1
            if self.last_state_at is not None:
                runner.gaps.add((now - self.last_state_at) * 1000.0)
        self.last_state_at = now

    def _on_error(self, error: ErrorReceived) -> None:
        self.runner.totals.errors += 1

    def _on_leave(self, left: Left) -> None:
        if not left.consented and not self.runner.stopping:
            self.dropped = True
            self.runner.totals.dropped += 1
            self.runner.failure(f"bot {self.index} dropped: {left.code} {left.reason}".strip())


class BotRunner:
    """Runs one ``BotConfig``: ``report = await BotRunner(config, strategy).run()``.

    ``progress``, if given, is called about twice a second with the runner (for a live line).
    """

    def __init__(
        self,
        config: BotConfig,
        strategy: Strategy | None = None,
        *,
        progress: Callable[[BotRunner], None] | None = None,
        client: GameClient | None = None,
    ) -> None:
        self.config = config
        self.strategy = strategy or RandomWalk()
        self.progress = progress
        self.totals = RunTotals(bots=config.rooms * config.players)
        self.latency = Histogram()
        self.gaps = Histogram()
        self.recording = False
        self.stopping = False
        self.started = 0.0
        self.window_start: float | None = None
        self.window_end: float | None = None
        self.bots: list[Bot] = []
        self._client = client
        self._stopped = False

    # -- phases ------------------------------------------------------------------------------

    async def run(self) -> BotReport:
        """Join, play ``duration`` seconds measuring everything, leave, report."""
        client = self._client or self.make_client()
        try:
            await self.join_all(client)
            self.start_recording()
            await self.play(self.config.duration)
            self.stop_recording()
            await self.leave_all()
        finally:
            if client is not self._client:
                await client.aclose()
        return self.report()

    def make_client(self) -> GameClient:
        """The GameClient for ``config`` (its reconnection policy and join timeout)."""
        return GameClient(
            self.config.url,
            reconnect=self.config.reconnect,
            join_timeout=self.config.join_timeout,
        )

    async def join_all(self, client: GameClient) -> None:
        """Join every bot, staggered, first bot of each room first; bounded by
        ``join_timeout``. Failures are counted, not raised."""
        config = self.config
        self.started = time.perf_counter()
        self.bots = [
            Bot(self, room * config.players + player, room)
            for room in range(config.rooms)
            for player in range(config.players)
        ]
        rooms = [self._join_room(client, room) for room in range(config.rooms)]
        try:
            await asyncio.wait_for(asyncio.gather(*rooms), config.join_timeout)
        except TimeoutError:
            self.failure("joins did not finish within the join timeout")
        self.totals.joined = sum(1 for bot in self.bots if bot.connection is not None)
        self.totals.failed = self.totals.bots - self.totals.joined

    async def _join_room(self, client: GameClient, room: int) -> None:
        config = self.config
        bots = self.bots[room * config.players : (room + 1) * config.players]
        first = bots[0]
        await self._wait_slot(first.index)
        try:
            conn = await client.create(config.room, self._options(first))
        except ClientError as exc:
            self.failure(f"bot {first.index} could not create a room: {exc}")
            return
        first.attach(conn)
        await asyncio.gather(*(self._join_bot(client, bot, conn.room_id) for bot in bots[1:]))

    async def _join_bot(self, client: GameClient, bot: Bot, room_id: str) -> None:
        await self._wait_slot(bot.index)
        try:
            bot.attach(await client.join_by_id(room_id, self._options(bot)))
        except ClientError as exc:
            self.failure(f"bot {bot.index} could not join: {exc}")

    async def _wait_slot(self, index: int) -> None:
        delay = self.started + index * self.config.stagger - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)

    def _options(self, bot: Bot) -> dict[str, Any]:
        name = f"bot{self.config.room_offset + bot.room}-{bot.index % self.config.players}"
        return {**self.config.options, "name": name}

    def start_recording(self) -> None:
        """Measure from now on (byte counts start here too)."""
        for bot in self.bots:
            if bot.connection is not None:
                bot.bytes_at_start = bot.connection.stats.bytes_received
        self.window_start = time.perf_counter()
        self.recording = True

    def stop_recording(self) -> None:
        """Stop measuring; bytes and reconnections are totalled here."""
        self.recording = False
        self.window_end = time.perf_counter()
        for bot in self.bots:
            if bot.connection is not None:
                stats = bot.connection.stats
                self.totals.bytes_received += stats.bytes_received - bot.bytes_at_start
                self.totals.reconnects += stats.reconnects

    async def play(self, duration: float) -> None:
        """Send inputs at ``rate`` for ``duration`` seconds (or until ``stop()``)."""
        loop = asyncio.get_running_loop()
        interval = 1.0 / (self.config.rate * SLOTS)
        steps = max(1, int(duration * self.config.rate * SLOTS))
        start = loop.time()
        next_progress = start
        bots = [bot for bot in self.bots if bot.connection is not None]
        for step in range(steps):
            if self._stopped:
                break
            delay = start + step * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            for bot in bots[step % SLOTS :: SLOTS]:
                try:
                    bot.send_input(self.strategy)
                except ClientError:
                    continue  # the connection just ended; its Left event counts it
            if self.progress is not None and loop.time() >= next_progress:
                next_progress += 0.5
                self.progress(self)

    def stop(self) -> None:
        """End ``play`` early (the driver mode's STOP)."""
        self._stopped = True

    async def leave_all(self, timeout: float = 10.0) -> None:
        """Every bot leaves (bounded by ``timeout`` in all)."""
        self.stopping = True
        rooms = [bot.connection for bot in self.bots if bot.connection is not None]
        leaves = [room.leave(timeout=timeout) for room in rooms if room.closed is None]
        if leaves:
            await asyncio.wait_for(asyncio.gather(*leaves, return_exceptions=True), timeout + 5)

    def failure(self, message: str) -> None:
        """Keep the first few failure messages for the summary."""
        if len(self.totals.failures) < MAX_FAILURES:
            self.totals.failures.append(message)

    def report(self) -> BotReport:
        """The run's figures."""
        start = self.window_start or self.started
        end = self.window_end or time.perf_counter()
        return BotReport(
            url=self.config.url,
            room=self.config.room,
            rooms=self.config.rooms,
            players=self.config.players,
            duration_s=self.config.duration,
            window_s=max(0.0, end - start),
            totals=self.totals,
            latency=self.latency,
            gaps=self.gaps,
        )

    def progress_line(self) -> str:
        """One line of live figures (what ``--progress`` prints on stderr)."""
        elapsed = time.perf_counter() - (self.window_start or self.started)
        t = self.totals
        p50, p99 = self.latency.percentile(0.5), self.latency.percentile(0.99)
        return (
            f"[{elapsed:6.1f}/{self.config.duration:.0f} s] joined {t.joined}/{t.bots} "
            f"dropped {t.dropped} inputs {t.inputs_sent} states {t.states_received} "
            f"latency p50 {_or_dash(p50)} p99 {_or_dash(p99)} ms"
        )


def _or_dash(value: float | None) -> str:
    return "-" if value is None else str(value)
