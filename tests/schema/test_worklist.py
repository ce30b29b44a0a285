"""The clinic's work list through the API (contract §5): who is on it, in what order, how it
pages and filters, what it asks the sources (in batches), what it logs, and how it fails."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from core.codes import CPR_SYSTEM, SOR_SYSTEM
from demo.sources import create_sources_app
from tests.conftest import FaultyTransport, Gateway, MakeGateway
from tests.fhir_v2 import Res, condition, consent_block

GP = "380101000016003"  # the clinic whose work list it is
OTHER_GP = "380101000016999"
TRIAGE_SYSTEM = "urn:minplan:triage"

WORKLIST = """
query Worklist($kind: PackageKind!, $triage: [TriageLevel!], $alerts: [AlertKind!],
               $first: Int, $after: String) {
  worklist(kind: $kind, triage: $triage, alerts: $alerts, first: $first, after: $after) {
    total endCursor hasNextPage
    sources { name ok }
    entries {
      cpr name restricted
      package { id kind triage { level } alerts { kind priority since text } }
    }
  }
}
"""


def _cpr(n: int) -> str:
    """A valid synthetic CPR: day 1-28 of a month in 1940-1999, serial from ``n``."""
    day, month, year = n % 28 + 1, n // 28 % 12 + 1, 40 + n // 336 % 60
    return f"{day:02d}{month:02d}{year:02d}{4000 + n:04d}"[:10]


def _when(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat(timespec="seconds")


def _subject(cpr: str) -> Res:
    return {"identifier": {"system": CPR_SYSTEM, "value": cpr}}


def patient(cpr: str, name: str, org: str = GP) -> Res:
    return {"resourceType": "Patient", "id": f"pat-{cpr}",
            "identifier": [{"system": CPR_SYSTEM, "value": cpr}], "name": [{"text": name}],
            "generalPractitioner": [{"identifier": {"system": SOR_SYSTEM,
                                                    "value": org}}]}  # fmt: skip


def appointment(rid: str, cpr: str, status: str, days: int, actor: str = "Fysioterapi Nord") -> Res:
    return {"resourceType": "Appointment", "id": rid, "subject": _subject(cpr),
            "status": status, "start": _when(days), "end": _when(days),
            "description": "Kontrol", "participant": [{"actor": {"display": actor}}],
            "reasonReference": [{"reference": f"Condition/cond-{cpr}"}]}  # fmt: skip


def triage(rid: str, cpr: str, level: str) -> Res:
    return {"resourceType": "RiskAssessment", "id": rid, "subject": _subject(cpr),
            "occurrenceDateTime": _when(-3), "code": {"coding": [{"code": "J44.9",
            "system": "http://hl7.org/fhir/sid/icd-10"}]},
            "prediction": [{"qualitativeRisk": {"coding": [{"system": TRIAGE_SYSTEM,
                                                            "code": level}]}}]}  # fmt: skip


def copd(cpr: str, onset_days: int) -> Res:
    res = condition(f"cond-{cpr}", "J44.9", cpr=cpr)
    return res | {"onsetDateTime": _when(-onset_days)}


class Clinic:
    """A synthetic clinic: named COPD patients, one per case, and many listed without it."""

    def __init__(self, fillers: int = 60) -> None:
        self.resources: dict[str, list[Res]] = {}
        self.names: dict[str, str] = {}
        self.n = 0
        for _ in range(fillers):
            self.listed("Borger uden pakke")

    def add(self, source: str, *resources: Res) -> None:
        self.resources.setdefault(source, []).extend(resources)

    def listed(self, name: str, org: str = GP) -> str:
        self.n += 1
        cpr = _cpr(self.n)
        self.names[cpr] = name
        self.add("listing", patient(cpr, name, org))
        return cpr

    def copd_patient(
        self, name: str, *, level: str | None, noshow: bool = False, onset_days: int = 10
    ) -> str:
        cpr = self.listed(name)
        self.add("diagnoses", copd(cpr, onset_days))
        if level is not None:
            self.add("careplan", triage(f"risk-{cpr}", cpr, level))
        if noshow:
            self.add("appointments", appointment(f"appt-{cpr}", cpr, "noshow", -20))
        return cpr


@pytest.fixture
def clinic() -> Clinic:
    c = Clinic()
    c.red_noshow = c.copd_patient("Rød Udeblevet", level="red", noshow=True)  # type: ignore[attr-defined]
    c.yellow_noshow = c.copd_patient("Gul Udeblevet", level="yellow", noshow=True)  # type: ignore[attr-defined]
    c.green_noplan = c.copd_patient("Grøn Uden Plan", level="green", onset_days=90)  # type: ignore[attr-defined]
    c.red_quiet = c.copd_patient("Rød Rolig", level="red")  # type: ignore[attr-defined]
    c.untriaged = c.copd_patient("Ikke Vurderet", level=None)  # type: ignore[attr-defined]
    c.blocked_diagnoses = c.copd_patient("Spærret Diagnoser", level="red", noshow=True)  # type: ignore[attr-defined]
    c.add("consent", consent_block("cons-diag", GP, "diagnoses", cpr=c.blocked_diagnoses))  # type: ignore[attr-defined]
    c.blocked_appointments = c.copd_patient("Spærret Aftaler", level="yellow", noshow=True)  # type: ignore[attr-defined]
    c.add("consent", consent_block("cons-appt", GP, "appointments", cpr=c.blocked_appointments))  # type: ignore[attr-defined]
    c.back_only = c.listed("Kun Ryg")  # type: ignore[attr-defined]
    c.add("diagnoses", condition(f"cond-{c.back_only}", "M54.5", cpr=c.back_only))  # type: ignore[attr-defined]
    c.elsewhere = c.listed("Anden Læge", org=OTHER_GP)  # type: ignore[attr-defined]
    c.add("diagnoses", copd(c.elsewhere, 10))  # type: ignore[attr-defined]
    return c


@pytest.fixture
def faulty(clinic: Clinic) -> FaultyTransport:
    """Chosen sources failing on demand in front of the clinic's sources (``faults[...]``)."""
    return FaultyTransport(httpx.ASGITransport(app=create_sources_app(clinic.resources)))


async def worklist(gw: Gateway, token: str, **variables: Any) -> dict[str, Any]:
    body = await gw.data(WORKLIST, token, {"kind": "COPD", **variables})
    assert "data" in body and body["data"] is not None, body
    result: dict[str, Any] = body["data"]["worklist"]
    return result


def cprs(page: dict[str, Any]) -> list[str]:
    return [e["cpr"] for e in page["entries"]]


async def test_a_citizen_gets_forbidden(make_gateway: MakeGateway, clinic: Clinic) -> None:
    async with make_gateway(resources=clinic.resources) as gw:
        body = await gw.data(WORKLIST, gw.citizen(clinic.red_noshow), {"kind": "COPD"})  # type: ignore[attr-defined]
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert gw.upstream.searches() == []


@pytest.mark.parametrize("first", [0, -1, 201])
async def test_first_outside_1_to_200_is_bad_input(
    make_gateway: MakeGateway, clinic: Clinic, first: int
) -> None:
    async with make_gateway(resources=clinic.resources) as gw:
        body = await gw.data(WORKLIST, gw.clinician(GP), {"kind": "COPD", "first": first})
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert gw.upstream.searches() == []


async def test_order_priority_then_triage_then_since_then_cpr(
    make_gateway: MakeGateway, clinic: Clinic
) -> None:
    c: Any = clinic
    async with make_gateway(resources=clinic.resources) as gw:
        page = await worklist(gw, gw.clinician(GP))
    assert cprs(page) == [
        c.red_noshow,  # a HIGH alert (RED)
        c.yellow_noshow,  # a MEDIUM alert (YELLOW)
        c.green_noplan,  # a LOW alert (GREEN, NO_PLAN)
        c.red_quiet,  # no alerts, triage RED
        c.blocked_appointments,  # no alerts it may see, triage YELLOW
        c.untriaged,  # no alerts, no triage: last
    ]
    assert page["total"] == 6 and page["hasNextPage"] is False
    by_cpr = {e["cpr"]: e for e in page["entries"]}
    assert by_cpr[c.red_noshow]["name"] == "Rød Udeblevet"
    assert [a["kind"] for a in by_cpr[c.red_noshow]["package"]["alerts"]] == ["NO_SHOW"]
    assert by_cpr[c.red_noshow]["package"]["alerts"][0]["priority"] == "HIGH"
    assert [a["kind"] for a in by_cpr[c.green_noplan]["package"]["alerts"]] == ["NO_PLAN"]


async def test_blocking_diagnoses_leaves_a_patient_out_blocking_appointments_their_alerts(
    make_gateway: MakeGateway, clinic: Clinic
) -> None:
    c: Any = clinic
    async with make_gateway(resources=clinic.resources) as gw:
        page = await worklist(gw, gw.clinician(GP))
    by_cpr = {e["cpr"]: e for e in page["entries"]}
    assert c.blocked_diagnoses not in by_cpr
    blocked = by_cpr[c.blocked_appointments]
    assert blocked["restricted"] is True
    assert "NO_SHOW" not in [a["kind"] for a in blocked["package"]["alerts"]]
    assert by_cpr[c.red_noshow]["restricted"] is False
    # Nobody else's, nobody outside the package.
    assert c.back_only not in by_cpr and c.elsewhere not in by_cpr


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        pytest.param({"triage": ["RED"]}, {"red_noshow", "red_quiet"}, id="triage-red"),
        pytest.param(
            {"triage": ["YELLOW", "GREEN"]},
            {"yellow_noshow", "blocked_appointments", "green_noplan"},
            id="triage-yellow-or-green",
        ),
        pytest.param({"alerts": ["NO_SHOW"]}, {"red_noshow", "yellow_noshow"}, id="alert-no-show"),
        pytest.param(
            {"alerts": ["NO_PLAN", "NO_SHOW"], "triage": ["GREEN"]},
            {"green_noplan"},
            id="alert-and-triage",
        ),
        pytest.param({"alerts": ["OFF_TARGET"]}, set(), id="alert-none-match"),
    ],
)
async def test_filters_and_total(
    make_gateway: MakeGateway, clinic: Clinic, variables: dict[str, Any], expected: set[str]
) -> None:
    async with make_gateway(resources=clinic.resources) as gw:
        page = await worklist(gw, gw.clinician(GP), **variables)
    assert set(cprs(page)) == {getattr(clinic, name) for name in expected}
    assert page["total"] == len(expected)


async def test_pages_give_every_entry_exactly_once_in_order(
    make_gateway: MakeGateway, clinic: Clinic
) -> None:
    async with make_gateway(resources=clinic.resources) as gw:
        token = gw.clinician(GP)
        whole = await worklist(gw, token, first=200)
        seen: list[str] = []
        after = None
        for _ in range(10):
            page = await worklist(gw, token, first=2, after=after)
            assert page["total"] == whole["total"]
            seen += cprs(page)
            after = page["endCursor"]
            if not page["hasNextPage"]:
                break
        assert seen == cprs(whole)
        assert len(seen) == len(set(seen)) == 6
        # Past the end: no entries, and no next page.
        last = await worklist(gw, token, first=2, after=after)
        assert last["entries"] == [] and last["hasNextPage"] is False


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("not-a-cursor", id="junk"),
        pytest.param("", id="empty"),
        pytest.param("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", id="forged"),
    ],
)
async def test_a_bad_cursor_is_bad_input(
    make_gateway: MakeGateway, clinic: Clinic, cursor: str
) -> None:
    async with make_gateway(resources=clinic.resources) as gw:
        body = await gw.data(WORKLIST, gw.clinician(GP), {"kind": "COPD", "after": cursor})
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_cursor_of_another_query_is_refused_and_holds_no_cpr(
    make_gateway: MakeGateway, clinic: Clinic
) -> None:
    async with make_gateway(resources=clinic.resources) as gw:
        token = gw.clinician(GP)
        page = await worklist(gw, token, first=1)
        cursor = page["endCursor"]
        assert cursor and page["entries"][0]["cpr"] not in cursor
        other = await gw.data(WORKLIST, token, {"kind": "COPD", "triage": ["RED"], "after": cursor})
        assert other["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def _batches(gw: Gateway, source: str) -> list[int]:
    """Patients per upstream search of ``source``, one number per request."""
    sizes = []
    for request in gw.upstream.requests:
        if request.url.path.strip("/").split("/")[0] != source:
            continue
        query = parse_qs(request.url.query.decode())
        if "_offset" in str(request.url):  # a next page of the same search
            continue
        sizes.append(len(query["patient:identifier"][0].split(",")))
    return sizes


async def test_sources_are_asked_in_batches_never_per_patient(
    make_gateway: MakeGateway, clinic: Clinic
) -> None:
    listed = len(clinic.resources["listing"]) - 1  # one is listed with another clinic
    async with make_gateway(resources=clinic.resources, batch_size=5) as gw:
        page = await worklist(gw, gw.clinician(GP))
        sizes = _batches(gw, "diagnoses")
        assert sum(sizes) == listed
        assert max(sizes) <= 5 and len(sizes) == math.ceil(listed / 5)
        # Consent, and what order and filters read (appointments, careplan, observations):
        # for the patients with a COPD diagnosis only (the one blocking diagnoses among them,
        # until consent says so), never for the many listed without one.
        diagnosed = len(page["entries"]) + 1
        for source in ("consent", "appointments", "observations"):
            sizes = _batches(gw, source)
            assert sum(sizes) == diagnosed and len(sizes) == math.ceil(diagnosed / 5), source
        # Not selected, not asked.
        assert _batches(gw, "journal") == [] and _batches(gw, "medication") == []
        names = [s["name"] for s in page["sources"]]
        assert "journal" not in names and "listing" in names and "consent" in names


async def test_a_selected_section_is_asked_for_the_page_only(
    make_gateway: MakeGateway, clinic: Clinic
) -> None:
    query = WORKLIST.replace("alerts { kind", "journalNotes { sourceId } alerts { kind")
    async with make_gateway(resources=clinic.resources, batch_size=5) as gw:
        body = await gw.data(query, gw.clinician(GP), {"kind": "COPD", "first": 2})
        assert len(body["data"]["worklist"]["entries"]) == 2
        assert _batches(gw, "journal") == [2]


async def test_each_entry_returned_is_in_its_patients_access_log_as_worklist(
    make_gateway: MakeGateway, clinic: Clinic
) -> None:
    c: Any = clinic
    log_query = "{ accessLog { context org sections emergency } }"
    async with make_gateway(resources=clinic.resources) as gw:
        page = await worklist(gw, gw.clinician(GP), first=1)
        first = page["entries"][0]["cpr"]
        entries = (await gw.data(log_query, gw.citizen(first)))["data"]["accessLog"]
        assert [(e["context"], e["org"], e["emergency"]) for e in entries] == [
            ("WORKLIST", GP, False)
        ]
        # Not returned on this page: not logged.
        rest = (await gw.data(log_query, gw.citizen(c.untriaged)))["data"]["accessLog"]
        assert rest == []
        # A plan read is logged as PLAN.
        await gw.data("query($c: String) { plan(cpr: $c) { cpr } }", gw.clinician(GP),
                      {"c": c.untriaged})  # fmt: skip
        rest = (await gw.data(log_query, gw.citizen(c.untriaged)))["data"]["accessLog"]
        assert [e["context"] for e in rest] == ["PLAN"]


async def test_an_entry_shows_the_package_a_plan_read_shows(
    make_gateway: MakeGateway, clinic: Clinic
) -> None:
    plan_query = """query($c: String) { plan(cpr: $c) { restricted
      packages { id kind triage { level } alerts { kind priority since text } } } }"""
    async with make_gateway(resources=clinic.resources) as gw:
        token = gw.clinician(GP)
        page = await worklist(gw, token)
        for entry in page["entries"]:
            plan = (await gw.data(plan_query, token, {"c": entry["cpr"]}))["data"]["plan"]
            (package,) = [p for p in plan["packages"] if p["kind"] == "COPD"]
            assert entry["package"] == package
            assert entry["restricted"] == plan["restricted"]


async def test_consent_down_refuses_the_whole_list(
    make_gateway: MakeGateway, faulty: FaultyTransport
) -> None:
    faulty.faults["consent"] = 503
    async with make_gateway(transport=faulty) as gw:
        body = await gw.data(WORKLIST, gw.clinician(GP), {"kind": "COPD"})
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "CONSENT_UNAVAILABLE"


@pytest.mark.parametrize("fault", [503, "junk", "refused"])
async def test_a_failing_source_empties_its_sections_for_every_entry_and_is_reported(
    make_gateway: MakeGateway, faulty: FaultyTransport, fault: int | str
) -> None:
    faulty.faults["appointments"] = fault
    async with make_gateway(transport=faulty) as gw:
        body = await gw.data(WORKLIST, gw.clinician(GP), {"kind": "COPD"})
    page = body["data"]["worklist"]
    assert len(page["entries"]) == 6
    kinds = {a["kind"] for e in page["entries"] for a in e["package"]["alerts"]}
    assert "NO_SHOW" not in kinds and "NO_PLAN" in kinds
    status = {s["name"]: s["ok"] for s in page["sources"]}
    assert status["appointments"] is False and status["diagnoses"] is True
    assert [e["extensions"]["code"] for e in body["errors"]] == ["SOURCE_UNAVAILABLE"]


async def test_listing_down_is_source_unavailable(
    make_gateway: MakeGateway, faulty: FaultyTransport
) -> None:
    faulty.faults["listing"] = 500
    async with make_gateway(transport=faulty) as gw:
        body = await gw.data(WORKLIST, gw.clinician(GP), {"kind": "COPD"})
        assert body["data"] is None
        error = body["errors"][0]
        assert error["extensions"]["code"] == "SOURCE_UNAVAILABLE"
        assert "listing" in error["message"]
        assert {s for s, _ in gw.upstream.searches()} == {"listing"}


def _junk_condition(cpr: str) -> Res:
    return {"resourceType": "Condition", "id": "junk", "subject": _subject(cpr),
            "code": "not a codeable concept"}  # fmt: skip


async def test_one_patients_unreadable_resource_spoils_nothing_else(
    make_gateway: MakeGateway, clinic: Clinic
) -> None:
    c: Any = clinic
    clinic.add("diagnoses", _junk_condition(c.red_quiet))
    async with make_gateway(resources=clinic.resources, batch_size=50) as gw:
        page = await worklist(gw, gw.clinician(GP))
    assert c.red_noshow in cprs(page) and c.untriaged in cprs(page)
