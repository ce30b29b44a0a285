"""The ``plan`` query as clients call it: loading, failing sources, access, and the items."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from demo.people import (
    ORG_GP,
    ORG_MUNICIPALITY,
    PATIENT_BOTH,
    PATIENT_BROKEN,
    PATIENT_COPD,
    PATIENT_DIABETES_HEART,
    PATIENT_LBP,
    PATIENT_MANY,
    PATIENT_NONE,
)
from demo.sources import create_sources_app
from gateway.settings import SOURCE_NAMES
from tests.conftest import MakeGateway

SEARCHES = sorted(
    [("diagnoses", "Condition"), ("appointments", "Appointment"),
     ("journal", "DocumentReference"), ("careplan", "Goal"), ("careplan", "RiskAssessment"),
     ("pro", "QuestionnaireResponse"), ("prevention", "ServiceRequest"), ("consent", "Consent")]
)  # fmt: skip
#: The sources of contract version 1, in its order: all a full plan asks today.
V1_SOURCES = ["diagnoses", "appointments", "journal", "careplan", "pro", "prevention", "consent"]
#: What the patient's own full plan asks: everything but consent (contract §6).
PATIENT_SEARCHES = [s for s in SEARCHES if s[0] != "consent"]

EVERYTHING_TWICE = """
query Twice {
  first: plan { ...Everything }
  second: plan { ...Everything packages { again: appointments { sourceId } } }
}
fragment Everything on Plan {
  cpr restricted generatedAt
  sources { name ok stale latencyMs error }
  packages {
    id kind
    diagnoses { ...Dx }
    triage { source sourceId level assessedAt assessedBy }
    goals { source sourceId description target due status }
    appointments { source sourceId status start end description actor }
    journalNotes { source sourceId date title author text }
    preventionOffers { source sourceId title provider status url }
    healthLiteracy { source sourceId score answeredAt }
  }
  unassigned {
    diagnoses { ...Dx } goals { sourceId } appointments { sourceId }
    journalNotes { sourceId } preventionOffers { sourceId }
  }
}
fragment Dx on Diagnosis { source sourceId code display onset recordedBy }
"""

PLAN = """
query Plan($cpr: String) {
  plan(cpr: $cpr) {
    cpr
    sources { name ok latencyMs error }
    packages { id kind appointments { sourceId } journalNotes { sourceId } }
    unassigned { appointments { sourceId } journalNotes { sourceId } }
  }
}
"""


def first_pages(requests: list[httpx.Request]) -> list[tuple[str, str]]:
    """(source, type) of every search's first page; later pages carry ``_offset``."""
    pages = [r for r in requests if "_offset" not in r.url.params]
    return sorted(tuple(r.url.path.strip("/").split("/")[:2]) for r in pages)  # type: ignore[misc]


async def test_each_search_is_made_once_however_often_the_plan_is_asked(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway() as gw:
        body = await gw.data(EVERYTHING_TWICE, gw.citizen(PATIENT_MANY))
        requests = gw.upstream.requests
    assert "errors" not in body
    assert first_pages(requests) == PATIENT_SEARCHES
    sources = body["data"]["first"]["sources"]
    assert [s["name"] for s in sources] == V1_SOURCES[:-1]  # all but consent
    assert all(s["ok"] and s["error"] is None for s in sources)
    assert all(isinstance(s["latencyMs"], float) and s["latencyMs"] >= 0 for s in sources)
    for alias in ("first", "second"):
        (package,) = body["data"][alias]["packages"]
        assert len(package["appointments"]) == 45  # three pages of 20, 20, 5
    assert len(requests) == len(PATIENT_SEARCHES) + 2


async def test_two_patients_in_one_query_share_each_search(make_gateway: MakeGateway) -> None:
    query = f"""{{
      a: plan(cpr: "{PATIENT_COPD}") {{ cpr packages {{ kind }} }}
      b: plan(cpr: "{PATIENT_LBP}") {{ cpr packages {{ kind }} }}
    }}"""
    async with make_gateway() as gw:
        body = await gw.data(query, gw.clinician(ORG_GP))
        requests = gw.upstream.requests
    assert body["data"]["a"] == {"cpr": PATIENT_COPD, "packages": [{"kind": "COPD"}]}
    assert body["data"]["b"] == {"cpr": PATIENT_LBP, "packages": [{"kind": "LOW_BACK_PAIN"}]}
    # `packages { kind }` needs the diagnoses; a clinician's read, consent too (contract §6).
    assert first_pages(requests) == [("consent", "Consent"), ("diagnoses", "Condition")]
    for request in requests:
        patients = request.url.params["patient:identifier"]
        assert PATIENT_COPD in patients
        assert PATIENT_LBP in patients


class Upstream(httpx.AsyncBaseTransport):
    """The demo sources; notes when each request starts and ends; may replace the journal."""

    def __init__(
        self, *, latency: float = 0.0, journal: tuple[int, str, bytes] | None = None
    ) -> None:
        app = create_sources_app(latency=dict.fromkeys(SOURCE_NAMES, latency))
        self.inner = httpx.ASGITransport(app=app)
        self.journal = journal
        self.events: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.journal is not None and request.url.path.startswith("/journal/"):
            status, content_type, body = self.journal
            return httpx.Response(status, headers={"content-type": content_type}, content=body)
        self.events.append("start")
        response = await self.inner.handle_async_request(request)
        self.events.append("end")
        return response


async def test_all_searches_start_before_any_answers(make_gateway: MakeGateway) -> None:
    delay = 0.2
    upstream = Upstream(latency=delay)
    # A clinician's full plan: every search, consent included.
    query = EVERYTHING_TWICE.replace("query Twice", "query Twice($cpr: String)")
    query = query.replace(": plan {", ": plan(cpr: $cpr) {")
    async with make_gateway(transport=upstream) as gw:
        started = time.perf_counter()
        body = await gw.data(query, gw.clinician(ORG_GP), {"cpr": PATIENT_COPD})
        elapsed = time.perf_counter() - started
    sources = body["data"]["first"]["sources"]
    assert [s["name"] for s in sources] == V1_SOURCES
    assert all(s["ok"] for s in sources)
    assert upstream.events == ["start"] * 8 + ["end"] * 8
    assert elapsed < 4 * delay, f"8 searches of {delay} s took {elapsed:.2f} s: not concurrent"


def journal_answers(status: int, content_type: str, body: bytes) -> Callable[[], dict[str, Any]]:
    return lambda: {"transport": Upstream(journal=(status, content_type, body))}


FHIR = "application/fhir+json"
FAILURES = [
    pytest.param(journal_answers(503, FHIR, b"{}"), "HTTP 503", id="http-503"),
    pytest.param(
        lambda: {"latency": {"journal": 1.0}, "source_timeouts": {"journal": 0.2}},
        "timed out",
        id="slow-beyond-timeout",
    ),
    pytest.param(journal_answers(200, "text/html", b"<html>Log ind</html>"), None, id="html"),
    pytest.param(journal_answers(200, FHIR, b'{"resourceType":"Patient"}'), None, id="not-bundle"),
    pytest.param(journal_answers(200, FHIR, b"{not json"), None, id="invalid-json"),
]


@pytest.mark.parametrize(("setup", "reason"), FAILURES)
async def test_a_failing_source_leaves_the_rest_of_the_plan(
    make_gateway: MakeGateway, setup: Callable[[], dict[str, Any]], reason: str | None
) -> None:
    async with make_gateway(**setup()) as gw:
        body = await gw.data(PLAN, gw.citizen(PATIENT_COPD))
    plan = body["data"]["plan"]
    assert [s["name"] for s in plan["sources"]] == ["diagnoses", "appointments", "journal"]
    journal = next(s for s in plan["sources"] if s["name"] == "journal")
    assert journal["ok"] is False
    assert journal["error"]
    assert len(journal["error"]) <= 60, journal["error"]
    if reason is not None:
        assert journal["error"] == reason
    assert all(s["ok"] for s in plan["sources"] if s["name"] != "journal")
    (package,) = plan["packages"]
    assert package["kind"] == "COPD"
    assert package["appointments"], "the other sources' items must still be there"
    assert package["journalNotes"] == []
    assert plan["unassigned"]["journalNotes"] == []
    (error,) = body["errors"]
    assert error["path"] == ["plan"]
    assert error["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    assert error["extensions"]["source"] == "journal"


@pytest.mark.parametrize(
    "cpr",
    [
        pytest.param("12345", id="too-short"),
        pytest.param("3102701234", id="no-such-date"),
        pytest.param("01O1521234", id="letter-O-for-zero"),
        pytest.param("abcdefghij", id="letters"),
        pytest.param("0101521234 OR 1=1", id="trailing-junk"),
    ],
)
async def test_malformed_cpr_is_bad_user_input_before_any_upstream_call(
    make_gateway: MakeGateway, cpr: str
) -> None:
    async with make_gateway() as gw:
        body = await gw.data(PLAN, gw.clinician(ORG_GP), {"cpr": cpr})
        assert gw.upstream.requests == []
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert cpr not in error["message"]


async def test_cpr_with_a_dash_is_accepted(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        body = await gw.data(PLAN, gw.clinician(ORG_GP), {"cpr": "010152-1234"})
    assert body["data"]["plan"]["cpr"] == PATIENT_COPD
    assert [p["kind"] for p in body["data"]["plan"]["packages"]] == ["COPD"]


async def test_citizen_without_power_of_attorney_is_forbidden(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        body = await gw.data(PLAN, gw.citizen(PATIENT_COPD), {"cpr": PATIENT_LBP})
        searches = gw.upstream.searches()
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert searches == [("consent", "Consent")], "only the power of attorney is looked up"


@pytest.mark.parametrize(
    ("cpr", "kinds"),
    [
        pytest.param(PATIENT_COPD, ["COPD"], id="copd"),
        pytest.param(PATIENT_BOTH, ["COPD", "LOW_BACK_PAIN"], id="two-packages"),
        pytest.param(PATIENT_DIABETES_HEART, ["TYPE2_DIABETES", "HEART_DISEASE"], id="dm-heart"),
    ],
)
async def test_clinician_reads_any_plan(
    make_gateway: MakeGateway, cpr: str, kinds: list[str]
) -> None:
    async with make_gateway() as gw:
        body = await gw.data(PLAN, gw.clinician(ORG_MUNICIPALITY), {"cpr": cpr})
    assert "errors" not in body
    assert body["data"]["plan"]["cpr"] == cpr
    assert sorted(p["kind"] for p in body["data"]["plan"]["packages"]) == sorted(kinds)


CITIZEN_ME = {"role": "CITIZEN", "cpr": PATIENT_COPD, "org": None, "name": "Karen Jensen"}
CLINICIAN_ME = {"role": "CLINICIAN", "cpr": None, "org": ORG_GP, "name": "Dr. Demo"}


@pytest.mark.parametrize(
    ("role", "expected"),
    [pytest.param("citizen", CITIZEN_ME, id="citizen"),
     pytest.param("clinician", CLINICIAN_ME, id="clinician")],
)  # fmt: skip
async def test_me_tells_who_the_token_names(
    make_gateway: MakeGateway, role: str, expected: dict[str, Any]
) -> None:
    async with make_gateway() as gw:
        token = gw.citizen(PATIENT_COPD) if role == "citizen" else gw.clinician(ORG_GP)
        body = await gw.data("{ me { role cpr org name } }", token)
        assert gw.upstream.requests == []
    assert body == {"data": {"me": expected}}


async def test_package_id_is_stable_and_reveals_no_cpr(make_gateway: MakeGateway) -> None:
    query = "query($cpr: String) { plan(cpr: $cpr) { packages { id kind } } }"
    async with make_gateway() as gw:
        token = gw.clinician(ORG_GP)
        one = await gw.data(query, token, {"cpr": PATIENT_BOTH})
        two = await gw.data(query, token, {"cpr": PATIENT_BOTH})
        other = await gw.data(query, token, {"cpr": PATIENT_COPD})
    packages = one["data"]["plan"]["packages"]
    assert packages == two["data"]["plan"]["packages"]
    ids = [p["id"] for p in packages + other["data"]["plan"]["packages"]]
    assert len(set(ids)) == 3, "one id per patient and package"
    for package_id in ids:
        assert package_id
        assert PATIENT_BOTH[:6] not in package_id
        assert PATIENT_COPD[:6] not in package_id


STATUS_QUERY = """query($status: [AppointmentStatus!]) { plan {
  packages { appointments(status: $status) { sourceId status } }
  unassigned { appointments(status: $status) { sourceId status } }
} }"""


@pytest.mark.parametrize(
    ("status", "in_package", "unassigned"),
    [
        pytest.param(None, ["spiro", "ward", "control", "rehab"], ["flu"], id="all-by-start"),
        pytest.param(["BOOKED"], ["control"], [], id="booked"),
        pytest.param(["PLANNED", "BOOKED"], ["control", "rehab"], [], id="upcoming"),
        pytest.param(["COMPLETED", "CANCELLED"], ["spiro", "ward"], ["flu"], id="past"),
        pytest.param(["NO_SHOW"], [], [], id="none-match"),
    ],
)
async def test_appointments_filtered_by_status(
    make_gateway: MakeGateway,
    status: list[str] | None,
    in_package: list[str],
    unassigned: list[str],
) -> None:
    async with make_gateway() as gw:
        body = await gw.data(STATUS_QUERY, gw.citizen(PATIENT_COPD), {"status": status})
    plan = body["data"]["plan"]
    (package,) = plan["packages"]
    assert [a["sourceId"] for a in package["appointments"]] == [
        f"appt-karen-{a}" for a in in_package
    ]
    shown = [a["sourceId"] for a in plan["unassigned"]["appointments"]]
    assert shown == [f"appt-karen-{a}" for a in unassigned]
    if status:
        statuses = {a["status"] for a in package["appointments"]}
        assert statuses <= set(status)


ITEMS = """diagnoses { sourceId code } goals { sourceId } appointments { sourceId }
journalNotes { sourceId } preventionOffers { sourceId }"""
SECTIONS = "query($cpr: String) { plan(cpr: $cpr) { packages { kind } %s } }"


async def test_patient_in_no_package_has_everything_unassigned(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        body = await gw.data(SECTIONS % f"unassigned {{ {ITEMS} }}", gw.citizen(PATIENT_NONE))
    plan = body["data"]["plan"]
    assert plan["packages"] == []
    unassigned = plan["unassigned"]
    assert unassigned["diagnoses"] == [{"sourceId": "cond-ole-htn", "code": "I10"}]
    assert sorted(a["sourceId"] for a in unassigned["appointments"]) == [
        "appt-ole-bp",
        "appt-ole-spiro",
    ]
    assert unassigned["goals"] == [{"sourceId": "goal-ole-bp"}]
    assert unassigned["journalNotes"] == [{"sourceId": "note-ole-bp"}]
    assert unassigned["preventionOffers"] == [{"sourceId": "sr-ole-exercise"}]


def bad_resources(metrics_text: str) -> dict[str, float]:
    """``minplan_bad_resources_total`` by source."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name == "minplan_bad_resources":
            for sample in family.samples:
                if sample.name == "minplan_bad_resources_total":
                    source = sample.labels["source"]
                    found[source] = found.get(source, 0.0) + sample.value
    return found


async def test_broken_resources_are_skipped_and_counted(make_gateway: MakeGateway) -> None:
    query = SECTIONS % f"packages {{ triage {{ sourceId }} {ITEMS} }}"
    async with make_gateway() as gw:
        before = bad_resources((await gw.client.get("/metrics")).text)
        body = await gw.data(query, gw.citizen(PATIENT_BROKEN))
        after = bad_resources((await gw.client.get("/metrics")).text)
    assert "errors" not in body
    (package,) = body["data"]["plan"]["packages"]
    assert package["kind"] == "LOW_BACK_PAIN"
    assert package["diagnoses"] == [{"sourceId": "cond-sofie-lrs", "code": "M54.5"}]
    assert package["appointments"] == [{"sourceId": "appt-sofie-physio"}]
    assert package["journalNotes"] == [{"sourceId": "note-sofie-back"}]
    assert package["goals"] == [{"sourceId": "goal-sofie-work"}]
    assert package["triage"] == {"sourceId": "risk-sofie-1"}
    assert package["preventionOffers"] == [{"sourceId": "sr-sofie-backschool"}]
    for source in ("diagnoses", "appointments", "journal", "careplan", "prevention"):
        assert after.get(source, 0) > before.get(source, 0), source
    assert sum(after.values()) - sum(before.values()) == 7


async def test_a_plan_leaves_no_cyclic_garbage(make_gateway: MakeGateway) -> None:
    # A request's objects (context, loaders, records, the GraphQL execution) must go with
    # reference counting when it is done. graphql-core's execution context refers to
    # itself; kept, it made every plan's ~320 objects wait for the garbage collector, and
    # full collections under load took 50-120 ms (schema.AcyclicExecutionContext).
    import gc

    async with make_gateway() as gw:
        token = gw.citizen(PATIENT_COPD)
        await gw.data("{ plan { cpr packages { kind appointments { start } } } }", token)
        gc.collect()
        gc.disable()
        try:
            gc.set_debug(gc.DEBUG_SAVEALL)
            body = await gw.data("{ plan { cpr packages { kind appointments { start } } } }", token)
            gc.collect()
            ours = [
                type(o).__qualname__
                for o in gc.garbage
                if type(o).__module__.split(".")[0]
                in ("gateway", "schema", "connectors", "graphql")
                or type(o).__qualname__ == "StrawberryGraphQLCoreExecutionContext"
            ]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert body["data"]["plan"]["packages"], "the plan was read"
    assert ours == []
