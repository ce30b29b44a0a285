"""The sources as the gateway sees them: each search's answer per patient, with its status.

:class:`SourceRegistry` turns connector results and failures into :class:`SourceResult`
values, one per patient, and never raises for a failing source: one source down never takes
the plan down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from connectors import Connector, SearchKey
from connectors.records import Record

from .errors import UpstreamError
from .metrics import Metrics

__all__ = ["SourceRegistry", "SourceResult"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourceResult:
    """One search's records for one patient, and how the search went."""

    records: tuple[Record, ...]
    ok: bool
    latency_ms: float | None = None
    error: str | None = None
    stale: bool = False


class SourceRegistry:
    """All connectors of the gateway, by source name."""

    def __init__(self, connectors: Mapping[str, Connector], *, metrics: Metrics) -> None:
        self.connectors = dict(connectors)
        self.metrics = metrics
        self.search_keys: tuple[SearchKey, ...] = tuple(
            (name, rtype) for name, c in self.connectors.items() for rtype in c.resource_types
        )

    async def fetch(self, key: SearchKey, cprs: Sequence[str]) -> list[SourceResult]:
        """The results of one search for many patients, in the order of ``cprs``."""
        source, resource_type = key
        connector = self.connectors[source]
        started = time.perf_counter()
        try:
            fetched = await connector.fetch(resource_type, cprs)
        except UpstreamError as exc:
            elapsed = time.perf_counter() - started
            self.metrics.source_errors.labels(source, type(exc).__name__).inc()
            log.warning("source %s %s failed: %s", source, resource_type, exc.reason)
            return [SourceResult((), ok=False, latency_ms=elapsed * 1000, error=exc.reason)] * len(
                cprs
            )
        except Exception:
            elapsed = time.perf_counter() - started
            self.metrics.source_errors.labels(source, "internal").inc()
            log.exception("source %s %s: unexpected error", source, resource_type)
            return [
                SourceResult((), ok=False, latency_ms=elapsed * 1000, error="internal error")
            ] * len(cprs)
        elapsed = time.perf_counter() - started
        self.metrics.source_latency.labels(source, resource_type).observe(elapsed)
        if fetched.skipped:
            self.metrics.bad_resources.labels(source, resource_type).inc(fetched.skipped)
        ms = elapsed * 1000
        return [
            SourceResult(tuple(fetched.by_patient.get(cpr, ())), ok=True, latency_ms=ms)
            for cpr in cprs
        ]
