"""docs/tutorial/05-in-the-browser.md shows real code: each of its JavaScript and HTML listings
starts with ``// excerpt: PATH`` (``<!-- excerpt: PATH -->`` in HTML) and appears in PATH word
for word. The page itself is loaded and played in Chromium by test_in_chromium.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = ROOT / "docs" / "tutorial" / "05-in-the-browser.md"
BLOCK = re.compile(r"^```(js|html)\n(.*?)^```$", re.M | re.S)
MARKER = re.compile(r"(?://|<!--) excerpt: (\S+?)(?: -->)?\n")
LISTINGS = BLOCK.findall(CHAPTER.read_text(encoding="utf-8"))


def test_the_chapter_has_listings() -> None:
    assert len(LISTINGS) >= 6


@pytest.mark.parametrize(("language", "body"), LISTINGS)
def test_each_listing_is_an_excerpt_of_a_real_file(language: str, body: str) -> None:
    marker = MARKER.match(body)
    assert marker is not None, f"a {language} listing without an excerpt marker:\n{body}"
    source = (ROOT / marker[1]).read_text(encoding="utf-8")
    assert body[marker.end() :] in source, f"not found in {marker[1]}:\n{body}"


def test_the_tutorial_index_links_the_chapter() -> None:
    index = (ROOT / "docs" / "tutorial" / "README.md").read_text(encoding="utf-8")
    assert "(05-in-the-browser.md)" in index
