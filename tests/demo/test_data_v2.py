"""The demo's contract-v2 data shows every new part, read through the real connectors."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.careplan import parse_care_plan, parse_goal
from connectors.medication import parse_medication_statement
from connectors.observations import parse_observation
from core.records import (
    CourseRecord,
    GoalRecord,
    MeasurementOrigin,
    MeasurementRecord,
    MedicationRecord,
    Record,
)
from demo import people as p
from demo.data import BASE_DAY, build_resources

Res = dict[str, Any]
LOINC, NPU = "http://loinc.org", "urn:oid:1.2.208.176.2.1"
BROKEN = {"obs-sofie-notime", "med-sofie-bogus", "cp-sofie-bogus"}
LEFT_OUT = {"obs-sofie-preliminary", "med-sofie-error"}  # uncounted status, entered in error


def _read(parse: Callable[[str, Res], Record | None], resources: list[Res]) -> list[Any]:
    found = []
    for resource in resources:
        if resource["id"] in BROKEN:
            with pytest.raises(ValidationError):
                parse("demo", resource)
            continue
        record = parse("demo", resource)
        assert (record is None) is (resource["id"] in LEFT_OUT), resource["id"]
        if record is not None:
            found.append(record)
    return found


@pytest.fixture(scope="module")
def data() -> dict[str, list[Res]]:
    return build_resources()


@pytest.fixture(scope="module")
def courses(data: dict[str, list[Res]]) -> list[CourseRecord]:
    plans = [r for r in data["careplan"] if r["resourceType"] == "CarePlan"]
    return _read(parse_care_plan, plans)


@pytest.fixture(scope="module")
def goals(data: dict[str, list[Res]]) -> list[GoalRecord]:
    found = [r for r in data["careplan"] if r["resourceType"] == "Goal"]
    return _read(parse_goal, [r for r in found if r["id"] != "goal-sofie-nodesc"])


@pytest.fixture(scope="module")
def values(data: dict[str, list[Res]]) -> list[MeasurementRecord]:
    return _read(parse_observation, data["observations"])


@pytest.fixture(scope="module")
def medicines(data: dict[str, list[Res]]) -> list[MedicationRecord]:
    return _read(parse_medication_statement, data["medication"])


def test_courses_have_the_gp_as_coordinator_and_completed_and_scheduled_controls(
    courses: list[CourseRecord],
) -> None:
    active = [c for c in courses if c.status == "active"]
    assert {c.patient for c in active} >= {
        p.PATIENT_COPD, p.PATIENT_LBP, p.PATIENT_BOTH, p.PATIENT_BLOCKS,
        p.PATIENT_DIABETES_HEART, p.PATIENT_MANY,
    }  # fmt: skip
    assert all(c.coordinator_sor in p.ORGS for c in courses)
    assert all(c.coordinator_name == p.ORGS[c.coordinator_sor or ""] for c in courses)
    assert sum(c.coordinator_sor == p.ORG_GP for c in courses) > len(courses) / 2
    assert {c.status for c in courses} == {
        "active", "on-hold", "completed", "draft", "revoked"
    }  # fmt: skip
    karen = next(c for c in courses if c.source_id == "cp-karen-kol")
    assert karen.last_review_at is not None and karen.last_review_at < BASE_DAY
    assert karen.next_review_due is not None and karen.next_review_due > BASE_DAY


def test_exactly_one_course_is_overdue(courses: list[CourseRecord]) -> None:
    overdue = [
        c.source_id
        for c in courses
        if c.status in ("active", "on-hold")
        and c.next_review_due is not None
        and c.next_review_due < BASE_DAY
    ]
    assert overdue == ["cp-birgit-kol"]


def test_values_come_from_the_lab_the_clinic_and_home(values: list[MeasurementRecord]) -> None:
    assert {v.origin for v in values} == set(MeasurementOrigin)
    codes = {(v.system, v.code) for v in values}
    assert {
        (LOINC, "20150-9"), (LOINC, "98070-6"), (LOINC, "72514-3"), (NPU, "NPU03835"),
        (LOINC, "8480-6"), (LOINC, "13457-7"), (LOINC, "19926-5"),
    } <= codes  # fmt: skip
    hba1c = [v for v in values if v.code == "NPU03835"]
    assert {v.origin for v in hba1c} == {MeasurementOrigin.LAB}


def _latest_against_goal(
    goals: list[GoalRecord], values: list[MeasurementRecord]
) -> dict[str, bool | None]:
    latest: dict[tuple[str, str, str], MeasurementRecord] = {}
    for value in sorted(values, key=lambda v: v.at):
        latest[(value.patient, value.system, value.code)] = value
    found = {}
    for goal in goals:
        for system, code in goal.measures:
            value = latest.get((goal.patient, system, code))
            if value is not None:
                found[goal.source_id] = goal.on_target(value.value)
    return found


def test_goals_target_values_by_range_and_by_comparator_some_met_some_not(
    goals: list[GoalRecord], values: list[MeasurementRecord]
) -> None:
    measured = [g for g in goals if g.measures]
    assert any(g.target_low is not None and g.target_high is not None for g in measured)
    assert any((g.target_low is None) != (g.target_high is None) for g in measured)
    assert {g.target_comparator for g in measured} >= {"<", "<=", ">="}
    assert _latest_against_goal(goals, values) == {
        "goal-jens-pain": False,
        "goal-birgit-mrc": False,
        "goal-birgit-pain": True,
        "goal-henrik-hba1c-value": False,
        "goal-henrik-sys": True,
        "goal-henrik-ldl": True,
        "goal-peter-fev1": True,
    }
    texts = {g.source_id: g.target for g in measured}
    assert texts["goal-henrik-sys"] == "110–130 mmHg"
    assert texts["goal-henrik-ldl"] == "≤ 1.8 mmol/L"
    assert texts["goal-henrik-hba1c-value"] == "< 53 mmol/mol"


def test_the_goals_the_examples_show_are_unchanged(goals: list[GoalRecord]) -> None:
    by_patient: dict[str, set[str]] = defaultdict(set)
    for goal in goals:
        by_patient[goal.patient].add(goal.source_id)
    assert by_patient[p.PATIENT_COPD] == {
        "goal-karen-walk",
        "goal-karen-smoke",
        "goal-karen-weight",
    }
    assert by_patient[p.PATIENT_BLOCKS] == {"goal-lis-walk"}
    assert by_patient[p.PATIENT_BROKEN] == {"goal-sofie-work"}
    assert by_patient[p.PATIENT_NONE] == {"goal-ole-bp"}


def test_medication_active_and_stopped_with_atc_dosage_and_prescriber(
    medicines: list[MedicationRecord],
) -> None:
    assert {"active", "stopped", "completed"} <= {m.status for m in medicines}
    assert all(m.atc and m.dosage and m.prescriber in p.ORGS.values() for m in medicines)
    atc = {m.atc for m in medicines}
    assert {"R03AC02", "R03BB04", "R03AK10", "N02BE01", "A10BA02", "C10AA01", "B01AC06"} <= atc
    stopped = [m for m in medicines if m.status == "stopped"]
    assert all(m.end is not None and m.start is not None and m.end > m.start for m in stopped)


def test_every_package_person_has_a_course_values_and_medication(
    courses: list[CourseRecord],
    values: list[MeasurementRecord],
    medicines: list[MedicationRecord],
) -> None:
    people = {
        p.PATIENT_COPD, p.PATIENT_LBP, p.PATIENT_BOTH, p.PATIENT_BLOCKS,
        p.PATIENT_DIABETES_HEART, p.PATIENT_BROKEN, p.PATIENT_MANY,
    }  # fmt: skip
    for records in (courses, values, medicines):
        assert people <= {r.patient for r in records}
    assert p.PROXY_OF_BOTH not in {r.patient for r in (*courses, *values, *medicines)}
