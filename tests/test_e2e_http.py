"""End to end: ``minplan serve`` in demo mode as a real process, called over real HTTP.

The server starts once for this module, with its own dev key and access log in a temporary
directory; tokens come from ``minplan token``, as a developer would get them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from demo.people import ORG_GP, PATIENT_BOTH, PATIENT_COPD, PROXY_OF_BOTH

MINPLAN = Path(sys.executable).with_name("minplan")
START_TIMEOUT = 30.0

PLAN = """query($cpr: String) { plan(cpr: $cpr) {
  cpr packages { kind appointments { sourceId } } sources { name ok }
} }"""


@dataclass(frozen=True)
class Server:
    url: str
    env: dict[str, str]

    def token(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603
            [str(MINPLAN), "token", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout.strip()

    def plan(self, token: str, cpr: str | None = None) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": PLAN, "variables": {"cpr": cpr}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body["errors"]
        plan: dict[str, Any] = body["data"]["plan"]
        return plan


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"minplan serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"minplan serve not healthy after {START_TIMEOUT} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINPLAN_")}
    env |= {
        "MINPLAN_DEV_KEY_FILE": str(home / "dev-signing-key.pem"),
        "MINPLAN_AUDIT_URL": f"sqlite:///{home / 'access-log.sqlite3'}",
    }
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603
            [str(MINPLAN), "serve", "--port", str(port), "--no-access-log"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(url, process, log)
        yield Server(url=url, env=env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_citizen_reads_own_plan(server: Server) -> None:
    plan = server.plan(server.token("--role", "citizen", "--cpr", PATIENT_COPD))
    assert plan["cpr"] == PATIENT_COPD
    assert [p["kind"] for p in plan["packages"]] == ["COPD"]
    assert plan["packages"][0]["appointments"]
    assert all(s["ok"] for s in plan["sources"]), plan["sources"]


def test_clinician_reads_a_patients_plan(server: Server) -> None:
    plan = server.plan(server.token("--role", "clinician", "--org", ORG_GP), PATIENT_BOTH)
    assert plan["cpr"] == PATIENT_BOTH
    assert sorted(p["kind"] for p in plan["packages"]) == ["COPD", "LOW_BACK_PAIN"]


def test_proxy_reads_the_plan_they_hold_power_of_attorney_for(server: Server) -> None:
    token = server.token("--role", "citizen", "--cpr", PROXY_OF_BOTH)
    plan = server.plan(token, PATIENT_BOTH)
    assert plan["cpr"] == PATIENT_BOTH
    assert sorted(p["kind"] for p in plan["packages"]) == ["COPD", "LOW_BACK_PAIN"]


def test_no_token_is_401(server: Server) -> None:
    response = httpx.post(f"{server.url}/graphql", json={"query": "{ me { role } }"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_playground_page_carries_a_demo_token(server: Server) -> None:
    response = httpx.get(f"{server.url}/graphql", headers={"Accept": "text/html"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()
    assert "Bearer ey" in response.text
    assert "query MyPlan" in response.text
