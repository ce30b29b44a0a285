"""The ``careplan`` source (the care-plan solution): ``Goal``, ``RiskAssessment`` (triage) and,
in contract version 2, ``CarePlan`` (the course).

``CarePlan`` is searched on demand (see :class:`connectors.base.Connector`): a plan read
asks for it only once the reader asks for the course, so reads that do not are unchanged.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from core.codes import SOR_SYSTEM, TRIAGE_SYSTEM
from core.localtime import local_date, months_12_after
from core.records import CourseRecord, GoalRecord, TriageLevel, TriageRecord

from .base import Connector
from .fhir import FhirClient
from .fhirbase import condition_ids
from .fhirmodels import GoalModel, Quantity, Range, RiskAssessmentModel, Target
from .fhirmodels_v2 import CarePlanModel

__all__ = [
    "ACTIVITY_SYSTEM",
    "SOURCE",
    "CareplanConnector",
    "format_quantity",
    "format_range",
    "parse_care_plan",
    "parse_goal",
    "parse_risk_assessment",
    "range_unit",
]

SOURCE = "careplan"
#: The code system of a CarePlan activity's kind; code ``review`` is a control.
ACTIVITY_SYSTEM = "urn:minplan:activity"

_COMPARATORS = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}


def _number(value: float) -> str:
    # repr() is the shortest text that reads back as the same float; Decimal writes it out
    # without an exponent for people: 12345.67 stays, 1e-05 becomes 0.00001, 400.0 is 400.
    return format(Decimal(repr(value)).normalize(), "f")


def format_quantity(quantity: Quantity) -> str | None:
    """A human-readable target: ``{value: 400, comparator: ">=", unit: "m"}`` → ``"≥ 400 m"``."""
    if quantity.value is None:
        return None
    parts = [
        _COMPARATORS.get(quantity.comparator or "", ""),
        _number(quantity.value),
        quantity.unit or "",
    ]
    return " ".join(p for p in parts if p)


def format_range(detail: Range) -> str | None:
    """A range target: ``"{low}–{high} {unit}"`` (an en dash, bounds inclusive).

    A range with one bound reads ``"≥ {low} {unit}"`` or ``"≤ {high} {unit}"``.
    """
    low = detail.low.value if detail.low is not None else None
    high = detail.high.value if detail.high is not None else None
    if low is not None and high is not None:
        text = f"{_number(low)}–{_number(high)}"
    elif low is not None:
        text = f"≥ {_number(low)}"
    elif high is not None:
        text = f"≤ {_number(high)}"
    else:
        return None
    unit = range_unit(detail)
    return f"{text} {unit}" if unit else text


def range_unit(detail: Range) -> str | None:
    """The unit of a range: its low bound's, else its high bound's."""
    return next((q.unit for q in (detail.low, detail.high) if q is not None and q.unit), None)


def _target_fields(target: Target | None) -> dict[str, Any]:
    """The goal's target as text and as what ``onTarget`` compares (contract §1, v2)."""
    if target is None:
        return {"target": None}
    measures = tuple(
        dict.fromkeys(
            (c.system, c.code)
            for c in (target.measure.coding if target.measure is not None else ())
            if c.system and c.code
        )
    )
    fields: dict[str, Any] = {"target": None, "measures": measures}
    if target.detailQuantity is not None:
        quantity = target.detailQuantity
        fields["target"] = format_quantity(quantity)
        fields["target_value"] = quantity.value
        # An unknown comparator is shown as no comparator, and so compares as none.
        known = quantity.comparator in _COMPARATORS
        fields["target_comparator"] = quantity.comparator if known else None
        fields["target_unit"] = quantity.unit
    elif target.detailRange is not None:
        detail = target.detailRange
        fields["target"] = format_range(detail)
        fields["target_low"] = detail.low.value if detail.low is not None else None
        fields["target_high"] = detail.high.value if detail.high is not None else None
        fields["target_unit"] = range_unit(detail)
    elif target.detailString:
        fields["target"] = target.detailString
    return fields


def parse_goal(source: str, resource: dict[str, object]) -> GoalRecord:
    model = GoalModel.model_validate(resource)
    target = model.target[0] if model.target else None
    description = model.description.text or model.description.coding[0].display or ""
    return GoalRecord(
        source=source,
        source_id=model.id,
        patient=model.require_patient(),
        condition_refs=condition_ids(model.addresses),
        withheld=model.is_withheld(),
        description=description,
        due=target.dueDate if target else None,
        status=model.lifecycleStatus,
        **_target_fields(target),
    )


#: Review activity statuses: a control held, and controls still to come.
_REVIEW_DONE = frozenset({"completed"})
_REVIEW_DUE = frozenset({"scheduled", "not-started", "in-progress"})


def parse_care_plan(source: str, resource: dict[str, object]) -> CourseRecord | None:
    """A CarePlan as a course; ``entered-in-error`` is dropped, draft and revoked are kept.

    ``next_review_due``: the earliest start of a control still to come; else 12 months after
    the latest completed one; else 12 months after ``created``. Days are Copenhagen days.
    """
    model = CarePlanModel.model_validate(resource)
    if model.status == "entered-in-error":
        return None  # never happened, never shown
    held: list[date] = []
    due: list[date] = []
    for activity in model.activity:
        detail = activity.detail
        if detail is None or detail.code is None or detail.scheduledPeriod is None:
            continue
        if not any(c.system == ACTIVITY_SYSTEM and c.code == "review" for c in detail.code.coding):
            continue
        start = detail.scheduledPeriod.start
        if start is None:
            continue
        if detail.status in _REVIEW_DONE:
            held.append(local_date(start))
        elif detail.status in _REVIEW_DUE:
            due.append(local_date(start))
    last = max(held, default=None)
    if due:
        next_due: date | None = min(due)
    elif last is not None:
        next_due = months_12_after(last)
    elif model.created is not None:
        next_due = months_12_after(local_date(model.created))
    else:
        next_due = None
    codes: dict[str, None] = {}
    for concept in model.category:
        codes.update(dict.fromkeys(concept.diagnosis_codes()))
    author = model.author
    ident = author.identifier if author is not None else None
    started = model.period.start if model.period is not None else None
    return CourseRecord(
        source=source,
        source_id=model.id,
        patient=model.require_patient(),
        codes=tuple(codes),
        condition_refs=condition_ids(model.addresses),
        withheld=model.is_withheld(),
        status=model.status,
        started_at=local_date(started) if started is not None else None,
        plan_created_at=model.created,
        coordinator_sor=ident.value if ident is not None and ident.system == SOR_SYSTEM else None,
        coordinator_name=author.display if author is not None else None,
        last_review_at=last,
        next_review_due=next_due,
    )


_LEVELS = {"green": TriageLevel.GREEN, "yellow": TriageLevel.YELLOW, "red": TriageLevel.RED}


def parse_risk_assessment(source: str, resource: dict[str, object]) -> TriageRecord:
    model = RiskAssessmentModel.model_validate(resource)
    risk = model.prediction[0].qualitativeRisk if model.prediction else None
    level = None
    if risk is not None:
        level = next(
            (_LEVELS.get(c.code or "") for c in risk.coding if c.system == TRIAGE_SYSTEM), None
        )
    if level is None:
        raise ValueError("RiskAssessment has no green/yellow/red triage coding")
    return TriageRecord(
        source=source,
        source_id=model.id,
        patient=model.require_patient(),
        codes=model.code.diagnosis_codes() if model.code else (),
        withheld=model.is_withheld(),
        level=level,
        assessed_at=model.occurrenceDateTime,
        assessed_by=model.performer.display if model.performer else None,
    )


class CareplanConnector(Connector):
    def __init__(self, fhir: FhirClient) -> None:
        super().__init__(
            fhir,
            {
                "Goal": parse_goal,
                "RiskAssessment": parse_risk_assessment,
                "CarePlan": parse_care_plan,
            },
            on_demand=("CarePlan",),
        )
