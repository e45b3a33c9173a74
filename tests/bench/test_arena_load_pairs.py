"""The side-by-side report compares like with like, and ``colyseus_moving.cjs`` is the anchor's
server plus one line (so the fixed Colyseus measures Colyseus, not something we wrote)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.arena_load import evaluate_targets, find_max_sustained, payload_ratio, ratios
from bench.arena_runs import (
    FLOOR_PAIR,
    NATIVE_PAIR,
    NODE_DIR,
    PAIRS,
    SYSTEMS,
    RunConfig,
    colyseus_moving_argv,
    floor_picows_argv,
    shared_bench_dir,
    tickroom_argv,
)
from bench.arena_server import BenchGame
from game_server.games.arena import Arena


def run(system: str, us: float, state_bytes: float, states: float = 20.0) -> dict[str, Any]:
    return {
        "system": system,
        "us_per_client_tick": us,
        "payload_B_per_state": state_bytes,
        "payload_B_per_client_s": state_bytes * states,
        "states_per_client_s": states,
        "lat_p50_ms": 28.0,
        "lat_p99_ms": 52.0,
        "server_rss_peak_mb": 90.0,
    }


def test_every_pair_names_known_systems_and_each_system_is_in_one_pair() -> None:
    named = [name for ours, theirs, _ in PAIRS for name in (ours, theirs)]
    assert sorted([*named, FLOOR_PAIR[1], NATIVE_PAIR[1]]) == sorted(SYSTEMS)
    assert FLOOR_PAIR[0] in named
    assert NATIVE_PAIR[0] in named


def test_targets_use_the_pair_they_are_given() -> None:
    at_1000 = {
        "tickroom": run("tickroom", 40.0, 300.0),
        "colyseus-moving": run("colyseus-moving", 50.0, 440.0),
        "tickroom-still": run("tickroom-still", 30.0, 130.0),
        "colyseus": run("colyseus", 25.0, 160.0),
    }
    by_level = {1000: at_1000}
    moving = evaluate_targets(
        at_1000,
        {"max_sustained": 1000},
        payload_ratio(by_level, "tickroom", "colyseus-moving"),
        ("tickroom", "colyseus-moving"),
    )
    still = evaluate_targets(
        at_1000,
        None,
        payload_ratio(by_level, "tickroom-still", "colyseus"),
        ("tickroom-still", "colyseus"),
    )
    by_name = {t["target"]: t for t in moving}
    assert by_name["CPU per client-tick vs Colyseus at 1000"]["value"] == 0.8
    assert by_name["CPU per client-tick vs Colyseus at 1000"]["verdict"] == "PASS"
    assert by_name["payload per state vs Colyseus"]["value"] == round(300 / 440, 3)
    assert by_name["max sustained clients"]["verdict"] == "MISS"
    still_by_name = {t["target"]: t for t in still}
    assert still_by_name["CPU per client-tick vs Colyseus at 1000"]["value"] == 1.2
    assert still_by_name["CPU per client-tick vs Colyseus at 1000"]["verdict"] == "MISS"
    assert still_by_name["payload per state vs Colyseus"]["value"] == round(130 / 160, 3)
    assert still_by_name["max sustained clients"]["verdict"] == "not run"


def test_payload_ratio_skips_levels_where_either_side_dropped_states() -> None:
    by_level = {
        500: {"tickroom": run("tickroom", 40, 300), "colyseus-moving": run("c", 50, 400)},
        1500: {
            "tickroom": run("tickroom", 40, 900, states=12.0),
            "colyseus-moving": run("c", 50, 400),
        },
    }
    assert payload_ratio(by_level, "tickroom", "colyseus-moving") == 0.75
    assert (
        ratios(by_level[1500]["tickroom"], by_level[1500]["colyseus-moving"])["payload_B_per_state"]
        == 2.25
    )


def test_colyseus_moving_is_the_anchor_server_plus_one_marked_line() -> None:
    anchor = (shared_bench_dir() / "colyseus" / "server.cjs").read_text().splitlines()
    ours = (NODE_DIR / "colyseus_moving.cjs").read_text().splitlines()
    header = [line for line in ours if line.startswith("// tickroom")]
    assert len(header) == 1, "one header line names the copy"
    body = ours[ours.index(header[0]) :]
    while body and body[0].startswith("//") and body[0] not in anchor:
        body = body[1:]  # the header comment
    added = [line for line in body if line not in anchor]
    assert [line.strip() for line in added] == [
        "this.state.tick = 0; // tickroom: the one change (see the header)"
    ]
    assert [line for line in body if line not in added] == anchor


def test_the_still_arena_is_the_arena_with_no_npc_moves() -> None:
    still = BenchGame(npc_moves=0).room_class()
    assert issubclass(still, Arena)
    assert still.npcs_per_tick == 0
    assert BenchGame().room_class() is Arena


def test_each_system_runs_its_own_server_and_bots(tmp_path: Path) -> None:
    cfg = RunConfig(observe_every=10)
    driver = shared_bench_dir() / "driver.py"
    still = " ".join(tickroom_argv(100, cfg, tmp_path / "s", driver, still=True))
    moving = " ".join(tickroom_argv(100, cfg, tmp_path / "s", driver))
    assert "--npc-moves 0" in still
    assert "--npc-moves" not in moving
    assert "tickroom-still-shared" in still
    colyseus = " ".join(colyseus_moving_argv(100, cfg, driver))
    assert str(NODE_DIR / "colyseus_moving.cjs") in colyseus
    assert str(shared_bench_dir() / "colyseus" / "bot.cjs") in colyseus
    assert "--rooms 10 --players 10" in colyseus
    floor = " ".join(floor_picows_argv(100, cfg, driver))
    assert "bench/floor_picows.py {port} delta" in floor
    assert str(shared_bench_dir() / "node" / "rawbot.cjs") + " --format msgpack-delta" in floor


def sustained(clients: int, ok: bool) -> dict[str, Any]:
    return {**run("tickroom", 40.0, 180.0), "clients": clients, "sustained": ok}


def test_a_level_that_already_failed_ends_the_search_before_higher_steps() -> None:
    done = {100: sustained(100, True), 500: sustained(500, True), 1000: sustained(1000, False)}
    ran: list[int] = []

    def step(level: int) -> dict[str, Any]:
        ran.append(level)
        return sustained(level, False)

    found = find_max_sustained([1250, 1500], done, step)
    assert ran == []
    assert (found["max_sustained"], found["first_failing"]) == (500, 1000)


def test_steps_run_until_the_first_failure() -> None:
    done = {100: sustained(100, True), 1000: sustained(1000, True)}
    ran: list[int] = []

    def step(level: int) -> dict[str, Any]:
        ran.append(level)
        return sustained(level, level < 1500)

    found = find_max_sustained([1250, 1500, 2000], done, step)
    assert ran == [1250, 1500]
    assert (found["max_sustained"], found["first_failing"]) == (1250, 1500)
