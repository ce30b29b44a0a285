"""The root query: ``plan``, ``me`` and ``accessLog``."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

import strawberry
from graphql import GraphQLError

from core.errors import (
    AccessLogUnavailable,
    AuditWriteError,
    ConsentUnavailable,
    Forbidden,
    SourceUnavailable,
)
from core.tracebacks import format_traceback
from plans.consent import MAX_REASON_LENGTH, MIN_REASON_ALNUM, is_proxy_for
from plans.reader import resolve_patient

from .context import Context
from .types.plan import Plan
from .types.viewer import AccessLogEntry, Viewer

__all__ = ["Query"]

log = logging.getLogger(__name__)

Info = strawberry.Info[Context, None]

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
    strawberry.argument(description="Only entries at or after this time."),
]


@strawberry.type(description="Min Plan: one patient's chronic-care plan, from every sector.")
class Query:
    @strawberry.field(
        description=(
            "The plan of one patient as the caller may see it. A citizen may leave out `cpr` "
            "for their own plan; another patient's plan needs a power of attorney. "
            "`emergencyReason` breaks the glass (clinicians only): it overrides the patient's "
            "blocks for this request, and is logged."
        )
    )
    async def plan(
        self, info: Info, cpr: PatientCpr = None, emergency_reason: EmergencyReason = None
    ) -> Plan:
        ctx = info.context
        try:
            plan = await ctx.plans.read(
                ctx.viewer,
                cpr,
                ctx.loaders,
                emergency_reason=emergency_reason,
                request_id=ctx.request_id,
            )
        except AuditWriteError as exc:
            raise AccessLogUnavailable(
                "Your access could not be written to the patient's access log, so the plan "
                "is not shown. Please try again."
            ) from exc
        path = info.path.as_list()
        for status in plan.sources:
            if not status.ok:
                error = SourceUnavailable(
                    f"Source '{status.name}' is unavailable ({status.error}); "
                    "its sections are left out of this plan.",
                    source=status.name,
                )
                ctx.warnings.append(
                    GraphQLError(str(error), path=path, extensions=error.extensions)
                )
        return plan  # type: ignore[return-value]  # the model; see Plan.is_type_of

    @strawberry.field(description="Who the caller is, as the gateway understood the token.")
    def me(self, info: Info) -> Viewer:
        return info.context.viewer  # type: ignore[return-value]  # see Viewer.is_type_of

    @strawberry.field(
        description=(
            "Who has seen this patient's data, newest first: every plan read by a clinician "
            "or a proxy. For the patient (leave out `cpr`) and their proxies only."
        )
    )
    async def access_log(
        self, info: Info, cpr: PatientCpr = None, since: Since = None
    ) -> list[AccessLogEntry]:
        ctx = info.context
        viewer = ctx.viewer
        if not viewer.is_citizen:
            raise Forbidden("The access log is for the patient and their proxies only.")
        patient = resolve_patient(viewer, cpr)
        if patient != viewer.cpr:
            consents = await ctx.plans.consents_for(ctx.loaders, patient)
            if consents is None:
                raise ConsentUnavailable(
                    "The consent registry cannot be reached, so your power of attorney "
                    "cannot be checked."
                )
            if viewer.cpr is None or not is_proxy_for(consents, patient, viewer.cpr):
                raise Forbidden("You may read only your own access log or one you are proxy for.")
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        try:
            records = await ctx.access_log.entries(ctx.plans.pseudonym(patient), since=since)
        except Exception as exc:
            log.error("access log read failed: %s", format_traceback(exc))
            raise AccessLogUnavailable("The access log cannot be read right now.") from exc
        return [AccessLogEntry.from_record(r) for r in records]
