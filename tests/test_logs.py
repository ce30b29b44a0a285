"""CPR numbers never reach a log in clear: a whole demo session, every viewer, every failure."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator

import httpx
import pytest

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
from gateway.errors import AuditWriteError
from gateway.logs import CprMaskingFilter, configure_logging
from tests.conftest import Gateway, MakeGateway

PLAN = """query($cpr: String, $reason: String) { plan(cpr: $cpr, emergencyReason: $reason) {
  cpr restricted packages { kind journalNotes { sourceId text } appointments { sourceId } }
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
    assert any(r.name == "gateway.sources" and r.levelno == logging.ERROR for r in records)
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
