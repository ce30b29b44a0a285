"""Contract version 2's follow-up alerts: the flags a care package raises (README §5)."""

from __future__ import annotations

import datetime as dt

import strawberry

from plans import model

from .base import instance_of
from .items import Sourced

__all__ = ["AlertKind", "AlertPriority", "FollowUpAlert"]

AlertKind = model.AlertKind
strawberry.enum(
    AlertKind,
    description=(
        "Why a package is flagged for follow-up. NO_SHOW: the patient did not turn up for "
        "an appointment in the last 180 days, and none is booked or held after it. "
        "NOT_REBOOKED: an appointment (in the last 180 days or coming) was cancelled, and "
        "nothing is planned or booked with the same actor from now on. REVIEW_OVERDUE: the "
        "course's next control was due before today. NO_PLAN: no course, though the "
        "package's earliest active diagnosis began more than the plan deadline ago "
        "(MINPLAN_PLAN_DEADLINE_DAYS). NO_TRIAGE: a course but no triage. OFF_TARGET: the "
        "latest value of a code a goal of the package targets misses its target."
    ),
)

AlertPriority = model.AlertPriority
strawberry.enum(
    AlertPriority,
    description=(
        "How urgent an alert is, from the package's triage: HIGH for RED, MEDIUM for "
        "YELLOW, LOW for GREEN or no triage the viewer may see."
    ),
)


@strawberry.type(
    description=(
        "A proactive follow-up flag for the package, computed at the time of the request "
        "from what this viewer sees: it is raised only when every section it reads is "
        "visible to the viewer and every source it reads answered, so it never names or "
        "describes an item the viewer may not see. README §5 gives every rule."
    )
)
class FollowUpAlert:
    kind: AlertKind = strawberry.field(description="Which rule raised it.")
    priority: AlertPriority = strawberry.field(
        description="HIGH when the package's triage is RED, MEDIUM for YELLOW, else LOW."
    )
    since: dt.date = strawberry.field(
        description=(
            "The day the reason for it arose (Europe/Copenhagen): the appointment's start, "
            "the control's due date, the plan deadline after the diagnosis, the day the plan "
            "was made (else the course started), or the day of the value."
        )
    )
    text: str = strawberry.field(
        description=(
            "One sentence in Danish for the person reading the plan: addressed to the "
            'patient ("Du udeblev …") in their own plan, about the patient ("Patienten '
            'udeblev …") for a clinician or a proxy.'
        )
    )
    items: list[Sourced] = strawberry.field(
        description=(
            "The items it is about: the appointment, the course, the package's active "
            "diagnoses (NO_PLAN) or the measurement. All of them are in this view."
        )
    )

    is_type_of = instance_of(model.Alert)
