"""Slow, failing and flapping sources: coalescing, deadlines, stale-if-error, breakers, retries."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest
import stamina

from demo.people import ORG_GP, PATIENT_COPD
from gateway.settings import SOURCE_NAMES
from tests.conftest import FaultyTransport, MakeGateway

#: Selects every source's data, so every search is made (contract §6).
PLAN = """query($cpr: String) { plan(cpr: $cpr) {
  packages { journalNotes { sourceId } appointments { sourceId } goals { sourceId }
             triage { sourceId } healthLiteracy { sourceId } preventionOffers { sourceId } }
  sources { name ok stale cached error latencyMs }
} }"""


@pytest.fixture(autouse=True)
def _no_retry_waits() -> Any:
    stamina.set_testing(True, attempts=2)  # keep the retry logic, skip the backoff sleeps
    yield
    stamina.set_testing(False)


def status(body: dict[str, Any], name: str) -> dict[str, Any]:
    statuses = {s["name"]: s for s in body["data"]["plan"]["sources"]}
    return statuses[name]


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


@pytest.mark.parametrize(
    ("cache_ttl", "latency"),
    [
        # No cache: the only way to one call per search is joining the search under way.
        # The sources are slow enough that every request arrives while they are.
        pytest.param(0, 1.0, id="single-flight-alone"),
        pytest.param(30, 0.1, id="single-flight-and-cache"),
    ],
)
async def test_fifty_concurrent_requests_share_one_call_per_search(
    make_gateway: MakeGateway, cache_ttl: float, latency: float
) -> None:
    slow = dict.fromkeys(SOURCE_NAMES, latency)
    async with make_gateway(cache_ttl=cache_ttl, latency=slow, request_deadline=10) as gw:
        token = gw.clinician(ORG_GP)
        bodies = await asyncio.gather(
            *(gw.data(PLAN, token, {"cpr": PATIENT_COPD}) for _ in range(50))
        )
    assert all(all(s["ok"] for s in b["data"]["plan"]["sources"]) for b in bodies)
    calls = Counter(gw.upstream.searches())
    assert len(calls) == 8
    assert set(calls.values()) == {1}, calls


async def test_hanging_source_costs_at_most_its_timeout(make_gateway: MakeGateway) -> None:
    async with make_gateway(source_timeouts={"journal": 0.3}, latency={"journal": 10}) as gw:
        started = time.perf_counter()
        body = await gw.data(PLAN, gw.citizen(PATIENT_COPD))
        elapsed = time.perf_counter() - started
    journal = status(body, "journal")
    assert journal["ok"] is False and journal["error"] == "timed out"
    assert elapsed < 3, f"a 0.3 s timeout held the plan for {elapsed:.1f} s"
    assert "SOURCE_UNAVAILABLE" in codes(body)
    assert status(body, "appointments")["ok"] is True


async def test_request_deadline_bounds_the_whole_plan(make_gateway: MakeGateway) -> None:
    async with make_gateway(
        request_deadline=0.3, source_timeouts={"journal": 5}, latency={"journal": 10}
    ) as gw:
        started = time.perf_counter()
        body = await gw.data(PLAN, gw.citizen(PATIENT_COPD))
        elapsed = time.perf_counter() - started
    assert status(body, "journal")["ok"] is False
    assert status(body, "journal")["error"] == "request deadline exceeded"
    assert elapsed < 3


async def test_stale_copy_served_when_the_source_fails(
    make_gateway: MakeGateway, faulty: FaultyTransport
) -> None:
    async with make_gateway(transport=faulty, cache_ttl=0, stale_ttl=600, retries=0) as gw:
        token = gw.citizen(PATIENT_COPD)
        fresh = await gw.data(PLAN, token)
        faulty.faults["journal"] = 503
        stale = await gw.data(PLAN, token)
    journal = status(stale, "journal")
    assert journal["ok"] is True and journal["stale"] is True
    assert stale["data"]["plan"]["packages"] == fresh["data"]["plan"]["packages"]
    assert "SOURCE_UNAVAILABLE" not in codes(stale)


async def test_no_stale_copy_beyond_the_stale_window(
    make_gateway: MakeGateway, faulty: FaultyTransport
) -> None:
    async with make_gateway(transport=faulty, cache_ttl=0, stale_ttl=0, retries=0) as gw:
        token = gw.citizen(PATIENT_COPD)
        await gw.data(PLAN, token)
        faulty.faults["journal"] = 503
        body = await gw.data(PLAN, token)
    assert status(body, "journal")["ok"] is False
    assert status(body, "journal")["error"] == "HTTP 503"


async def test_breaker_opens_then_probes_and_closes(
    make_gateway: MakeGateway, faulty: FaultyTransport
) -> None:
    async with make_gateway(
        transport=faulty, cache_ttl=0, stale_ttl=0, retries=0,
        breaker_threshold=2, breaker_cooldown=0.5,
    ) as gw:  # fmt: skip
        token = gw.citizen(PATIENT_COPD)
        faulty.faults["journal"] = 503
        for _ in range(2):
            await gw.data(PLAN, token)
        calls_when_opened = gw.upstream.searches().count(("journal", "DocumentReference"))
        body = await gw.data(PLAN, token)
        ready = (await gw.client.get("/readyz")).json()
        assert gw.upstream.searches().count(("journal", "DocumentReference")) == calls_when_opened
        assert status(body, "journal")["error"] == "circuit open: source recently failing"
        assert ready["sources"]["journal"] == "opened" and ready["status"] == "degraded"
        metrics = (await gw.client.get("/metrics")).text
        assert 'minplan_breaker_open{source="journal"} 1.0' in metrics

        faulty.faults.clear()
        await asyncio.sleep(0.6)
        body = await gw.data(PLAN, token)
        ready = (await gw.client.get("/readyz")).json()
    assert status(body, "journal")["ok"] is True
    assert ready["sources"]["journal"] == "closed" and ready["status"] == "ready"


class FlakyOnce(FaultyTransport):
    """Fails the first request to each faulty source, then recovers."""

    async def handle_async_request(self, request: Any) -> Any:
        try:
            return await super().handle_async_request(request)
        finally:
            self.faults.pop(request.url.path.strip("/").split("/")[0], None)


@pytest.mark.parametrize(
    ("fault", "calls", "ok"),
    [
        pytest.param(503, 2, True, id="503-retried-once"),
        pytest.param("refused", 2, True, id="refused-connection-retried"),
        pytest.param(400, 1, False, id="400-not-retried"),
        pytest.param("junk", 1, False, id="junk-not-retried"),
    ],
)
async def test_retries_only_transient_failures(
    make_gateway: MakeGateway, fault: int | str, calls: int, ok: bool
) -> None:
    from httpx import ASGITransport

    from demo.sources import create_sources_app

    flaky = FlakyOnce(ASGITransport(app=create_sources_app()))
    flaky.faults["journal"] = fault
    async with make_gateway(transport=flaky, retries=1) as gw:
        body = await gw.data(PLAN, gw.citizen(PATIENT_COPD))
    assert gw.upstream.searches().count(("journal", "DocumentReference")) == calls
    assert status(body, "journal")["ok"] is ok


async def test_metrics_cover_sources_cache_and_requests(make_gateway: MakeGateway) -> None:
    async with make_gateway(cache_ttl=60) as gw:
        token = gw.citizen(PATIENT_COPD)
        await gw.data(PLAN, token)
        await gw.data(PLAN, token)
        text = (await gw.client.get("/metrics")).text
    for needle in (
        'minplan_source_request_seconds_bucket{le="0.005",resource_type="Condition",source="diagnoses"}',
        'minplan_cache_total{result="hit",source="journal"} 1.0',
        'minplan_cache_total{result="miss",source="journal"} 1.0',
        "minplan_graphql_request_seconds_count 2.0",
        'minplan_plans_total{viewer="patient"} 2.0',
    ):
        assert needle in text, needle
