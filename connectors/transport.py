"""The HTTP path to the sources: one GET, read whole within a limit, failures converted once.

:func:`get_page` is the only way a source is read. It takes the app's
:class:`SourceTransport` (httpx-aiohttp's transport, plus a plain aiohttp GET on its pool:
no ``httpx.Request``/``httpx.Response`` per search), or any other httpx transport or client
(tests pass respx or ``httpx.MockTransport``). Either way the body is counted while it is
read (:func:`read_within`), and a failure becomes one of :mod:`core.errors`' upstream
errors here, naming the source, with the library's exception as its cause.

Why a hand-written GET: httpx parses and checks every search URL character by character,
and the adapter hands it to aiohttp, which parses it again; no library offers a plain GET
on httpx-aiohttp's session. ``bench/RESULTS.md`` has the measurements.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
import httpx
from aiohttp import ClientSession
from httpx_aiohttp import AiohttpTransport

from core.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)

__all__ = ["RawResponse", "SourceTransport", "get_page", "read_within"]

#: What any transport the FHIR client is given may be.
Http = httpx.AsyncClient | httpx.AsyncBaseTransport

#: What is read of an answer other than 200 OK, whose body is never used: a small one is
#: read (the connection then serves the next search), a larger one is not (it is closed).
ERROR_BODY_BYTES = 64 * 1024

#: No aiohttp timer per search: the caller bounds the whole search (FhirClient.search,
#: ``asyncio.timeout``); aiohttp's default armed and cancelled a timer for every GET.
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


def _body_limit(status: int, max_bytes: int) -> int:
    """How much of an answer to read: ``max_bytes`` of a 200, :data:`ERROR_BODY_BYTES` of
    anything else, whose status is the answer (a 503 with a big page is still a 503).
    """
    return max_bytes if status == 200 else min(max_bytes, ERROR_BODY_BYTES)


class SourceTransport(AiohttpTransport):
    """httpx-aiohttp's transport; :func:`get_page` reads through its aiohttp session."""

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


async def get_page(
    http: Http, url: str, headers: Mapping[str, str], *, source: str, max_bytes: int
) -> RawResponse:
    """GET ``url`` and read the whole body; a 200's body is refused past ``max_bytes``.

    Of any other status only a little is read (it is the answer, its body is not used).
    The caller bounds the time: this sets no timeout of its own. Cancelled mid-body or
    refused, the connection is closed, not pooled again.

    Raises:
        UpstreamTimeout, UpstreamProtocolError, UpstreamBadResponse (page too large),
        UpstreamError (connection failed): each naming ``source``.
    """
    try:
        if isinstance(http, SourceTransport):
            return await _get_aiohttp(http.session(), url, headers, max_bytes)
        return await _get_httpx(http, url, headers, max_bytes)
    except BodyTooLarge as exc:
        # Decoding and parsing are synchronous: a huge page would stall every request.
        raise UpstreamBadResponse(source, "page too large") from exc
    except aiohttp.ClientError as exc:
        # Not chained: aiohttp's messages carry the search URL, and so the patients' CPRs.
        raise _upstream_error(exc, source) from None
    except httpx.HTTPError as exc:
        raise _upstream_error(exc, source) from exc


async def _get_aiohttp(
    session: ClientSession, url: str, headers: Mapping[str, str], max_bytes: int
) -> RawResponse:
    async with session.get(
        url, headers=headers, allow_redirects=False, timeout=_CALLER_BOUNDS_IT
    ) as response:
        status, declared = response.status, response.content_length
        limit = _body_limit(status, max_bytes)
        try:
            if declared is not None and "Content-Encoding" not in response.headers:
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


async def _get_httpx(
    http: Http, url: str, headers: Mapping[str, str], max_bytes: int
) -> RawResponse:
    if isinstance(http, httpx.AsyncClient):
        response = await http.send(http.build_request("GET", url, headers=headers), stream=True)
    else:
        response = await http.handle_async_request(httpx.Request("GET", url, headers=headers))
    status = response.status_code
    try:
        declared = response.headers.get("content-length", "")
        body = await read_within(
            response.aiter_bytes(),
            declared=int(declared) if declared.isdigit() else None,
            max_bytes=_body_limit(status, max_bytes),
        )
    except BodyTooLarge:
        if status == 200:
            raise
        body = b""  # an error's body is not used
    finally:
        # Read to the end, refused, cancelled (the source's timeout) or broken mid-body:
        # the pooled connection goes back (or is closed) now, or a hanging source would
        # drain the pool for all.
        await response.aclose()
    return RawResponse(status, response.headers.get("content-type", ""), body)


def _upstream_error(exc: aiohttp.ClientError | httpx.HTTPError, source: str) -> UpstreamError:
    # A malformed answer is not retried (asking again gets the same); a refused connection
    # is a fast failure, worth a retry, where a timeout is not (upstream.resilience).
    if isinstance(exc, aiohttp.ServerTimeoutError | httpx.TimeoutException):
        return UpstreamTimeout(source)
    if isinstance(exc, aiohttp.ClientConnectorError | httpx.ConnectError):
        return UpstreamError(source, "connection failed")
    if isinstance(
        exc,
        aiohttp.ClientResponseError
        | aiohttp.InvalidURL
        | httpx.RemoteProtocolError
        | httpx.UnsupportedProtocol,
    ) and not isinstance(exc, aiohttp.ClientPayloadError):
        return UpstreamProtocolError(source)
    return UpstreamError(source, "connection failed")
