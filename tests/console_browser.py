"""Headless Chromium for the web console's tests, driven by Playwright.

The browser is Debian's Chromium (`/usr/bin/chromium`, installed by `make check`); set
`VIDGATE_CHROMIUM` to use another. Screenshots go to `test-artifacts/console/` at the
repository root (or `VIDGATE_TEST_ARTIFACTS`), for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from conftest import RunningGateway, start_gateway

CHROMIUM = os.environ.get("VIDGATE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(
    os.environ.get("VIDGATE_TEST_ARTIFACTS", Path(__file__).parents[1] / "test-artifacts")
)
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module. Playwright runs an event loop on this thread while it is
    open, so it is closed after the module, before tests that call `asyncio.run` here."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make check` installs it (apt-get install)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture(scope="module")
def console_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """One gateway for a module's browser tests; each test makes its own keys."""
    running = start_gateway(tmp_path_factory.mktemp("console") / "data")
    yield running
    running.stop()


def screenshot(page: Page, name: str) -> Path:
    """Save the page as `test-artifacts/console/NAME.png` and return the path."""
    target = ARTIFACTS / "console" / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    return target


def sign_in(page: Page, gateway: RunningGateway, key: str) -> None:
    """Sign in through the console's own form and land on the tasks page."""
    page.goto(f"{gateway.url}/console/sign-in")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{gateway.url}/console/")
