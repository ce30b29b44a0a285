"""Diagnosis codes: SKS → ICD-10 normalisation, and the identifier systems we read."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CONFIDENTIALITY_SYSTEM",
    "CPR_SYSTEM",
    "ICD10_SYSTEM",
    "SKS_SYSTEM",
    "SOR_SYSTEM",
    "TRIAGE_SYSTEM",
    "normalise_code",
]

CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
SKS_SYSTEM = "urn:oid:1.2.208.176.2.4"
TRIAGE_SYSTEM = "urn:minplan:triage"
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"


def normalise_code(system: str | None, code: str | None) -> str | None:
    """ICD-10 with a dot for an ICD-10 or SKS diagnosis code; None for anything else.

    SKS diagnosis codes are ICD-10 with a leading ``D`` and no dot.

    >>> normalise_code("urn:oid:1.2.208.176.2.4", "DJ449"), normalise_code(ICD10_SYSTEM, "m54.5")
    ('J44.9', 'M54.5')
    """
    if not code:
        return None
    value = code.strip().upper()
    if system == SKS_SYSTEM:
        if len(value) < 4 or not value.startswith("D"):
            return None
        value = value[1:]
    elif system != ICD10_SYSTEM:
        return None
    value = value.replace(".", "")
    if len(value) < 3 or not value[0].isalpha() or not value[1:3].isdigit():
        return None
    return value if len(value) == 3 else f"{value[:3]}.{value[3:]}"


def normalise_codes(codings: Iterable[tuple[str | None, str | None]]) -> tuple[str, ...]:
    """Normalised diagnosis codes of (system, code) pairs, in order, without repeats."""
    seen: dict[str, None] = {}
    for system, code in codings:
        normal = normalise_code(system, code)
        if normal is not None:
            seen[normal] = None
    return tuple(seen)
