"""The ASGI app over HTTP: who gets in, the operational endpoints, the playground, config."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from prometheus_client.parser import text_string_to_metric_families

from demo.people import ORG_GP, PATIENT_COPD
from gateway.app import create_app
from gateway.auth import TokenVerifier
from gateway.demo import EXAMPLE_QUERY
from gateway.devtokens import DEV_ISSUER
from gateway.services import READABLE_SOURCES
from gateway.settings import Settings
from plans.viewer import Role
from tests.conftest import FULL_PLAN, MakeGateway

ISSUER = "https://idp.test/realms/minplan"
KID = "test-key-1"


@pytest.fixture(scope="module")
def idp_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def idp_jwks(idp_key: ec.EllipticCurvePrivateKey, tmp_path: Path) -> str:
    jwk = ECAlgorithm.to_jwk(idp_key.public_key(), as_dict=True)
    path = tmp_path / "idp-jwks.json"
    path.write_text(json.dumps({"keys": [{**jwk, "kid": KID, "alg": "ES256", "use": "sig"}]}))
    return path.as_uri()


def sign(key: ec.EllipticCurvePrivateKey, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"iss": ISSUER, "aud": ["minplan"], "sub": "citizen-1",
                              "iat": now, "exp": now + 300, "role": "citizen",
                              "cpr": PATIENT_COPD, "name": "Karen Jensen"}  # fmt: skip
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": KID})


OTHER_KEY = ec.generate_private_key(ec.SECP256R1())
BAD_AUTH: list[Any] = [
    pytest.param(lambda _k: None, "missing", id="no-header"),
    pytest.param(lambda _k: "Basic a2FyZW46aGVtbWVsaWc=", "Bearer", id="basic-auth"),
    pytest.param(lambda _k: "Bearer not.a.jwt", "malformed", id="not-a-jwt"),
    pytest.param(lambda k: f"Bearer {sign(k, exp=int(time.time()) - 3600)}", "expired",
                 id="expired"),
    pytest.param(lambda k: f"Bearer {sign(k, iss='https://evil.test')}", "issuer",
                 id="wrong-issuer"),
    pytest.param(lambda k: f"Bearer {sign(k, aud=['other-app'])}", "audience",
                 id="wrong-audience"),
    pytest.param(lambda _k: f"Bearer {sign(OTHER_KEY)}", "signature", id="someone-elses-key"),
]  # fmt: skip


@pytest.mark.parametrize(("authorization", "reason"), BAD_AUTH)
async def test_request_without_a_good_token_is_401_before_any_upstream_call(
    make_gateway: MakeGateway,
    idp_key: ec.EllipticCurvePrivateKey,
    idp_jwks: str,
    authorization: Any,
    reason: str,
) -> None:
    header = authorization(idp_key)
    headers = {"Authorization": header} if header else {}
    async with make_gateway(auth_issuer=ISSUER, auth_jwks_url=idp_jwks) as gw:
        response = await gw.client.post(
            "/graphql", json={"query": "{ plan { cpr } }"}, headers=headers
        )
        assert gw.upstream.requests == []
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert reason in error["message"]


async def test_a_good_token_of_the_identity_provider_is_accepted(
    make_gateway: MakeGateway, idp_key: ec.EllipticCurvePrivateKey, idp_jwks: str
) -> None:
    # The control for the test above: the same setup lets a well-signed token in.
    async with make_gateway(auth_issuer=ISSUER, auth_jwks_url=idp_jwks) as gw:
        body = await gw.data("{ me { role cpr } plan { cpr } }", sign(idp_key))
    assert body["data"] == {"me": {"role": "CITIZEN", "cpr": PATIENT_COPD},
                            "plan": {"cpr": PATIENT_COPD}}  # fmt: skip


async def test_operational_endpoints(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        healthz = await gw.client.get("/healthz")
        readyz = await gw.client.get("/readyz")
        plan = await gw.data(FULL_PLAN, gw.clinician(ORG_GP), {"cpr": PATIENT_COPD})
        metrics = await gw.client.get("/metrics")
    assert healthz.status_code == 200
    assert healthz.json()["status"] == "ok"
    assert readyz.status_code == 200
    assert readyz.json()["status"] == "ready"
    assert set(readyz.json()["sources"]) == {*READABLE_SOURCES, "listing"}
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(metrics.text)}
    for name in ("minplan_source_request_seconds", "minplan_graphql_request_seconds",
                 "minplan_source_errors", "minplan_bad_resources", "minplan_cache"):  # fmt: skip
        assert name in families, f"{name} missing from /metrics"
    searched = {s.labels["source"] for s in families["minplan_source_request_seconds"].samples}
    assert searched == {s["name"] for s in plan["data"]["plan"]["sources"]}
    assert searched >= {"diagnoses", "appointments", "journal", "careplan", "consent"}


async def test_browser_gets_the_playground_without_a_token(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        response = await gw.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()
    assert "Bearer" not in response.text, "only the demo preloads a token"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MINPLAN_* setting of the developer's shell leaks into the app under test."""
    for name in list(os.environ):
        if name.startswith("MINPLAN_"):
            monkeypatch.delenv(name)


async def test_demo_playground_is_preloaded_with_a_token_that_verifies(
    clean_env: None, tmp_path: Path
) -> None:
    settings = Settings(audit_url=f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    assert settings.demo
    app = create_app(settings, self_url="http://x", demo_key_path=tmp_path / "k.pem")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            page = (await client.get("/graphql", headers={"Accept": "text/html"})).text
    found = re.search(r"Bearer (?P<token>[\w-]+\.[\w-]+\.[\w-]+)", page)
    assert found, "the page carries no Bearer token"
    verifier = TokenVerifier(issuer=DEV_ISSUER, jwks_url=(tmp_path / "dev-jwks.json").as_uri())
    try:
        viewer = await verifier.verify(found["token"])
    finally:
        await verifier.aclose()
    assert (viewer.role, viewer.cpr) == (Role.CITIZEN, PATIENT_COPD)
    assert json.dumps(EXAMPLE_QUERY) in page


async def test_cors_allows_configured_front_ends_only(make_gateway: MakeGateway) -> None:
    async with make_gateway(cors_origins=["https://minsundhed.example"]) as gw:
        allowed = await gw.client.options(
            "/graphql",
            headers={
                "Origin": "https://minsundhed.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        other = await gw.client.options(
            "/graphql",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://minsundhed.example"
    assert "access-control-allow-origin" not in other.headers
