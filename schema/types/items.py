"""The plan's items. Each resolves from a connector record by plain attribute reads."""

from __future__ import annotations

import datetime as dt

import strawberry

from core import records

from .base import instance_of

__all__ = [
    "Appointment",
    "AppointmentStatus",
    "Diagnosis",
    "Goal",
    "HealthLiteracy",
    "JournalNote",
    "PreventionOffer",
    "Sourced",
    "Triage",
    "TriageLevel",
]

AppointmentStatus = records.AppointmentStatus
strawberry.enum(
    AppointmentStatus,
    description=(
        "Where an appointment stands. From FHIR Appointment.status: proposed, pending → "
        "PLANNED; booked, arrived, checked-in, waitlist → BOOKED; fulfilled → COMPLETED; "
        "cancelled → CANCELLED; noshow → NO_SHOW (entered-in-error is never shown)."
    ),
)

TriageLevel = records.TriageLevel
strawberry.enum(
    TriageLevel,
    description=(
        "Differentiated follow-up set by the GP: GREEN (coordinator level 1), "
        "YELLOW (level 2), RED (level 3, closest follow-up)."
    ),
)


@strawberry.interface(description="Every item says where it came from.")
class Sourced:
    source: str = strawberry.field(description='The upstream source\'s name, e.g. "appointments".')
    source_id: str = strawberry.field(description="The resource id in that source.")


@strawberry.type(description="A diagnosis behind a care package (or an unrelated active one).")
class Diagnosis(Sourced):
    code: str = strawberry.field(
        description='Normalised ICD-10 code, e.g. "J44.9" (SKS "DJ449" becomes "J44.9").'
    )
    display: str | None = strawberry.field(description="The diagnosis in words.")
    onset: dt.date | None = strawberry.field(description="When it began.")
    recorded_by: str | None = strawberry.field(description="The organisation that recorded it.")
    is_type_of = instance_of(records.DiagnosisRecord)


@strawberry.type(description="The latest triage assessment of a package (red/yellow/green).")
class Triage(Sourced):
    level: TriageLevel = strawberry.field(description="The follow-up level.")
    assessed_at: dt.datetime = strawberry.field(description="When it was assessed.")
    assessed_by: str | None = strawberry.field(description="Who assessed it (organisation).")
    is_type_of = instance_of(records.TriageRecord)


@strawberry.type(description="A goal agreed between the patient and their GP.")
class Goal(Sourced):
    description: str = strawberry.field(description="The goal in words.")
    target: str | None = strawberry.field(description='A human-readable target, e.g. "≥ 400 m".')
    due: dt.date | None = strawberry.field(description="When it should be reached.")
    status: str = strawberry.field(
        description="FHIR Goal.lifecycleStatus as is (proposed, active, completed…)."
    )
    is_type_of = instance_of(records.GoalRecord)


@strawberry.type(description="An appointment in the course, from any actor.")
class Appointment(Sourced):
    status: AppointmentStatus = strawberry.field(description="Where it stands.")
    start: dt.datetime | None = strawberry.field(description="When it starts.")
    end: dt.datetime | None = strawberry.field(description="When it ends.")
    description: str | None = strawberry.field(description="What it is about.")
    actor: str | None = strawberry.field(
        description="Who holds it: clinic, hospital ward, physiotherapist…"
    )
    is_type_of = instance_of(records.AppointmentRecord)


@strawberry.type(description="A shared journal note about the package.")
class JournalNote(Sourced):
    date: dt.datetime = strawberry.field(description="When it was written.")
    title: str | None = strawberry.field(description="Its title.")
    author: str | None = strawberry.field(description="The author (organisation name).")
    text: str = strawberry.field(description="The note's text.")
    is_type_of = instance_of(records.JournalNoteRecord)


@strawberry.type(description="A prevention, rehabilitation or municipal health offer.")
class PreventionOffer(Sourced):
    title: str = strawberry.field(description="What is offered.")
    provider: str | None = strawberry.field(description="Who offers it.")
    status: str = strawberry.field(description="FHIR ServiceRequest.status as is.")
    url: str | None = strawberry.field(description="Where to read more or sign up.")
    is_type_of = instance_of(records.PreventionOfferRecord)


@strawberry.type(description="The patient's latest health-literacy questionnaire score.")
class HealthLiteracy(Sourced):
    score: float = strawberry.field(description="The questionnaire's score.")
    answered_at: dt.datetime = strawberry.field(description="When the patient answered.")
    is_type_of = instance_of(records.HealthLiteracyRecord)
