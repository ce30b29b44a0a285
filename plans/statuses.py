"""How each source answered a read: one status per source asked (a plan's ``sources``)."""

from __future__ import annotations

from collections.abc import Iterable

from core.sources import SOURCE_NAMES
from plans.model import SourceStatus
from upstream.pipeline import SourceResult

__all__ = ["source_statuses"]


def source_statuses(
    results: Iterable[tuple[str, SourceResult]], *, of_patients: bool = False
) -> list[SourceStatus]:
    """One status per source asked, in the contract's order; none for the others.

    A source is ok when every search of it answered (for every patient, in a work list:
    ``of_patients`` then says for how many it failed).
    """
    by_source: dict[str, list[SourceResult]] = {}
    for source, result in results:
        by_source.setdefault(source, []).append(result)
    statuses: list[SourceStatus] = []
    for name in SOURCE_NAMES:
        parts = by_source.get(name)
        if parts is None:
            continue
        failed = [r for r in parts if not r.ok]
        latencies = [r.latency_ms for r in parts if r.latency_ms is not None]
        error = failed[0].error if failed else None
        if failed and of_patients:
            error = f"{error} ({len(failed)} of {len(parts)} patients)"
        statuses.append(
            SourceStatus(
                name=name,
                ok=not failed,
                stale=any(r.stale for r in parts),
                latency_ms=round(max(latencies), 2) if latencies else None,
                error=error,
                cached=all(r.cached for r in parts),
            )
        )
    return statuses
