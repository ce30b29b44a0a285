"""Synthetic FHIR sources for the benchmark: raw asyncio, far cheaper than the gateway.

One process serves all seven sources under path prefixes, e.g.
``GET /diagnoses/Condition?patient:identifier=urn:oid:1.2.208.176.1.2|CPR&_count=N``.
Every bundle is pre-encoded bytes with the CPR spliced in, sent after the source's latency
by a timer (no task, no coroutine per request), over HTTP/1.1 keep-alive.

Control endpoints (loopback only):

- ``GET /_stats`` the request count per path; ``/_stats?reset=1`` reads and resets.
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
import re
import time
from collections import Counter
from typing import Any, cast
from urllib.parse import parse_qsl, unquote

from bench.synthetic import CPR_MARK, SEARCHES, resources

__all__ = ["SourceServer", "main"]

_CPR = re.compile(rb"urn:oid:1\.2\.208\.176\.1\.2\|(\d{10})")
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


class _Template:
    """One search's bundle entries as byte pieces around the CPR: join them with one."""

    def __init__(self, path: str, items: list[dict[str, Any]]) -> None:
        entries = [
            {
                "fullUrl": f"http://bench/{path}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in items
        ]
        self.count = len(entries)
        self.pieces = b",".join(_dumps(e) for e in entries).split(CPR_MARK.encode())
        self.self_link = _dumps([{"relation": "self", "url": f"http://bench/{path}"}])

    def bundle(self, cprs: list[bytes]) -> bytes:
        entries = b",".join(cpr.join(self.pieces) for cpr in cprs)
        return b'{"resourceType":"Bundle","type":"searchset","total":%d,"link":%s,"entry":[%s]}' % (
            self.count * len(cprs),
            self.self_link,
            entries,
        )


class SourceServer:
    """The shared state of every connection: templates, latencies, flapping, counters."""

    def __init__(self, *, latency_ms: float = 20.0, slow: dict[str, float] | None = None) -> None:
        self.templates = {
            f"/{s}/{t}": _Template(f"{s}/{t}", r) for (s, t), r in resources().items()
        }
        self.default_delay = latency_ms / 1000
        self.delays = {name: ms / 1000 for name, ms in (slow or {}).items()}
        self.flap: str | None = None
        self.flap_down, self.flap_period = 2.0, 5.0
        self.counts: Counter[str] = Counter()
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
        body = _dumps({"total": sum(self.counts.values()), "paths": dict(self.counts)})
        if "reset=1" in query:
            self.counts.clear()
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
        template = self.server.templates.get(path)
        if template is not None:
            self.server.counts[path] += 1
            source = path.split("/", 2)[1]
            if self.server.is_down(source):
                answer = _response(b"503 Service Unavailable", _UNAVAILABLE)
            else:
                answer = _response(
                    b"200 OK", template.bundle(_CPR.findall(unquote(query).encode()))
                )
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
    known = {s for s, _ in SEARCHES}
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
