"""The GraphQL types, one concept per module: plan items, the plan itself, the viewer."""

from __future__ import annotations

from .alerts import AlertKind, AlertPriority, FollowUpAlert
from .care import Course, Measurement, MeasurementOrigin, Medication, Organisation
from .items import (
    Appointment,
    AppointmentStatus,
    Diagnosis,
    Goal,
    HealthLiteracy,
    JournalNote,
    PreventionOffer,
    Sourced,
    Triage,
    TriageLevel,
)
from .plan import CarePackage, PackageKind, Plan, PlanSection, SourceStatus
from .viewer import AccessLogEntry, Role, Viewer

__all__ = [
    "AccessLogEntry",
    "AlertKind",
    "AlertPriority",
    "Appointment",
    "AppointmentStatus",
    "CarePackage",
    "Course",
    "Diagnosis",
    "FollowUpAlert",
    "Goal",
    "HealthLiteracy",
    "JournalNote",
    "Measurement",
    "MeasurementOrigin",
    "Medication",
    "Organisation",
    "PackageKind",
    "Plan",
    "PlanSection",
    "PreventionOffer",
    "Role",
    "SourceStatus",
    "Sourced",
    "Triage",
    "TriageLevel",
    "Viewer",
]
