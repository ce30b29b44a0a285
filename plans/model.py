"""The assembled plan: what the schema layer shows, built from connector records."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime

from core.records import (
    AppointmentRecord,
    CourseRecord,
    DiagnosisRecord,
    GoalRecord,
    HealthLiteracyRecord,
    JournalNoteRecord,
    MeasurementRecord,
    MedicationRecord,
    PreventionOfferRecord,
    Record,
    TriageRecord,
)

__all__ = [
    "Alert",
    "AlertKind",
    "AlertPriority",
    "CarePackage",
    "Measurement",
    "PackageKind",
    "Plan",
    "PlanSection",
    "SourceStatus",
]


class PackageKind(enum.Enum):
    COPD = "COPD"
    LOW_BACK_PAIN = "LOW_BACK_PAIN"
    TYPE2_DIABETES = "TYPE2_DIABETES"
    HEART_DISEASE = "HEART_DISEASE"


class AlertKind(enum.Enum):
    """A follow-up flag's rule (contract §5, v2); plans/alerts.py raises them."""

    NO_SHOW = "NO_SHOW"
    NOT_REBOOKED = "NOT_REBOOKED"
    REVIEW_OVERDUE = "REVIEW_OVERDUE"
    NO_PLAN = "NO_PLAN"
    NO_TRIAGE = "NO_TRIAGE"
    OFF_TARGET = "OFF_TARGET"


class AlertPriority(enum.Enum):
    HIGH = "HIGH"  # the package's triage is RED
    MEDIUM = "MEDIUM"  # YELLOW
    LOW = "LOW"  # GREEN or none


@dataclass(frozen=True, slots=True)
class Alert:
    """One follow-up flag of a package, from what the viewer sees (contract §5)."""

    kind: AlertKind
    priority: AlertPriority
    since: date  # a Copenhagen calendar day
    text: str  # one Danish sentence for the person reading the plan
    items: tuple[Record, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement(MeasurementRecord):
    """A value as placed in one section: with the target of that package's goal for its code.

    The same Observation may sit in two packages with two targets, so the target belongs to
    the placement, not to the record (contract §1, v2).
    """

    target: str | None = None
    on_target: bool | None = None  # None: no goal gives a comparable target


@dataclass(slots=True)
class PlanSection:
    """Item lists of one package, or of the items no package could be derived for."""

    diagnoses: list[DiagnosisRecord] = field(default_factory=list)
    goals: list[GoalRecord] = field(default_factory=list)
    appointments: list[AppointmentRecord] = field(default_factory=list)
    journal_notes: list[JournalNoteRecord] = field(default_factory=list)
    prevention_offers: list[PreventionOfferRecord] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)  # newest first
    medications: list[MedicationRecord] = field(default_factory=list)  # active first


@dataclass(slots=True)
class CarePackage(PlanSection):
    id: str = ""  # per patient, kind and view (plans/views.py)
    kind: PackageKind = PackageKind.COPD
    triage: TriageRecord | None = None
    health_literacy: HealthLiteracyRecord | None = None
    course: CourseRecord | None = None  # the package's CarePlan, chosen by plans/assembly.py
    alerts: list[Alert] = field(default_factory=list)  # priority, then oldest since


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str
    ok: bool
    stale: bool = False
    latency_ms: float | None = None
    error: str | None = None
    cached: bool = False


@dataclass(slots=True)
class Plan:
    #: Names the patient and the view (plans/views.py): another view, another id.
    id: str
    cpr: str
    packages: list[CarePackage]
    unassigned: PlanSection
    sources: list[SourceStatus]
    restricted: bool
    generated_at: datetime
    #: Plan sections the viewer was allowed (consent classes), for the access log.
    sections: tuple[str, ...] = ()
