"""Interpolation and reconciliation on synthetic timings: no clock, no sleeping."""

from __future__ import annotations

from typing import Any

import pytest

from clients.python.prediction import InterpolationBuffer, Predictor, replay

TICK = 0.05  # 20 ticks a second


def steady(buffer: InterpolationBuffer, ticks: range, delay: float = 0.03) -> None:
    """Push entity "a" at x = 10 * tick, each arriving ``delay`` after its tick time."""
    for tick in ticks:
        buffer.push(tick, {"a": {"x": 10.0 * tick}}, 100.0 + tick * TICK + delay)


def test_renders_two_ticks_behind_without_jitter() -> None:
    buffer = InterpolationBuffer(tick_rate=20)
    steady(buffer, range(10))
    assert buffer.jitter == 0
    assert buffer.delay == pytest.approx(2 * TICK)
    now = 100.0 + 9 * TICK + 0.03  # the moment tick 9 arrived
    assert buffer.render_tick(now) == pytest.approx(7.0)
    assert buffer.sample(now)["a"]["x"] == pytest.approx(70.0)


def test_interpolates_between_the_two_snapshots_around_the_render_time() -> None:
    buffer = InterpolationBuffer(tick_rate=20)
    steady(buffer, range(10))
    now = 100.0 + 9 * TICK + 0.03 + TICK / 4  # a quarter tick later
    assert buffer.sample(now)["a"]["x"] == pytest.approx(72.5)


def test_holds_the_newest_values_when_states_stop_coming() -> None:
    buffer = InterpolationBuffer(tick_rate=20)
    steady(buffer, range(5))
    assert buffer.sample(200.0) == {"a": {"x": 40.0}}
    assert buffer.sample(0.0) == {"a": {"x": 0.0}}  # before the oldest: the oldest


def test_jittery_arrivals_push_the_render_time_further_back() -> None:
    calm, jittery = InterpolationBuffer(tick_rate=20), InterpolationBuffer(tick_rate=20)
    steady(calm, range(40))
    for tick in range(40):
        late = 0.03 if tick % 2 else 0.0  # every other state 30 ms late
        jittery.push(tick, {"a": {"x": float(tick)}}, 100.0 + tick * TICK + late)
    assert jittery.jitter > 0.01
    assert jittery.delay > calm.delay + 0.02
    assert jittery.delay <= jittery.max_delay_ticks * TICK


def test_the_delay_never_exceeds_its_maximum() -> None:
    buffer = InterpolationBuffer(tick_rate=20, max_delay_ticks=4)
    for tick in range(40):
        buffer.push(tick, {}, 100.0 + tick * TICK + (0.5 if tick % 2 else 0.0))
    assert buffer.delay == pytest.approx(4 * TICK)


def test_entities_that_appear_or_vanish_are_not_interpolated() -> None:
    buffer = InterpolationBuffer(tick_rate=20, delay_ticks=0)
    buffer.push(0, {"a": {"x": 0.0}}, 100.0)
    buffer.push(1, {"a": {"x": 10.0}, "b": {"x": 5.0}}, 100.0 + TICK)
    sample = buffer.sample(100.0 + TICK / 2)
    assert sample["a"]["x"] == pytest.approx(5.0)
    assert sample["b"] == {"x": 5.0}


def test_old_or_repeated_snapshots_are_ignored_and_capacity_is_bounded() -> None:
    buffer = InterpolationBuffer(tick_rate=20, capacity=4)
    steady(buffer, range(10))
    buffer.push(3, {"a": {"x": -1.0}}, 200.0)
    assert [snapshot.tick for snapshot in buffer.snapshots] == [6, 7, 8, 9]


def move(body: dict[str, float], payload: dict[str, float]) -> dict[str, float]:
    body["x"] += 2 * payload["dx"]
    return body


def test_replay_applies_unacknowledged_inputs_to_a_copy() -> None:
    server = {"x": 10.0}
    assert replay(server, [{"dx": 1}, {"dx": 1}, {"dx": -1}], move) == {"x": 12.0}
    assert server == {"x": 10.0}


def test_reconcile_drops_acknowledged_inputs_and_replays_the_rest() -> None:
    predictor: Predictor[dict[str, Any]] = Predictor(move, {"x": 0.0})
    for seq in (1, 2, 3):
        predictor.input(seq, {"dx": 1})
    assert predictor.predicted == {"x": 6.0}
    predicted = predictor.reconcile({"x": 2.0}, last_seq=1)  # the server applied input 1
    assert list(predictor.pending) == [2, 3]
    assert predicted == {"x": 6.0}
    assert predictor.corrections == 0


def test_a_misprediction_is_corrected_by_the_server_state() -> None:
    predictor: Predictor[dict[str, Any]] = Predictor(move, {"x": 0.0})
    for seq in (1, 2):
        predictor.input(seq, {"dx": 1})
    predicted = predictor.reconcile({"x": 0.0}, last_seq=1)  # a wall stopped input 1
    assert predicted == {"x": 2.0}
    assert predictor.corrections == 1
    assert predictor.reconcile({"x": 2.0}, last_seq=2) == {"x": 2.0}
    assert predictor.pending == {}
