"""What a bot run measures, and how it is summarised (as text and as JSON).

Latency is the bench's definition (``../shared/bench/RESULTS.md``): from sending input ``seq N``
to the first state received whose ``last_seq >= N``, kept in a histogram of 0.5 ms bins like
``node/botlib.cjs``, so the driver can merge our histograms with theirs. Gaps are the times
between consecutive states one bot received.

Owns: ``Histogram``, ``RunTotals`` and ``BotReport``. Must never: do I/O beyond formatting.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

BIN_MS = 0.5


class Histogram:
    """Milliseconds in fixed-width bins (``bin_ms``), plus the exact maximum."""

    __slots__ = ("bin_ms", "bins", "count", "max")

    def __init__(self, bin_ms: float = BIN_MS) -> None:
        self.bin_ms = bin_ms
        self.bins: dict[int, int] = {}
        self.count = 0
        self.max = 0.0

    def add(self, ms: float) -> None:
        """Count one value (negative values count as 0)."""
        ms = max(0.0, ms)
        index = int(ms / self.bin_ms)
        self.bins[index] = self.bins.get(index, 0) + 1
        self.count += 1
        self.max = max(self.max, ms)

    def percentile(self, q: float) -> float | None:
        """The upper edge of the bin holding quantile ``q`` (0..1), as the bench driver
        computes it; None when empty."""
        if not self.count:
            return None
        target, seen = q * self.count, 0
        for index in sorted(self.bins):
            seen += self.bins[index]
            if seen >= target:
                return round((index + 1) * self.bin_ms, 1)
        return round((max(self.bins) + 1) * self.bin_ms, 1)  # pragma: no cover - q > 1

    def summary(self) -> dict[str, float | int | None]:
        """``{samples, p50, p95, p99, max}`` in milliseconds."""
        return {
            "samples": self.count,
            "p50": self.percentile(0.50),
            "p95": self.percentile(0.95),
            "p99": self.percentile(0.99),
            "max": round(self.max, 1) if self.count else None,
        }


@dataclass
class RunTotals:
    """Counters of one run, summed over its bots."""

    bots: int = 0
    joined: int = 0
    failed: int = 0
    dropped: int = 0
    """Bots whose connection ended for good before the run did."""
    reconnects: int = 0
    inputs_sent: int = 0
    states_received: int = 0
    bytes_received: int = 0
    errors: int = 0
    """ERROR frames received (the room refused something a bot sent)."""
    failures: list[str] = field(default_factory=list)
    """The first few failure messages, for the summary."""


@dataclass
class BotReport:
    """The result of a run: the configuration, the totals, rates and latency figures."""

    url: str
    room: str
    rooms: int
    players: int
    duration_s: float
    window_s: float
    """Seconds of play that were measured (from every bot joined to the end)."""
    totals: RunTotals
    latency: Histogram
    gaps: Histogram

    @property
    def ok(self) -> bool:
        """True when every bot joined and none dropped."""
        return self.totals.failed == 0 and self.totals.dropped == 0 and self.totals.joined > 0

    def to_json(self) -> dict[str, Any]:
        """The figures as a JSON-ready dict (what ``--json FILE`` writes)."""
        t = self.totals
        window = self.window_s or 1.0
        clients = t.joined or 1
        totals = asdict(t)
        return {
            "url": self.url,
            "room": self.room,
            "rooms": self.rooms,
            "players": self.players,
            "duration_s": self.duration_s,
            "window_s": round(self.window_s, 3),
            "ok": self.ok,
            **{key: totals[key] for key in totals if key != "failures"},
            "inputs_per_client_s": round(t.inputs_sent / clients / window, 2),
            "states_per_client_s": round(t.states_received / clients / window, 2),
            "states_per_s": round(t.states_received / window, 1),
            "bytes_per_s": round(t.bytes_received / window),
            "bytes_per_client_s": round(t.bytes_received / clients / window),
            "latency_ms": self.latency.summary(),
            "state_gap_ms": self.gaps.summary(),
            "failures": t.failures,
        }

    def text(self) -> str:
        """A readable summary, a few lines."""
        data = self.to_json()
        t = self.totals
        lat, gap = data["latency_ms"], data["state_gap_ms"]
        lines = [
            f"tickroom-bots: {t.bots} bots in {self.rooms} x {self.room} at {self.url}, "
            f"{self.window_s:.1f} s measured",
            f"  joined     {t.joined}/{t.bots}   failed {t.failed}   dropped {t.dropped}"
            f"   reconnects {t.reconnects}   errors {t.errors}",
            f"  inputs     {t.inputs_sent} sent ({data['inputs_per_client_s']}/s per bot)",
            f"  states     {t.states_received} received ({data['states_per_client_s']}/s per "
            f"bot, {data['states_per_s']}/s in all)",
            f"  bytes      {data['bytes_per_s']} B/s in all, {data['bytes_per_client_s']} B/s "
            f"per bot",
            f"  latency    p50 {_ms(lat['p50'])}  p95 {_ms(lat['p95'])}  p99 {_ms(lat['p99'])}  "
            f"max {_ms(lat['max'])}  ({lat['samples']} inputs: sent -> first state acking it)",
            f"  state gaps p50 {_ms(gap['p50'])}  p95 {_ms(gap['p95'])}  p99 {_ms(gap['p99'])}  "
            f"max {_ms(gap['max'])}",
        ]
        lines.extend(f"  failure: {message}" for message in t.failures)
        lines.append("  result:    OK" if self.ok else "  result:    FAILED")
        return "\n".join(lines)


def _ms(value: object) -> str:
    return "-" if value is None else f"{value} ms"
