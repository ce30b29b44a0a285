"""The app's source transport against a real loopback HTTP server: searches, failures, a hang.

The FHIR client takes :class:`SourceTransport`'s own GET (no httpx objects per search); these
tests hold that path to what the httpx path promises (``test_fhir.py``, through respx).
"""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest

from connectors.fhir import FhirClient
from connectors.transport import SourceTransport
from core.errors import UpstreamBadResponse, UpstreamError, UpstreamHTTPError, UpstreamTimeout

CPR = "0101521234"
Handler = Callable[[str, asyncio.StreamWriter], Awaitable[None]]


class Server:
    """A raw asyncio HTTP/1.1 server; ``handler`` answers each request target."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.targets: list[str] = []
        self.heads: list[bytes] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/appointments"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                target = head.split(b" ", 2)[1].decode()
                self.targets.append(target)
                await self.handler(target, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def answer(
    writer: asyncio.StreamWriter,
    body: bytes,
    *,
    status: str = "200 OK",
    content_type: str = "application/fhir+json",
    extra: str = "",
) -> None:
    writer.write(
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def bundle(*ids: str) -> bytes:
    entries = [
        {"resource": {"resourceType": "Appointment", "id": i, "status": "booked"}} for i in ids
    ]
    return orjson.dumps({"resourceType": "Bundle", "type": "searchset", "entry": entries})


@pytest.fixture
async def transport() -> AsyncIterator[SourceTransport]:
    transport = SourceTransport(limits=httpx.Limits(max_connections=1))
    yield transport
    await transport.aclose()


def client(transport: SourceTransport, server: Server, timeout: float = 2.0) -> FhirClient:
    return FhirClient(transport, source="appointments", base_url=server.base, timeout=timeout)


async def test_a_search_reads_every_page_and_asks_what_the_contract_says(
    transport: SourceTransport,
) -> None:
    async def handler(target: str, writer: asyncio.StreamWriter) -> None:
        if "page=2" in target:
            answer(writer, bundle("appt-2"))
        else:
            page = orjson.loads(bundle("appt-1"))
            page["link"] = [{"relation": "next", "url": "Appointment?page=2"}]
            answer(writer, orjson.dumps(page))

    async with Server(handler) as server:
        result = await client(transport, server).search("Appointment", [CPR, "0202524321"])
    assert [r["id"] for r in result.resources] == ["appt-1", "appt-2"]
    assert result.pages == 2
    first = urlsplit(server.targets[0])
    assert first.path == "/appointments/Appointment"
    assert parse_qs(first.query) == {
        "patient:identifier": [f"urn:oid:1.2.208.176.1.2|{CPR},urn:oid:1.2.208.176.1.2|0202524321"],
        "_count": ["200"],
    }
    assert server.connections == 1  # both pages on one pooled connection


async def test_a_gzipped_page_is_read(transport: SourceTransport) -> None:
    async def handler(target: str, writer: asyncio.StreamWriter) -> None:
        answer(writer, gzip.compress(bundle("appt-1")), extra="Content-Encoding: gzip\r\n")

    async with Server(handler) as server:
        result = await client(transport, server).search("Appointment", [CPR])
    assert [r["id"] for r in result.resources] == ["appt-1"]


@pytest.mark.parametrize(
    ("status", "content_type", "error", "reason"),
    [
        pytest.param("503 Service Unavailable", "text/plain", UpstreamHTTPError, "HTTP 503",
                     id="503"),
        pytest.param("200 OK", "text/html", UpstreamBadResponse, "not FHIR JSON", id="html"),
    ],
)  # fmt: skip
async def test_a_failing_answer_is_the_sources_error(
    transport: SourceTransport,
    status: str,
    content_type: str,
    error: type[UpstreamError],
    reason: str,
) -> None:
    async def handler(target: str, writer: asyncio.StreamWriter) -> None:
        answer(writer, b"<p>down</p>", status=status, content_type=content_type)

    async with Server(handler) as server:
        with pytest.raises(error) as caught:
            await client(transport, server).search("Appointment", [CPR])
    assert caught.value.source == "appointments"
    assert reason in str(caught.value)


async def test_a_refused_connection_is_a_connection_failure(transport: SourceTransport) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fhir = FhirClient(transport, source="appointments", base_url=f"http://127.0.0.1:{port}/x")
    with pytest.raises(UpstreamError, match="connection failed"):
        await fhir.search("Appointment", [CPR])


async def test_a_body_that_hangs_times_out_and_its_connection_is_not_reused(
    transport: SourceTransport,
) -> None:
    # Headers, half a body, then nothing: the search fails at its timeout, and the pool (of
    # one connection here) is free again, on a new connection, for the next search.
    async def handler(target: str, writer: asyncio.StreamWriter) -> None:
        if "0101521234" in target:
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n"
                b"Content-Length: 1000\r\n\r\n{"
            )
            await asyncio.sleep(10)
        else:
            answer(writer, bundle("appt-9"))

    async with Server(handler) as server:
        fhir = client(transport, server, timeout=0.2)
        with pytest.raises(UpstreamTimeout):
            await fhir.search("Appointment", [CPR])
        result = await asyncio.wait_for(fhir.search("Appointment", ["0202524321"]), 2)
    assert [r["id"] for r in result.resources] == ["appt-9"]
    assert server.connections == 2


async def test_a_cookie_one_search_got_is_not_sent_with_the_next(
    transport: SourceTransport,
) -> None:
    # A source's cookie, set while answering for one patient, must not travel with
    # another patient's search.
    async def handler(target: str, writer: asyncio.StreamWriter) -> None:
        answer(writer, bundle("appt-1"), extra="Set-Cookie: session=patient-a\r\n")

    async with Server(handler) as server:
        # By name: aiohttp's default jar keeps no cookies from IP-address hosts.
        base = server.base.replace("127.0.0.1", "localhost")
        fhir = FhirClient(transport, source="appointments", base_url=base)
        await fhir.search("Appointment", [CPR])
        await fhir.search("Appointment", ["0202524321"])
    assert len(server.heads) == 2
    assert not [h for h in server.heads if b"\r\ncookie:" in h.lower()]


async def test_a_malformed_answer_is_a_protocol_error_without_the_cpr(
    transport: SourceTransport,
) -> None:
    from core.errors import UpstreamProtocolError

    async def handler(target: str, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 abc nonsense\r\nContent-Length: 2\r\n\r\n{}")

    async with Server(handler) as server:
        with pytest.raises(UpstreamProtocolError) as caught:
            await client(transport, server).search("Appointment", [CPR])
    chain: list[BaseException] = [caught.value]
    while chain[-1].__cause__ is not None:
        chain.append(chain[-1].__cause__)
    assert all(CPR not in str(exc) for exc in chain)


async def test_a_next_link_with_a_space_is_sent_percent_encoded(
    transport: SourceTransport,
) -> None:
    async def handler(target: str, writer: asyncio.StreamWriter) -> None:
        if "page=" in target:
            answer(writer, bundle("appt-2"))
        else:
            page = orjson.loads(bundle("appt-1"))
            page["link"] = [{"relation": "next", "url": "Appointment?page=2&note=a b%7C"}]
            answer(writer, orjson.dumps(page))

    async with Server(handler) as server:
        await client(transport, server).search("Appointment", [CPR])
    assert server.targets[1] == "/appointments/Appointment?page=2&note=a%20b%7C"


NINE_MIB = 9 * 1024 * 1024  # past connectors.fhir.MAX_PAGE_BYTES (8 MiB)


async def test_a_page_declared_too_large_is_refused_without_reading_it(
    transport: SourceTransport,
) -> None:
    # The source announces 9 MiB, sends a byte and stalls: refused at once from the header
    # (reading on would end in the timeout), and the pool's connection is not reused.
    async def handler(target: str, writer: asyncio.StreamWriter) -> None:
        if CPR in target:
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n"
                + f"Content-Length: {NINE_MIB}\r\n\r\n{{".encode()
            )
            await asyncio.sleep(10)
        else:
            answer(writer, bundle("appt-9"))

    async with Server(handler) as server:
        fhir = client(transport, server, timeout=5.0)
        with pytest.raises(UpstreamBadResponse, match="page too large"):
            await asyncio.wait_for(fhir.search("Appointment", [CPR]), 2)
        result = await asyncio.wait_for(fhir.search("Appointment", ["0202524321"]), 2)
    assert [r["id"] for r in result.resources] == ["appt-9"]
    assert server.connections == 2


async def test_a_chunked_page_is_refused_once_it_passes_the_limit(
    transport: SourceTransport,
) -> None:
    # No Content-Length: the bytes are counted as they come, and the search fails when
    # they pass the limit, though the source would go on forever.
    async def handler(target: str, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b" " * (1024 * 1024)
        while True:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()

    async with Server(handler) as server:
        fhir = client(transport, server, timeout=5.0)
        with pytest.raises(UpstreamBadResponse, match="page too large"):
            await asyncio.wait_for(fhir.search("Appointment", [CPR]), 3)
        with pytest.raises(UpstreamBadResponse, match="page too large"):  # a new connection
            await asyncio.wait_for(fhir.search("Appointment", [CPR]), 3)
    assert server.connections == 2


async def test_a_small_gzip_that_unpacks_past_the_limit_is_refused(
    transport: SourceTransport,
) -> None:
    packed = gzip.compress(b" " * NINE_MIB)  # about 9 KiB on the wire

    async def handler(target: str, writer: asyncio.StreamWriter) -> None:
        answer(writer, packed, extra="Content-Encoding: gzip\r\n")

    async with Server(handler) as server:
        with pytest.raises(UpstreamBadResponse, match="page too large"):
            await client(transport, server).search("Appointment", [CPR])


async def test_an_error_with_a_big_body_is_the_error_and_its_body_is_not_read(
    transport: SourceTransport,
) -> None:
    # A 503 is a 503 (retried, counted as such), however big its page: it is not read.
    async def handler(target: str, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\n"
            + f"Content-Length: {NINE_MIB}\r\n\r\n<p>".encode()
        )
        await asyncio.sleep(10)

    async with Server(handler) as server:
        with pytest.raises(UpstreamHTTPError, match="HTTP 503"):
            await asyncio.wait_for(client(transport, server, timeout=5.0).search(
                "Appointment", [CPR]), 2)  # fmt: skip
