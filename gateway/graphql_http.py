"""``/graphql`` over HTTP: a bearer token first (401 without one), then strawberry's ASGI app.

What is HTTP's stays here: the token, the body's shape, JSON, the playground page and the
request id. Error codes and everything else about GraphQL are the schema's.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type

from core.errors import AuthError
from schema import Context

from .auth import bearer_token
from .edge import error_response, request_id
from .playground import playground_html
from .services import Services

__all__ = ["AuthenticatedGraphQL"]

_VIEWER = "minplan.viewer"


class AuthenticatedGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI app behind a bearer-token check: no token, no GraphQL (HTTP 401).

    ``app_state`` is the Starlette app's state: ``services`` (set by the lifespan) and
    ``playground`` (makes the demo's preloaded query and headers, or None).
    """

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
        scope[_VIEWER] = viewer
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
            and request.method in ("GET", "HEAD")
            and "text/html" in request.headers.get("accept", "")
            and "query" not in request.query_params
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        preset = getattr(self._state, "playground", None)  # the demo's, made per page load
        return playground_html(preset() if preset else None)

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

    async def get_context(self, request: Any, response: Any) -> Context:
        services: Services = self._state.services
        return services.context(
            request.scope[_VIEWER], request_id=request_id(request.headers.get("x-request-id"))
        )


def _sentence(reason: str) -> str:
    return reason if reason.endswith(".") else f"{reason}."


def _unauthenticated(reason: str) -> Response:
    body = {"errors": [{"message": f"Unauthenticated: {reason}.",
                        "extensions": {"code": "UNAUTHENTICATED"}}]}  # fmt: skip
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})
