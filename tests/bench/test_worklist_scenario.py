"""The work-list scenario's checker and its search arithmetic (bench/worklist.py).

The checker must pass the answer the clinic calls for and catch one that lost an alert,
shows another triage or lists a patient outside the package; the search count must hold a
read to ``ceil(N / batch) + next pages`` per search and to asking each patient once.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from bench.clinic import clinic_cprs, expected, package_cprs
from bench.worklist import _searches, check_worklist, expected_searches, worklist_goals


def _right_answer(first: int) -> dict[str, Any]:
    entries = []
    for cpr in package_cprs()[:first]:
        want = expected(cpr)
        assert want is not None
        triage = {"level": want.triage} if want.triage else None
        alerts = [{"kind": k, "priority": "HIGH", "since": "2026-01-01", "text": "…"}
                  for k in want.alerts]  # fmt: skip
        package = {"id": f"COPD-{cpr}", "kind": "COPD", "triage": triage, "alerts": alerts}
        entries.append({"cpr": cpr, "name": "Anna Hansen", "restricted": False, "package": package})
    sources = [{"name": n, "ok": True} for n in ("diagnoses", "consent", "listing")]
    page = {"total": 150, "endCursor": "x", "hasNextPage": first < 150, "sources": sources,
            "entries": entries}  # fmt: skip
    return {"data": {"worklist": page}}


def test_the_right_first_page_and_whole_list_pass() -> None:
    assert check_worklist(_right_answer(50), 50) is None
    assert check_worklist(_right_answer(200), 200) is None


def _entry(body: dict[str, Any], i: int) -> dict[str, Any]:
    entry: dict[str, Any] = body["data"]["worklist"]["entries"][i]
    return entry


def _with_alert(kind: str) -> int:
    return next(i for i, c in enumerate(package_cprs()[:50]) if kind in expected(c).alerts)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("spoil", "problem"),
    [
        pytest.param(
            lambda b: _entry(b, _with_alert("NO_SHOW"))["package"]["alerts"].pop(0),
            "entry: triage",
            id="an-alert-lost",
        ),
        pytest.param(
            lambda b: _entry(b, 0)["package"].update(triage={"level": "GREEN"}),
            "entry: triage",
            id="another-triage",
        ),
        pytest.param(
            lambda b: _entry(b, 1).update(cpr=clinic_cprs()[1]),
            "an entry not in COPD",
            id="a-patient-outside-the-package",
        ),
        pytest.param(
            lambda b: b["data"]["worklist"]["sources"][0].update(ok=False),
            "sources failed",
            id="a-source-failed",
        ),
        pytest.param(
            lambda b: b["data"]["worklist"].update(total=149), "total 149", id="a-wrong-total"
        ),
        pytest.param(
            lambda b: b["data"]["worklist"]["entries"].pop(), "49 entries", id="a-short-page"
        ),
        pytest.param(
            lambda b: _entry(b, 2).update(cpr=_entry(b, 3)["cpr"], package=_entry(b, 3)["package"]),
            "an entry twice",
            id="an-entry-twice",
        ),
    ],
)
def test_a_wrong_answer_is_caught(spoil: Callable[[dict[str, Any]], object], problem: str) -> None:
    body = copy.deepcopy(_right_answer(50))
    spoil(body)
    found = check_worklist(body, 50)
    assert found is not None and found.startswith(problem)


def _stats(paths: dict[str, int], patients: dict[str, int], next_pages: dict[str, int]) -> Any:
    return {"paths": paths, "patients": patients, "next_pages": next_pages,
            "most_patients": dict.fromkeys(paths, 50)}  # fmt: skip


def _batched() -> Any:
    """One read as the gateway should make it: 40 searches for 2,000, 3 for 150 (each)."""
    wanted = expected_searches()
    paths = {p: (2 if n == 0 else -(-n // 50)) for p, n in wanted.items()}
    nexts = {p: (1 if n == 0 else 0) for p, n in wanted.items()}
    return _stats(paths, dict(wanted), nexts)


def test_a_batched_read_meets_every_search_limit_and_the_ratio() -> None:
    found = _searches(_batched())
    assert all(row["met"] for row in found["paths"].values())
    assert found["total"] == 2 + 40 + 6 * 3
    assert found["naive_full_plans"] == 22_000 and found["ratio"] == round(22_000 / 60, 1)


@pytest.mark.parametrize(
    ("path", "change", "met"),
    [
        pytest.param(
            "/diagnoses/Condition", {"paths": 41}, False, id="one-search-over-ceil-n-by-batch"
        ),
        pytest.param("/careplan/Goal", {"patients": 300}, False, id="a-patient-asked-twice"),
        pytest.param(
            "/journal/DocumentReference",
            {"paths": 1, "patients": 150},
            False,
            id="an-unselected-source-asked",
        ),
        pytest.param(
            "/observations/Observation",
            {"paths": 4, "next_pages": 1},
            True,
            id="a-next-page-raises-the-limit",
        ),
    ],
)
def test_search_limits(path: str, change: dict[str, int], met: bool) -> None:
    stats = _batched()
    for key, value in change.items():
        stats[key][path] = value
    row = _searches(stats)["paths"][path]
    assert row["met"] is met


def test_the_goals_say_met_or_missed() -> None:
    timed = {"reads": 40, "p50_ms": 250.0, "p90_ms": 280.0, "gw_cpu_ms": 120.0, "wrong": 0,
             "problems": []}  # fmt: skip
    res = {"worklist": {"cold": timed, "warm": {**timed, "p50_ms": 75.0, "searches": 0},
                        "searches": _searches(_batched()), "whole_list": None,
                        "first_page_is_head": True, "memory_fresh": None}}  # fmt: skip
    met = {g["goal"].split(":")[0]: g["met"] for g in worklist_goals(res)}
    assert met["(w) cold work list, first 50, 1 client"] is True
    assert met["(w) warm work list, first 50, 1 client"] is False
    assert met["(w) work list answers right"] is True
