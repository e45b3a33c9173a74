"""The demo and the client library in a real headless Chromium against a real server.

Two windows play in one arena and see each other move; a window whose socket the server drops
reconnects, resumes its session and plays on; a page from a foreign Origin is refused and says
so; two windows play Connect Four to a win; the tutorial's Tag page joins and moves. Each test
keeps screenshots in test-artifacts/browser/.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from browser.browser_harness import ForeignSite, LiveServer
from game_server.room import Room
from protocol.codes import CloseCode

if TYPE_CHECKING:
    from playwright.sync_api import Page

NewPage = Callable[[], "Page"]


def join_arena(page: Page, base: str, name: str, room_id: str | None = None) -> str:
    """Open the lobby, type a name, and create a room (or join ``room_id`` by id); returns the
    room's id once the arena is on screen."""
    page.goto(f"{base}/")
    page.fill("#name", name)
    if room_id is None:
        page.click("#create")
    else:
        page.fill("#room-id", room_id)
        page.click("#join-by-id button")
    page.wait_for_selector("body[data-view=game]")
    page.wait_for_function("() => window.tickroomDemo.view !== null")
    room: str = page.evaluate("() => window.tickroomDemo.room.id")
    return room


def session_id(page: Page) -> str:
    sid: str = page.evaluate("() => window.tickroomDemo.room.sessionId")
    return sid


def body_of(page: Page, sid: str) -> dict[str, Any]:
    """Where ``page``'s copy of the room state has player ``sid``."""
    found: dict[str, Any] = page.evaluate(
        "(sid) => window.tickroomDemo.room.state.players[sid]", sid
    )
    return found


def wait_until_present(page: Page, sid: str) -> None:
    page.wait_for_function("(sid) => !!window.tickroomDemo.room.state.players[sid]", arg=sid)


def hold(page: Page, key: str, seconds: float) -> None:
    """Hold a key down, as a player does."""
    page.keyboard.down(key)
    time.sleep(seconds)  # real input over real time: the room moves the player every tick
    page.keyboard.up(key)


def wait_moved(page: Page, sid: str, axis: str, beyond: float) -> None:
    """Wait until ``page`` sees player ``sid``'s ``axis`` past ``beyond`` (either direction is
    given by the sign of the change expected: positive means greater)."""
    page.wait_for_function(
        "([sid, axis, beyond]) => {"
        "  const body = window.tickroomDemo.room.state.players[sid];"
        "  return !!body && (beyond >= 0 ? body[axis] > beyond : body[axis] < -beyond);"
        "}",
        arg=[sid, axis, beyond],
    )


def test_two_windows_in_one_arena_see_each_other_move(
    live_server: LiveServer, new_page: NewPage, artifacts: Path
) -> None:
    alice_page, bob_page = new_page(), new_page()
    room_id = join_arena(alice_page, live_server.base, "alice")
    assert join_arena(bob_page, live_server.base, "bob", room_id) == room_id
    alice, bob = session_id(alice_page), session_id(bob_page)
    wait_until_present(alice_page, bob)
    wait_until_present(bob_page, alice)

    start = body_of(bob_page, alice)
    hold(alice_page, "ArrowRight" if start["x"] < 900 else "ArrowLeft", 1.0)
    direction = 1 if start["x"] < 900 else -1
    wait_moved(bob_page, alice, "x", start["x"] + 20 if direction > 0 else -(start["x"] - 20))

    start = body_of(alice_page, bob)
    hold(bob_page, "ArrowDown" if start["y"] < 900 else "ArrowUp", 1.0)
    direction = 1 if start["y"] < 900 else -1
    wait_moved(alice_page, bob, "y", start["y"] + 20 if direction > 0 else -(start["y"] - 20))

    # Bob's view draws Alice interpolated between states: once she stands still, where she is.
    alice_page.wait_for_function("() => window.tickroomDemo.room.unackedInputs.size === 0")
    bob_page.wait_for_function(
        "(sid) => {"
        "  const demo = window.tickroomDemo;"
        "  const drawn = demo.view.buffer.sample(performance.now()).get('p:' + sid);"
        "  const body = demo.room.state.players[sid];"
        "  return !!drawn && Math.abs(drawn.x - body.x) < 0.5 && Math.abs(drawn.y - body.y) < 0.5;"
        "}",
        arg=alice,
    )
    # Alice's own prediction agrees with the server once her inputs are acknowledged.
    predicted = alice_page.evaluate("() => window.tickroomDemo.view.predictor.predicted")
    assert predicted == {"x": body_of(alice_page, alice)["x"], "y": body_of(alice_page, alice)["y"]}

    assert alice_page.inner_text("#hud-players") == "2"
    assert alice_page.inner_text("#hud-ping").endswith("ms")
    assert "B/s" in alice_page.inner_text("#hud-in")
    alice_page.screenshot(path=artifacts / "arena-alice.png")
    bob_page.screenshot(path=artifacts / "arena-bob.png")


def test_a_dropped_window_reconnects_and_plays_on(
    live_server: LiveServer, new_page: NewPage, artifacts: Path
) -> None:
    page = new_page()
    room_id = join_arena(page, live_server.base, "carol")
    sid = session_id(page)
    wait_until_present(page, sid)

    def drop() -> None:
        room = live_server.state.registry.get(room_id)
        assert room is not None
        connection = room.clients[sid].connection
        assert connection is not None
        connection.close(CloseCode.MAY_TRY_RECONNECT, "dropped by the test")
        room.clients[sid].wake()

    live_server.call(drop)
    page.wait_for_function("() => window.tickroomDemo.room.stats.reconnects === 1")
    page.wait_for_selector("body[data-connection=joined]")
    assert "Reconnected" in page.inner_text("#status")
    assert session_id(page) == sid

    def server_body() -> dict[str, Any]:
        room: Room | None = live_server.state.registry.get(room_id)
        assert room is not None
        body: dict[str, Any] = dict(room.state["players"][sid])
        return body

    before = live_server.call(server_body)
    key = "ArrowLeft" if before["x"] > 100 else "ArrowRight"
    hold(page, key, 1.0)
    page.wait_for_function("() => window.tickroomDemo.room.unackedInputs.size === 0")
    after = live_server.call(server_body)
    assert abs(after["x"] - before["x"]) >= 20, "the server moved the player after the reconnect"
    assert body_of(page, sid)["x"] == after["x"]

    def player_count() -> int:
        room = live_server.state.registry.get(room_id)
        assert room is not None
        return room.player_count

    assert live_server.call(player_count) == 1, "the same seat, not a second player"
    page.screenshot(path=artifacts / "arena-reconnected.png")


def test_a_page_from_a_foreign_origin_is_refused(
    live_server: LiveServer, foreign_site: ForeignSite, new_page: NewPage, artifacts: Path
) -> None:
    seat = httpx.post(f"{live_server.base}/matchmake/create/arena", json={"name": "mallory"})
    assert seat.status_code == 200
    refused_before = live_server.state.metrics.origin_refused
    page = new_page()
    page.goto(f"{foreign_site.base}/foreign.html#seat={quote(json.dumps(seat.json()))}")
    page.wait_for_selector("body[data-result=refused]")
    assert page.get_attribute("body", "data-code") == "1006"
    assert page.get_attribute("body", "data-opened") == "false"
    assert "Could not connect to the game server: it refused this page" in page.inner_text(
        "#status"
    )
    assert live_server.state.metrics.origin_refused == refused_before + 1
    page.screenshot(path=artifacts / "foreign-origin-refused.png")


def test_two_windows_play_connect_four_to_a_win(
    live_server: LiveServer, new_page: NewPage, artifacts: Path
) -> None:
    ann, bob = new_page(), new_page()
    ann.goto(f"{live_server.base}/connect-four")
    ann.fill("#name", "ann")
    ann.click("#create-private")
    ann.wait_for_selector("body[data-view=game]")
    game_id = ann.evaluate("() => window.tickroomDemo.room.id")
    bob.goto(f"{live_server.base}/connect-four?room={game_id}")
    bob.wait_for_selector("body[data-view=game]")
    ann.wait_for_function("() => window.tickroomDemo.room.state.status === 'playing'")
    first, second = (ann, bob) if "Your turn" in ann.inner_text("#status") else (bob, ann)
    # The first mover stacks column 3, the other column 2: four in a column wins on move 7.
    for discs, (page, column) in enumerate([(first, 3), (second, 2)] * 3 + [(first, 3)]):
        page.wait_for_function(  # this page has seen every move so far
            'n => document.querySelectorAll(\'#board .cell[data-color="1"],'
            ' #board .cell[data-color="2"]\').length === n',
            arg=discs,
        )
        page.wait_for_selector("#status:has-text('Your turn')")
        page.click(f"#board .cell[data-row='0'][data-column='{column}']")
    first.wait_for_selector("#status:has-text('You won!')")
    second.wait_for_selector("#status:has-text('won.')")
    assert not second.is_hidden("#rematch")
    first.screenshot(path=artifacts / "connect-four-winner.png")
    second.screenshot(path=artifacts / "connect-four-loser.png")


def test_the_tutorial_tag_page_joins_and_moves(
    live_server: LiveServer, new_page: NewPage, artifacts: Path
) -> None:
    page = new_page()
    page.goto(f"{live_server.base}/client/examples/tag.html")
    page.fill("#name", "tagger")
    page.click("#join")
    page.wait_for_selector("body[data-view=game]")
    sid = page.evaluate("() => window.tag.room.sessionId")
    page.wait_for_function("(sid) => !!window.tag.room.state.players[sid]", arg=sid)
    start = page.evaluate("(sid) => window.tag.room.state.players[sid]", sid)
    key, step = ("ArrowRight", 1) if start["x"] < 8 else ("ArrowLeft", -1)
    page.keyboard.down(key)
    page.wait_for_function(
        "([sid, x]) => window.tag.room.state.players[sid].x !== x", arg=[sid, start["x"]]
    )
    page.keyboard.up(key)
    moved = page.evaluate("(sid) => window.tag.room.state.players[sid]", sid)
    assert (moved["x"] - start["x"]) * step > 0
    assert "it" in page.inner_text("#scores")
    page.screenshot(path=artifacts / "tutorial-tag.png")


def test_the_arena_plays_with_wasd_and_a_finger(
    live_server: LiveServer, new_page: NewPage, artifacts: Path
) -> None:
    page = new_page()
    join_arena(page, live_server.base, "dora")
    sid = session_id(page)
    wait_until_present(page, sid)
    start = body_of(page, sid)
    key, sign = ("KeyS", 1) if start["y"] < 500 else ("KeyW", -1)
    hold(page, key, 0.6)
    wait_moved(page, sid, "y", start["y"] + 10 if sign > 0 else -(start["y"] - 10))

    # A press held on the canvas walks the player towards it, as a finger does on a phone.
    start = body_of(page, sid)
    box = page.locator("#arena").bounding_box()
    assert box is not None
    scale = box["width"] / 1000
    target_x = start["x"] + 200 if start["x"] < 500 else start["x"] - 200
    page.mouse.move(box["x"] + target_x * scale, box["y"] + start["y"] * scale)
    page.mouse.down()
    time.sleep(0.6)  # held for real time: the room moves the player every tick
    page.mouse.up()
    toward = 1 if target_x > start["x"] else -1
    wait_moved(page, sid, "x", start["x"] + 10 if toward > 0 else -(start["x"] - 10))
    page.screenshot(path=artifacts / "arena-touch.png")
