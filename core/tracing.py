"""Spans through OpenTelemetry's API, at next to no cost when tracing is off.

The API's no-op spans still cost a context switch each (attach, detach, a generator); with
no SDK set up (``gateway/tracing.py`` sets one only when asked) :func:`span` skips even
that. Every span is made without recording exceptions or their messages as its status: a
message may quote a request's values, and a span never carries a CPR.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Tracer

__all__ = ["enable_tracing", "span", "tracing_on"]

_NO_SPAN = contextlib.nullcontext(INVALID_SPAN)
_on = False


def enable_tracing() -> None:
    """Make spans from now on: called once a tracer provider is set (it cannot be unset).

    A flag rather than asking the API each time: its check reads the environment, which
    costs more than the rest of a skipped span together.
    """
    global _on
    _on = True


def tracing_on() -> bool:
    """True once :func:`enable_tracing` was called (by the gateway's set-up, or a test's)."""
    return _on


def span(
    tracer: Tracer,
    name: str,
    *,
    attributes: Mapping[str, str | int] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    context: Context | None = None,
) -> contextlib.AbstractContextManager[Span]:
    """``tracer``'s span ``name``, current within the block; a shared no-op when off.

    Example:
        >>> with span(_tracer, "search journal DocumentReference") as s:  # doctest: +SKIP
        ...     s.set_attribute("minplan.patients", 3)
    """
    if not tracing_on():
        return _NO_SPAN
    return tracer.start_as_current_span(
        name,
        context=context,
        kind=kind,
        attributes=dict(attributes) if attributes else None,
        record_exception=False,
        set_status_on_exception=False,
    )
