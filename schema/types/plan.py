"""The plan, its care packages and sections, and the status of each source."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry

from plans import model

from ..direct import BARE_IS_ATTRIBUTE
from .alerts import FollowUpAlert
from .base import instance_of
from .care import Course, Measurement, Medication
from .items import (
    Appointment,
    AppointmentStatus,
    Diagnosis,
    Goal,
    HealthLiteracy,
    JournalNote,
    PreventionOffer,
    Triage,
)

__all__ = ["CarePackage", "PackageKind", "Plan", "PlanSection", "SourceStatus"]

PackageKind = model.PackageKind
strawberry.enum(
    PackageKind,
    description=(
        "A chronic-care package: COPD (ICD-10 J44*), LOW_BACK_PAIN (M54.5), "
        "TYPE2_DIABETES (E11*), HEART_DISEASE (I20*-I25*)."
    ),
)

_APPOINTMENTS_DOC = "Appointments by start, oldest first; `status` keeps only those statuses."
_MEDICATIONS_DOC = "Medication: the active first, then by start, newest first."

StatusFilter = Annotated[
    list[AppointmentStatus] | None,
    strawberry.argument(
        description="Keep only appointments with these statuses (all if left out)."
    ),
]


def _by_status(items: list[Any], status: list[Any] | None) -> list[Any]:
    if not status:
        return items
    wanted = set(status)
    return [a for a in items if a.status in wanted]


@strawberry.type(description="Items that belong to no care package of the patient.")
class PlanSection:
    diagnoses: list[Diagnosis] = strawberry.field(
        description="Active diagnoses outside the packages."
    )
    goals: list[Goal] = strawberry.field(description="Goals by due date.")
    journal_notes: list[JournalNote] = strawberry.field(description="Notes, newest first.")
    prevention_offers: list[PreventionOffer] = strawberry.field(description="Offers.")
    measurements: list[Measurement] = strawberry.field(
        description=(
            "Values that belong to no package (no focus on a package's diagnosis, and no "
            "goal the viewer sees measures them), newest first; they carry no target."
        )
    )
    medications: list[Medication] = strawberry.field(
        description=f"{_MEDICATIONS_DOC} Those prescribed for no package's diagnosis."
    )

    # Without `status`, the attribute itself: read directly (schema.direct.NESTED_BARE).
    @strawberry.field(description=_APPOINTMENTS_DOC, metadata=BARE_IS_ATTRIBUTE)
    def appointments(self, status: StatusFilter = None) -> list[Appointment]:
        return _by_status(self.appointments, status)  # self is the model

    is_type_of = instance_of(model.PlanSection)


@strawberry.type(description="One care package course of the patient, across every sector.")
class CarePackage:
    id: strawberry.ID = strawberry.field(
        description=(
            "Stable for the same patient, package and view across calls; another view "
            "(another viewer or organisation, other consent filtering, a break-the-glass "
            "read) has another id, so a client cache never merges two views. Reveals no CPR."
        )
    )
    kind: PackageKind = strawberry.field(description="Which package.")
    diagnoses: list[Diagnosis] = strawberry.field(
        description="The active diagnoses that put the patient in this package."
    )
    triage: Triage | None = strawberry.field(description="The latest assessment, if any.")
    goals: list[Goal] = strawberry.field(description="Goals by due date.")
    journal_notes: list[JournalNote] = strawberry.field(description="Notes, newest first.")
    prevention_offers: list[PreventionOffer] = strawberry.field(description="Offers.")
    health_literacy: HealthLiteracy | None = strawberry.field(
        description="The latest health-literacy score, if the patient answered."
    )
    course: Course | None = strawberry.field(
        description=(
            "The care plan of this package, if one is made: its coordinator, status and "
            "controls. Null when there is none, or the viewer may not see `goals`."
        )
    )
    measurements: list[Measurement] = strawberry.field(
        description=(
            "Disease values of this package, newest first: those whose focus is one of its "
            "diagnoses, else those a goal of the package measures; each with that goal's "
            "target."
        )
    )
    medications: list[Medication] = strawberry.field(
        description=f"{_MEDICATIONS_DOC} Those prescribed for this package's diagnoses."
    )
    alerts: list[FollowUpAlert] = strawberry.field(
        description=(
            "Follow-up flags of this package (README §5), from what this viewer sees: the "
            "highest priority first, then the oldest `since`. One per offending item."
        )
    )

    # Without `status`, the attribute itself: read directly (schema.direct.NESTED_BARE).
    @strawberry.field(description=_APPOINTMENTS_DOC, metadata=BARE_IS_ATTRIBUTE)
    def appointments(self, status: StatusFilter = None) -> list[Appointment]:
        return _by_status(self.appointments, status)  # self is the model

    is_type_of = instance_of(model.CarePackage)


@strawberry.type(description="How one upstream source answered this request.")
class SourceStatus:
    name: str = strawberry.field(description='The source, e.g. "journal".')
    ok: bool = strawberry.field(
        description="False when this source's data is missing from the answer."
    )
    stale: bool = strawberry.field(
        description="True when served from cache after the source failed."
    )
    latency_ms: float | None = strawberry.field(
        description=(
            "How long the source took, in milliseconds; 0 when answered from the cache "
            "(see `cached`)."
        )
    )
    error: str | None = strawberry.field(description="A short, safe reason when not ok.")
    cached: bool = strawberry.field(
        description="True when answered from the gateway's cache, without asking the source."
    )
    is_type_of = instance_of(model.SourceStatus)


@strawberry.type(description="One patient's plan, as the caller may see it.")
class Plan:
    id: strawberry.ID = strawberry.field(
        description=(
            "Stable for the same patient and view; another view (the patient, a proxy, "
            "another organisation, other consent filtering, a break-the-glass read) has "
            "another id. Items are identified by `source` and `sourceId` instead, the same "
            "in every view. Reveals no CPR."
        )
    )
    cpr: str = strawberry.field(description="The patient this plan is about.")
    packages: list[CarePackage] = strawberry.field(
        description="One per care package the patient is in."
    )
    unassigned: PlanSection = strawberry.field(description="Items no package could be derived for.")
    sources: list[SourceStatus] = strawberry.field(
        description=(
            "The upstream sources this read asked, in the contract's order, with how each "
            "answered: those whose data the query selects, and consent unless the caller is "
            "the patient. A source not configured is never asked, nor listed."
        )
    )
    restricted: bool = strawberry.field(
        description=(
            "True when consent rules removed anything from this view: always when a block "
            "names the caller's organisation (unless the glass is broken), and when an item "
            "of a source this read asked was withheld. Withheld items of sources the query "
            "does not select are not asked about, so they do not count."
        )
    )
    generated_at: dt.datetime = strawberry.field(description="When this view was assembled.")
    is_type_of = instance_of(model.Plan)
