"""Typed models of the FHIR R4 resources the contract reads (pydantic, extra fields ignored).

Their shared parts are in :mod:`.fhirbase` (the common ones re-exported here), dates and times in
:mod:`.fhirtime`, the Consent in :mod:`.fhirmodels_consent`, version 2's in :mod:`.fhirmodels_v2`.

Validation here is what decides that a resource "cannot be read": a missing id, an unknown
status, a missing required text. Such a resource is skipped and counted by its connector.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from pydantic import field_validator

from core.codes import CONFIDENTIALITY_SYSTEM

from .fhirbase import (
    CodeableConcept,
    Coding,
    FhirModel,
    Reference,
    Resource,
)
from .fhirtime import Day, DayOrInstant, Instant

__all__ = [
    "AppointmentModel",
    "CodeableConcept",
    "Coding",
    "ConditionModel",
    "DocumentReferenceModel",
    "FhirModel",
    "GoalModel",
    "Quantity",
    "QuestionnaireResponseModel",
    "Range",
    "Reference",
    "Resource",
    "RiskAssessmentModel",
    "ServiceRequestModel",
]


class ConditionModel(Resource):
    resourceType: Literal["Condition"]
    code: CodeableConcept
    clinicalStatus: CodeableConcept | None = None
    onsetDateTime: DayOrInstant = None
    recorder: Reference | None = None

    def is_active(self) -> bool:
        status = self.clinicalStatus
        return status is not None and any(c.code == "active" for c in status.coding)


APPOINTMENT_STATUSES = frozenset(
    {
        "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled",
        "noshow", "entered-in-error", "checked-in", "waitlist",
    }
)  # fmt: skip


class Participant(FhirModel):
    actor: Reference | None = None


class AppointmentModel(Resource):
    resourceType: Literal["Appointment"]
    status: str
    start: Instant | None = None
    end: Instant | None = None
    description: str | None = None
    participant: tuple[Participant, ...] = ()
    reasonCode: tuple[CodeableConcept, ...] = ()
    reasonReference: tuple[Reference, ...] = ()

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: str) -> str:
        if value not in APPOINTMENT_STATUSES:
            raise ValueError("unknown Appointment.status")  # the value stays out of logs
        return value

    def patient_cpr(self) -> str | None:
        # Appointment has no subject in FHIR R4: the patient is a participant.
        direct = super().patient_cpr()
        if direct:
            return direct
        for p in self.participant:
            if p.actor is not None and (cpr := p.actor.cpr()):
                return cpr
        return None


class Attachment(FhirModel):
    contentType: str | None = None
    data: str | None = None

    def text(self) -> str:
        if self.data is None:
            return ""
        try:
            return base64.b64decode(self.data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ValueError("attachment.data is not base64 of UTF-8 text") from exc


class Content(FhirModel):
    attachment: Attachment


class DocContext(FhirModel):
    related: tuple[Reference, ...] = ()
    event: tuple[CodeableConcept, ...] = ()


class DocumentReferenceModel(Resource):
    resourceType: Literal["DocumentReference"]
    date: Instant
    description: str | None = None
    author: tuple[Reference, ...] = ()
    custodian: Reference | None = None
    content: list[Content]
    context: DocContext | None = None
    securityLabel: tuple[CodeableConcept, ...] = ()

    @field_validator("content")
    @classmethod
    def _has_text(cls, value: list[Content]) -> list[Content]:
        if not value:
            raise ValueError("no content")
        value[0].attachment.text()  # fail here, not in the middle of a plan
        return value

    def is_withheld(self) -> bool:
        labels = [c for label in self.securityLabel for c in label.coding]
        return super().is_withheld() or any(
            c.system == CONFIDENTIALITY_SYSTEM and c.code == "R" for c in labels
        )


class Quantity(FhirModel):
    value: float | None = None
    comparator: str | None = None
    unit: str | None = None


class Range(FhirModel):
    low: Quantity | None = None
    high: Quantity | None = None


class Target(FhirModel):
    measure: CodeableConcept | None = None
    detailQuantity: Quantity | None = None
    detailRange: Range | None = None
    detailString: str | None = None
    dueDate: Day = None


class GoalModel(Resource):
    resourceType: Literal["Goal"]
    lifecycleStatus: str
    description: CodeableConcept
    target: tuple[Target, ...] = ()
    addresses: tuple[Reference, ...] = ()

    @field_validator("description")
    @classmethod
    def _has_text(cls, value: CodeableConcept) -> CodeableConcept:
        if not (value.text or (value.coding and value.coding[0].display)):
            raise ValueError("Goal.description has no text")
        return value


class Prediction(FhirModel):
    qualitativeRisk: CodeableConcept | None = None


class RiskAssessmentModel(Resource):
    resourceType: Literal["RiskAssessment"]
    occurrenceDateTime: Instant
    performer: Reference | None = None
    prediction: list[Prediction]
    code: CodeableConcept | None = None


class Answer(FhirModel):
    valueDecimal: float | None = None
    valueInteger: int | None = None
    valueCoding: Coding | None = None


class QRItem(FhirModel):
    linkId: str
    answer: tuple[Answer, ...] = ()


class QuestionnaireResponseModel(Resource):
    resourceType: Literal["QuestionnaireResponse"]
    questionnaire: str | None = None
    authored: Instant | None = None
    item: tuple[QRItem, ...] = ()

    def answer(self, link_id: str) -> Answer | None:
        for item in self.item:
            if item.linkId == link_id and item.answer:
                return item.answer[0]
        return None


class Extension(FhirModel):
    url: str
    valueUrl: str | None = None


class ServiceRequestModel(Resource):
    resourceType: Literal["ServiceRequest"]
    status: str
    code: CodeableConcept
    performer: tuple[Reference, ...] = ()
    reasonCode: tuple[CodeableConcept, ...] = ()
    supportingInfo: tuple[Reference, ...] = ()
    extension: tuple[Extension, ...] = ()
