"""Slow and silent clients against ``minplan serve`` as a real process, over raw sockets.

The server runs with short limits (1 s for a head, 2 s for a body, 1 s of keep-alive), so
each test knows within a few seconds whether the connection was closed. Every loop is
bounded: a connection still open at its end fails the test rather than hang it.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.demo_server import MINPLAN, free_port, wait_until_healthy

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 2.0
KEEP_ALIVE = 1
MARGIN = 2.5  # for a loaded machine: still far below the 30-40 s the probe saw
MAX_BODY = 4096


@dataclass(frozen=True)
class Served:
    host: str
    port: int


@pytest.fixture(scope="module", params=[1, 2], ids=["one-process", "two-workers"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("slow")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINPLAN_")}
    env |= {
        "MINPLAN_DEV_KEY_FILE": str(home / "dev-signing-key.pem"),
        "MINPLAN_AUDIT_URL": f"sqlite:///{home / 'access-log.sqlite3'}",
        "MINPLAN_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "MINPLAN_BODY_TIMEOUT": str(BODY_TIMEOUT),
        "MINPLAN_KEEP_ALIVE_TIMEOUT": str(KEEP_ALIVE),
        "MINPLAN_MAX_BODY_BYTES": str(MAX_BODY),
    }
    port = free_port()
    log = home / "server.log"
    argv = [str(MINPLAN), "serve", "--port", str(port), "--workers", str(request.param)]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process, log)
        yield Served("127.0.0.1", port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _connect(served: Served) -> socket.socket:
    return socket.create_connection((served.host, served.port), timeout=5)


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """True once the server closes ``sock`` (EOF or reset) within ``seconds``; reads and
    drops anything it sends first."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], left)
        if not readable:
            continue
        try:
            if sock.recv(65536) == b"":
                return True
        except OSError:
            return True
    return False


def _drip(sock: socket.socket, pieces: list[bytes], every: float) -> float | None:
    """Send ``pieces`` one every ``every`` s; the seconds until the server closed, or None."""
    started = time.monotonic()
    for piece in pieces:
        try:
            sock.sendall(piece)
        except OSError:
            return time.monotonic() - started
        if _closed_within(sock, every):
            return time.monotonic() - started
    return None


def _response(sock: socket.socket) -> bytes:
    """One whole response with a Content-Length (enough for /healthz)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return head + b"\r\n\r\n" + body


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def test_a_connection_that_sends_nothing_is_closed(served: Served) -> None:
    with _connect(served) as sock:
        assert _closed_within(sock, HEADER_TIMEOUT + MARGIN)


def test_a_connection_that_sends_a_partial_request_line_is_closed(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(b"GET /heal")
        assert _closed_within(sock, HEADER_TIMEOUT + MARGIN)


@pytest.mark.parametrize("every", [0.3, 0.6])
def test_a_head_sent_a_line_at_a_time_is_closed(served: Served, every: float) -> None:
    lines = [b"POST /graphql HTTP/1.1\r\n"] + [f"X-Slow-{n}: {n}\r\n".encode() for n in range(40)]
    with _connect(served) as sock:
        closed_after = _drip(sock, lines, every)
    assert closed_after is not None, "the server waited for the whole head"
    assert closed_after < HEADER_TIMEOUT + MARGIN


def test_a_head_sent_a_byte_at_a_time_is_closed(served: Served) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"p" * 200
    with _connect(served) as sock:
        closed_after = _drip(sock, [bytes([b]) for b in head], 0.05)
    assert closed_after is not None and closed_after < HEADER_TIMEOUT + MARGIN


@pytest.mark.parametrize(
    "framing",
    [
        pytest.param(b"Content-Length: 200\r\n", id="content-length"),
        pytest.param(b"Transfer-Encoding: chunked\r\n", id="chunked"),
    ],
)
def test_a_body_sent_a_byte_at_a_time_is_closed(served: Served, framing: bytes) -> None:
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\n" + framing + b"\r\n"
    )
    chunked = b"chunked" in framing
    pieces = [b"1\r\nx\r\n" if chunked else b"x" for _ in range(200)]
    with _connect(served) as sock:
        sock.sendall(head)
        closed_after = _drip(sock, pieces, 0.3)
    assert closed_after is not None, "the server waited for the whole body"
    assert closed_after < BODY_TIMEOUT + MARGIN


def test_an_idle_kept_alive_connection_is_closed(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(HEALTHZ)
        assert b" 200 " in _response(sock).split(b"\r\n", 1)[0]
        assert _closed_within(sock, KEEP_ALIVE + MARGIN)


def test_a_slow_second_head_on_a_kept_alive_connection_is_closed(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(HEALTHZ)
        _response(sock)
        lines = [b"GET /healthz HTTP/1.1\r\n"] + [
            f"X-Slow-{n}: {n}\r\n".encode() for n in range(40)
        ]
        closed_after = _drip(sock, lines, 0.3)
    assert closed_after is not None and closed_after < HEADER_TIMEOUT + MARGIN


def test_a_prompt_client_is_answered_on_a_kept_alive_connection(served: Served) -> None:
    with _connect(served) as sock:
        for _ in range(3):
            sock.sendall(HEALTHZ)
            response = _response(sock)
            assert response.startswith(b"HTTP/1.1 200 ")
            assert b'{"status":"ok"}' in response
            head = response.split(b"\r\n\r\n")[0].lower()
            assert b"\r\nserver:" not in head, "the server does not name itself"
            assert b"x-content-type-options: nosniff" in head
        body = b'{"query": "{ me { role } }"}'
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        assert _response(sock).startswith(b"HTTP/1.1 401 ")


def test_a_head_past_its_size_limit_is_refused(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
            + b"b" * (MAX_BODY + 20_000)
            + b"\r\n\r\n"
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 431 "), data[:100]


def test_a_declared_body_past_the_limit_is_413_and_the_connection_closes(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100000000\r\n\r\n{"query": "{ me { cpr } } #'
        )
        head = _response(sock)
        assert head.startswith(b"HTTP/1.1 413 ")
        assert b"PAYLOAD_TOO_LARGE" in head
        assert _closed_within(sock, MARGIN)


def test_no_redirect_names_the_host_header(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(b"GET /graphql/ HTTP/1.1\r\nHost: evil.example\r\n\r\n")
        response = _response(sock)
    assert b"evil.example" not in response
    assert b"location:" not in response.lower()


def test_the_playground_page_has_its_security_headers(served: Served, tmp_path: Path) -> None:
    with _connect(served) as sock:
        sock.sendall(b"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n\r\n")
        head = _response(sock).split(b"\r\n\r\n")[0].lower()
    assert b"content-security-policy: default-src 'none'" in head
    assert b"x-frame-options: deny" in head
    assert b"x-content-type-options: nosniff" in head
    assert b"\r\nserver:" not in head
