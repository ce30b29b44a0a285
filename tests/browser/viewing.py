"""What the browser tests do to a page: sign in, look, measure, check, print.

Kept apart from the fixtures so each test reads as the steps a person takes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page
from pypdf import PdfReader

from tests.demo_server import Server

ARTIFACTS = Path(__file__).with_name("artifacts")
#: A phone (the citizen apps' web views) and a clinic's desktop.
WIDTHS = (390, 1280)
#: An A4 sheet's width and height in CSS pixels.
A4_WIDTH, A4_HEIGHT = 794, 1123
#: The axe-core impacts that fail a page.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


@dataclass
class Visit:
    """One browser context on the demo gateway, and what it saw go wrong."""

    server: Server
    context: BrowserContext
    page: Page
    blocked: list[str]
    """Requests aborted because their host was not 127.0.0.1."""
    errors: list[str]
    """Uncaught script errors on the page."""

    def sign_in_with_token(self, *token_args: str) -> None:
        """Send a bearer token on every request, as a portal's proxy in front of the pages does."""
        token = self.server.token(*token_args)
        self.context.set_extra_http_headers({"Authorization": f"Bearer {token}"})


def sign_in_as(page: Page, person: str) -> None:
    """Pick ``person`` on the demo's front page; the browser keeps their sign-in cookie."""
    page.goto("/")
    page.get_by_role("main").get_by_role("button", name=person).click()
    page.wait_for_url(re.compile(r"/plan(/|$)"))


def screenshots(page: Page, directory: Path, name: str) -> dict[int, Path]:
    """The whole page at each of :data:`WIDTHS`; the page must not scroll sideways at any."""
    shots: dict[int, Path] = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        path = directory / f"{name}-{width}.png"
        page.screenshot(path=path, full_page=True)
        if width == WIDTHS[0]:  # what a phone shows first, before any scrolling
            page.screenshot(path=directory / f"{name}-{width}-screen.png")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px ({path})"
        shots[width] = path
    page.set_viewport_size({"width": WIDTHS[-1], "height": 900})
    return shots


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Every axe-core violation on the page as it stands, whatever its impact."""
    response: dict[str, Any] = Axe().run(page).response
    violations: list[dict[str, Any]] = response["violations"]
    return violations


def blocking(violations: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The violations that fail a page: serious and critical ones."""
    return [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]


def describe(violations: Iterable[dict[str, Any]]) -> str:
    """One line per violation, for an assertion message a person can act on."""
    lines = []
    for violation in violations:
        targets = ", ".join(str(node["target"]) for node in violation["nodes"][:5])
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return "\n".join(lines)


def print_to_pdf(page: Page, path: Path) -> str:
    """Print the page as the browser's "Print" does (A4, print styles); the PDF's text."""
    pdf = page.pdf(format="A4", print_background=True, path=path)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    # A PDF breaks lines where the page did; compare words, not layout.
    return re.sub(r"\s+", " ", text)


def print_screenshot(page: Page, path: Path) -> Path:
    """The page as its print stylesheet lays it out on an A4 sheet's width.

    Besides the whole page, ``path`` with ``-sheet`` added holds the first sheet's height.
    """
    page.emulate_media(media="print")
    page.set_viewport_size({"width": A4_WIDTH, "height": A4_HEIGHT})
    try:
        page.screenshot(path=path, full_page=True)
        page.screenshot(path=path.with_stem(f"{path.stem}-sheet"))
    finally:
        page.emulate_media(media="screen")
        page.set_viewport_size({"width": WIDTHS[-1], "height": 900})
    return path
