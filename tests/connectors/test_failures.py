"""Every source, every search: a failing source is an upstream error that names it.

Down, answering an error status, hanging past its timeout, or answering junk: the
connector raises the upstream error the pipeline turns into ``ok: false`` for that source
(its other sources unaffected, tested in tests/upstream/).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import respx

from connectors import CONNECTOR_CLASSES, FhirClient
from core.errors import UpstreamBadResponse, UpstreamError, UpstreamHTTPError, UpstreamTimeout
from tests.connectors.conftest import CPR_A, HOST, MakeClient, bundle, fhir_response


def _searches() -> list[tuple[str, str]]:
    unused = httpx.MockTransport(lambda request: httpx.Response(500))
    return [
        (source, resource_type)
        for source, make in CONNECTOR_CLASSES.items()
        for resource_type in make(FhirClient(unused, source=source, base_url=HOST)).resource_types
    ]


async def _slow(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(5)
    return fhir_response(bundle())


@pytest.mark.parametrize(("source", "resource_type"), _searches())
@pytest.mark.parametrize(
    ("answer", "error"),
    [
        pytest.param(httpx.ConnectError("refused"), UpstreamError, id="source-down"),
        pytest.param(fhir_response(b"", status_code=500), UpstreamHTTPError, id="source-500"),
        pytest.param(fhir_response(b"", status_code=502), UpstreamHTTPError, id="source-502"),
        pytest.param(_slow, UpstreamTimeout, id="source-hanging"),
        pytest.param(fhir_response(b'{"resourceType": "Bundle", "entry": ['),
                     UpstreamBadResponse, id="source-junk-bad-json"),
        pytest.param(fhir_response(b"[1, 2]"), UpstreamBadResponse, id="source-junk-not-a-bundle"),
    ],
)  # fmt: skip
async def test_a_failing_source_is_an_upstream_error_naming_it(
    router: respx.MockRouter,
    make_client: MakeClient,
    source: str,
    resource_type: str,
    answer: Any,
    error: type[UpstreamError],
) -> None:
    route = router.get(f"{HOST}/{source}/{resource_type}")
    if isinstance(answer, httpx.Response):
        route.mock(return_value=answer)
    else:
        route.mock(side_effect=answer)
    connector = CONNECTOR_CLASSES[source](make_client(source, timeout=0.2))
    with pytest.raises(error) as caught:
        await connector.fetch(resource_type, [CPR_A])
    assert caught.value.source == source
