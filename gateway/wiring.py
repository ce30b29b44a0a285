"""How the long-lived services are built from the settings: the upstream HTTP transport,
one connector per source behind the pipeline, the listing source and the rate limiter.
:mod:`gateway.services` opens them in the app's lifespan."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from connectors import CONNECTOR_CLASSES, Connector, FhirClient
from connectors.listing import ListingConnector
from core.metrics import Metrics
from plans.consent import source_cache_ttls
from upstream.cache import SourceCache
from upstream.listing import ListingSource
from upstream.pipeline import SourcePipeline
from upstream.resilience import Resilience

from .ratelimit import RateLimiter, parse_rate_limit
from .settings import Settings

__all__ = ["fhir_client", "listing_source", "pipeline", "rate_limiter", "transport"]


def rate_limiter(settings: Settings) -> RateLimiter:
    if settings.rate_limit is None:
        return RateLimiter()
    redis = settings.cache_url if settings.cache_url.startswith(("redis://", "rediss://")) else None
    return RateLimiter(
        parse_rate_limit(settings.rate_limit),
        redis_url=redis,
        pseudonym_key=settings.pseudonym_key.encode(),
    )


def transport(settings: Settings) -> httpx.AsyncBaseTransport:
    limits = httpx.Limits(
        max_connections=settings.http_max_connections,
        max_keepalive_connections=settings.http_max_connections,
    )
    if settings.http_transport == "aiohttp":
        # httpcore's pool assignment is quadratic under concurrency; aiohttp's connector is
        # not. The httpx API (and respx in tests) stays the same.
        from connectors.transport import SourceTransport

        return SourceTransport(limits=limits)
    return httpx.AsyncHTTPTransport(limits=limits)


def fhir_client(
    settings: Settings, upstream: httpx.AsyncBaseTransport, name: str, url: str
) -> FhirClient:
    return FhirClient(
        upstream,
        source=name,
        base_url=url,
        timeout=settings.timeout_for(name),
        page_size=settings.listing_page_size if name == "listing" else settings.source_page_size,
        max_pages=settings.source_max_pages,
    )


def listing_source(
    settings: Settings,
    upstream: httpx.AsyncBaseTransport,
    url: str | None,
    *,
    resilience: Resilience,
    metrics: Metrics,
) -> ListingSource | None:
    if url is None:
        return None
    return ListingSource(
        ListingConnector(fhir_client(settings, upstream, "listing", url)),
        resilience=resilience,
        metrics=metrics,
        fresh_ttl=settings.ttl_for("listing"),
        stale_ttl=settings.stale_ttl,
    )


def pipeline(
    settings: Settings,
    upstream: httpx.AsyncBaseTransport,
    urls: Mapping[str, str],
    *,
    cache: SourceCache,
    metrics: Metrics,
) -> SourcePipeline:
    connectors: dict[str, Connector] = {}
    for name, url in urls.items():
        if name in CONNECTOR_CLASSES:  # the listing is searched by clinic: see listing_source
            connectors[name] = CONNECTOR_CLASSES[name](fhir_client(settings, upstream, name, url))
    ttls = {
        name: source_cache_ttls(
            name,
            fresh=settings.ttl_for(name),
            stale=settings.stale_ttl,
            consent_fresh_at_most=settings.consent_cache_ttl,
        )
        for name in connectors
    }
    return SourcePipeline(
        connectors,
        metrics=metrics,
        cache=cache,
        resilience=Resilience(
            metrics=metrics,
            breaker_threshold=settings.breaker_threshold,
            breaker_cooldown=settings.breaker_cooldown,
            retries=settings.retries,
        ),
        pseudonym_key=settings.pseudonym_key.encode(),
        fresh_ttl={n: fresh for n, (fresh, _stale) in ttls.items()},
        stale_ttl={n: stale for n, (_fresh, stale) in ttls.items()},
    )
