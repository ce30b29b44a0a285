"""Concurrent requests share searches: one per source for all their patients, nothing else.

Sharing a search must change nothing any viewer sees: each answer is compared with the one
the same viewer gets when asking alone.
"""

from __future__ import annotations

import asyncio
from typing import Any

from demo.people import (
    ORG_GP,
    ORG_HOSPITAL,
    PATIENT_BLOCKS,
    PATIENT_BOTH,
    PATIENT_COPD,
    PATIENT_LBP,
)
from tests.conftest import Gateway, MakeGateway

PLAN = """query($cpr: String) { plan(cpr: $cpr) {
  cpr restricted
  sources { name ok stale cached error }
  packages { id kind diagnoses { sourceId code } appointments { sourceId status }
             journalNotes { sourceId text } goals { sourceId } triage { level }
             healthLiteracy { score } preventionOffers { title } }
  unassigned { appointments { sourceId } journalNotes { sourceId } goals { sourceId } }
} }"""


def asks(gw: Gateway) -> list[tuple[str, str]]:
    """(viewer's token, CPR): citizens for themselves, clinicians for others, blocks too."""
    return [
        (gw.citizen(PATIENT_COPD), PATIENT_COPD),
        (gw.citizen(PATIENT_LBP), PATIENT_LBP),
        (gw.clinician(ORG_GP), PATIENT_BLOCKS),  # this patient's consent blocks some sections
        (gw.clinician(ORG_HOSPITAL), PATIENT_BLOCKS),
        (gw.clinician(ORG_GP), PATIENT_BOTH),
    ]


async def answer(gw: Gateway, token: str, cpr: str) -> dict[str, Any]:
    body = await gw.data(PLAN, token, {"cpr": cpr})
    return {"data": body["data"], "errors": body.get("errors")}


async def test_concurrent_plans_share_one_search_per_source_and_see_what_they_would_alone(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway(cache_ttl=0, stale_ttl=0) as gw:
        alone = [await answer(gw, token, cpr) for token, cpr in asks(gw)]
        searches_alone = len(gw.upstream.searches())
        gw.upstream.requests.clear()
        together = await asyncio.gather(*(answer(gw, token, cpr) for token, cpr in asks(gw)))
        shared = gw.upstream.requests
    assert together == alone
    assert searches_alone == 2 * 7 + 3 * 8  # every search; consent only for the clinicians
    assert len(shared) < searches_alone
    # The plans that started in the same loop turn went out as one search per source.
    widest = max(len(r.url.params["patient:identifier"].split(",")) for r in shared)
    assert widest >= 2, [str(r.url) for r in shared]
    assert any(a["data"]["plan"]["restricted"] for a in together)  # blocks still applied


async def test_a_failing_shared_search_fails_for_every_plan_in_it_and_nothing_else(
    make_gateway: MakeGateway, faulty: Any
) -> None:
    async with make_gateway(transport=faulty, cache_ttl=0, stale_ttl=0, retries=0) as gw:
        faulty.faults["journal"] = 503
        bodies = await asyncio.gather(
            *(gw.data(PLAN, gw.citizen(cpr), {"cpr": cpr}) for cpr in (PATIENT_COPD, PATIENT_LBP))
        )
    for body, cpr in zip(bodies, (PATIENT_COPD, PATIENT_LBP), strict=True):
        plan = body["data"]["plan"]
        assert plan["cpr"] == cpr
        statuses = {s["name"]: s for s in plan["sources"]}
        assert statuses["journal"]["ok"] is False
        assert all(s["ok"] for name, s in statuses.items() if name != "journal")
        assert [e["extensions"]["code"] for e in body["errors"]] == ["SOURCE_UNAVAILABLE"]


async def test_one_patients_unreadable_consent_fails_only_that_patient(
    make_gateway: MakeGateway,
) -> None:
    # The two plans share one consent search; the blocked patient's Consent is unreadable.
    # Her clinician is refused (rules unknown); the other patient's plan is unaffected.
    from demo.data import build_resources

    data = build_resources()
    broken = [c for c in data["consent"] if PATIENT_BLOCKS in str(c.get("patient"))]
    assert broken, "the demo has Consents for this patient"
    for consent in broken:
        del consent["status"]
    async with make_gateway(resources=data, cache_ttl=0, stale_ttl=0) as gw:
        token = gw.clinician(ORG_GP)
        blocked, fine = await asyncio.gather(
            gw.data(PLAN, token, {"cpr": PATIENT_BLOCKS}),
            gw.data(PLAN, token, {"cpr": PATIENT_COPD}),
        )
        consent_searches = [
            r.url.params["patient:identifier"]
            for r in gw.upstream.requests
            if r.url.path.endswith("/Consent")
        ]
    assert [e["extensions"]["code"] for e in blocked["errors"]] == ["CONSENT_UNAVAILABLE"]
    assert blocked["data"] is None
    assert "errors" not in fine, fine["errors"]
    assert fine["data"]["plan"]["cpr"] == PATIENT_COPD and fine["data"]["plan"]["packages"]
    assert any("," in patients for patients in consent_searches), "the search was shared"


class SlowPipeline:
    """Stands in for SourcePipeline: one search key, slow answers, counted calls."""

    search_keys = (("journal", "DocumentReference"),)

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.completed = 0
        self.fail = fail

    async def fetch(self, key: tuple[str, str], cprs: list[str]) -> list[Any]:
        from upstream.pipeline import SourceResult

        self.calls.append(list(cprs))
        await asyncio.sleep(0.05)
        self.completed += 1
        if self.fail:
            raise RuntimeError("a bug")
        return [SourceResult((), ok=True, latency_ms=1.0) for _ in cprs]


async def test_a_cancelled_request_does_not_cancel_the_search_it_shares() -> None:
    # Other requests may have joined this search (single flight in SourcePipeline) and
    # wait for its answer: the leaving request alone must not cancel it.
    from upstream.loaders import BatchLoaders, RequestLoaders

    pipeline = SlowPipeline()
    batches = BatchLoaders(pipeline)  # type: ignore[arg-type]
    key = pipeline.search_keys[0]
    leaving = asyncio.ensure_future(RequestLoaders(batches).load(key, PATIENT_COPD))
    await asyncio.sleep(0.01)  # its search is under way
    leaving.cancel()
    await asyncio.sleep(0.1)
    assert pipeline.calls == [[PATIENT_COPD]]
    assert pipeline.completed == 1, "the shared search was cancelled with the request"


async def test_a_bug_in_a_shared_search_is_a_failed_source_for_each_not_an_exception() -> None:
    from upstream.loaders import BatchLoaders, RequestLoaders

    pipeline = SlowPipeline(fail=True)
    batches = BatchLoaders(pipeline)  # type: ignore[arg-type]
    key = pipeline.search_keys[0]
    results = await asyncio.gather(
        RequestLoaders(batches).load(key, PATIENT_COPD),
        RequestLoaders(batches).load(key, PATIENT_LBP),
    )
    assert [(r.ok, r.error) for r in results] == [(False, "internal error")] * 2
