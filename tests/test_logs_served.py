"""No CPR reaches the log of ``minplan serve``, run as a real process, in any spelling.

``tests/test_logs.py`` checks the same in process, imitating uvicorn's request line; here
uvicorn, strawberry and the handler ``minplan serve`` configures write the lines
themselves, to the server's stderr, which is read back after a graceful stop. The demo
CPRs go in many spellings through every entry point, in one process and in two workers,
at DEBUG level so that every library's debug lines count too.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import subprocess
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from demo.people import ORG_HOSPITAL, PATIENT_BLOCKS, PATIENT_BROKEN, PATIENT_COPD, PATIENTS
from tests.demo_server import MINPLAN, free_port, wait_until_healthy

#: What people, forms and encoders put between a CPR's parts.
SEPARATORS = ["-", "\u2013", "\u2014", "\u2212", "\t", "/", ".", " ", "+", "_", "\xa0"]
PLAN = "query($cpr: String, $r: String) { plan(cpr: $cpr, emergencyReason: $r) { cpr } }"
#: Selects every source's data, so every search is made (contract §6) and read.
FULL_PLAN = """query($cpr: String) { plan(cpr: $cpr) { cpr packages {
  diagnoses { sourceId } appointments { sourceId } journalNotes { sourceId } goals { sourceId }
  triage { sourceId } healthLiteracy { sourceId } preventionOffers { sourceId } } } }"""
CONCURRENCY = 4
REQUEST_TIMEOUT = 10.0
MAX_BODY = 16_384  # below the default 64 KiB: a GET past it stays within httpx's URL limit


def percent_encoded(text: str) -> str:
    """Every byte percent-encoded, digits too: ``%30%31…``."""
    return "".join(f"%{b:02X}" for b in text.encode())


def spellings(cpr: str) -> list[str | int]:
    """A CPR as people, forms and encoders write it; the JSON number loses a leading zero."""
    dd, mm, yy, serial = cpr[:2], cpr[2:4], cpr[4:6], cpr[6:]
    out: list[str | int] = [cpr, int(cpr)]
    out += [f"{dd}{mm}{yy}{sep}{serial}" for sep in SEPARATORS]
    out += [f"{dd}.{mm}.{yy}.{serial}", f"{dd} {mm} {yy} {serial}", f"{dd}/{mm}/{yy}-{serial}"]
    out += [f"{dd}{mm}{yy} - {serial}", f"{dd}{mm}{yy} \u2013 {serial}"]
    out += [percent_encoded(cpr), f"{dd}{mm}{yy}%2D{serial}", f"{dd}{mm}{yy}%E2%80%93{serial}"]
    return out


# --- The detector: every demo CPR, however spelled, in a line of the log ---

#: Up to three separators between a CPR's parts (more than the mask allows).
_SEP = r"[\s\-\u2010-\u2015\u2212/.+_]{0,3}"


def _pattern(cpr: str) -> str:
    """DDMMYY and the serial, separators anywhere between the parts; a JSON number too."""
    days = [cpr[:2], cpr[1]] if cpr.startswith("0") else [cpr[:2]]  # 0101521234 -> 101521234
    return "|".join(
        rf"(?<![0-9]){dd}{_SEP}{cpr[2:4]}{_SEP}{cpr[4:6]}{_SEP}{cpr[6:]}(?![0-9])" for dd in days
    )


_LEAK = re.compile("|".join(_pattern(cpr) for cpr in PATIENTS))
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|([tnr]))")


def _unescaped(match: re.Match[str]) -> str:
    code, byte, letter = match.groups()
    if letter:
        return {"t": "\t", "n": "\n", "r": "\r"}[letter]
    return chr(int(code or byte, 16))


def found_cpr(line: str) -> str | None:
    """Where a log line holds a demo CPR (as written, percent-decoded, or unescaped), or None."""
    forms = [line]
    for _ in range(3):
        forms.append(urllib.parse.unquote(forms[-1]))
    forms += [_ESCAPE.sub(_unescaped, form) for form in forms]
    for form in forms:
        if found := _LEAK.search(form):
            return f"…{form[max(0, found.start() - 160) : found.end() + 40]}…"
    return None


def holds_cpr(line: str) -> bool:
    return found_cpr(line) is not None


def test_the_detector_sees_every_spelling() -> None:
    for cpr in PATIENTS:
        for spelled in spellings(cpr):
            text = str(spelled)
            for written in (text, percent_encoded(text), json.dumps(text), repr(text)):
                assert holds_cpr(f"INFO x: got {written}!"), written
        escaped = "".join(f"\\u{ord(c):04x}" for c in cpr)
        assert holds_cpr(f'body {{"cpr": "{escaped}"}}')
    assert not holds_cpr("2025-01-01 01:52:12,341 INFO request 5f0e9b2c4d1a4b6e8f00a1b2c3d4e5f6")


# --- The requests ---


def forged_token(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'ES256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def entry_points(spelled: str | int, tokens: dict[str, str]) -> list[dict[str, Any]]:
    """One spelling of a CPR into every entry point, as ``httpx.request`` arguments.

    Always the same number of requests, in the same order, whatever the spelling.
    """
    text = str(spelled)
    doc = f"{{ plan(cpr: {json.dumps(spelled)}) {{ cpr }} }}"  # a string, or an Int literal
    auth = {"Authorization": f"Bearer {tokens['clinician']}"}
    citizen = {"Authorization": f"Bearer {tokens['citizen']}"}
    quoted = urllib.parse.quote(text, safe="")
    padded = doc + " #" + "x" * MAX_BODY
    return [
        # The document and the variables, in a POST body and in a GET query string.
        {"method": "POST", "json": {"query": PLAN, "variables": {"cpr": spelled}}, "headers": auth},
        {"method": "POST", "json": {"query": PLAN, "variables": {"cpr": spelled}},
         "headers": citizen},
        {"method": "POST", "json": {"query": doc}, "headers": auth},
        {"method": "GET", "params": {"query": doc}, "headers": auth},
        {"method": "GET", "params": {"query": doc}, "headers": citizen},
        {"method": "GET", "headers": auth,
         "params": {"query": PLAN, "variables": json.dumps({"cpr": spelled})}},
        {"method": "GET", "url": f"/graphql?query={percent_encoded(doc)}", "headers": auth},
        # Wrong types, in variables and inline.
        {"method": "POST", "json": {"query": PLAN, "variables": {"cpr": [spelled]}},
         "headers": auth},
        {"method": "POST", "json": {"query": PLAN, "variables": {"cpr": {"n": spelled}}},
         "headers": auth},
        {"method": "POST", "json": {"query": PLAN, "variables": {"cpr": True, "r": spelled}},
         "headers": auth},
        {"method": "POST", "json": {"query": f"{{ plan(cpr: [{json.dumps(spelled)}]) {{ cpr }} }}"},
         "headers": auth},
        # Break the glass with a CPR in the reason; an operation name and extensions.
        {"method": "POST", "headers": auth, "json": {
            "query": PLAN, "variables": {"cpr": PATIENT_BLOCKS, "r": f"Akut, pt. {text}"}}},
        {"method": "POST", "headers": auth,
         "json": {"query": PLAN, "operationName": text, "extensions": {"cpr": spelled}}},
        # The request id: a safe one is kept, so it is written, masked.
        {"method": "POST", "json": {"query": "{ me { role } }"},
         "headers": {**auth, "X-Request-ID": text.encode()}},
        # No token, a CPR as the token, a forged token naming one.
        {"method": "POST", "json": {"query": doc}},
        {"method": "POST", "json": {"query": doc}, "headers": {"Authorization": text.encode()}},
        {"method": "POST", "json": {"query": doc},
         "headers": {"Authorization": f"Bearer {forged_token({'cpr': spelled})}"}},
        # Bodies that are not a GraphQL request, and ones past the size limit.
        {"method": "POST", "content": f'{{"query": "{text}', "headers": auth},
        {"method": "POST", "content": f"cpr={text}",
         "headers": {**auth, "Content-Type": "application/x-www-form-urlencoded"}},
        {"method": "POST", "json": spelled, "headers": auth},
        {"method": "POST", "headers": auth, "content": json.dumps({"query": padded})},
        {"method": "POST", "headers": auth, "stream": json.dumps({"query": padded})},
        {"method": "GET", "headers": auth, "params": {"query": padded}},
        # Query strings and paths elsewhere; the demo's own sources.
        *({"method": "GET", "url": f"{path}?cpr={quoted}&raw={percent_encoded(text)}"}
          for path in ("/readyz", "/healthz", "/metrics", f"/graphql/{quoted}", f"/{quoted}")),
        {"method": "GET", "url": f"/demo/fhir/consent/Consent?patient={quoted}"},
        {"method": "GET", "url": f"/demo/fhir/{quoted}/Condition"},
    ]  # fmt: skip


def every_request(tokens: dict[str, str]) -> list[dict[str, Any]]:
    """Every spelling through every entry point, the CPRs taking turns.

    Each (spelling, entry point) pair is sent once, with the CPRs in rotation, so each CPR
    goes in every spelling and through every entry point: a full product is too slow.
    """
    cprs = list(PATIENTS)
    table = [[entry_points(spelled, tokens) for spelled in spellings(cpr)] for cpr in cprs]
    width, kinds = len(table[0][0]), len(table[0])
    out = [
        table[(kind + entry) % len(cprs)][kind][entry]
        for kind in range(kinds)
        for entry in range(width)
    ]
    auth = {"Authorization": f"Bearer {tokens['clinician']}"}
    for cpr in cprs:
        # JSON's \u0030 escapes, in variables and in the document (GraphQL reads them too).
        escaped = "".join(f"\\u{ord(c):04x}" for c in cpr)
        out += [
            {"method": "POST", "headers": {**auth, "Content-Type": "application/json"},
             "content": f'{{"query": "{PLAN}", "variables": {{"cpr": "{escaped}"}}}}'},
            {"method": "POST", "headers": {**auth, "Content-Type": "application/json"},
             "content": f'{{"query": "{{ plan(cpr: \\"{escaped}\\") {{ cpr }} }}"}}'},
            {"method": "POST", "json": {"query": f'{{ plan(cpr: "{escaped}") {{ cpr }} }}'},
             "headers": auth},
            {"method": "POST", "json": {"query": f"{{ a{cpr}: me {{ role }} b{cpr} }}"},
             "headers": auth},
        ]  # fmt: skip
    # A plan with unreadable resources: the server logs warnings about it (pseudonymised).
    out.append({"method": "POST", "json": {"query": FULL_PLAN,
                "variables": {"cpr": PATIENT_BROKEN}}, "headers": auth})  # fmt: skip
    return out


async def pieces(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 8192):
        yield body[start : start + 8192]


async def send_all(url: str, requests: list[dict[str, Any]]) -> list[int]:
    """Every request, a few at a time; the status of each."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(client: httpx.AsyncClient, request: dict[str, Any]) -> int:
        async with gate:
            request = {"url": "/graphql", **request}
            if "stream" in request:  # a body without a Content-Length, sent in pieces
                request["content"] = pieces(request.pop("stream").encode())
            return (await client.request(**request)).status_code

    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT) as client:
        return list(await asyncio.gather(*(one(client, r) for r in requests)))


# --- The served gateway ---


@dataclass(frozen=True)
class Served:
    log: list[str]
    statuses: list[int]
    #: Requests the request log should show (not the demo sources', which it leaves out).
    logged: int


@dataclass(frozen=True)
class Home:
    """A dev key of its own (never the user's), and tokens ``minplan token`` made with it."""

    path: Path
    env: dict[str, str]
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    path = tmp_path_factory.mktemp("served")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINPLAN_")}
    env |= {
        "MINPLAN_DEV_KEY_FILE": str(path / "dev-signing-key.pem"),
        "XDG_STATE_HOME": str(path / "state"),
        "MINPLAN_LOG_LEVEL": "DEBUG",
        "MINPLAN_MAX_BODY_BYTES": str(MAX_BODY),
    }

    def token(*args: str) -> str:
        done = subprocess.run(  # noqa: S603
            [str(MINPLAN), "token", *args],
            env=env, capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    tokens = {
        "clinician": token("--role", "clinician", "--org", ORG_HOSPITAL),
        "citizen": token("--role", "citizen", "--cpr", PATIENT_COPD),
    }
    return Home(path, env, tokens)


def serve_and_send(home: Home, workers: int) -> Served:
    """``minplan serve`` on a free port; every request; a graceful stop; its stderr."""
    env = home.env | {"MINPLAN_AUDIT_URL": f"sqlite:///{home.path / f'log-{workers}.sqlite3'}"}
    requests = every_request(home.tokens)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = home.path / f"stderr-{workers}.log"
    argv = [str(MINPLAN), "serve", "--port", str(port), "--workers", str(workers)]
    with log.open("wb") as err:
        process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)  # noqa: S603
    try:
        wait_until_healthy(url, process, log)
        statuses = asyncio.run(send_all(url, requests))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    logged = sum(not r.get("url", "").startswith("/demo/fhir/") for r in requests)
    return Served(log.read_text(errors="replace").splitlines(), statuses, logged)


@pytest.fixture(scope="module", params=[1, 2], ids=["one-process", "two-workers"])
def served(request: pytest.FixtureRequest, home: Home) -> Served:
    return serve_and_send(home, request.param)


_REQUEST_LINE = re.compile(r'uvicorn\.access: [^ ]+ - "(GET|POST) [^ ]* HTTP/1\.1" ([0-9]{3})$')


def test_every_request_was_answered_and_logged(served: Served) -> None:
    assert {401, 400, 413, 200, 404} <= set(served.statuses)
    request_lines = [line for line in served.log if _REQUEST_LINE.search(line)]
    assert len(request_lines) >= served.logged, "\n".join(served.log[-20:])
    assert any(" WARNING " in line for line in served.log), "the broken plan logged nothing"


def test_no_log_line_holds_a_cpr(served: Served) -> None:
    assert [found for line in served.log if (found := found_cpr(line))] == []
