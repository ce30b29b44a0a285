"""Typed models of the FHIR R4 subset the contract reads (pydantic, extra fields ignored).

Validation here is what decides that a resource "cannot be read": a missing id, an unknown
status, a missing required text. Such a resource is skipped and counted by its connector.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from core.codes import CONFIDENTIALITY_SYSTEM, CPR_SYSTEM, normalise_codes

__all__ = [
    "AppointmentModel",
    "CodeableConcept",
    "Coding",
    "ConditionModel",
    "ConsentModel",
    "DayOrInstant",
    "DocumentReferenceModel",
    "FhirModel",
    "GoalModel",
    "Instant",
    "Quantity",
    "QuestionnaireResponseModel",
    "Range",
    "Reference",
    "Resource",
    "RiskAssessmentModel",
    "ServiceRequestModel",
]


#: One ``timezone`` per offset seen. pydantic gives every parsed datetime its own ``TzInfo``,
#: an object the garbage collector tracks: 18 per plan, and cached records keep them alive,
#: so full collections walked tens of thousands of them. ``timezone`` objects are not
#: tracked, and one per offset is plenty (offsets are whole minutes within ±24 h).
_ZONES: dict[timedelta, tzinfo] = {timedelta(0): UTC}


def _aware(value: datetime) -> datetime:
    # FHIR requires an offset on a dateTime with a time; a source that leaves it out is read
    # as UTC, so that every DateTime we serve carries an offset.
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=UTC)
    zone = _ZONES.get(offset)
    if zone is None:
        zone = _ZONES.setdefault(offset, timezone(offset))
    return value if value.tzinfo is zone else value.replace(tzinfo=zone)


def _not_a_timestamp(value: object) -> object:
    # pydantic reads a number (or a string of digits, like a year-only "2026") as Unix
    # seconds; FHIR has no such form, and 1970-01-01 must never reach a plan.
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        raise ValueError("not a FHIR dateTime")
    return value


#: A FHIR dateTime/instant, always timezone-aware.
Instant = Annotated[datetime, BeforeValidator(_not_a_timestamp), AfterValidator(_aware)]

_PARTIAL_DATE = re.compile(r"\d{4}(-\d{2})?")


def _partial_as_unknown(value: object) -> object:
    # FHIR date and dateTime may give only a year or a year and month ("2019", "2019-05"):
    # with no day to show, such a value reads as unknown, not as an unreadable resource.
    return None if isinstance(value, str) and _PARTIAL_DATE.fullmatch(value) else value


#: A FHIR dateTime that may be a day alone; a year, or a year and month, reads as unknown.
DayOrInstant = Annotated[Instant | date | None, BeforeValidator(_partial_as_unknown)]


class FhirModel(BaseModel):
    # Repeated elements are tuples defaulting to (): pydantic deep-copies a [] default for
    # every resource that leaves the element out (about a tenth of the parsing time).
    model_config = ConfigDict(extra="ignore", frozen=True)


class Coding(FhirModel):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class CodeableConcept(FhirModel):
    coding: tuple[Coding, ...] = ()
    text: str | None = None

    def diagnosis_codes(self) -> tuple[str, ...]:
        return normalise_codes((c.system, c.code) for c in self.coding)


class Identifier(FhirModel):
    system: str | None = None
    value: str | None = None


class Reference(FhirModel):
    reference: str | None = None
    identifier: Identifier | None = None
    display: str | None = None

    def condition_id(self) -> str | None:
        """The id of a ``Condition/{id}`` reference, else None."""
        ref = self.reference or ""
        return ref.split("/", 1)[1] or None if ref.startswith("Condition/") else None

    def cpr(self) -> str | None:
        ident = self.identifier
        return ident.value if ident is not None and ident.system == CPR_SYSTEM else None


class Meta(FhirModel):
    security: tuple[Coding, ...] = ()


class Resource(FhirModel):
    """What every resource we read has: an id, a patient, and maybe a confidentiality label."""

    id: str
    subject: Reference | None = None
    patient: Reference | None = None
    meta: Meta | None = None

    @field_validator("id")
    @classmethod
    def _id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("blank id")
        return value

    def patient_cpr(self) -> str | None:
        for ref in (self.subject, self.patient):
            if ref is not None and (cpr := ref.cpr()):
                return cpr
        return None

    def require_patient(self) -> str:
        cpr = self.patient_cpr()
        if not cpr:
            raise ValueError("no patient CPR identifier")
        return cpr

    def security_codings(self) -> tuple[Coding, ...]:
        return self.meta.security if self.meta is not None else ()

    def is_withheld(self) -> bool:
        return any(
            c.system == CONFIDENTIALITY_SYSTEM and c.code == "R" for c in self.security_codings()
        )


def condition_ids(refs: tuple[Reference, ...]) -> tuple[str, ...]:
    return tuple(cid for ref in refs if (cid := ref.condition_id()) is not None)


class ConditionModel(Resource):
    resourceType: Literal["Condition"]
    code: CodeableConcept
    clinicalStatus: CodeableConcept | None = None
    onsetDateTime: Annotated[Instant | date | None, BeforeValidator(_partial_as_unknown)] = None
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
    dueDate: Annotated[date | None, BeforeValidator(_partial_as_unknown)] = None


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


class ConsentActor(FhirModel):
    role: CodeableConcept | None = None
    reference: Reference


class ConsentClass(FhirModel):
    code: str | None = None


#: Levels of ``provision.provision[]`` read, the top one included; a deeper Consent is
#: unreadable (and so fails closed), rather than walked without end.
MAX_PROVISION_DEPTH = 10


class Provision(FhirModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    type: Literal["deny", "permit"] | None = None  # a nested one may leave it to its parent
    actor: tuple[ConsentActor, ...] = ()
    class_: tuple[ConsentClass, ...] = Field(default=(), alias="class")
    provision: tuple[Provision, ...] = ()


def _provision_depth(raw: object) -> int:
    """Levels of nested ``provision`` in raw JSON, counted without recursion."""
    deepest, stack = 0, [(raw, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict):
            continue
        deepest = max(deepest, depth)
        if depth > MAX_PROVISION_DEPTH:
            break
        children = node.get("provision")
        if isinstance(children, list):
            stack.extend((child, depth + 1) for child in children)
    return deepest


class ConsentModel(Resource):
    resourceType: Literal["Consent"]
    status: str
    provision: Provision

    @model_validator(mode="before")
    @classmethod
    def _bounded_depth(cls, data: object) -> object:
        if isinstance(data, dict) and _provision_depth(data.get("provision")) > MAX_PROVISION_DEPTH:
            raise ValueError(f"provisions nested deeper than {MAX_PROVISION_DEPTH} levels")
        return data

    @model_validator(mode="after")
    def _top_level_type(self) -> ConsentModel:
        if self.provision.type is None:
            raise ValueError("provision.type missing")
        return self
