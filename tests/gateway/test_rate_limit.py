"""The per-caller rate limit (contract §4, ``MINPLAN_RATE_LIMIT``) through the real gateway.

Over the limit: HTTP 429, ``Retry-After``, ``RATE_LIMITED``, and no upstream call. Callers
are counted apart; through Redis, two gateways count together; Redis down, each process
counts on its own (fail open to a local limit, with a warning).
"""

from __future__ import annotations

import logging
import uuid

import pytest
from pydantic import ValidationError

from demo.people import ORG_GP, PATIENT_COPD, PATIENT_LBP
from gateway.ratelimit import RateLimiter, parse_rate_limit
from gateway.settings import Settings, explain
from plans.viewer import Role, Viewer
from tests.conftest import Gateway, MakeGateway
from tests.services import redis_reachable, redis_url, require_service

PLAN = "{ plan { cpr packages { kind appointments { sourceId } } } }"
CLINICIAN_PLAN = "query($cpr: String) { plan(cpr: $cpr) { cpr packages { kind } } }"
#: A port nothing listens on: Redis "down" at once (connection refused).
DOWN = "redis://127.0.0.1:1/0"


def a_clinician(gw: Gateway) -> str:
    """A clinician token with a subject of its own: tests sharing a Redis count apart."""
    return gw.clinician(ORG_GP, name=f"Dr. {uuid.uuid4().hex[:12]}")


async def read(gw: Gateway, token: str) -> int:
    response = await gw.query(CLINICIAN_PLAN, token, {"cpr": PATIENT_COPD})
    return response.status_code


async def test_the_sixth_request_of_a_caller_is_refused_without_an_upstream_call(
    make_gateway: MakeGateway,
) -> None:
    # No cache: every read within the limit asks the sources, so one that does not shows.
    async with make_gateway(rate_limit="5/minute", cache_ttl=0, stale_ttl=0) as gw:
        token = gw.citizen(PATIENT_COPD)
        for _ in range(5):
            asked = len(gw.upstream.requests)
            assert (await gw.data(PLAN, token))["data"]["plan"]["cpr"] == PATIENT_COPD
            assert len(gw.upstream.requests) > asked
        asked = len(gw.upstream.requests)
        response = await gw.query(PLAN, token)
        assert response.status_code == 429
        retry_after = response.headers["Retry-After"]
        assert retry_after.isdigit() and 1 <= int(retry_after) <= 60
        body = response.json()
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["retryAfter"] == int(retry_after)
        assert "5 per 1 minute" in error["message"]
        assert "data" not in body
        assert len(gw.upstream.requests) == asked  # no upstream call


async def test_another_caller_is_not_limited_by_the_first(make_gateway: MakeGateway) -> None:
    async with make_gateway(rate_limit="2/minute") as gw:
        first, second = a_clinician(gw), a_clinician(gw)
        assert [await read(gw, first) for _ in range(3)] == [200, 200, 429]
        assert [await read(gw, second) for _ in range(2)] == [200, 200]
        citizen = gw.citizen(PATIENT_COPD)
        assert (await gw.query(PLAN, citizen)).status_code == 200


async def test_an_unauthenticated_request_is_refused_before_it_is_counted(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway(rate_limit="1/minute") as gw:
        for _ in range(3):
            assert (await gw.query(PLAN, "not-a-token")).status_code == 401
        assert (await gw.query(PLAN, gw.citizen(PATIENT_COPD))).status_code == 200


async def test_without_a_limit_nobody_is_limited(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        token = gw.citizen(PATIENT_COPD)
        statuses = {(await gw.query(PLAN, token)).status_code for _ in range(30)}
        assert statuses == {200}


@pytest.fixture
async def redis() -> str:
    url = redis_url()
    require_service("redis", *await redis_reachable(url))
    return url


async def test_two_gateways_on_one_redis_share_the_limit(
    make_gateway: MakeGateway, redis: str
) -> None:
    settings = {"rate_limit": "5/minute", "cache_url": redis}
    async with (
        make_gateway(**settings) as one,
        make_gateway(**settings) as other,
    ):
        assert one.app.state.services.rate_limiter.shared
        token = a_clinician(one)  # one issuer: the same caller at both
        statuses = [await read(gw, token) for gw in (one, other, one, other, one, other)]
        assert statuses == [200, 200, 200, 200, 200, 429]
        assert (await read(one, token)) == 429
        assert (await read(other, a_clinician(other))) == 200


def test_redis_keys_hold_no_cpr_nor_subject() -> None:
    limiter = RateLimiter(parse_rate_limit("5/minute"), pseudonym_key=b"k" * 32)
    citizen = Viewer(role=Role.CITIZEN, subject="", cpr=PATIENT_COPD)
    assert PATIENT_COPD not in limiter.caller(citizen)
    assert limiter.caller(citizen) != limiter.caller(
        Viewer(role=Role.CITIZEN, subject="", cpr=PATIENT_LBP)
    )
    clinician = Viewer(role=Role.CLINICIAN, subject="sub-123", org=ORG_GP)
    assert "sub-123" not in limiter.caller(clinician)
    by_org = Viewer(role=Role.CLINICIAN, subject="", org=ORG_GP)
    assert ORG_GP not in limiter.caller(by_org)


async def test_the_redis_key_is_a_pseudonym(make_gateway: MakeGateway, redis: str) -> None:
    import redis.asyncio as aioredis

    async with make_gateway(rate_limit="5/minute", cache_url=redis) as gw:
        token = gw.citizen(PATIENT_COPD)
        assert (await gw.query(PLAN, token)).status_code == 200
        services = gw.app.state.services
        caller = services.rate_limiter.caller(await services.verifier.verify(token))
    client = aioredis.Redis.from_url(redis)
    try:
        keys = [k.decode() for k in await client.keys(f"*{caller}*")]
        assert keys, "the count is in Redis"
        assert all(PATIENT_COPD not in k for k in keys)
        await client.delete(*keys)
    finally:
        await client.aclose()


async def test_redis_down_fails_open_to_a_per_process_limit_with_a_warning(
    make_gateway: MakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    """Availability first (a patient's plan over a limiter's outage), abuse still bounded."""
    async with make_gateway(rate_limit="3/minute", cache_url=DOWN) as gw:
        token = a_clinician(gw)
        with caplog.at_level(logging.WARNING, logger="gateway.ratelimit"):
            statuses = [await read(gw, token) for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    warnings = [r.getMessage() for r in caplog.records if r.name == "gateway.ratelimit"]
    assert len(warnings) == 1, warnings  # once per outage, not per request
    assert "Redis failed" in warnings[0]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        pytest.param("120/minute", True, id="per-minute"),
        pytest.param("10/second; 600/hour", True, id="two-limits"),
        pytest.param("5 per minute", True, id="words"),
        pytest.param("lots", False, id="not-a-limit"),
        pytest.param("5/fortnight", False, id="unknown-period"),
    ],
)
def test_the_setting_is_checked_at_start(value: str, ok: bool) -> None:
    if ok:
        assert Settings(rate_limit=value).rate_limit == value
        return
    with pytest.raises(ValidationError) as raised:
        Settings(rate_limit=value)
    assert explain(raised.value)[0].startswith("MINPLAN_RATE_LIMIT: must be N/period")


# -- the pages: a page read is an API read, counted against the same caller --------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def page(gw: Gateway, path: str, token: str) -> int:
    return (await gw.client.get(path, headers=bearer(token))).status_code


async def entries_for(gw: Gateway, cpr: str) -> int:
    services = gw.app.state.services
    return len(await services.access_log.entries(services.plans.pseudonym(cpr)))


@pytest.mark.parametrize(
    ("path", "citizen"),
    [
        pytest.param("/plan", True, id="own-plan"),
        pytest.param(f"/plan/{PATIENT_COPD}", False, id="patient-plan"),
        pytest.param("/worklist", False, id="worklist"),
        pytest.param("/access-log", True, id="access-log"),
    ],
)
async def test_a_page_read_over_the_limit_is_a_danish_429_page(
    make_gateway: MakeGateway, path: str, citizen: bool
) -> None:
    async with make_gateway(rate_limit="2/minute", cache_ttl=0, stale_ttl=0) as gw:
        token = gw.citizen(PATIENT_COPD) if citizen else a_clinician(gw)
        assert [await page(gw, path, token) for _ in range(2)] == [200, 200]
        asked = len(gw.upstream.requests)
        refused = await gw.client.get(path, headers=bearer(token))
        assert len(gw.upstream.requests) == asked  # nothing read
    assert refused.status_code == 429
    retry_after = refused.headers["Retry-After"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 60
    assert refused.headers["content-type"].startswith("text/html")
    assert '<html lang="da">' in refused.text
    assert "For mange opslag" in refused.text
    assert f"Prøv igen om {retry_after} sekund" in refused.text


async def test_a_refused_page_read_writes_no_access_log_entry(make_gateway: MakeGateway) -> None:
    async with make_gateway(rate_limit="2/minute") as gw:
        token = a_clinician(gw)
        assert [await page(gw, f"/plan/{PATIENT_COPD}", token) for _ in range(2)] == [200, 200]
        assert await entries_for(gw, PATIENT_COPD) == 2
        assert await page(gw, f"/plan/{PATIENT_COPD}", token) == 429
        assert await entries_for(gw, PATIENT_COPD) == 2


async def test_api_reads_and_page_reads_share_one_budget(make_gateway: MakeGateway) -> None:
    async with make_gateway(rate_limit="3/minute") as gw:
        api_first, page_first = a_clinician(gw), a_clinician(gw)
        assert [await read(gw, api_first) for _ in range(3)] == [200, 200, 200]
        assert await page(gw, f"/plan/{PATIENT_COPD}", api_first) == 429
        assert [await page(gw, f"/plan/{PATIENT_COPD}", page_first) for _ in range(3)] == [
            200,
            200,
            200,
        ]
        assert await read(gw, page_first) == 429


async def test_another_viewer_still_reads_pages_when_one_is_refused(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway(rate_limit="2/minute") as gw:
        first, second = a_clinician(gw), a_clinician(gw)
        path = f"/plan/{PATIENT_COPD}"
        assert [await page(gw, path, first) for _ in range(3)] == [200, 200, 429]
        assert [await page(gw, path, second) for _ in range(2)] == [200, 200]
        assert await page(gw, "/plan", gw.citizen(PATIENT_COPD)) == 200


async def test_a_page_that_reads_nothing_is_not_counted(make_gateway: MakeGateway) -> None:
    async with make_gateway(rate_limit="1/minute") as gw:
        token = a_clinician(gw)
        # The clinician's look-up form runs no document: nothing to limit.
        assert [await page(gw, "/plan", token) for _ in range(3)] == [200, 200, 200]
        assert await page(gw, f"/plan/{PATIENT_COPD}", token) == 200
