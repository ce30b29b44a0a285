"""GraphQL over HTTP (the draft specification) as clients expect it, through the real app.

``Accept: application/graphql-response+json`` gets that media type and HTTP 400 (without
``data``) for a request that does not parse, validate or coerce; ``application/json`` keeps
HTTP 200 for every GraphQL result. A request that is not GraphQL over HTTP at all is a
JSON error with a code, whatever the client accepts.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from demo.people import PATIENT_COPD, PATIENT_LBP
from gateway.graphql_http import response_media_type
from tests.conftest import Gateway, MakeGateway
from tests.demo_server import Server, demo_server

SPEC = "application/graphql-response+json"
JSON = "application/json"
ME = "{ me { role } }"


def _media(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


def _code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        pytest.param(SPEC, SPEC, id="graphql-response-json"),
        pytest.param(f"{SPEC}, {JSON};q=0.9", SPEC, id="both-the-spec-preferred"),
        pytest.param(f"{JSON}, {SPEC}", SPEC, id="both-equal-the-spec-wins"),
        pytest.param(f"{JSON}, {SPEC};q=0.5", JSON, id="json-preferred"),
        pytest.param(JSON, JSON, id="json"),
        pytest.param(None, JSON, id="no-accept-is-json"),
        pytest.param("*/*", JSON, id="anything-is-json"),
        pytest.param("application/*", JSON, id="any-application-type-is-json"),
        pytest.param(f"{SPEC};q=0, */*", JSON, id="spec-refused-q0"),
        pytest.param(f"{SPEC};q=oops", JSON, id="spec-with-a-broken-q"),
        pytest.param("text/plain", JSON, id="unknown-type-gets-the-default"),
    ],
)
async def test_the_answer_has_the_media_type_the_client_prefers(
    make_gateway: MakeGateway, accept: str | None, media: str
) -> None:
    assert response_media_type(accept).split(";")[0] == media
    async with make_gateway() as gw:
        headers = {"Authorization": f"Bearer {gw.citizen(PATIENT_COPD)}"}
        if accept is not None:
            headers["Accept"] = accept
        response = await gw.client.post("/graphql", json={"query": ME}, headers=headers)
    assert response.status_code == 200
    assert _media(response) == media
    assert response.json() == {"data": {"me": {"role": "CITIZEN"}}}
    if media == SPEC:
        assert "charset=utf-8" in response.headers["content-type"]


RESULTS = [
    pytest.param({"query": "{ me { role }"}, 400, "GRAPHQL_PARSE_FAILED", id="does-not-parse"),
    pytest.param({"query": "{ me { nope } }"}, 400, "GRAPHQL_VALIDATION_FAILED",
                 id="does-not-validate"),
    pytest.param({"query": "query($c: String) { plan(cpr: $c) { cpr } }", "variables": {"c": 5}},
                 400, "BAD_USER_INPUT", id="variable-does-not-coerce"),
    pytest.param({"query": "query($c: String!) { plan(cpr: $c) { cpr } }"}, 400,
                 "BAD_USER_INPUT", id="variable-missing"),
    pytest.param({"query": "{ a: me { role } } { b: me { role } }"}, 400,
                 "GRAPHQL_VALIDATION_FAILED", id="two-anonymous-operations"),
    pytest.param({"query": "query($c: String) { plan(cpr: $c) { cpr } }",
                  "variables": {"c": PATIENT_LBP}}, 200, "FORBIDDEN", id="field-error-stays-200"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "status", "code"), RESULTS)
async def test_graphql_response_json_makes_a_request_error_a_400_without_data(
    make_gateway: MakeGateway, body: dict[str, Any], status: int, code: str
) -> None:
    async with make_gateway() as gw:
        headers = {"Authorization": f"Bearer {gw.citizen(PATIENT_COPD)}", "Accept": SPEC}
        response = await gw.client.post("/graphql", json=body, headers=headers)
    assert response.status_code == status, response.text
    assert _media(response) == SPEC
    assert _code(response) == code
    assert ("data" in response.json()) is (status == 200)
    if status == 400:
        assert gw.upstream.searches() == []


@pytest.mark.parametrize(("body", "status", "code"), RESULTS)
async def test_application_json_keeps_every_graphql_result_a_200_with_data(
    make_gateway: MakeGateway, body: dict[str, Any], status: int, code: str
) -> None:
    async with make_gateway() as gw:
        headers = {"Authorization": f"Bearer {gw.citizen(PATIENT_COPD)}", "Accept": JSON}
        response = await gw.client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert _media(response) == JSON
    assert _code(response) == code
    assert "data" in response.json()


async def _send(gw: Gateway, request: dict[str, Any], accept: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {gw.citizen(PATIENT_COPD)}", "Accept": accept}
    headers |= request.get("headers", {})
    return await gw.client.request(
        request["method"],
        "/graphql",
        content=request.get("content"),
        params=request.get("params"),
        headers=headers,
    )


_POST_JSON = {"method": "POST", "headers": {"Content-Type": "application/json"}}

MALFORMED = [
    pytest.param({**_POST_JSON, "content": b"{not json"}, 400, "BAD_REQUEST", None,
                 id="body-not-json"),
    pytest.param({**_POST_JSON, "content": b'{"variables": {}}'}, 400, "BAD_REQUEST", None,
                 id="no-query"),
    pytest.param({**_POST_JSON, "content": b'{"query": {"a": 1}}'}, 400, "BAD_REQUEST", None,
                 id="query-an-object"),
    pytest.param({**_POST_JSON, "content": b'{"query": "{ me { role } }", "variables": [1]}'},
                 400, "BAD_REQUEST", None, id="variables-an-array"),
    pytest.param({**_POST_JSON, "content": b'{"query": "{ me { role } }", "operationName": 1}'},
                 400, "BAD_REQUEST", None, id="operationName-a-number"),
    pytest.param({"method": "POST", "content": b"{ me { role } }",
                  "headers": {"Content-Type": "application/graphql"}},
                 415, "UNSUPPORTED_MEDIA_TYPE", None, id="unsupported-media-type"),
    pytest.param({"method": "POST", "content": b'{"query": "{ me { role } }"}'},
                 415, "UNSUPPORTED_MEDIA_TYPE", None, id="no-content-type"),
    pytest.param({"method": "GET", "params": {"query": "mutation { x }"}},
                 405, "METHOD_NOT_ALLOWED", "POST", id="mutation-by-GET"),
    pytest.param({"method": "GET", "params": {"variables": "{}"}}, 400, "BAD_REQUEST", None,
                 id="GET-without-query"),
    pytest.param({"method": "GET", "params": {"query": ME, "variables": "{"}}, 400,
                 "BAD_REQUEST", None, id="GET-variables-not-json"),
    pytest.param({**_POST_JSON, "method": "PUT", "content": b'{"query": "{ me { role } }"}'},
                 405, "METHOD_NOT_ALLOWED", "GET, POST", id="PUT"),
    pytest.param({"method": "DELETE"}, 405, "METHOD_NOT_ALLOWED", "GET, POST", id="DELETE"),
    pytest.param({**_POST_JSON, "method": "PATCH", "content": b"{}"}, 405, "METHOD_NOT_ALLOWED",
                 "GET, POST", id="PATCH"),
]  # fmt: skip


@pytest.mark.parametrize("accept", [SPEC, JSON])
@pytest.mark.parametrize(("request_", "status", "code", "allow"), MALFORMED)
async def test_a_malformed_request_is_a_graphql_shaped_json_error(
    make_gateway: MakeGateway,
    request_: dict[str, Any],
    status: int,
    code: str,
    allow: str | None,
    accept: str,
) -> None:
    async with make_gateway() as gw:
        response = await _send(gw, request_, accept)
    assert response.status_code == status, response.text
    assert _media(response) == accept
    body = response.json()
    assert set(body) == {"errors"}, "no data: nothing ran"
    [error] = body["errors"]
    assert error["extensions"] == {"code": code}
    assert error["message"].endswith(".")
    assert response.headers.get("allow") == allow
    assert gw.upstream.searches() == []


async def test_a_method_other_than_get_or_post_is_405_before_the_token(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway() as gw:
        response = await gw.client.put("/graphql", json={"query": ME})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert _code(response) == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("accept", [SPEC, JSON])
async def test_the_token_and_size_limits_answer_as_before(
    make_gateway: MakeGateway, accept: str
) -> None:
    async with make_gateway(max_body_bytes=4096) as gw:
        unauthenticated = await gw.client.post(
            "/graphql", json={"query": ME}, headers={"Accept": accept}
        )
        too_large = await gw.client.post(
            "/graphql",
            json={"query": ME + "#" + "x" * 5000},
            headers={"Authorization": f"Bearer {gw.citizen(PATIENT_COPD)}", "Accept": accept},
        )
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["www-authenticate"] == "Bearer"
    assert _code(unauthenticated) == "UNAUTHENTICATED"
    assert too_large.status_code == 413
    assert _code(too_large) == "PAYLOAD_TOO_LARGE"


async def test_a_get_with_a_query_and_any_accept_runs_it_rather_than_showing_the_page(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway() as gw:
        response = await gw.client.get(
            "/graphql",
            params={"query": ME},
            headers={"Authorization": f"Bearer {gw.citizen(PATIENT_COPD)}", "Accept": "*/*"},
        )
    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"role": "CITIZEN"}}}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with demo_server(tmp_path_factory.mktemp("http")) as server:
        yield server


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"GARBAGE\r\n\r\n", id="not-a-request-line"),
        pytest.param(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                     id="content-length-not-a-number"),
        pytest.param(b"GET /graphql HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
                     id="space-in-a-header-name"),
    ],
)  # fmt: skip
def test_a_request_that_is_not_http_is_a_json_400_from_the_server(
    served: Server, raw: bytes
) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    assert lines[0] == "HTTP/1.1 400 Bad Request"
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body)
    assert json.loads(body) == {
        "errors": [
            {"message": "The request is not valid HTTP/1.1.", "extensions": {"code": "BAD_REQUEST"}}
        ]
    }
