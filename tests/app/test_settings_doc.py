"""docs/reference/settings.md lists every ``Settings`` field with its environment variable and
its default (as JSON), and the how-to on running the server names every flag of the run command.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from game_server.__main__ import _parser, settings_from_args
from game_server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "reference" / "settings.md").read_text(encoding="utf-8")
HOWTO = (ROOT / "docs" / "howto" / "run-and-configure.md").read_text(encoding="utf-8")
FIELDS = list(Settings.model_fields)


def row(name: str) -> str:
    rows = [line for line in PAGE.splitlines() if line.startswith(f"| `{name}` |")]
    assert len(rows) == 1, f"docs/reference/settings.md needs one row for {name}"
    return rows[0]


def documented() -> list[str]:
    """The setting names in the table's first column."""
    return [
        line.split("`")[1]
        for line in PAGE.splitlines()
        if line.startswith("| `") and "`TICKROOM_" in line
    ]


def run_flags() -> list[str]:
    commands = next(
        action for action in _parser()._actions if isinstance(action, argparse._SubParsersAction)
    )
    run = commands.choices["run"]
    return [
        option
        for action in run._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]


def test_the_settings_are_found() -> None:
    assert {"host", "public_url", "allowed_origins", "idle_timeout"} <= set(FIELDS)


@pytest.mark.parametrize("name", FIELDS)
def test_every_setting_has_a_row(name: str) -> None:
    row(name)


@pytest.mark.parametrize("name", FIELDS)
def test_every_row_names_the_environment_variable(name: str) -> None:
    assert f"| `TICKROOM_{name.upper()}` |" in row(name)


@pytest.mark.parametrize("name", FIELDS)
def test_every_row_shows_the_default_as_json(name: str) -> None:
    default = Settings.model_fields[name].get_default(call_default_factory=True)
    assert f"| `{json.dumps(default)}` |" in row(name)


def test_the_page_lists_no_setting_that_does_not_exist() -> None:
    assert sorted(documented()) == sorted(FIELDS)


def test_an_environment_variable_sets_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKROOM_IDLE_TIMEOUT", "30")
    monkeypatch.setenv("TICKROOM_ALLOWED_ORIGINS", '["https://play.example.com"]')
    settings = Settings()
    assert settings.idle_timeout == 30.0
    assert settings.allowed_origins == ["https://play.example.com"]


def test_the_run_command_has_flags() -> None:
    assert {"--host", "--port", "--game"} <= set(run_flags())


@pytest.mark.parametrize("flag", run_flags())
def test_the_how_to_names_every_flag_of_the_run_command(flag: str) -> None:
    assert f"`{flag}" in HOWTO


def test_no_fast_socket_turns_the_setting_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TICKROOM_FAST_SOCKET", raising=False)
    parse = _parser().parse_args
    assert settings_from_args(parse(["run"])).fast_socket is True
    assert settings_from_args(parse(["run", "--no-fast-socket"])).fast_socket is False
