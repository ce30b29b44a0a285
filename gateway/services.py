"""What lives as long as the app: opened in its lifespan, shared by every request, closed last.

The wiring of a plan request, top to bottom: the token verifier; the plan reader (the
domain), which fetches through the app-wide batch loaders; the source pipeline (cache,
single flight, resilience) over one connector per source; the access log.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from connectors import CONNECTOR_CLASSES
from core.errors import ConfigError
from core.localtime import fixed_day_clock, system_clock
from core.metrics import Metrics
from demo import data as demo_data
from plans.audit import AccessLog, open_access_log
from plans.reader import PlanReader
from plans.viewer import Viewer
from plans.worklist import WorklistReader
from schema import Context
from upstream.cache import SourceCache
from upstream.loaders import BatchLoaders, RequestLoaders
from upstream.pipeline import SourcePipeline

from . import wiring
from .auth import TokenVerifier
from .ratelimit import RateLimiter
from .settings import SOURCE_NAMES, Settings

__all__ = [
    "DEMO_FHIR_PATH",
    "READABLE_SOURCES",
    "Services",
    "auth_config",
    "listing_url",
    "open_services",
    "source_urls",
]

log = logging.getLogger(__name__)

#: Where the embedded demo's sources are mounted on the gateway's own port.
DEMO_FHIR_PATH = "/demo/fhir"

#: The sources this gateway has a connector for, in the contract's order: the only ones it
#: wires (the contract names some that later work reads).
READABLE_SOURCES: tuple[str, ...] = tuple(n for n in SOURCE_NAMES if n in CONNECTOR_CLASSES)


@dataclass(slots=True)
class Services:
    """Built in the lifespan (``app.state.services``), shared by every request."""

    verifier: TokenVerifier
    access_log: AccessLog
    pipeline: SourcePipeline
    cache: SourceCache
    plans: PlanReader
    worklists: WorklistReader
    metrics: Metrics
    loaders: BatchLoaders
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)

    def context(self, viewer: Viewer, *, request_id: str) -> Context:
        """One request's GraphQL context: its own loaders over the app-wide batches."""
        return Context(
            viewer=viewer,
            plans=self.plans,
            loaders=RequestLoaders(self.loaders),
            access_log=self.access_log,
            worklists=self.worklists,
            request_id=request_id,
        )


def source_urls(settings: Settings, demo_base: str | None) -> dict[str, str]:
    """Each wired source's base URL: the configured ones, or the demo's on this server.

    Only sources with a connector are wired; one configured without a connector is
    ignored, with a warning. A source without a URL is never asked (Settings require
    diagnoses and consent).
    """
    if settings.demo:
        if demo_base is None:
            raise ConfigError("demo mode needs the gateway's own base URL for its demo sources")
        return {n: f"{demo_base.rstrip('/')}{DEMO_FHIR_PATH}/{n}" for n in READABLE_SOURCES}
    urls: dict[str, str] = {}
    for name in settings.configured_sources():
        url = settings.source_url(name)
        if name == "listing":
            continue  # searched by clinic, for the work list: see listing_url
        if name not in READABLE_SOURCES:
            log.warning(
                "MINPLAN_SOURCE_%s_URL is set, but this gateway does not read the %s source "
                "yet: it is ignored",
                name.upper(),
                name,
            )
        elif url is not None:
            urls[name] = url
    return urls


def listing_url(settings: Settings, demo_base: str | None) -> str | None:
    """(v2) The ``listing`` source's base URL: configured, or the demo's on this server.

    Apart from :func:`source_urls`: the listing is searched by clinic for the work list,
    never by patient for a plan (``connectors.build_listing`` builds its connector).
    """
    if settings.demo:
        if demo_base is None:
            raise ConfigError("demo mode needs the gateway's own base URL for its demo sources")
        return f"{demo_base.rstrip('/')}{DEMO_FHIR_PATH}/listing"
    return settings.source_listing_url


def auth_config(settings: Settings, demo_jwks: Path | None) -> tuple[str, str]:
    """The token issuer and its JWKS URL: the configured ones, or the demo's dev issuer."""
    if settings.auth_issuer and settings.auth_jwks_url:
        return settings.auth_issuer, settings.auth_jwks_url
    if demo_jwks is None:  # Settings refuse this with real sources; the demo has its key
        raise ConfigError(
            "Config MINPLAN_AUTH_ISSUER and MINPLAN_AUTH_JWKS_URL are missing: their default, "
            "the demo's dev issuer, holds for the embedded demo only."
        )
    from .devtokens import DEV_ISSUER

    return DEV_ISSUER, demo_jwks.as_uri()


@contextlib.asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    source_urls: Mapping[str, str],
    listing_url: str | None = None,
    issuer: str,
    jwks_url: str,
    metrics: Metrics,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Services]:
    """Open every long-lived service, yield them, and close them in reverse."""
    upstream = transport or wiring.transport(settings)
    http = httpx.AsyncClient(transport=upstream)  # JWKS fetches; closes `upstream` too
    access_log = open_access_log(settings.audit_url)
    await access_log.start()
    verifier = TokenVerifier(
        issuer=issuer,
        jwks_url=jwks_url,
        audience=settings.auth_audience,
        leeway=settings.auth_leeway,
        max_lifetime=settings.auth_max_token_lifetime,
        http_client=http,
    )
    cache = SourceCache(
        settings.cache_url,
        max_age=max(settings.stale_ttl, 1.0),
        max_entries=settings.cache_max_entries,
    )
    pipeline = wiring.pipeline(settings, upstream, source_urls, cache=cache, metrics=metrics)
    # The demo's data is dated around its own day: its alerts are as of that day.
    clock = fixed_day_clock(demo_data.BASE_DAY) if settings.demo else system_clock
    services = Services(
        verifier=verifier,
        access_log=access_log,
        pipeline=pipeline,
        cache=cache,
        plans=PlanReader(
            search_keys=pipeline.search_keys,
            access_log=access_log,
            pseudonym_key=settings.pseudonym_key.encode(),
            deadline=settings.request_deadline,
            metrics=metrics,
            # The demo's data is dated around its own day: its alerts are as of that day.
            clock=clock,
            plan_deadline_days=settings.plan_deadline_days,
        ),
        worklists=WorklistReader(
            pipeline=pipeline,
            listing=wiring.listing_source(
                settings,
                upstream,
                listing_url,
                resilience=pipeline.resilience,
                metrics=metrics,
            ),
            access_log=access_log,
            pseudonym_key=settings.pseudonym_key.encode(),
            batch_size=settings.batch_size,
            deadline=settings.request_deadline,
            plan_deadline_days=settings.plan_deadline_days,
            clock=clock,
            metrics=metrics,
        ),
        metrics=metrics,
        loaders=BatchLoaders(pipeline, max_batch_size=settings.source_batch_size),
        rate_limiter=wiring.rate_limiter(settings),
    )
    log.info(
        "Min Plan gateway ready (%s sources, access log %s)",
        "demo" if settings.demo else "configured",
        settings.audit_url.split(":", 1)[0],
    )
    try:
        yield services
    finally:
        # Shutdown (contract §4): the server has let requests in flight finish, so every
        # access-log entry they owed is written; what the cache deferred goes out before
        # it closes, and the access log closes after everything that could write to it.
        await cache.flush()
        await verifier.aclose()
        await services.rate_limiter.aclose()
        await cache.close()
        await access_log.close()
        await http.aclose()
