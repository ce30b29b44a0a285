"""Two gateway processes sharing one Redis: the second serves what the first fetched.

Real processes over real HTTP: a FHIR source server that counts searches, two
``minplan serve`` processes configured against it and the local Redis, and a clinician
reading the same plan through each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from demo.people import ORG_GP, PATIENT_COPD
from gateway.devtokens import DEV_ISSUER, DevIssuer
from gateway.services import READABLE_SOURCES
from tests.demo_server import MINPLAN, free_port, wait_until_healthy
from tests.services import redis_reachable, redis_url, require_service

REPO = Path(__file__).resolve().parents[1]
#: Selects every source's data, so a clinician's read makes every search (contract §6).
PLAN = """query($cpr: String) { plan(cpr: $cpr) {
  packages { kind diagnoses { sourceId } appointments { sourceId } journalNotes { sourceId }
             goals { sourceId } triage { sourceId } healthLiteracy { sourceId }
             preventionOffers { sourceId } }
  sources { name ok cached } } }"""

pytestmark = pytest.mark.redis


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603
            args, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
        )


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[tuple[str, str, str, DevIssuer]]:
    url = redis_url()
    import asyncio

    reachable, detail = asyncio.run(redis_reachable(url))
    require_service("Redis", reachable, detail)
    import redis

    redis.Redis.from_url(url).flushdb()

    issuer = DevIssuer(tmp_path / "key.pem")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(issuer.jwks()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINPLAN_")}
    started: list[subprocess.Popen[bytes]] = []
    try:
        src_port = free_port()
        sources = f"http://127.0.0.1:{src_port}"
        uvicorn = [sys.executable, "-m", "uvicorn", "tests.counting_sources:app", "--factory"]
        proc = _start([*uvicorn, "--port", str(src_port)], env, tmp_path / "sources.log")
        started.append(proc)
        _wait_until_healthy_sources(sources, proc, tmp_path / "sources.log")
        gateways = []
        for n in (1, 2):
            port = free_port()
            genv = env | {
                f"MINPLAN_SOURCE_{s.upper()}_URL": f"{sources}/{s}" for s in READABLE_SOURCES
            }
            genv |= {
                "MINPLAN_AUTH_ISSUER": DEV_ISSUER,
                "MINPLAN_AUTH_JWKS_URL": jwks.as_uri(),
                "MINPLAN_CACHE_URL": url,
                "MINPLAN_PSEUDONYM_KEY": "e2e-pseudonym-key-0123456789abcdef",
                "MINPLAN_AUDIT_URL": f"sqlite:///{tmp_path / f'audit{n}.sqlite3'}",
            }
            log = tmp_path / f"gateway{n}.log"
            proc = _start([str(MINPLAN), "serve", "--port", str(port)], genv, log)
            started.append(proc)
            gw = f"http://127.0.0.1:{port}"
            wait_until_healthy(gw, proc, log)
            gateways.append(gw)
        yield sources, gateways[0], gateways[1], issuer
    finally:
        for proc in started:
            proc.terminate()
        for proc in started:
            proc.wait(timeout=10)


def _wait_until_healthy_sources(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import time

    for _ in range(300):
        if proc.poll() is not None:
            pytest.fail(f"source server exited:\n{log.read_text()}")
        try:
            httpx.get(f"{url}/_count", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"source server not up:\n{log.read_text()}")


def test_second_gateway_serves_from_the_shared_cache(
    processes: tuple[str, str, str, DevIssuer],
) -> None:
    sources, first, second, issuer = processes
    token = issuer.issue(role="clinician", org=ORG_GP, name="Dr. Demo")

    def plan(gateway: str) -> dict[str, object]:
        response = httpx.post(
            f"{gateway}/graphql",
            json={"query": PLAN, "variables": {"cpr": PATIENT_COPD}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()["data"]["plan"]  # type: ignore[no-any-return]

    def searches() -> int:
        return int(httpx.get(f"{sources}/_count", timeout=5).text)

    a = plan(first)
    after_first = searches()
    b = plan(second)
    assert after_first == 8, "one search per source and type"
    assert searches() == after_first, "the second gateway called a source"
    assert b["packages"] == a["packages"]
    assert [p["kind"] for p in b["packages"]] == ["COPD"]  # type: ignore[union-attr, index]
    assert all(s["cached"] for s in b["sources"])  # type: ignore[index, union-attr]
