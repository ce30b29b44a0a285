"""The ``careplan`` source: Goal → GoalRecord, RiskAssessment → TriageRecord (green/yellow/red)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from connectors.careplan import SOURCE, format_quantity, parse_goal, parse_risk_assessment
from connectors.fhirmodels import Quantity
from core.records import GoalRecord, TriageLevel, TriageRecord
from tests.connectors.conftest import (
    CPR_A,
    CPR_B,
    Factory,
    Fetch,
    coding,
    icd10,
    restricted_label,
    sks,
)

CET = timezone(timedelta(hours=1))


def test_goal_maps_every_field(make_goal: Factory) -> None:
    resource = make_goal("goal-gang", CPR_A, addresses=["cond-kol", "cond-lrs"])
    assert parse_goal(SOURCE, resource) == GoalRecord(
        source="careplan",
        source_id="goal-gang",
        patient=CPR_A,
        condition_refs=("cond-kol", "cond-lrs"),
        withheld=False,
        description="Gå 400 meter uden pause",
        target="≥ 400 m",
        due=date(2027, 6, 30),
        status="active",
        target_value=400.0,
        target_comparator=">=",
        target_unit="m",
    )


@pytest.mark.parametrize(
    ("quantity", "text"),
    [
        pytest.param({"value": 400, "comparator": ">=", "unit": "m"}, "≥ 400 m", id="at-least"),
        pytest.param(
            {"value": 53, "comparator": "<=", "unit": "mmol/mol"}, "≤ 53 mmol/mol", id="at-most"
        ),
        pytest.param({"value": 7.5, "comparator": "<", "unit": "%"}, "< 7.5 %", id="decimal"),
        pytest.param({"value": 80.0, "unit": "kg"}, "80 kg", id="no-comparator-whole-float"),
        pytest.param({"value": 10000}, "10000", id="no-unit"),
    ],
)
def test_quantity_target_reads_as_text(
    make_goal: Factory, quantity: dict[str, object], text: str
) -> None:
    goal = parse_goal(SOURCE, make_goal(target={"detailQuantity": quantity}))
    assert goal.target == text


def test_quantity_without_value_has_no_text() -> None:
    assert format_quantity(Quantity(unit="m")) is None


def test_string_target_is_shown_as_given(make_goal: Factory) -> None:
    target = {"detailString": "Cykle 5 km to gange om ugen", "dueDate": "2027-09-01"}
    goal = parse_goal(SOURCE, make_goal(target=target))
    assert (goal.target, goal.due) == ("Cykle 5 km to gange om ugen", date(2027, 9, 1))


def test_goal_without_target_has_no_target_or_due_date(make_goal: Factory) -> None:
    resource = make_goal()
    del resource["target"]
    goal = parse_goal(SOURCE, resource)
    assert (goal.target, goal.due) == (None, None)


@pytest.mark.parametrize(
    "due",
    [pytest.param("2027", id="year-only"), pytest.param("2027-06", id="year-and-month")],
)
def test_partial_due_date_is_unknown_not_unreadable(make_goal: Factory, due: str) -> None:
    goal = parse_goal(SOURCE, make_goal(target={"detailString": "Røgfri", "dueDate": due}))
    assert (goal.target, goal.due) == ("Røgfri", None)


def test_description_may_come_from_its_coding(make_goal: Factory) -> None:
    description = {"coding": [coding("urn:goals", "walk", "Gå dagligt")]}
    assert parse_goal(SOURCE, make_goal(description=description)).description == "Gå dagligt"


@pytest.mark.parametrize(
    "description",
    [
        pytest.param(None, id="missing"),
        pytest.param({"text": ""}, id="empty-text"),
        pytest.param({"coding": [coding("urn:goals", "walk")]}, id="coding-without-display"),
    ],
)
def test_goal_without_description_is_unreadable(
    make_goal: Factory, description: dict[str, object] | None
) -> None:
    resource = make_goal()
    if description is None:
        del resource["description"]
    else:
        resource["description"] = description
    with pytest.raises(ValidationError, match="description"):
        parse_goal(SOURCE, resource)


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        pytest.param("green", TriageLevel.GREEN, id="green-maps-to-GREEN"),
        pytest.param("yellow", TriageLevel.YELLOW, id="yellow-maps-to-YELLOW"),
        pytest.param("red", TriageLevel.RED, id="red-maps-to-RED"),
    ],
)
def test_triage_level(make_risk: Factory, level: str, expected: TriageLevel) -> None:
    assert parse_risk_assessment(SOURCE, make_risk(level=level)).level is expected


def test_risk_assessment_maps_every_field(make_risk: Factory) -> None:
    resource = make_risk("risk-kol", CPR_A, level="yellow", codes=[sks("DJ449")])
    assert parse_risk_assessment(SOURCE, resource) == TriageRecord(
        source="careplan",
        source_id="risk-kol",
        patient=CPR_A,
        codes=("J44.9",),
        withheld=False,
        level=TriageLevel.YELLOW,
        assessed_at=datetime(2027, 1, 15, 11, 0, tzinfo=CET),
        assessed_by="Lægerne Søndergade, Aarhus",
    )


@pytest.mark.parametrize(
    "prediction",
    [
        pytest.param(
            [{"qualitativeRisk": {"coding": [coding("urn:minplan:triage", "purple")]}}],
            id="unknown-level",
        ),
        pytest.param(
            [{"qualitativeRisk": {"coding": [coding("urn:minplan:triage", "RED")]}}],
            id="upper-case",
        ),
        pytest.param(
            [{"qualitativeRisk": {"coding": [coding("urn:other", "red")]}}], id="other-system"
        ),
        pytest.param([{"qualitativeRisk": {"text": "rød"}}], id="text-only"),
        pytest.param([{}], id="no-qualitative-risk"),
        pytest.param([], id="no-prediction"),
    ],
)
def test_risk_assessment_without_a_known_level_is_unreadable(
    make_risk: Factory, prediction: list[object]
) -> None:
    with pytest.raises(ValueError, match="green/yellow/red"):
        parse_risk_assessment(SOURCE, make_risk(prediction=prediction))


def test_risk_assessment_without_package_code_has_no_codes(make_risk: Factory) -> None:
    resource = make_risk(meta={"security": [restricted_label()]})
    del resource["code"]
    triage = parse_risk_assessment(SOURCE, resource)
    assert (triage.codes, triage.withheld) == ((), True)


async def test_fetch_goals_skips_the_unreadable(fetch: Fetch, make_goal: Factory) -> None:
    no_description = make_goal("goal-nodesc")
    del no_description["description"]
    no_status = make_goal("goal-nostatus")
    del no_status["lifecycleStatus"]
    resources = [
        make_goal("goal-1", CPR_A),
        no_description,
        no_status,
        make_goal("goal-2", CPR_B, addresses=[]),
        make_goal("goal-baddue", CPR_B, target={"dueDate": "snart"}),
    ]
    fetched = await fetch("careplan", "Goal", resources, cprs=[CPR_A, CPR_B])
    assert fetched.skipped == 3
    goals = {cpr: [r.source_id for r in rs] for cpr, rs in fetched.by_patient.items()}
    assert goals == {CPR_A: ["goal-1"], CPR_B: ["goal-2"]}


async def test_fetch_risk_assessments_skips_the_unreadable(
    fetch: Fetch, make_risk: Factory, make_goal: Factory
) -> None:
    no_time = make_risk("risk-notime")
    del no_time["occurrenceDateTime"]
    resources = [
        make_risk("risk-1", CPR_A, level="red"),
        make_risk("risk-purple", CPR_A, level="purple"),
        no_time,
        make_goal("goal-in-the-wrong-search"),
        make_risk("risk-2", CPR_B, level="yellow", codes=[icd10("M54.5")]),
    ]
    fetched = await fetch("careplan", "RiskAssessment", resources, cprs=[CPR_A, CPR_B])
    assert fetched.skipped == 3
    levels = {
        cpr: [(r.source_id, r.level) for r in rs if isinstance(r, TriageRecord)]
        for cpr, rs in fetched.by_patient.items()
    }
    assert levels == {CPR_A: [("risk-1", TriageLevel.RED)], CPR_B: [("risk-2", TriageLevel.YELLOW)]}
