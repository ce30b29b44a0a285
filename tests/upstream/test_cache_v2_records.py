"""The source cache holds the records of contract version 2 as JSON and gives them back whole."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from core.records import (
    CourseRecord,
    GoalRecord,
    MeasurementOrigin,
    MeasurementRecord,
    MedicationRecord,
    Record,
)
from upstream.cache import CacheEntry, RecordSerializer, SourceCache

CPR = "0304661234"
CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))

COURSE = CourseRecord(
    source="careplan",
    source_id="cp-henrik-dm2",
    patient=CPR,
    codes=("E11.9",),
    condition_refs=("cond-henrik-dm2",),
    withheld=True,
    status="active",
    started_at=date(2026, 1, 19),
    plan_created_at=datetime(2026, 1, 19, 10, 30, tzinfo=CET),
    coordinator_sor="380101000016003",
    coordinator_name="Lægerne Søndergade, Aarhus",
    last_review_at=date(2026, 7, 6),
    next_review_due=date(2027, 1, 25),
)
COURSE_EMPTY = CourseRecord(
    source="careplan",
    source_id="cp-draft",
    patient=CPR,
    status="draft",
    started_at=None,
    plan_created_at=None,
    coordinator_sor=None,
    coordinator_name=None,
    last_review_at=None,
    next_review_due=None,
)
MEASUREMENTS = (
    MeasurementRecord(
        source="observations",
        source_id="obs-henrik-hba1c",
        patient=CPR,
        condition_refs=("cond-henrik-dm2",),
        system="urn:oid:1.2.208.176.2.1",
        code="NPU03835",
        display="HbA1c",
        value=58.0,
        unit="mmol/mol",
        at=datetime(2026, 12, 15, 8, 10, tzinfo=CET),
        origin=MeasurementOrigin.LAB,
        performer="Klinisk Biokemisk Afdeling, AUH",
    ),
    MeasurementRecord(
        source="observations",
        source_id="obs-henrik-bp",
        patient=CPR,
        system="http://loinc.org",
        code="8480-6",
        display=None,
        value=None,
        unit=None,
        at=datetime(2026, 8, 3, 7, 0, tzinfo=CEST),
        origin=MeasurementOrigin.HOME,
        performer=None,
    ),
)
MEDICATION = MedicationRecord(
    source="medication",
    source_id="med-henrik-metformin",
    patient=CPR,
    codes=("E11.9",),
    name="Metformin 500 mg tabletter",
    atc="A10BA02",
    status="active",
    start=date(2025, 2, 1),
    end=None,
    dosage="1 tablet 2 gange dagligt",
    prescriber="Lægerne Søndergade, Aarhus",
)
GOAL = GoalRecord(
    source="careplan",
    source_id="goal-henrik-ldl",
    patient=CPR,
    condition_refs=("cond-henrik-ihd",),
    description="LDL-kolesterol i mål",
    target="≤ 1.8 mmol/L",
    due=date(2027, 6, 30),
    status="active",
    measures=(("http://loinc.org", "13457-7"), ("urn:oid:1.2.208.176.2.1", "NPU01568")),
    target_high=1.8,
    target_unit="mmol/L",
)


@pytest.mark.parametrize(
    "found",
    [
        pytest.param((COURSE, COURSE_EMPTY), id="courses"),
        pytest.param(MEASUREMENTS, id="measurements"),
        pytest.param((MEDICATION,), id="medication"),
        pytest.param((GOAL,), id="goal-with-structured-target"),
    ],
)
def test_serializer_round_trip_without_the_cpr(found: tuple[Record, ...]) -> None:
    serializer = RecordSerializer()
    stored = serializer.dumps(CacheEntry(fetched_at=1234.5, records=found))
    assert CPR.encode() not in stored
    entry = serializer.loads(stored)
    assert entry is not None and entry.fetched_at == 1234.5
    # The cache leaves the patient out; SourceCache puts back the CPR it was asked for.
    assert entry.records == tuple(replace(r, patient="") for r in found)
    assert [type(r) for r in entry.records] == [type(r) for r in found]


async def test_memory_cache_gives_the_new_records_back_whole() -> None:
    cache = SourceCache("memory://", max_age=60)
    searches = {
        ("careplan", "CarePlan"): (COURSE, COURSE_EMPTY),
        ("observations", "Observation"): MEASUREMENTS,
        ("medication", "MedicationStatement"): (MEDICATION,),
        ("careplan", "Goal"): (GOAL,),
    }
    try:
        for search, found in searches.items():
            await cache.put_many(search, [("ref-henrik", CacheEntry(1.0, found))])
        await cache.flush()
        assert not [v for v in cache.stored() if CPR.encode() in v]
        for search, found in searches.items():
            (entry,) = await cache.get_many(search, [(CPR, "ref-henrik")])
            assert entry is not None and entry.records == found
    finally:
        await cache.close()
