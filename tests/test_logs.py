"""CPR numbers never reach a log in clear: a whole demo session, every viewer, every failure."""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from uvicorn.protocols.utils import get_path_with_query_string

from core.errors import AuditWriteError
from demo.people import (
    ORG_GP,
    ORG_HOSPITAL,
    ORG_PHYSIO,
    PATIENT_BLOCKS,
    PATIENT_BOTH,
    PATIENT_BROKEN,
    PATIENT_COPD,
    PATIENTS,
    PROXY_OF_BOTH,
)
from demo.sources import create_sources_app
from gateway.logs import CprMaskingFilter, RequestLogFilter, configure_logging
from tests.conftest import Gateway, MakeGateway

#: Selects every source's data, so every search is made (contract §6), failing ones too.
PLAN = """query($cpr: String, $reason: String) { plan(cpr: $cpr, emergencyReason: $reason) {
  cpr restricted packages { kind journalNotes { sourceId text } appointments { sourceId }
  goals { sourceId } triage { level } healthLiteracy { score } preventionOffers { title } }
  unassigned { diagnoses { sourceId } } sources { name ok error } } }"""
ACCESS_LOG = "query($cpr: String) { accessLog(cpr: $cpr) { actorName sections } }"
#: The demo's CPR numbers, also as DDMMYY-XXXX.
CPR_PATTERNS = [re.compile(f"{cpr[:6]}-?{cpr[6:]}") for cpr in PATIENTS]
#: The loggers of our own code: they must not log a CPR even without the masking filter.
OURS = ("gateway", "connectors", "schema", "demo", "minplan")


class Faults(httpx.AsyncBaseTransport):
    """The demo sources; prevention answers 500, and the careplan search blows up inside."""

    def __init__(self, *, consent_down: bool = False) -> None:
        self.inner = httpx.ASGITransport(app=create_sources_app())
        self.consent_down = consent_down

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/prevention/") or (self.consent_down and "/consent/" in path):
            return httpx.Response(500, text=f"Internal error for {request.url}")
        if path.startswith("/careplan/Goal"):
            raise RuntimeError(f"transport bug while fetching {request.url}")
        return await self.inner.handle_async_request(request)


async def demo_session(gw: Gateway) -> None:
    """Every kind of viewer, reading, failing and being refused."""
    patient, proxy = gw.citizen(PATIENT_BOTH), gw.citizen(PROXY_OF_BOTH)
    gp, physio = gw.clinician(ORG_GP), gw.clinician(ORG_PHYSIO)
    reads = [
        (patient, None, None),
        (proxy, PATIENT_BOTH, None),
        (proxy, PATIENT_COPD, None),  # inactive power of attorney: FORBIDDEN
        (gw.citizen(PATIENT_COPD), PATIENT_BOTH, None),  # FORBIDDEN
        (gp, PATIENT_COPD, None),
        (gp, PATIENT_BROKEN, None),  # unreadable resources are skipped and logged
        (gw.clinician(ORG_HOSPITAL), PATIENT_BLOCKS, None),
        (physio, PATIENT_BLOCKS, None),
        (physio, PATIENT_BLOCKS, f"Akut, pt. {PATIENT_BLOCKS} bevidstløs"),
        (physio, PATIENT_BLOCKS, "   "),  # BAD_USER_INPUT
        (patient, PATIENT_BOTH, "Akut"),  # BAD_USER_INPUT
        (gp, f"{PATIENT_COPD}9", None),  # malformed: 11 digits
        (gp, f"{PATIENT_COPD[:6]}-{PATIENT_COPD[6:]}", None),
        (gp, "3102701234", None),  # no such date
        (gp, None, None),  # a clinician must name the patient
    ]
    for token, cpr, reason in reads:
        await gw.data(PLAN, token, {"cpr": cpr, "reason": reason})
    for token, cpr in [(patient, None), (proxy, PATIENT_BOTH), (gp, PATIENT_BOTH)]:
        await gw.data(ACCESS_LOG, token, {"cpr": cpr})
    await gw.query(PLAN, None, {"cpr": PATIENT_COPD})  # no token: 401
    await gw.query(PLAN, "not-a-token", {"cpr": PATIENT_COPD})
    await gw.client.get(
        "/graphql", params={"query": f'{{ plan(cpr: "{PATIENT_COPD}") {{ cpr }} }}'}
    )


def texts(record: logging.LogRecord, *, tracebacks: bool = True) -> list[str]:
    """What a handler could write of a record: message, raw args, traceback."""
    out = [record.getMessage(), repr(record.msg), repr(record.args)]
    if tracebacks:
        out.append(record.exc_text or "")
        if record.exc_info:
            out.append(logging.Formatter().formatException(record.exc_info))
    return out


def leaks(records: list[logging.LogRecord], *, tracebacks: bool = True) -> list[str]:
    """Each text of these records that holds a demo CPR, with its logger's name."""
    return [
        f"{r.name}: {text[:200]}"
        for r in records
        for text in texts(r, tracebacks=tracebacks)
        if any(p.search(text) for p in CPR_PATTERNS)
    ]


async def full_session(make_gateway: MakeGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    async with make_gateway(transport=Faults()) as gw:
        await demo_session(gw)
    async with make_gateway(transport=Faults(consent_down=True)) as gw:
        await demo_session(gw)
    async with make_gateway() as gw:

        async def refuse(entry: object) -> None:
            raise AuditWriteError("access log: could not write")

        monkeypatch.setattr(gw.app.state.services.access_log, "record", refuse)
        await demo_session(gw)


@pytest.fixture
def production_logging(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """``configure_logging`` as ``minplan serve`` runs it; caplog sees what its handler saw."""
    root = logging.getLogger()
    names = ("httpx", "uvicorn", "uvicorn.access", "uvicorn.error")
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate) for lg in map(logging.getLogger, names)]
    saved.append((root, root.handlers[:], root.level, root.propagate))
    configure_logging("DEBUG")
    root.addHandler(caplog.handler)  # after the masking handler, as any second handler would be
    try:
        yield caplog
    finally:
        for logger, handlers, level, propagate in saved:
            logger.handlers[:], logger.propagate = handlers, propagate
            logger.setLevel(level)


async def test_our_code_logs_no_cpr(
    make_gateway: MakeGateway, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first line of defence: no filter, our own log calls carry pseudonyms only."""
    caplog.set_level(logging.DEBUG)
    await full_session(make_gateway, monkeypatch)
    ours = [r for r in caplog.records if r.name.split(".")[0] in OURS]
    assert any(r.levelno >= logging.WARNING for r in ours), "the session logged no failure"
    assert [r.getMessage() for r in ours if leaks([r], tracebacks=False)] == []


async def test_no_cpr_in_any_log_as_served(
    make_gateway: MakeGateway,
    production_logging: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every record of every logger, tracebacks included, as the served gateway writes it."""
    await full_session(make_gateway, monkeypatch)
    records = production_logging.records
    assert any(r.name == "upstream.pipeline" and r.levelno == logging.ERROR for r in records)
    assert len(records) > 20
    assert leaks(records) == []


@pytest.mark.parametrize(
    ("msg", "args"),
    [
        pytest.param("plan of %s", ("0101521234",), id="in-args"),
        pytest.param("plan of 010152-1234 read", (), id="with-dash-in-message"),
        pytest.param("GET /graphql?query=plan(cpr:%3A0101521234)", (), id="after-url-colon"),
        pytest.param("GET /graphql?query=plan(cpr:%220101521234%22)", (), id="after-%22"),
        pytest.param("%s and %s", ("1709551234", "2307481234"), id="two"),
    ],
)
def test_masking_filter_masks_a_cpr(msg: str, args: tuple[object, ...]) -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, msg, args, None)
    assert CprMaskingFilter().filter(record) is True
    assert "<cpr>" in record.getMessage()
    assert leaks([record]) == []


def test_masking_filter_keeps_a_traceback_s_places_not_its_message() -> None:
    try:
        raise ValueError("no plan for 0101521234")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "took %d ms, order %s", (1234, "12345678901"),
            sys.exc_info(),
        )  # fmt: skip
    CprMaskingFilter().filter(record)
    assert leaks([record]) == []
    assert "no plan for" not in (record.exc_text or "")
    assert "ValueError" in (record.exc_text or "")
    assert "test_logs.py:" in (record.exc_text or "")  # where it happened
    assert record.getMessage() == "took 1234 ms, order 12345678901"


def test_masking_filter_masks_a_traceback_formatted_by_an_earlier_handler() -> None:
    try:
        raise ValueError("no plan for 0101521234")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    logging.Formatter().format(record)  # an earlier handler without the filter
    CprMaskingFilter().filter(record)
    assert leaks([record]) == []


def test_demo_source_requests_stay_out_of_the_access_log() -> None:
    from gateway.logs import DemoSourcesQuiet

    def access(path: str) -> logging.LogRecord:
        return logging.LogRecord(
            "uvicorn.access", logging.INFO, __file__, 1,
            '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:1", "GET", path, "1.1", 200), None,
        )  # fmt: skip

    quiet = DemoSourcesQuiet()
    assert not quiet.filter(access("/demo/fhir/journal/DocumentReference?x=1"))
    assert quiet.filter(access("/graphql"))


# --- Every spelling of a CPR, through every entry point (issue 10, finding 4) ---

SEPARATORS = "-\u2013\u2014\u2212\t/. +_\xa0"


def spellings(cpr: str) -> list[str | int]:
    """A CPR as people, forms and encoders write it (the JSON number loses its zero)."""
    dd, mm, yy, serial = cpr[:2], cpr[2:4], cpr[4:6], cpr[6:]
    out: list[str | int] = [cpr, int(cpr)]
    out += [f"{dd}{mm}{yy}{sep}{serial}" for sep in "-\u2013\t/. +"]
    out += [f"{dd}.{mm}.{yy}-{serial}", f"{dd}/{mm}/{yy} {serial}", f"{dd}-{mm}-{yy}-{serial}"]
    return out


def percent_encoded(text: str) -> str:
    """Every character percent-encoded, as a client may send a query string."""
    return "".join(f"%{b:02X}" for b in text.encode())


def cpr_in(text: str) -> bool:
    """Whether text holds a demo CPR in any spelling: decoded, separators dropped."""
    for _ in range(2):
        text = urllib.parse.unquote(text)
    for escape in ("\\t", "\\u2013", "\\u2014", "\\u2212", "\\xa0"):
        text = text.replace(escape, "")
    flat = re.sub(f"[{re.escape(SEPARATORS)}]", "", text)
    return any(
        cpr in flat or (cpr.startswith("0") and re.search(f"(?<![0-9]){cpr[1:]}(?![0-9])", flat))
        for cpr in PATIENTS
    )


def spelled_leaks(records: list[logging.LogRecord], *, tracebacks: bool = True) -> list[str]:
    return [
        f"{r.name}: {text[:300]!r}"
        for r in records
        for text in texts(r, tracebacks=tracebacks)
        if cpr_in(text)
    ]


async def send(gw: Gateway, method: str, url: str, **kwargs: Any) -> None:
    """One request; then uvicorn's access-log line for it, as uvicorn writes it."""
    request = gw.client.build_request(method, url, **kwargs)
    try:
        status = (await gw.client.send(request)).status_code
    except Exception as exc:  # an app error: uvicorn logs it with its traceback, then a 500
        logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=exc)
        status = 500
    scope = {"path": urllib.parse.unquote(request.url.path), "query_string": request.url.query}
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", method,
        get_path_with_query_string(scope), "1.1", status,  # type: ignore[arg-type]
    )  # fmt: skip


def forged_token(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'ES256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


async def every_entry_point(gw: Gateway) -> None:
    """The demo CPRs in every spelling, into every way a request reaches the gateway."""
    gp, citizen = gw.clinician(ORG_GP), gw.citizen(PATIENT_COPD)
    bearer = {"Authorization": f"Bearer {gp}"}
    plan = (
        "query($cpr: String, $r: String) { plan(cpr: $cpr, emergencyReason: $r) "
        "{ cpr packages { goals { sourceId } preventionOffers { title } } } }"
    )  # goals and offers: the Faults sources fail, and the failures are logged
    for cpr in PATIENTS:
        for spelled in spellings(cpr):
            text = str(spelled)
            await send(gw, "POST", "/graphql", json={"query": plan, "variables": {"cpr": spelled}},
                       headers=bearer)  # fmt: skip
            reason = {"cpr": PATIENT_BLOCKS, "r": f"Akut {text}"}
            await send(gw, "POST", "/graphql", json={"query": plan, "variables": reason},
                       headers=bearer)  # fmt: skip
            inline = f'{{ plan(cpr: "{text}") {{ cpr }} }}'.replace("\t", "\\t")
            await send(gw, "POST", "/graphql", json={"query": inline}, headers=bearer)
            request_id = text if text.isascii() else percent_encoded(text)  # headers: ASCII
            await send(gw, "POST", "/graphql", json={"query": "{ me { role } }"},
                       headers={**bearer, "X-Request-ID": request_id})  # fmt: skip
            await send(gw, "GET", "/graphql", params={"query": inline}, headers=bearer)
            await send(gw, "GET", f"/graphql?query={percent_encoded(inline)}", headers=bearer)
            await send(gw, "GET", "/graphql", headers=bearer, params={
                "query": plan, "variables": json.dumps({"cpr": spelled})})  # fmt: skip
            for path in ("/readyz", "/healthz", "/metrics", f"/graphql/{percent_encoded(text)}"):
                raw = urllib.parse.quote(text, safe="/.+")
                await send(gw, "GET", f"{path}?cpr={percent_encoded(text)}&p={raw}")
            await send(gw, "POST", "/graphql", json={"query": inline})  # 401
            forged = {"Authorization": f"Bearer {forged_token({'cpr': spelled})}"}
            await send(gw, "POST", "/graphql", json={"query": inline}, headers=forged)
            await send(gw, "POST", "/graphql", content=f'{{"query": "{text}', headers=bearer)
            await send(gw, "POST", "/graphql", json=spelled, headers=bearer)
            await send(gw, "POST", "/graphql", headers=bearer,
                       json={"query": plan, "variables": {"cpr": [spelled]}})  # fmt: skip
            await send(gw, "GET", f"/demo/fhir/consent/Consent?patient={percent_encoded(text)}")
        await send(gw, "POST", "/graphql", json={"query": "{ me { cpr } }"},
                   headers={"Authorization": f"Bearer {citizen}", "X-Request-ID": cpr})  # fmt: skip


async def test_no_cpr_spelling_reaches_any_log_as_served(
    make_gateway: MakeGateway, production_logging: pytest.LogCaptureFixture
) -> None:
    async with make_gateway(transport=Faults()) as gw:
        await every_entry_point(gw)
    records = production_logging.records
    assert any(r.name == "uvicorn.access" for r in records)
    assert spelled_leaks(records) == []


async def test_our_loggers_log_no_cpr_spelling_without_the_mask(
    make_gateway: MakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with make_gateway(transport=Faults()) as gw:
        await every_entry_point(gw)
    ours = [r for r in caplog.records if r.name.split(".")[0] in OURS]
    assert any(r.levelno >= logging.WARNING for r in ours), "the session logged no failure"
    assert spelled_leaks(ours) == []


def test_the_leak_detector_sees_every_spelling() -> None:
    for cpr in (PATIENT_COPD, PATIENT_BLOCKS):
        for spelled in spellings(cpr):
            assert cpr_in(f"got {spelled}!"), spelled
            assert cpr_in(percent_encoded(str(spelled))), spelled
    assert not cpr_in("request 5f0e9b2c4d1a4b6e8f00a1b2c3d4e5f6, took 1234 ms")


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        pytest.param("/graphql?query=%7Bplan%7D", "/graphql", id="query-string-cut"),
        pytest.param("/healthz", "/healthz", id="plain"),
        pytest.param("/graphql/%30%31%30%31%35%32", "/graphql/%##%##%##%##%##%##", id="digits"),
        pytest.param("/p/0101521234?x=1", "/p/##########", id="digits-and-query"),
    ],
)
def test_the_request_log_holds_method_path_and_status_only(path: str, logged: str) -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1,
        '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:1", "GET", path, "1.1", 200), None,
    )  # fmt: skip
    RequestLogFilter().filter(record)
    assert record.getMessage() == f'127.0.0.1:1 - "GET {logged} HTTP/1.1" 200'


@pytest.mark.parametrize("request_log", [True, False])
def test_the_request_log_follows_no_access_log(
    production_logging: pytest.LogCaptureFixture, request_log: bool
) -> None:
    # uvicorn writes request lines only while its access logger has handlers; a worker of
    # `minplan serve --workers N --no-access-log` makes its logging in the app factory.
    configure_logging("INFO", request_log=request_log)
    access = logging.getLogger("uvicorn.access")
    assert access.hasHandlers() is request_log
    logging.getLogger("uvicorn.access").propagate = True  # as the fixture found it
