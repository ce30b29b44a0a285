"""Synthetic FHIR sources for the benchmark: raw asyncio, far cheaper than the gateway.

One process serves all ten sources under path prefixes, e.g.
``GET /diagnoses/Condition?patient:identifier=urn:oid:1.2.208.176.1.2|CPR&_count=N``, and
``listing`` by clinic (``GET /listing/Patient?general-practitioner:identifier=…``).
Every bundle is pre-encoded bytes with the CPR spliced in (bench/bundles.py: the work-list
clinic's listed patients get their own data, anyone else the usual patient), paged by
``_count``, sent after the source's latency by a timer (no task, no coroutine per
request), over HTTP/1.1 keep-alive.

Control endpoints (loopback only):

- ``GET /_stats`` per path: requests (``paths``), CPRs asked over first pages
  (``patients``), pages after the first (``next_pages``) and the most CPRs one search
  asked (``most_patients``); ``/_stats?reset=1`` reads and resets.
- ``GET /_control?default=20&journal=100&flap=appointments&flap_down=2&flap_period=5``:
  latency in ms (``default`` and per source), and one flapping source answering 503 for
  ``flap_down`` seconds out of every ``flap_period`` (``flap=`` turns it off).
- ``GET /healthz``.

Run: ``python -m bench.sources --port 9100 --latency-ms 20 --slow journal=100``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from typing import cast
from urllib.parse import parse_qsl

from bench.bundles import Bundles
from bench.clinic import today
from bench.synthetic import SEARCHES, resources

__all__ = ["SourceServer", "main"]

_FHIR = b"application/fhir+json"
_UNAVAILABLE = (
    b'{"resourceType":"OperationOutcome","issue":[{"severity":"error",'
    b'"code":"transient","diagnostics":"flapping: down for now"}]}'
)


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _response(status: bytes, body: bytes, content_type: bytes = _FHIR) -> bytes:
    head = b"HTTP/1.1 %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n"
    return head % (status, content_type, len(body)) + body


class SourceServer:
    """The shared state of every connection: templates, latencies, flapping, counters."""

    def __init__(self, *, latency_ms: float = 20.0, slow: dict[str, float] | None = None) -> None:
        self.bundles = Bundles(resources(), today())
        self.default_delay = latency_ms / 1000
        self.delays = {name: ms / 1000 for name, ms in (slow or {}).items()}
        self.flap: str | None = None
        self.flap_down, self.flap_period = 2.0, 5.0
        self.counts: Counter[str] = Counter()
        self.patients: Counter[str] = Counter()  # CPRs asked per path, over first pages
        self.next_pages: Counter[str] = Counter()  # pages after the first, per path
        self.most: Counter[str] = Counter()  # the most CPRs one search asked, per path
        self.started = time.monotonic()

    def delay_for(self, source: str) -> float:
        return self.delays.get(source, self.default_delay)

    def is_down(self, source: str) -> bool:
        if source != self.flap:
            return False
        return (time.monotonic() - self.started) % self.flap_period < self.flap_down

    def control(self, query: str) -> bytes:
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key == "default":
                self.default_delay = float(value) / 1000
            elif key == "flap":
                self.flap, self.started = value or None, time.monotonic()
            elif key == "flap_down":
                self.flap_down = float(value)
            elif key == "flap_period":
                self.flap_period = float(value)
            elif key == "reset_latency":
                self.delays.clear()
            else:
                self.delays[key] = float(value) / 1000
        config = {
            "default_ms": self.default_delay * 1000,
            "latency_ms": {k: v * 1000 for k, v in self.delays.items()},
            "flap": self.flap,
            "flap_down": self.flap_down,
            "flap_period": self.flap_period,
        }
        return _response(b"200 OK", _dumps(config), b"application/json")

    def stats(self, query: str) -> bytes:
        body = _dumps(
            {
                "total": sum(self.counts.values()),
                "paths": dict(self.counts),
                "patients": dict(self.patients),
                "next_pages": dict(self.next_pages),
                "most_patients": dict(self.most),
            }
        )
        if "reset=1" in query:
            for counter in (self.counts, self.patients, self.next_pages, self.most):
                counter.clear()
        return _response(b"200 OK", body, b"application/json")


class _Connection(asyncio.Protocol):
    def __init__(self, server: SourceServer) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            self.handle(head)

    def handle(self, head: bytes) -> None:
        line, _, headers = head.partition(b"\r\n")
        parts = line.split(b" ")
        target = parts[1].decode("latin-1") if len(parts) == 3 else "/"
        path, _, query = target.partition("?")
        close = b"connection: close" in headers.lower()
        found = self.server.bundles.answer(path, query)
        if found is not None:
            server = self.server
            server.counts[path] += 1
            server.patients[path] += found.patients
            server.next_pages[path] += found.next_page
            server.most[path] = max(server.most[path], found.patients)
            source = path.split("/", 2)[1]
            if server.is_down(source):
                answer = _response(b"503 Service Unavailable", _UNAVAILABLE)
            else:
                answer = _response(b"200 OK", found.body)
            self.loop.call_later(self.server.delay_for(source), self.send, answer, close)
            return
        if path == "/_stats":
            answer = self.server.stats(query)
        elif path == "/_control":
            answer = self.server.control(query)
        elif path == "/healthz":
            answer = _response(b"200 OK", b'{"status":"ok"}', b"application/json")
        else:
            answer = _response(b"404 Not Found", b'{"error":"unknown path"}', b"application/json")
        self.send(answer, close)

    def send(self, answer: bytes, close: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(answer)
        if close:
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(host: str, port: int, server: SourceServer) -> None:
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(lambda: _Connection(server), host, port, backlog=1024)
    async with listener:
        await listener.serve_forever()


def _slow(values: list[str]) -> dict[str, float]:
    known = {s for s, _ in SEARCHES} | {"listing"}
    slow: dict[str, float] = {}
    for value in values:
        name, _, ms = value.partition("=")
        if name not in known or not ms:
            raise SystemExit(
                f"--slow wants SOURCE=MS with SOURCE in {sorted(known)}, got {value!r}"
            )
        slow[name] = float(ms)
    return slow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--slow", action="append", default=[], help="SOURCE=MS, repeatable")
    args = parser.parse_args()
    server = SourceServer(latency_ms=args.latency_ms, slow=_slow(args.slow))
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.host, args.port, server))
    else:
        uvloop.run(serve(args.host, args.port, server))


if __name__ == "__main__":
    main()
