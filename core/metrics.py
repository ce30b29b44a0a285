"""Prometheus metrics (prometheus-client), served at ``/metrics``. No label ever holds a CPR."""

from __future__ import annotations

from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

__all__ = ["Metrics"]

_M = TypeVar("_M", bound=MetricWrapperBase)

_LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2, 5, 10)


class Metrics:
    """One set of metrics per app, on its own registry (tests build many apps)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._children: dict[tuple[MetricWrapperBase, tuple[str, ...]], Any] = {}
        r = self.registry
        self.source_latency = Histogram(
            "minplan_source_request_seconds",
            "Time for one upstream search, all pages, by source and resource type.",
            ["source", "resource_type"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.source_errors = Counter(
            "minplan_source_errors_total",
            "Failed upstream searches, by source and reason.",
            ["source", "reason"],
            registry=r,
        )
        self.bad_resources = Counter(
            "minplan_bad_resources_total",
            "Upstream resources skipped because they could not be read.",
            ["source", "resource_type"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "minplan_breaker_open",
            "1 while a source's circuit breaker is open (not called), else 0.",
            ["source"],
            registry=r,
        )
        self.cache = Counter(
            "minplan_cache_total",
            "Source cache lookups, by source and result (hit, miss, stale).",
            ["source", "result"],
            registry=r,
        )
        self.request_latency = Histogram(
            "minplan_graphql_request_seconds",
            "Time to answer one authenticated GraphQL request over HTTP.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.plans = Counter(
            "minplan_plans_total",
            "Plans served, by viewer kind (patient, proxy, clinician).",
            ["viewer"],
            registry=r,
        )
        self.worklist_entries = Counter(
            "minplan_worklist_entries_total",
            "Work-list entries served to clinicians (each one an access-log entry).",
            registry=r,
        )

    def child(self, metric: _M, *values: str) -> _M:
        """``metric.labels(*values)``, looked up once: prometheus-client checks the values
        and takes a lock on every call (3 per search, a few µs each, on a plan's critical
        path). Label values are source names, resource types and outcomes: a few dozen.
        """
        key = (metric, values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found
