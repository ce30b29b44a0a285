"""Tracing (contract §4): the spans a plan and a work list make, and that none names anyone.

The SDK's in-memory exporter collects every span of a test (``spans``); the gateway is the
real one over the demo sources (``make_gateway``), whose requests are kept, headers too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

from core.cpr import mask_cpr
from core.tracing import enable_tracing
from demo import clinic
from demo.people import (
    ORG_GP,
    ORG_HOSPITAL,
    PATIENT_BLOCKS,
    PATIENT_BOTH,
    PATIENT_COPD,
    PATIENTS,
    PROXY_OF_BOTH,
)
from gateway.tracing import _operation, _provider, exporters_from_env
from tests.conftest import FULL_PLAN, Gateway, MakeGateway
from tests.demo_server import demo_server

WORKLIST = """
query Worklist($kind: PackageKind!) {
  worklist(kind: $kind, first: 20) {
    total entries { cpr name package { kind alerts { kind } } }
  }
}
"""
BREAK_THE_GLASS = """
query Emergency($cpr: String, $reason: String) {
  plan(cpr: $cpr, emergencyReason: $reason) { cpr restricted packages { kind } }
}
"""
REASON = "Akut indlagt med åndenød, behov for KOL-status"


class _WhileRecording(Sampler):
    """Samples only while a test records: other tests in the process make no-op spans."""

    recording = False

    def should_sample(
        self,
        parent_context: Any,
        trace_id: int,
        name: str,
        kind: Any = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        if not self.recording:
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "while a test records"


_SAMPLER = _WhileRecording()
_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span the test makes, from the SDK's in-memory exporter.

    The API allows one tracer provider per process: it is set once, and samples only while
    a test holds this fixture.
    """
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider(sampler=_SAMPLER)
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    enable_tracing()
    _EXPORTER.clear()
    _SAMPLER.recording = True
    token = otel_context.attach(otel_context.Context())
    try:
        yield _EXPORTER
    finally:
        otel_context.detach(token)
        _SAMPLER.recording = False
        _EXPORTER.clear()


def spellings(cpr: str) -> list[str]:
    """The ways a CPR is written that :func:`core.cpr.mask_cpr` masks."""
    date, serial = cpr[:6], cpr[6:]
    dotted = f"{date[:2]}.{date[2:4]}.{date[4:]}"
    out = [cpr, f"{date}-{serial}", f"{date} {serial}", f"{dotted}-{serial}", f"{date}%2D{serial}"]
    if cpr.startswith("0"):
        out.append(cpr[1:])  # a JSON number loses its leading zero
    return out


ALL_CPRS = sorted(set(PATIENTS) | set(clinic.LISTED) | {p.cpr for p in clinic.CLINIC_PATIENTS})
_ANY_DEMO_CPR = re.compile("|".join(re.escape(s) for cpr in ALL_CPRS for s in spellings(cpr)))


def texts(span: ReadableSpan) -> Iterator[str]:
    """Every text a span carries to an exporter: its name, attribute values, events, links,
    its status' description and its resource."""
    yield span.name
    for attributes in (
        span.attributes,
        span.resource.attributes,
        *(event.attributes for event in span.events),
        *(link.attributes for link in span.links),
    ):
        for key, value in (attributes or {}).items():
            yield key
            values = (
                value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
            )
            yield from (str(v) for v in values)
    yield from (event.name for event in span.events)
    if span.status.description:
        yield span.status.description


def assert_names_no_one(finished: Sequence[ReadableSpan], tokens: Sequence[str]) -> None:
    secrets = [s for token in tokens for s in (token, *token.split("."))]
    for span in finished:
        for text in texts(span):
            found = _ANY_DEMO_CPR.search(text)
            assert found is None, f"span {span.name!r} carries a CPR: {text!r}"
            assert mask_cpr(text) == text, f"span {span.name!r} carries a CPR-like {text!r}"
            leaked = [s for s in secrets if s in text]
            assert not leaked, f"span {span.name!r} carries a token: {text!r}"


def by_name(finished: Sequence[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return [s for s in finished if s.name.startswith(prefix)]


def children(finished: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [
        s for s in finished if s.parent is not None and s.parent.span_id == parent.context.span_id
    ]


@pytest.fixture
async def gw(make_gateway: MakeGateway) -> AsyncIterator[Gateway]:
    async with make_gateway() as gateway:
        yield gateway


async def test_no_span_names_a_patient_or_carries_a_token(
    gw: Gateway, spans: InMemorySpanExporter
) -> None:
    citizen = gw.citizen(PATIENT_COPD)
    proxy = gw.citizen(PROXY_OF_BOTH)
    hospital = gw.clinician(ORG_HOSPITAL)
    gp = gw.clinician(ORG_GP)
    own = await gw.data(FULL_PLAN, citizen)
    assert own["data"]["plan"]["cpr"] == PATIENT_COPD
    theirs = await gw.data(FULL_PLAN, proxy, {"cpr": PATIENT_BOTH})
    assert theirs["data"]["plan"]["cpr"] == PATIENT_BOTH
    emergency = await gw.data(BREAK_THE_GLASS, hospital, {"cpr": PATIENT_BLOCKS, "reason": REASON})
    assert emergency["data"]["plan"]["cpr"] == PATIENT_BLOCKS
    listed = await gw.data(WORKLIST, gp, {"kind": "COPD"})
    assert listed["data"]["worklist"]["entries"], "the work list read nothing to trace"
    refused = await gw.data(FULL_PLAN, citizen, {"cpr": PATIENT_BOTH})  # no proxy: FORBIDDEN
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    finished = spans.get_finished_spans()
    requests = by_name(finished, "POST /graphql")
    assert len(requests) == 5
    assert len(by_name(finished, "search ")) > 20
    assert_names_no_one(finished, [citizen, proxy, hospital, gp])


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(PATIENT_COPD, id="ten-digits"),
        pytest.param("010152-1234", id="hyphenated"),
        pytest.param("101521234", id="leading-zero-lost"),
    ],
)
def test_the_check_finds_a_cpr_in_a_span(text: str) -> None:
    """The leak check itself: a span that did carry a CPR would fail it."""
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("test").start_as_current_span("search") as span:
        span.set_attribute("minplan.note", f"for {text}")
    with pytest.raises(AssertionError, match="CPR"):
        assert_names_no_one(exporter.get_finished_spans(), [])


async def test_a_plan_read_is_a_request_span_with_a_search_per_source_consent_and_log(
    gw: Gateway, spans: InMemorySpanExporter
) -> None:
    hospital = gw.clinician(ORG_HOSPITAL)
    body = await gw.data(FULL_PLAN, hospital, {"cpr": PATIENT_BLOCKS})
    assert body["data"]["plan"]["restricted"] is True
    finished = spans.get_finished_spans()
    (request,) = by_name(finished, "POST /graphql")
    assert request.kind is trace.SpanKind.SERVER
    attributes = dict(request.attributes or {})
    assert attributes["minplan.viewer.role"] == "clinician"
    assert attributes["graphql.operation.name"] == "Full"
    assert attributes["graphql.operation.type"] == "query"
    assert attributes["http.response.status_code"] == 200
    assert attributes["minplan.outcome"] == "ok"

    under = children(finished, request)
    searches = sorted(s.name for s in under if s.name.startswith("search "))
    asked = sorted(f"search {source} {rtype}" for source, rtype in gw.upstream.searches())
    assert searches == asked  # one span per upstream search, all children of the request
    assert "search consent Consent" in searches
    one = next(s for s in under if s.name == "search appointments Appointment")
    assert dict(one.attributes or {}) | {"minplan.upstream.pages": 1} == {
        "minplan.source": "appointments",
        "minplan.resource_type": "Appointment",
        "minplan.patients": 1,
        "minplan.cache": "miss",
        "minplan.cache.fresh": 0,
        "minplan.cache.stale": 0,
        "minplan.upstream.calls": 1,
        "minplan.upstream.retries": 0,
        "minplan.upstream.pages": 1,
        "minplan.outcome": "ok",
    }

    (consent,) = [s for s in under if s.name == "consent decision"]
    assert dict(consent.attributes or {}) == {
        "minplan.viewer.kind": "clinician",
        "minplan.consent.denied_classes": 1,  # Lis blocks the hospital from her journal
        "minplan.consent.overridden_classes": 0,
        "minplan.outcome": "restricted",
    }
    (written,) = [s for s in under if s.name == "access log write"]
    assert dict(written.attributes or {}) == {
        "minplan.access_log.context": "PLAN",
        "minplan.access_log.entries": 1,
        "minplan.outcome": "ok",
    }


async def test_a_second_read_is_answered_by_the_cache_and_its_spans_say_so(
    gw: Gateway, spans: InMemorySpanExporter
) -> None:
    token = gw.citizen(PATIENT_COPD)
    await gw.data(FULL_PLAN, token)
    spans.clear()
    await gw.data(FULL_PLAN, token)
    searches = by_name(spans.get_finished_spans(), "search ")
    assert searches
    assert {(s.attributes or {})["minplan.cache"] for s in searches} == {"fresh"}
    assert {(s.attributes or {})["minplan.upstream.calls"] for s in searches} == {0}


async def test_a_failing_source_retried_shows_in_its_span(
    make_gateway: MakeGateway, faulty: Any, spans: InMemorySpanExporter
) -> None:
    faulty.faults["journal"] = 503
    async with make_gateway(transport=faulty, retries=1) as gw:
        await gw.data(FULL_PLAN, gw.citizen(PATIENT_COPD))
    (journal,) = by_name(spans.get_finished_spans(), "search journal")
    attributes = dict(journal.attributes or {})
    assert attributes["minplan.outcome"] == "failed"
    assert attributes["minplan.upstream.retries"] == 1
    assert attributes["error.type"] == "UpstreamHTTPError"
    assert journal.status.status_code is trace.StatusCode.ERROR
    assert not journal.status.description  # a message may quote a request's values


async def test_a_work_list_traces_its_consent_decisions_and_log_write(
    gw: Gateway, spans: InMemorySpanExporter
) -> None:
    body = await gw.data(WORKLIST, gw.clinician(ORG_GP), {"kind": "COPD"})
    entries = body["data"]["worklist"]["entries"]
    finished = spans.get_finished_spans()
    (request,) = by_name(finished, "POST /graphql")
    (consent,) = [s for s in children(finished, request) if s.name == "consent decision"]
    # Consent is decided for the listed patients with a COPD diagnosis (the rest need none).
    decided = (consent.attributes or {})["minplan.consent.patients"]
    assert len(entries) < decided < len(clinic.LISTED)
    (written,) = [s for s in children(finished, request) if s.name == "access log write"]
    assert dict(written.attributes or {}) == {
        "minplan.access_log.context": "WORKLIST",
        "minplan.access_log.entries": len(entries),
        "minplan.outcome": "ok",
    }
    batched = [s for s in finished if s.name == "search diagnoses Condition"]
    assert max((s.attributes or {})["minplan.patients"] for s in batched) > 1


async def test_traceparent_reaches_the_sources(gw: Gateway, spans: InMemorySpanExporter) -> None:
    await gw.data(FULL_PLAN, gw.citizen(PATIENT_COPD))
    finished = spans.get_finished_spans()
    (request,) = by_name(finished, "POST /graphql")
    assert request.context is not None
    search_ids = {s.context.span_id for s in by_name(finished, "search ") if s.context}
    assert gw.upstream.requests
    for sent in gw.upstream.requests:
        version, trace_id, parent_id, flags = sent.headers["traceparent"].split("-")
        assert version == "00"
        assert int(flags, 16) & 1  # sampled
        assert int(trace_id, 16) == request.context.trace_id
        assert int(parent_id, 16) in search_ids


async def test_a_client_traceparent_is_continued(gw: Gateway, spans: InMemorySpanExporter) -> None:
    client_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = await gw.client.post(
        "/graphql",
        json={"query": "{ me { role } }"},
        headers={
            "Authorization": f"Bearer {gw.citizen(PATIENT_COPD)}",
            "traceparent": f"00-{client_trace}-00f067aa0ba902b7-01",
        },
    )
    assert response.status_code == 200, response.text
    (request,) = by_name(spans.get_finished_spans(), "POST /graphql")
    assert request.context is not None
    assert f"{request.context.trace_id:032x}" == client_trace


async def test_a_refused_token_is_a_401_span_without_a_viewer(
    gw: Gateway, spans: InMemorySpanExporter
) -> None:
    response = await gw.query(FULL_PLAN, "not.a.token")
    assert response.status_code == 401
    (request,) = by_name(spans.get_finished_spans(), "POST /graphql")
    attributes = dict(request.attributes or {})
    assert attributes["http.response.status_code"] == 401
    assert attributes["minplan.outcome"] == "http_401"
    assert "minplan.viewer.role" not in attributes


_WITHOUT_A_PROVIDER = """
import asyncio, json, pathlib, sys, tempfile
import httpx
from opentelemetry import trace
from demo.sources import create_sources_app
from gateway.app import create_app
from gateway.devtokens import DevIssuer
from tests.conftest import FULL_PLAN, CountingTransport, gateway_settings

async def main() -> None:
    tmp = pathlib.Path(tempfile.mkdtemp())
    issuer = DevIssuer(tmp / "key.pem")
    (tmp / "jwks.json").write_text(json.dumps(issuer.jwks()))
    upstream = CountingTransport(httpx.ASGITransport(app=create_sources_app()))
    app = create_app(gateway_settings(tmp / "jwks.json", tmp), transport=upstream)
    headers = {
        "Authorization": "Bearer " + issuer.issue(role="citizen", cpr=sys.argv[1]),
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    }
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        answer = await client.post("/graphql", json={"query": FULL_PLAN}, headers=headers)
    print(json.dumps({
        "status": answer.status_code,
        "provider": type(trace.get_tracer_provider()).__name__,
        "searches": len(upstream.requests),
        "traceparents": [r.headers.get("traceparent") for r in upstream.requests],
    }))

asyncio.run(main())
"""


def test_without_a_tracer_provider_no_traceparent_reaches_the_sources() -> None:
    """Tracing off (a process of its own: the API sets its provider once per process): not
    even a client's traceparent is passed on, and no provider is made."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINPLAN_", "OTEL_"))}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", _WITHOUT_A_PROVIDER, PATIENT_COPD],
        env=env,
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == 200
    assert result["provider"] == "ProxyTracerProvider"
    assert result["searches"] > 5
    assert result["traceparents"] == [None] * result["searches"]


@pytest.mark.parametrize(
    ("query", "name", "expected"),
    [
        pytest.param("query Full { me { role } }", None, ("query", "Full"), id="named"),
        pytest.param("{ me { role } }", None, ("query", None), id="shorthand"),
        pytest.param(
            'fragment F on Viewer { role } query Q($c: String = "{") { me { ...F } }',
            None,
            ("query", "Q"),
            id="fragment-first-and-a-brace-in-a-default",
        ),
        pytest.param(
            "query A { me { role } } query B { me { role } }",
            "B",
            ("query", "B"),
            id="chosen-by-operationName",
        ),
        pytest.param("query A { me { role } }", "Other", (None, None), id="name-not-in-document"),
        pytest.param(
            "query A { me { role } } query B { me { role } }",
            None,
            (None, None),
            id="two-operations-no-name",
        ),
        pytest.param('query A { plan(cpr: "0101', None, (None, None), id="unterminated-string"),
    ],
)
def test_the_operation_is_read_from_the_document(
    query: str, name: str | None, expected: tuple[str | None, str | None]
) -> None:
    assert _operation(query, name) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param("jaeger", "unknown exporter", id="unknown-exporter-refused"),
        pytest.param("otlp,zipkin", "unknown exporter", id="one-unknown-of-two"),
    ],
)
def test_a_bad_exporter_name_is_a_config_error(value: str, problem: str) -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match=problem):
        exporters_from_env({"OTEL_TRACES_EXPORTER": value})


@pytest.mark.parametrize(
    ("env", "exporters"),
    [
        pytest.param({}, [], id="unset-is-off"),
        pytest.param({"OTEL_TRACES_EXPORTER": "none"}, [], id="none-is-off"),
        pytest.param(
            {"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, [], id="sdk-disabled"
        ),
        pytest.param({"OTEL_TRACES_EXPORTER": "OTLP, console"}, ["otlp", "console"], id="two"),
    ],
)
def test_tracing_is_off_unless_an_exporter_is_named(
    env: dict[str, str], exporters: list[str]
) -> None:
    assert exporters_from_env(env) == exporters


def test_console_exporter_prints_a_plan_reads_spans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``minplan serve`` with OTEL_TRACES_EXPORTER=console: a request span and one per
    source search, on stdout, with no CPR."""
    for name in [n for n in os.environ if n.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "minplan-test")
    with demo_server(tmp_path) as server:  # its environment: this one's, less MINPLAN_*
        token = server.token("--role", "citizen", "--cpr", PATIENT_COPD)
        plan = server.plan(token)
    assert plan["cpr"] == PATIENT_COPD
    printed = (tmp_path / "server.log").read_text()
    assert '"name": "POST /graphql"' in printed
    assert '"service.name": "minplan-test"' in printed
    asked = [source["name"] for source in plan["sources"]]
    assert "appointments" in asked
    for source in asked:
        assert f'"name": "search {source} ' in printed
    # The log holds the request log too (paths, never values): no CPR anywhere in it.
    assert _ANY_DEMO_CPR.search(printed) is None


def test_otlp_exports_to_the_configured_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """``OTEL_TRACES_EXPORTER=otlp``: spans reach ``$OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces``
    as OTLP/HTTP protobuf, with the service name."""
    received: list[tuple[str, str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "minplan-otlp-test")
        provider = _provider(["otlp"])  # as configure_tracing makes it, without setting it
        with provider.get_tracer("test").start_as_current_span("search journal DocumentReference"):
            pass
        assert provider.force_flush(10_000)
        provider.shutdown()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    ((path, content_type, body),) = received
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    assert b"search journal DocumentReference" in body
    assert b"minplan-otlp-test" in body
