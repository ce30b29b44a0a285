"""The ASGI app: routes, lifespan (HTTP client, access log, connectors), and the demo.

Request path: ``/graphql`` → bearer token verified (401 otherwise, before anything else)
→ per-request context (over the app's shared DataLoaders) → ``plan`` resolver → PlanReader
(fetch all sources concurrently through the loaders → consent decision → filter → assemble
→ access log) → strawberry serialises plain attributes.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.types import ExecutionResult

from connectors import CONNECTOR_CLASSES, Connector, FhirClient
from core.errors import AuthError, ConfigError
from core.metrics import Metrics
from plans.audit import AccessLog, open_access_log
from plans.consent import source_cache_ttls
from plans.reader import PlanReader
from schema import Context, build_schema
from upstream.cache import SourceCache
from upstream.loaders import BatchLoaders, RequestLoaders
from upstream.pipeline import SourcePipeline
from upstream.resilience import Resilience

from .auth import TokenVerifier, bearer_token
from .edge import BodyLimit, SecurityHeaders, error_response, request_id
from .playground import playground_html
from .settings import DEV_PSEUDONYM_KEY, SOURCE_NAMES, Settings

__all__ = ["Services", "create_app"]

log = logging.getLogger(__name__)

DEMO_FHIR_PATH = "/demo/fhir"


@dataclass(slots=True)
class Services:
    """What lives as long as the app: built in the lifespan, shared by every request."""

    settings: Settings
    http: httpx.AsyncClient
    verifier: TokenVerifier
    access_log: AccessLog
    pipeline: SourcePipeline
    cache: SourceCache
    plans: PlanReader
    metrics: Metrics
    loaders: BatchLoaders


def _transport(settings: Settings) -> httpx.AsyncBaseTransport:
    limits = httpx.Limits(
        max_connections=settings.http_max_connections,
        max_keepalive_connections=settings.http_max_connections,
    )
    if settings.http_transport == "aiohttp":
        # httpcore's pool assignment is quadratic under concurrency (see README, benchmark);
        # aiohttp's connector is not. The httpx API (and respx in tests) stays the same.
        from connectors.transport import SourceTransport

        return SourceTransport(limits=limits)
    return httpx.AsyncHTTPTransport(limits=limits)


def _source_urls(settings: Settings, demo_base: str | None) -> dict[str, str]:
    if settings.demo:
        if demo_base is None:
            raise ConfigError("demo mode needs the gateway's own base URL for its demo sources")
        return {n: f"{demo_base.rstrip('/')}{DEMO_FHIR_PATH}/{n}" for n in SOURCE_NAMES}
    missing = settings.missing_sources()
    if missing:
        names = ", ".join(f"MINPLAN_SOURCE_{n.upper()}_URL" for n in missing)
        raise ConfigError(
            f"Config {names} is missing. Set every source, or none for the embedded demo."
        )
    return {n: url for n in SOURCE_NAMES if (url := settings.source_url(n))}


def _auth_config(settings: Settings, demo_jwks: Path | None) -> tuple[str, str]:
    if settings.auth_issuer and settings.auth_jwks_url:
        return settings.auth_issuer, settings.auth_jwks_url
    if settings.demo and demo_jwks is not None:
        from .devtokens import DEV_ISSUER

        return DEV_ISSUER, demo_jwks.as_uri()
    missing = [
        name
        for name, value in (
            ("MINPLAN_AUTH_ISSUER", settings.auth_issuer),
            ("MINPLAN_AUTH_JWKS_URL", settings.auth_jwks_url),
        )
        if not value
    ]
    raise ConfigError(f"Config {' and '.join(missing)} is missing, and has no default.")


class AuthenticatedGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI app behind a bearer-token check: no token, no GraphQL (HTTP 401)."""

    def __init__(self, app_state: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._state = app_state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await Response(status_code=404)(scope, receive, send)
            return
        request = Request(scope, receive)
        if self._is_playground(request):
            page = await self.render_graphql_ide(request)
            await page(scope, receive, send)
            return
        services: Services = self._state.services
        try:
            token = bearer_token(request.headers.get("authorization"))
            viewer = await services.verifier.verify(token)
        except AuthError as exc:
            await _unauthenticated(str(exc))(scope, receive, send)
            return
        scope["minplan.viewer"] = viewer
        started = time.perf_counter()
        try:
            try:
                response = await self.run(request)
            except HTTPException as exc:  # a client's mistake: JSON with a code, as every error
                headers = {"Allow": "GET, POST"} if exc.status_code == 405 else None
                response = error_response(exc.status_code, _sentence(exc.reason), headers=headers)
            await response(scope, receive, send)
        finally:
            services.metrics.request_latency.observe(time.perf_counter() - started)

    def _is_playground(self, request: Request) -> bool:
        return (
            self.graphql_ide is not None
            and request.method == "GET"
            and "text/html" in request.headers.get("accept", "")
            and "query" not in request.query_params
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return playground_html(self.graphql_ide_html, getattr(self._state, "playground", None))

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        # orjson refuses what would break later as a 500: invalid UTF-8, nesting past 1024,
        # numbers that overflow to infinity. Its error is a JSONDecodeError (HTTP 400).
        return orjson.loads(data)

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData:
        """One GraphQL request from a GET query string or a JSON POST body, checked for shape.

        Strawberry's own accepts any JSON value and fails with a 500 on one that is not an
        object; there is no batching or multipart here, so those are refused too.
        """
        if request.method == "GET":
            data: object = self.parse_query_params(request.query_params)
        else:
            content_type, _ = parse_content_type(request.content_type or "")
            if content_type != "application/json":
                raise HTTPException(415, "The request body must be JSON (application/json)")
            data = self.parse_json(await request.get_body())
        if not isinstance(data, dict):
            raise HTTPException(400, 'The request body must be a JSON object: {"query": "…"}')
        checks = (
            ("query", str, "a string"),
            ("operationName", str, "a string"),
            ("variables", dict, "an object"),
            ("extensions", dict, "an object"),
        )
        for key, kind, what in checks:
            if data.get(key) is not None and not isinstance(data[key], kind):
                raise HTTPException(400, f"The request's `{key}` must be {what} or null")
        return GraphQLRequestData(
            query=data.get("query"),
            variables=data.get("variables"),
            operation_name=data.get("operationName"),
            extensions=data.get("extensions"),
        )

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        for error in response.get("errors") or ():
            if isinstance(error, dict):
                _give_a_code(error)
        return response

    async def get_context(self, request: Any, response: Any) -> Context:
        services: Services = self._state.services
        return Context(
            viewer=request.scope["minplan.viewer"],
            plans=services.plans,
            loaders=RequestLoaders(services.loaders),
            access_log=services.access_log,
            request_id=request_id(request.headers.get("x-request-id")),
        )


def _give_a_code(error: dict[str, Any]) -> None:
    """Every error carries ``extensions.code``; ours have one, graphql-core's get one here.

    The names are the ones GraphQL servers commonly use (Apollo's): a query that does not
    parse (the token limit included), one that does not validate (the depth and alias
    limits included). An error during execution without a code is a masked bug.
    """
    extensions = error.get("extensions") or {}
    if "code" in extensions:
        return
    if "path" in error:
        code = "INTERNAL_SERVER_ERROR"
    elif str(error.get("message", "")).startswith("Syntax Error"):
        code = "GRAPHQL_PARSE_FAILED"
    else:
        code = "GRAPHQL_VALIDATION_FAILED"
    error["extensions"] = {**extensions, "code": code}  # a copy: cached errors stay as they are


def _sentence(reason: str) -> str:
    return reason if reason.endswith(".") else f"{reason}."


def _loopback_only(app: ASGIApp) -> ASGIApp:
    """The demo's sources answer the gateway on this machine, nobody else.

    They serve raw synthetic FHIR, withheld notes included, with no token (as an upstream
    source would to the gateway): under ``--host 0.0.0.0`` other machines get a 403.
    """

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        host = client[0] if client else ""
        if scope["type"] == "http" and host not in ("127.0.0.1", "::1", "localhost"):
            await PlainTextResponse("demo sources answer loopback only", 403)(scope, receive, send)
            return
        await app(scope, receive, send)

    return guarded


def _unauthenticated(reason: str) -> Response:
    body = {"errors": [{"message": f"Unauthenticated: {reason}.",
                        "extensions": {"code": "UNAUTHENTICATED"}}]}  # fmt: skip
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})


class _Gateway(Starlette):
    """Starlette with the security headers outermost, so even its own 500 answer has them."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(
    settings: Settings | None = None,
    *,
    self_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    demo_key_path: Path | None = None,
) -> Starlette:
    """Build the gateway.

    Args:
        settings: read from the environment when None.
        self_url: this server's own base URL; in demo mode the sources are called there.
        transport: an httpx transport for every upstream call (tests pass a mock).
        demo_key_path: the demo token issuer's key file (default: the user's state dir).
    """
    settings = settings or Settings()
    metrics = Metrics()
    schema = build_schema(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
    )
    routes: list[Route | Mount] = []
    demo_jwks: Path | None = None
    playground: dict[str, str] | None = None
    if settings.demo:
        from demo.sources import create_sources_app

        from .demo import demo_playground, write_demo_jwks

        demo_jwks, issuer = write_demo_jwks(demo_key_path)
        playground = demo_playground(issuer)
        sources = create_sources_app()
        sources.router.redirect_slashes = False  # its redirects would name the Host header
        routes.append(Mount(DEMO_FHIR_PATH, app=_loopback_only(sources)))
        jwks = issuer.jwks()
        routes.append(Route("/demo/jwks.json", lambda _r: JSONResponse(jwks)))
    source_urls = _source_urls(settings, self_url)
    if not settings.demo and (
        settings.pseudonym_key == DEV_PSEUDONYM_KEY or len(settings.pseudonym_key) < 32
    ):
        raise ConfigError(
            "Config MINPLAN_PSEUDONYM_KEY must be set to a secret of at least 32 characters "
            "when real sources are configured: with a known key, the pseudonyms in the "
            "access log could be reversed by trying every CPR."
        )
    issuer_name, jwks_url = _auth_config(settings, demo_jwks)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        upstream = transport or _transport(settings)
        http = httpx.AsyncClient(transport=upstream)  # JWKS fetches; closes `upstream` too
        access_log = open_access_log(settings.audit_url)
        await access_log.start()
        verifier = TokenVerifier(
            issuer=issuer_name,
            jwks_url=jwks_url,
            audience=settings.auth_audience,
            leeway=settings.auth_leeway,
            max_lifetime=settings.auth_max_token_lifetime,
            http_client=http,
        )
        connectors: dict[str, Connector] = {}
        for name, url in source_urls.items():
            fhir = FhirClient(
                upstream,
                source=name,
                base_url=url,
                timeout=settings.timeout_for(name),
                page_size=settings.source_page_size,
                max_pages=settings.source_max_pages,
            )
            connectors[name] = CONNECTOR_CLASSES[name](fhir)
        cache = SourceCache(
            settings.cache_url,
            max_age=max(settings.stale_ttl, 1.0),
            max_entries=settings.cache_max_entries,
        )
        ttls = {
            name: source_cache_ttls(
                name,
                fresh=settings.ttl_for(name),
                stale=settings.stale_ttl,
                consent_fresh_at_most=settings.consent_cache_ttl,
            )
            for name in connectors
        }
        pipeline = SourcePipeline(
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
        app.state.services = Services(
            settings=settings,
            http=http,
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
            ),
            metrics=metrics,
            loaders=BatchLoaders(pipeline, max_batch_size=settings.source_batch_size),
        )
        log.info(
            "Min Plan gateway ready (%s sources, access log %s)",
            "demo" if settings.demo else "configured",
            settings.audit_url.split(":", 1)[0],
        )
        try:
            yield
        finally:
            await verifier.aclose()
            await cache.close()
            await access_log.close()
            await http.aclose()

    middleware = []
    if settings.cors_origins:
        # Bearer tokens, no cookies: credentials stay off, so "*" cannot leak a session.
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                max_age=600,
            )
        )
    app = _Gateway(lifespan=lifespan, middleware=middleware)
    # A slash redirect is built from the Host header: a client could make it name any host.
    app.router.redirect_slashes = False
    app.state.playground = playground
    app.state.schema = schema
    graphql = AuthenticatedGraphQL(
        app.state, schema=schema, graphql_ide="graphiql" if settings.playground else None
    )

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        # Ready while the access log answers and at least one source's circuit is not open:
        # a plan with one source missing is still a plan (each source says so in `sources`).
        services: Services = request.app.state.services
        audit_ok = await services.access_log.ping()
        breakers = await services.pipeline.breaker_states()
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

    async def metrics_endpoint(_request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.router.routes.extend(
        [
            Route("/", lambda _r: RedirectResponse("/graphql")),
            Route(
                "/graphql",
                BodyLimit(graphql, max_bytes=settings.max_body_bytes),
                methods=["GET", "POST"],
            ),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            *routes,
        ]
    )
    return app
