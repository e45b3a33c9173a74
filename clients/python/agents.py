"""Gym-style environments for agents: the same interface headless and against a live server.

    env = HeadlessEnv(seed=7)                       # game_server.Simulation, no sockets
    env = LiveEnv("http://127.0.0.1:8000")          # a real room over GameClient
    observation = env.reset()
    done = False
    while not done:
        observation, reward, done, info = env.step(policy(observation))
    env.close()

An **observation** is the client's view: ``{"tick", "session_id", "last_seq", "state"}`` (the
state a deep copy), plus whatever the task adds (``ArenaTask`` adds ``me``, this player's body,
and ``target``). ``step(action)`` sends ``action`` as one input (``None`` sends nothing) and
returns once a state that includes it has arrived, and at least ``ticks_per_step`` ticks later
than the last one: steps are synchronised to the room's ticks, so an agent trained headless
plays online unchanged. Reward and done come from the **task**: ``reward(previous, action,
observation, step) -> (reward, done)``. The default, ``ArenaTask``, rewards the distance moved
toward a target drawn from the seed, and ends after ``max_steps`` or on arrival.

Owns: the two environments and the arena task. ``HeadlessEnv`` imports ``game_server`` lazily
(it wraps the simulation); ``LiveEnv`` uses only the client. Must never: sleep to wait for
ticks (headless steps the simulation; live waits on state frames, bounded by a timeout).
"""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from clients.python.room import RoomConnection
from clients.python.sync import SyncGameClient, SyncRoom

if TYPE_CHECKING:
    from game_server.room import Room
    from game_server.simulation import SimClient, Simulation

Observation = dict[str, Any]
StepResult = tuple[Observation, float, bool, dict[str, Any]]


class Task(Protocol):
    """What an episode is about: what it adds to observations, and its reward."""

    def reset(self, rng: random.Random) -> None:
        """A new episode starts (draw its goal from ``rng``)."""
        ...

    def observe(self, observation: Observation) -> Observation:
        """Add the task's own fields to ``observation`` (return it)."""
        ...

    def reward(
        self, previous: Observation, action: Any, observation: Observation, step: int
    ) -> tuple[float, bool]:
        """``(reward, done)`` for the ``step``-th action (from 1) that led to ``observation``."""
        ...


@dataclass
class ArenaTask:
    """Reach a target on the arena: reward = distance moved toward it this step; done after
    ``max_steps`` steps or within ``radius`` of it. The target is drawn in
    ``margin..size-margin`` from the episode's seed unless ``target`` is given."""

    max_steps: int = 200
    radius: float = 4.0
    size: float = 1000.0
    margin: float = 100.0
    target: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        self._goal = self.target or (self.size / 2, self.size / 2)

    def reset(self, rng: random.Random) -> None:
        """Draw this episode's target (unless fixed)."""
        low, high = self.margin, self.size - self.margin
        self._goal = self.target or (rng.uniform(low, high), rng.uniform(low, high))

    def observe(self, observation: Observation) -> Observation:
        """Add ``target`` and ``me`` (this player's ``{"x", "y"}``, or None)."""
        players = observation["state"].get("players") or {}
        body = players.get(observation["session_id"])
        observation["me"] = {"x": body["x"], "y": body["y"]} if body else None
        observation["target"] = {"x": self._goal[0], "y": self._goal[1]}
        return observation

    def distance(self, observation: Observation) -> float:
        """How far this player is from the target (infinite without a body)."""
        me = observation.get("me")
        if not me:
            return math.inf
        return math.hypot(me["x"] - self._goal[0], me["y"] - self._goal[1])

    def reward(
        self, previous: Observation, action: Any, observation: Observation, step: int
    ) -> tuple[float, bool]:
        """Distance gained toward the target; done at ``max_steps`` or on arrival."""
        before, after = self.distance(previous), self.distance(observation)
        gained = before - after if math.isfinite(before) and math.isfinite(after) else 0.0
        return gained, step >= self.max_steps or after <= self.radius


def _past_welcome(room: RoomConnection) -> bool:
    """Whether ``room`` applied a state newer than its WELCOME (its join is in it)."""
    return room.welcome is not None and room.tick > room.welcome.tick


def toward_target(observation: Observation) -> dict[str, float]:
    """A simple arena policy: head straight for the target (a baseline and a test agent)."""
    me, target = observation.get("me"), observation.get("target")
    if not me or not target:
        return {"dx": 0.0, "dy": 0.0}
    dx, dy = target["x"] - me["x"], target["y"] - me["y"]
    scale = max(abs(dx), abs(dy), 1e-9)
    return {"dx": max(-1.0, min(1.0, dx / scale)), "dy": max(-1.0, min(1.0, dy / scale))}


class _Env:
    """What both environments share: the task, the step count and the observation shape."""

    def __init__(self, task: Task | None, ticks_per_step: int) -> None:
        if ticks_per_step < 1:
            raise ValueError("ticks_per_step must be at least 1")
        self.task: Task = task or ArenaTask()
        self.ticks_per_step = ticks_per_step
        self.steps = 0
        self.observation: Observation = {}

    def _make_observation(
        self, tick: int, session_id: str, last_seq: int, state: dict[str, Any]
    ) -> Observation:
        observation = {"tick": tick, "session_id": session_id, "last_seq": last_seq, "state": state}
        return self.task.observe(observation)

    def _begin(self, seed: int | None, observation: Observation) -> Observation:
        self.task.reset(random.Random(seed))
        self.steps = 0
        self.observation = self.task.observe(observation)
        return self.observation

    def _finish_step(self, action: Any, observation: Observation) -> StepResult:
        self.steps += 1
        previous, self.observation = self.observation, observation
        reward, done = self.task.reward(previous, action, observation, self.steps)
        return observation, reward, done, {"tick": observation["tick"], "steps": self.steps}


class HeadlessEnv(_Env):
    """The environment over ``game_server.Simulation``: deterministic for a seed, thousands
    of steps a second. ``room_class`` defaults to the arena; ``options`` are the room's
    creation options, ``join_options`` this player's; ``latency`` is in ticks each way."""

    def __init__(
        self,
        room_class: type[Room] | None = None,
        *,
        seed: int = 0,
        task: Task | None = None,
        options: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        join_options: dict[str, Any] | None = None,
        ticks_per_step: int = 1,
        latency: int = 0,
        max_wait_ticks: int = 100,
    ) -> None:
        super().__init__(task, ticks_per_step)
        self.room_class = room_class
        self.seed = seed
        self.options = options
        self.settings = settings
        self.join_options = join_options or {"name": "agent"}
        self.latency = latency
        self.max_wait_ticks = max_wait_ticks
        self.sim: Simulation | None = None
        self.client: SimClient | None = None

    def reset(self, seed: int | None = None) -> Observation:
        """A fresh room seeded with ``seed`` (default: the constructor's), this agent joined
        and its first state applied."""
        from game_server.simulation import Simulation  # noqa: PLC0415  (lazy: server optional)

        room_class = self.room_class
        if room_class is None:
            from game_server.games.arena import Arena  # noqa: PLC0415

            room_class = Arena
        self.seed = self.seed if seed is None else seed
        self.sim = sim = Simulation(
            room_class, seed=self.seed, options=self.options, settings=self.settings
        )
        self.client = client = sim.join(self.join_options, latency=self.latency)
        sim.run_until(lambda: client.tick >= 0, max_ticks=self.max_wait_ticks)
        return self._begin(self.seed, self._observe())

    def _observe(self) -> Observation:
        client = self.client
        assert client is not None
        state = copy.deepcopy(client.state)
        return self._make_observation(client.tick, client.session_id, client.last_seq, state)

    def step(self, action: Any) -> StepResult:
        """Send ``action``, run the simulation until a state including it is applied (and at
        least ``ticks_per_step`` ticks), and score it."""
        sim, client = self.sim, self.client
        if sim is None or client is None:
            raise RuntimeError("call reset() first")
        seq = client.send_input(action) if action is not None else client.last_seq
        start = client.tick
        sim.run_until(
            lambda: client.last_seq >= seq and client.tick >= start + self.ticks_per_step,
            max_ticks=self.max_wait_ticks,
        )
        return self._finish_step(action, self._observe())

    def close(self) -> None:
        """Forget the simulation."""
        self.sim = self.client = None


class LiveEnv(_Env):
    """The environment over a live server: each ``reset`` joins a room of type ``room``
    (``method`` "create" for a room of its own, or "join_or_create"), each ``step`` waits for
    the state that includes the action (at most ``step_timeout`` seconds)."""

    def __init__(
        self,
        url: str,
        room: str = "arena",
        *,
        task: Task | None = None,
        options: dict[str, Any] | None = None,
        method: str = "create",
        ticks_per_step: int = 1,
        step_timeout: float = 5.0,
        client: SyncGameClient | None = None,
    ) -> None:
        super().__init__(task, ticks_per_step)
        if method not in ("create", "join_or_create"):
            raise ValueError("method must be create or join_or_create")
        self.room_name = room
        self.options = {"name": "agent", **(options or {})}
        self.method = method
        self.step_timeout = step_timeout
        self._own_client = client is None
        self.client = client or SyncGameClient(url)
        self.room: SyncRoom | None = None

    def reset(self, seed: int | None = None) -> Observation:
        """Leave the current room (if any), join a new one, return the first observation.
        ``seed`` draws the task's goal; the live room's own randomness is the server's."""
        if self.room is not None and self.room.closed is None:
            self.room.leave()
        join = self.client.create if self.method == "create" else self.client.join_or_create
        self.room = room = join(self.room_name, self.options)
        # The first state may predate the join: wait for the tick that processed it.
        room.wait_for(_past_welcome, self.step_timeout)
        return self._begin(seed, self._observe())

    def _observe(self) -> Observation:
        room = self.room
        assert room is not None
        tick, last_seq, state = room.view()
        return self._make_observation(tick, room.session_id, last_seq, state)

    def step(self, action: Any) -> StepResult:
        """Send ``action``, wait for the state that includes it (and at least
        ``ticks_per_step`` ticks after the last), and score it. TimeoutError after
        ``step_timeout``; DisconnectedError if the room connection ended."""
        room = self.room
        if room is None:
            raise RuntimeError("call reset() first")
        seq = room.send_input(action) if action is not None else room.last_seq
        start = self.observation.get("tick", room.tick)
        wanted = start + self.ticks_per_step
        room.wait_for(lambda r: r.last_seq >= seq and r.tick >= wanted, self.step_timeout)
        return self._finish_step(action, self._observe())

    def close(self) -> None:
        """Leave the room and, if this env made it, close the client."""
        if self.room is not None and self.room.closed is None:
            self.room.leave()
        self.room = None
        if self._own_client:
            self.client.close()
