"""Fresh search results kept decoded, a few thousand at most: a lookup is a dict get.

The source cache holds bytes, decoded on every read. A clinic's work list reads the same
patients' results again and again within their fresh TTL; kept here as records, a repeated
read skips the pseudonym, the cache and the decoding. Only what the source said is kept,
filtered for no one, and only while it may be served fresh: the same rule as the cache's
(a fresh TTL of 0 keeps nothing), so nothing is served here that the cache would not serve.
Failed and stale results are never kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from connectors import SearchKey

if TYPE_CHECKING:
    from .pipeline import SourceResult

__all__ = ["RecentResults"]


class RecentResults:
    """Per (search, CPR), the latest fresh result; the oldest kept go first past the bound.

    A plain dict in insertion order, not an LRU: every entry expires with its TTL anyway,
    and a lookup here must cost no more than the dict get it replaces.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self._results: dict[tuple[SearchKey, str], SourceResult] = {}
        self._max = max_entries

    def __len__(self) -> int:
        return len(self._results)

    def fresh(
        self, key: SearchKey, fresh_for: float
    ) -> Callable[[str], SourceResult | None] | None:
        """A lookup of ``key``'s fresh results by CPR, or None when there can be none."""
        if fresh_for <= 0 or not self._results:
            return None
        results, now = self._results, time.time()

        def lookup(cpr: str) -> SourceResult | None:
            found = results.get((key, cpr))
            if found is None or found.fetched_at is None or now - found.fetched_at >= fresh_for:
                return None
            return found

        return lookup

    def keep(
        self, key: SearchKey, fresh_for: float, results: Iterable[tuple[str, SourceResult]]
    ) -> None:
        """Keep ``results`` that are ok, not stale and still fresh, as cache hits."""
        if fresh_for <= 0 or self._max <= 0:
            return
        from .pipeline import SourceResult

        kept, now = self._results, time.time()
        for cpr, result in results:
            at = result.fetched_at
            if not result.ok or result.stale or at is None or now - at >= fresh_for:
                continue
            if not result.cached:  # served from here, it is a cache hit
                result = SourceResult(
                    result.records, ok=True, latency_ms=0.0, cached=True, fetched_at=at
                )
            kept.pop((key, cpr), None)  # re-inserted last: the newest go last
            kept[(key, cpr)] = result
        while len(kept) > self._max:
            del kept[next(iter(kept))]
