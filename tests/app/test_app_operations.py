"""What operators read: ``GET /healthz``, ``GET /metrics`` (Prometheus text) and the OpenAPI
pages FastAPI serves (``/docs``, ``/openapi.json``)."""

from __future__ import annotations

import asyncio
import re

from wire import Server, running

from protocol.codes import CloseCode

METRIC_LINE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$")

COUNTERS = (
    "tickroom_ticks_total",
    "tickroom_frames_out_total",
    "tickroom_bytes_out_total",
    "tickroom_frames_coalesced_total",
    "tickroom_inputs_dropped_total",
    "tickroom_rate_limited_total",
    "tickroom_protocol_errors_total",
    "tickroom_origin_refused_total",
    "tickroom_rooms_created_total",
    "tickroom_rooms_disposed_total",
    "tickroom_seats_reserved_total",
    "tickroom_reservations_expired_total",
    "tickroom_joins_total",
    "tickroom_reconnects_total",
    "tickroom_leaves_total",
    "tickroom_too_slow_total",
)
GAUGES = ("tickroom_rooms", "tickroom_clients", "tickroom_sockets")
HISTOGRAMS = ("tickroom_tick_duration_seconds", "tickroom_tick_lateness_seconds")


def scrape(server: Server) -> dict[str, float]:
    """Every sample of ``GET /metrics`` by name and labels, e.g.
    ``tickroom_disconnects_total{code="4000"}``."""
    response = server.http.get("/metrics")
    assert response.status_code == 200
    samples: dict[str, float] = {}
    for line in response.text.splitlines():
        if line.startswith("#"):
            continue
        match = METRIC_LINE.match(line)
        assert match is not None, f"not a sample line: {line!r}"
        samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


def sockets_settled(server: Server) -> None:
    """Wait until every session has ended: a socket's close frame reaches the client a moment
    before its session counts the disconnect."""
    for _ in range(200):
        if server.state.metrics.sockets_open == 0:
            return
        server.call(asyncio.sleep, 0.001)
    raise AssertionError("a socket session never ended")


def play_and_leave(server: Server) -> None:
    """One client joins, plays three ticks and leaves."""
    client = server.join()
    client.send_input({"dx": 1})
    server.watch(client)
    client.leave()
    server.tick()
    client.expect_close()
    sockets_settled(server)


# -- health ----------------------------------------------------------------------------------


def test_healthz_answers_ok_with_counts() -> None:
    with running() as server:
        idle = server.http.get("/healthz").json()
        client = server.join()
        busy = server.http.get("/healthz").json()
        client.disconnect()
    assert idle == {"status": "ok", "rooms": 0, "sockets": 0}
    assert busy == {"status": "ok", "rooms": 1, "sockets": 1}


# -- metrics ---------------------------------------------------------------------------------


def test_metrics_is_prometheus_text() -> None:
    with running() as server:
        response = server.http.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE tickroom_ticks_total counter" in response.text
    assert "# TYPE tickroom_rooms gauge" in response.text
    assert "# TYPE tickroom_tick_duration_seconds histogram" in response.text


def test_metrics_names_every_counter_gauge_and_histogram() -> None:
    with running() as server:
        samples = scrape(server)
    for name in (*COUNTERS, *GAUGES):
        assert name in samples, name
    for name in HISTOGRAMS:
        assert f'{name}_bucket{{le="+Inf"}}' in samples, name
        assert f"{name}_count" in samples, name


def test_traffic_moves_the_counters() -> None:
    with running() as server:
        before = scrape(server)
        play_and_leave(server)
        after = scrape(server)
    for name in (
        "tickroom_frames_out_total",
        "tickroom_bytes_out_total",
        "tickroom_rooms_created_total",
        "tickroom_rooms_disposed_total",
        "tickroom_seats_reserved_total",
        "tickroom_joins_total",
        "tickroom_leaves_total",
        "tickroom_tick_duration_seconds_count",
    ):
        assert after[name] > before[name], name
    assert after[f'tickroom_disconnects_total{{code="{CloseCode.CONSENTED}"}}'] == 1


def test_the_gauges_follow_rooms_and_sockets() -> None:
    with running() as server:
        client = server.join()
        samples = scrape(server)
        client.disconnect()
    assert samples["tickroom_rooms"] == 1
    assert samples["tickroom_clients"] == 1
    assert samples["tickroom_sockets"] == 1


def test_ticks_are_counted() -> None:
    with running() as server:
        server.join()
        server.tick(5)
        samples = scrape(server)
    assert samples["tickroom_ticks_total"] == 5


def test_a_protocol_error_is_counted_with_its_close_code() -> None:
    with running() as server:
        client = server.join()
        client.send_raw(b"\xc1")
        client.expect_close()
        sockets_settled(server)
        samples = scrape(server)
    assert samples["tickroom_protocol_errors_total"] == 1
    assert samples[f'tickroom_disconnects_total{{code="{CloseCode.PROTOCOL_ERROR}"}}'] == 1


# -- OpenAPI ---------------------------------------------------------------------------------


def test_the_openapi_document_describes_every_http_route() -> None:
    with running() as server:
        document = server.http.get("/openapi.json").json()
    assert document["info"]["title"] == "tickroom"
    assert set(document["paths"]) == {
        "/matchmake/{method}/{room_name}",
        "/rooms",
        "/healthz",
        "/metrics",
    }
    answers = document["paths"]["/matchmake/{method}/{room_name}"]["post"]["responses"]
    assert {"200", "403", "404", "409", "410", "422"} <= set(answers)


def test_the_docs_page_renders() -> None:
    with running() as server:
        response = server.http.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text
