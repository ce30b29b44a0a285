"""The sources as the gateway sees them: each search's answer per patient, with its status.

:meth:`SourceRegistry.fetch` is the one way to a source. In order, for each patient:

1. a fresh cache entry answers at once (no upstream call);
2. a search already under way for the same patient is joined (single flight), so N
   concurrent requests cost one upstream call, not N;
3. otherwise one upstream search carries every remaining patient, through the source's
   circuit breaker (open: no call at all) and bounded retries of fast failures;
4. a failure is answered from a stale cache entry when one is young enough
   (``stale: true``; never for consent, see the app), else with ``ok: false``.

With the memory cache, what a search returned is written :data:`FLUSH_AFTER` after the
answers are handed out, batched. Serialising the records cost 0.4-0.5 ms of a plan's time
at 1 client, all of it while the plan waited for its last source; written later, it falls
into a time the gateway waits anyway. Until they are written, lookups read them as cache
entries (fresh or stale by their age, as ever). A shared cache (Redis) is written before
the answers are handed out, so that another gateway instance can serve them as soon as
this one has answered.

It never raises for a failing source: one source down never takes the plan down.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import stamina
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from connectors import Connector, Fetched, SearchKey
from connectors.records import Record

from .cache import CacheEntry, SourceCache
from .errors import UpstreamBadResponse, UpstreamCircuitOpen, UpstreamError, UpstreamHTTPError
from .logs import format_traceback
from .metrics import Metrics
from .privacy import pseudonymise_cpr

__all__ = ["SourceRegistry", "SourceResult"]

log = logging.getLogger(__name__)

_RETRY_STATUSES = frozenset({502, 503, 504})
#: How long memory-cache writes wait (seconds): at 1 client, into the next plan's wait for
#: its sources, when the gateway has nothing else to do; under load, batched.
FLUSH_AFTER = 0.01


@dataclass(frozen=True, slots=True)
class SourceResult:
    """One search's records for one patient, and how the search went."""

    records: tuple[Record, ...]
    ok: bool
    latency_ms: float | None = None
    error: str | None = None
    stale: bool = False
    cached: bool = False


def _retryable(exc: Exception) -> bool:
    # Only fast, transient failures of an idempotent GET are worth another try: a refused
    # or reset connection, or a gateway error. A timeout is not retried: a hanging source
    # must cost at most its timeout.
    if isinstance(exc, UpstreamHTTPError):
        return exc.status_code in _RETRY_STATUSES
    return type(exc) is UpstreamError


class SourceRegistry:
    """All connectors of the gateway, by source name, with cache, breakers and retries."""

    def __init__(
        self,
        connectors: Mapping[str, Connector],
        *,
        metrics: Metrics,
        cache: SourceCache,
        pseudonym_key: bytes,
        fresh_ttl: Mapping[str, float],
        stale_ttl: Mapping[str, float],
        breaker_threshold: int = 5,
        breaker_cooldown: float = 15.0,
        retries: int = 1,
    ) -> None:
        self.connectors = dict(connectors)
        self.metrics = metrics
        self.cache = cache
        self.pseudonym_key = pseudonym_key
        self.fresh_ttl = dict(fresh_ttl)
        self.stale_ttl = dict(stale_ttl)
        self.retries = retries
        self.breakers = AsyncCircuitBreakerFactory(
            default_threshold=breaker_threshold, default_ttl=breaker_cooldown
        )
        self._inflight: dict[tuple[SearchKey, str], asyncio.Future[SourceResult]] = {}
        self._defer_writes = not cache.shared
        # Memory cache only: entries not written yet, readable as if they were (see above).
        self._unwritten: dict[tuple[SearchKey, str], CacheEntry] = {}
        self._flush_timer: asyncio.TimerHandle | None = None
        self._flushes: set[asyncio.Task[None]] = set()
        self.search_keys: tuple[SearchKey, ...] = tuple(
            (name, rtype) for name, c in self.connectors.items() for rtype in c.resource_types
        )

    async def breaker_states(self) -> dict[str, str]:
        """Each source's circuit: ``closed``, ``opened`` or ``half-opened``."""
        states: dict[str, str] = {}
        for name in self.connectors:
            breaker = await self.breakers.get_breaker(name)
            states[name] = breaker.context.state
        return states

    async def fetch(self, key: SearchKey, cprs: Sequence[str]) -> list[SourceResult]:
        """The results of one search for many patients, in the order of ``cprs``."""
        results: dict[str, SourceResult] = {}
        joined: dict[str, asyncio.Future[SourceResult]] = {}
        lookup = []
        for cpr in dict.fromkeys(cprs):
            future = self._inflight.get((key, cpr))
            if future is not None:
                joined[cpr] = future
            else:
                lookup.append(cpr)
        refs = {cpr: pseudonymise_cpr(cpr, self.pseudonym_key) for cpr in lookup}
        entries = await self.cache.get_many(key, [(c, refs[c]) for c in lookup]) if lookup else []
        if self._unwritten:  # newer than what the cache holds
            pending = self._unwritten
            entries = [pending.get((key, refs[c]), e) for c, e in zip(lookup, entries, strict=True)]
        fresh_for = self.fresh_ttl.get(key[0], 0.0)
        stale_for = self.stale_ttl.get(key[0], 0.0)
        stale: dict[str, CacheEntry] = {}
        owned: list[str] = []
        for cpr, entry in zip(lookup, entries, strict=True):
            if entry is not None and entry.age() < fresh_for:
                self.metrics.child(self.metrics.cache, key[0], "hit").inc()
                results[cpr] = SourceResult(entry.records, ok=True, latency_ms=0.0, cached=True)
                continue
            self.metrics.child(self.metrics.cache, key[0], "miss").inc()
            if entry is not None and entry.age() < stale_for:
                stale[cpr] = entry
            future = self._inflight.get((key, cpr))  # another request may have started it
            if future is not None:
                joined[cpr] = future
                continue
            self._inflight[(key, cpr)] = asyncio.get_running_loop().create_future()
            owned.append(cpr)
        if owned:
            try:
                fetched = await self._fetch_upstream(key, owned, refs, stale)
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

    def flush_soon(self) -> None:
        """Write the deferred cache entries now, in a task of their own (memory cache).

        A task not tied to any request: a client going away cannot cut a write short.
        """
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        busy = any(not task.done() for task in self._flushes)
        if not self._unwritten or busy:  # a flush under way: the rest goes after it
            if self._unwritten and self._flush_timer is None:
                loop = asyncio.get_running_loop()
                self._flush_timer = loop.call_later(FLUSH_AFTER, self.flush_soon)
            return
        task = asyncio.get_running_loop().create_task(self._flush())
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def flush(self) -> None:
        """Write what is deferred, and wait until it is written (tests, tools)."""
        while self._unwritten:
            self.flush_soon()
            await asyncio.gather(*self._flushes)

    def close(self) -> None:
        """Stop deferred writes (shutting down: a memory cache goes with the process)."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        self._unwritten.clear()

    async def _flush(self) -> None:
        # Entries stay readable until written, even should the cache suspend meanwhile; an
        # entry replaced by a newer one while writing stays for the next flush.
        unwritten = dict(self._unwritten)
        by_search: dict[SearchKey, list[tuple[str, CacheEntry]]] = {}
        for (key, ref), entry in unwritten.items():
            by_search.setdefault(key, []).append((ref, entry))
        for key, entries in by_search.items():
            await self.cache.set_many(key, entries)
        for pending_key, entry in unwritten.items():
            if self._unwritten.get(pending_key) is entry:
                del self._unwritten[pending_key]

    def _write_later(self, key: SearchKey, entries: list[tuple[str, CacheEntry]]) -> None:
        self._unwritten.update(((key, ref), entry) for ref, entry in entries)
        if self._flush_timer is None:
            self._flush_timer = asyncio.get_running_loop().call_later(FLUSH_AFTER, self.flush_soon)

    async def _fetch_upstream(
        self,
        key: SearchKey,
        cprs: list[str],
        refs: Mapping[str, str],
        stale: Mapping[str, CacheEntry],
    ) -> dict[str, SourceResult]:
        source, resource_type = key
        started = time.perf_counter()
        try:
            fetched = await self._call(key, cprs)
        except Exception as exc:
            if isinstance(exc, UpstreamBadResponse) and len(cprs) > 1:
                # Bad data, not a source down: one patient's (an unreadable Consent, say)
                # must not fail the others who shared the search. Each is asked alone.
                log.warning(
                    "source %s %s failed for %d patients (%s): asking for each alone",
                    source, resource_type, len(cprs), exc.reason,
                )  # fmt: skip
                parts = await asyncio.gather(
                    *(self._fetch_upstream(key, [cpr], refs, stale) for cpr in cprs)
                )
                return {cpr: result for part in parts for cpr, result in part.items()}
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
                if entry is not None:
                    self.metrics.child(self.metrics.cache, source, "stale").inc()
                    out[cpr] = SourceResult(entry.records, ok=True, latency_ms=ms, stale=True)
                else:
                    out[cpr] = SourceResult((), ok=False, latency_ms=ms, error=reason)
            return out
        elapsed = time.perf_counter() - started
        self.metrics.child(self.metrics.source_latency, source, resource_type).observe(elapsed)
        if fetched.skipped:
            self.metrics.child(self.metrics.bad_resources, source, resource_type).inc(
                fetched.skipped
            )
        now = time.time()
        by_cpr = {cpr: tuple(fetched.by_patient.get(cpr, ())) for cpr in cprs}
        entries = [(refs[cpr], CacheEntry(now, recs)) for cpr, recs in by_cpr.items()]
        if self._defer_writes:
            self._write_later(key, entries)
        else:
            await self.cache.set_many(key, entries)
        ms = elapsed * 1000
        return {cpr: SourceResult(recs, ok=True, latency_ms=ms) for cpr, recs in by_cpr.items()}

    async def _call(self, key: SearchKey, cprs: list[str]) -> Fetched:
        source, resource_type = key
        connector = self.connectors[source]
        breaker = await self.breakers.get_breaker(source)
        try:
            async with breaker:
                try:
                    return await connector.fetch(resource_type, cprs)
                except UpstreamError as exc:
                    # The retry machinery only once the first try failed: it cost 5% of the
                    # CPU under load when entered for every search.
                    if not (self.retries and _retryable(exc)):
                        raise
                await asyncio.sleep(random.uniform(0.01, 0.05))  # noqa: S311  jitter, not crypto
                async for attempt in stamina.retry_context(
                    on=_retryable,
                    attempts=self.retries,
                    timeout=connector.fhir.timeout,
                    wait_initial=0.02,
                    wait_max=0.2,
                    wait_jitter=0.05,
                ):
                    with attempt:
                        return await connector.fetch(resource_type, cprs)
        except OpenedState as exc:
            raise UpstreamCircuitOpen(source) from exc
        finally:
            self.metrics.child(self.metrics.breaker_state, source).set(
                1 if breaker.context.state == "opened" else 0
            )
        raise AssertionError("unreachable: stamina re-raises the last failure")
