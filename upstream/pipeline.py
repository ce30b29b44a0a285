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
import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from connectors import Connector, Fetched, SearchKey
from core.cpr import pseudonymiser
from core.errors import UpstreamBadResponse, UpstreamError
from core.metrics import Metrics
from core.records import Record
from core.tracebacks import format_traceback
from core.tracing import span

from .cache import CacheEntry, SourceCache
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


@dataclass(slots=True)
class _Upstream:
    """What one search's upstream calls did, for its span."""

    calls: int = 0
    attempts: int = 0
    pages: int = 0
    error: str | None = None


class SourcePipeline:
    """Every connector of the gateway, by source name, behind the cache and resilience.

    Args:
        fresh_ttl: per source, seconds a cached answer is served instead of asking.
        stale_ttl: per source, seconds a cached answer may stand in for a failed search.
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
    ) -> None:
        self.connectors = dict(connectors)
        self.metrics = metrics
        self.cache = cache
        self.resilience = resilience
        self.pseudonym_key = pseudonym_key
        self._pseudonym = pseudonymiser(pseudonym_key)
        self.fresh_ttl = dict(fresh_ttl)
        self.stale_ttl = dict(stale_ttl)
        self._inflight: dict[tuple[SearchKey, str], asyncio.Future[SourceResult]] = {}
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

    async def fetch(self, key: SearchKey, cprs: Sequence[str]) -> list[SourceResult]:
        """The results of one search for many patients, in the order of ``cprs``."""
        with span(_tracer, f"search {key[0]} {key[1]}") as current:
            upstream = _Upstream()
            results = await self._fetch(key, cprs, upstream)
            if current.is_recording():
                _describe(current, key, len(set(cprs)), results, upstream)
            return results

    async def _fetch(
        self, key: SearchKey, cprs: Sequence[str], upstream: _Upstream
    ) -> list[SourceResult]:
        results: dict[str, SourceResult] = {}
        joined: dict[str, asyncio.Future[SourceResult]] = {}
        lookup = []
        for cpr in dict.fromkeys(cprs):
            future = self._inflight.get((key, cpr))
            if future is not None:
                joined[cpr] = future
            else:
                lookup.append(cpr)
        pseudonym = self._pseudonym
        refs = {cpr: pseudonym(cpr) for cpr in lookup}
        fresh_for = self.fresh_ttl.get(key[0], 0.0)
        pairs = [(c, refs[c]) for c in lookup]
        entries = await self.cache.get_many(key, pairs, fresh_for=fresh_for) if lookup else []
        stale_for = self.stale_ttl.get(key[0], 0.0)
        stale: dict[str, CacheEntry] = {}
        owned: list[str] = []
        hits = 0
        now = time.time()
        for cpr, entry in zip(lookup, entries, strict=True):
            age = now - entry.fetched_at if entry is not None else None
            if entry is not None and age is not None and age < fresh_for:
                hits += 1
                results[cpr] = SourceResult(
                    entry.records, ok=True, latency_ms=0.0, cached=True, fetched_at=entry.fetched_at
                )
                continue
            if entry is not None and age is not None and age < stale_for:
                stale[cpr] = entry
            future = self._inflight.get((key, cpr))  # another request may have started it
            if future is not None:
                joined[cpr] = future
                continue
            self._inflight[(key, cpr)] = asyncio.get_running_loop().create_future()
            owned.append(cpr)
        # Counted once per search, not per patient: a work list looks up thousands.
        if hits:
            self.metrics.child(self.metrics.cache, key[0], "hit").inc(hits)
        if len(lookup) > hits:
            self.metrics.child(self.metrics.cache, key[0], "miss").inc(len(lookup) - hits)
        if owned:
            try:
                fetched = await self._fetch_upstream(key, owned, refs, stale, upstream)
            except BaseException:  # cancelled: joiners get a failure, never a hang
                self._settle(key, {c: SourceResult((), ok=False, error="cancelled") for c in owned})
                raise
            self._settle(key, fetched)
            results.update(fetched)
        for cpr, future in joined.items():
            results[cpr] = await asyncio.shield(future)
        return [results[cpr] for cpr in cprs]

    def _settle(self, key: SearchKey, fetched: Mapping[str, SourceResult]) -> None:
        for cpr, result in fetched.items():
            future = self._inflight.pop((key, cpr), None)
            if future is not None and not future.done():
                future.set_result(result)

    async def _fetch_upstream(
        self,
        key: SearchKey,
        cprs: list[str],
        refs: Mapping[str, str],
        stale: Mapping[str, CacheEntry],
        upstream: _Upstream,
    ) -> dict[str, SourceResult]:
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


def _describe(
    span: Span,
    key: SearchKey,
    patients: int,
    results: Sequence[SourceResult],
    upstream: _Upstream,
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
