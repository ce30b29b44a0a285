"""Diagnosis codes: SKS and ICD-10 codings read as one ICD-10 code with a dot."""

from __future__ import annotations

import pytest

from core.codes import (
    CPR_SYSTEM,
    ICD10_SYSTEM,
    SKS_SYSTEM,
    SOR_SYSTEM,
    normalise_code,
    normalise_codes,
)

SNOMED = "http://snomed.info/sct"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param("DJ449", "J44.9", id="DJ449-is-COPD-J44.9"),
        pytest.param("DM545", "M54.5", id="DM545-is-low-back-pain-M54.5"),
        pytest.param("DE119", "E11.9", id="DE119-is-type2-diabetes-E11.9"),
        pytest.param("DI251", "I25.1", id="DI251-is-heart-disease-I25.1"),
        pytest.param("dj449", "J44.9", id="lower-case"),
        pytest.param("DJ44.9", "J44.9", id="dot-already"),
        pytest.param(" DJ449 ", "J44.9", id="surrounding-space"),
        pytest.param("DJ44", "J44", id="three-character-category"),
        pytest.param("DE1190", "E11.90", id="five-character-subcode"),
    ],
)
def test_sks_diagnosis_codes_read_as_icd10(code: str, expected: str) -> None:
    assert normalise_code(SKS_SYSTEM, code) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param("J44.9", "J44.9", id="with-dot"),
        pytest.param("J449", "J44.9", id="without-dot"),
        pytest.param("m54.5", "M54.5", id="lower-case"),
        pytest.param("I10", "I10", id="category-only"),
    ],
)
def test_icd10_codes_keep_their_meaning(code: str, expected: str) -> None:
    assert normalise_code(ICD10_SYSTEM, code) == expected


@pytest.mark.parametrize(
    ("system", "code"),
    [
        pytest.param(SNOMED, "13645005", id="snomed-ct"),
        pytest.param(None, "J44.9", id="no-system"),
        pytest.param(CPR_SYSTEM, "0101521234", id="cpr-identifier-system"),
        pytest.param(SOR_SYSTEM, "123451000016008", id="sor-system"),
        pytest.param("urn:minplan:triage", "red", id="triage-system"),
        pytest.param(SKS_SYSTEM, "KGDA10", id="sks-procedure-not-a-diagnosis"),
        pytest.param(SKS_SYSTEM, "DJ4", id="sks-too-short"),
        pytest.param(ICD10_SYSTEM, "", id="empty-code"),
        pytest.param(ICD10_SYSTEM, None, id="no-code"),
        pytest.param(ICD10_SYSTEM, "449", id="icd10-without-letter"),
    ],
)
def test_anything_but_a_diagnosis_code_is_ignored(system: str | None, code: str | None) -> None:
    assert normalise_code(system, code) is None


def test_codings_are_read_in_order_without_repeats() -> None:
    codings = [
        (ICD10_SYSTEM, "J44.9"),
        (SKS_SYSTEM, "DJ449"),  # the same diagnosis, coded twice
        (SNOMED, "13645005"),
        (SKS_SYSTEM, "DM545"),
    ]
    assert normalise_codes(codings) == ("J44.9", "M54.5")
