"""The ``listing`` source (v2): a clinic's listed citizens, searched by SOR code, all pages."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
import respx

from connectors import ListingConnector, build_listing
from connectors.listing import LISTING_COUNT
from core.codes import CPR_SYSTEM, SOR_SYSTEM
from core.errors import UpstreamBadResponse, UpstreamError, UpstreamHTTPError, UpstreamTimeout
from core.records import ListedPatient
from tests.connectors.conftest import (
    CPR_A,
    CPR_B,
    CPR_OTHER,
    HOST,
    ORG_GP,
    MakeClient,
    bundle,
    fhir_response,
)

SEARCH = f"{HOST}/listing/Patient"

Resource = dict[str, Any]


def listed(
    cpr: str | None = CPR_A,
    *,
    text: str | None = "Karen Jensen",
    given: tuple[str, ...] = (),
    family: str | None = None,
    system: str = CPR_SYSTEM,
    **fields: Any,
) -> Resource:
    """A Patient as the national listing register answers it, listed with ORG_GP."""
    name: Resource = {"use": "official"}
    if text is not None:
        name["text"] = text
    if given:
        name["given"] = list(given)
    if family is not None:
        name["family"] = family
    body: Resource = {
        "resourceType": "Patient",
        "id": f"pat-{cpr}",
        "identifier": [] if cpr is None else [{"system": system, "value": cpr}],
        "name": [name],
        "active": True,
        "generalPractitioner": [{"identifier": {"system": SOR_SYSTEM, "value": ORG_GP}}],
    }
    return body | fields


def connector(make_client: MakeClient, **options: Any) -> ListingConnector:
    return ListingConnector(make_client("listing", **options))


async def test_the_search_asks_for_the_clinic_by_its_sor_code(
    router: respx.MockRouter, make_client: MakeClient
) -> None:
    route = router.get(SEARCH).mock(return_value=fhir_response(bundle([listed()])))
    await connector(make_client).listed(ORG_GP)
    request = route.calls.last.request
    assert request.url.path == "/listing/Patient"
    assert dict(request.url.params) == {
        "general-practitioner:identifier": f"{SOR_SYSTEM}|{ORG_GP}",
        "_count": str(LISTING_COUNT),
    }
    query = request.url.query.decode()
    assert query == (
        f"general-practitioner%3Aidentifier=urn%3Aoid%3A1.2.208.176.1.1%7C{ORG_GP}"
        f"&_count={LISTING_COUNT}"
    )
    assert request.headers["accept"].startswith("application/fhir+json")


async def test_a_larger_page_size_of_the_source_is_kept(
    router: respx.MockRouter, make_client: MakeClient
) -> None:
    route = router.get(SEARCH).mock(return_value=fhir_response(bundle()))
    await connector(make_client, page_size=800).listed(ORG_GP)
    assert route.calls.last.request.url.params["_count"] == "800"


async def test_every_page_is_read_and_each_citizen_listed_once(
    router: respx.MockRouter, make_client: MakeClient
) -> None:
    cprs = [f"{day:02d}0170{serial:04d}" for day in range(1, 11) for serial in (1001, 2002)]
    rows = [listed(cpr, text=f"Borger {i}") for i, cpr in enumerate(cprs)]
    chunks = [rows[i : i + 6] for i in range(0, len(rows), 6)]
    chunks[-1].append(listed(cprs[0], text="Borger igen"))  # the source repeats someone
    pages = [
        bundle(chunk, next_url=f"{SEARCH}?page={n + 2}" if n + 1 < len(chunks) else None)
        for n, chunk in enumerate(chunks)
    ]
    route = router.get(SEARCH).mock(side_effect=[fhir_response(page) for page in pages])
    result = await connector(make_client).listed(ORG_GP)
    assert route.call_count == len(chunks) == 4
    assert result.pages == 4
    assert [p.cpr for p in result.patients] == cprs
    assert result.patients[0] == ListedPatient(cprs[0], "Borger 0")  # the first one counts
    assert result.skipped == 0


@pytest.mark.parametrize(
    ("patient", "name"),
    [
        pytest.param(listed(text="Karen Jensen"), "Karen Jensen", id="name-text"),
        pytest.param(
            listed(text="  Karen M. Jensen ", given=("Karen",), family="Jensen"),
            "Karen M. Jensen",
            id="name-text-wins-over-parts",
        ),
        pytest.param(
            listed(text=None, given=("Karen", "Margrethe"), family="Jensen"),
            "Karen Margrethe Jensen",
            id="name-given-then-family",
        ),
        pytest.param(listed(text=None, family="Jensen"), "Jensen", id="name-family-only"),
        pytest.param(listed(text=None), None, id="name-empty-is-none"),
        pytest.param(listed(name=[]), None, id="no-name-is-none"),
    ],
)
async def test_the_name_is_its_text_else_given_and_family(
    router: respx.MockRouter, make_client: MakeClient, patient: Resource, name: str | None
) -> None:
    router.get(SEARCH).mock(return_value=fhir_response(bundle([patient])))
    result = await connector(make_client).listed(ORG_GP)
    assert result.patients == (ListedPatient(CPR_A, name),)


def _spoiled(change: str) -> Resource:
    patient = listed(CPR_B)
    if change == "no-identifier":
        del patient["identifier"]
    elif change == "other-system":
        patient["identifier"] = [{"system": "urn:oid:1.2.208.176.1.6", "value": CPR_B}]
    elif change == "not-a-date":
        patient["identifier"][0]["value"] = "3102701234"
    elif change == "too-short":
        patient["identifier"][0]["value"] = "01017012"
    elif change == "not-a-patient":
        patient["resourceType"] = "Practitioner"
    elif change == "identifier-not-a-list":
        patient["identifier"] = "0101701234"
    return patient


@pytest.mark.parametrize(
    "change",
    [
        pytest.param("no-identifier", id="no-cpr-skipped"),
        pytest.param("other-system", id="cpr-of-another-system-skipped"),
        pytest.param("not-a-date", id="bad-cpr-date-skipped"),
        pytest.param("too-short", id="bad-cpr-length-skipped"),
        pytest.param("not-a-patient", id="other-resource-type-skipped"),
        pytest.param("identifier-not-a-list", id="malformed-identifier-skipped"),
    ],
)
async def test_a_patient_without_a_valid_cpr_is_skipped_and_counted(
    router: respx.MockRouter,
    make_client: MakeClient,
    change: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    page = [listed(CPR_A), _spoiled(change), "not an object", listed(CPR_OTHER, text="Mette")]
    router.get(SEARCH).mock(return_value=fhir_response(bundle(page)))
    with caplog.at_level(logging.WARNING, logger="connectors.listing"):
        result = await connector(make_client).listed(ORG_GP)
    assert [p.cpr for p in result.patients] == [CPR_A, CPR_OTHER]
    assert result.skipped == 2  # the spoiled Patient and the entry that is not an object
    for value in (CPR_A, CPR_B, CPR_OTHER, "3102701234"):
        assert value not in caplog.text


async def test_a_cpr_used_as_the_patient_id_is_not_logged(
    router: respx.MockRouter, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    patient = listed(CPR_B, id=CPR_B)
    patient["identifier"][0]["system"] = "urn:other"
    router.get(SEARCH).mock(return_value=fhir_response(bundle([patient])))
    with caplog.at_level(logging.WARNING, logger="connectors.listing"):
        result = await connector(make_client).listed(ORG_GP)
    assert (result.patients, result.skipped) == ((), 1)
    assert "skipped unreadable Patient/<cpr>" in caplog.text
    assert CPR_B not in caplog.text


@pytest.mark.parametrize(
    ("patient", "kept"),
    [
        pytest.param(listed(active=False), False, id="inactive-left-out"),
        pytest.param(listed(active=True), True, id="active-listed"),
        pytest.param({k: v for k, v in listed().items() if k != "active"}, True,
                     id="no-active-flag-listed"),
        pytest.param(listed(identifier=[{"system": CPR_SYSTEM, "value": f" {CPR_A}\t"}]), True,
                     id="cpr-whitespace-trimmed"),
        pytest.param(listed(identifier=[{"system": CPR_SYSTEM, "value": "0101521111", "use": "old"},
                                        {"system": CPR_SYSTEM, "value": CPR_A}]), True,
                     id="old-cpr-passed-over"),
    ],
)  # fmt: skip
async def test_who_is_listed(
    router: respx.MockRouter, make_client: MakeClient, patient: Resource, kept: bool
) -> None:
    router.get(SEARCH).mock(return_value=fhir_response(bundle([patient])))
    result = await connector(make_client).listed(ORG_GP)
    assert [p.cpr for p in result.patients] == ([CPR_A] if kept else [])
    assert result.skipped == 0


async def _hang(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(5)
    return fhir_response(bundle())


@pytest.mark.parametrize(
    ("answer", "error", "reason"),
    [
        pytest.param(fhir_response(b"", status_code=500), UpstreamHTTPError, "500",
                     id="source-500"),
        pytest.param(_hang, UpstreamTimeout, "timed out", id="source-hanging"),
        pytest.param(httpx.ConnectError("refused"), UpstreamError, "connection failed",
                     id="source-down"),
        pytest.param(fhir_response(b'{"resourceType": "Bundle", "entry": ['),
                     UpstreamBadResponse, "invalid JSON", id="junk-bad-json"),
        pytest.param(fhir_response({"resourceType": "Patient", "id": "x"}),
                     UpstreamBadResponse, "not a Bundle", id="junk-not-a-bundle"),
        pytest.param(fhir_response({"resourceType": "Bundle", "entry": {"resource": {}}}),
                     UpstreamBadResponse, "Bundle.entry is not a list", id="junk-entry-not-list"),
        pytest.param(fhir_response(b"<html/>", content_type="text/html"),
                     UpstreamBadResponse, "not FHIR JSON", id="junk-html"),
    ],
)  # fmt: skip
async def test_a_failing_source_is_an_upstream_error_naming_listing(
    router: respx.MockRouter,
    make_client: MakeClient,
    answer: Any,
    error: type[UpstreamError],
    reason: str,
) -> None:
    route = router.get(SEARCH)
    if isinstance(answer, httpx.Response):
        route.mock(return_value=answer)
    else:
        route.mock(side_effect=answer)
    with pytest.raises(error, match=reason) as caught:
        await connector(make_client, timeout=0.2).listed(ORG_GP)
    assert caught.value.source == "listing"


async def test_a_failure_on_a_later_page_fails_the_listing(
    router: respx.MockRouter, make_client: MakeClient
) -> None:
    # Half a list would pass for the whole clinic: fail instead.
    first = fhir_response(bundle([listed()], next_url=f"{SEARCH}?page=2"))
    router.get(SEARCH).mock(side_effect=[first, fhir_response(b"", status_code=503)])
    with pytest.raises(UpstreamHTTPError):
        await connector(make_client).listed(ORG_GP)


async def test_build_listing_searches_the_listing_source(
    router: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    route = router.get(f"{HOST}/gp-register/Patient").mock(
        return_value=fhir_response(bundle([listed()]))
    )
    built = build_listing(http, base_url=f"{HOST}/gp-register/", timeout=1.0, page_size=50)
    result = await built.listed(ORG_GP)
    assert (built.source, route.call_count) == ("listing", 1)
    assert result.patients == (ListedPatient(CPR_A, "Karen Jensen"),)
