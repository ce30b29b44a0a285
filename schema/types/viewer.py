"""The caller, and the access log a patient reads."""

from __future__ import annotations

import datetime as dt

import strawberry

from plans import viewer as viewer_model
from plans.audit import AccessContext, AccessPage, AccessRecord, encode_cursor

from .base import instance_of

__all__ = ["AccessContext", "AccessLogEntry", "AccessLogPage", "Role", "Viewer"]

Role = viewer_model.Role
strawberry.enum(
    Role,
    name="Role",
    description="CITIZEN (MinSundhed, MinLæge) or CLINICIAN (the shared view, any sector).",
)

strawberry.enum(
    AccessContext,
    name="AccessContext",
    description=(
        "What the reader was doing: PLAN, reading the patient's plan; WORKLIST, listing "
        "the patient on their clinic's work list. Entries from before the work list are PLAN."
    ),
)


@strawberry.type(description="Who the caller is, as the gateway understood their token.")
class Viewer:
    role: Role = strawberry.field(description="Citizen or clinician.")
    cpr: str | None = strawberry.field(description="The citizen's own CPR number.")
    org: str | None = strawberry.field(description="The clinician's organisation (SOR code).")
    org_name: str | None = strawberry.field(description="The organisation's name.")
    name: str | None = strawberry.field(description="The caller's name.")

    is_type_of = instance_of(viewer_model.Viewer)


@strawberry.type(description="One look at the patient's data by someone other than the patient.")
class AccessLogEntry:
    at: dt.datetime = strawberry.field(description="When.")
    actor_name: str | None = strawberry.field(description="Who looked.")
    org: str | None = strawberry.field(
        description="Their organisation's SOR code (none for a proxy)."
    )
    org_name: str | None = strawberry.field(description="Their organisation's name.")
    actor_role: str = strawberry.field(
        description='"clinician" or "proxy" (someone with power of attorney).'
    )
    emergency: bool = strawberry.field(
        description="True when a block was overridden (break the glass)."
    )
    reason: str | None = strawberry.field(description="The emergency reason given, if any.")
    sections: list[str] = strawberry.field(
        description="The plan sections the viewer was shown (consent classes)."
    )
    context: AccessContext = strawberry.field(
        description="PLAN for a plan read, WORKLIST for a work-list read."
    )

    @classmethod
    def from_record(cls, record: AccessRecord) -> AccessLogEntry:
        return cls(
            at=record.at,
            actor_name=record.actor_name,
            org=record.actor_org,
            org_name=record.actor_org_name,
            actor_role=record.actor_role,
            emergency=record.emergency,
            reason=record.reason,
            sections=list(record.sections),
            context=record.context,
        )


@strawberry.type(description="One page of the access log, newest first.")
class AccessLogPage:
    entries: list[AccessLogEntry] = strawberry.field(description="Newest first.")
    total: int = strawberry.field(description="Every entry matching `since`, across all pages.")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page; null when the page is empty."
    )
    has_next_page: bool = strawberry.field(description="True when older entries follow.")

    @classmethod
    def from_page(cls, page: AccessPage) -> AccessLogPage:
        return cls(
            entries=[AccessLogEntry.from_record(r) for r in page.entries],
            total=page.total,
            end_cursor=encode_cursor(page.end) if page.end is not None else None,
            has_next_page=page.has_next,
        )
