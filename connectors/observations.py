"""The ``observations`` source: ``Observation`` (lab results, values measured in the clinic
and at home).

Only ``final``, ``amended`` and ``corrected`` Observations count; the other FHIR statuses
(``preliminary``, ``cancelled``, ...) are left out as not (yet) results, not counted as
unreadable. A status FHIR does not know is unreadable, as elsewhere.
"""

from __future__ import annotations

from core.records import MeasurementOrigin, MeasurementRecord

from .base import Connector
from .fhir import FhirClient
from .fhirbase import CodeableConcept, condition_ids
from .fhirmodels_v2 import ObservationModel

__all__ = [
    "COUNTED_STATUSES",
    "ORIGIN_SYSTEM",
    "SOURCE",
    "ObservationsConnector",
    "origin_of",
    "parse_observation",
]

SOURCE = "observations"
#: The Min Plan code system that marks a value measured at home (code ``home``).
ORIGIN_SYSTEM = "urn:minplan:origin"
COUNTED_STATUSES = frozenset({"final", "amended", "corrected"})


def origin_of(categories: tuple[CodeableConcept, ...]) -> MeasurementOrigin:
    """HOME for an ``urn:minplan:origin`` ``home`` coding (it wins); LAB for code
    ``laboratory`` (any system); CLINIC for anything else."""
    codings = [c for concept in categories for c in concept.coding]
    if any(c.system == ORIGIN_SYSTEM and c.code == "home" for c in codings):
        return MeasurementOrigin.HOME
    if any(c.code == "laboratory" for c in codings):
        return MeasurementOrigin.LAB
    return MeasurementOrigin.CLINIC


def parse_observation(source: str, resource: dict[str, object]) -> MeasurementRecord | None:
    model = ObservationModel.model_validate(resource)
    if model.status not in COUNTED_STATUSES:
        return None  # preliminary, cancelled, entered-in-error...: not a result to show
    first = model.code.coding[0]
    assert first.system and first.code  # checked by the model
    quantity = model.valueQuantity
    return MeasurementRecord(
        source=source,
        source_id=model.id,
        patient=model.require_patient(),
        condition_refs=condition_ids(model.focus),
        withheld=model.is_withheld(),
        system=first.system,
        code=first.code,
        display=model.code.text or first.display,
        value=quantity.value if quantity is not None else None,
        unit=quantity.unit if quantity is not None else None,
        at=model.effectiveDateTime,
        origin=origin_of(model.category),
        performer=model.performer[0].display if model.performer else None,
    )


class ObservationsConnector(Connector):
    def __init__(self, fhir: FhirClient) -> None:
        super().__init__(fhir, {"Observation": parse_observation})
