"""The Prometheus text exposition of the server's counters and histograms.

Owns: rendering only. Counters live where they are counted (rooms, the registry, the socket
edge); this module reads them when ``GET /metrics`` is scraped, so the tick path pays nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from game_server.metrics import Histogram

if TYPE_CHECKING:
    from game_server.app import ServerMetrics
    from game_server.registry import RoomRegistry


def _line(lines: list[str], name: str, kind: str, text: str, value: float) -> None:
    lines.append(f"# HELP {name} {text}")
    lines.append(f"# TYPE {name} {kind}")
    lines.append(f"{name} {value:g}")


def _histogram(lines: list[str], name: str, text: str, histogram: Histogram) -> None:
    lines.append(f"# HELP {name} {text}")
    lines.append(f"# TYPE {name} histogram")
    for bound, count in histogram.cumulative():
        label = "+Inf" if bound == float("inf") else f"{bound:g}"
        lines.append(f'{name}_bucket{{le="{label}"}} {count}')
    lines.append(f"{name}_sum {histogram.sum:g}")
    lines.append(f"{name}_count {histogram.count}")


def render_metrics(registry: RoomRegistry, edge: ServerMetrics) -> str:
    """Every metric in the Prometheus text format (version 0.0.4)."""
    rooms = list(registry.rooms.values())
    lines: list[str] = []
    _line(lines, "tickroom_rooms", "gauge", "Rooms running in this process.", len(rooms))
    _line(
        lines,
        "tickroom_clients",
        "gauge",
        "Members of rooms (reserved, joined and dropped).",
        sum(len(room.clients) for room in rooms),
    )
    _line(lines, "tickroom_sockets", "gauge", "Open game sockets.", edge.sockets_open)
    _line(
        lines,
        "tickroom_ticks_total",
        "counter",
        "Ticks run by every room of this process.",
        registry.retired.ticks + sum(room.stats.ticks for room in rooms),
    )
    _histogram(
        lines, "tickroom_tick_duration_seconds", "Time one tick took.", registry.tick_duration
    )
    _histogram(
        lines,
        "tickroom_tick_lateness_seconds",
        "How late a tick batch started after its deadline.",
        registry.tick_lateness,
    )
    _line(
        lines, "tickroom_frames_out_total", "counter", "Frames written to sockets.", edge.frames_out
    )
    _line(lines, "tickroom_bytes_out_total", "counter", "Bytes written to sockets.", edge.bytes_out)
    _line(
        lines,
        "tickroom_frames_coalesced_total",
        "counter",
        "State frames a slow reader never needed because a newer one replaced them.",
        registry.retired.frames_coalesced + sum(room.stats.frames_coalesced for room in rooms),
    )
    _line(
        lines,
        "tickroom_inputs_dropped_total",
        "counter",
        "Inputs dropped by the per-client fair cap.",
        registry.retired.inputs_dropped + sum(room.stats.inputs_dropped for room in rooms),
    )
    _line(
        lines,
        "tickroom_rate_limited_total",
        "counter",
        "Messages over the rate limit.",
        edge.rate_limited,
    )
    _line(
        lines,
        "tickroom_protocol_errors_total",
        "counter",
        "Sockets closed for bad frames.",
        edge.protocol_errors,
    )
    _line(
        lines,
        "tickroom_origin_refused_total",
        "counter",
        "Handshakes refused by Origin.",
        edge.origin_refused,
    )
    stats = registry.stats
    for name, text, value in (
        ("tickroom_rooms_created_total", "Rooms created.", stats.rooms_created),
        ("tickroom_rooms_disposed_total", "Rooms disposed.", stats.rooms_disposed),
        ("tickroom_seats_reserved_total", "Seats reserved by matchmaking.", stats.seats_reserved),
        (
            "tickroom_reservations_expired_total",
            "Seat reservations never redeemed in time.",
            stats.reservations_expired,
        ),
        ("tickroom_joins_total", "Seats redeemed over a socket (JOIN).", edge.joins),
        (
            "tickroom_reconnects_total",
            "Sessions resumed over a socket (RECONNECT).",
            edge.reconnects,
        ),
        ("tickroom_leaves_total", "Clients that left on purpose (LEAVE).", edge.leaves),
        ("tickroom_too_slow_total", "Sockets closed for not acknowledging state.", edge.too_slow),
    ):
        _line(lines, name, "counter", text, value)
    lines.append("# HELP tickroom_disconnects_total Sockets closed, by close code.")
    lines.append("# TYPE tickroom_disconnects_total counter")
    for code, count in sorted(edge.disconnects.items()):
        lines.append(f'tickroom_disconnects_total{{code="{code}"}} {count}')
    return "\n".join(lines) + "\n"
