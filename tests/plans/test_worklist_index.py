"""Who of a clinic's list has a diagnosis of each package (plans/worklist_index.py): kept for
one listing, while every answer it came from may be served fresh, and only from fresh, ok
answers."""

from __future__ import annotations

import time

import pytest

from core.records import DiagnosisRecord, ListedPatient
from plans.model import PackageKind
from plans.worklist_index import PackageIndex, package_kinds
from upstream.pipeline import SourceResult

ORG = "380101000016003"
COPD, BACK, NONE = "0101701234", "0202701234", "0303701234"
LISTED = (ListedPatient(COPD, "A"), ListedPatient(BACK, "B"), ListedPatient(NONE, "C"))


def _diagnosis(cpr: str, code: str, *, active: bool = True) -> DiagnosisRecord:
    return DiagnosisRecord(
        source="diagnoses", source_id=f"c-{cpr}-{code}", patient=cpr, code=code, display=None,
        onset=None, recorded_by=None, active=active,
    )  # fmt: skip


def _answers(
    age: float = 0.0, override: dict[str, SourceResult] | None = None
) -> dict[str, SourceResult]:
    at = time.time() - age
    answers = {
        COPD: SourceResult((_diagnosis(COPD, "J44.9"),), ok=True, fetched_at=at),
        BACK: SourceResult(
            (_diagnosis(BACK, "M54.5"), _diagnosis(BACK, "J44.9", active=False)),
            ok=True,
            fetched_at=at,
        ),
        NONE: SourceResult((_diagnosis(NONE, "I10"),), ok=True, fetched_at=at),
    }
    return answers | (override or {})


def test_package_kinds_of_the_active_diagnoses_only() -> None:
    answers = _answers()
    assert package_kinds(answers[COPD]) == frozenset({PackageKind.COPD})
    assert package_kinds(answers[BACK]) == frozenset({PackageKind.LOW_BACK_PAIN})
    assert package_kinds(answers[NONE]) == frozenset()
    assert package_kinds(None) == frozenset()


def test_what_is_remembered_is_found_for_the_same_listing() -> None:
    index = PackageIndex()
    packages = index.remember(ORG, LISTED, _answers(), fresh_for=60)
    kinds = {COPD: {PackageKind.COPD}, BACK: {PackageKind.LOW_BACK_PAIN}}
    assert packages.kinds == kinds
    assert packages.patients(PackageKind.COPD) == (LISTED[0],)
    assert packages.patients(PackageKind.HEART_DISEASE) == ()
    assert index.lookup(ORG, LISTED) is packages
    assert index.lookup(ORG, tuple(LISTED[:1]) + LISTED[1:]) is packages  # fetched again
    assert index.lookup("380101000016999", LISTED) is None  # another clinic


def test_another_listing_is_not_answered() -> None:
    index = PackageIndex()
    index.remember(ORG, LISTED, _answers(), fresh_for=60)
    assert index.lookup(ORG, LISTED[:2]) is None
    assert index.lookup(ORG, (*LISTED, ListedPatient("0404701234", "D"))) is None


def test_it_is_kept_no_longer_than_the_oldest_answer_is_fresh() -> None:
    index = PackageIndex()
    old = SourceResult((_diagnosis(NONE, "I10"),), ok=True, fetched_at=time.time() - 59.5)
    index.remember(ORG, LISTED, _answers(override={NONE: old}), fresh_for=60)
    assert index.lookup(ORG, LISTED) is not None
    time.sleep(0.6)
    assert index.lookup(ORG, LISTED) is None


@pytest.mark.parametrize(
    ("answers", "fresh_for"),
    [
        pytest.param(_answers(), 0.0, id="ttl-0-keeps-nothing"),
        pytest.param(_answers(age=61), 60.0, id="answers-older-than-the-ttl"),
        pytest.param(
            _answers(override={NONE: SourceResult((), ok=False, error="down")}),
            60.0,
            id="a-failed-one",
        ),
        pytest.param(
            _answers(
                override={NONE: SourceResult((), ok=True, stale=True, fetched_at=time.time())}
            ),
            60.0,
            id="a-stale-one",
        ),
        pytest.param({COPD: _answers()[COPD]}, 60.0, id="one-not-asked"),
    ],
)
def test_it_is_not_kept_unless_every_answer_is_fresh_and_ok(
    answers: dict[str, SourceResult], fresh_for: float
) -> None:
    index = PackageIndex()
    index.remember(ORG, LISTED, _answers(), fresh_for=60)
    kinds = index.remember(ORG, LISTED, answers, fresh_for=fresh_for).kinds
    assert kinds.get(COPD) == frozenset({PackageKind.COPD})  # still what this read found
    assert kinds.get(BACK) == frozenset({PackageKind.LOW_BACK_PAIN}) or BACK not in answers
    assert index.lookup(ORG, LISTED) is None  # and the earlier one is dropped
