"""Typed models of the resources contract version 2 adds: CarePlan, Observation,
and MedicationStatement (the ``listing`` source's Patient is read in
:mod:`connectors.listing`).

Same rules as :mod:`connectors.fhirmodels`: extra fields are ignored, and a resource that
fails validation (no id, no patient, an unknown status, a missing required element) is
unreadable, skipped and counted by its connector.
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from .fhirbase import CodeableConcept, FhirModel, Reference, Resource
from .fhirmodels import Quantity
from .fhirtime import DayOrInstant, Instant

__all__ = [
    "CARE_PLAN_STATUSES",
    "MEDICATION_STATUSES",
    "OBSERVATION_STATUSES",
    "CarePlanModel",
    "MedicationStatementModel",
    "ObservationModel",
    "Period",
]


class Period(FhirModel):
    start: DayOrInstant = None
    end: DayOrInstant = None


def _known(value: str, allowed: frozenset[str], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what}")  # the value stays out of logs
    return value


# --- CarePlan -------------------------------------------------------------------------

CARE_PLAN_STATUSES = frozenset(
    {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
)


class ActivityDetail(FhirModel):
    code: CodeableConcept | None = None
    status: str | None = None
    scheduledPeriod: Period | None = None


class Activity(FhirModel):
    detail: ActivityDetail | None = None


class CarePlanModel(Resource):
    resourceType: Literal["CarePlan"]
    status: str
    created: Instant | None = None
    period: Period | None = None
    author: Reference | None = None
    addresses: tuple[Reference, ...] = ()
    category: tuple[CodeableConcept, ...] = ()
    activity: tuple[Activity, ...] = ()

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: str) -> str:
        return _known(value, CARE_PLAN_STATUSES, "CarePlan.status")


# --- Observation ----------------------------------------------------------------------

OBSERVATION_STATUSES = frozenset(
    {
        "registered", "preliminary", "final", "amended", "corrected", "cancelled",
        "entered-in-error", "unknown",
    }
)  # fmt: skip


class ObservationModel(Resource):
    resourceType: Literal["Observation"]
    status: str
    code: CodeableConcept
    category: tuple[CodeableConcept, ...] = ()
    valueQuantity: Quantity | None = None
    # A day alone is a DateTime at UTC midnight (the Copenhagen day stays the same).
    effectiveDateTime: Instant
    performer: tuple[Reference, ...] = ()
    focus: tuple[Reference, ...] = ()

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: str) -> str:
        return _known(value, OBSERVATION_STATUSES, "Observation.status")

    @field_validator("code")
    @classmethod
    def _first_coding_is_whole(cls, value: CodeableConcept) -> CodeableConcept:
        first = value.coding[0] if value.coding else None
        if first is None or not first.system or not first.code:
            raise ValueError("Observation.code.coding[0] has no system and code")
        return value


# --- MedicationStatement --------------------------------------------------------------

MEDICATION_STATUSES = frozenset(
    {
        "active", "completed", "entered-in-error", "intended", "stopped", "on-hold",
        "unknown", "not-taken",
    }
)  # fmt: skip


class Dosage(FhirModel):
    text: str | None = None


class MedicationStatementModel(Resource):
    resourceType: Literal["MedicationStatement"]
    status: str
    medicationCodeableConcept: CodeableConcept
    effectivePeriod: Period | None = None
    dosage: tuple[Dosage, ...] = ()
    informationSource: Reference | None = None
    reasonCode: tuple[CodeableConcept, ...] = ()
    reasonReference: tuple[Reference, ...] = ()

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: str) -> str:
        return _known(value, MEDICATION_STATUSES, "MedicationStatement.status")

    @field_validator("medicationCodeableConcept")
    @classmethod
    def _has_name(cls, value: CodeableConcept) -> CodeableConcept:
        if not (value.text or any(c.display for c in value.coding)):
            raise ValueError("MedicationStatement.medicationCodeableConcept has no name")
        return value
