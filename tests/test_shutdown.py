"""Clean shutdown (contract §4): SIGTERM under load, as an orchestrator stops a replica.

A real ``minplan serve`` (one process, and ``--workers 2``) in front of the demo's sources
served slow, so that requests are surely in flight when the signal comes. Clinicians read
plans over kept-alive connections the whole time. Every request must either complete (200
with a plan) or be refused before any byte of an answer, never cut short nor answered
5xx; the process exits 0 within the grace; and the access log holds the entry of every
plan a clinician got.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn

from demo.people import ORG_GP, ORG_HOSPITAL, PATIENT_BOTH, PATIENT_COPD, PATIENT_LBP
from demo.sources import create_sources_app
from gateway.devtokens import DEV_ISSUER, DevIssuer
from gateway.services import READABLE_SOURCES
from plans.audit.base import DEFAULT_TABLE
from tests.demo_server import MINPLAN, PLAN, free_port

#: Each source answers this late, so a plan takes at least as long.
SOURCE_LATENCY = 0.25
GRACE_S = 10
CLIENTS = 4
#: How long the clinicians read before the SIGTERM.
LOAD_BEFORE_SIGTERM = 1.5
START_TIMEOUT = 90.0  # two cores shared with other test runs: spawned workers start slowly


@dataclass
class Outcomes:
    """What the clinicians saw, filled by their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    #: request id → (patient, sent at, answered at), for every plan answered in full.
    completed: dict[str, tuple[str, float, float]] = field(default_factory=dict)
    #: request ids refused before any byte of an answer.
    refused: list[str] = field(default_factory=list)
    #: anything else: a 5xx, an error answer, a truncated body.
    wrong: list[str] = field(default_factory=list)


@contextlib.contextmanager
def slow_sources() -> Iterator[str]:
    """The demo's sources, each answering late, on a port of their own (in a thread)."""
    port = free_port()
    app = create_sources_app(latency=dict.fromkeys((*READABLE_SOURCES, "listing"), SOURCE_LATENCY))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "the slow sources did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def gateway_env(home: Path, sources: str) -> dict[str, str]:
    """Real-source settings: the demo's sources, the dev issuer's key as the IdP's."""
    issuer = DevIssuer(home / "dev-signing-key.pem")
    jwks = home / "jwks.json"
    jwks.write_text(json.dumps(issuer.jwks()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINPLAN_")}
    env |= {
        f"MINPLAN_SOURCE_{name.upper()}_URL": f"{sources}/{name}"
        for name in (*READABLE_SOURCES, "listing")
    }
    return env | {
        "MINPLAN_AUTH_ISSUER": DEV_ISSUER,
        "MINPLAN_AUTH_JWKS_URL": jwks.as_uri(),
        "MINPLAN_PSEUDONYM_KEY": "shutdown-test-" + "k" * 32,
        "MINPLAN_AUDIT_URL": f"sqlite:///{home / 'access-log.sqlite3'}",
        "MINPLAN_SHUTDOWN_GRACE_S": str(GRACE_S),
        "MINPLAN_CACHE_TTL": "0",  # every read goes to the (slow) sources
        "MINPLAN_REQUEST_DEADLINE": "5",
    }


def wait_until_healthy(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"minplan serve exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"minplan serve not healthy after {START_TIMEOUT} s:\n{log.read_text()}")


def clinician(
    port: int, token: str, patients: list[str], outcomes: Outcomes, stop: threading.Event
) -> None:
    """Read plans back to back on one kept-alive connection, reconnecting when it closes.

    ``http.client`` tells where a failure happened: before the status line
    (``RemoteDisconnected``, a reset or a refused connection: nothing was answered) or
    within the body (``IncompleteRead``: an answer cut short).
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    n = 0
    while not stop.is_set():
        patient = patients[n % len(patients)]
        n += 1
        rid = uuid.uuid4().hex
        body = json.dumps({"query": PLAN, "variables": {"cpr": patient}})
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "X-Request-ID": rid,
        }
        sent = time.monotonic()
        try:
            connection.request("POST", "/graphql", body=body, headers=headers)
            response = connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError) as exc:
            # Nothing of an answer arrived: refused before it started.
            with outcomes.lock:
                outcomes.refused.append(rid)
            connection.close()
            if isinstance(exc, ConnectionRefusedError):
                return  # the server no longer accepts: this clinician is done
            continue
        try:
            raw = response.read()
        except (http.client.IncompleteRead, ConnectionError) as exc:
            with outcomes.lock:
                outcomes.wrong.append(f"{rid}: answer cut short ({exc!r})")
            connection.close()
            continue
        answered = time.monotonic()
        payload = json.loads(raw) if response.status == 200 else None
        plan = (payload or {}).get("data", {}) or {}
        with outcomes.lock:
            if payload is not None and "errors" not in payload and plan.get("plan"):
                outcomes.completed[rid] = (patient, sent, answered)
            else:
                outcomes.wrong.append(f"{rid}: HTTP {response.status} {raw[:200]!r}")
        if response.will_close:
            connection.close()


def logged_request_ids(home: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(home / "access-log.sqlite3")) as db:
        rows = db.execute(f"SELECT request_id FROM {DEFAULT_TABLE}").fetchall()  # noqa: S608
    return [row[0] for row in rows]


@pytest.mark.parametrize(
    "serve_args",
    [pytest.param([], id="one-process"), pytest.param(["--workers", "2"], id="two-workers")],
)
def test_sigterm_under_load_finishes_what_started_refuses_the_rest_and_logs_every_read(
    tmp_path: Path, serve_args: list[str]
) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    issuer = DevIssuer(tmp_path / "dev-signing-key.pem")
    tokens = [
        issuer.issue(role="clinician", org=org, name="Dr. Test", org_name="Test")
        for org in (ORG_GP, ORG_HOSPITAL)
    ]
    patients = [PATIENT_COPD, PATIENT_LBP, PATIENT_BOTH]
    outcomes = Outcomes()
    stop = threading.Event()
    with slow_sources() as sources, log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603
            [str(MINPLAN), "serve", "--port", str(port), "--no-request-log", *serve_args],
            env=gateway_env(tmp_path, sources),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_healthy(port, process, log)
            threads = [
                threading.Thread(
                    target=clinician,
                    args=(port, tokens[n % len(tokens)], patients, outcomes, stop),
                )
                for n in range(CLIENTS)
            ]
            for thread in threads:
                thread.start()
            time.sleep(LOAD_BEFORE_SIGTERM)
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=GRACE_S + 30)
            exited = time.monotonic()
        finally:
            stop.set()
            if process.poll() is None:
                process.kill()
                process.wait()
        for thread in threads:
            thread.join(timeout=30)

    server_log = log.read_text()
    assert code == 0, server_log
    assert exited - signalled <= GRACE_S, "the process outlived its grace"
    assert outcomes.wrong == [], "every request completed or was refused before it started"
    completed_before = [
        rid for rid, (_p, _s, done) in outcomes.completed.items() if done < signalled
    ]
    in_flight = [rid for rid, (_p, sent, done) in outcomes.completed.items()
                 if sent < signalled < done]  # fmt: skip
    assert completed_before, "the clinicians read plans before the SIGTERM"
    assert in_flight, "a request in flight at the SIGTERM was let finish"
    logged = logged_request_ids(tmp_path)
    assert len(logged) == len(set(logged)), "one entry per read"
    assert set(outcomes.completed) <= set(logged), "every plan a clinician got is logged"
    assert set(logged) <= set(outcomes.completed) | set(outcomes.refused)
    assert "Traceback" not in server_log
