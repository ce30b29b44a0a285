"""The ``medication`` source: MedicationStatement → MedicationRecord (contract §1, v2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.medication import (
    ATC_SYSTEM,
    SOURCE,
    parse_medication_statement,
)
from core.records import MedicationRecord
from tests.connectors.conftest import (
    CPR_A,
    CPR_B,
    HOST,
    Fetch,
    coding,
    icd10,
    patient_ref,
    restricted_label,
    sks,
)

SEARCH = f"{HOST}/medication/MedicationStatement"

Resource = dict[str, Any]


def statement(
    rid: str = "med-spiolto",
    cpr: str = CPR_A,
    *,
    status: str = "active",
    codes: Sequence[Resource] = (icd10("J44.9"),),
    refs: Sequence[str] = (),
    **fields: Any,
) -> Resource:
    """Tiotropium/olodaterol (R03AL06) for COPD, prescribed by the GP."""
    body: Resource = {
        "resourceType": "MedicationStatement",
        "id": rid,
        "subject": patient_ref(cpr),
        "status": status,
        "medicationCodeableConcept": {
            "coding": [coding(ATC_SYSTEM, "R03AL06", "olodaterol og tiotropiumbromid")],
            "text": "Spiolto Respimat 2,5/2,5 mikrog/dosis",
        },
        "effectivePeriod": {"start": "2026-06-01", "end": "2027-05-31T23:30:00Z"},
        "dosage": [{"text": "2 pust 1 gang dagligt"}],
        "informationSource": {"display": "Lægerne Søndergade, Aarhus"},
        "reasonCode": [{"coding": list(codes)}] if codes else [],
        "reasonReference": [{"reference": f"Condition/{ref}"} for ref in refs],
    }
    return body | fields


def test_statement_maps_every_field() -> None:
    resource = statement(refs=["cond-kol"], meta={"security": [restricted_label()]})
    assert parse_medication_statement(SOURCE, resource) == MedicationRecord(
        source="medication",
        source_id="med-spiolto",
        patient=CPR_A,
        codes=("J44.9",),
        condition_refs=("cond-kol",),
        withheld=True,
        name="Spiolto Respimat 2,5/2,5 mikrog/dosis",
        atc="R03AL06",
        status="active",
        start=date(2026, 6, 1),
        end=date(2027, 6, 1),  # 23:30 UTC is past midnight in Copenhagen
        dosage="2 pust 1 gang dagligt",
        prescriber="Lægerne Søndergade, Aarhus",
    )


@pytest.mark.parametrize(
    "status",
    [
        pytest.param(s, id=f"status-{s}-kept-as-is")
        for s in ("active", "completed", "stopped", "on-hold", "intended", "not-taken", "unknown")
    ],
)
def test_status_is_kept_as_is(status: str) -> None:
    record = parse_medication_statement(SOURCE, statement(status=status))
    assert record is not None and record.status == status


@pytest.mark.parametrize(
    "status", [pytest.param("entered-in-error", id="entered-in-error-dropped")]
)
def test_entered_in_error_is_dropped(status: str) -> None:
    assert parse_medication_statement(SOURCE, statement(status=status)) is None


@pytest.mark.parametrize(
    ("codings", "atc"),
    [
        pytest.param([coding("urn:oid:1.2.208.176.2.3", "28100636"),
                      coding(ATC_SYSTEM, "R03BB04", "tiotropiumbromid")],
                     "R03BB04", id="atc-from-the-whocc-system-in-any-place"),
        pytest.param([coding("urn:oid:1.2.208.176.2.3", "R03BB04")], None,
                     id="atc-needs-the-whocc-system"),
        pytest.param([], None, id="no-coding-no-atc"),
    ],
)  # fmt: skip
def test_atc(codings: list[Resource], atc: str | None) -> None:
    concept = {"coding": codings, "text": "Spiriva"}
    record = parse_medication_statement(SOURCE, statement(medicationCodeableConcept=concept))
    assert record is not None and record.atc == atc


def test_name_falls_back_to_a_coding_display() -> None:
    concept = {"coding": [coding(ATC_SYSTEM, "N02BE01", "paracetamol")]}
    record = parse_medication_statement(SOURCE, statement(medicationCodeableConcept=concept))
    assert record is not None and record.name == "paracetamol"


@pytest.mark.parametrize(
    ("codes", "refs", "expected"),
    [
        pytest.param([sks("DJ449")], [], (("J44.9",), ()), id="package-by-reason-code-sks"),
        pytest.param([], ["cond-kol"], ((), ("cond-kol",)), id="package-by-reason-reference"),
        pytest.param([coding("urn:other", "x")], [], ((), ()), id="no-package-unassigned"),
    ],
)
def test_package_links(
    codes: list[Resource], refs: list[str], expected: tuple[tuple[str, ...], tuple[str, ...]]
) -> None:
    record = parse_medication_statement(SOURCE, statement(codes=codes, refs=refs))
    assert record is not None and (record.codes, record.condition_refs) == expected


def test_optional_fields_may_be_missing() -> None:
    resource = statement(effectivePeriod={"start": "2026"})
    for key in ("dosage", "informationSource"):
        del resource[key]
    record = parse_medication_statement(SOURCE, resource)
    assert record is not None
    assert (record.start, record.end, record.dosage, record.prescriber) == (None,) * 4


@pytest.mark.parametrize(
    ("change", "match"),
    [
        pytest.param({"status": "bogus"}, "status", id="unknown-status-unreadable"),
        pytest.param({"medicationCodeableConcept": None}, "medicationCodeableConcept",
                     id="medication-reference-only-unreadable"),
        pytest.param({"medicationCodeableConcept": {"coding": [coding(ATC_SYSTEM, "N02BE01")]}},
                     "medicationCodeableConcept", id="no-name-unreadable"),
        pytest.param({"effectivePeriod": {"start": "snart"}}, "effectivePeriod",
                     id="bad-start-unreadable"),
    ],
)  # fmt: skip
def test_unreadable(change: Resource, match: str) -> None:
    resource = statement()
    for key, value in change.items():
        if value is None:
            del resource[key]
        else:
            resource[key] = value
    with pytest.raises(ValidationError, match=match):
        parse_medication_statement(SOURCE, resource)


async def test_fetch_drops_entered_in_error_and_skips_the_unreadable(fetch: Fetch) -> None:
    resources = [
        statement("med-1", CPR_A),
        statement("med-error", CPR_A, status="entered-in-error"),
        statement("med-bogus", CPR_A, status="bogus"),
        "junk",
        statement("med-2", CPR_B, status="stopped"),
    ]
    fetched = await fetch("medication", "MedicationStatement", resources, cprs=[CPR_A, CPR_B])
    assert fetched.skipped == 2
    found = {
        cpr: [(r.source_id, r.status) for r in rs if isinstance(r, MedicationRecord)]
        for cpr, rs in fetched.by_patient.items()
    }
    assert found == {CPR_A: [("med-1", "active")], CPR_B: [("med-2", "stopped")]}
