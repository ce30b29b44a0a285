"""The course and medication through the schema, one contract §1 (v2) rule per case, and
the CarePlan search: made only when a query selects ``course`` (contract §6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from demo.people import PATIENT_BOTH, PATIENT_COPD, PATIENT_DIABETES_HEART, PROXY_OF_BOTH
from tests.conftest import MakeGateway
from tests.fhir_v2 import PATIENT, Res, care_plan, condition, medication, two_packages

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
COURSE = "{ plan { packages { kind course { sourceId status } } } }"
CAREPLAN = ("careplan", "CarePlan")
JAN, JUN, DEC = (
    "2026-01-10T10:00:00+01:00",
    "2026-06-10T10:00:00+02:00",
    "2026-12-10T10:00:00+01:00",
)


def plans(*care_plans: Res) -> dict[str, list[Res]]:
    return {"diagnoses": [*two_packages(), condition("cond-htn", "I10")],
            "careplan": list(care_plans)}  # fmt: skip


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        pytest.param(
            plans(care_plan("cp-active", "active", JAN), care_plan("cp-done", "completed", DEC)),
            {"COPD": "cp-active"}, id="course-active-beats-newer-completed",
        ),
        pytest.param(
            plans(care_plan("cp-hold", "on-hold", JAN), care_plan("cp-done", "completed", DEC)),
            {"COPD": "cp-hold"}, id="course-on-hold-beats-newer-completed",
        ),
        pytest.param(
            plans(care_plan("cp-old", "active", JAN), care_plan("cp-new", "active", JUN)),
            {"COPD": "cp-new"}, id="course-latest-created-of-two-active",
        ),
        pytest.param(
            plans(care_plan("cp-active", "active", JAN), care_plan("cp-hold", "on-hold", JUN)),
            {"COPD": "cp-hold"}, id="course-latest-created-of-active-and-on-hold",
        ),
        pytest.param(
            plans(care_plan("cp-none", "active", None), care_plan("cp-dated", "active", JAN)),
            {"COPD": "cp-dated"}, id="course-without-created-is-oldest",
        ),
        pytest.param(
            plans(care_plan("cp-2025", "completed", JAN), care_plan("cp-2026", "completed", JUN)),
            {"COPD": "cp-2026"}, id="course-latest-created-completed-when-none-active",
        ),
        pytest.param(plans(care_plan("cp-draft", "draft", DEC)), {}, id="draft-is-no-course"),
        pytest.param(
            plans(care_plan("cp-done", "completed", JAN), care_plan("cp-revoked", "revoked", DEC)),
            {"COPD": "cp-done"}, id="revoked-is-no-course",
        ),
        pytest.param(
            plans(care_plan("cp-error", "entered-in-error", DEC)), {},
            id="entered-in-error-is-no-course",
        ),
        pytest.param(
            plans(care_plan("cp-lbp", "active", JAN, addresses=None, codes=("M54.5",))),
            {"LOW_BACK_PAIN": "cp-lbp"}, id="course-by-category-diagnosis-code",
        ),
        pytest.param(
            plans(care_plan("cp-lbp", "active", JAN, addresses="cond-lbp")),
            {"LOW_BACK_PAIN": "cp-lbp"}, id="course-by-addresses",
        ),
        pytest.param(
            plans(care_plan("cp-htn", "active", JAN, addresses="cond-htn")), {},
            id="care-plan-of-no-package-is-no-course",
        ),
    ],
)  # fmt: skip
async def test_course_rule(
    make_gateway: MakeGateway, resources: dict[str, list[Res]], expected: dict[str, str]
) -> None:
    async with make_gateway(resources=resources) as gw:
        body = await gw.data(COURSE, gw.citizen(PATIENT))
    assert "errors" not in body, body["errors"]
    courses = {p["kind"]: p["course"] for p in body["data"]["plan"]["packages"]}
    assert {k: c["sourceId"] for k, c in courses.items() if c} == expected


MEDICATIONS = """{ plan { packages { kind medications { sourceId } }
  unassigned { medications { sourceId } } } }"""


def medicated(plan: dict[str, Any]) -> dict[str, list[str]]:
    parts = [(p["kind"], p["medications"]) for p in plan["packages"]]
    parts.append(("unassigned", plan["unassigned"]["medications"]))
    return {kind: [m["sourceId"] for m in items] for kind, items in parts if items}


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        pytest.param([medication("m1", codes=("J44.9",))], {"COPD": ["m1"]},
                     id="medication-by-reason-code"),
        pytest.param([medication("m1", reason="cond-lbp")], {"LOW_BACK_PAIN": ["m1"]},
                     id="medication-by-reason-reference"),
        pytest.param([medication("m1", codes=("J44.9", "M54.5"))],
                     {"COPD": ["m1"], "LOW_BACK_PAIN": ["m1"]}, id="medication-in-two-packages"),
        pytest.param([medication("m1"), medication("m2", codes=("I10",))],
                     {"unassigned": ["m1", "m2"]}, id="medication-of-no-package-unassigned"),
        pytest.param([medication("m1", "entered-in-error", codes=("J44.9",))], {},
                     id="medication-entered-in-error-dropped"),
        pytest.param(
            [medication("m-stopped-new", "stopped", "2026-12-01", codes=("J44.9",)),
             medication("m-active-nostart", "active", None, codes=("J44.9",)),
             medication("m-active-old", "active", "2025-01-01", codes=("J44.9",)),
             medication("m-completed-old", "completed", "2024-01-01", codes=("J44.9",)),
             medication("m-active-new", "active", "2026-06-01", codes=("J44.9",))],
            {"COPD": ["m-active-new", "m-active-old", "m-active-nostart", "m-stopped-new",
                      "m-completed-old"]},
            id="medications-active-first-then-newest-start",
        ),
    ],
)  # fmt: skip
async def test_medication_rule(
    make_v2_gateway: MakeGateway, statements: list[Res], expected: dict[str, list[str]]
) -> None:
    resources = {"diagnoses": two_packages(), "medication": statements}
    async with make_v2_gateway(resources=resources) as gw:
        body = await gw.data(MEDICATIONS, gw.citizen(PATIENT))
    assert "errors" not in body, body["errors"]
    assert medicated(body["data"]["plan"]) == expected


async def test_the_demo_course_with_its_coordinator_and_controls(make_gateway: MakeGateway) -> None:
    query = """{ plan { packages { kind course { source sourceId status startedAt planCreatedAt
      coordinator { sor name } lastReviewAt nextReviewDue } } } }"""
    async with make_gateway() as gw:
        body = await gw.data(query, gw.citizen(PATIENT_COPD))
    (copd,) = body["data"]["plan"]["packages"]
    assert copd["course"] == {
        "source": "careplan", "sourceId": "cp-karen-kol", "status": "active",
        "startedAt": "2026-03-20", "planCreatedAt": "2026-03-20T10:30:00+01:00",
        "coordinator": {"sor": "380101000016003", "name": "Lægerne Søndergade, Aarhus"},
        "lastReviewAt": "2026-11-05", "nextReviewDue": "2027-01-18",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("query", "asks_care_plans"),
    [
        pytest.param("{ plan { packages { kind goals { sourceId } } } }", False, id="no-course"),
        pytest.param(COURSE, True, id="course"),
        pytest.param("{ plan { ...P } } fragment P on Plan { packages { course { status } } }",
                     True, id="course-in-a-fragment"),
        pytest.param("{ plan { packages { ... on CarePackage { c: course { status } } } } }",
                     True, id="course-aliased-in-an-inline-fragment"),
    ],
)  # fmt: skip
async def test_the_care_plan_search_is_made_only_when_course_is_selected(
    make_gateway: MakeGateway, query: str, asks_care_plans: bool
) -> None:
    async with make_gateway() as gw:
        body = await gw.data(query, gw.citizen(PATIENT_BOTH))
    assert "errors" not in body, body["errors"]
    searches = gw.upstream.searches()
    assert searches.count(CAREPLAN) == int(asks_care_plans)
    # Only what the query selects (contract §6): the packages' diagnoses, and the goals'
    # searches or the CarePlans; no consent for the patient's own plan.
    goals = [("careplan", "Goal"), ("careplan", "RiskAssessment")]
    expected = [("diagnoses", "Condition"), *([CAREPLAN] if asks_care_plans else goals)]
    assert sorted(searches) == sorted(expected)


async def test_a_proxy_sees_the_course_the_patient_sees(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        own = await gw.data(COURSE, gw.citizen(PATIENT_BOTH))
        query = COURSE.replace("{ plan {", "query($cpr: String) { plan(cpr: $cpr) {", 1)
        theirs = await gw.data(query, gw.citizen(PROXY_OF_BOTH), {"cpr": PATIENT_BOTH})
    assert theirs["data"]["plan"] == own["data"]["plan"]
    assert [p["course"]["sourceId"] for p in own["data"]["plan"]["packages"]] == [
        "cp-birgit-kol",
        "cp-birgit-lrs",
    ]


async def test_the_readme_example_of_course_values_and_medication(
    make_v2_gateway: MakeGateway,
) -> None:
    section = README.split("### The course, values against their targets", 1)[1]
    query = section.split("```graphql\n", 1)[1].split("```", 1)[0]
    shown = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    async with make_v2_gateway() as gw:
        body = await gw.data(query, gw.citizen(PATIENT_DIABETES_HEART))
    packages = body["data"]["plan"]["packages"]
    assert shown["data"]["plan"]["packages"] == [packages[0], "…"]
    assert [p["kind"] for p in packages] == ["TYPE2_DIABETES", "HEART_DISEASE"]
