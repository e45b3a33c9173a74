"""The reference pages name what the code has, and the how-to's listings match the tests.

docs/reference/room.md must list every public Room setting (a ClassVar in room.py) in its
settings table with the current default, and give every hook (``on_*``, ``update``) a heading.
docs/reference/simulation.md must name every public attribute and method of Simulation and
SimClient, and room.md every one of Client. A ```python block in docs/howto or docs/reference
whose first line is ``# excerpt: PATH`` must appear verbatim in PATH. A block that starts with
``# file: PATH`` must be that whole file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from game_server import Client, Room, SimClient, Simulation

ROOT = Path(__file__).resolve().parents[1]
ROOM_PAGE = (ROOT / "docs" / "reference" / "room.md").read_text(encoding="utf-8")
SIMULATION_PAGE = (ROOT / "docs" / "reference" / "simulation.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"# (file|excerpt): (\S+)\n")


def room_settings() -> list[str]:
    """Public class attributes that room.py annotates as ClassVar."""
    return [
        name
        for name, annotation in Room.__annotations__.items()
        if not name.startswith("_") and "ClassVar" in str(annotation)
    ]


def room_hooks() -> list[str]:
    return [
        name
        for name, value in vars(Room).items()
        if callable(value) and (name.startswith("on_") or name == "update")
    ]


def public_names(*objects: object) -> set[str]:
    """Public attributes of the objects and of their classes (a slotted class names its
    instances' attributes itself)."""
    names: set[str] = set()
    for thing in objects:
        names |= {name for name in getattr(thing, "__dict__", {}) if not name.startswith("_")}
        names |= {name for name in vars(type(thing)) if not name.startswith("_")}
    return names


def mentioned(name: str, page: str) -> bool:
    return f"`{name}`" in page or f"`{name}(" in page or f"### `{name}" in page


def test_the_settings_and_hooks_are_found() -> None:
    assert {"max_clients", "tick_rate", "input_model"} <= set(room_settings())
    assert {"on_create", "on_join", "on_message", "update"} <= set(room_hooks())


@pytest.mark.parametrize("name", room_settings())
def test_every_setting_has_a_row_with_its_default(name: str) -> None:
    rows = [line for line in ROOM_PAGE.splitlines() if line.startswith(f"| `{name}` |")]
    assert len(rows) == 1, f"docs/reference/room.md has no settings row for {name}"
    default = getattr(Room, name)
    assert f"| `{default!r}` |" in rows[0], f"{name} defaults to {default!r}"


@pytest.mark.parametrize("name", room_hooks())
def test_every_hook_has_a_heading(name: str) -> None:
    assert re.search(rf"^### `{name}\(", ROOM_PAGE, re.MULTILINE), name


def test_every_client_attribute_is_named() -> None:
    sim = Simulation(Room)
    sim.join()
    client = next(iter(sim.room.clients.values()))
    assert isinstance(client, Client)
    missing = sorted(name for name in public_names(client) if not mentioned(name, ROOM_PAGE))
    assert missing == []


def test_every_simulation_attribute_is_named() -> None:
    sim = Simulation(Room)
    client = sim.join()
    assert isinstance(client, SimClient)
    names = public_names(sim, client)
    missing = sorted(name for name in names if not mentioned(name, SIMULATION_PAGE))
    assert missing == []


def listings() -> list[object]:
    found: list[object] = []
    for page in sorted([*ROOT.glob("docs/howto/*.md"), *ROOT.glob("docs/reference/*.md")]):
        text = page.read_text(encoding="utf-8")
        for block in BLOCK.finditer(text):
            marker = MARKER.match(block.group(1))
            if marker is None:
                continue
            line = text.count("\n", 0, block.start()) + 1
            where = f"{page.relative_to(ROOT)}:{line}"
            found.append(pytest.param(marker.group(1), marker.group(2), block.group(1), id=where))
    return found


LISTINGS = listings()


def test_the_how_to_has_listings() -> None:
    assert len(LISTINGS) >= 10


@pytest.mark.parametrize(("kind", "path", "code"), LISTINGS)
def test_a_listing_matches_its_file(kind: str, path: str, code: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    if kind == "file":
        assert code == text
    else:
        assert code.split("\n", 1)[1] in text
