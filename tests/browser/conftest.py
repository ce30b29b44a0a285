"""A real browser against a real demo gateway, with nothing but loopback reachable.

Chromium comes from the system (Debian's ``chromium`` package); Playwright drives it by its
path and never downloads a browser of its own. Without one the tests skip and say why,
except under CI, where they fail: a browser that went missing must not pass as green.

One ``minplan serve`` demo and one browser serve the whole package (both are torn down
after its last test); every test gets a fresh browser context, so cookies and sign-ins
never leak from one viewer to the next. Every request whose host is not 127.0.0.1 is
aborted and recorded, so a test can say that the page needed nothing from outside.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Playwright, Route, sync_playwright

from tests.browser.viewing import ARTIFACTS, Visit
from tests.demo_server import Server, demo_server

#: Where the browser is looked for, in order, when ``$MINPLAN_CHROMIUM`` does not name it.
CHROMIUM_NAMES = ("chromium", "chromium-browser")
_FALSY = frozenset({"", "0", "false", "no", "off"})


def find_chromium() -> Path | None:
    """``$MINPLAN_CHROMIUM``, else the first of :data:`CHROMIUM_NAMES` on ``PATH``."""
    named = os.environ.get("MINPLAN_CHROMIUM")
    if named:
        return Path(named) if os.access(named, os.X_OK) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


@pytest.fixture(scope="package")
def chromium() -> Path:
    path = find_chromium()
    if path is None:
        message = (
            "no Chromium found ($MINPLAN_CHROMIUM, or chromium on PATH; "
            "Debian: apt-get install chromium)"
        )
        if os.environ.get("CI", "").strip().lower() not in _FALSY:
            pytest.fail(f"{message} (CI set: the browser tests are required)", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    # Package scope, not session: the sync API keeps an event loop of its own, which must be
    # gone before pytest-asyncio runs the async tests of the packages after this one.
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="package")
def browser(playwright: Playwright, chromium: Path) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=chromium, headless=True)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture(scope="package")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The README's demo (``minplan serve``) with its access log, on a free loopback port."""
    with demo_server(tmp_path_factory.mktemp("browser")) as running:
        yield running


@pytest.fixture(scope="package")
def artifacts() -> Path:
    """Screenshots and PDFs, kept after the run (git-ignored) for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def visit(browser: Browser, gateway: Server) -> Iterator[Visit]:
    """A fresh context (Danish, Copenhagen, desktop width) whose only network is loopback."""
    context = browser.new_context(
        base_url=gateway.url,
        locale="da-DK",
        timezone_id="Europe/Copenhagen",
        viewport={"width": 1280, "height": 900},
    )
    blocked: list[str] = []

    def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("blockedbyclient")

    context.route("**/*", loopback_only)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield Visit(server=gateway, context=context, page=page, blocked=blocked, errors=errors)
    finally:
        context.close()
