"""The root query: ``plan``, ``me``, ``accessLog``, ``accessLogPage`` and ``worklist``."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Iterable
from typing import Annotated, TypeVar

import strawberry
from graphql import GraphQLError

from core.errors import AccessLogUnavailable, AuditWriteError, BadUserInput, SourceUnavailable
from core.records import TriageLevel
from plans.audit import (
    MAX_PAGE_SIZE,
    AccessPage,
    AccessRecord,
    PageKey,
    decode_cursor,
    since_in_utc,
)
from plans.consent import Purpose
from plans.emergency_reason import MAX_REASON_LENGTH, MIN_REASON_ALNUM
from plans.model import AlertKind, PackageKind, SourceStatus
from plans.worklist import MAX_PAGE_SIZE as WORKLIST_MAX_PAGE_SIZE
from plans.worklist import WorklistQuery

from .context import Context
from .selection import plan_needs, worklist_needs
from .types.plan import Plan
from .types.viewer import AccessLogEntry, AccessLogPage, Viewer
from .types.worklist import Worklist

__all__ = ["Query"]

log = logging.getLogger(__name__)

Info = strawberry.Info[Context, None]
DEFAULT_PAGE_SIZE = 100
_T = TypeVar("_T")

PatientCpr = Annotated[
    str | None,
    strawberry.argument(
        description=(
            "The patient's CPR number, 10 digits (0101521234 or 010152-1234). "
            "Citizens may leave it out for their own."
        )
    ),
]
EmergencyReason = Annotated[
    str | None,
    strawberry.argument(
        description=(
            "Why the patient's blocks must be overridden now (clinicians); logged, and shown "
            "to the patient. It is normalised (Unicode NFKC, trimmed) and must hold at least "
            f"{MIN_REASON_ALNUM} letters or digits, at most {MAX_REASON_LENGTH} characters, "
            "and no control, format or bidi characters (tabs, line breaks, zero-width or "
            "direction marks); otherwise BAD_USER_INPUT and nothing is read."
        )
    ),
]
Since = Annotated[
    dt.datetime | None,
    strawberry.argument(description="Only entries at or after this time (no offset: UTC)."),
]
First = Annotated[
    int | None,
    strawberry.argument(description=f"Entries on this page, 1 to {MAX_PAGE_SIZE} (null: 100)."),
]
After = Annotated[
    str | None,
    strawberry.argument(description="The `endCursor` of the page before; none for the first."),
]

WorklistKind = Annotated[
    PackageKind, strawberry.argument(description="The package whose patients to list.")
]
WorklistTriage = Annotated[
    list[TriageLevel] | None,
    strawberry.argument(description="Keep only entries whose triage is one of these."),
]
WorklistAlerts = Annotated[
    list[AlertKind] | None,
    strawberry.argument(description="Keep only entries with an alert of one of these kinds."),
]
WorklistFirst = Annotated[
    int | None,
    strawberry.argument(
        description=(
            f"Entries on this page, 1 to {WORKLIST_MAX_PAGE_SIZE} (null: 50); else BAD_USER_INPUT."
        )
    ),
]


@strawberry.type(description="Min Plan: one patient's chronic-care plan, from every sector.")
class Query:
    @strawberry.field(
        description=(
            "The plan of one patient as the caller may see it. A citizen may leave out `cpr` "
            "for their own plan; another patient's plan needs a power of attorney. "
            "`emergencyReason` breaks the glass (clinicians only): it overrides the patient's "
            "blocks for this request, and is logged. Only the sources whose data the query "
            "selects are asked (and consent, unless the caller is the patient)."
        )
    )
    async def plan(
        self, info: Info, cpr: PatientCpr = None, emergency_reason: EmergencyReason = None
    ) -> Plan:
        ctx = info.context
        # Not info.selected_fields: it expands every fragment spread anew, 2^n for a chain
        # of fragments that spread the next one twice.
        needs = plan_needs(info._raw_info.field_nodes, info._raw_info.fragments)
        try:
            plan = await ctx.plans.read(
                ctx.viewer,
                cpr,
                ctx.loaders,
                needs=needs.sources,
                also=needs.searches,
                alerts=needs.alerts,
                emergency_reason=emergency_reason,
                request_id=ctx.request_id,
            )
        except AuditWriteError as exc:
            raise AccessLogUnavailable(
                "Your access could not be written to the patient's access log, so the plan "
                "is not shown. Please try again."
            ) from exc
        _warn_unavailable(info, plan.sources, "its sections are left out of this plan.")
        return plan  # type: ignore[return-value]  # the model; see Plan.is_type_of

    @strawberry.field(description="Who the caller is, as the gateway understood the token.")
    def me(self, info: Info) -> Viewer:
        return info.context.viewer  # type: ignore[return-value]  # see Viewer.is_type_of

    @strawberry.field(
        description=(
            "Who has seen this patient's data, newest first: every plan read by a clinician "
            f"or a proxy. Only the newest {MAX_PAGE_SIZE} entries; `accessLogPage` pages "
            "through all of them. For the patient (leave out `cpr`) and their proxies only."
        )
    )
    async def access_log(
        self, info: Info, cpr: PatientCpr = None, since: Since = None
    ) -> list[AccessLogEntry]:
        patient, since_utc = await _access_log_query(info, cpr, since)
        ctx = info.context
        records: list[AccessRecord] = await _read_access_log(
            ctx.access_log.entries(patient, since=since_utc, limit=MAX_PAGE_SIZE)
        )
        return [AccessLogEntry.from_record(r) for r in records]

    @strawberry.field(
        description=(
            "Every entry of the patient's access log, newest first, a page at a time: pass "
            "a page's `endCursor` as `after` for the next. Same access as `accessLog`."
        )
    )
    async def access_log_page(
        self,
        info: Info,
        cpr: PatientCpr = None,
        since: Since = None,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
    ) -> AccessLogPage:
        first = DEFAULT_PAGE_SIZE if first is None else first
        if not 1 <= first <= MAX_PAGE_SIZE:
            raise BadUserInput(f"first must be between 1 and {MAX_PAGE_SIZE}; it was {first}.")
        key = _page_key(after)
        patient, since_utc = await _access_log_query(info, cpr, since)
        ctx = info.context
        page: AccessPage = await _read_access_log(
            ctx.access_log.page(patient, since=since_utc, first=first, after=key)
        )
        return AccessLogPage.from_page(page)

    @strawberry.field(
        description=(
            "Your clinic's work list (clinicians only; a citizen gets FORBIDDEN): the "
            "patients the listing source lists with your organisation who are in package "
            "`kind` as you may see them, with their package, triage and follow-up alerts. "
            "A patient whose consent denies you their diagnoses is left out. Every entry "
            "returned is written to that patient's access log (context WORKLIST). The "
            "consent source down gives CONSENT_UNAVAILABLE and no entries."
        )
    )
    async def worklist(
        self,
        info: Info,
        kind: WorklistKind,
        triage: WorklistTriage = None,
        alerts: WorklistAlerts = None,
        first: WorklistFirst = 50,
        after: After = None,
    ) -> Worklist:
        ctx = info.context
        needs = worklist_needs(info._raw_info.field_nodes, info._raw_info.fragments)
        query = WorklistQuery(
            kind=kind,
            triage=frozenset(triage) if triage is not None else None,
            alerts=frozenset(alerts) if alerts is not None else None,
            first=50 if first is None else first,
            after=after,
        )
        try:
            found = await ctx.worklists.read(
                ctx.viewer,
                query,
                needs=needs.sources | {source for source, _ in needs.searches},
                request_id=ctx.request_id,
            )
        except AuditWriteError as exc:
            raise AccessLogUnavailable(
                "Your access could not be written to the patients' access logs, so the work "
                "list is not shown. Please try again."
            ) from exc
        _warn_unavailable(
            info, found.sources, "its sections are empty for the entries it did not answer for."
        )
        return found  # type: ignore[return-value]  # the model; see Worklist.is_type_of


def _warn_unavailable(info: Info, statuses: Iterable[SourceStatus], consequence: str) -> None:
    """A SOURCE_UNAVAILABLE error beside the data for each source that did not answer."""
    path = info.path.as_list()
    for status in statuses:
        if not status.ok:
            error = SourceUnavailable(
                f"Source '{status.name}' is unavailable ({status.error}); {consequence}",
                source=status.name,
            )
            info.context.warnings.append(
                GraphQLError(str(error), path=path, extensions=error.extensions)
            )


def _page_key(after: str | None) -> PageKey | None:
    if after is None:
        return None
    try:
        return decode_cursor(after)
    except ValueError:
        raise BadUserInput(
            "after is not a cursor of this access log: pass a page's endCursor as it came."
        ) from None


async def _access_log_query(
    info: Info, cpr: str | None, since: dt.datetime | None
) -> tuple[str, dt.datetime | None]:
    """The patient's pseudonym and ``since`` in UTC, once the caller may read their log.

    Raises:
        Forbidden: not the patient or their proxy.
        ConsentUnavailable: a proxy whose power of attorney cannot be checked.
        BadUserInput: a malformed CPR, or a ``since`` with no UTC equivalent.
    """
    ctx = info.context
    patient, _access = await ctx.plans.authorise(
        ctx.viewer, cpr, ctx.loaders, purpose=Purpose.ACCESS_LOG
    )
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    try:
        since_utc = since_in_utc(since)
    except ValueError:
        # Year 1 with a positive offset, or 9999 with a negative one, has no UTC time.
        raise BadUserInput(
            "since is out of range: it must be a time between years 1 and 9999 in UTC."
        ) from None
    return ctx.plans.pseudonym(patient), since_utc


async def _read_access_log(read: Awaitable[_T]) -> _T:
    try:
        return await read
    except Exception as exc:
        log.exception("access log read failed")
        raise AccessLogUnavailable("The access log cannot be read right now.") from exc
