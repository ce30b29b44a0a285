"""Fixtures for the page tests: the embedded demo in-process, and a browser-like client.

The demo calls its sources over HTTP at its own base URL; here that URL is served by the
same app through ASGI, so the demo runs whole without a socket.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from gateway.app import create_app
from gateway.settings import Settings

BASE = "http://127.0.0.1:8000"


class _Loopback(httpx.AsyncBaseTransport):
    """The gateway's calls to its own demo sources, answered by the app itself."""

    def __init__(self) -> None:
        self.app: Any = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app)
        return await transport.handle_async_request(request)


@contextlib.asynccontextmanager
async def demo_app(tmp_path: Path, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The embedded demo's app, running, and a client (with a cookie jar) on it."""
    settings = Settings(audit_url=f"sqlite:///{tmp_path / 'access-log.sqlite3'}", **overrides)
    assert settings.demo
    loopback = _Loopback()
    app = create_app(
        settings, self_url=BASE, transport=loopback, demo_key_path=tmp_path / "key.pem"
    )
    loopback.app = app
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client,
    ):
        client.app = app  # type: ignore[attr-defined]
        yield client


def csrf_of(html: str, action: str | None = None) -> str:
    """The CSRF token of the page's form (the one posting to ``action``, if given)."""
    if action is not None:
        form = re.search(rf'<form[^>]*action="{re.escape(action)}".*?</form>', html, re.S)
        assert form, f"no form posts to {action}"
        html = form.group(0)
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, who: str) -> httpx.Response:
    """Pick a demo person on the front page, as a visitor does (``who``: a person's key)."""
    index = await client.get("/")
    token = csrf_of(index.text, "/signin")
    return await client.post("/signin", data={"csrf": token, "who": who})
