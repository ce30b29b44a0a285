"""Single flight in the pipeline: one upstream search per patient under way, whoever asks.

A search's patients share one future; a later search for some of them joins it and asks the
source only about the rest. The search's owner going away hands its joiners a failure, never
a hang, and leaves nothing in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import SimpleNamespace

import pytest

from connectors import Fetched, SearchKey
from core.metrics import Metrics
from core.records import DiagnosisRecord
from upstream.cache import SourceCache
from upstream.pipeline import SourcePipeline
from upstream.resilience import Resilience

KEY: SearchKey = ("diagnoses", "Condition")
A, B, C = "0101701234", "0202701234", "0303701234"


class SlowSource:
    """A diagnoses connector answering after ``delay``, one COPD diagnosis per patient."""

    plan_types = resource_types = ("Condition",)

    def __init__(self, delay: float = 0.05) -> None:
        self.delay = delay
        self.asked: list[list[str]] = []
        self.fhir = SimpleNamespace(timeout=2.0)

    async def fetch(self, resource_type: str, cprs: Sequence[str]) -> Fetched:
        self.asked.append(list(cprs))
        await asyncio.sleep(self.delay)
        return Fetched(by_patient={cpr: [_copd(cpr)] for cpr in cprs})


def _copd(cpr: str) -> DiagnosisRecord:
    return DiagnosisRecord(
        source="diagnoses", source_id=f"c-{cpr}", patient=cpr, code="J44.9", display=None,
        onset=None, recorded_by=None, active=True,
    )  # fmt: skip


def _pipeline(source: SlowSource, *, fresh: float = 0.0) -> SourcePipeline:
    metrics = Metrics()
    return SourcePipeline(
        {"diagnoses": source},  # type: ignore[dict-item]
        metrics=metrics,
        cache=SourceCache("memory://", max_age=600),
        resilience=Resilience(metrics=metrics, retries=0),
        pseudonym_key=b"k" * 32,
        fresh_ttl={"diagnoses": fresh},
        stale_ttl={"diagnoses": 600},
    )


async def test_a_search_joins_the_patients_already_under_way_and_asks_only_the_rest() -> None:
    source = SlowSource()
    pipeline = _pipeline(source)
    first = asyncio.ensure_future(pipeline.fetch(KEY, [A, B]))
    await asyncio.sleep(0.01)
    second = await pipeline.fetch(KEY, [B, C])
    results = await first
    assert source.asked == [[A, B], [C]]
    assert [r.records[0].patient for r in results + second] == [A, B, B, C]
    assert second[0] is results[1], "B's one answer, shared"
    assert pipeline.in_flight == 0


async def test_the_owner_cancelled_its_joiners_get_a_failure_and_nothing_stays_in_flight() -> None:
    pipeline = _pipeline(SlowSource(delay=1.0))
    owner = asyncio.ensure_future(pipeline.fetch(KEY, [A, B]))
    await asyncio.sleep(0.01)
    joiner = asyncio.ensure_future(pipeline.fetch(KEY, [B]))
    await asyncio.sleep(0.01)
    owner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await owner
    (result,) = await asyncio.wait_for(joiner, timeout=0.5)
    assert not result.ok and result.error == "cancelled"
    assert pipeline.in_flight == 0


@pytest.mark.parametrize("fresh", [pytest.param(0.0, id="ttl-0"), pytest.param(60.0, id="ttl-60")])
async def test_remembered_results_are_served_again_only_while_fresh(fresh: float) -> None:
    source = SlowSource(delay=0.0)
    pipeline = _pipeline(source, fresh=fresh)
    await pipeline.fetch(KEY, [A], remember=True)
    assert len(pipeline.recent) == (1 if fresh else 0), "kept decoded only with a fresh TTL"
    (again,) = await pipeline.fetch(KEY, [A])
    assert again.ok and again.records[0].patient == A
    assert again.cached is (fresh > 0)
    assert len(source.asked) == (1 if fresh else 2)
