"""The ASGI app: routes and middleware; the services are opened in its lifespan.

The pages (``pages/``: ``/``, ``/plan``, ``/access-log``, ``/worklist``) run the same schema.

Request path: ``/graphql`` → body limit → bearer token verified (401 otherwise, before
anything else; ``graphql_http.py``) → the schema, with a per-request context over the
app's services (``services.py``) → ``plan`` resolver → the plan domain (``plans/``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from core.metrics import Metrics
from demo.people import PATIENTS
from schema import build_schema

from .documents import TrustedDocuments
from .edge import BodyLimit, SecurityHeaders
from .graphql_http import AuthenticatedGraphQL
from .ops import ops_routes
from .pages import CsrfTokens, DemoSignIn, Pages
from .playground import PLAYGROUND_STATIC, PlaygroundPreset, playground_assets
from .services import DEMO_FHIR_PATH, auth_config, listing_url, open_services, source_urls
from .settings import Settings
from .tracing import TracedRequests, configure_tracing

__all__ = ["create_app"]


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


class _Gateway(Starlette):
    """Starlette with the security headers outermost, so even its own 500 answer has them."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def _middleware(settings: Settings) -> list[Middleware]:
    if not settings.cors_origins:
        return []
    # Bearer tokens, no cookies: credentials stay off, so "*" cannot leak a session.
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            max_age=600,
        )
    ]


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

    Raises:
        ConfigError: the demo has no base URL of its own, or its key file is unreadable,
            or the trusted-documents manifest does not read.
    """
    settings = settings or Settings()
    configure_tracing()  # OTEL_* variables; once per process
    metrics = Metrics()
    schema = build_schema(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
    )
    demo_routes: list[Route | Mount] = []
    demo_jwks: Path | None = None
    playground: PlaygroundPreset | None = None
    signin: DemoSignIn | None = None
    if settings.demo:
        from demo.sources import create_sources_app

        from .demo import demo_playground, write_demo_jwks

        demo_jwks, issuer = write_demo_jwks(demo_key_path)
        playground = demo_playground(issuer)
        signin = DemoSignIn(issuer)
        sources = create_sources_app()
        sources.router.redirect_slashes = False  # its redirects would name the Host header
        jwks = issuer.jwks()
        demo_routes = [
            Mount(DEMO_FHIR_PATH, app=_loopback_only(sources)),
            Route("/demo/jwks.json", lambda _r: JSONResponse(jwks)),
        ]
    # Read before anything starts: a manifest that does not read refuses the start.
    documents = TrustedDocuments(settings.trusted_documents) if settings.trusted_documents else None
    urls = source_urls(settings, self_url)
    listing = listing_url(settings, self_url)
    issuer_name, jwks_url = auth_config(settings, demo_jwks)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_services(
            settings,
            source_urls=urls,
            listing_url=listing,
            issuer=issuer_name,
            jwks_url=jwks_url,
            metrics=metrics,
            transport=transport,
        ) as services:
            app.state.services = services
            with documents.reload_on_sighup() if documents else contextlib.nullcontext():
                yield

    app = _Gateway(lifespan=lifespan, middleware=_middleware(settings))
    # A slash redirect is built from the Host header: a client could make it name any host.
    app.router.redirect_slashes = False
    app.state.playground = playground
    app.state.schema = schema
    graphql = AuthenticatedGraphQL(
        app.state,
        documents=documents,
        schema=schema,
        graphql_ide="graphiql" if settings.playground else None,
    )
    pages = Pages(
        app.state,
        csrf=CsrfTokens(key=settings.pseudonym_key.encode()),
        signin=signin,
        patients=PATIENTS if settings.demo else None,
    )
    app.router.routes.extend(
        [
            *pages.routes(),
            # Every method: the app answers one it does not serve with a JSON 405.
            Route(
                "/graphql",
                TracedRequests(
                    BodyLimit(graphql, max_bytes=settings.max_body_bytes), route="/graphql"
                ),
            ),
            Mount(PLAYGROUND_STATIC, app=playground_assets()),
            *ops_routes(metrics),
            *demo_routes,
        ]
    )
    return app
