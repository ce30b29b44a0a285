"""End to end: ``minplan serve`` in demo mode as a real process, called over real HTTP.

The server starts once for this module, with its own dev key and access log in a temporary
directory; tokens come from ``minplan token``, as a developer would get them.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from demo.people import ORG_GP, PATIENT_BOTH, PATIENT_COPD, PROXY_OF_BOTH
from tests.demo_server import Server, demo_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with demo_server(tmp_path_factory.mktemp("e2e"), "--no-request-log") as running:
        yield running


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
