"""The demo sources answer FHIR searches over HTTP, the way the gateway calls them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from demo import people as p
from demo.sources import create_sources_app

CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
BASE = "http://demo.test"


def patients(*cprs: str) -> dict[str, str]:
    return {"patient:identifier": ",".join(f"{CPR_SYSTEM}|{cpr}" for cpr in cprs)}


def next_url(bundle: dict[str, Any]) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)


def subjects(bundle: dict[str, Any]) -> set[str]:
    return {e["resource"]["subject"]["identifier"]["value"] for e in bundle.get("entry", [])}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_sources_app())
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


async def test_search_one_patient(client: httpx.AsyncClient) -> None:
    response = await client.get("/diagnoses/Condition", params=patients(p.PATIENT_BOTH))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json"
    bundle = response.json()
    assert (bundle["resourceType"], bundle["type"], bundle["total"]) == ("Bundle", "searchset", 2)
    assert {e["resource"]["id"] for e in bundle["entry"]} == {"cond-birgit-kol", "cond-birgit-lrs"}
    assert subjects(bundle) == {p.PATIENT_BOTH}
    entry = bundle["entry"][0]
    assert entry["search"] == {"mode": "match"}
    assert entry["fullUrl"] == f"{BASE}/diagnoses/Condition/{entry['resource']['id']}"
    assert bundle["link"][0]["relation"] == "self"
    assert next_url(bundle) is None


async def test_search_several_patients_at_once(client: httpx.AsyncClient) -> None:
    cprs = (p.PATIENT_COPD, p.PATIENT_LBP, p.PATIENT_DIABETES_HEART)
    response = await client.get("/journal/DocumentReference", params=patients(*cprs))
    bundle = response.json()
    assert subjects(bundle) == set(cprs)
    assert bundle["total"] == len(bundle["entry"]) == 8


async def test_consent_is_searched_by_its_patient_field(client: httpx.AsyncClient) -> None:
    response = await client.get("/consent/Consent", params=patients(p.PATIENT_BLOCKS))
    ids = {e["resource"]["id"] for e in response.json()["entry"]}
    assert ids == {"consent-lis-hospital", "consent-lis-physio", "consent-lis-gp-old"}


async def test_careplan_serves_goals_and_risk_assessments(client: httpx.AsyncClient) -> None:
    for kind in ("Goal", "RiskAssessment", "CarePlan"):
        response = await client.get(f"/careplan/{kind}", params=patients(p.PATIENT_COPD))
        assert {e["resource"]["resourceType"] for e in response.json()["entry"]} == {kind}


async def test_pagination_follows_next_links_to_all_45(client: httpx.AsyncClient) -> None:
    url: str | None = str(
        client.build_request(
            "GET", "/appointments/Appointment", params=patients(p.PATIENT_MANY)
        ).url
    )
    sizes, ids = [], []
    while url is not None:
        bundle = (await client.get(url)).json()
        assert bundle["total"] == 45
        sizes.append(len(bundle["entry"]))
        ids += [e["resource"]["id"] for e in bundle["entry"]]
        url = next_url(bundle)
    assert sizes == [20, 20, 5]
    assert len(set(ids)) == 45


@pytest.mark.parametrize(
    ("count", "page"),
    [
        pytest.param("7", 7, id="count-honoured"),
        pytest.param("500", 20, id="count-capped-at-max-page-size"),
        pytest.param(None, 20, id="no-count-means-max-page-size"),
    ],
)
async def test_count(client: httpx.AsyncClient, count: str | None, page: int) -> None:
    params = patients(p.PATIENT_MANY) | ({"_count": count} if count else {})
    bundle = (await client.get("/appointments/Appointment", params=params)).json()
    assert len(bundle["entry"]) == page
    assert f"_count={page}" in str(next_url(bundle))


async def test_count_zero_gives_the_total_only(client: httpx.AsyncClient) -> None:
    params = patients(p.PATIENT_MANY) | {"_count": "0"}
    bundle = (await client.get("/appointments/Appointment", params=params)).json()
    assert (bundle["total"], "entry" in bundle, next_url(bundle)) == (45, False, None)


async def test_max_page_size_is_configurable() -> None:
    transport = httpx.ASGITransport(app=create_sources_app(max_page_size=10))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        params = patients(p.PATIENT_MANY) | {"_count": "50"}
        bundle = (await http.get("/appointments/Appointment", params=params)).json()
    assert len(bundle["entry"]) == 10


async def test_an_entry_whose_resource_is_not_an_object(client: httpx.AsyncClient) -> None:
    response = await client.get("/appointments/Appointment", params=patients(p.PATIENT_BROKEN))
    resources = [e["resource"] for e in response.json()["entry"]]
    assert sum(not isinstance(r, dict) for r in resources) == 1
    assert sum(isinstance(r, dict) for r in resources) >= 2


async def test_unknown_patient_gives_an_empty_bundle(client: httpx.AsyncClient) -> None:
    bundle = (await client.get("/diagnoses/Condition", params=patients("0101011234"))).json()
    assert (bundle["total"], "entry" in bundle) == (0, False)


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        pytest.param("/nosuch/Condition", patients(p.PATIENT_COPD), 404, id="unknown-source"),
        pytest.param("/diagnoses/Appointment", patients(p.PATIENT_COPD), 404, id="wrong-type"),
        pytest.param("/diagnoses/Condition/nosuch", {}, 404, id="unknown-id"),
        pytest.param("/a/b/c/d", {}, 404, id="unknown-path"),
        pytest.param("/diagnoses/Condition", {}, 400, id="patient-missing"),
        pytest.param("/diagnoses/Condition", {"patient:identifier": "0101521234"}, 400,
                     id="token-without-system"),
        pytest.param("/diagnoses/Condition", {"patient:identifier": f"{CPR_SYSTEM}|"}, 400,
                     id="token-without-value"),
        pytest.param("/diagnoses/Condition", patients(p.PATIENT_COPD) | {"_count": "-1"}, 400,
                     id="negative-count"),
        pytest.param("/diagnoses/Condition", patients(p.PATIENT_COPD) | {"_offset": "x"}, 400,
                     id="bad-offset"),
    ],
)  # fmt: skip
async def test_errors_are_operation_outcomes(
    client: httpx.AsyncClient, path: str, params: dict[str, str], status: int
) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/fhir+json"
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["diagnostics"]


async def test_only_get_is_allowed(client: httpx.AsyncClient) -> None:
    response = await client.post("/diagnoses/Condition", params=patients(p.PATIENT_COPD))
    assert response.status_code == 405
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_read_and_metadata(client: httpx.AsyncClient) -> None:
    note = (await client.get("/journal/DocumentReference/note-karen-family")).json()
    assert note["securityLabel"][0]["coding"][0]["code"] == "R"
    statement = (await client.get("/careplan/metadata")).json()
    types = {r["type"] for r in statement["rest"][0]["resource"]}
    assert (statement["resourceType"], types) == (
        "CapabilityStatement",
        {"Goal", "RiskAssessment", "CarePlan"},
    )


async def test_mounted_under_a_prefix_links_stay_under_it() -> None:
    outer = Starlette(routes=[Mount("/demo/fhir", app=create_sources_app())])
    transport = httpx.ASGITransport(app=outer)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        params = patients(p.PATIENT_MANY, p.PATIENT_COPD)
        first = (await http.get("/demo/fhir/appointments/Appointment", params=params)).json()
        following = next_url(first)
        assert following is not None
        assert following.startswith(f"{BASE}/demo/fhir/appointments/Appointment?")
        assert first["entry"][0]["fullUrl"].startswith(f"{BASE}/demo/fhir/appointments/")
        second = (await http.get(following)).json()
    assert second["total"] == first["total"] == 51
    assert {e["resource"]["id"] for e in first["entry"]}.isdisjoint(
        e["resource"]["id"] for e in second["entry"]
    )


async def test_repeated_patient_parameters_intersect(client: httpx.AsyncClient) -> None:
    cprs = (p.PATIENT_COPD, p.PATIENT_LBP)
    query = httpx.QueryParams([("patient:identifier", f"{CPR_SYSTEM}|{cpr}") for cpr in cprs])
    bundle = (await client.get("/diagnoses/Condition", params=query)).json()
    assert bundle["total"] == 0


async def test_given_resources_and_latency() -> None:
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "subject": {"identifier": {"system": CPR_SYSTEM, "value": p.PATIENT_COPD}},
    }
    app = create_sources_app({"diagnoses": [condition]}, latency={"diagnoses": 0.05})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        started = time.perf_counter()
        slow = (await http.get("/diagnoses/Condition", params=patients(p.PATIENT_COPD))).json()
        assert time.perf_counter() - started >= 0.05
        empty = await http.get("/journal/DocumentReference", params=patients(p.PATIENT_COPD))
    assert [e["resource"] for e in slow["entry"]] == [condition]
    assert (empty.status_code, empty.json()["total"]) == (200, 0)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        pytest.param("/observations/Observation", "Observation", id="observations"),
        pytest.param("/medication/MedicationStatement", "MedicationStatement", id="medication"),
        pytest.param("/careplan/CarePlan", "CarePlan", id="careplan-courses"),
    ],
)
async def test_v2_sources_are_searched_like_the_others(
    client: httpx.AsyncClient, path: str, kind: str
) -> None:
    cprs = (p.PATIENT_COPD, p.PATIENT_DIABETES_HEART)
    bundle = (await client.get(path, params=patients(*cprs))).json()
    assert subjects(bundle) == set(cprs)
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} == {kind}
