"""The shared source cache: raw source results, per patient, filtered per viewer afterwards."""

from __future__ import annotations

from typing import Any

import pytest

from demo.people import ORG_GP, ORG_HOSPITAL, PATIENT_BLOCKS, PATIENT_COPD
from tests.conftest import MakeGateway

#: Selects every source's data: a clinician's read makes all 8 searches, the patient's 7
#: (no consent, contract §6).
PLAN = """query($cpr: String) { plan(cpr: $cpr) {
  cpr restricted
  packages { kind journalNotes { sourceId } appointments { sourceId } goals { sourceId }
             triage { sourceId } healthLiteracy { sourceId } preventionOffers { sourceId } }
  sources { name ok stale cached }
} }"""
PATIENT_SEARCHES = 7


def notes(body: dict[str, Any]) -> set[str]:
    return {n["sourceId"] for p in body["data"]["plan"]["packages"] for n in p["journalNotes"]}


async def test_second_read_is_served_from_cache(make_gateway: MakeGateway) -> None:
    async with make_gateway(cache_ttl=60) as gw:
        token = gw.citizen(PATIENT_COPD)
        first = await gw.data(PLAN, token)
        calls_after_first = len(gw.upstream.requests)
        second = await gw.data(PLAN, token)
    assert len(set(gw.upstream.searches())) == PATIENT_SEARCHES
    assert len(gw.upstream.requests) == calls_after_first, "the second read called a source"
    assert all(s["cached"] for s in second["data"]["plan"]["sources"])
    assert not any(s["cached"] for s in first["data"]["plan"]["sources"])
    assert second["data"]["plan"]["packages"] == first["data"]["plan"]["packages"]


async def test_ttl_zero_always_asks_the_sources(make_gateway: MakeGateway) -> None:
    async with make_gateway(cache_ttl=0) as gw:
        token = gw.citizen(PATIENT_COPD)
        await gw.data(PLAN, token)
        first = len(gw.upstream.searches())
        await gw.data(PLAN, token)
    assert len(gw.upstream.searches()) == 2 * first


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(("hospital", "gp", "patient"), id="blocked-clinician-first"),
        pytest.param(("patient", "gp", "hospital"), id="patient-first"),
    ],
)
async def test_cache_holds_source_data_and_filters_per_viewer(
    make_gateway: MakeGateway, order: tuple[str, ...]
) -> None:
    seen: dict[str, set[str]] = {}
    async with make_gateway(cache_ttl=60) as gw:
        tokens = {
            "hospital": gw.clinician(ORG_HOSPITAL),
            "gp": gw.clinician(ORG_GP),
            "patient": gw.citizen(PATIENT_BLOCKS),
        }
        for viewer in order:
            body = await gw.data(PLAN, tokens[viewer], {"cpr": PATIENT_BLOCKS})
            seen[viewer] = notes(body)
        searches = gw.upstream.searches()
    assert len(searches) == len(set(searches)), "each search once: the rest came from cache"
    assert seen["hospital"] == set(), "the hospital is blocked from Lis's journal"
    assert seen["gp"], "the GP sees Lis's notes, from the same cache entry"
    assert seen["patient"] <= seen["gp"]


async def test_cache_outage_reads_as_miss(make_gateway: MakeGateway) -> None:
    async with make_gateway(cache_url="redis://127.0.0.1:1/0", cache_ttl=60) as gw:
        body = await gw.data(PLAN, gw.citizen(PATIENT_COPD))
    assert body["data"]["plan"]["packages"][0]["kind"] == "COPD"
    assert all(s["ok"] for s in body["data"]["plan"]["sources"])


@pytest.mark.redis
async def test_two_gateways_share_one_redis(
    make_gateway: MakeGateway, redis_cache_url: str
) -> None:
    async with make_gateway(cache_url=redis_cache_url, cache_ttl=60) as first:
        a = await first.data(PLAN, first.clinician(ORG_GP), {"cpr": PATIENT_COPD})
    async with make_gateway(cache_url=redis_cache_url, cache_ttl=60) as second:
        b = await second.data(PLAN, second.clinician(ORG_GP), {"cpr": PATIENT_COPD})
    assert len(first.upstream.searches()) == 8
    assert second.upstream.searches() == [], "the second gateway called a source"
    assert b["data"]["plan"]["packages"] == a["data"]["plan"]["packages"]
    assert all(s["cached"] for s in b["data"]["plan"]["sources"])


@pytest.mark.redis
async def test_redis_keys_hold_no_cpr(make_gateway: MakeGateway, redis_cache_url: str) -> None:
    import redis.asyncio as redis

    async with make_gateway(cache_url=redis_cache_url, cache_ttl=60) as gw:
        await gw.data(PLAN, gw.clinician(ORG_GP), {"cpr": PATIENT_COPD})
    client = redis.Redis.from_url(redis_cache_url)
    keys = [k.decode() async for k in client.scan_iter("minplan:*")]
    await client.aclose()
    assert len(keys) == 8
    assert not [k for k in keys if PATIENT_COPD in k]


@pytest.mark.redis
async def test_redis_values_hold_no_cpr_and_cached_plans_stay_right(
    make_gateway: MakeGateway, redis_cache_url: str
) -> None:
    import redis.asyncio as redis

    async with make_gateway(cache_url=redis_cache_url, cache_ttl=60) as gw:
        token = gw.citizen(PATIENT_COPD)
        fresh = await gw.data(PLAN, token)
        client = redis.Redis.from_url(redis_cache_url)
        values = [await client.get(k) async for k in client.scan_iter("minplan:*")]
        await client.aclose()
        cached = await gw.data(PLAN, token)
    assert values, "the plan's searches were cached"
    assert not [v for v in values if PATIENT_COPD.encode() in v]
    assert all(s["cached"] for s in cached["data"]["plan"]["sources"])
    assert cached["data"]["plan"]["packages"] == fresh["data"]["plan"]["packages"]


async def test_memory_cache_holds_json_without_cpr_that_the_gc_never_walks(
    make_gateway: MakeGateway,
) -> None:
    # Cached record objects made every full garbage collection walk the whole cache (50 ms
    # at 10,000 entries); bytes are not tracked by the collector at all.
    import gc

    async with make_gateway(cache_ttl=60) as gw:
        token, cpr = gw.clinician(ORG_GP), {"cpr": PATIENT_COPD}
        fresh = await gw.data(PLAN, token, cpr)
        await gw.app.state.services.cache.flush()  # written after the answer, not during
        values = gw.app.state.services.cache.stored()
        cached = await gw.data(PLAN, token, cpr)
    assert len(values) == 8, "one entry per search"
    assert all(isinstance(v, bytes) and PATIENT_COPD.encode() not in v for v in values)
    assert not [v for v in values if gc.is_tracked(v)]
    assert all(s["cached"] for s in cached["data"]["plan"]["sources"])
    assert cached["data"]["plan"]["packages"] == fresh["data"]["plan"]["packages"]
    assert cached["data"]["plan"]["cpr"] == PATIENT_COPD


async def test_memory_cache_is_written_after_the_answer_and_read_before_it_lands(
    make_gateway: MakeGateway,
) -> None:
    # The write waits (upstream.pipeline); meanwhile a lookup reads the entry as if written.
    async with make_gateway(cache_ttl=60) as gw:
        pipeline = gw.app.state.services.pipeline
        cache = gw.app.state.services.cache
        key = ("diagnoses", "Condition")
        [first] = await pipeline.fetch(key, [PATIENT_COPD])
        assert first.ok and first.records and not first.cached
        assert not cache.stored(), "nothing written while answers are being handed out"
        [again] = await pipeline.fetch(key, [PATIENT_COPD])
        assert again.cached and again.records is first.records
        assert gw.upstream.searches() == [key]
        await cache.flush()
        assert len(cache.stored()) == 1
        [cached] = await pipeline.fetch(key, [PATIENT_COPD])
        assert cached.cached and cached.records == first.records
        assert gw.upstream.searches() == [key]
        assert pipeline.in_flight == 0


async def test_memory_cache_writes_land_shortly_after(
    make_gateway: MakeGateway,
) -> None:
    import asyncio

    from upstream.cache import WRITE_DELAY

    async with make_gateway(cache_ttl=60) as gw:
        pipeline = gw.app.state.services.pipeline
        await pipeline.fetch(("consent", "Consent"), [PATIENT_COPD])
        await asyncio.sleep(WRITE_DELAY * 4)
        assert len(gw.app.state.services.cache.stored()) == 1
        assert pipeline.in_flight == 0


async def test_memory_cache_is_bounded_and_expires() -> None:
    import asyncio

    from upstream.cache import CacheEntry, SourceCache

    cache = SourceCache("memory://", max_age=0.2, max_entries=3)
    search = ("journal", "DocumentReference")
    await cache.put_many(search, [(f"p{i}", CacheEntry(0.0, ())) for i in range(5)])
    await cache.flush()
    found = await cache.get_many(search, [(f"cpr{i}", f"p{i}") for i in range(5)])
    assert [e is not None for e in found] == [False, False, True, True, True], "oldest go first"
    await asyncio.sleep(0.25)
    assert await cache.get_many(search, [("cpr4", "p4")]) == [None], "expired: not served"
    await cache.close()


@pytest.mark.redis
async def test_blocks_hold_when_consent_comes_from_redis(
    make_gateway: MakeGateway, redis_cache_url: str
) -> None:
    # The GP warms the shared cache; a second gateway then serves the blocked hospital
    # from it: the block (a Consent read back from Redis) must still apply.
    async with make_gateway(cache_url=redis_cache_url, cache_ttl=60) as first:
        gp = await first.data(PLAN, first.clinician(ORG_GP), {"cpr": PATIENT_BLOCKS})
    async with make_gateway(cache_url=redis_cache_url, cache_ttl=60) as second:
        hospital = await second.data(PLAN, second.clinician(ORG_HOSPITAL), {"cpr": PATIENT_BLOCKS})
    assert notes(gp), "the GP sees Lis's notes"
    assert second.upstream.searches() == [], "the second gateway read everything from Redis"
    assert notes(hospital) == set()
    assert hospital["data"]["plan"]["restricted"] is True


async def test_a_per_source_ttl_cannot_keep_consent_fresh_past_its_limit(
    make_gateway: MakeGateway,
) -> None:
    # MINPLAN_CACHE_TTLS={"consent": 3600} must not hold a new block off for an hour:
    # consent is fresh for at most MINPLAN_CONSENT_CACHE_TTL (0 here: asked every time).
    async with make_gateway(cache_ttl=60, cache_ttls={"consent": 3600}, consent_cache_ttl=0) as gw:
        token = gw.clinician(ORG_GP)  # the patient's own read does not ask consent
        await gw.data(PLAN, token, {"cpr": PATIENT_COPD})
        await gw.data(PLAN, token, {"cpr": PATIENT_COPD})
    searches = gw.upstream.searches()
    assert searches.count(("consent", "Consent")) == 2
    assert searches.count(("journal", "DocumentReference")) == 1  # the others were cached
