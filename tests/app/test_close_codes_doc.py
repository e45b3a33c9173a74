"""docs/reference/close-codes.md has a row for every close code, and every test it names as the
proof of a code exists in tests/app."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from protocol.codes import CloseCode

HERE = Path(__file__).resolve().parent
PAGE = (HERE.parents[1] / "docs" / "reference" / "close-codes.md").read_text(encoding="utf-8")
TESTS = "\n".join(path.read_text(encoding="utf-8") for path in sorted(HERE.glob("test_*.py")))
ROWS = [line for line in PAGE.splitlines() if re.match(r"\| \d{4} \|", line)]


def named_tests() -> list[str]:
    return sorted({name for row in ROWS for name in re.findall(r"`(test_\w+)`", row)})


@pytest.mark.parametrize("code", list(CloseCode), ids=lambda code: code.name)
def test_every_close_code_has_a_row(code: CloseCode) -> None:
    assert sum(row.startswith(f"| {code.value} | `{code.name}` |") for row in ROWS) == 1


def test_the_page_names_tests() -> None:
    assert len(named_tests()) >= 20


@pytest.mark.parametrize("name", named_tests())
def test_every_test_named_exists(name: str) -> None:
    assert f"def {name}(" in TESTS
