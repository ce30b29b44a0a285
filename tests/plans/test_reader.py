"""PlanReader through the app: one authorisation for plans and access logs, fetched in order."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from demo.people import PATIENT_BOTH, PATIENT_COPD, PATIENT_LBP, PROXY_OF_BOTH
from demo.sources import create_sources_app
from tests.conftest import Gateway, MakeGateway

PLAN = "query($cpr: String) { plan(cpr: $cpr) { cpr } }"
ACCESS_LOG = "query($cpr: String) { accessLog(cpr: $cpr) { at } }"
ACCESS_LOG_PAGE = "query($cpr: String) { accessLogPage(cpr: $cpr) { total } }"
READS = {"plan": PLAN, "accessLog": ACCESS_LOG, "accessLogPage": ACCESS_LOG_PAGE}


class ConsentDown(httpx.AsyncBaseTransport):
    """The demo sources, with the consent source answering 503."""

    def __init__(self) -> None:
        self.inner = httpx.ASGITransport(app=create_sources_app())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/consent/"):
            return httpx.Response(503, text="down")
        return await self.inner.handle_async_request(request)


async def answer(gw: Gateway, query: str, citizen: str, patient: str) -> str:
    """``ALLOWED`` (data, perhaps with sources missing) or the one error code of a refusal."""
    body: dict[str, Any] = await gw.data(query, gw.citizen(citizen), {"cpr": patient})
    codes = [e["extensions"]["code"] for e in body.get("errors", [])]
    if body["data"] is not None:
        assert set(codes) <= {"SOURCE_UNAVAILABLE"}, body
        return "ALLOWED"
    assert len(codes) == 1, body
    return str(codes[0])


@pytest.mark.parametrize(
    ("citizen", "patient", "consent_down", "expected"),
    [
        pytest.param(PATIENT_BOTH, PATIENT_BOTH, False, "ALLOWED", id="the-patient"),
        pytest.param(PATIENT_BOTH, PATIENT_BOTH, True, "ALLOWED", id="the-patient-consent-down"),
        pytest.param(PROXY_OF_BOTH, PATIENT_BOTH, False, "ALLOWED", id="a-proxy"),
        pytest.param(PATIENT_LBP, PATIENT_BOTH, False, "FORBIDDEN", id="no-power-of-attorney"),
        pytest.param(PROXY_OF_BOTH, PATIENT_COPD, False, "FORBIDDEN", id="inactive-power"),
        pytest.param(
            PROXY_OF_BOTH, PATIENT_BOTH, True, "CONSENT_UNAVAILABLE", id="a-proxy-consent-down"
        ),
    ],
)
async def test_plan_and_access_logs_answer_alike(
    make_gateway: MakeGateway, citizen: str, patient: str, consent_down: bool, expected: str
) -> None:
    overrides = {"transport": ConsentDown()} if consent_down else {}
    async with make_gateway(**overrides) as gw:
        answers = {field: await answer(gw, q, citizen, patient) for field, q in READS.items()}
    assert answers == dict.fromkeys(READS, expected)


@pytest.mark.parametrize(
    ("citizen", "patient", "consent_down"),
    [
        pytest.param(PATIENT_LBP, PATIENT_BOTH, False, id="forbidden"),
        pytest.param(PROXY_OF_BOTH, PATIENT_BOTH, True, id="consent-unavailable"),
    ],
)
@pytest.mark.parametrize("field", list(READS))
async def test_a_refused_proxy_read_asks_only_the_consent_source(
    make_gateway: MakeGateway, citizen: str, patient: str, consent_down: bool, field: str
) -> None:
    overrides = {"transport": ConsentDown(), "retries": 0} if consent_down else {}
    async with make_gateway(**overrides) as gw:
        assert await answer(gw, READS[field], citizen, patient) != "ALLOWED"
        assert {source for source, _ in gw.upstream.searches()} == {"consent"}


async def test_a_proxy_read_asks_consent_before_any_other_source(
    make_gateway: MakeGateway,
) -> None:
    query = "query($cpr: String) { plan(cpr: $cpr) { packages { kind } } }"
    async with make_gateway() as gw:
        assert await answer(gw, query, PROXY_OF_BOTH, PATIENT_BOTH) == "ALLOWED"
        searches = gw.upstream.searches()
    assert searches[0] == ("consent", "Consent")
    assert searches.count(("consent", "Consent")) == 1
    assert searches[1:] == [("diagnoses", "Condition")]


async def test_the_patients_own_access_log_asks_no_source(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        assert await answer(gw, ACCESS_LOG, PATIENT_BOTH, PATIENT_BOTH) == "ALLOWED"
        assert gw.upstream.searches() == []
