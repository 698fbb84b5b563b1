"""Debian's Chromium driven by Playwright: started once per pytest session, by the first test that
needs it. Playwright never downloads a browser of its own here (``executable_path``).

Playwright's sync API keeps its event loop marked as running in this thread between its calls, so
any later test calling ``asyncio.run`` would fail. The loop is marked running only while a browser
test (or the session's start and end) uses it, and parked in between.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, ViewportSize, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from jobstream.infra.chromium import CHROMIUM

# Flags that keep a headless Chromium quiet and off the network (it has nothing to fetch but our pages).
CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
# The README's screenshots are written by `make screenshots`; an ordinary test run keeps its own
# out of the working tree.
SCREENSHOTS = Path(os.environ.get("JOBSTREAM_SCREENSHOTS") or tempfile.mkdtemp(prefix="jobstream-screenshots-"))



def element_screenshot(locator: Locator, path: Path, attempts: int = 5) -> None:
    """A picture of one element of a live page. A change can redraw the page between finding the
    element and taking its picture (its live part swaps the element out): it is then found and
    taken again."""
    for attempt in range(1, attempts + 1):
        try:
            locator.screenshot(path=path)
            return
        except PlaywrightError as error:
            if "not attached" not in str(error) or attempt == attempts:
                raise


@dataclass
class BrowserSession:
    browser: Browser
    loop: asyncio.AbstractEventLoop | None  # Playwright's, parked while no browser test runs

    @contextmanager
    def turn(self) -> Iterator[Browser]:
        asyncio._set_running_loop(self.loop)
        try:
            yield self.browser
        finally:
            asyncio._set_running_loop(None)


@pytest.fixture(scope="session")
def chromium() -> Iterator[BrowserSession]:
    """The session's browser (each ``launch`` gets a fresh temporary profile of Playwright's making)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `jobstream infra install` (or `make deps`) installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, chromium_sandbox=False,
                                             args=CHROMIUM_ARGS)
        session = BrowserSession(browser, asyncio._get_running_loop())
        asyncio._set_running_loop(None)
        yield session
        asyncio._set_running_loop(session.loop)  # for Playwright's own goodbye
        browser.close()


@pytest.fixture
def page(chromium: BrowserSession) -> Iterator[Page]:
    """A fresh browser context and page at 1280 px; a script error on the page fails the test."""
    with chromium.turn() as browser:
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        context.close()
    assert not errors, f"script errors on the page: {errors}"
