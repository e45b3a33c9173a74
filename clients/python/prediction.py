"""Client-side smoothing: interpolate remote entities, predict and reconcile the local one.

**Interpolation** (``InterpolationBuffer``). Remote entities are drawn a little in the past,
between two states already received, so they move smoothly although states arrive in steps and
with jitter. The buffer maps local arrival times onto the room's tick timeline (the earliest
arrivals are the least delayed, so the timeline follows them), measures the jitter of arrivals
(RFC 3550's running mean of |arrival - expected|), and renders at
``delay_ticks + jitter_factor * jitter`` ticks behind the newest state: 2 ticks by default, more
when the network is jittery::

    buffer = InterpolationBuffer(tick_rate=room.tick_rate)
    room.on_state_change(lambda change: buffer.push(change.tick, positions(change.state),
                                                    change.received_at))
    ...
    for entity, values in buffer.sample(time.perf_counter()).items(): draw(entity, values)

**Reconciliation** (``Predictor`` and ``replay``). The local player is drawn ahead of the server:
the last state the server sent, plus every input it has not acknowledged yet, replayed with the
game's own ``apply(state, input)``. When a state arrives, the acknowledged inputs are dropped
and the rest are replayed on the new authoritative state, so a misprediction corrects itself::

    predicted = replay(my_body(room.state), room.unacked_inputs.values(), move)

Owns: these two pure helpers. Must never: do I/O, read a clock by itself (callers pass
``now``), or know the game (entities and ``apply`` come from the caller).
"""

from __future__ import annotations

import copy
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

S = TypeVar("S")
Values = Mapping[str, float]
Entities = Mapping[Any, Values]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Entity values at one tick, and when they arrived (local seconds)."""

    tick: int
    arrived: float
    entities: dict[Any, dict[str, float]]


class InterpolationBuffer:
    """Snapshots of remote entities, sampled at a render time behind the newest one.

    ``tick_rate`` is the room's (``room.tick_rate``). ``delay_ticks`` is how far behind to
    render with a perfect network; ``jitter_factor`` times the measured jitter (in ticks) is
    added to it, up to ``max_delay_ticks``. ``capacity`` bounds the snapshots kept.
    """

    def __init__(
        self,
        tick_rate: float,
        *,
        delay_ticks: float = 2.0,
        jitter_factor: float = 2.0,
        max_delay_ticks: float = 10.0,
        capacity: int = 64,
    ) -> None:
        if tick_rate <= 0 or delay_ticks < 0 or capacity < 2:
            raise ValueError("tick_rate > 0, delay_ticks >= 0 and capacity >= 2 are required")
        self.tick_interval = 1.0 / tick_rate
        self.delay_ticks = delay_ticks
        self.jitter_factor = jitter_factor
        self.max_delay_ticks = max(max_delay_ticks, delay_ticks)
        self.snapshots: deque[Snapshot] = deque(maxlen=capacity)
        self.jitter = 0.0
        """Running mean of how far arrivals stray from the tick timeline, in seconds."""
        self._origin: float | None = None
        """Local time of tick 0, estimated from the least delayed arrival seen recently."""
        self._last_transit: float | None = None

    @property
    def delay(self) -> float:
        """How far behind the timeline's present rendering happens, in seconds."""
        ticks = self.delay_ticks + self.jitter_factor * self.jitter / self.tick_interval
        return min(ticks, self.max_delay_ticks) * self.tick_interval

    def push(self, tick: int, entities: Entities, arrived: float) -> None:
        """Add the entities' values at ``tick``, which arrived at local time ``arrived``.
        Snapshots older than the newest are ignored."""
        if self.snapshots and tick <= self.snapshots[-1].tick:
            return
        transit = arrived - tick * self.tick_interval  # origin + this arrival's delay
        if self._last_transit is not None:
            self.jitter += (abs(transit - self._last_transit) - self.jitter) / 16.0
        self._last_transit = transit
        if self._origin is None or transit < self._origin:
            self._origin = transit
        else:  # drift slowly towards later arrivals, so a clock step or a route change heals
            self._origin += (transit - self._origin) * 0.01
        values = {
            key: {name: float(v) for name, v in vals.items()} for key, vals in entities.items()
        }
        self.snapshots.append(Snapshot(tick, arrived, values))

    def render_tick(self, now: float) -> float | None:
        """The (fractional) tick to draw at local time ``now``; None before the first push."""
        if self._origin is None:
            return None
        return (now - self._origin - self.delay) / self.tick_interval

    def sample(self, now: float) -> dict[Any, dict[str, float]]:
        """Every entity's values at the render time for ``now``: interpolated between the two
        snapshots around it; held at the oldest or newest snapshot outside them. An entity
        missing from one of the two snapshots is taken from the one that has it."""
        render = self.render_tick(now)
        snapshots = self.snapshots
        if render is None or not snapshots:
            return {}
        ticks = [snapshot.tick for snapshot in snapshots]
        index = bisect_right(ticks, render)
        if index == 0:
            return _copy(snapshots[0].entities)
        if index == len(snapshots):
            return _copy(snapshots[-1].entities)
        older, newer = snapshots[index - 1], snapshots[index]
        fraction = (render - older.tick) / (newer.tick - older.tick)
        out: dict[Any, dict[str, float]] = {}
        for key in older.entities.keys() | newer.entities.keys():
            a, b = older.entities.get(key), newer.entities.get(key)
            if a is None or b is None:
                out[key] = dict(b if a is None else a)  # type: ignore[arg-type]
                continue
            out[key] = {
                name: a[name] + (b[name] - a[name]) * fraction if name in b else a[name]
                for name in a
            }
        return out


def _copy(entities: dict[Any, dict[str, float]]) -> dict[Any, dict[str, float]]:
    return {key: dict(values) for key, values in entities.items()}


def replay(state: S, inputs: Iterable[Any], apply: Callable[[S, Any], S]) -> S:
    """``state`` with each input applied in order by ``apply(state, input) -> state``. The
    state is deep-copied first, so ``apply`` may change it in place (and return it)."""
    predicted = copy.deepcopy(state)
    for payload in inputs:
        predicted = apply(predicted, payload)
    return predicted


class Predictor(Generic[S]):
    """The local player's predicted state: the authoritative state plus unacknowledged inputs.

    ``apply(state, input) -> state`` is the game's own movement rule, the same the room runs.
    Call ``input(seq, payload)`` when sending (with the seq ``send_input`` returned), and
    ``reconcile(server_state, last_seq)`` on every state; read ``predicted`` to draw.
    ``corrections`` counts states where the prediction for the acknowledged inputs was wrong
    (the caller's ``equal`` decides; default ``==``).
    """

    def __init__(
        self,
        apply: Callable[[S, Any], S],
        initial: S,
        *,
        max_pending: int = 1024,
        equal: Callable[[S, S], bool] | None = None,
    ) -> None:
        self.apply = apply
        self.pending: dict[int, Any] = {}
        """Inputs not yet acknowledged, by sequence number."""
        self.authoritative = initial
        self.predicted = copy.deepcopy(initial)
        self.corrections = 0
        self.max_pending = max_pending
        self._equal = equal or (lambda a, b: a == b)
        self._history: dict[int, S] = {}
        """Predicted state after each pending input (to tell corrections apart)."""

    def input(self, seq: int, payload: Any) -> S:
        """Record input ``seq`` and apply it to the prediction at once; returns the new
        predicted state."""
        self.pending[seq] = payload
        self.predicted = self.apply(self.predicted, payload)
        self._history[seq] = copy.deepcopy(self.predicted)
        while len(self.pending) > self.max_pending:
            oldest = next(iter(self.pending))
            del self.pending[oldest]
            self._history.pop(oldest, None)
        return self.predicted

    def reconcile(self, server_state: S, last_seq: int) -> S:
        """Take a new authoritative state that includes every input up to ``last_seq``: drop
        those inputs, replay the others on top of it, and return the new prediction."""
        expected = self._history.get(last_seq)
        for seq in [seq for seq in self.pending if seq <= last_seq]:
            del self.pending[seq]
        for seq in [seq for seq in self._history if seq <= last_seq]:
            del self._history[seq]
        if expected is not None and not self._equal(expected, server_state):
            self.corrections += 1
        self.authoritative = server_state
        state = copy.deepcopy(server_state)
        history: dict[int, S] = {}
        for seq, payload in self.pending.items():
            state = self.apply(state, payload)
            history[seq] = copy.deepcopy(state)
        self._history = history
        self.predicted = state
        return self.predicted
