"""Consent (contract §3) over version 2's sections: ``measurements``, ``medication``, and the
course under ``goals``. Placement and targets use only the goals the viewer sees.

One patient (tests/fhir_v2.py) in COPD and low back pain: a course; a COPD goal on FEV1 and a
low-back-pain goal on pain (NRS); an FEV1 value with focus on COPD and a pain value without
focus (placed by the goal only); a medicine per package.
"""

from __future__ import annotations

from typing import Any

import pytest

from demo.people import ORG_GP, ORG_HOSPITAL, PATIENT_BOTH, PROXY_OF_BOTH
from tests.conftest import FaultyTransport, MakeGateway
from tests.fhir_v2 import (
    FEV1,
    NRS,
    PATIENT,
    Res,
    care_plan,
    consent_block,
    goal,
    medication,
    observation,
    two_packages,
    withheld,
)

PLAN = """query($cpr: String, $reason: String) { plan(cpr: $cpr, emergencyReason: $reason) {
  restricted
  packages { kind course { sourceId } measurements { ...M } medications { sourceId } }
  unassigned { measurements { ...M } medications { sourceId } } } }
fragment M on Measurement { sourceId target onTarget }"""
SECTIONS = "{ accessLog { emergency sections } }"
REASON = "Akut indlagt med åndenød"

GOAL_NRS = goal("g-nrs", NRS, cond="cond-lbp", quantity=("<=", 3), unit="{score}")
O_FEV1 = observation("o-fev1", FEV1, 1.2, focus="cond-copd")
O_NRS = observation("o-nrs", NRS, 5, unit="{score}")
M_COPD, M_LBP = medication("m-copd", codes=("J44.9",)), medication("m-lbp", reason="cond-lbp")
#: The COPD value and medicine labelled withheld: no other organisation, nor the patient, sees them.
WITHHELD = {"observations": [withheld(O_FEV1), O_NRS], "medication": [withheld(M_COPD), M_LBP]}


def resources(*consents: Res, goal_nrs: Res = GOAL_NRS, **changes: list[Res]) -> dict[str, Any]:
    data: dict[str, list[Res]] = {
        "diagnoses": two_packages(),
        "careplan": [care_plan("cp-copd", "active", "2026-06-01T10:00:00+02:00"),
                     goal("g-fev1", FEV1, quantity=(">=", 1)), goal_nrs],
        "observations": [O_FEV1, O_NRS],
        "medication": [M_COPD, M_LBP],
        "consent": list(consents),
    }  # fmt: skip
    return data | changes


def view(plan: dict[str, Any]) -> dict[str, Any]:
    """Per package kind (and ``unassigned``): course, measurements, medications, compactly."""
    out: dict[str, Any] = {}
    for part in [*plan["packages"], {"kind": "unassigned", **plan["unassigned"]}]:
        values = [(m["sourceId"], m["target"], m["onTarget"]) for m in part["measurements"]]
        meds = [m["sourceId"] for m in part["medications"]]
        course = part.get("course")
        shown = {"course": course["sourceId"] if course else None, "values": values, "meds": meds}
        out[part["kind"]] = {k: v for k, v in shown.items() if v}
    return {k: v for k, v in out.items() if v}


FULL = {
    "COPD": {"course": "cp-copd", "values": [("o-fev1", "≥ 1 L", True)], "meds": ["m-copd"]},
    "LOW_BACK_PAIN": {"values": [("o-nrs", "≤ 3 {score}", False)], "meds": ["m-lbp"]},
}


@pytest.mark.parametrize(
    ("data", "reason", "expected", "sections_left_out"),
    [
        pytest.param(resources(), None, FULL, set(), id="no-block-sees-all"),
        pytest.param(
            resources(consent_block("c1", ORG_GP, "measurements")), None,
            {"COPD": {"course": "cp-copd", "meds": ["m-copd"]},
             "LOW_BACK_PAIN": {"meds": ["m-lbp"]}},
            {"measurements"}, id="blocked-measurements",
        ),
        pytest.param(
            resources(consent_block("c1", ORG_GP, "medication")), None,
            {"COPD": {"course": "cp-copd", "values": [("o-fev1", "≥ 1 L", True)]},
             "LOW_BACK_PAIN": {"values": [("o-nrs", "≤ 3 {score}", False)]}},
            {"medication"}, id="blocked-medication",
        ),
        pytest.param(
            resources(consent_block("c1", ORG_GP, "goals")), None,
            {"COPD": {"values": [("o-fev1", None, None)], "meds": ["m-copd"]},
             "LOW_BACK_PAIN": {"meds": ["m-lbp"]},
             "unassigned": {"values": [("o-nrs", None, None)]}},
            {"goals"}, id="blocked-goals-no-course-no-target-placed-by-focus-only",
        ),
        pytest.param(
            resources(consent_block("c1", ORG_GP)), None, {},
            {"diagnoses", "appointments", "journal", "goals", "prevention", "measurements",
             "medication"},
            id="blocked-in-full",
        ),
        pytest.param(
            resources(consent_block("c1", ORG_GP, "x-ukendt")), None, {},
            {"diagnoses", "appointments", "journal", "goals", "prevention", "measurements",
             "medication"},
            id="unknown-class-blocks-the-new-sections-too",
        ),
        pytest.param(
            resources(consent_block("c1", ORG_HOSPITAL, "measurements", "medication")), None,
            FULL, set(), id="block-of-another-organisation",
        ),
        pytest.param(
            resources(consent_block("c1", ORG_GP)), REASON, FULL, set(),
            id="break-the-glass-overrides-blocks",
        ),
        pytest.param(
            resources(goal_nrs=withheld(GOAL_NRS)), None,
            {"COPD": FULL["COPD"], "LOW_BACK_PAIN": {"meds": ["m-lbp"]},
             "unassigned": {"values": [("o-nrs", None, None)]}},
            set(), id="withheld-goal-neither-places-nor-targets",
        ),
        pytest.param(
            resources(**WITHHELD), None,
            {"COPD": {"course": "cp-copd"}, "LOW_BACK_PAIN": FULL["LOW_BACK_PAIN"]},
            set(), id="withheld-value-and-medicine-seen-by-no-other-organisation",
        ),
    ],
)  # fmt: skip
async def test_consent_over_the_new_sections(
    make_v2_gateway: MakeGateway,
    data: dict[str, Any],
    reason: str | None,
    expected: dict[str, Any],
    sections_left_out: set[str],
) -> None:
    async with make_v2_gateway(resources=data) as gw:
        variables = {"cpr": PATIENT, "reason": reason}
        body = await gw.data(PLAN, gw.clinician(ORG_GP), variables)
        log = await gw.data(SECTIONS, gw.citizen(PATIENT))
    assert "errors" not in body, body["errors"]
    plan = body["data"]["plan"]
    assert view(plan) == expected
    labelled = any("meta" in r for rs in data.values() for r in rs)
    assert plan["restricted"] is (bool(sections_left_out) or labelled)
    (entry,) = log["data"]["accessLog"]
    assert entry["emergency"] is (reason is not None)
    all_classes = {"diagnoses", "appointments", "journal", "goals", "prevention",
                   "measurements", "medication"}  # fmt: skip
    assert set(entry["sections"]) == all_classes - sections_left_out


async def test_the_patient_does_not_see_their_withheld_values_and_medicine(
    make_v2_gateway: MakeGateway,
) -> None:
    data = resources(**WITHHELD)
    async with make_v2_gateway(resources=data) as gw:
        body = await gw.data(PLAN, gw.citizen(PATIENT))
    plan = body["data"]["plan"]
    assert view(plan) == {"COPD": {"course": "cp-copd"}, "LOW_BACK_PAIN": FULL["LOW_BACK_PAIN"]}
    assert plan["restricted"] is True


async def test_a_proxy_sees_the_values_and_medicine_the_patient_sees(
    make_v2_gateway: MakeGateway,
) -> None:
    async with make_v2_gateway() as gw:
        own = await gw.data(PLAN, gw.citizen(PATIENT_BOTH))
        theirs = await gw.data(PLAN, gw.citizen(PROXY_OF_BOTH), {"cpr": PATIENT_BOTH})
    assert "errors" not in own
    assert theirs == own
    assert view(own["data"]["plan"])["COPD"]["values"] == [
        ("obs-birgit-mrc", "≤ 3 point", False),  # measured at the same time: by id
        ("obs-birgit-fev1", None, None),
    ]


async def test_consent_source_down_fails_closed_for_the_new_sections(
    make_v2_gateway: MakeGateway, faulty: FaultyTransport
) -> None:
    faulty.faults["consent"] = 503
    query = "query($cpr: String) { plan(cpr: $cpr) { packages { measurements { sourceId } } } }"
    async with make_v2_gateway(transport=faulty) as gw:
        clinician = await gw.data(query, gw.clinician(ORG_GP), {"cpr": PATIENT_BOTH})
        proxy = await gw.data(query, gw.citizen(PROXY_OF_BOTH), {"cpr": PATIENT_BOTH})
        patient = await gw.data(query, gw.citizen(PATIENT_BOTH))
    for refused in (clinician, proxy):
        assert refused["data"] is None
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["CONSENT_UNAVAILABLE"]
    assert patient["data"]["plan"]["packages"][0]["measurements"]
