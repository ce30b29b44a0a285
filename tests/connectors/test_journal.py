"""The ``journal`` source: DocumentReference → JournalNoteRecord, text decoded, labels read."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from connectors.journal import SOURCE, parse_document_reference
from core.codes import CONFIDENTIALITY_SYSTEM, SOR_SYSTEM
from core.records import JournalNoteRecord
from tests.connectors.conftest import (
    CPR_A,
    CPR_B,
    ORG_GP,
    ORG_HOSPITAL,
    Factory,
    Fetch,
    coding,
    icd10,
    restricted_label,
    sks,
)

CET = timezone(timedelta(hours=1))
DANISH = "Blodsukker målt; dosis øget. Ærteskuds-dyspnø? Nej. Næste kontrol i maj."


def test_note_maps_every_field(make_note: Factory) -> None:
    resource = make_note(
        "note-kontrol", CPR_A, text=DANISH, codes=[sks("DE119")], refs=["cond-dm2"]
    )
    assert parse_document_reference(SOURCE, resource) == JournalNoteRecord(
        source="journal",
        source_id="note-kontrol",
        patient=CPR_A,
        codes=("E11.9",),
        condition_refs=("cond-dm2",),
        withheld=False,
        custodian=ORG_GP,
        date=datetime(2027, 1, 20, 14, 20, tzinfo=CET),
        title="Konsultation, KOL",
        author="Lægerne Søndergade, Aarhus",
        text=DANISH,
    )


def test_text_is_utf8_with_danish_letters(make_note: Factory) -> None:
    note = parse_document_reference(SOURCE, make_note(text="Æble, øre og ål: ÆØÅ æøå."))
    assert note.text == "Æble, øre og ål: ÆØÅ æøå."


@pytest.mark.parametrize(
    "where",
    [
        pytest.param({"securityLabel": [{"coding": [restricted_label()]}]}, id="securityLabel-R"),
        pytest.param({"meta": {"security": [restricted_label()]}}, id="meta-security-R"),
        pytest.param(
            {
                "securityLabel": [
                    {"coding": [coding(CONFIDENTIALITY_SYSTEM, "N"), restricted_label()]}
                ]
            },
            id="R-among-other-labels",
        ),
    ],
)
def test_restricted_label_withholds_the_note(make_note: Factory, where: dict[str, object]) -> None:
    note = parse_document_reference(SOURCE, make_note(custodian=ORG_HOSPITAL, **where))
    assert (note.withheld, note.custodian) == (True, ORG_HOSPITAL)


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param([{"coding": [coding(CONFIDENTIALITY_SYSTEM, "N")]}], id="normal-N"),
        pytest.param([{"coding": [coding(CONFIDENTIALITY_SYSTEM, "V")]}], id="very-restricted-V"),
        pytest.param([{"coding": [coding("urn:other", "R")]}], id="R-in-another-system"),
        pytest.param([], id="no-labels"),
    ],
)
def test_other_labels_do_not_withhold(make_note: Factory, labels: list[object]) -> None:
    assert parse_document_reference(SOURCE, make_note(securityLabel=labels)).withheld is False


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        pytest.param(SOR_SYSTEM, ORG_HOSPITAL, id="sor-code-read"),
        pytest.param("urn:other", None, id="other-system-ignored"),
    ],
)
def test_custodian_is_read_only_from_a_sor_identifier(
    make_note: Factory, system: str, expected: str | None
) -> None:
    resource = make_note()
    resource["custodian"] = {"identifier": {"system": system, "value": ORG_HOSPITAL}}
    assert parse_document_reference(SOURCE, resource).custodian == expected


def test_context_links_codes_and_conditions(make_note: Factory) -> None:
    resource = make_note(
        codes=[icd10("J44.9"), coding("http://snomed.info/sct", "13645005")],
        refs=["cond-kol", "cond-lrs"],
    )
    resource["context"]["related"].append({"reference": "Encounter/enc-1"})
    note = parse_document_reference(SOURCE, resource)
    assert (note.codes, note.condition_refs) == (("J44.9",), ("cond-kol", "cond-lrs"))


def test_a_note_without_context_belongs_nowhere(make_note: Factory) -> None:
    resource = make_note()
    del resource["context"]
    note = parse_document_reference(SOURCE, resource)
    assert (note.codes, note.condition_refs) == ((), ())


def test_title_author_and_custodian_may_be_missing(make_note: Factory) -> None:
    resource = make_note()
    for key in ("description", "author", "custodian"):
        del resource[key]
    note = parse_document_reference(SOURCE, resource)
    assert (note.title, note.author, note.custodian) == (None, None, None)


def _spoil(resource: dict[str, object], data: str) -> dict[str, object]:
    resource["content"] = [{"attachment": {"contentType": "text/plain", "data": data}}]
    return resource


@pytest.mark.parametrize(
    "data",
    [
        pytest.param("***ikke base64***", id="not-base64"),
        pytest.param("SGVq!", id="base64-with-junk"),
        pytest.param(base64.b64encode("Ærø".encode("latin-1")).decode(), id="latin-1-not-utf8"),
    ],
)
def test_bad_text_is_unreadable(make_note: Factory, data: str) -> None:
    with pytest.raises(ValidationError, match="base64"):
        parse_document_reference(SOURCE, _spoil(make_note(), data))


async def test_fetch_skips_the_unreadable_notes(fetch: Fetch, make_note: Factory) -> None:
    no_date = make_note("note-nodate")
    del no_date["date"]
    no_content = make_note("note-nocontent", content=[])
    no_patient = make_note("note-nopatient")
    del no_patient["subject"]
    resources = [
        make_note("note-1", CPR_A),
        _spoil(make_note("note-badbase64", CPR_A), "***ikke base64***"),
        no_date,
        no_content,
        make_note("note-2", CPR_B, securityLabel=[{"coding": [restricted_label()]}]),
        no_patient,
        make_note("note-wrongtype") | {"resourceType": "Composition"},
    ]
    fetched = await fetch("journal", "DocumentReference", resources, cprs=[CPR_A, CPR_B])
    assert fetched.skipped == 5
    notes = {cpr: [(r.source_id, r.withheld) for r in rs] for cpr, rs in fetched.by_patient.items()}
    assert notes == {CPR_A: [("note-1", False)], CPR_B: [("note-2", True)]}
