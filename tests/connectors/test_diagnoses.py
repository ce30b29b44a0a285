"""The ``diagnoses`` source: Condition → DiagnosisRecord, unreadable ones skipped and counted."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from pydantic import ValidationError

from connectors.diagnoses import SOURCE, parse_condition
from core.codes import ICD10_SYSTEM
from core.records import DiagnosisRecord
from tests.connectors.conftest import (
    CPR_A,
    CPR_B,
    CPR_OTHER,
    Factory,
    Fetch,
    coding,
    icd10,
    restricted_label,
    sks,
)


def test_condition_maps_every_field(make_condition: Factory) -> None:
    record = parse_condition(SOURCE, make_condition("cond-kol", CPR_A))
    assert record == DiagnosisRecord(
        source="diagnoses",
        source_id="cond-kol",
        patient=CPR_A,
        codes=("J44.9",),
        code="J44.9",
        display="Kronisk obstruktiv lungesygdom (KOL)",
        onset=date(2026, 3, 2),
        recorded_by="Lægerne Søndergade, Aarhus",
        active=True,
        withheld=False,
    )


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        pytest.param([sks("DJ449")], ("J44.9",), id="sks-DJ449-is-J44.9"),
        pytest.param([sks("DM545")], ("M54.5",), id="sks-DM545-is-M54.5"),
        pytest.param([icd10("E11.9"), sks("DE119")], ("E11.9",), id="icd10-and-sks-once"),
        pytest.param(
            [coding("http://snomed.info/sct", "13645005"), sks("DI251")],
            ("I25.1",),
            id="snomed-coding-ignored",
        ),
    ],
)
def test_condition_code_is_icd10(
    make_condition: Factory, codes: list[dict[str, str]], expected: tuple[str, ...]
) -> None:
    record = parse_condition(SOURCE, make_condition(codes=codes))
    assert (record.code, record.codes) == (expected[0], expected)


@pytest.mark.parametrize(
    ("status", "active"),
    [
        pytest.param("active", True, id="active-counts"),
        pytest.param("resolved", False, id="resolved-does-not-count"),
        pytest.param("inactive", False, id="inactive-does-not-count"),
        pytest.param("remission", False, id="remission-does-not-count"),
    ],
)
def test_only_active_conditions_are_active(
    make_condition: Factory, status: str, active: bool
) -> None:
    assert parse_condition(SOURCE, make_condition(status=status)).active is active


def test_condition_without_clinical_status_is_not_active(make_condition: Factory) -> None:
    resource = make_condition()
    del resource["clinicalStatus"]
    assert parse_condition(SOURCE, resource).active is False


@pytest.mark.parametrize(
    ("onset", "expected"),
    [
        pytest.param("2026-03-02T23:30:00+01:00", date(2026, 3, 2), id="local-date-of-a-time"),
        pytest.param("2026-03-02", date(2026, 3, 2), id="date-only"),
        pytest.param("2026-03", None, id="year-and-month-only"),
        pytest.param("2026", None, id="year-only"),
    ],
)
def test_onset_is_the_date(make_condition: Factory, onset: str, expected: date | None) -> None:
    assert parse_condition(SOURCE, make_condition(onsetDateTime=onset)).onset == expected


def test_optional_fields_may_be_missing(make_condition: Factory) -> None:
    resource = make_condition(codes=[coding(ICD10_SYSTEM, "M54.5", "Lænderygsmerter")])
    for key in ("onsetDateTime", "recorder"):
        del resource[key]
    del resource["code"]["text"]
    record = parse_condition(SOURCE, resource)
    assert (record.display, record.onset, record.recorded_by) == ("Lænderygsmerter", None, None)


def test_security_label_r_withholds_the_condition(make_condition: Factory) -> None:
    record = parse_condition(SOURCE, make_condition(meta={"security": [restricted_label()]}))
    assert record.withheld is True


def test_patient_is_read_from_the_subject_identifier(make_condition: Factory) -> None:
    assert parse_condition(SOURCE, make_condition(cpr=CPR_B)).patient == CPR_B


def test_condition_with_only_other_codings_is_unreadable(make_condition: Factory) -> None:
    resource = make_condition(codes=[coding("http://snomed.info/sct", "13645005")])
    with pytest.raises(ValueError, match="no ICD-10 or SKS"):
        parse_condition(SOURCE, resource)


def test_condition_without_id_is_unreadable(make_condition: Factory) -> None:
    resource = make_condition()
    del resource["id"]
    with pytest.raises(ValidationError):
        parse_condition(SOURCE, resource)


async def test_fetch_skips_and_counts_the_unreadable(
    fetch: Fetch, make_condition: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    no_id = make_condition("cond-noid")
    del no_id["id"]
    no_code = make_condition("cond-nocode")
    del no_code["code"]
    no_diagnosis_code = make_condition("cond-snomed", codes=[coding("http://snomed.info/sct", "1")])
    no_patient = make_condition("cond-nopatient")
    del no_patient["subject"]
    wrong_type = make_condition("obs-1") | {"resourceType": "Observation"}
    blank_id = make_condition(" ")
    resources = [
        make_condition("cond-kol", CPR_A),
        no_id,
        no_code,
        no_diagnosis_code,
        make_condition("cond-lrs", CPR_B, codes=[sks("DM545")]),
        no_patient,
        wrong_type,
        blank_id,
    ]
    with caplog.at_level(logging.WARNING):
        fetched = await fetch("diagnoses", "Condition", resources, cprs=[CPR_A, CPR_B])
    assert fetched.skipped == 6
    assert {cpr: [r.source_id for r in rs] for cpr, rs in fetched.by_patient.items()} == {
        CPR_A: ["cond-kol"],
        CPR_B: ["cond-lrs"],
    }
    assert "cond-nocode" in caplog.text
    assert "diagnoses" in caplog.text
    assert CPR_A not in caplog.text


async def test_fetch_groups_records_by_patient(fetch: Fetch, make_condition: Factory) -> None:
    resources = [
        make_condition("cond-a1", CPR_A),
        make_condition("cond-b1", CPR_B, codes=[icd10("E11.9")]),
        make_condition("cond-a2", CPR_A, codes=[icd10("M54.5")]),
    ]
    fetched = await fetch("diagnoses", "Condition", resources, cprs=[CPR_A, CPR_B, CPR_OTHER])
    assert {cpr: [r.source_id for r in rs] for cpr, rs in fetched.by_patient.items()} == {
        CPR_A: ["cond-a1", "cond-a2"],
        CPR_B: ["cond-b1"],
        CPR_OTHER: [],
    }
    assert all(isinstance(r, DiagnosisRecord) for r in fetched.by_patient[CPR_A])


async def test_fetch_hands_out_no_patient_that_was_not_asked_for(
    fetch: Fetch, make_condition: Factory
) -> None:
    resources = [make_condition("cond-a", CPR_A), make_condition("cond-other", CPR_OTHER)]
    fetched = await fetch("diagnoses", "Condition", resources, cprs=[CPR_A])
    assert list(fetched.by_patient) == [CPR_A]
    assert [r.source_id for r in fetched.by_patient[CPR_A]] == ["cond-a"]
