"""The ``careplan`` source (the care-plan solution): ``Goal`` and ``RiskAssessment`` (triage)."""

from __future__ import annotations

from decimal import Decimal

from core.codes import TRIAGE_SYSTEM
from core.records import GoalRecord, TriageLevel, TriageRecord

from .base import Connector
from .fhir import FhirClient
from .fhirmodels import GoalModel, Quantity, RiskAssessmentModel, condition_ids

__all__ = ["SOURCE", "CareplanConnector", "format_quantity", "parse_goal", "parse_risk_assessment"]

SOURCE = "careplan"

_COMPARATORS = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}


def format_quantity(quantity: Quantity) -> str | None:
    """A human-readable target: ``{value: 400, comparator: ">=", unit: "m"}`` → ``"≥ 400 m"``."""
    if quantity.value is None:
        return None
    value = quantity.value
    # repr() is the shortest text that reads back as the same float; Decimal writes it out
    # without an exponent for people: 12345.67 stays, 1e-05 becomes 0.00001.
    number = format(Decimal(repr(value)).normalize(), "f")
    parts = [_COMPARATORS.get(quantity.comparator or "", ""), number, quantity.unit or ""]
    return " ".join(p for p in parts if p)


def parse_goal(source: str, resource: dict[str, object]) -> GoalRecord:
    model = GoalModel.model_validate(resource)
    target = model.target[0] if model.target else None
    text: str | None = None
    if target is not None:
        if target.detailQuantity is not None:
            text = format_quantity(target.detailQuantity)
        elif target.detailString:
            text = target.detailString
    description = model.description.text or model.description.coding[0].display or ""
    return GoalRecord(
        source=source,
        source_id=model.id,
        patient=model.require_patient(),
        condition_refs=condition_ids(model.addresses),
        withheld=model.is_withheld(),
        description=description,
        target=text,
        due=target.dueDate if target else None,
        status=model.lifecycleStatus,
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
        super().__init__(fhir, {"Goal": parse_goal, "RiskAssessment": parse_risk_assessment})
