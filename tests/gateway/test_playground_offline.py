"""The playground works with no internet: it names no host but the gateway, which serves
every file it loads (with the licences), and the demo's token is fresh on every load."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import httpx
import jwt
import pytest

from demo.people import PATIENT_COPD
from gateway import devtokens
from gateway.app import create_app
from gateway.auth import TokenVerifier
from gateway.demo import EXAMPLE_QUERY
from gateway.devtokens import DEV_ISSUER
from gateway.settings import Settings
from plans.viewer import Role
from tests.conftest import MakeGateway

HTML = {"Accept": "text/html"}
STATIC = Path(__file__).parents[2] / "gateway" / "static" / "playground"
TOKEN = re.compile(r"Bearer (?P<token>[\w-]+\.[\w-]+\.[\w-]+)")
#: The CSP's source expressions that name no host.
KEYWORDS = {"'self'", "'none'", "'unsafe-inline'", "data:"}
_URL_ATTRIBUTES = {"src", "href", "action", "formaction", "data", "poster", "srcset"}


class _Page(HTMLParser):
    """Every URL an HTML page holds: in attributes, inline styles and inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[tuple[str, str]] = []  # (src, integrity)
        self.styles: list[tuple[str, str]] = []  # (href, integrity)
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name in _URL_ATTRIBUTES or "://" in value or "url(" in value:
                self.urls.append(value)
        if tag == "script" and "src" in values:
            self.scripts.append((values["src"], values.get("integrity", "")))
        if tag == "link" and values.get("rel") == "stylesheet":
            self.styles.append((values["href"], values.get("integrity", "")))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def _csp(response: httpx.Response) -> dict[str, list[str]]:
    directives = (d.split() for d in response.headers["content-security-policy"].split(";"))
    return {d[0]: d[1:] for d in directives if d}


@contextlib.asynccontextmanager
async def _demo(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The embedded demo (no source configured), as `minplan serve` starts it."""
    for name in list(os.environ):
        if name.startswith("MINPLAN_"):  # the developer's shell must not configure a source
            monkeypatch.delenv(name)
    settings = Settings(audit_url=f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    assert settings.demo
    app = create_app(settings, self_url="http://127.0.0.1", demo_key_path=tmp_path / "k.pem")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as client,
    ):
        yield client


@pytest.fixture
async def demo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with _demo(monkeypatch, tmp_path) as client:
        yield client


@pytest.fixture(
    params=[pytest.param("demo", id="demo"), pytest.param("sources", id="configured-sources")]
)
async def gateway(
    request: pytest.FixtureRequest,
    make_gateway: MakeGateway,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> AsyncIterator[httpx.AsyncClient]:
    """The playground in both modes: the demo, and a gateway with real sources configured."""
    if request.param == "demo":
        async with _demo(monkeypatch, tmp_path) as client:
            yield client
    else:
        async with make_gateway() as gw:
            yield gw.client


async def test_the_page_and_its_policy_name_no_host(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/graphql", headers=HTML)
    assert response.status_code == 200
    page = _parse(response.text)
    assert page.urls, "the page loads something"
    for url in page.urls:
        parts = urlsplit(url)
        assert parts.scheme == "data" or not (parts.scheme or parts.netloc), url
        assert url.startswith(("/static/playground/", "data:")), url
    # No URL hides in text either: an inline script's fetch, a style's url(), an @import.
    inline = "".join(page.text)
    assert not re.search(r"[a-z][a-z0-9+.-]*://", inline, re.IGNORECASE)
    assert "url(" not in inline and "@import" not in inline
    for directive, sources in _csp(response).items():
        for source in sources:
            assert source in KEYWORDS or source.startswith("'nonce-"), (directive, source)


async def test_the_policy_allows_the_gateways_own_files_and_its_nonced_script_only(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.get("/graphql", headers=HTML)
    policy = _csp(response)
    [nonce] = [s for s in policy["script-src"] if s.startswith("'nonce-")]
    assert policy["script-src"] == ["'self'", nonce]
    assert policy["style-src"][0] == "'self'"
    assert policy["connect-src"] == ["'self'"]
    assert policy["default-src"] == ["'none'"]
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", response.text)
    assert inline and all(f'nonce="{nonce[7:-1]}"' in attrs for attrs in inline)


@pytest.mark.parametrize(
    ("kind", "content_type"),
    [
        pytest.param("scripts", "text/javascript", id="scripts-are-javascript"),
        pytest.param("styles", "text/css", id="styles-are-css"),
    ],
)
async def test_every_file_the_page_loads_is_served_as_tagged(
    gateway: httpx.AsyncClient, kind: str, content_type: str
) -> None:
    page = _parse((await gateway.get("/graphql", headers=HTML)).text)
    assets = page.scripts if kind == "scripts" else page.styles
    names = {url.rsplit("/", 2)[1] for url, _ in assets}
    if kind == "scripts":
        assert {n.rsplit("-", 1)[0] for n in names} == {
            "react", "react-dom", "graphiql", "graphiql-plugin-explorer"
        }  # fmt: skip
    for url, integrity in assets:
        response = await gateway.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].split(";")[0] == content_type, url
        assert response.headers["x-content-type-options"] == "nosniff"
        # The folder names the version, so a URL's bytes never change: cached for good.
        assert "immutable" in response.headers["cache-control"], url
        # A browser runs a file only if it matches its tag's hash.
        digest = base64.b64encode(hashlib.sha384(response.content).digest()).decode()
        assert integrity == f"sha384-{digest}", url


async def test_the_styles_carry_their_fonts_and_nothing_points_at_a_source_map(
    gateway: httpx.AsyncClient,
) -> None:
    page = _parse((await gateway.get("/graphql", headers=HTML)).text)
    for url, _ in page.styles:
        css = (await gateway.get(url)).text
        assert "@import" not in css, url
        for ref in re.findall(r"url\(\s*['\"]?([^'\")]*)", css):
            assert ref.startswith("data:"), f"{url} loads {ref[:60]}"
    for url, _ in page.scripts + page.styles:
        tail = (await gateway.get(url)).content[-300:]
        assert b"sourceMappingURL" not in tail, url


async def test_each_vendored_package_carries_its_licence(make_gateway: MakeGateway) -> None:
    manifest = json.loads((STATIC / "manifest.json").read_text())
    readme = (STATIC / "README.md").read_text()
    packages = {p["name"]: p for p in manifest["packages"]}
    assert set(packages) == {"react", "react-dom", "graphiql", "@graphiql/plugin-explorer"}
    async with make_gateway() as gw:
        for name, package in packages.items():
            assert f"| `{name}` | {package['version']} |" in readme, name
            licence = await gw.client.get(f"/static/playground/{package['folder']}/LICENSE")
            assert licence.status_code == 200, name
            assert licence.headers["content-type"].startswith("text/plain"), name
            assert "Permission is hereby granted" in licence.text, name  # MIT, as npm says
            assert package["license"] == "MIT", name


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/static/playground/", id="no-directory-listing"),
        pytest.param("/static/playground/react-18.2.0/missing.js", id="unknown-file-is-404"),
        pytest.param("/static/playground/%2e%2e/%2e%2e/app.py", id="no-way-out-of-the-folder"),
    ],
)
async def test_only_the_vendored_files_are_served(make_gateway: MakeGateway, path: str) -> None:
    async with make_gateway() as gw:
        response = await gw.client.get(path)
    assert response.status_code == 404
    assert "immutable" not in response.headers["cache-control"]


async def test_each_page_load_gets_its_own_token_that_verifies_and_is_fresh(
    demo: httpx.AsyncClient, tmp_path: Path
) -> None:
    pages = [(await demo.get("/graphql", headers=HTML)).text for _ in range(2)]
    tokens = [m["token"] for page in pages if (m := TOKEN.search(page))]
    assert len(tokens) == 2 and tokens[0] != tokens[1]
    verifier = TokenVerifier(issuer=DEV_ISSUER, jwks_url=(tmp_path / "dev-jwks.json").as_uri())
    try:
        for token in tokens:
            viewer = await verifier.verify(token)
            assert (viewer.role, viewer.cpr) == (Role.CITIZEN, PATIENT_COPD)
    finally:
        await verifier.aclose()
    now = time.time()
    for token in tokens:
        claims = jwt.decode(token, options={"verify_signature": False})
        assert now - 60 <= claims["iat"] <= now + 1
        assert claims["exp"] > now + 3600
    assert json.dumps(EXAMPLE_QUERY) in pages[0]


async def test_a_demo_running_for_days_still_serves_a_token_valid_then(
    demo: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = time.time() + 3 * 24 * 3600  # the app started now; the page is asked for later
    monkeypatch.setattr(devtokens, "time", SimpleNamespace(time=lambda: later))
    found = TOKEN.search((await demo.get("/graphql", headers=HTML)).text)
    assert found
    claims = jwt.decode(found["token"], options={"verify_signature": False})
    assert claims["iat"] >= int(later)
    assert claims["exp"] > later + 3600


async def test_the_title_is_min_plan_playground(gateway: httpx.AsyncClient) -> None:
    page = (await gateway.get("/graphql", headers=HTML)).text
    assert re.findall(r"<title>(.*?)</title>", page) == ["Min Plan playground"]


async def test_outside_the_demo_no_token_is_preloaded(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        page = (await gw.client.get("/graphql", headers=HTML)).text
    assert not TOKEN.search(page)
    assert not re.search(r"ey[\w-]+\.ey[\w-]+\.", page), "no JWT-shaped text at all"
    assert "query Me" in page, "a welcome query instead of the demo's"
