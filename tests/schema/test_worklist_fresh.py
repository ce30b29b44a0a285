"""What the work list keeps between reads, seen the way a clinic sees it (contract §5).

Who has a diagnosis of the package, and the results of the package's patients, are kept for
the next read while they may be served fresh (issue 13, item 7): a change upstream shows
after the fresh TTL, as in a plan read, never later; a TTL of 0 keeps nothing; consent is
still read and applied on every read, for each clinician; a source down behaves as before.
The clock is moved instead of waited for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from demo.sources import create_sources_app
from tests.conftest import FaultyTransport, Gateway, MakeGateway
from tests.fhir_v2 import consent_block
from tests.schema.test_worklist import GP, OTHER_GP, WORKLIST, Clinic, copd, cprs, patient, worklist

TTL = 60.0


@pytest.fixture
def clinic() -> Clinic:
    c = Clinic(fillers=30)
    c.red = c.copd_patient("Rød", level="red", noshow=True)  # type: ignore[attr-defined]
    c.yellow = c.copd_patient("Gul", level="yellow")  # type: ignore[attr-defined]
    c.later = c.listed("Får KOL senere")  # type: ignore[attr-defined]
    return c


@pytest.fixture
def upstream(clinic: Clinic) -> FaultyTransport:
    """The clinic's sources; ``serve(clinic)`` makes a change upstream, ``faults`` an outage."""
    return FaultyTransport(httpx.ASGITransport(app=create_sources_app(clinic.resources)))


def serve(upstream: FaultyTransport, clinic: Clinic) -> None:
    upstream.inner = httpx.ASGITransport(app=create_sources_app(clinic.resources))


@pytest.fixture
def advance(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Move the wall clock the caches judge freshness by (``time.time``) ahead."""
    real, ahead = time.time, [0.0]
    monkeypatch.setattr(time, "time", lambda: real() + ahead[0])

    def move(seconds: float) -> None:
        ahead[0] += seconds

    return move


def asked(gw: Gateway, source: str) -> int:
    """CPRs asked of ``source`` since the last call (a search's patients, summed)."""
    n = sum(
        len(str(r.url.params.get("patient:identifier", "")).split(","))
        for r in gw.upstream.requests
        if r.url.path.startswith(f"/{source}/")
    )
    return n


def statuses(page: dict[str, Any]) -> dict[str, bool]:
    return {s["name"]: s["ok"] for s in page["sources"]}


async def test_a_diagnosis_added_upstream_shows_after_the_ttl_not_before(
    make_gateway: MakeGateway, clinic: Clinic, upstream: FaultyTransport, advance: Any
) -> None:
    c: Any = clinic
    async with make_gateway(transport=upstream, cache_ttl=TTL) as gw:
        token = gw.clinician(GP)
        first = await worklist(gw, token)
        assert c.later not in cprs(first)
        listed = asked(gw, "diagnoses")
        clinic.add("diagnoses", copd(c.later, 5))
        serve(upstream, clinic)
        gw.upstream.requests.clear()
        again = await worklist(gw, token)
        assert cprs(again) == cprs(first), "within the TTL: what the sources said then"
        assert asked(gw, "diagnoses") == 0, "every answer still fresh"
        advance(TTL + 1)
        gw.upstream.requests.clear()
        after = await worklist(gw, token)
        assert c.later in cprs(after)
        assert asked(gw, "diagnoses") == listed, "everyone listed asked again"


async def test_a_diagnosis_gone_upstream_leaves_after_the_ttl(
    make_gateway: MakeGateway, clinic: Clinic, upstream: FaultyTransport, advance: Any
) -> None:
    c: Any = clinic
    async with make_gateway(transport=upstream, cache_ttl=TTL) as gw:
        token = gw.clinician(GP)
        assert c.yellow in cprs(await worklist(gw, token))
        clinic.resources["diagnoses"] = [
            r for r in clinic.resources["diagnoses"] if r["id"] != f"cond-{c.yellow}"
        ]
        serve(upstream, clinic)
        assert c.yellow in cprs(await worklist(gw, token))
        advance(TTL + 1)
        page = await worklist(gw, token)
        assert c.yellow not in cprs(page) and c.red in cprs(page)


async def test_a_ttl_of_0_keeps_nothing_between_reads(
    make_gateway: MakeGateway, clinic: Clinic, upstream: FaultyTransport
) -> None:
    c: Any = clinic
    async with make_gateway(transport=upstream, cache_ttl=0) as gw:
        token = gw.clinician(GP)
        assert c.later not in cprs(await worklist(gw, token))
        listed = asked(gw, "diagnoses")
        clinic.add("diagnoses", copd(c.later, 5))
        serve(upstream, clinic)
        gw.upstream.requests.clear()
        page = await worklist(gw, token)
        assert c.later in cprs(page)
        assert asked(gw, "diagnoses") == listed
        assert asked(gw, "consent") == len(page["entries"]), "no consent of anyone else"


async def test_consent_is_applied_on_every_read_for_each_clinician(
    make_gateway: MakeGateway, clinic: Clinic, upstream: FaultyTransport
) -> None:
    c: Any = clinic
    both = c.listed("Hos begge klinikker")
    shared = patient(both, "Hos begge klinikker")
    shared["generalPractitioner"] += patient(both, "", OTHER_GP)["generalPractitioner"]
    clinic.resources["listing"][-1] = shared
    clinic.add("diagnoses", copd(both, 5))
    serve(upstream, clinic)
    # Diagnoses stay fresh for an hour; a consent is read again on every read.
    async with make_gateway(transport=upstream, cache_ttl=3600, consent_cache_ttl=0) as gw:
        ours, theirs = gw.clinician(GP), gw.clinician(OTHER_GP, "Dr. Anden")
        assert both in cprs(await worklist(gw, ours))
        assert cprs(await worklist(gw, theirs)) == [both]
        clinic.add("consent", consent_block("cons-gp", GP, "diagnoses", cpr=both))
        serve(upstream, clinic)
        gw.upstream.requests.clear()
        mine = await worklist(gw, ours)
        assert asked(gw, "diagnoses") == 0, "diagnoses still fresh: not asked again"
        assert both not in cprs(mine) and c.red in cprs(mine)
        assert cprs(await worklist(gw, theirs)) == [both], "the block names our clinic only"
        assert both not in cprs(await worklist(gw, ours))


async def test_diagnoses_down_within_the_ttl_changes_nothing(
    make_gateway: MakeGateway, clinic: Clinic, upstream: FaultyTransport
) -> None:
    async with make_gateway(transport=upstream, cache_ttl=TTL) as gw:
        token = gw.clinician(GP)
        first = await worklist(gw, token)
        upstream.faults["diagnoses"] = 503
        again = await worklist(gw, token)
    assert again["entries"] == first["entries"]
    assert statuses(again)["diagnoses"] is True


async def test_diagnoses_down_after_the_ttl_stale_answers_stand_in_and_are_not_kept(
    make_gateway: MakeGateway, clinic: Clinic, upstream: FaultyTransport, advance: Any
) -> None:
    async with make_gateway(transport=upstream, cache_ttl=TTL, stale_ttl=600) as gw:
        token = gw.clinician(GP)
        first = await worklist(gw, token)
        listed = asked(gw, "diagnoses")
        advance(TTL + 1)
        upstream.faults["diagnoses"] = 503
        body = await gw.data(WORKLIST, token, {"kind": "COPD"})
        stale = body["data"]["worklist"]
        assert cprs(stale) == cprs(first)
        diagnoses = next(s for s in stale["sources"] if s["name"] == "diagnoses")
        assert diagnoses["ok"] is True
        del upstream.faults["diagnoses"]
        gw.upstream.requests.clear()
        fresh = await worklist(gw, token)
        assert cprs(fresh) == cprs(first)
        assert asked(gw, "diagnoses") == listed, "the stale answers were not kept as fresh"


async def _read_after_the_ttl_with_a_source_down(
    make_gateway: MakeGateway, upstream: FaultyTransport, advance: Any, source: str
) -> dict[str, Any]:
    """A read, then the TTL over and ``source`` down with nothing stale: the next read."""
    async with make_gateway(transport=upstream, cache_ttl=TTL, stale_ttl=0) as gw:
        token = gw.clinician(GP)
        assert await worklist(gw, token)
        advance(TTL + 1)
        upstream.faults[source] = 503
        body: dict[str, Any] = await gw.data(WORKLIST, token, {"kind": "COPD"})
    return body


async def test_diagnoses_down_without_a_stale_answer_leaves_the_list_empty(
    make_gateway: MakeGateway, clinic: Clinic, upstream: FaultyTransport, advance: Any
) -> None:
    body = await _read_after_the_ttl_with_a_source_down(
        make_gateway, upstream, advance, "diagnoses"
    )
    page = body["data"]["worklist"]
    assert page["entries"] == [] and statuses(page)["diagnoses"] is False


async def test_consent_down_refuses_the_list_even_with_diagnoses_fresh(
    make_gateway: MakeGateway, clinic: Clinic, upstream: FaultyTransport
) -> None:
    async with make_gateway(
        transport=upstream, cache_ttl=TTL, consent_cache_ttl=0, stale_ttl=0
    ) as gw:
        token = gw.clinician(GP)
        assert await worklist(gw, token)
        upstream.faults["consent"] = 503
        body = await gw.data(WORKLIST, token, {"kind": "COPD"})
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "CONSENT_UNAVAILABLE"


async def test_listing_down_after_its_ttl_without_a_stale_list_is_source_unavailable(
    make_gateway: MakeGateway, clinic: Clinic, upstream: FaultyTransport, advance: Any
) -> None:
    body = await _read_after_the_ttl_with_a_source_down(make_gateway, upstream, advance, "listing")
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"


@pytest.mark.redis
async def test_two_gateways_on_one_redis_show_a_change_after_the_ttl_alike(
    make_gateway: MakeGateway,
    clinic: Clinic,
    upstream: FaultyTransport,
    advance: Any,
    redis_cache_url: str,
) -> None:
    c: Any = clinic
    shared = {"transport": upstream, "cache_url": redis_cache_url, "cache_ttl": TTL}
    async with make_gateway(**shared) as first, make_gateway(**shared) as second:
        ours, theirs = first.clinician(GP), second.clinician(GP)
        before = await worklist(first, ours)
        clinic.add("diagnoses", copd(c.later, 5))
        serve(upstream, clinic)
        assert cprs(await worklist(first, ours)) == cprs(before)
        assert cprs(await worklist(second, theirs)) == cprs(before), "served from Redis"
        advance(TTL + 1)
        assert c.later in cprs(await worklist(first, ours))
        assert c.later in cprs(await worklist(second, theirs))
