"""Tracing with OpenTelemetry: the SDK set up from the standard ``OTEL_*`` variables, and
the span of each ``/graphql`` request.

Every layer below calls only ``opentelemetry-api``, which is a no-op until a tracer
provider is set; the SDK and exporters are the optional ``minplan[otel]`` extra. Export is
opt-in: ``OTEL_TRACES_EXPORTER`` ``otlp``, ``console`` or both (comma-separated); unset or
``none``, no tracer provider is made at all, so tracing costs nothing. (The specification's
default is ``otlp``; a gateway of health data sends nothing anywhere it was not told to.)
``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_SERVICE_NAME``, ``OTEL_TRACES_SAMPLER`` and the
rest are read by the SDK itself.

The spans, all children of the request's (see the README's *Tracing*)::

    POST /graphql                 viewer role, operation name, HTTP status, outcome
    ├─ search <source> <type>     one per source search: cache, retries, pages, patients
    ├─ consent decision           viewer kind, denied classes, outcome
    └─ access log write           PLAN or WORKLIST, entries, outcome

What never goes into a span, its name, an attribute or an event: a CPR number, a token,
the query text or its variables. Patients are counted, never named, and exceptions are
not recorded (their messages may quote a request's values); their type is.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from graphql import GraphQLError
from graphql.error import GraphQLSyntaxError
from graphql.language import Lexer, Source, TokenKind
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import ConfigError
from core.tracing import enable_tracing, span, tracing_on
from plans.viewer import Viewer

__all__ = [
    "TracedRequests",
    "configure_tracing",
    "exporters_from_env",
    "note_operation",
    "note_outcome",
    "note_viewer",
]

log = logging.getLogger(__name__)

_tracer = trace.get_tracer("minplan.gateway")

#: The exporters ``OTEL_TRACES_EXPORTER`` may name.
EXPORTERS = ("otlp", "console", "none")
_OPERATION_TYPES = frozenset({"query", "mutation", "subscription"})
#: A GraphQL name is the client's word: a run of digits as long as a CPR's date is masked.
_DIGIT_RUN = re.compile(r"[0-9]{6,}")
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
#: Only the W3C ``traceparent`` is taken from a client: its baggage would travel on to the
#: sources as the gateway's own.
_CLIENT_CONTEXT = TraceContextTextMapPropagator()

_configured = False


def configure_tracing(environ: Mapping[str, str] | None = None) -> bool:
    """Set up the SDK's tracer provider from ``OTEL_*`` variables, once per process.

    Returns True when spans are made. Unset or ``none``, or ``OTEL_SDK_DISABLED``, nothing
    is set up; a provider set up before (``opentelemetry-instrument``) is used as it is.
    Asked for without the SDK installed: a warning, and no tracing (the gateway still
    serves: plans matter more than traces).

    Raises:
        ConfigError: ``OTEL_TRACES_EXPORTER`` names an exporter that does not exist.
    """
    global _configured
    wanted = exporters_from_env(os.environ if environ is None else environ)
    if _configured or not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        enable_tracing()  # set up already: here, or by opentelemetry-instrument
        return True
    if not wanted:
        return False
    try:
        provider = _provider(wanted)
    except ImportError as exc:
        log.warning(
            "OTEL_TRACES_EXPORTER=%s, but %s is not installed: tracing is off "
            "(pip install 'minplan[otel]')",
            ",".join(wanted),
            exc.name or "the OpenTelemetry SDK",
        )
        return False
    trace.set_tracer_provider(provider)
    enable_tracing()
    _configured = True
    log.info("tracing: spans exported to %s", ", ".join(wanted))
    return True


def exporters_from_env(env: Mapping[str, str]) -> list[str]:
    """The exporters asked for: none when unset, ``none`` or ``OTEL_SDK_DISABLED=true``.

    Raises:
        ConfigError: an exporter name that does not exist.
    """
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    value = env.get("OTEL_TRACES_EXPORTER", "none")
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in EXPORTERS]
    if unknown:
        raise ConfigError(
            f"OTEL_TRACES_EXPORTER names unknown exporter(s) {unknown}; known: {list(EXPORTERS)}"
        )
    return [n for n in names if n != "none"]


def _provider(exporters: Sequence[str]) -> Any:
    """The SDK's tracer provider with a processor per exporter (imports the SDK: ImportError)."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "minplan"}))
    provider = TracerProvider(resource=resource)  # its sampler: OTEL_TRACES_SAMPLER
    for name in exporters:
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            # Printed as each span ends: the console exporter is for a developer watching.
            provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    return provider


class TracedRequests:
    """ASGI middleware: one server span per request, continuing a client's ``traceparent``.

    The span is current while the app runs, so the schema's searches, the consent decision
    and the access-log write are its children; it ends with the HTTP status.
    """

    def __init__(self, app: ASGIApp, *, route: str) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not tracing_on():
            # Tracing off, not even a client's traceparent is taken: the API alone would
            # pass it on to the sources as is.
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", "GET"))
        status: list[int] = []

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        with span(
            _tracer,
            f"{method} {self.route}",
            context=_CLIENT_CONTEXT.extract(_traceparent(scope)),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "http.route": self.route},
        ) as current:
            try:
                await self.app(scope, receive, send_status)
            except BaseException as exc:
                current.set_attribute("error.type", type(exc).__name__)
                current.set_status(Status(StatusCode.ERROR))
                raise
            finally:
                if status:
                    _note_status(current, status[0])


def _traceparent(scope: Scope) -> dict[str, str]:
    for name, value in scope.get("headers", ()):
        if name == b"traceparent":
            return {"traceparent": value.decode("latin-1")}
    return {}


def _note_status(span: trace.Span, status: int) -> None:
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
    attributes = getattr(span, "attributes", None) or {}
    if "minplan.outcome" not in attributes:
        span.set_attribute("minplan.outcome", "ok" if status < 400 else f"http_{status}")


def note_viewer(viewer: Viewer) -> None:
    """The verified caller's role on the request's span (never who they are)."""
    current = trace.get_current_span() if tracing_on() else None
    if current is not None and current.is_recording():
        current.set_attribute("minplan.viewer.role", viewer.role.value)


def note_outcome(outcome: str) -> None:
    """How the request ended, where the HTTP status alone does not say (``rate_limited``)."""
    current = trace.get_current_span() if tracing_on() else None
    if current is not None and current.is_recording():
        current.set_attribute("minplan.outcome", outcome)


def note_operation(
    query: str | None, operation_name: str | None, errors: Sequence[GraphQLError] | None
) -> None:
    """The operation's type and name, and the codes of its errors, on the request's span.

    The name is the request's ``operationName``, else the document's only operation's;
    digit runs as long as a CPR's date are masked. Nothing else of the document is kept.
    """
    current = trace.get_current_span() if tracing_on() else None
    if current is None or not current.is_recording():
        return
    kind, name = _operation(query or "", operation_name)
    if kind is not None:
        current.set_attribute("graphql.operation.type", kind)
    if name is not None:
        current.set_attribute("graphql.operation.name", _DIGIT_RUN.sub("#", name))
    codes = sorted({_code(error) for error in errors or ()})
    if codes:
        current.set_attribute("minplan.graphql.error_codes", codes)
    current.set_attribute("minplan.outcome", "errors" if codes else "ok")


def _code(error: GraphQLError) -> str:
    code = (error.extensions or {}).get("code")
    return code if isinstance(code, str) and _NAME.fullmatch(code) else "UNKNOWN"


def _operation(query: str, wanted: str | None) -> tuple[str | None, str | None]:
    """(type, name) of the operation a request runs, read from the document's tokens.

    A name that is not a GraphQL name, or not in the document, is not reported.
    """
    found: list[tuple[str, str | None]] = []
    lexer = Lexer(Source(query))
    depth = 0
    try:
        token = lexer.advance()
        while token.kind is not TokenKind.EOF:
            if token.kind is TokenKind.BRACE_L:
                if depth == 0:
                    found.append(("query", None))  # the shorthand `{ … }`
                depth += 1
            elif token.kind is TokenKind.BRACE_R:
                depth -= 1
            elif depth == 0 and token.kind is TokenKind.NAME:
                if token.value in _OPERATION_TYPES:
                    following = lexer.lookahead()
                    name = following.value if following.kind is TokenKind.NAME else None
                    found.append((token.value, name))
                if token.value in _OPERATION_TYPES or token.value == "fragment":
                    depth = _skip_to_selection(lexer)
            token = lexer.advance()
    except GraphQLSyntaxError:
        return None, None
    if wanted is None:
        return found[0] if len(found) == 1 else (None, None)
    if _NAME.fullmatch(wanted):
        for kind, name in found:
            if name == wanted:
                return kind, name
    return None, None


def _skip_to_selection(lexer: Lexer) -> int:
    """Past a definition's name, variables and directives to its selection's ``{``: depth 1."""
    parens = 0
    while True:
        token = lexer.advance()
        if token.kind is TokenKind.EOF:
            return 0
        if token.kind is TokenKind.PAREN_L:
            parens += 1
        elif token.kind is TokenKind.PAREN_R:
            parens -= 1
        elif token.kind is TokenKind.BRACE_L and parens == 0:
            return 1
