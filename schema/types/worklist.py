"""(v2) The clinic's work list: the listed patients in one package, flagged and ordered."""

from __future__ import annotations

import strawberry

from plans import worklist

from .base import instance_of
from .plan import CarePackage, SourceStatus

__all__ = ["Worklist", "WorklistEntry"]


@strawberry.type(description="One patient on the work list, with their package as you may see it.")
class WorklistEntry:
    cpr: str = strawberry.field(description="The patient's CPR number.")
    name: str | None = strawberry.field(description="The patient's name, from the listing source.")
    package: CarePackage = strawberry.field(
        description=(
            "The package of the work list's `kind`, as a `plan` read by you would show it: "
            "consent-filtered, with its triage and alerts."
        )
    )
    restricted: bool = strawberry.field(
        description="What `Plan.restricted` would be in your plan read of this patient."
    )

    is_type_of = instance_of(worklist.WorklistEntry)


@strawberry.type(
    description=(
        "A page of the clinic's work list. Order: the highest alert priority first (entries "
        "without alerts last), then triage RED, YELLOW, GREEN, none; then the oldest alert "
        "`since`; then CPR."
    )
)
class Worklist:
    entries: list[WorklistEntry] = strawberry.field(description="This page's entries, in order.")
    total: int = strawberry.field(description="Entries matching the filters, across all pages.")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page; opaque, and only for the same query."
    )
    has_next_page: bool = strawberry.field(description="True when another page follows.")
    sources: list[SourceStatus] = strawberry.field(
        description=(
            "The sources asked, in the contract's order, with how each answered; a source "
            "that failed for some patients is not ok, and its sections are empty for them."
        )
    )

    is_type_of = instance_of(worklist.Worklist)
