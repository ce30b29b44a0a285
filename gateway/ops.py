"""The operator's endpoints: liveness, readiness and Prometheus metrics (no token needed)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.metrics import Metrics

from .services import Services

__all__ = ["ops_routes"]


async def healthz(_request: Request) -> Response:
    """The process answers: nothing else is checked."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready while the access log answers and at least one source's circuit is not open.

    A plan with one source missing is still a plan (each source says so in ``sources``).
    """
    services: Services = request.app.state.services
    audit_ok = await services.access_log.ping()
    breakers = await services.pipeline.breaker_states()
    if services.worklists.listing is not None:  # the work list's, searched by clinic
        breakers |= await services.pipeline.resilience.states(["listing"])
    cache_ok = await services.cache.ping()
    any_source = any(state != "opened" for state in breakers.values())
    ready = audit_ok and any_source
    degraded = any(state != "closed" for state in breakers.values()) or not cache_ok
    body = {
        "status": "unavailable" if not ready else "degraded" if degraded else "ready",
        "accessLog": audit_ok,
        "cache": cache_ok,
        "sources": breakers,
    }
    return JSONResponse(body, status_code=200 if ready else 503)


def ops_routes(metrics: Metrics) -> list[Route]:
    """``/healthz``, ``/readyz`` and ``/metrics`` (this app's registry)."""

    async def metrics_endpoint(_request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
    ]
