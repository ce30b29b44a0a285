"""The ``observations`` source: Observation → MeasurementRecord (contract §1, v2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.observations import SOURCE, parse_observation
from core.records import MeasurementOrigin, MeasurementRecord
from tests.connectors.conftest import (
    CPR_A,
    CPR_B,
    HOST,
    Fetch,
    coding,
    patient_ref,
    restricted_label,
)

CET = timezone(timedelta(hours=1))
LOINC = "http://loinc.org"
NPU = "urn:oid:1.2.208.176.2.1"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ORIGIN = "urn:minplan:origin"
SEARCH = f"{HOST}/observations/Observation"

Resource = dict[str, Any]


def observation(
    rid: str = "obs-hba1c",
    cpr: str = CPR_A,
    *,
    status: str = "final",
    categories: Sequence[Resource] = (coding(CATEGORY, "laboratory"),),
    focus: Sequence[str] = ("cond-dm2",),
    **fields: Any,
) -> Resource:
    """An HbA1c lab result (NPU03835) of 58 mmol/mol, for the type 2 diabetes Condition."""
    body: Resource = {
        "resourceType": "Observation",
        "id": rid,
        "subject": patient_ref(cpr),
        "status": status,
        "category": [{"coding": [c]} for c in categories],
        "code": {
            "coding": [coding(NPU, "NPU03835", "Hb(B)—Hæmoglobin A1c(IFCC); stofk.")],
            "text": "HbA1c",
        },
        "valueQuantity": {"value": 58, "unit": "mmol/mol"},
        "effectiveDateTime": "2027-01-12T08:10:00+01:00",
        "performer": [{"display": "Klinisk Biokemisk Afdeling, AUH"}],
        "focus": [{"reference": f"Condition/{ref}"} for ref in focus],
    }
    return body | fields


def test_observation_maps_every_field() -> None:
    resource = observation(meta={"security": [restricted_label()]})
    assert parse_observation(SOURCE, resource) == MeasurementRecord(
        source="observations",
        source_id="obs-hba1c",
        patient=CPR_A,
        condition_refs=("cond-dm2",),
        withheld=True,
        system=NPU,
        code="NPU03835",
        display="HbA1c",
        value=58.0,
        unit="mmol/mol",
        at=datetime(2027, 1, 12, 8, 10, tzinfo=CET),
        origin=MeasurementOrigin.LAB,
        performer="Klinisk Biokemisk Afdeling, AUH",
    )


@pytest.mark.parametrize(
    ("categories", "origin"),
    [
        pytest.param([coding(CATEGORY, "laboratory")], MeasurementOrigin.LAB,
                     id="laboratory-is-LAB"),
        pytest.param([coding(ORIGIN, "home")], MeasurementOrigin.HOME, id="origin-home-is-HOME"),
        pytest.param([coding(CATEGORY, "laboratory"), coding(ORIGIN, "home")],
                     MeasurementOrigin.HOME, id="home-origin-wins-over-laboratory"),
        pytest.param([coding(ORIGIN, "home"), coding(CATEGORY, "laboratory")],
                     MeasurementOrigin.HOME, id="home-origin-wins-in-any-order"),
        pytest.param([coding(CATEGORY, "vital-signs")], MeasurementOrigin.CLINIC,
                     id="vital-signs-is-CLINIC"),
        pytest.param([coding(CATEGORY, "home")], MeasurementOrigin.CLINIC,
                     id="home-needs-the-origin-system"),
        pytest.param([coding(ORIGIN, "laboratory")], MeasurementOrigin.LAB,
                     id="laboratory-in-any-system-is-LAB"),
        pytest.param([], MeasurementOrigin.CLINIC, id="no-category-is-CLINIC"),
    ],
)  # fmt: skip
def test_origin(categories: list[Resource], origin: MeasurementOrigin) -> None:
    record = parse_observation(SOURCE, observation(categories=categories))
    assert record is not None and record.origin is origin


@pytest.mark.parametrize(
    "status",
    [
        pytest.param("final", id="status-final-counts"),
        pytest.param("amended", id="status-amended-counts"),
        pytest.param("corrected", id="status-corrected-counts"),
    ],
)
def test_counted_statuses(status: str) -> None:
    assert parse_observation(SOURCE, observation(status=status)) is not None


@pytest.mark.parametrize(
    "status",
    [
        pytest.param("preliminary", id="status-preliminary-left-out"),
        pytest.param("registered", id="status-registered-left-out"),
        pytest.param("cancelled", id="status-cancelled-left-out"),
        pytest.param("entered-in-error", id="entered-in-error-dropped"),
        pytest.param("unknown", id="status-unknown-left-out"),
    ],
)
def test_other_statuses_are_left_out_not_unreadable(status: str) -> None:
    assert parse_observation(SOURCE, observation(status=status)) is None


def test_code_and_value_come_from_the_first_coding_and_value_quantity() -> None:
    code = {
        "coding": [coding(LOINC, "20150-9", "FEV1"), coding(NPU, "NPU12345")],
    }
    resource = observation(code=code, valueQuantity={"value": 1.62, "unit": "L"}, focus=())
    record = parse_observation(SOURCE, resource)
    assert record is not None
    assert (record.system, record.code, record.display) == (LOINC, "20150-9", "FEV1")
    assert (record.value, record.unit, record.condition_refs) == (1.62, "L", ())


def test_without_value_quantity_the_value_is_unknown() -> None:
    resource = observation()
    del resource["valueQuantity"]
    record = parse_observation(SOURCE, resource)
    assert record is not None and (record.value, record.unit) == (None, None)


def test_a_day_alone_is_read_as_that_day() -> None:
    record = parse_observation(SOURCE, observation(effectiveDateTime="2027-01-12"))
    assert record is not None and record.at == datetime(2027, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        pytest.param({"status": "bogus"}, "status", id="unknown-status-unreadable"),
        pytest.param({"status": None}, "status", id="no-status-unreadable"),
        pytest.param({"code": {"text": "HbA1c"}}, "code", id="no-coding-unreadable"),
        pytest.param({"code": {"coding": [{"code": "NPU03835"}]}}, "code",
                     id="coding-without-system-unreadable"),
        pytest.param({"effectiveDateTime": None}, "effectiveDateTime",
                     id="no-time-unreadable"),
        pytest.param({"effectiveDateTime": "2027-01"}, "effectiveDateTime",
                     id="partial-time-unreadable"),
    ],
)  # fmt: skip
def test_unreadable(change: Resource, match: str) -> None:
    resource = observation()
    for key, value in change.items():
        if value is None:
            del resource[key]
        else:
            resource[key] = value
    with pytest.raises(ValidationError, match=match):
        parse_observation(SOURCE, resource)


async def test_fetch_leaves_out_the_uncounted_and_skips_the_unreadable(fetch: Fetch) -> None:
    no_time = observation("obs-notime")
    del no_time["effectiveDateTime"]
    resources = [
        observation("obs-1", CPR_A),
        observation("obs-prelim", CPR_A, status="preliminary"),
        observation("obs-error", CPR_A, status="entered-in-error"),
        no_time,
        observation("obs-bogus", CPR_B, status="bogus"),
        {"resourceType": "Condition", "id": "wrong-type"},
        observation("obs-2", CPR_B, categories=[coding(ORIGIN, "home")]),
    ]
    fetched = await fetch("observations", "Observation", resources, cprs=[CPR_A, CPR_B])
    assert fetched.skipped == 3
    found = {
        cpr: [(r.source_id, r.origin) for r in rs if isinstance(r, MeasurementRecord)]
        for cpr, rs in fetched.by_patient.items()
    }
    assert found == {
        CPR_A: [("obs-1", MeasurementOrigin.LAB)],
        CPR_B: [("obs-2", MeasurementOrigin.HOME)],
    }
