"""``/graphql`` over HTTP: a bearer token first (401 without one), then strawberry's ASGI app.

What is HTTP's stays here: the token, the body's shape, JSON, the media type, the trusted
documents, the playground page and the request id. Error codes and everything else about
GraphQL are the schema's.

The order a request meets its checks: the method (405), the token (401), the body's shape
(400, 415), the trusted documents (400), then GraphQL. The token comes before the
documents, so a caller without one learns nothing of which documents are trusted.

GraphQL over HTTP (the draft specification): a client that accepts
``application/graphql-response+json`` gets that media type, and HTTP 400 for a request that
does not parse or validate (with no ``data``); ``application/json`` (or no ``Accept``) gets
HTTP 200 for every GraphQL result, as servers before the specification answered. An error
that is HTTP's (a malformed body, a wrong method or media type) is always a JSON
``{"errors": [...]}`` with an ``extensions.code``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from core.errors import AuthError
from plans.viewer import Viewer
from schema import Context, MinPlanSchema
from schema.prefetch import start_plan_searches

from .auth import bearer_token
from .documents import DocumentRefused, TrustedDocuments, resolve_document
from .edge import error_response, request_id
from .media import GRAPHQL_RESPONSE_JSON, response_media_type
from .playground import playground_html
from .services import Services
from .tracing import note_operation, note_viewer

__all__ = [
    "GRAPHQL_RESPONSE_JSON",
    "AuthenticatedGraphQL",
    "request_context",
    "response_media_type",
]

_VIEWER = "minplan.viewer"
_MEDIA = "minplan.media_type"
_STATUS = "minplan.status"

#: Codes of errors about the request itself (it does not parse, validate or coerce).
_REQUEST_ERROR_CODES = frozenset(
    {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}
)


def _is_request_error(result: ExecutionResult) -> bool:
    """Nothing ran: the document did not parse or validate, or a variable did not coerce."""
    return (
        result.data is None
        and bool(result.errors)
        and all(
            e.path is None and (e.extensions or {}).get("code") in _REQUEST_ERROR_CODES
            for e in result.errors or ()
        )
    )


class AuthenticatedGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI app behind a bearer-token check: no token, no GraphQL (HTTP 401).

    ``app_state`` is the Starlette app's state: ``services`` (set by the lifespan) and
    ``playground`` (makes the demo's preloaded query and headers, or None). ``documents``
    is the trusted-documents manifest, or None to run any document.
    """

    def __init__(
        self, app_state: Any, *, documents: TrustedDocuments | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._state = app_state
        self.documents = documents

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await Response(status_code=404)(scope, receive, send)
            return
        request = Request(scope, receive)
        if self._is_playground(request):
            page = await self.render_graphql_ide(request)
            await page(scope, receive, send)
            return
        media_type = response_media_type(request.headers.get("accept"))
        scope[_MEDIA] = media_type
        if request.method not in ("GET", "POST"):
            message = f"/graphql answers GET and POST, not {request.method}."
            refusal = error_response(
                405, message, headers={"Allow": "GET, POST"}, media_type=media_type
            )
            await refusal(scope, receive, send)
            return
        services: Services = self._state.services
        try:
            token = bearer_token(request.headers.get("authorization"))
            viewer = await services.verifier.verify(token)
        except AuthError as exc:
            await _unauthenticated(str(exc))(scope, receive, send)
            return
        scope[_VIEWER] = viewer
        note_viewer(viewer)
        if (limited := await services.rate_limiter.refusal(viewer)) is not None:
            await limited(scope, receive, send)  # HTTP 429: over the caller's rate limit
            return
        started = time.perf_counter()
        try:
            response = await self._answer(request, media_type)
            await response(scope, receive, send)
        finally:
            services.metrics.request_latency.observe(time.perf_counter() - started)

    async def _answer(self, request: Request, media_type: str) -> Response:
        try:
            response = await self.run(request)
        except DocumentRefused as exc:
            return error_response(400, exc.message, code=exc.code, media_type=media_type)
        except HTTPException as exc:  # a client's mistake: JSON with a code, as every error
            status, reason = exc.status_code, _sentence(exc.reason)
            headers = {"Allow": "GET, POST"} if status == 405 else None
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                # GraphQL over HTTP: a mutation by GET is 405, and POST is the way.
                status, headers = 405, {"Allow": "POST"}
                reason = f"{reason[:-1]}: send it by POST."
            return error_response(status, reason, headers=headers, media_type=media_type)
        if media_type == GRAPHQL_RESPONSE_JSON:
            response.headers["content-type"] = GRAPHQL_RESPONSE_JSON
            response.status_code = request.scope.get(_STATUS, response.status_code)
        return response

    def _is_playground(self, request: Request) -> bool:
        return (
            self.graphql_ide is not None
            and request.method in ("GET", "HEAD")
            and "text/html" in request.headers.get("accept", "")
            and "query" not in request.query_params
            and "documentId" not in request.query_params
            and "extensions" not in request.query_params
        )

    def should_render_graphql_ide(self, request: Any) -> bool:
        # The page is served (or not) before the token check, in __call__; a request that
        # got this far asked for GraphQL, whatever its Accept says.
        return False

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
        object; there is no batching or multipart here, so those are refused too. The
        document is then the trusted one the request names (:mod:`.documents`).
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
            ("documentId", str, "a string"),
        )
        for key, kind, what in checks:
            if data.get(key) is not None and not isinstance(data[key], kind):
                raise HTTPException(400, f"The request's `{key}` must be {what} or null")
        query = resolve_document(
            self.documents,
            query=data.get("query"),
            document_id=data.get("documentId"),
            extensions=data.get("extensions"),
        )
        return GraphQLRequestData(
            query=query,
            variables=data.get("variables"),
            operation_name=data.get("operationName"),
            extensions=data.get("extensions"),
        )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """Strawberry's answer; for ``graphql-response+json``, a request error is a 400.

        Such an answer has no ``data`` (nothing ran). Field errors, with or without data,
        stay 200: the plan with one source down is still a plan.
        """
        answer = await super().process_result(request, result)
        if request.scope.get(_MEDIA) == GRAPHQL_RESPONSE_JSON and _is_request_error(result):
            request.scope[_STATUS] = 400
            answer.pop("data", None)
        return answer

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> Any:
        """strawberry's, once the plan's searches have left (:mod:`schema.prefetch`).

        They leave first, and strawberry prepares the execution meanwhile: its part is then
        spent during the sources' wait, not before it. The loaders send from tasks of their
        own, which run at the loop's second turn (one to make them, one to run them).
        """
        schema = self.schema
        if (
            isinstance(schema, MinPlanSchema)
            and isinstance(request_data, GraphQLRequestData)
            and start_plan_searches(
                schema,
                context,
                request_data.query,
                request_data.operation_name,
                request_data.variables,
            )
        ):
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        return await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        result = await super().execute_single(*args, **kwargs)
        data: GraphQLRequestData = kwargs["request_data"]
        note_operation(data.query, data.operation_name, result.errors)
        return result

    async def get_context(self, request: Any, response: Any) -> Context:
        return request_context(self._state.services, request.scope[_VIEWER], request.headers)


def request_context(services: Services, viewer: Viewer, headers: Mapping[str, str]) -> Context:
    """One request's GraphQL context, for ``/graphql`` and the pages alike.

    The pages execute their documents through this too, so a page read goes the same way
    as an API read: the same loaders, consent and access log, the same request id.
    """
    return services.context(viewer, request_id=request_id(headers.get("x-request-id")))


def _sentence(reason: str) -> str:
    return reason if reason.endswith(".") else f"{reason}."


def _unauthenticated(reason: str) -> Response:
    body = {"errors": [{"message": f"Unauthenticated: {reason}.",
                        "extensions": {"code": "UNAUTHENTICATED"}}]}  # fmt: skip
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})
