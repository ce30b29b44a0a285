"""The GraphQL types, one concept per module: plan items, the plan itself, the viewer."""

from __future__ import annotations

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
    "Appointment",
    "AppointmentStatus",
    "CarePackage",
    "Diagnosis",
    "Goal",
    "HealthLiteracy",
    "JournalNote",
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
