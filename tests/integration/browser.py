"""Debian's Chromium driven by Playwright: started once per pytest session, by the first test that
needs it. Playwright never downloads a browser of its own here (``executable_path``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from jobstream.infra.chromium import CHROMIUM

# Flags that keep a headless Chromium quiet and off the network (it has nothing to fetch but our pages).
CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """The session's browser (each ``launch`` gets a fresh temporary profile of Playwright's making)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `jobstream infra install` (or `make deps`) installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, chromium_sandbox=False,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser context and page at 1280 px; a script error on the page fails the test."""
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"script errors on the page: {errors}"
