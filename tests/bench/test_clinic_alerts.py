"""The synthetic clinic's data read by the gateway itself: each COPD patient's triage and
alerts in a clinician's plan read are what bench/clinic.py ``expected`` says, and the
clinic's work list passes the scenario's checker with its searches batched.

The work-list scenario checks every entry against ``expected``; a work list's entry is the
package a plan read by the same clinician shows (contract §5), so the gateway's own plan
read is the oracle. In process: the gateway app (tests/conftest.py ``make_gateway``) over a
transport answering from the source server's bundles (bench/bundles.py), no socket.
"""

from __future__ import annotations

import httpx
import pytest

from bench.bundles import Bundles
from bench.clinic import (
    ALERT_KINDS,
    CLINIC_SOR,
    Expected,
    clinic_cprs,
    expected,
    package_cprs,
    today,
)
from bench.synthetic import resources
from bench.worklist import BATCH, PAGE, WORKLIST_QUERY, check_worklist
from tests.conftest import UPSTREAM, MakeGateway

PLAN = """query Plan($cpr: String!) {
  plan(cpr: $cpr) { sources { name ok } packages { kind triage { level } alerts { kind } } }
}"""


class BundleTransport(httpx.AsyncBaseTransport):
    """The synthetic sources' answers without a socket; counts searches per path."""

    def __init__(self) -> None:
        self.bundles = Bundles(resources(), today())
        self.searches: dict[str, int] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        found = self.bundles.answer(request.url.path, request.url.query.decode())
        if found is None:
            return httpx.Response(404, request=request)
        self.searches[request.url.path] = self.searches.get(request.url.path, 0) + 1
        headers = {"content-type": "application/fhir+json"}
        return httpx.Response(200, content=found.body, headers=headers, request=request)


def _covering() -> list[str]:
    """The fewest COPD patients, in order, covering every triage level and alert kind."""
    chosen, seen = [], set[object]()
    for cpr in package_cprs():
        want = expected(cpr)
        assert want is not None
        new = {want.triage, *want.alerts, (want.triage, want.alerts)} - seen
        if new:
            chosen.append(cpr)
            seen |= new
    assert set(ALERT_KINDS) <= seen and {"RED", "YELLOW", "GREEN", None} <= seen
    return chosen


@pytest.mark.timeout(300)
async def test_a_clinicians_plan_read_shows_the_triage_and_alerts_the_bench_expects(
    make_gateway: MakeGateway,
) -> None:
    sources = BundleTransport()
    found: dict[str, Expected] = {}
    async with make_gateway(transport=sources) as gw:
        token = gw.issuer.issue(role="clinician", org=CLINIC_SOR, name="Bench")
        for cpr in _covering():
            response = await gw.query(PLAN, token, {"cpr": cpr})
            plan = response.json()["data"]["plan"]
            assert all(s["ok"] for s in plan["sources"])
            [package] = plan["packages"]
            level = (package["triage"] or {}).get("level")
            found[cpr] = Expected(level, tuple(sorted(a["kind"] for a in package["alerts"])))
    assert found == {cpr: expected(cpr) for cpr in found}


async def test_a_patient_outside_copd_has_no_package(make_gateway: MakeGateway) -> None:
    async with make_gateway(transport=BundleTransport()) as gw:
        token = gw.issuer.issue(role="clinician", org=CLINIC_SOR, name="Bench")
        for cpr in clinic_cprs()[1:4]:  # no diagnosis, a hypertension, none
            response = await gw.query(PLAN, token, {"cpr": cpr})
            assert response.json()["data"]["plan"]["packages"] == []


async def test_the_gateways_work_list_of_the_clinic_passes_the_scenarios_checker(
    make_gateway: MakeGateway,
) -> None:
    sources = BundleTransport()
    async with make_gateway(
        transport=sources,
        source_listing_url=f"{UPSTREAM}/listing",
        batch_size=BATCH,
        cache_ttl=0,  # cold: every read asks every source
    ) as gw:
        token = gw.issuer.issue(role="clinician", org=CLINIC_SOR, name="Bench")
        whole = await gw.query(WORKLIST_QUERY, token, {"kind": "COPD", "first": 200})
        sources.searches.clear()
        first = await gw.query(WORKLIST_QUERY, token, {"kind": "COPD", "first": PAGE})
    assert check_worklist(whole.json(), 200) is None
    assert check_worklist(first.json(), PAGE) is None
    entries = whole.json()["data"]["worklist"]["entries"]
    assert sorted(e["cpr"] for e in entries) == sorted(package_cprs())
    page = first.json()["data"]["worklist"]["entries"]
    assert [e["cpr"] for e in page] == [e["cpr"] for e in entries[:PAGE]]
    # batched: 40 searches for the 2,000 listed (diagnoses), 3 for the 150 (consent and
    # what order and filters read); the listing in few pages
    assert 1 <= sources.searches.pop("/listing/Patient") <= 4
    assert sources.searches == {
        "/consent/Consent": 3,
        "/diagnoses/Condition": 40,
        "/appointments/Appointment": 3,
        "/careplan/Goal": 3,
        "/careplan/RiskAssessment": 3,
        "/careplan/CarePlan": 3,
        "/observations/Observation": 3,
    }
