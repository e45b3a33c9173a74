"""Fixtures of the browser tests: a live server, Chromium, pages, and a folder for screenshots.

Screenshots go to test-artifacts/browser/ (ignored by git) so a person can look at them after a
run. A page's uncaught JavaScript error fails the test that opened it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from browser.browser_harness import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    ForeignSite,
    LiveServer,
    require_chromium,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture(scope="module")
def live_server() -> Iterator[LiveServer]:
    with LiveServer() as server:
        yield server


@pytest.fixture(scope="module")
def foreign_site() -> Iterator[ForeignSite]:
    with ForeignSite() as site:
        yield site


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()  # first: a missing browser or package fails with how to install it
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    playwright = sync_playwright().start()
    try:
        # launch() gives every run a fresh, empty profile (its own --user-data-dir).
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Open pages, each in its own context (its own storage, like another window or person)."""
    contexts = []
    errors: list[str] = []

    def open_page() -> Page:
        context = browser.new_context(viewport={"width": 900, "height": 1000})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"uncaught JavaScript errors: {errors}"
