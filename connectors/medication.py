"""The ``medication`` source (the shared medication record): ``MedicationStatement``."""

from __future__ import annotations

from core.localtime import local_date
from core.records import MedicationRecord

from .base import Connector
from .fhir import FhirClient
from .fhirbase import condition_ids
from .fhirmodels_v2 import MedicationStatementModel

__all__ = ["ATC_SYSTEM", "SOURCE", "MedicationConnector", "parse_medication_statement"]

SOURCE = "medication"
ATC_SYSTEM = "http://www.whocc.no/atc"


def parse_medication_statement(source: str, resource: dict[str, object]) -> MedicationRecord | None:
    model = MedicationStatementModel.model_validate(resource)
    if model.status == "entered-in-error":
        return None  # never happened, never shown
    concept = model.medicationCodeableConcept
    name = concept.text or next(c.display for c in concept.coding if c.display)
    atc = next((c.code for c in concept.coding if c.system == ATC_SYSTEM and c.code), None)
    period = model.effectivePeriod
    start = period.start if period is not None else None
    end = period.end if period is not None else None
    codes: dict[str, None] = {}
    for reason in model.reasonCode:
        codes.update(dict.fromkeys(reason.diagnosis_codes()))
    return MedicationRecord(
        source=source,
        source_id=model.id,
        patient=model.require_patient(),
        codes=tuple(codes),
        condition_refs=condition_ids(model.reasonReference),
        withheld=model.is_withheld(),
        name=name,
        atc=atc,
        status=model.status,
        start=local_date(start) if start is not None else None,
        end=local_date(end) if end is not None else None,
        dosage=model.dosage[0].text if model.dosage else None,
        prescriber=model.informationSource.display if model.informationSource else None,
    )


class MedicationConnector(Connector):
    def __init__(self, fhir: FhirClient) -> None:
        super().__init__(fhir, {"MedicationStatement": parse_medication_statement})
