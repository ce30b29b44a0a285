"""The span of one pipeline search: what its upstream calls did, as names and counts only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry.trace import Span, Status, StatusCode

from connectors import SearchKey

if TYPE_CHECKING:
    from .pipeline import SourceResult

__all__ = ["SearchCalls", "describe_search"]


@dataclass(slots=True)
class SearchCalls:
    """What one search's upstream calls did, for its span."""

    calls: int = 0
    attempts: int = 0
    pages: int = 0
    error: str | None = None


def describe_search(
    span: Span,
    key: SearchKey,
    patients: int,
    results: Sequence[SourceResult],
    upstream: SearchCalls,
) -> None:
    """The search's span attributes: names of configuration and counts, never a patient."""
    failed = sum(not r.ok for r in results)
    stale = sum(r.stale for r in results)
    fresh = sum(r.cached for r in results)
    if fresh == len(results):
        cache = "fresh"
    elif stale:
        cache = "stale"
    else:
        cache = "miss"
    span.set_attributes(
        {
            "minplan.source": key[0],
            "minplan.resource_type": key[1],
            "minplan.patients": patients,
            "minplan.cache": cache,
            "minplan.cache.fresh": fresh,
            "minplan.cache.stale": stale,
            "minplan.upstream.calls": upstream.calls,
            "minplan.upstream.retries": upstream.attempts - upstream.calls,
            "minplan.upstream.pages": upstream.pages,
            "minplan.outcome": "failed" if failed else ("stale" if stale else "ok"),
        }
    )
    if upstream.error is not None:
        span.set_attribute("error.type", upstream.error)
    if failed:
        span.set_status(Status(StatusCode.ERROR))
