"""The shared FHIR search client: the contract's search, all pages, and every way a source fails."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import respx

from core.codes import CPR_SYSTEM
from core.errors import UpstreamBadResponse, UpstreamError, UpstreamHTTPError, UpstreamTimeout
from tests.connectors.conftest import (
    CPR_A,
    CPR_B,
    HOST,
    Factory,
    MakeClient,
    bundle,
    fhir_response,
)

SEARCH = f"{HOST}/appointments/Appointment"


async def test_search_asks_for_all_patients_in_one_request(
    router: respx.MockRouter, make_client: MakeClient
) -> None:
    route = router.get(SEARCH).mock(return_value=fhir_response(bundle()))
    await make_client(page_size=50).search("Appointment", [CPR_A, CPR_B])
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.url.path == "/appointments/Appointment"
    assert dict(request.url.params) == {
        "patient:identifier": f"{CPR_SYSTEM}|{CPR_A},{CPR_SYSTEM}|{CPR_B}",
        "_count": "100",  # the page size per patient, for both
    }
    assert "%7C" in str(request.url)  # the "|" is URL-encoded
    assert request.headers["accept"].startswith("application/fhir+json")
    await make_client(page_size=50).search("Appointment", [CPR_A])
    assert route.calls.last.request.url.params["_count"] == "50"


async def test_search_returns_the_resources_of_the_bundle(
    router: respx.MockRouter, make_client: MakeClient, make_appointment: Factory
) -> None:
    first, second = make_appointment("appt-1", CPR_A), make_appointment("appt-2", CPR_B)
    router.get(SEARCH).mock(return_value=fhir_response(bundle([first, second])))
    result = await make_client().search("Appointment", [CPR_A, CPR_B])
    assert (result.resources, result.skipped, result.pages) == ([first, second], 0, 1)


async def test_a_bundle_without_entries_is_an_empty_answer(
    router: respx.MockRouter, make_client: MakeClient
) -> None:
    router.get(SEARCH).mock(
        return_value=fhir_response({"resourceType": "Bundle", "type": "searchset", "total": 0})
    )
    result = await make_client().search("Appointment", [CPR_A])
    assert (result.resources, result.skipped, result.pages) == ([], 0, 1)


@pytest.mark.parametrize(
    "relative_next",
    [
        pytest.param("Appointment?page=3", id="relative-path"),
        pytest.param("/appointments/Appointment?page=3", id="absolute-path"),
        pytest.param("?page=3", id="query-only"),
    ],
)
async def test_search_follows_next_links_to_the_last_page(
    router: respx.MockRouter, make_client: MakeClient, make_appointment: Factory, relative_next: str
) -> None:
    pages = [
        bundle([make_appointment("appt-1")], next_url=f"{SEARCH}?page=2"),
        bundle([make_appointment("appt-2")], next_url=relative_next),
        bundle([make_appointment("appt-3")]),
    ]
    route = router.get(SEARCH).mock(side_effect=[fhir_response(p) for p in pages])
    result = await make_client().search("Appointment", [CPR_A])
    assert [r["id"] for r in result.resources] == ["appt-1", "appt-2", "appt-3"]
    assert result.pages == 3
    assert [str(call.request.url) for call in route.calls][1:] == [
        f"{SEARCH}?page=2",
        f"{SEARCH}?page=3",
    ]


async def test_search_past_max_pages_fails_rather_than_answer_in_part(
    router: respx.MockRouter, make_client: MakeClient, make_appointment: Factory
) -> None:
    # A cut-off answer would pass for a whole one: a block on a later page lost, items
    # missing while the source says ok. More pages than allowed fail the search.
    def endless(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        rows = [make_appointment(f"appt-{page}")]
        return fhir_response(bundle(rows, next_url=f"{SEARCH}?page={page + 1}"))

    route = router.get(SEARCH).mock(side_effect=endless)
    with pytest.raises(UpstreamBadResponse, match="more than 3 pages"):
        await make_client(max_pages=3).search("Appointment", [CPR_A])
    assert route.call_count == 3


@pytest.mark.parametrize(
    "next_url",
    [
        pytest.param("http://evil.test/appointments/Appointment?page=2", id="other-host"),
        pytest.param("//evil.test/appointments/Appointment?page=2", id="scheme-relative-host"),
        pytest.param("http://sources.test:8080/appointments/Appointment", id="other-port"),
        pytest.param("https://sources.test/appointments/Appointment", id="other-scheme"),
    ],
)
async def test_a_next_link_to_another_origin_is_refused(
    router: respx.MockRouter, make_client: MakeClient, next_url: str
) -> None:
    router.get(SEARCH).mock(return_value=fhir_response(bundle(next_url=next_url)))
    elsewhere = router.route(host="evil.test").mock(return_value=fhir_response(bundle()))
    with pytest.raises(UpstreamBadResponse) as caught:
        await make_client().search("Appointment", [CPR_A])
    assert caught.value.source == "appointments"
    assert not elsewhere.called


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("application/fhir+json", id="fhir-json"),
        pytest.param("application/json", id="plain-json"),
        pytest.param("application/fhir+json; charset=utf-8", id="fhir-json-with-charset"),
        pytest.param("Application/JSON", id="json-upper-case"),
    ],
)
async def test_json_content_types_are_read(
    router: respx.MockRouter, make_client: MakeClient, make_appointment: Factory, content_type: str
) -> None:
    body = bundle([make_appointment()])
    router.get(SEARCH).mock(return_value=fhir_response(body, content_type=content_type))
    result = await make_client().search("Appointment", [CPR_A])
    assert [r["id"] for r in result.resources] == ["appt-kontrol"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"<html><body>Vedligehold</body></html>", "text/html", id="html-page"),
        pytest.param(b'{"resourceType": "Bundle"}', "text/plain", id="json-as-text-plain"),
        pytest.param(b'{"resourceType": "Bundle"}', "", id="no-content-type"),
        pytest.param(
            b'{"resourceType": "Bundle", "entry": [', "application/fhir+json", id="bad-json"
        ),
        pytest.param(b"", "application/fhir+json", id="empty-body"),
        pytest.param(b'{"resourceType": "OperationOutcome"}', "application/json", id="not-bundle"),
        pytest.param(b"[]", "application/fhir+json", id="json-list"),
        pytest.param(
            b'{"resourceType": "Bundle", "entry": {}}', "application/json", id="entry-object"
        ),
    ],
)
async def test_junk_is_an_unreadable_response(
    router: respx.MockRouter, make_client: MakeClient, body: bytes, content_type: str
) -> None:
    router.get(SEARCH).mock(return_value=fhir_response(body, content_type=content_type))
    with pytest.raises(UpstreamBadResponse) as caught:
        await make_client().search("Appointment", [CPR_A])
    assert caught.value.source == "appointments"


@pytest.mark.parametrize(
    "status_code",
    [
        pytest.param(400, id="400-bad-request"),
        pytest.param(404, id="404-not-found"),
        pytest.param(500, id="500-server-error"),
        pytest.param(503, id="503-unavailable"),
    ],
)
async def test_non_200_is_an_http_error_with_its_status(
    router: respx.MockRouter, make_client: MakeClient, status_code: int
) -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"diagnostics": CPR_A}]}
    router.get(SEARCH).mock(return_value=fhir_response(outcome, status_code=status_code))
    with pytest.raises(UpstreamHTTPError) as caught:
        await make_client().search("Appointment", [CPR_A])
    assert (caught.value.source, caught.value.status_code) == ("appointments", status_code)
    assert str(status_code) in str(caught.value)
    assert CPR_A not in str(caught.value)


async def test_a_failing_later_page_fails_the_whole_search(
    router: respx.MockRouter, make_client: MakeClient, make_appointment: Factory
) -> None:
    first = fhir_response(bundle([make_appointment()], next_url=f"{SEARCH}?page=2"))
    router.get(SEARCH).mock(side_effect=[first, fhir_response(b"", status_code=502)])
    with pytest.raises(UpstreamHTTPError) as caught:
        await make_client().search("Appointment", [CPR_A])
    assert caught.value.status_code == 502


async def test_a_connection_error_is_an_upstream_error(
    router: respx.MockRouter, make_client: MakeClient
) -> None:
    router.get(SEARCH).mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(UpstreamError) as caught:
        await make_client(source="appointments").search("Appointment", [CPR_A])
    assert type(caught.value) is UpstreamError
    assert (caught.value.source, caught.value.reason) == ("appointments", "connection failed")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_an_httpx_timeout_is_an_upstream_timeout(
    router: respx.MockRouter, make_client: MakeClient
) -> None:
    router.get(SEARCH).mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(UpstreamTimeout) as caught:
        await make_client().search("Appointment", [CPR_A])
    assert caught.value.source == "appointments"


async def test_a_slow_source_times_out_within_about_its_timeout(
    router: respx.MockRouter, make_client: MakeClient
) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return fhir_response(bundle())

    router.get(SEARCH).mock(side_effect=slow)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as caught:
        await make_client(timeout=0.2).search("Appointment", [CPR_A])
    assert 0.15 <= time.monotonic() - started < 1.0
    assert caught.value.source == "appointments"


async def test_the_timeout_covers_all_pages_together(
    router: respx.MockRouter, make_client: MakeClient, make_appointment: Factory
) -> None:
    async def sluggish(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.1)
        return fhir_response(bundle([make_appointment()], next_url=f"{SEARCH}?page=next"))

    route = router.get(SEARCH).mock(side_effect=sluggish)
    with pytest.raises(UpstreamTimeout):
        await make_client(timeout=0.35, max_pages=20).search("Appointment", [CPR_A])
    assert 1 < route.call_count <= 4  # each page is quick; together they are not


async def test_entries_whose_resource_is_not_an_object_are_counted(
    router: respx.MockRouter, make_client: MakeClient, make_appointment: Factory
) -> None:
    good = make_appointment()
    page = bundle([good, "Appointment/appt-1: <afkortet>", ["x"], None])
    page["entry"] += [{"fullUrl": f"{SEARCH}/appt-2"}, "not an entry"]
    router.get(SEARCH).mock(return_value=fhir_response(page))
    result = await make_client().search("Appointment", [CPR_A])
    assert (result.resources, result.skipped) == ([good], 5)


async def test_skipped_entries_add_up_over_pages(
    router: respx.MockRouter, make_client: MakeClient, make_appointment: Factory
) -> None:
    first = bundle([make_appointment("appt-1"), 42], next_url=f"{SEARCH}?page=2")
    second = bundle(["junk", make_appointment("appt-2")])
    router.get(SEARCH).mock(side_effect=[fhir_response(first), fhir_response(second)])
    result = await make_client().search("Appointment", [CPR_A])
    assert ([r["id"] for r in result.resources], result.skipped) == (["appt-1", "appt-2"], 2)


async def test_a_body_that_hangs_is_closed_when_the_timeout_strikes() -> None:
    # Through a transport (as the app calls it), a source that sends headers and then
    # stalls must not keep its pooled connection: the response is closed on the timeout.
    import asyncio

    from connectors.fhir import FhirClient
    from core.errors import UpstreamTimeout

    closed: list[bool] = []

    class Stalling(httpx.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[no-untyped-def]
            await asyncio.sleep(10)
            yield b""

        async def aclose(self) -> None:
            closed.append(True)

    class Transport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            headers = {"content-type": "application/fhir+json"}
            return httpx.Response(200, headers=headers, stream=Stalling())

    client = FhirClient(Transport(), source="journal", base_url="http://src.test/journal",
                        timeout=0.1)  # fmt: skip
    with pytest.raises(UpstreamTimeout):
        await client.search("DocumentReference", [CPR_A])
    assert closed == [True]


@pytest.mark.parametrize(
    ("entries", "padding", "reason"),
    [
        pytest.param(2_001, 0, "too many entries", id="too-many-entries"),
        pytest.param(1, 9 * 1024 * 1024, "page too large", id="too-many-bytes"),
    ],
)
async def test_an_oversized_page_is_refused_not_parsed(
    router: respx.MockRouter,
    make_client: MakeClient,
    make_appointment: Factory,
    entries: int,
    padding: int,
    reason: str,
) -> None:
    page = bundle([make_appointment(f"appt-{n}") for n in range(entries)])
    page["padding"] = "x" * padding
    router.get(SEARCH).mock(return_value=fhir_response(page))
    with pytest.raises(UpstreamBadResponse, match=reason):
        await make_client().search("Appointment", [CPR_A])


@pytest.mark.parametrize("through", ["transport", "client"])
async def test_an_endless_page_is_refused_once_it_passes_the_limit(through: str) -> None:
    # The httpx paths (a transport, as the stock-transport setting; a client, as with
    # respx): no Content-Length, a body that never ends. The bytes are counted as they
    # come; the search fails at the limit, not at the timeout; the response is closed.
    from connectors.fhir import FhirClient

    closed: list[bool] = []

    class Endless(httpx.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[no-untyped-def]
            while True:
                yield b" " * (1024 * 1024)

        async def aclose(self) -> None:
            closed.append(True)

    class Transport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            headers = {"content-type": "application/fhir+json"}
            return httpx.Response(200, headers=headers, stream=Endless())

    http = Transport() if through == "transport" else httpx.AsyncClient(transport=Transport())
    client = FhirClient(http, source="journal", base_url="http://src.test/journal", timeout=5.0)
    with pytest.raises(UpstreamBadResponse, match="page too large"):
        await client.search("DocumentReference", [CPR_A])
    assert closed == [True]


async def test_an_error_with_a_big_body_is_the_error(
    router: respx.MockRouter, make_client: MakeClient
) -> None:
    router.get(SEARCH).mock(return_value=httpx.Response(503, content=b"x" * 9 * 1024 * 1024))
    with pytest.raises(UpstreamHTTPError, match="HTTP 503"):
        await make_client().search("Appointment", [CPR_A])
