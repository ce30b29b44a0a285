"""Fresh results kept decoded (upstream/recent.py): served only while the cache would serve
them fresh, never failed or stale ones, nothing at a fresh TTL of 0."""

from __future__ import annotations

import time

import pytest

from connectors import SearchKey
from core.records import DiagnosisRecord
from upstream.pipeline import SourceResult
from upstream.recent import RecentResults

KEY: SearchKey = ("diagnoses", "Condition")
CPR = "0101701234"
RECORD = DiagnosisRecord(
    source="diagnoses", source_id="c1", patient=CPR, code="J44.9", display=None, onset=None,
    recorded_by=None, active=True,
)  # fmt: skip


def _result(age: float = 0.0, **fields: object) -> SourceResult:
    values: dict[str, object] = {"ok": True, "latency_ms": 20.0, "fetched_at": time.time() - age}
    return SourceResult((RECORD,), **(values | fields))  # type: ignore[arg-type]


def test_a_kept_result_is_served_as_a_cache_hit_while_fresh() -> None:
    recent = RecentResults()
    recent.keep(KEY, 60, [(CPR, _result())])
    lookup = recent.fresh(KEY, 60)
    assert lookup is not None
    found = lookup(CPR)
    assert found is not None and found.records == (RECORD,)
    assert found.cached and found.latency_ms == 0.0
    assert lookup("0202701234") is None
    assert recent.fresh(("careplan", "Goal"), 60) is not None  # another search: not kept
    assert recent.fresh(("careplan", "Goal"), 60)(CPR) is None  # type: ignore[misc]


def test_a_result_older_than_the_fresh_ttl_is_not_served() -> None:
    recent = RecentResults()
    recent.keep(KEY, 60, [(CPR, _result(age=30))])
    lookup = recent.fresh(KEY, 20)  # the TTL the caller asks with now
    assert lookup is not None and lookup(CPR) is None


@pytest.mark.parametrize(
    "result",
    [
        pytest.param(SourceResult((), ok=False, error="down"), id="failed-never-kept"),
        pytest.param(_result(stale=True), id="stale-never-kept"),
        pytest.param(_result(age=120), id="too-old-never-kept"),
    ],
)
def test_failed_stale_or_old_results_are_never_kept(result: SourceResult) -> None:
    recent = RecentResults()
    recent.keep(KEY, 60, [(CPR, result)])
    assert len(recent) == 0


def test_a_fresh_ttl_of_0_keeps_and_serves_nothing() -> None:
    recent = RecentResults()
    recent.keep(KEY, 0, [(CPR, _result())])
    assert len(recent) == 0
    recent.keep(KEY, 60, [(CPR, _result())])
    assert recent.fresh(KEY, 0) is None


def test_it_is_bounded() -> None:
    recent = RecentResults(max_entries=10)
    recent.keep(KEY, 60, [(f"{n:010d}", _result()) for n in range(25)])
    assert len(recent) == 10
    lookup = recent.fresh(KEY, 60)
    assert lookup is not None
    assert lookup(f"{24:010d}") is not None and lookup(f"{0:010d}") is None, "oldest went first"
