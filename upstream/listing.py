"""Who is listed with a clinic: the ``listing`` source behind resilience and a small cache.

The listing is searched by clinic, not by patient, so it does not go through
:class:`upstream.pipeline.SourcePipeline` (whose cache and batches are per patient). It gets
the same protection: the source's circuit breaker and bounded retries, one search at a time
per clinic (concurrent work lists of one clinic share it), a fresh answer served from memory
for the source's TTL, and a stale one standing in for a failed search.

The answer is the register's list for an organisation, the same for every clinician of it
and filtered for no one, so sharing it between that organisation's requests is safe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from cachetools import TTLCache

from connectors.listing import ListingConnector
from core.errors import UpstreamError
from core.metrics import Metrics
from core.records import ListedPatient
from core.tracebacks import format_traceback

from .resilience import Resilience

__all__ = ["ListingAnswer", "ListingSource"]

log = logging.getLogger(__name__)

SOURCE = "listing"


@dataclass(frozen=True, slots=True)
class ListingAnswer:
    """The patients listed with one organisation, and how the search went."""

    patients: tuple[ListedPatient, ...]
    ok: bool
    latency_ms: float | None = None
    error: str | None = None
    stale: bool = False
    cached: bool = False


@dataclass(frozen=True, slots=True)
class _Entry:
    fetched_at: float
    patients: tuple[ListedPatient, ...]


class ListingSource:
    """The listing connector with resilience, single flight and a fresh/stale cache.

    Args:
        fresh_ttl: seconds an answer is served without asking again.
        stale_ttl: seconds an answer may stand in for a failed search.
        max_orgs: organisations remembered at most (least recently stored go first).
    """

    def __init__(
        self,
        connector: ListingConnector,
        *,
        resilience: Resilience,
        metrics: Metrics,
        fresh_ttl: float,
        stale_ttl: float,
        max_orgs: int = 1024,
    ) -> None:
        self.connector = connector
        self.resilience = resilience
        self.metrics = metrics
        self.fresh_ttl = fresh_ttl
        self.stale_ttl = stale_ttl
        self._cache: TTLCache[str, _Entry] = TTLCache(
            maxsize=max_orgs, ttl=max(fresh_ttl, stale_ttl, 1.0)
        )
        self._inflight: dict[str, asyncio.Future[ListingAnswer]] = {}

    async def listed(self, org: str) -> ListingAnswer:
        """Who ``org`` (an SOR code) has listed; never raises for a failing source."""
        entry = self._cache.get(org)
        if entry is not None and time.time() - entry.fetched_at < self.fresh_ttl:
            self.metrics.child(self.metrics.cache, SOURCE, "hit").inc()
            return ListingAnswer(entry.patients, ok=True, latency_ms=0.0, cached=True)
        self.metrics.child(self.metrics.cache, SOURCE, "miss").inc()
        running = self._inflight.get(org)
        if running is not None:
            return await asyncio.shield(running)
        future = self._inflight[org] = asyncio.get_running_loop().create_future()
        try:
            answer = await self._search(org, entry)
        except BaseException:  # cancelled: whoever joined gets a failure, never a hang
            future.set_result(ListingAnswer((), ok=False, error="cancelled"))
            raise
        finally:
            self._inflight.pop(org, None)
        future.set_result(answer)
        return answer

    async def _search(self, org: str, entry: _Entry | None) -> ListingAnswer:
        started = time.perf_counter()
        try:
            found = await self.resilience.call(
                SOURCE,
                lambda: self.connector.listed(org),
                retry_within=self.connector.fhir.timeout,
            )
        except Exception as exc:
            ms = round((time.perf_counter() - started) * 1000, 2)
            if isinstance(exc, UpstreamError):
                reason, label = exc.reason, type(exc).__name__
                log.warning("source %s Patient failed: %s", SOURCE, reason)
            else:
                reason, label = "internal error", "internal"
                log.error("source %s: unexpected error: %s", SOURCE, format_traceback(exc))
            self.metrics.child(self.metrics.source_errors, SOURCE, label).inc()
            if entry is not None and time.time() - entry.fetched_at < self.stale_ttl:
                self.metrics.child(self.metrics.cache, SOURCE, "stale").inc()
                return ListingAnswer(entry.patients, ok=True, latency_ms=ms, stale=True)
            return ListingAnswer((), ok=False, latency_ms=ms, error=reason)
        elapsed = time.perf_counter() - started
        self.metrics.child(self.metrics.source_latency, SOURCE, "Patient").observe(elapsed)
        if found.skipped:
            self.metrics.child(self.metrics.bad_resources, SOURCE, "Patient").inc(found.skipped)
        self._cache[org] = _Entry(time.time(), found.patients)
        return ListingAnswer(found.patients, ok=True, latency_ms=round(elapsed * 1000, 2))
