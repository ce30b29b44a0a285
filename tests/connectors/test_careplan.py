"""The ``careplan`` source: Goal → GoalRecord, RiskAssessment → TriageRecord (green/yellow/red),
and (contract v2) CarePlan → CourseRecord."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from connectors.careplan import (
    SOURCE,
    CareplanConnector,
    format_quantity,
    parse_care_plan,
    parse_goal,
    parse_risk_assessment,
)
from connectors.fhirmodels import Quantity
from core.records import CourseRecord, GoalRecord, TriageLevel, TriageRecord
from tests.connectors.conftest import (
    CPR_A,
    CPR_B,
    Factory,
    Fetch,
    MakeClient,
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


# --- Contract v2: structured goal targets ----------------------------------------------

LOINC = "http://loinc.org"
NPU = "urn:oid:1.2.208.176.2.1"


def qty(
    value: float, unit: str | None = "mmol/mol", comparator: str | None = None
) -> dict[str, object]:
    found: dict[str, object] = {"value": value}
    if unit:
        found["unit"] = unit
    if comparator:
        found["comparator"] = comparator
    return found


@pytest.mark.parametrize(
    ("target", "text"),
    [
        pytest.param({"detailRange": {"low": qty(1.5, "L"), "high": qty(2.5, "L")}},
                     "1.5–2.5 L", id="range-with-en-dash"),
        pytest.param({"detailRange": {"low": qty(48), "high": qty(53)}},
                     "48–53 mmol/mol", id="range-integral-bounds-without-point-zero"),
        pytest.param({"detailRange": {"low": qty(400.0, "m")}}, "≥ 400 m",
                     id="range-one-bound-low"),
        pytest.param({"detailRange": {"high": qty(2.6, "mmol/L")}}, "≤ 2.6 mmol/L",
                     id="range-one-bound-high"),
        pytest.param({"detailRange": {"low": qty(0, None), "high": qty(3, None)}}, "0–3",
                     id="range-without-unit"),
        pytest.param({"detailRange": {"low": {"unit": "L"}, "high": qty(3, None)}}, "≤ 3 L",
                     id="range-unit-from-a-bound-without-value"),
        pytest.param({"detailRange": {}}, None, id="range-without-bounds-has-no-text"),
        pytest.param({"detailQuantity": qty(53, comparator="<")}, "< 53 mmol/mol",
                     id="comparator-lt-shown-as-<"),
        pytest.param({"detailQuantity": qty(53, comparator="<=")}, "≤ 53 mmol/mol",
                     id="comparator-le-shown-as-≤"),
        pytest.param({"detailQuantity": qty(400, "m", ">=")}, "≥ 400 m",
                     id="comparator-ge-shown-as-≥"),
        pytest.param({"detailQuantity": qty(60, "%", ">")}, "> 60 %",
                     id="comparator-gt-shown-as->"),
        pytest.param({"detailQuantity": qty(7.25, "kPa")}, "7.25 kPa",
                     id="number-as-the-source-gives-it"),
        pytest.param({"detailQuantity": qty(140.0, "mmHg")}, "140 mmHg",
                     id="integral-value-without-point-zero"),
    ],
)  # fmt: skip
def test_goal_target_text(make_goal: Factory, target: dict[str, object], text: str | None) -> None:
    assert parse_goal(SOURCE, make_goal(target=target)).target == text


def test_goal_reads_its_measure_and_range(make_goal: Factory) -> None:
    target = {
        "measure": {"coding": [coding(LOINC, "20150-9", "FEV1"), coding(NPU, "NPU19774")]},
        "detailRange": {"low": qty(1.5, "L"), "high": qty(2.5, "L")},
        "dueDate": "2027-06-30",
    }
    goal = parse_goal(SOURCE, make_goal(target=target))
    assert goal.measures == ((LOINC, "20150-9"), (NPU, "NPU19774"))
    assert goal.measures_code(LOINC, "20150-9") and not goal.measures_code(NPU, "20150-9")
    assert (goal.target_low, goal.target_high, goal.target_unit) == (1.5, 2.5, "L")
    assert (goal.target_value, goal.target_comparator) == (None, None)


def test_goal_reads_its_comparator(make_goal: Factory) -> None:
    target = {
        "measure": {"coding": [coding(NPU, "NPU03835")]},
        "detailQuantity": qty(53, None, "<"),
    }
    goal = parse_goal(SOURCE, make_goal(target=target))
    assert goal.measures == ((NPU, "NPU03835"),)
    assert (goal.target_value, goal.target_comparator, goal.target_unit) == (53.0, "<", None)


@pytest.mark.parametrize(
    ("target", "value", "on_target"),
    [
        pytest.param({"detailRange": {"low": qty(1.5), "high": qty(2.5)}}, 1.5, True,
                     id="range-bounds-inclusive-low"),
        pytest.param({"detailRange": {"low": qty(1.5), "high": qty(2.5)}}, 2.5, True,
                     id="range-bounds-inclusive-high"),
        pytest.param({"detailRange": {"low": qty(1.5), "high": qty(2.5)}}, 2.51, False,
                     id="range-above-is-off"),
        pytest.param({"detailRange": {"low": qty(1.5)}}, 1.4, False, id="range-low-only-below"),
        pytest.param({"detailRange": {"high": qty(3)}}, 3, True, id="range-high-only-on-bound"),
        pytest.param({"detailQuantity": qty(53, comparator="<")}, 53, False,
                     id="comparator-lt-excludes-the-value"),
        pytest.param({"detailQuantity": qty(53, comparator="<=")}, 53, True,
                     id="comparator-le-includes-the-value"),
        pytest.param({"detailQuantity": qty(400, comparator=">=")}, 399, False,
                     id="comparator-ge-below"),
        pytest.param({"detailQuantity": qty(60, comparator=">")}, 61, True, id="comparator-gt"),
        pytest.param({"detailQuantity": qty(60)}, 60, None,
                     id="quantity-without-comparator-gives-null"),
        pytest.param({"detailQuantity": qty(60, comparator="~")}, 60, None,
                     id="unknown-comparator-gives-null"),
        pytest.param({"detailString": "HbA1c under 53"}, 50, None, id="string-gives-null"),
        pytest.param({"detailRange": {"low": qty(1.5)}}, None, None, id="no-value-gives-null"),
    ],
)  # fmt: skip
def test_goal_on_target(
    make_goal: Factory, target: dict[str, object], value: float | None, on_target: bool | None
) -> None:
    assert parse_goal(SOURCE, make_goal(target=target)).on_target(value) is on_target


def test_unknown_comparator_is_shown_without_one(make_goal: Factory) -> None:
    goal = parse_goal(SOURCE, make_goal(target={"detailQuantity": qty(60, "%", "ad")}))
    assert (goal.target, goal.target_comparator) == ("60 %", None)


# --- Contract v2: CarePlan, the course -------------------------------------------------

ACTIVITY = "urn:minplan:activity"
GP_SOR = "380101000016003"


def review(status: str, start: str | None, code: str = "review") -> dict[str, object]:
    detail: dict[str, object] = {"code": {"coding": [coding(ACTIVITY, code)]}, "status": status}
    if start is not None:
        detail["scheduledPeriod"] = {"start": start}
    return {"detail": detail}


def care_plan(
    rid: str = "cp-kol",
    cpr: str = CPR_A,
    *,
    status: str = "active",
    activity: list[dict[str, object]] | None = None,
    **fields: object,
) -> dict[str, object]:
    body: dict[str, object] = {
        "resourceType": "CarePlan",
        "id": rid,
        "subject": {"identifier": {"system": "urn:oid:1.2.208.176.1.2", "value": cpr}},
        "status": status,
        "created": "2026-03-10T10:00:00+01:00",
        "period": {"start": "2026-03-10"},
        "author": {
            "identifier": {"system": "urn:oid:1.2.208.176.1.1", "value": GP_SOR},
            "display": "Lægerne Søndergade, Aarhus",
        },
        "addresses": [{"reference": "Condition/cond-kol"}],
        "category": [{"coding": [icd10("J44.9")]}],
        "activity": activity
        if activity is not None
        else [
            review("completed", "2026-03-10T09:00:00+01:00"),
            review("scheduled", "2027-03-08T09:00:00+01:00"),
        ],
    }
    return body | fields


def test_care_plan_maps_every_field() -> None:
    assert parse_care_plan(SOURCE, care_plan()) == CourseRecord(
        source="careplan",
        source_id="cp-kol",
        patient=CPR_A,
        codes=("J44.9",),
        condition_refs=("cond-kol",),
        withheld=False,
        status="active",
        started_at=date(2026, 3, 10),
        plan_created_at=datetime(2026, 3, 10, 10, 0, tzinfo=CET),
        coordinator_sor=GP_SOR,
        coordinator_name="Lægerne Søndergade, Aarhus",
        last_review_at=date(2026, 3, 10),
        next_review_due=date(2027, 3, 8),
    )


@pytest.mark.parametrize(
    ("status", "kept", "may_be_course"),
    [
        pytest.param("active", True, True, id="active-is-a-course"),
        pytest.param("on-hold", True, True, id="on-hold-is-a-course"),
        pytest.param("completed", True, True, id="completed-may-be-a-course"),
        pytest.param("draft", True, False, id="draft-kept-but-no-course"),
        pytest.param("revoked", True, False, id="revoked-kept-but-no-course"),
        pytest.param("unknown", True, False, id="unknown-kept-but-no-course"),
        pytest.param("entered-in-error", False, False, id="entered-in-error-dropped"),
    ],
)
def test_care_plan_status(status: str, kept: bool, may_be_course: bool) -> None:
    course = parse_care_plan(SOURCE, care_plan(status=status))
    assert (course is not None) is kept
    if course is not None:
        assert (course.status, course.may_be_course) == (status, may_be_course)


@pytest.mark.parametrize(
    ("activity", "created", "last", "due"),
    [
        pytest.param(
            [review("completed", "2026-03-10"), review("completed", "2026-09-01"),
             review("scheduled", "2027-09-01"), review("not-started", "2027-04-01")],
            "2026-01-05", date(2026, 9, 1), date(2027, 4, 1),
            id="last-is-latest-completed-next-is-earliest-to-come"),
        pytest.param(
            [review("completed", "2026-09-01"), review("in-progress", "2026-12-01")],
            "2026-01-05", date(2026, 9, 1), date(2026, 12, 1),
            id="in-progress-review-is-due-even-in-the-past"),
        pytest.param(
            [review("completed", "2026-05-20"), review("cancelled", "2026-11-20"),
             review("on-hold", "2026-12-20"), review("stopped", "2026-12-21")],
            "2026-01-05", date(2026, 5, 20), date(2027, 5, 20),
            id="no-review-to-come-12-months-after-last-completed"),
        pytest.param([], "2026-02-14T10:00:00+01:00", None, date(2027, 2, 14),
                     id="no-review-12-months-after-created"),
        pytest.param([review("completed", "2028-02-29T10:00:00+01:00")], "2026-01-05",
                     date(2028, 2, 29), date(2029, 2, 28),
                     id="leap-day-review-plus-12-months-is-feb-28"),
        pytest.param([], "2028-02-29T10:00:00+01:00", None, date(2029, 2, 28),
                     id="leap-day-created-plus-12-months-is-feb-28"),
        pytest.param([review("completed", "2026-06-30T22:30:00Z")], "2026-01-05",
                     date(2026, 7, 1), date(2027, 7, 1),
                     id="review-day-taken-in-copenhagen-summer-time"),
        pytest.param([], "2026-12-31T23:30:00Z", None, date(2028, 1, 1),
                     id="created-day-taken-in-copenhagen-winter-time"),
        pytest.param([review("scheduled", "2027-03-01", code="visit")], "2026-01-05", None,
                     date(2027, 1, 5), id="other-activities-are-no-reviews"),
        pytest.param([review("completed", None), review("scheduled", "2027")], "2026-01-05",
                     None, date(2027, 1, 5), id="review-without-a-day-is-ignored"),
        pytest.param([{"detail": {"status": "scheduled"}}, {}], None, None, None,
                     id="no-review-no-created-no-due-date"),
    ],
)  # fmt: skip
def test_review_dates(
    activity: list[dict[str, object]], created: str | None, last: date | None, due: date | None
) -> None:
    resource = care_plan(activity=activity, created=created)
    if created is None:
        del resource["created"]
    course = parse_care_plan(SOURCE, resource)
    assert course is not None
    assert (course.last_review_at, course.next_review_due) == (last, due)


def test_review_code_needs_the_activity_system() -> None:
    detail = {
        "code": {"coding": [coding("urn:other", "review")]},
        "status": "completed",
        "scheduledPeriod": {"start": "2026-06-01"},
    }
    activity: list[dict[str, object]] = [{"detail": detail}]
    course = parse_care_plan(SOURCE, care_plan(activity=activity))
    assert course is not None and course.last_review_at is None


@pytest.mark.parametrize(
    ("fields", "codes", "refs"),
    [
        pytest.param({"category": [{"coding": [sks("DE119")]}], "addresses": []}, ("E11.9",), (),
                     id="package-by-category-sks-code"),
        pytest.param({"category": [], "addresses": [{"reference": "Condition/c1"}]}, (), ("c1",),
                     id="package-by-addresses"),
        pytest.param({"category": [{"text": "Forløbsplan"}], "addresses": []}, (), (),
                     id="no-package-unassigned"),
    ],
)  # fmt: skip
def test_care_plan_package(
    fields: dict[str, object], codes: tuple[str, ...], refs: tuple[str, ...]
) -> None:
    course = parse_care_plan(SOURCE, care_plan() | fields)
    assert course is not None and (course.codes, course.condition_refs) == (codes, refs)


def test_coordinator_sor_needs_the_sor_system_and_the_rest_may_be_missing() -> None:
    resource = care_plan(author={"identifier": {"system": "urn:x", "value": "1"}, "display": "X"})
    del resource["period"]
    course = parse_care_plan(SOURCE, resource)
    assert course is not None
    assert (course.coordinator_sor, course.coordinator_name, course.started_at) == (None, "X", None)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        pytest.param({"status": "bogus"}, "status", id="unknown-status-unreadable"),
        pytest.param({"status": None}, "status", id="no-status-unreadable"),
        pytest.param({"created": "i går"}, "created", id="bad-created-unreadable"),
        pytest.param({"subject": None}, "patient", id="no-patient-unreadable"),
    ],
)
def test_care_plan_unreadable(change: dict[str, object], match: str) -> None:
    resource = care_plan()
    for key, value in change.items():
        if value is None:
            del resource[key]
        else:
            resource[key] = value
    with pytest.raises(ValueError, match=match):
        parse_care_plan(SOURCE, resource)


async def test_fetch_care_plans_drops_entered_in_error_and_skips_the_unreadable(
    fetch: Fetch,
) -> None:
    resources = [
        care_plan("cp-1", CPR_A),
        care_plan("cp-draft", CPR_A, status="draft"),
        care_plan("cp-error", CPR_A, status="entered-in-error"),
        care_plan("cp-bogus", CPR_B, status="bogus"),
        care_plan("cp-2", CPR_B, status="completed"),
    ]
    fetched = await fetch("careplan", "CarePlan", resources, cprs=[CPR_A, CPR_B])
    assert fetched.skipped == 1
    found = {
        cpr: [(r.source_id, r.may_be_course) for r in rs if isinstance(r, CourseRecord)]
        for cpr, rs in fetched.by_patient.items()
    }
    assert found == {CPR_A: [("cp-1", True), ("cp-draft", False)], CPR_B: [("cp-2", True)]}


def test_care_plan_is_searched_on_demand_only(make_client: MakeClient) -> None:
    connector = CareplanConnector(make_client("careplan"))
    assert connector.resource_types == ("Goal", "RiskAssessment", "CarePlan")
    assert connector.plan_types == ("Goal", "RiskAssessment")
