"""The HTTP transport to the sources: httpx-aiohttp's, plus a whole-body GET for searches.

:class:`SourceTransport` *is* an httpx transport (``httpx-aiohttp``'s ``AiohttpTransport``):
``httpx.AsyncClient(transport=...)`` works as ever, and tests swap in any httpx transport
or respx. It adds :meth:`SourceTransport.get`, which the FHIR client uses for its searches
when it has one: the same aiohttp session and pool, but no ``httpx.Request`` and
``httpx.Response`` around each search.

Why by hand: each search built an ``httpx.Request``, whose URL httpx parses and checks
character by character (about 20 µs hot for a search URL, 85 µs in the gateway's request
path), then the adapter turned it back into a string for aiohttp, which parsed it again,
and the body came back through httpx's streaming layer. No library offers a plain GET on
httpx-aiohttp's session. Measured on the bench machine (2 cores), in-process with sources
answering at once: 0.62 → 0.54 ms of CPU per search; (a, 20 ms) at 1 client: p50 29.6 →
28.5 ms, CPU per plan 10.6 → 9.1 ms (``bench/``, A/B over 3 alternating rounds).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
import httpx
from aiohttp import ClientSession
from httpx_aiohttp import AiohttpTransport

__all__ = ["BodyTooLarge", "RawResponse", "SourceTransport", "body_limit", "read_within"]

#: What is read of an answer other than 200 OK, whose body is never used: a small one is
#: read (the connection then serves the next search), a larger one is not (it is closed).
ERROR_BODY_BYTES = 64 * 1024

#: No aiohttp timer per search: the caller bounds the whole search (FhirClient.search,
#: ``asyncio.timeout``). aiohttp's default (5 minutes in all) armed and cancelled a timer
#: for every GET, about 2% of the gateway's CPU at 1 client.
_CALLER_BOUNDS_IT = aiohttp.ClientTimeout(total=None, sock_connect=None)


@dataclass(frozen=True, slots=True)
class RawResponse:
    """A whole response: status, the Content-Type header (``""`` if absent) and the body."""

    status: int
    content_type: str
    body: bytes


class BodyTooLarge(Exception):
    """A response body beyond the caller's limit: refused before it is read to the end."""


async def read_within(
    chunks: AsyncIterator[bytes], *, declared: int | None, max_bytes: int
) -> bytes:
    """A whole body from its (unpacked) chunks, refused (:class:`BodyTooLarge`) past ``max_bytes``.

    A declared Content-Length beyond the limit is refused before reading a byte; without
    one (chunked), or when the body is compressed (a small gzip can unpack to gigabytes),
    the bytes are counted as they come. Neither aiohttp's ``read()`` nor httpx's has a limit.
    """
    if declared is not None and declared > max_bytes:
        raise BodyTooLarge
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge
        parts.append(chunk)
    return b"".join(parts)


def body_limit(status: int, max_bytes: int) -> int:
    """How much of an answer to read: ``max_bytes`` of a 200, :data:`ERROR_BODY_BYTES` of
    anything else, whose status is the answer (a 503 with a big page is still a 503).
    """
    return max_bytes if status == 200 else min(max_bytes, ERROR_BODY_BYTES)


class SourceTransport(AiohttpTransport):
    """httpx-aiohttp's transport with :meth:`get`, a GET read to the end."""

    def get_client(self) -> ClientSession:
        """httpx-aiohttp's session, but keeping no cookies (and no Unix socket, local
        address or socket options: the app sets none).

        aiohttp's default cookie jar would send a cookie one source set while answering
        for one patient with every later search to that host, for any patient.
        """
        connector = aiohttp.TCPConnector(
            keepalive_timeout=self.limits.keepalive_expiry,
            ssl=self.ssl_context,
            limit=self.limits.max_connections or 0,
        )
        return ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    def session(self) -> ClientSession:
        """The aiohttp session behind this transport (made on first use, as httpx-aiohttp does)."""
        if not isinstance(self.client, ClientSession):
            self.client = self.get_client()
        return self.client

    async def get(
        self, url: str, headers: Mapping[str, str], *, max_bytes: int | None = None
    ) -> RawResponse:
        """GET ``url`` and read the whole body (refused past ``max_bytes``: :func:`read_within`).

        Failures are raised as httpx's exceptions (``httpx.TimeoutException``,
        ``httpx.ConnectError``, ...), so callers handle one family whichever path they
        take; a body past ``max_bytes`` as :class:`BodyTooLarge`. Cancelled mid-body (the
        caller's timeout) or refused, the connection is closed, not pooled again. The
        caller bounds the time: this sets no timeout of its own.
        """
        try:
            async with self.session().get(
                url, headers=headers, allow_redirects=False, timeout=_CALLER_BOUNDS_IT
            ) as response:
                status, declared = response.status, response.content_length
                limit = None if max_bytes is None else body_limit(status, max_bytes)
                try:
                    if limit is None:
                        body = await response.read()
                    elif declared is not None and "Content-Encoding" not in response.headers:
                        # As long as declared, no more: read() takes exactly that (faster).
                        if declared > limit:
                            raise BodyTooLarge
                        body = await response.read()
                    else:
                        chunks = response.content.iter_any()
                        body = await read_within(chunks, declared=declared, max_bytes=limit)
                except BodyTooLarge:
                    if status == 200:
                        raise
                    body = b""  # an error's body is not used; its connection is closed
                return RawResponse(status, response.headers.get("Content-Type", ""), body)
        except aiohttp.ClientError as exc:
            raise _as_httpx(exc) from exc


def _as_httpx(exc: aiohttp.ClientError) -> httpx.TransportError:
    # httpx-aiohttp's own map reads a refused connection as httpx.ConnectTimeout (its first
    # match for ClientConnectorError); a refused connection is a fast failure, worth a retry,
    # where a timeout is not (upstream.pipeline). Most specific first. The message is only
    # the type: aiohttp's messages carry the search URL, and so the patients' CPRs.
    message = type(exc).__name__
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.TimeoutException(message)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.ReadError(message)
    if isinstance(exc, aiohttp.ClientResponseError):  # a malformed answer, not the network
        return httpx.RemoteProtocolError(message)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(message)
    return httpx.NetworkError(message)
