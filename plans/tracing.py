"""The plan domain's spans: the consent decision and the access-log write.

OpenTelemetry's API only (a no-op without an SDK: see ``gateway/tracing.py``). A span says
what kind of viewer, how many classes were denied, how many entries were written and how
it ended; never whose data it was. Exceptions are not recorded (their messages may quote
a request's values), their type is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span, Status, StatusCode

from core.errors import ConsentUnavailable, Forbidden
from core.tracing import span, tracing_on
from plans.audit import AccessContext
from plans.consent import Access, ViewerKind

__all__ = ["access_log_span", "consent_span", "note_access", "note_decisions"]

_tracer = trace.get_tracer("minplan.plans")
_NO_SPAN = contextlib.nullcontext(INVALID_SPAN)


@contextlib.contextmanager
def _span(name: str, attributes: dict[str, str | int]) -> Iterator[Span]:
    with span(_tracer, name, attributes=attributes) as current:
        try:
            yield current
        except Exception as exc:
            if current.is_recording():
                current.set_attribute("error.type", type(exc).__name__)
                current.set_attribute("minplan.outcome", _outcome(exc))
                if not isinstance(exc, Forbidden | ConsentUnavailable):
                    current.set_status(Status(StatusCode.ERROR))
            raise


def _outcome(exc: Exception) -> str:
    if isinstance(exc, ConsentUnavailable):
        return "unavailable"
    if isinstance(exc, Forbidden):
        return "forbidden"
    return "failed"


def consent_span(kind: ViewerKind) -> contextlib.AbstractContextManager[Span]:
    """``consent decision``: a refusal ends it as ``forbidden`` or ``unavailable``."""
    if not tracing_on():
        return _NO_SPAN
    return _span("consent decision", {"minplan.viewer.kind": kind.value})


def note_access(span: Span, access: Access) -> None:
    """The decision: how many classes were denied (or overridden by breaking the glass)."""
    if not span.is_recording():
        return
    if access.overridden:
        outcome = "overridden"
    elif access.denied:
        outcome = "restricted"
    else:
        outcome = "granted"
    span.set_attributes(
        {
            "minplan.consent.denied_classes": len(access.denied),
            "minplan.consent.overridden_classes": len(access.overridden),
            "minplan.outcome": outcome,
        }
    )


def note_decisions(span: Span, *, decided: int, kept: int) -> None:
    """A work list's decisions: how many listed patients were decided, how many are shown."""
    if span.is_recording():
        span.set_attributes(
            {
                "minplan.consent.patients": decided,
                "minplan.consent.patients_shown": kept,
                "minplan.outcome": "decided",
            }
        )


def access_log_span(
    context: AccessContext, entries: int
) -> contextlib.AbstractContextManager[Span]:
    """``access log write`` of ``entries`` entries; ``ok`` unless the write raised."""
    if not tracing_on():
        return _NO_SPAN
    return _span(
        "access log write",
        {
            "minplan.access_log.context": context.value,
            "minplan.access_log.entries": entries,
            "minplan.outcome": "ok",
        },
    )
