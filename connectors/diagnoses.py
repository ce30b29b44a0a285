"""The ``diagnoses`` source (GP diagnosis card, hospital diagnoses): ``Condition``."""

from __future__ import annotations

from datetime import datetime

from core.records import DiagnosisRecord

from .base import Connector
from .fhir import FhirClient
from .fhirmodels import ConditionModel

__all__ = ["SOURCE", "DiagnosesConnector", "parse_condition"]

SOURCE = "diagnoses"


def parse_condition(source: str, resource: dict[str, object]) -> DiagnosisRecord:
    model = ConditionModel.model_validate(resource)
    codes = model.code.diagnosis_codes()
    if not codes:
        raise ValueError("Condition.code has no ICD-10 or SKS coding")
    onset = model.onsetDateTime
    return DiagnosisRecord(
        source=source,
        source_id=model.id,
        patient=model.require_patient(),
        codes=codes,
        code=codes[0],
        display=model.code.text or _first_display(model),
        onset=onset.date() if isinstance(onset, datetime) else onset,
        recorded_by=model.recorder.display if model.recorder else None,
        active=model.is_active(),
        withheld=model.is_withheld(),
    )


def _first_display(model: ConditionModel) -> str | None:
    return next((c.display for c in model.code.coding if c.display), None)


class DiagnosesConnector(Connector):
    def __init__(self, fhir: FhirClient) -> None:
        super().__init__(fhir, {"Condition": parse_condition})
