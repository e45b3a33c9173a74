"""The agent environments: deterministic headless, and the same interface on a live server."""

from __future__ import annotations

from typing import Any

import pytest
from client_servers import live_server

from clients.python.agents import ArenaTask, HeadlessEnv, LiveEnv, Observation, toward_target

ACTIONS = [{"dx": 1, "dy": 0}, {"dx": 0.5, "dy": -1}, None, {"dx": -1, "dy": 1}] * 5


def episode(env: HeadlessEnv, seed: int) -> list[tuple[Observation, float, bool]]:
    env.reset(seed)
    out = []
    for action in ACTIONS:
        observation, reward, done, _ = env.step(action)
        out.append((observation, reward, done))
    return out


def test_the_headless_env_is_deterministic_for_a_seed() -> None:
    first, second = episode(HeadlessEnv(), 11), episode(HeadlessEnv(), 11)
    assert first == second
    other = episode(HeadlessEnv(), 12)
    assert other[0][0]["target"] != first[0][0]["target"]


def test_a_headless_step_applies_the_action_within_one_tick() -> None:
    env = HeadlessEnv(seed=3)
    observation = env.reset()
    start = observation["me"]
    observation, _, _, info = env.step({"dx": -1, "dy": 0})
    assert observation["last_seq"] == 1
    assert info == {"tick": observation["tick"], "steps": 1}
    assert observation["me"]["x"] == pytest.approx(max(0.0, start["x"] - 2.0))


def test_heading_for_the_target_is_rewarded_until_arrival() -> None:
    env = HeadlessEnv(seed=5, task=ArenaTask(max_steps=500))
    observation = env.reset()
    total, done, steps = 0.0, False, 0
    while not done:
        observation, reward, done, _ = env.step(toward_target(observation))
        total += reward
        steps += 1
    assert steps < 500  # it arrived before running out of steps
    assert total > 0
    assert env.task.distance(observation) <= 4.0  # type: ignore[attr-defined]


def test_an_episode_ends_after_max_steps() -> None:
    env = HeadlessEnv(seed=1, task=ArenaTask(max_steps=3))
    env.reset()
    dones = [env.step(None)[2] for _ in range(3)]
    assert dones == [False, False, True]


def test_the_live_env_plays_the_same_policy_online() -> None:
    with live_server() as live:
        env = LiveEnv(live.url, task=ArenaTask(max_steps=30, target=(500.0, 500.0)))
        try:
            observation = env.reset(seed=5)
            assert observation["me"] is not None
            assert set(observation) >= {"tick", "session_id", "last_seq", "state", "target"}
            rewards: list[float] = []
            last_tick = observation["tick"]
            for step in range(1, 31):
                observation, reward, done, info = env.step(toward_target(observation))
                assert observation["last_seq"] == step  # every step waited for its action
                assert observation["tick"] > last_tick
                last_tick = observation["tick"]
                rewards.append(reward)
            assert done
            assert info["steps"] == 30
            assert sum(rewards) > 0  # it moved toward the target
            first_room = env.room
            env.reset()
            assert env.room is not first_room
            assert first_room is not None
            assert first_room.closed is not None
        finally:
            env.close()
        assert env.room is None


def test_a_custom_task_decides_reward_and_done() -> None:
    class Count:
        def reset(self, rng: Any) -> None:
            self.calls = 0

        def observe(self, observation: Observation) -> Observation:
            return observation

        def reward(
            self, previous: Observation, action: Any, observation: Observation, step: int
        ) -> tuple[float, bool]:
            return float(step), step == 2

    env = HeadlessEnv(seed=0, task=Count())
    env.reset()
    assert env.step(None)[1:3] == (1.0, False)
    assert env.step(None)[1:3] == (2.0, True)
