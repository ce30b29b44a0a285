"""The one way to a source: each search's answer per patient, with how the search went.

:meth:`SourcePipeline.fetch`, in order, for each patient:

1. a fresh cache entry answers at once (no upstream call);
2. a search already under way for the same patient is joined (single flight), so N
   concurrent requests cost one upstream call, not N;
3. otherwise one upstream search carries every remaining patient, through the source's
   circuit breaker and bounded retries (:mod:`upstream.resilience`);
4. a failure is answered from a stale cache entry when one is young enough
   (``stale: true``), else with ``ok: false``.

It never raises for a failing source: one source down never takes the plan down.

Each call is one span, ``search <source> <type>`` (OpenTelemetry's API: a no-op without
an SDK): the cache's answer (``fresh``, ``stale`` or ``miss``), the outcome, the retries
and pages of the upstream search, and how many patients it carried. Counts only: no CPR.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass

from opentelemetry import trace

from connectors import Connector, Fetched, SearchKey
from core.cpr import pseudonymiser
from core.errors import UpstreamBadResponse, UpstreamError
from core.metrics import Metrics
from core.records import Record
from core.tracebacks import format_traceback
from core.tracing import span

from ._spans import SearchCalls, describe_search
from .cache import CacheEntry, SourceCache
from .recent import RecentResults
from .resilience import Resilience

__all__ = ["SourcePipeline", "SourceResult"]

log = logging.getLogger(__name__)

_tracer = trace.get_tracer("minplan.upstream")


@dataclass(frozen=True, slots=True)
class SourceResult:
    """One search's records for one patient, and how the search went."""

    records: tuple[Record, ...]
    ok: bool
    latency_ms: float | None = None
    error: str | None = None
    stale: bool = False
    cached: bool = False
    #: When (wall clock) the source gave these records; None when it did not answer.
    fetched_at: float | None = None


#: One upstream search's results by CPR: what its patients' joiners wait on.
_Batch = asyncio.Future[Mapping[str, SourceResult]]


class SourcePipeline:
    """Every connector of the gateway, by source name, behind the cache and resilience.

    Args:
        fresh_ttl: per source, seconds a cached answer is served instead of asking.
        stale_ttl: per source, seconds a cached answer may stand in for a failed search.
        recent: fresh results kept decoded at most, for callers that ask to (the work list).
    """

    def __init__(
        self,
        connectors: Mapping[str, Connector],
        *,
        metrics: Metrics,
        cache: SourceCache,
        resilience: Resilience,
        pseudonym_key: bytes,
        fresh_ttl: Mapping[str, float],
        stale_ttl: Mapping[str, float],
        recent: int = 4096,
    ) -> None:
        self.connectors = dict(connectors)
        self.metrics = metrics
        self.cache = cache
        self.resilience = resilience
        self.pseudonym_key = pseudonym_key
        self._pseudonym = pseudonymiser(pseudonym_key)
        self.fresh_ttl = dict(fresh_ttl)
        self.stale_ttl = dict(stale_ttl)
        self._inflight: dict[tuple[SearchKey, str], _Batch] = {}
        self.recent = RecentResults(recent)
        #: The searches a plan read makes. A connector's on-demand types (``CarePlan``) are
        #: left out, yet :meth:`fetch` answers them too, for a reader that asks.
        self.search_keys: tuple[SearchKey, ...] = tuple(
            (name, rtype) for name, c in self.connectors.items() for rtype in c.plan_types
        )
        self.all_search_keys: tuple[SearchKey, ...] = tuple(
            (name, rtype) for name, c in self.connectors.items() for rtype in c.resource_types
        )

    @property
    def in_flight(self) -> int:
        """Searches under way (per patient), for tests and shutdown."""
        return len(self._inflight)

    async def breaker_states(self) -> dict[str, str]:
        """Each source's circuit: ``closed``, ``opened`` or ``half-opened``."""
        return await self.resilience.states(self.connectors)

    async def fetch(
        self, key: SearchKey, cprs: Sequence[str], *, remember: bool = False
    ) -> list[SourceResult]:
        """The results of one search for many patients, in the order of ``cprs``.

        ``remember``: keep the fresh results decoded (:class:`upstream.recent.RecentResults`)
        for a caller that will ask again within the fresh TTL (the work list).
        """
        with span(_tracer, f"search {key[0]} {key[1]}") as current:
            upstream = SearchCalls()
            results = await self._fetch(key, cprs, upstream, remember)
            if current.is_recording():
                describe_search(current, key, len(set(cprs)), results, upstream)
            return results

    async def _fetch(
        self, key: SearchKey, cprs: Sequence[str], upstream: SearchCalls, remember: bool
    ) -> list[SourceResult]:
        results: dict[str, SourceResult] = {}
        joined: dict[str, _Batch] = {}
        inflight = self._inflight
        fresh_for = self.fresh_ttl.get(key[0], 0.0)
        recent = self.recent.fresh(key, fresh_for)
        lookup = []
        for cpr in dict.fromkeys(cprs):
            known = recent(cpr) if recent is not None else None
            if known is not None:
                results[cpr] = known
            elif (future := inflight.get((key, cpr))) is not None:
                joined[cpr] = future
            else:
                lookup.append(cpr)
        recalled = len(results)  # served from ``self.recent``
        cached = 0  # of ``lookup``, served fresh from the cache
        pseudonym = self._pseudonym
        refs = {cpr: pseudonym(cpr) for cpr in lookup}
        stale: dict[str, CacheEntry] | None = None
        owned = lookup
        if fresh_for > 0 and lookup:
            owned, stale = [], {}
            pairs = [(c, refs[c]) for c in lookup]
            entries = await self.cache.get_many(key, pairs, fresh_for=fresh_for)
            stale_for = self.stale_ttl.get(key[0], 0.0)
            now = time.time()
            for cpr, entry in zip(lookup, entries, strict=True):
                age = now - entry.fetched_at if entry is not None else None
                if entry is not None and age is not None and age < fresh_for:
                    cached += 1
                    at = entry.fetched_at
                    results[cpr] = SourceResult(
                        entry.records, ok=True, latency_ms=0.0, cached=True, fetched_at=at
                    )
                    continue
                if entry is not None and age is not None and age < stale_for:
                    stale[cpr] = entry
                future = inflight.get((key, cpr))  # another request may have started it
                if future is not None:
                    joined[cpr] = future
                    continue
                owned.append(cpr)
        # else: nothing may be served fresh, so the cache is read only if the source fails.
        # Counted once per search, not per patient: a work list looks up thousands.
        if hits := len(results):
            self.metrics.child(self.metrics.cache, key[0], "hit").inc(hits)
        if len(lookup) > cached:
            self.metrics.child(self.metrics.cache, key[0], "miss").inc(len(lookup) - cached)
        if owned:
            # One future for the whole search: whoever asks meanwhile for one of its patients
            # joins it (single flight).
            batch: _Batch = asyncio.get_running_loop().create_future()
            for cpr in owned:
                inflight[(key, cpr)] = batch
            try:
                fetched = await self._fetch_upstream(key, owned, refs, stale, upstream)
            except BaseException:  # cancelled: joiners get a failure, never a hang
                failed = SourceResult((), ok=False, error="cancelled")
                self._settle(key, batch, owned, dict.fromkeys(owned, failed))
                raise
            self._settle(key, batch, owned, fetched)
            results.update(fetched)
        if remember:  # all but those that came from there
            self.recent.keep(key, fresh_for, itertools.islice(results.items(), recalled, None))
        for cpr, future in joined.items():
            results[cpr] = (await asyncio.shield(future))[cpr]
        return [results[cpr] for cpr in cprs]

    def _settle(
        self,
        key: SearchKey,
        batch: _Batch,
        owned: Sequence[str],
        fetched: Mapping[str, SourceResult],
    ) -> None:
        inflight = self._inflight
        for cpr in owned:
            if inflight.get((key, cpr)) is batch:
                del inflight[(key, cpr)]
        if not batch.done():
            batch.set_result(fetched)

    async def _fetch_upstream(
        self,
        key: SearchKey,
        cprs: list[str],
        refs: Mapping[str, str],
        stale: Mapping[str, CacheEntry] | None,
        upstream: SearchCalls,
    ) -> dict[str, SourceResult]:
        """One upstream search for ``cprs``; on failure, ``stale`` entries stand in (None:
        the cache was not read yet, and is read now)."""
        source, resource_type = key
        connector = self.connectors[source]
        started = time.perf_counter()
        upstream.calls += 1

        def attempt() -> Awaitable[Fetched]:
            upstream.attempts += 1
            return connector.fetch(resource_type, cprs)

        try:
            fetched = await self.resilience.call(
                source, attempt, retry_within=connector.fhir.timeout
            )
        except Exception as exc:
            if isinstance(exc, UpstreamBadResponse) and len(cprs) > 1:
                # Bad data, not a source down: one patient's (an unreadable Consent, say)
                # must not fail the others who shared the search. Each is asked alone.
                log.warning(
                    "source %s %s failed for %d patients (%s): asking for each alone",
                    source, resource_type, len(cprs), exc.reason,
                )  # fmt: skip
                parts = await asyncio.gather(
                    *(self._fetch_upstream(key, [cpr], refs, stale, upstream) for cpr in cprs)
                )
                return {cpr: result for part in parts for cpr, result in part.items()}
            upstream.error = type(exc).__name__
            if isinstance(exc, UpstreamError):
                reason, label = exc.reason, type(exc).__name__
                log.warning("source %s %s failed: %s", source, resource_type, reason)
            else:
                reason, label = "internal error", "internal"
                log.error(
                    "source %s %s: unexpected error: %s",
                    source, resource_type, format_traceback(exc),
                )  # fmt: skip
            self.metrics.child(self.metrics.source_errors, source, label).inc()
            ms = (time.perf_counter() - started) * 1000
            if stale is None:
                stale = await self._stale_entries(key, cprs, refs)
            out = {}
            for cpr in cprs:
                entry = stale.get(cpr)
                if entry is not None and entry.usable:  # read only now: most never are
                    self.metrics.child(self.metrics.cache, source, "stale").inc()
                    out[cpr] = SourceResult(
                        entry.records,
                        ok=True,
                        latency_ms=ms,
                        stale=True,
                        fetched_at=entry.fetched_at,
                    )
                else:
                    out[cpr] = SourceResult((), ok=False, latency_ms=ms, error=reason)
            return out
        elapsed = time.perf_counter() - started
        upstream.pages += fetched.pages
        self.metrics.child(self.metrics.source_latency, source, resource_type).observe(elapsed)
        if fetched.skipped:
            self.metrics.child(self.metrics.bad_resources, source, resource_type).inc(
                fetched.skipped
            )
        now = time.time()
        by_cpr = {cpr: tuple(fetched.by_patient.get(cpr, ())) for cpr in cprs}
        await self.cache.put_many(
            key, [(refs[cpr], CacheEntry(now, recs)) for cpr, recs in by_cpr.items()]
        )
        ms = elapsed * 1000
        return {
            cpr: SourceResult(recs, ok=True, latency_ms=ms, fetched_at=now)
            for cpr, recs in by_cpr.items()
        }

    async def _stale_entries(
        self, key: SearchKey, cprs: Sequence[str], refs: Mapping[str, str]
    ) -> dict[str, CacheEntry]:
        """The cache's entries for ``cprs`` young enough to stand in for a failed search."""
        stale_for = self.stale_ttl.get(key[0], 0.0)
        if stale_for <= 0:
            return {}
        entries = await self.cache.get_many(key, [(c, refs[c]) for c in cprs], fresh_for=0.0)
        now = time.time()
        return {
            cpr: entry
            for cpr, entry in zip(cprs, entries, strict=True)
            if entry is not None and now - entry.fetched_at < stale_for
        }
