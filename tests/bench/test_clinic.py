"""The work-list benchmark's synthetic clinic and its sources (bench/clinic.py, bench/bundles.py).

The clinic must be what the issue asks (2,000 listed, 150 in COPD, every triage level and
alert kind present), and the source server must answer the gateway's own FHIR client as a
real source would: batched searches with every asked patient's resources, the listing
by clinic, long answers paged with a ``next`` link that the client follows to the end.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urljoin

import httpx
import pytest

from bench.clinic import (
    ALERT_KINDS,
    CLINIC_SOR,
    IN_PACKAGE,
    LISTED,
    clinic_cprs,
    expected,
    package_cprs,
)
from bench.procs import free_port
from bench.sources import SourceServer, serve
from bench.synthetic import cpr_for, resources
from connectors.fhir import FhirClient
from core.cpr import is_valid_cpr


def test_the_clinic_lists_2000_patients_of_whom_150_are_in_copd() -> None:
    listed = clinic_cprs()
    assert len(set(listed)) == LISTED == 2_000
    assert all(is_valid_cpr(cpr) for cpr in listed)
    in_copd = [cpr for cpr in listed if expected(cpr) is not None]
    assert in_copd == list(package_cprs())
    assert len(in_copd) == IN_PACKAGE == 150


def test_no_load_generator_patient_is_a_clinic_patient() -> None:
    # the plan scenarios read new patients from index 0 on; they must get the usual patient
    assert not set(clinic_cprs()) & {cpr_for(i) for i in range(0, 400_000)}


@pytest.mark.parametrize(
    "kind", [pytest.param(kind, id=f"some-patients-raise-{kind}") for kind in ALERT_KINDS]
)
def test_every_alert_kind_is_raised_for_some_patients(kind: str) -> None:
    raised = [cpr for cpr in package_cprs() if kind in expected(cpr).alerts]  # type: ignore[union-attr]
    assert 5 <= len(raised) < IN_PACKAGE


def test_every_triage_level_occurs_and_some_patients_have_no_alert() -> None:
    found = [expected(cpr) for cpr in package_cprs()]
    levels = Counter(e.triage for e in found if e is not None)
    assert set(levels) == {"RED", "YELLOW", "GREEN", None}
    assert min(levels.values()) >= 30
    assert any(e is not None and not e.alerts for e in found)


@pytest.fixture
async def sources() -> AsyncIterator[tuple[str, SourceServer]]:
    server = SourceServer(latency_ms=0)
    port = free_port()
    task = asyncio.create_task(serve("127.0.0.1", port, server))
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            try:
                await client.get(f"{url}/healthz")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.02)
    yield url, server
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def _patients_of(found: list[dict[str, Any]]) -> Counter[str]:
    return Counter(r["subject"]["identifier"]["value"] for r in found)


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        pytest.param("diagnoses", "Condition", id="diagnoses-copd-and-non-package"),
        pytest.param("appointments", "Appointment", id="appointments-copd-only"),
        pytest.param("careplan", "RiskAssessment", id="triage-copd-with-a-level-only"),
    ],
)
async def test_a_batched_search_answers_every_listed_patient_asked(
    sources: tuple[str, SourceServer], source: str, kind: str
) -> None:
    url, server = sources
    batch = list(clinic_cprs()[:50])
    async with httpx.AsyncClient() as http:
        client = FhirClient(http, source=source, base_url=f"{url}/{source}")
        found = await client.search(kind, batch)
    per_patient = _patients_of(found.resources)
    assert set(per_patient) <= set(batch)
    copd = [cpr for cpr in batch if expected(cpr) is not None]
    assert len(copd) == 4
    if kind == "Condition":  # COPD, or hypertension for every third patient outside it
        codes = {r["subject"]["identifier"]["value"]: r["code"] for r in found.resources}  # type: ignore[index]
        assert all(codes[cpr]["coding"][0]["code"] == "DJ449" for cpr in copd)  # type: ignore[index]
        others = set(per_patient) - set(copd)
        assert others and all(codes[c]["coding"][0]["code"] == "DI109" for c in others)  # type: ignore[index]
    elif kind == "RiskAssessment":  # two each, for those with a triage level
        with_level = {c for c in copd if expected(c).triage is not None}  # type: ignore[union-attr]
        assert per_patient == dict.fromkeys(with_level, 2)
    else:
        assert set(per_patient) == set(copd)
    stats = server.patients[f"/{source}/{kind}"], server.counts[f"/{source}/{kind}"]
    assert stats == (50, 1)


async def test_a_long_answer_is_paged_and_the_gateways_client_reads_every_page(
    sources: tuple[str, SourceServer],
) -> None:
    url, server = sources
    batch = [cpr_for(i) for i in range(50)]  # the usual patient: six appointments each
    async with httpx.AsyncClient() as http:
        client = FhirClient(
            http, source="appointments", base_url=f"{url}/appointments", page_size=1
        )
        found = await client.search("Appointment", batch)
    per_appointments = len(resources()[("appointments", "Appointment")])
    assert _patients_of(found.resources) == dict.fromkeys(batch, per_appointments)
    assert len({r["id"] for r in found.resources}) == 50 * per_appointments
    path = "/appointments/Appointment"
    assert found.pages == server.counts[path] == 6  # 300 entries, _count=50
    assert (server.patients[path], server.next_pages[path]) == (50, 5)


async def _listing(url: str, sor: str, count: int) -> tuple[list[str], int]:
    value = quote(f"urn:oid:1.2.208.176.1.1|{sor}", safe="")
    page: str | None = (
        f"{url}/listing/Patient?general-practitioner%3Aidentifier={value}&_count={count}"
    )
    cprs, pages = [], 0
    async with httpx.AsyncClient() as http:
        while page is not None:
            bundle = (await http.get(page)).json()
            pages += 1
            for entry in bundle["entry"]:
                patient = entry["resource"]
                assert patient["generalPractitioner"][0]["identifier"]["value"] == CLINIC_SOR
                assert patient["name"][0]["text"]
                cprs += [i["value"] for i in patient["identifier"]]
            nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
            page = urljoin(page, nxt[0]) if nxt else None
    return cprs, pages


@pytest.mark.parametrize(
    ("count", "pages"),
    [
        pytest.param(1000, 2, id="default-page-size-two-pages"),
        pytest.param(300, 7, id="a-short-last-page"),
        pytest.param(5000, 1, id="one-page"),
    ],
)
async def test_the_listing_names_every_listed_patient_once_across_pages(
    sources: tuple[str, SourceServer], count: int, pages: int
) -> None:
    url, server = sources
    cprs, read = await _listing(url, CLINIC_SOR, count)
    assert cprs == list(clinic_cprs())
    assert read == pages == server.counts["/listing/Patient"]
    assert server.next_pages["/listing/Patient"] == pages - 1


async def test_another_clinic_has_no_one_listed(sources: tuple[str, SourceServer]) -> None:
    url, _ = sources
    assert await _listing(url, "265161000016000", 1000) == ([], 1)
