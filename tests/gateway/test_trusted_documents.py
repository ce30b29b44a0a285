"""Trusted documents (contract §4) through the real app, the way front ends send them.

With a manifest, a registered operation runs by ``documentId``, by Apollo's
``persistedQuery`` extension or by its exact text; anything else is HTTP 400 with
``PERSISTED_QUERY_NOT_IN_LIST`` or ``QUERY_NOT_IN_SAFELIST`` and no upstream search.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.errors import ConfigError
from demo.people import ORG_GP, PATIENT_COPD
from gateway.cli import main
from gateway.documents import TrustedDocuments, id_of, read_manifest
from gateway.settings import Settings
from tests.conftest import Gateway, MakeGateway, gateway_settings
from tests.demo_server import MINPLAN, Server, free_port, wait_until_healthy

PLAN = "query Plan($cpr: String) { plan(cpr: $cpr) { cpr packages { kind } } }\n"
ME = "query Me { me { role } }\n"
#: Registered nowhere: the full plan asks every source if it runs.
UNTRUSTED = "query Other($cpr: String) { plan(cpr: $cpr) { cpr sources { name ok } } }"
UNKNOWN = "sha256:" + "0" * 64


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _write(path: Path, *texts: str) -> Path:
    path.write_text(json.dumps({id_of(t): t for t in texts}), encoding="utf-8")
    return path


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return _write(tmp_path / "manifest.json", PLAN, ME)


def _code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


async def _post(gw: Gateway, body: dict[str, Any], token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await gw.client.post("/graphql", json=body, headers=headers)


async def _get(gw: Gateway, params: dict[str, Any], token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    query = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    return await gw.client.get("/graphql", params=query, headers=headers)


VARS = {"cpr": PATIENT_COPD}
APOLLO = {"persistedQuery": {"version": 1, "sha256Hash": _hex(PLAN)}}

SERVED = [
    pytest.param("POST", {"documentId": id_of(PLAN), "variables": VARS}, id="documentId"),
    pytest.param(
        "POST",
        {"documentId": id_of(PLAN).upper().replace("SHA256", "sha256"), "variables": VARS},
        id="documentId-hex-in-capitals",
    ),
    pytest.param("POST", {"extensions": APOLLO, "variables": VARS}, id="apollo-hash-alone"),
    pytest.param(
        "POST", {"query": PLAN, "extensions": APOLLO, "variables": VARS}, id="apollo-apq-with-text"
    ),
    pytest.param("POST", {"query": PLAN, "variables": VARS}, id="registered-text"),
    pytest.param(
        "POST",
        {"documentId": id_of(PLAN), "extensions": APOLLO, "variables": VARS},
        id="documentId-and-apollo-agree",
    ),
    pytest.param("GET", {"documentId": id_of(PLAN), "variables": VARS}, id="documentId-by-GET"),
    pytest.param("GET", {"extensions": APOLLO, "variables": VARS}, id="apollo-hash-by-GET"),
    pytest.param("GET", {"query": PLAN, "variables": VARS}, id="registered-text-by-GET"),
]


@pytest.mark.parametrize(("method", "body"), SERVED)
async def test_a_registered_document_is_served(
    make_gateway: MakeGateway, manifest: Path, method: str, body: dict[str, Any]
) -> None:
    async with make_gateway(trusted_documents=manifest) as gw:
        token = gw.clinician(ORG_GP)
        send = _post if method == "POST" else _get
        response = await send(gw, body, token)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["plan"]["cpr"] == PATIENT_COPD
    assert "errors" not in response.json()
    assert gw.upstream.searches(), "the registered plan read its sources"


REFUSED = [
    pytest.param(
        "POST", {"documentId": UNKNOWN}, "PERSISTED_QUERY_NOT_IN_LIST", UNKNOWN,
        id="unknown-documentId",
    ),
    pytest.param(
        "POST", {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "ab" * 32}}},
        "PERSISTED_QUERY_NOT_IN_LIST", "sha256:" + "ab" * 32, id="unknown-apollo-hash",
    ),
    pytest.param(
        "POST",
        {"query": UNTRUSTED, "extensions": {"persistedQuery": {"version": 1,
                                                               "sha256Hash": _hex(UNTRUSTED)}}},
        "PERSISTED_QUERY_NOT_IN_LIST", id_of(UNTRUSTED), id="apollo-apq-registering-new-text",
    ),
    pytest.param(
        "POST", {"documentId": "my-app~1.0~abc"}, "PERSISTED_QUERY_NOT_IN_LIST",
        "my-app~1.0~abc", id="documentId-of-another-scheme",
    ),
    pytest.param(
        "POST", {"documentId": "x" * 5000}, "PERSISTED_QUERY_NOT_IN_LIST", "x" * 100,
        id="long-documentId-quoted-short",
    ),
    pytest.param("POST", {"query": UNTRUSTED}, "QUERY_NOT_IN_SAFELIST", None, id="other-text"),
    pytest.param(
        "POST", {"query": PLAN.strip()}, "QUERY_NOT_IN_SAFELIST", None,
        id="registered-text-with-other-whitespace",
    ),
    pytest.param(
        "POST", {"query": "{ __schema { types { name } } }"}, "QUERY_NOT_IN_SAFELIST", None,
        id="introspection",
    ),
    pytest.param(
        "POST", {"documentId": id_of(PLAN), "query": UNTRUSTED}, "BAD_REQUEST", None,
        id="known-id-with-another-text",
    ),
    pytest.param(
        "POST", {"documentId": id_of(ME), "extensions": APOLLO}, "BAD_REQUEST", None,
        id="documentId-and-apollo-disagree",
    ),
    pytest.param(
        "POST", {"extensions": {"persistedQuery": {"version": 2, "sha256Hash": _hex(PLAN)}}},
        "BAD_REQUEST", None, id="apollo-version-2",
    ),
    pytest.param(
        "POST", {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "xyz"}}},
        "BAD_REQUEST", None, id="apollo-hash-not-hex",
    ),
    pytest.param("POST", {"documentId": 5}, "BAD_REQUEST", None, id="documentId-a-number"),
    pytest.param(
        "GET", {"documentId": UNKNOWN}, "PERSISTED_QUERY_NOT_IN_LIST", UNKNOWN,
        id="unknown-documentId-by-GET",
    ),
    pytest.param(
        "GET", {"query": UNTRUSTED}, "QUERY_NOT_IN_SAFELIST", None, id="other-text-by-GET"
    ),
]  # fmt: skip


@pytest.mark.parametrize(("method", "body", "code", "named"), REFUSED)
async def test_anything_else_is_400_with_its_code_and_no_upstream_search(
    make_gateway: MakeGateway,
    manifest: Path,
    method: str,
    body: dict[str, Any],
    code: str,
    named: str | None,
) -> None:
    async with make_gateway(trusted_documents=manifest) as gw:
        token = gw.clinician(ORG_GP)
        send = _post if method == "POST" else _get
        response = await send(gw, {**body, "variables": VARS}, token)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert "data" not in answer
    assert _code(response) == code
    if named is not None:
        assert named in answer["errors"][0]["message"]
    assert len(answer["errors"][0]["message"]) < 300
    assert gw.upstream.searches() == []


async def test_a_refusal_speaks_the_media_type_the_client_asked_for(
    make_gateway: MakeGateway, manifest: Path
) -> None:
    async with make_gateway(trusted_documents=manifest) as gw:
        response = await gw.client.post(
            "/graphql",
            json={"documentId": UNKNOWN},
            headers={
                "Authorization": f"Bearer {gw.clinician(ORG_GP)}",
                "Accept": "application/graphql-response+json",
            },
        )
    assert response.status_code == 400
    assert response.headers["content-type"].split(";")[0] == "application/graphql-response+json"
    assert _code(response) == "PERSISTED_QUERY_NOT_IN_LIST"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"documentId": id_of(PLAN)}, id="registered-id"),
        pytest.param({"documentId": UNKNOWN}, id="unknown-id"),
        pytest.param({"query": UNTRUSTED}, id="untrusted-text"),
    ],
)
async def test_without_a_token_every_document_gets_the_same_401(
    make_gateway: MakeGateway, manifest: Path, body: dict[str, Any]
) -> None:
    # The token comes first: a caller without one cannot probe which documents are listed.
    async with make_gateway(trusted_documents=manifest) as gw:
        response = await _post(gw, body, None)
    assert response.status_code == 401
    assert response.json() == {
        "errors": [
            {
                "message": "Unauthenticated: missing bearer token.",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }
    assert gw.upstream.searches() == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param({"query": UNTRUSTED}, 200, None, id="any-text-runs"),
        pytest.param(
            {"query": UNTRUSTED, "extensions": {"persistedQuery": {"version": 1,
                                                                   "sha256Hash": _hex(UNTRUSTED)}}},
            200, None, id="apollo-apq-with-its-text-runs",
        ),
        pytest.param(
            {"extensions": APOLLO}, 400, "PERSISTED_QUERY_NOT_SUPPORTED",
            id="apollo-hash-alone-is-not-supported",
        ),
        pytest.param(
            {"documentId": id_of(PLAN)}, 400, "PERSISTED_QUERY_NOT_SUPPORTED",
            id="documentId-alone-is-not-supported",
        ),
        pytest.param(
            {"query": UNTRUSTED, "extensions": APOLLO}, 400, "BAD_REQUEST",
            id="apollo-hash-of-another-text",
        ),
    ],
)  # fmt: skip
async def test_without_a_manifest_any_text_runs_and_an_id_alone_asks_for_the_text(
    make_gateway: MakeGateway, body: dict[str, Any], status: int, code: str | None
) -> None:
    async with make_gateway() as gw:
        response = await _post(gw, {**body, "variables": VARS}, gw.clinician(ORG_GP))
    assert response.status_code == status, response.text
    if code is None:
        assert response.json()["data"]["plan"]["cpr"] == PATIENT_COPD
    else:
        assert _code(response) == code
        assert gw.upstream.searches() == []


async def test_sighup_brings_a_new_manifest_in_without_a_restart(
    make_gateway: MakeGateway, manifest: Path
) -> None:
    async with make_gateway(trusted_documents=manifest) as gw:
        token = gw.clinician(ORG_GP)
        before = await _post(gw, {"query": UNTRUSTED, "variables": VARS}, token)
        _write(manifest, UNTRUSTED)
        # Without the gateway's handler, SIGHUP would end the test run: check it is set.
        assert signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, signal.SIG_IGN)
        os.kill(os.getpid(), signal.SIGHUP)
        await asyncio.sleep(0.05)  # the loop runs the handler
        after = await _post(gw, {"query": UNTRUSTED, "variables": VARS}, token)
        dropped = await _post(gw, {"documentId": id_of(PLAN), "variables": VARS}, token)
    assert _code(before) == "QUERY_NOT_IN_SAFELIST"
    assert after.status_code == 200, after.text
    assert _code(dropped) == "PERSISTED_QUERY_NOT_IN_LIST"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_changed_file_is_read_again_at_most_once_a_second(manifest: Path) -> None:
    clock = Clock()
    documents = TrustedDocuments(manifest, clock=clock)
    _write(manifest, ME, UNTRUSTED)
    clock.now = 0.5
    assert documents.get(id_of(UNTRUSTED)) is None, "not looked at within the second"
    clock.now = 1.0
    assert documents.get(id_of(UNTRUSTED)) == UNTRUSTED
    assert documents.get(id_of(PLAN)) is None
    assert len(documents) == 2


def test_a_broken_new_manifest_keeps_the_old_and_is_logged_once(
    manifest: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    documents = TrustedDocuments(manifest, clock=clock)
    manifest.write_text('{"sha256:' + "1" * 64 + '": "{ me { role } }"}')
    with caplog.at_level(logging.ERROR, logger="gateway.documents"):
        for second in range(1, 4):
            clock.now = float(second)
            assert documents.get(id_of(PLAN)) == PLAN
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "not the SHA-256 of its text" in errors[0].getMessage()
    assert documents.reload() is False, "SIGHUP on a broken file keeps the old one too"
    assert documents.get(id_of(ME)) == ME


def test_a_manifest_may_be_replaced_by_a_rename(manifest: Path, tmp_path: Path) -> None:
    clock = Clock()
    documents = TrustedDocuments(manifest, clock=clock)
    # Same size, and an mtime that may well be the same: a rename still shows.
    new = _write(tmp_path / "new.json", ME, UNTRUSTED)
    os.replace(new, manifest)
    clock.now = 2.0
    assert documents.get(id_of(UNTRUSTED)) == UNTRUSTED


BROKEN = [
    pytest.param(None, "cannot be read", id="missing-file"),
    pytest.param(b"{", "is not JSON", id="not-json"),
    pytest.param(b"\xff\xfe", "is not JSON", id="not-utf8"),
    pytest.param(b'["{ me { role } }"]', "must be a JSON object", id="an-array"),
    pytest.param(
        json.dumps({_hex(ME): ME}).encode(), "is not 'sha256:' and 64 lowercase hex",
        id="key-without-prefix",
    ),
    pytest.param(
        json.dumps({id_of(ME).upper(): ME}).encode(), "64 lowercase hex", id="key-in-capitals"
    ),
    pytest.param(
        json.dumps({id_of(ME): ME + " "}).encode(), "is not the SHA-256 of its text",
        id="hash-of-another-text",
    ),
    pytest.param(json.dumps({id_of(ME): 5}).encode(), "is not a string", id="value-a-number"),
    pytest.param(
        json.dumps({id_of("{ me "): "{ me "}).encode(), "is not a GraphQL document",
        id="not-graphql",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("content", "says"), BROKEN)
def test_a_manifest_broken_at_start_refuses_the_start_naming_what(
    tmp_path: Path, content: bytes | None, says: str
) -> None:
    path = tmp_path / "manifest.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        read_manifest(path)
    assert "MINPLAN_TRUSTED_DOCUMENTS" in str(caught.value)
    assert str(path) in str(caught.value)
    assert says in str(caught.value)


def test_the_app_does_not_build_with_a_broken_manifest(tmp_path: Path, jwks_file: Path) -> None:
    from gateway.app import create_app

    path = tmp_path / "manifest.json"
    path.write_text("{")
    with pytest.raises(ConfigError, match="MINPLAN_TRUSTED_DOCUMENTS"):
        create_app(gateway_settings(jwks_file, tmp_path, trusted_documents=path))


def test_serve_with_a_broken_manifest_exits_2_with_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "manifest.json"
    path.write_text("[]")
    monkeypatch.setenv("MINPLAN_TRUSTED_DOCUMENTS", str(path))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("MINPLAN_AUDIT_URL", f"sqlite:///{tmp_path / 'a.sqlite3'}")
    assert Settings().demo
    assert main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"minplan: MINPLAN_TRUSTED_DOCUMENTS ({path}): must be a JSON object "
                   '{"sha256:<hex>": "<document>"}']  # fmt: skip


def test_minplan_serve_with_a_manifest_serves_it_and_reloads_on_sighup(tmp_path: Path) -> None:
    manifest = _write(tmp_path / "manifest.json", ME)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINPLAN_")}
    env |= {
        "MINPLAN_DEV_KEY_FILE": str(tmp_path / "dev-signing-key.pem"),
        "MINPLAN_AUDIT_URL": f"sqlite:///{tmp_path / 'access-log.sqlite3'}",
        "MINPLAN_TRUSTED_DOCUMENTS": str(manifest),
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    argv = [str(MINPLAN), "serve", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        wait_until_healthy(url, process, log)
        token = Server(url=url, env=env).token("--role", "citizen", "--cpr", PATIENT_COPD)
        auth = {"Authorization": f"Bearer {token}"}

        def post(body: dict[str, Any]) -> httpx.Response:
            return httpx.post(f"{url}/graphql", json=body, headers=auth, timeout=30)

        served = post({"documentId": id_of(ME)})
        refused = post({"query": UNTRUSTED})
        _write(manifest, UNTRUSTED)
        os.utime(manifest, ns=(0, 0))  # the mtime must not be what brings it in
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while post({"query": UNTRUSTED}).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        after = [post({"query": UNTRUSTED}) for _ in range(3)]
        dropped = post({"documentId": id_of(ME)})
        assert process.poll() is None, log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert served.json() == {"data": {"me": {"role": "CITIZEN"}}}
    assert refused.status_code == 400
    assert _code(refused) == "QUERY_NOT_IN_SAFELIST"
    assert [r.status_code for r in after] == [200] * 3
    assert _code(dropped) == "PERSISTED_QUERY_NOT_IN_LIST"
    assert "trusted documents reloaded" in log.read_text()
