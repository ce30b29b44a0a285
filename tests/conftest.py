"""Shared fixtures: a gateway wired to the demo sources (or any resources) over ASGI.

``make_gateway`` builds the real app, runs its lifespan, and routes every upstream call
through a counting transport into a demo FHIR server, so tests see exactly the HTTP
requests the gateway makes and never touch the network.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from demo.people import ORGS, PATIENTS
from demo.sources import create_sources_app
from gateway.app import create_app
from gateway.devtokens import DEV_ISSUER, DevIssuer
from gateway.services import READABLE_SOURCES
from gateway.settings import Settings

UPSTREAM = "http://sources.test"

#: Every field of a plan, its packages and `unassigned`: a read that asks every source.
FULL_PLAN = """
query Full($cpr: String) {
  plan(cpr: $cpr) {
    id cpr restricted generatedAt
    sources { name ok stale latencyMs error cached }
    packages {
      id kind
      diagnoses { sourceId } triage { sourceId } goals { sourceId }
      appointments { sourceId } journalNotes { sourceId } preventionOffers { sourceId }
      healthLiteracy { sourceId } course { sourceId } measurements { sourceId }
      medications { sourceId }
    }
    unassigned {
      diagnoses { sourceId } goals { sourceId } appointments { sourceId }
      journalNotes { sourceId } preventionOffers { sourceId } measurements { sourceId }
      medications { sourceId }
    }
  }
}
"""


class CountingTransport(httpx.AsyncBaseTransport):
    """Passes requests to an inner transport and keeps them, for counting upstream calls."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    def searches(self) -> list[tuple[str, str]]:
        """(source, resource type) of every upstream request, in order."""
        out = []
        for r in self.requests:
            parts = r.url.path.strip("/").split("/")
            out.append((parts[0], parts[1]))
        return out


@dataclass
class Gateway:
    """A running gateway app and what it sent upstream."""

    client: httpx.AsyncClient
    upstream: CountingTransport
    issuer: DevIssuer
    app: Any
    tokens: dict[str, str] = field(default_factory=dict)

    def citizen(self, cpr: str) -> str:
        return self.issuer.issue(role="citizen", cpr=cpr, name=PATIENTS.get(cpr, "Borger"))

    def clinician(self, org: str, name: str = "Dr. Demo") -> str:
        return self.issuer.issue(role="clinician", org=org, org_name=ORGS.get(org), name=name)

    async def query(
        self, query: str, token: str | None, variables: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.client.post(
            "/graphql", json={"query": query, "variables": dict(variables or {})}, headers=headers
        )

    async def data(
        self, query: str, token: str | None, variables: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The JSON body of a query that must answer HTTP 200."""
        response = await self.query(query, token, variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="session")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> DevIssuer:
    return DevIssuer(tmp_path_factory.mktemp("keys") / "dev-signing-key.pem")


@pytest.fixture
def jwks_file(issuer: DevIssuer, tmp_path: Path) -> Path:
    import json

    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(issuer.jwks()))
    return path


def gateway_settings(jwks_file: Path, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {f"source_{n}_url": f"{UPSTREAM}/{n}" for n in READABLE_SOURCES}
    values["source_listing_url"] = f"{UPSTREAM}/listing"  # (v2) the work list's
    values |= {
        "auth_issuer": DEV_ISSUER,
        "auth_jwks_url": jwks_file.as_uri(),
        "audit_url": f"sqlite:///{tmp_path / 'access-log.sqlite3'}",
        "http_transport": "httpx",
        "pseudonym_key": "test-pseudonym-key-0123456789abcdef",
    }
    values |= overrides
    return Settings(**values)


MakeGateway = Callable[..., contextlib.AbstractAsyncContextManager[Gateway]]


@pytest.fixture
def make_gateway(issuer: DevIssuer, jwks_file: Path, tmp_path: Path) -> MakeGateway:
    """``async with make_gateway(resources=..., transport=..., **settings) as gw:``.

    ``resources`` replaces the demo data; ``transport`` replaces the demo server entirely
    (e.g. a respx mock or a failing transport).
    """

    @contextlib.asynccontextmanager
    async def make(
        *,
        resources: Mapping[str, Sequence[dict[str, Any]]] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        latency: Mapping[str, float] | None = None,
        **overrides: Any,
    ) -> AsyncIterator[Gateway]:
        inner = transport or httpx.ASGITransport(app=create_sources_app(resources, latency=latency))
        upstream = CountingTransport(inner)
        settings = gateway_settings(jwks_file, tmp_path, **overrides)
        app = create_app(settings, transport=upstream)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
            ) as client,
        ):
            yield Gateway(client=client, upstream=upstream, issuer=issuer, app=app)

    return make


class FaultyTransport(httpx.AsyncBaseTransport):
    """Makes chosen sources fail on demand: ``faults["journal"] = 503`` / ``"junk"``.

    Everything else goes to the inner transport. Change ``faults`` between requests to
    make a source flap.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.faults: dict[str, int | str] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        source = request.url.path.strip("/").split("/")[0]
        fault = self.faults.get(source)
        if isinstance(fault, int):
            return httpx.Response(fault, text="upstream trouble", request=request)
        if fault == "junk":
            return httpx.Response(
                200, text="<html>maintenance</html>", headers={"content-type": "text/html"}
            )
        if fault == "refused":
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


@pytest.fixture
def faulty() -> FaultyTransport:
    """A FaultyTransport in front of the demo sources; pass as ``make_gateway(transport=…)``."""
    return FaultyTransport(httpx.ASGITransport(app=create_sources_app()))


@pytest.fixture
def make_v2_gateway(make_gateway: MakeGateway) -> MakeGateway:
    """``make_gateway``: it wires the v2 sources ``observations`` and ``medication`` too,
    as every source with a connector (the name stays for the tests that say they need them).
    """
    assert {"observations", "medication"} <= set(READABLE_SOURCES)
    return make_gateway


@pytest.fixture
async def redis_cache_url() -> str:
    """An empty Redis database for the shared source cache (skips, or fails under CI, without
    Redis: tests.services.require_service)."""
    from tests.services import redis_reachable, redis_url, require_service

    url = redis_url()
    reachable, detail = await redis_reachable(url)
    require_service("Redis", reachable, detail)
    import redis.asyncio as redis

    client = redis.Redis.from_url(url)
    await client.flushdb()
    await client.aclose()
    return url
