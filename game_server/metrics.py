"""Counters and histograms with fixed buckets, cheap enough to update every tick.

Owns: ``Histogram`` (Prometheus-style cumulative buckets, sum, count, and percentiles estimated
from the buckets). Rendering to the Prometheus text format lives with the HTTP app.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

_bisect_left = bisect.bisect_left


class Histogram:
    """Observations counted into buckets with upper bounds ``bounds`` (plus +Inf)."""

    __slots__ = ("bounds", "count", "counts", "max", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        if list(bounds) != sorted(bounds) or not bounds:
            raise ValueError("bucket bounds must be sorted and non-empty")
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.count = 0
        self.sum = 0.0
        self.max = 0.0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.counts[_bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value
        if value > self.max:  # noqa: PLR1730  # not max(): twice a tick in every room
            self.max = value

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations at or below it) for every bucket, +Inf last."""
        out: list[tuple[float, int]] = []
        running = 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out

    def quantile(self, q: float) -> float:
        """The upper bound of the bucket holding quantile ``q`` (0..1); 0.0 when empty."""
        if not self.count:
            return 0.0
        rank = q * self.count
        for bound, running in self.cumulative():
            if running >= rank:
                return bound if bound != float("inf") else self.max
        return self.max  # pragma: no cover - the +Inf bucket always reaches count
