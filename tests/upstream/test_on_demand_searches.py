"""On-demand searches (``CarePlan`` in ``careplan``): not made by a plan read, made when asked.

Contract §6: a plan read asks only what its query needs. A plan read that does not select
the course makes the same eight searches as before; the CarePlan search is there, through
the same pipeline (cache, resilience, metrics), for the reader when a query selects
``course`` (tests/schema/test_course_and_medication.py counts it).
"""

from __future__ import annotations

from core.records import CourseRecord
from demo.people import PATIENT_BOTH, PATIENT_COPD
from tests.conftest import MakeGateway

PLAN = "query($cpr: String) { plan(cpr: $cpr) { cpr packages { kind } } }"
CAREPLAN = ("careplan", "CarePlan")


async def test_a_plan_read_does_not_search_care_plans(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        pipeline = gw.app.state.services.pipeline
        await gw.data(PLAN, gw.citizen(PATIENT_COPD))
    assert CAREPLAN not in pipeline.search_keys
    assert CAREPLAN in pipeline.all_search_keys
    assert set(pipeline.search_keys) == set(pipeline.all_search_keys) - {CAREPLAN}
    assert CAREPLAN not in gw.upstream.searches()


async def test_the_loaders_make_an_on_demand_search_when_asked(make_gateway: MakeGateway) -> None:
    from upstream.loaders import RequestLoaders

    async with make_gateway(cache_ttl=60) as gw:
        loaders = RequestLoaders(gw.app.state.services.loaders)
        copd = await loaders.load(CAREPLAN, PATIENT_COPD)
        both = await loaders.load(CAREPLAN, PATIENT_BOTH)
        again = await RequestLoaders(gw.app.state.services.loaders).load(CAREPLAN, PATIENT_BOTH)
    assert copd.ok and both.ok and again.cached
    assert [r.source_id for r in copd.records] == ["cp-karen-kol"]
    assert {r.source_id for r in both.records} == {"cp-birgit-kol", "cp-birgit-lrs"}
    assert all(isinstance(r, CourseRecord) for r in again.records)
    assert gw.upstream.searches().count(CAREPLAN) == 2
