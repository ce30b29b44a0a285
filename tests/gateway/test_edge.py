"""The HTTP edge through the real app: size limits, bad bodies, request ids, headers, redirects."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from demo.people import ORG_GP, PATIENT_COPD
from gateway.app import create_app
from gateway.edge import request_id
from gateway.settings import Settings
from tests.conftest import Gateway, MakeGateway

LIMIT = 4096
ME = "{ me { role } }"


def _code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/json"), response.text
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


async def _call_raw(
    gw: Gateway, *, method: str, headers: list[tuple[bytes, bytes]], query_string: bytes = b""
) -> list[dict[str, Any]]:
    """Call the ASGI app with a receive that fails: the request's body must not be read."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": query_string,
        "headers": [(b"host", b"gateway.test"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await gw.app(scope, receive, send)
    return sent


@pytest.mark.parametrize("declared", [LIMIT + 1, 10**9, 10**30])
async def test_a_declared_body_past_the_limit_is_413_before_a_byte_is_read(
    make_gateway: MakeGateway, declared: int
) -> None:
    async with make_gateway(max_body_bytes=LIMIT) as gw:
        token = gw.citizen(PATIENT_COPD)
        for auth in ([(b"authorization", f"Bearer {token}".encode())], []):
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(declared).encode()),
                *auth,
            ]
            sent = await _call_raw(gw, method="POST", headers=headers)
            start = sent[0]
            assert start["status"] == 413
            body = httpx.Response(413, content=b"".join(m.get("body", b"") for m in sent[1:]))
            error = body.json()["errors"][0]
            assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
            assert str(LIMIT) in error["message"]
            assert "MINPLAN_MAX_BODY_BYTES" in error["message"]
            assert (b"connection", b"close") in start["headers"]


async def test_a_chunked_body_is_refused_once_past_the_limit_not_read_to_its_end(
    make_gateway: MakeGateway,
) -> None:
    chunk = b"x" * 1024
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        yield b'{"query": "{ me { role } } #'
        for _ in range(1000):  # 1 MiB if it were all read
            pulled += 1
            yield chunk
        yield b'"}'

    async with make_gateway(max_body_bytes=LIMIT) as gw:
        headers = {
            "Authorization": f"Bearer {gw.citizen(PATIENT_COPD)}",
            "Content-Type": "application/json",
        }
        response = await gw.client.post("/graphql", content=body(), headers=headers)
    assert response.status_code == 413
    assert _code(response) == "PAYLOAD_TOO_LARGE"
    assert pulled <= LIMIT // len(chunk) + 2, "the body was read past the limit"


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"query": "{ me { role } } #" + "x" * LIMIT}, id="long-document"),
        pytest.param({"query": ME, "variables": '{"x": "' + "y" * LIMIT + '"}'}, id="variables"),
        pytest.param({"query": ME, "padding": "z" * LIMIT}, id="other-parameter"),
    ],
)
async def test_a_get_query_string_past_the_limit_is_413(
    make_gateway: MakeGateway, params: dict[str, str]
) -> None:
    async with make_gateway(max_body_bytes=LIMIT) as gw:
        token = gw.citizen(PATIENT_COPD)
        response = await gw.client.get(
            "/graphql", params=params, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 413
    assert _code(response) == "PAYLOAD_TOO_LARGE"
    assert "MINPLAN_MAX_BODY_BYTES" in response.json()["errors"][0]["message"]


async def test_a_request_just_under_the_limit_is_answered(make_gateway: MakeGateway) -> None:
    async with make_gateway(max_body_bytes=LIMIT) as gw:
        token = gw.citizen(PATIENT_COPD)
        auth = {"Authorization": f"Bearer {token}"}
        prefix = '{"query": "{ me { role } } #'
        body = (prefix + "x" * (LIMIT - len(prefix) - 2) + '"}').encode()
        assert len(body) == LIMIT
        post = await gw.client.post(
            "/graphql", content=body, headers={**auth, "Content-Type": "application/json"}
        )
        get = await gw.client.get(
            "/graphql", params={"query": "{ me { role } } #" + "x" * (LIMIT // 2)}, headers=auth
        )
    for response in (post, get):
        assert response.status_code == 200, response.text
        assert response.json() == {"data": {"me": {"role": "CITIZEN"}}}


BAD_BODIES = [
    pytest.param(b'"x"', id="a-string"),
    pytest.param(b"5", id="a-number"),
    pytest.param(b"null", id="null"),
    pytest.param(b"true", id="true"),
    pytest.param(b"[]", id="an-empty-array"),
    pytest.param(b'[{"query": "{ me { role } }"}]', id="a-batch"),
    pytest.param(b'{"query": "{ me { role } }", "x": "\xff\xfe"}', id="invalid-utf8"),
    pytest.param(b'{"query": "\xed\xa0\x80"}', id="utf8-surrogate"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="arrays-100k-deep"),
    pytest.param(
        b'{"query": "{ me { role } }", "variables": {"x": ' + b"[" * 2000 + b"]" * 2000 + b"}}",
        id="deep-variables",
    ),
    pytest.param(b'{"query": "{ me { role } }", "variables": {"x": 1e999}}', id="float-overflow"),
    pytest.param(
        b'{"query": "{ me { role } }", "variables": {"x": ' + b"9" * 5000 + b"}}",
        id="5000-digit-integer",
    ),
    pytest.param(b'{"query": "{ me { role } }", "variables": {"x": NaN}}', id="nan"),
    pytest.param(b'{"query": 5}', id="query-a-number"),
    pytest.param(b'{"query": ["{ me { role } }"]}', id="query-an-array"),
    pytest.param(b'{"query": "{ me { role } }", "variables": "{}"}', id="variables-a-string"),
    pytest.param(b'{"query": "{ me { role } }", "variables": [1]}', id="variables-an-array"),
    pytest.param(b'{"query": "{ me { role } }", "extensions": 1}', id="extensions-a-number"),
    pytest.param(b'{"query": "{ me { role } }", "operationName": {}}', id="operation-an-object"),
    pytest.param(b'{"query": "{ me { role } }"', id="truncated"),
    pytest.param(b"", id="empty"),
    pytest.param(b"{}", id="no-query"),
]


@pytest.mark.parametrize("body", BAD_BODIES)
async def test_a_body_that_is_not_one_graphql_request_is_400_json_and_not_an_error_in_the_log(
    make_gateway: MakeGateway, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    async with make_gateway(max_body_bytes=1_000_000) as gw:
        headers = {
            "Authorization": f"Bearer {gw.citizen(PATIENT_COPD)}",
            "Content-Type": "application/json",
        }
        with caplog.at_level(logging.WARNING):
            response = await gw.client.post("/graphql", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert _code(response) == "BAD_REQUEST"
    assert response.json()["errors"][0]["message"]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        pytest.param({"query": ME, "variables": "[1]"}, 400, "BAD_REQUEST", id="variables-array"),
        pytest.param({"query": ME, "variables": "{"}, 400, "BAD_REQUEST", id="variables-broken"),
        pytest.param({"query": ME, "variables": "1e999"}, 400, "BAD_REQUEST", id="variables-inf"),
        pytest.param({"query": ME, "extensions": "5"}, 400, "BAD_REQUEST", id="extensions-number"),
        pytest.param(
            {"query": "mutation { x }"}, 405, "METHOD_NOT_ALLOWED", id="mutation-over-get-is-405"
        ),
    ],
)
async def test_bad_get_requests_are_json_errors_with_a_code(
    make_gateway: MakeGateway, params: dict[str, str], status: int, code: str
) -> None:
    async with make_gateway() as gw:
        token = gw.citizen(PATIENT_COPD)
        response = await gw.client.get(
            "/graphql", params=params, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == status, response.text
    assert _code(response) == code


async def test_a_body_that_is_not_json_is_a_json_error(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        auth = {"Authorization": f"Bearer {gw.citizen(PATIENT_COPD)}"}
        text = await gw.client.post(
            "/graphql", content=b"query=x", headers={**auth, "Content-Type": "text/plain"}
        )
        form = await gw.client.post("/graphql", data={"query": ME}, headers=auth)
    for response in (text, form):
        assert response.status_code == 415, response.text
        assert _code(response) == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param("r" * 1_000_000, id="1-MB"),
        pytest.param("a" * 65, id="65-characters"),
        pytest.param("", id="empty"),
        pytest.param("id with spaces", id="spaces"),
        pytest.param("abc;DROP TABLE x", id="semicolon"),
        pytest.param("ab\tc", id="tab"),
        pytest.param("ab/../c", id="slash"),
        pytest.param("%0d%0aX-Injected: 1", id="percent-crlf"),
        pytest.param("Ünïcødé", id="non-ascii"),
    ],
)
def test_an_unsafe_request_id_is_replaced_by_a_new_one(sent: str) -> None:
    made = request_id(sent)
    assert made != sent
    assert len(made) == 32 and int(made, 16) >= 0
    assert request_id(sent) != made, "a fresh one each time"


@pytest.mark.parametrize("sent", ["a", "req-42", "0f3a.B_c-9", "x" * 64])
def test_a_short_safe_request_id_is_kept(sent: str) -> None:
    assert request_id(sent) == sent


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        pytest.param("r" * 1_000_000, False, id="1-MB"),
        pytest.param("a b", False, id="space"),
        pytest.param("trace-7.A_b", True, id="safe"),
    ],
)
async def test_the_access_log_stores_only_a_safe_request_id(
    make_gateway: MakeGateway, sent: str, kept: bool
) -> None:
    query = "query($cpr: String) { plan(cpr: $cpr) { cpr } }"
    async with make_gateway() as gw:
        response = await gw.client.post(
            "/graphql",
            json={"query": query, "variables": {"cpr": PATIENT_COPD}},
            headers={"Authorization": f"Bearer {gw.clinician(ORG_GP)}", "X-Request-ID": sent},
        )
        assert response.status_code == 200, response.text
        services = gw.app.state.services
        patient = services.plans.pseudonym(PATIENT_COPD)
        [entry] = await services.access_log.entries(patient)
    assert (entry.request_id == sent) is kept
    assert len(entry.request_id) <= 64


async def test_every_graphql_answer_is_no_store_and_nosniff(make_gateway: MakeGateway) -> None:
    async with make_gateway(max_body_bytes=LIMIT) as gw:
        auth = {"Authorization": f"Bearer {gw.citizen(PATIENT_COPD)}"}
        answers = {
            "POST 200": await gw.client.post("/graphql", json={"query": ME}, headers=auth),
            "GET 200": await gw.client.get("/graphql", params={"query": ME}, headers=auth),
            "GET plan": await gw.client.get(
                "/graphql", params={"query": "{ plan { cpr } }"}, headers=auth
            ),
            "POST 400": await gw.client.post(
                "/graphql", content=b"5", headers={**auth, "Content-Type": "application/json"}
            ),
            "GET 400": await gw.client.get(
                "/graphql", params={"query": ME, "variables": "["}, headers=auth
            ),
            "POST 401": await gw.client.post("/graphql", json={"query": ME}),
            "GET 401": await gw.client.get("/graphql", params={"query": ME}),
            "POST 413": await gw.client.post(
                "/graphql", json={"query": ME + "#" + "x" * LIMIT}, headers=auth
            ),
            "GET 413": await gw.client.get(
                "/graphql", params={"query": ME + "#" + "x" * LIMIT}, headers=auth
            ),
            "healthz": await gw.client.get("/healthz"),
            "readyz": await gw.client.get("/readyz"),
            "metrics": await gw.client.get("/metrics"),
            "404": await gw.client.get("/nowhere"),
        }
    for name, response in answers.items():
        assert response.headers.get("cache-control") == "no-store", name
        assert response.headers.get("x-content-type-options") == "nosniff", name
        assert "server" not in response.headers, name


async def test_the_playground_page_carries_a_strict_csp_with_a_nonce_for_its_script(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway() as gw:
        first = await gw.client.get("/graphql", headers={"Accept": "text/html"})
        second = await gw.client.get("/graphql", headers={"Accept": "text/html"})
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/html")
    assert first.headers["x-frame-options"] == "DENY"
    assert first.headers["x-content-type-options"] == "nosniff"
    assert first.headers["cache-control"] == "no-store"
    policy = dict(
        (d.split()[0], d.split()[1:]) for d in first.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    [nonce] = [s[len("'nonce-") : -1] for s in policy["script-src"] if s.startswith("'nonce-")]
    # Every script and style is the gateway's own ('self'; no other host is named, see
    # test_playground_offline.py); the inline script carries the nonce.
    import re

    loaded = re.findall(r'<(?:script|link rel="stylesheet")[^>]*(?:src|href)="([^"]+)"', first.text)
    assert loaded and all(url.startswith("/static/playground/") for url in loaded)
    assert "'self'" in policy["script-src"] and "'self'" in policy["style-src"]
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", first.text)
    assert inline and all(f'nonce="{nonce}"' in attrs for attrs in inline)
    other = second.headers["content-security-policy"]
    assert f"'nonce-{nonce}'" not in other, "a fresh nonce per page"


async def test_a_plain_playground_page_has_the_same_headers(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:  # real sources: no demo token on the page
        page = await gw.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "'nonce-" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


async def test_a_head_request_for_the_playground_shows_its_headers(
    make_gateway: MakeGateway,
) -> None:
    # `curl -I` is how people check headers: it must see the page's, not a 401.
    async with make_gateway() as gw:
        head = await gw.client.head("/graphql", headers={"Accept": "text/html"})
    assert head.status_code == 200
    assert head.headers["x-frame-options"] == "DENY"
    assert "'nonce-" in head.headers["content-security-policy"]
    assert head.content == b""


@pytest.mark.parametrize(
    "path",
    ["/", "/graphql/", "/healthz/", "/metrics/", "/readyz/", "//evil.example/graphql",
     "/graphql//", "/demo/jwks.json/"],
)  # fmt: skip
async def test_no_answer_redirects_to_the_host_a_client_named(
    make_gateway: MakeGateway, path: str
) -> None:
    async with make_gateway() as gw:
        for host in ("evil.example", "evil.example:8443", "gateway.test@evil.example"):
            response = await gw.client.get(path, headers={"Host": host})
            location = response.headers.get("location")
            if location is not None:
                assert urlsplit(location).netloc == "", (path, host, location)
                assert not location.startswith("//"), (path, host, location)
    if path == "/":  # the pages' front page (gateway/pages), no redirect
        assert response.status_code == 200
        assert location is None


@pytest.mark.parametrize(
    "path", ["/demo/fhir/diagnoses/Condition/", "/demo/fhir/consent/Consent/", "/graphql/"]
)
async def test_the_demo_redirects_to_no_host_a_client_named(tmp_path: Path, path: str) -> None:
    settings = Settings(audit_url=f"sqlite:///{tmp_path / 'a.sqlite3'}")
    assert settings.demo
    app = create_app(settings, self_url="http://127.0.0.1:1", demo_key_path=tmp_path / "key.pem")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.get(path, headers={"Host": "evil.example"})
    assert "location" not in response.headers, response.headers["location"]
