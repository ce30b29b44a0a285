"""uvicorn, configured so a slow or silent client cannot hold a connection.

uvicorn bounds only the idle time between requests (``timeout_keep_alive``): a client that
sends nothing, drips its request head a line at a time, or drips its body, keeps its
connection (and a slot of the server) as long as it likes. Hypercorn's ``read_timeout`` is
per read, so a drip defeats it too. So this is uvicorn's own httptools protocol with two
timers added, each closing the connection when it fires:

- the *head* timer runs from the connection's start, or a new request's first byte, until
  its head (request line and headers) is complete: ``MINPLAN_HEADER_TIMEOUT``;
- the *body* timer runs from the head's end until the whole body is in:
  ``MINPLAN_BODY_TIMEOUT``.

A head larger than the body limit plus 16 KiB of headers is refused with HTTP 431.
``minplan serve`` uses :func:`server_config` and :class:`GracefulServer` in one process and
in each worker, on sockets it binds itself (:func:`listen`) before it says it is ready.

Shutdown (contract §4): on SIGTERM uvicorn stops accepting, closes idle connections, and
lets requests in flight finish for up to ``MINPLAN_SHUTDOWN_GRACE_S``; then the app's
lifespan closes the services (the access log last), and the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .coalesce import send_head_with_body
from .edge import error_body
from .settings import Settings

__all__ = [
    "HEADERS_ALLOWANCE",
    "STOP_SIGNALS",
    "GracefulServer",
    "GuardedHttpToolsProtocol",
    "catch_stop_signals",
    "guarded_protocol",
    "listen",
    "server_config",
]

#: Bytes a request head may hold beyond its query string: the headers, a token included.
HEADERS_ALLOWANCE = 16 * 1024


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol with time limits on a request's head and body.

    Subclass it with the limits set (see :func:`guarded_protocol`): uvicorn builds one
    instance per connection from the class alone.
    """

    header_timeout: float = 5.0
    body_timeout: float = 10.0
    max_head_bytes: int = 64 * 1024 + HEADERS_ALLOWANCE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._reading_head = True  # the next bytes belong to a request head
        self._head_bytes = 0  # bytes received while reading the head
        self._head_size = 0  # the URL and headers parsed so far
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(self.header_timeout, self._time_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._reading_head:
            if self._head_timer is None:  # a new request on a kept-alive connection
                self._head_timer = self.loop.call_later(self.header_timeout, self._time_out)
            self._head_bytes += len(data)
        super().data_received(data)
        if self._reading_head and self._head_bytes > self.max_head_bytes:
            self._refuse_head()  # a head that never ends, sent fast

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._head_bytes = 0
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if self._head_size > self.max_head_bytes:  # a whole head, too large, in one go
            self._refuse_head()
            return
        self._head_size = 0
        self._body_timer = self.loop.call_later(self.body_timeout, self._time_out)
        super().on_headers_complete()
        send_head_with_body(self.cycle)

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._reading_head = True
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """A request that is not HTTP/1.1 gets a JSON error like every other, not plain text."""
        body = orjson.dumps(error_body(400, "The request is not valid HTTP/1.1."))
        head = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"x-content-type-options: nosniff\r\ncache-control: no-store\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()

    def _time_out(self) -> None:
        # Too slow to be a client that wants an answer: no answer, the connection closes.
        self._cancel_timers()
        if not self.transport.is_closing():
            self.transport.close()

    def _refuse_head(self) -> None:
        # From here on the connection only closes: nothing more is parsed or answered.
        self._refused = True
        self._cancel_timers()
        if not self.transport.is_closing():
            self.transport.write(
                STATUS_LINE[431] + b"content-length: 0\r\nconnection: close\r\n\r\n"
            )
            self.transport.close()

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None


def guarded_protocol(
    *, header_timeout: float, body_timeout: float, max_head_bytes: int
) -> type[GuardedHttpToolsProtocol]:
    """The protocol class with these limits, for ``uvicorn.Config(http=…)``."""
    limits = {
        "header_timeout": header_timeout,
        "body_timeout": body_timeout,
        "max_head_bytes": max_head_bytes,
    }
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), limits)


def server_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """uvicorn's config for the gateway: the guarded protocol, keep-alive, no ``server``.

    Args:
        app: the ASGI app, or an import string (with ``factory=True`` in ``options``).
        settings: the limits come from here.
        options: passed on to ``uvicorn.Config`` (host, port, access_log, …).
    """
    protocol = guarded_protocol(
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        max_head_bytes=settings.max_body_bytes + HEADERS_ALLOWANCE,
    )
    return uvicorn.Config(
        app,
        http=protocol,
        timeout_keep_alive=settings.keep_alive_timeout,
        timeout_graceful_shutdown=settings.shutdown_grace_s,
        server_header=False,
        log_config=None,
        **options,
    )


#: Connections the kernel queues for a listening socket before refusing more.
BACKLOG = 2048


def listen(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening, for uvicorn to serve on.

    Bound here, before the server says it is ready, so a busy port is one ``OSError``
    (``EADDRINUSE``) to report rather than a traceback from inside uvicorn. Without
    ``reuse_port`` the bind fails whenever any other socket listens on the port, with
    ``SO_REUSEPORT`` or not: that is how a second ``minplan serve`` finds the first.

    Raises:
        OSError: the address is taken, not local, or not allowed (a port below 1024).
    """
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # SO_REUSEADDR: a port whose last connections linger in TIME_WAIT is free to reuse;
        # on Linux it never lets two sockets listen on one port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


#: The signals that stop the server gracefully.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def catch_stop_signals() -> threading.Event:
    """From now on, SIGTERM or SIGINT is remembered instead of ending the process at once.

    Called once the port is bound: an orchestrator may stop the server while it still
    starts, and :class:`GracefulServer` given the event then stops as soon as it has started.
    """
    stop = threading.Event()

    def remember(_signum: int, _frame: object) -> None:
        stop.set()

    for sig in STOP_SIGNALS:
        signal.signal(sig, remember)
    return stop


class GracefulServer(uvicorn.Server):
    """uvicorn's server, exiting 0 after a graceful stop on SIGTERM or SIGINT.

    uvicorn re-raises the signal once it has shut down, so the process would end killed by
    SIGTERM (exit status 143, or -15 for a parent): an orchestrator reads that as a crash.
    The contract asks for exit 0 after a clean shutdown, so the signals are handled here
    and not raised again.

    Args:
        config: uvicorn's config (see :func:`server_config`).
        stopped: set by :func:`catch_stop_signals` when a stop came before the server ran;
            it then starts, and stops again at once.
    """

    def __init__(self, config: uvicorn.Config, *, stopped: threading.Event | None = None) -> None:
        super().__init__(config)
        self._stopped_early = stopped

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        if self._stopped_early is not None and self._stopped_early.is_set():
            self.should_exit = True
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
