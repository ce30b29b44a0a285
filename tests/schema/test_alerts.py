"""Follow-up alerts through the schema (contract §5, v2): the demo's people as the patient and
as a clinician, consent gating, a failing source, and the searches ``alerts`` asks."""

from __future__ import annotations

from typing import Any

import pytest

from core.codes import CPR_SYSTEM
from core.localtime import fixed_day_clock
from demo.data import BASE_DAY
from demo.people import (
    ORG_GP,
    PATIENT_BOTH,
    PATIENT_BROKEN,
    PATIENT_COPD,
    PATIENT_DIABETES_HEART,
    PROXY_OF_BOTH,
)
from tests.conftest import FaultyTransport, Gateway, MakeGateway
from tests.fhir_v2 import PATIENT, Res, condition, consent_block

HOSPITAL = "265161000016000"
ALERTS = """query($cpr: String) { plan(cpr: $cpr) {
  packages { kind alerts { kind priority since text items { __typename source sourceId } } }
  sources { name ok }
} }"""


def on_base_day(gw: Gateway) -> Gateway:
    """The gateway's alerts as of the demo's day, as the embedded demo computes them."""
    gw.app.state.services.plans.clock = fixed_day_clock(BASE_DAY)
    return gw


def alerts_of(body: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    assert "errors" not in body, body["errors"]
    return {p["kind"]: p["alerts"] for p in body["data"]["plan"]["packages"]}


def brief(body: dict[str, Any]) -> dict[str, list[tuple[str, str, str, list[str]]]]:
    return {
        kind: [(a["kind"], a["priority"], a["since"], [i["sourceId"] for i in a["items"]])
               for a in alerts]
        for kind, alerts in alerts_of(body).items()
    }  # fmt: skip


HENRIK = {
    "TYPE2_DIABETES": [
        ("OFF_TARGET", "MEDIUM", "2026-12-17", ["obs-henrik-hba1c-2"]),
        ("NOT_REBOOKED", "MEDIUM", "2026-12-30", ["appt-henrik-eyes"]),
    ],
    "HEART_DISEASE": [
        ("NO_TRIAGE", "LOW", "2026-09-16", ["cp-henrik-ihd"]),
        ("NO_SHOW", "LOW", "2026-12-23", ["appt-henrik-cardio"]),
    ],
}


async def test_a_patient_sees_their_own_alerts_addressed_to_them(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        body = await on_base_day(gw).data(ALERTS, gw.citizen(PATIENT_DIABETES_HEART))
    assert brief(body) == HENRIK
    heart = alerts_of(body)["HEART_DISEASE"]
    assert heart[1]["text"] == (
        "Du udeblev fra din aftale hos Aarhus Universitetshospital, Hjertesygdomme den "
        "23. december 2026, og der er ikke booket en ny."
    )
    assert [i["__typename"] for a in heart for i in a["items"]] == ["Course", "Appointment"]


async def test_a_clinician_sees_the_same_alerts_about_the_patient(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway() as gw:
        body = await on_base_day(gw).data(
            ALERTS, gw.clinician(ORG_GP), {"cpr": PATIENT_DIABETES_HEART}
        )
    assert brief(body) == HENRIK
    texts = [a["text"] for alerts in alerts_of(body).values() for a in alerts]
    assert all(t.startswith(("Patientens ", "Patienten ")) for t in texts), texts
    assert alerts_of(body)["HEART_DISEASE"][1]["text"] == (
        "Patienten udeblev fra sin aftale hos Aarhus Universitetshospital, Hjertesygdomme den "
        "23. december 2026, og der er ikke booket en ny."
    )


@pytest.mark.parametrize(
    ("cpr", "expected"),
    [
        pytest.param(PATIENT_COPD, {"COPD": [("NOT_REBOOKED", "LOW", "2026-12-15",
                                              ["appt-karen-ward"])]}, id="karen-NOT_REBOOKED"),
        pytest.param(PATIENT_BOTH, {
            "COPD": [("OFF_TARGET", "HIGH", "2026-11-25", ["obs-birgit-mrc"]),
                     ("REVIEW_OVERDUE", "HIGH", "2026-12-15", ["cp-birgit-kol"])],
            "LOW_BACK_PAIN": [],
        }, id="birgit-red-triage-HIGH-REVIEW_OVERDUE-and-OFF_TARGET"),
        pytest.param(PATIENT_BROKEN, {"LOW_BACK_PAIN": [("NO_PLAN", "LOW", "2026-11-05",
                                                         ["cond-sofie-lrs"])]},
                     id="sofie-draft-plan-is-NO_PLAN"),
    ],
)  # fmt: skip
async def test_the_demo_people_alerts_on_its_day(
    make_gateway: MakeGateway, cpr: str, expected: dict[str, list[Any]]
) -> None:
    async with make_gateway() as gw:
        body = await on_base_day(gw).data(ALERTS, gw.citizen(cpr))
    assert brief(body) == expected


async def test_a_proxy_reads_the_alerts_about_the_patient(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        body = await on_base_day(gw).data(ALERTS, gw.citizen(PROXY_OF_BOTH), {"cpr": PATIENT_BOTH})
    (overdue,) = [a for a in alerts_of(body)["COPD"] if a["kind"] == "REVIEW_OVERDUE"]
    assert overdue["text"] == (
        "Den næste kontrol i patientens forløb for KOL hos Lægerne Søndergade, Aarhus skulle "
        "have været holdt senest den 15. december 2026."
    )


def _appointment(rid: str, status: str, start: str, actor: str) -> Res:
    return {"resourceType": "Appointment", "id": rid, "status": status, "start": start,
            "subject": {"identifier": {"system": CPR_SYSTEM, "value": PATIENT}},
            "participant": [{"actor": {"display": actor}}],
            "reasonReference": [{"reference": "Condition/cond-copd"}]}  # fmt: skip


BLOCKED = {
    "diagnoses": [condition("cond-copd", "J44.9")],
    "appointments": [_appointment("a-missed", "noshow", "2026-12-20T09:00:00+01:00", "Fysio")],
    "consent": [consent_block("c-gp", ORG_GP, "appointments")],
}


@pytest.mark.parametrize(
    ("org", "expected"),
    [
        pytest.param(ORG_GP, [], id="NO_SHOW-not-raised-for-a-clinic-blocked-from-appointments"),
        pytest.param(HOSPITAL, [("NO_SHOW", "LOW", "2026-12-20", ["a-missed"])],
                     id="NO_SHOW-raised-for-a-clinic-not-blocked"),
    ],
)  # fmt: skip
async def test_a_clinic_blocked_from_appointments_gets_no_appointment_alerts(
    make_gateway: MakeGateway, org: str, expected: list[Any]
) -> None:
    async with make_gateway(resources=BLOCKED) as gw:
        body = await on_base_day(gw).data(ALERTS, gw.clinician(org), {"cpr": PATIENT})
    assert brief(body) == {"COPD": expected}


async def test_careplan_down_raises_no_course_alerts_and_serves_the_rest(
    make_gateway: MakeGateway, faulty: FaultyTransport
) -> None:
    faulty.faults["careplan"] = 503
    async with make_gateway(transport=faulty) as gw:
        on_base_day(gw)
        henrik = await gw.data(ALERTS, gw.citizen(PATIENT_DIABETES_HEART))
        sofie = await gw.data(ALERTS, gw.citizen(PATIENT_BROKEN))
        birgit = await gw.data(ALERTS, gw.citizen(PATIENT_BOTH))
    for body in (henrik, sofie, birgit):  # the plan comes with the source's error beside it
        errors = body.pop("errors")
        assert {(e["extensions"]["code"], e["extensions"]["source"]) for e in errors} == {
            ("SOURCE_UNAVAILABLE", "careplan")
        }
    # Only the appointment rules read nothing of careplan: they stay, the others go.
    assert brief(henrik) == {
        "TYPE2_DIABETES": [("NOT_REBOOKED", "LOW", "2026-12-30", ["appt-henrik-eyes"])],
        "HEART_DISEASE": [("NO_SHOW", "LOW", "2026-12-23", ["appt-henrik-cardio"])],
    }
    assert brief(sofie) == {"LOW_BACK_PAIN": []}  # no NO_PLAN because careplan is down
    assert brief(birgit) == {"COPD": [], "LOW_BACK_PAIN": []}
    sources = {s["name"]: s["ok"] for s in henrik["data"]["plan"]["sources"]}
    assert sources == {"diagnoses": True, "appointments": True, "careplan": False,
                       "observations": True}  # fmt: skip


async def test_selecting_alerts_asks_every_search_their_rules_read(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway() as gw:
        await gw.data("{ plan { packages { alerts { kind } } } }", gw.citizen(PATIENT_COPD))
        searches = sorted(gw.upstream.searches())
    assert searches == sorted([
        ("diagnoses", "Condition"), ("appointments", "Appointment"), ("careplan", "Goal"),
        ("careplan", "RiskAssessment"), ("careplan", "CarePlan"), ("observations", "Observation"),
    ])  # fmt: skip


async def test_the_deadline_setting_moves_no_plan(make_gateway: MakeGateway) -> None:
    # Sofie's diagnosis is 90 days old on the demo's day: a 100-day deadline has not passed.
    async with make_gateway(plan_deadline_days=100) as gw:
        body = await on_base_day(gw).data(ALERTS, gw.citizen(PATIENT_BROKEN))
    assert brief(body) == {"LOW_BACK_PAIN": []}
