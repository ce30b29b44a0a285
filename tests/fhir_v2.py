"""Small FHIR resources for contract v2 cases: one patient, each builder the fields §1 reads.

A case is a dict of sources to resources (``make_gateway(resources=...)``); anything not
given is an empty source. ``COPD_COND`` and ``LBP_COND`` put the patient in two packages.
"""

from __future__ import annotations

from typing import Any

from core.codes import CPR_SYSTEM, SOR_SYSTEM

__all__ = [
    "ATC",
    "FEV1",
    "ICD10",
    "LOINC",
    "NRS",
    "PATIENT",
    "Res",
    "care_plan",
    "condition",
    "consent_block",
    "goal",
    "medication",
    "observation",
    "two_packages",
    "withheld",
]

Res = dict[str, Any]

PATIENT = "0101521234"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
ATC = "http://www.whocc.no/atc"
FEV1 = (LOINC, "20150-9")
NRS = (LOINC, "72514-3")
_CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"


def _subject(cpr: str) -> Res:
    return {"identifier": {"system": CPR_SYSTEM, "value": cpr}}


def _codes(*codes: str) -> list[Res]:
    return [{"coding": [{"system": ICD10, "code": c} for c in codes]}] if codes else []


def _refs(*conditions: str) -> list[Res]:
    return [{"reference": f"Condition/{c}"} for c in conditions]


def condition(rid: str, code: str, *, cpr: str = PATIENT, active: bool = True) -> Res:
    status = {"coding": [{"code": "active" if active else "resolved"}]}
    code_ = {"coding": [{"system": ICD10, "code": code}]}
    return {"resourceType": "Condition", "id": rid, "subject": _subject(cpr),
            "code": code_, "clinicalStatus": status}  # fmt: skip


def two_packages() -> list[Res]:
    """COPD (``cond-copd``) and low back pain (``cond-lbp``)."""
    return [condition("cond-copd", "J44.9"), condition("cond-lbp", "M54.5")]


def goal(
    rid: str,
    measure: tuple[str, str] | None,
    *,
    cond: str = "cond-copd",
    rng: tuple[float | None, float | None] | None = None,
    quantity: tuple[str | None, float] | None = None,
    text: str | None = None,
    unit: str = "L",
    due: str | None = "2027-06-01",
    status: str = "active",
    cpr: str = PATIENT,
) -> Res:
    """A Goal about ``measure``: by ``rng`` (low, high), ``quantity`` (comparator, value) or
    ``text`` (detailString)."""
    target: Res = {}
    if measure is not None:
        target["measure"] = {"coding": [{"system": measure[0], "code": measure[1]}]}
    if rng is not None:
        bounds = {"low": rng[0], "high": rng[1]}
        target["detailRange"] = {k: {"value": v, "unit": unit} for k, v in bounds.items()
                                 if v is not None}  # fmt: skip
    if quantity is not None:
        comparator, value = quantity
        target["detailQuantity"] = {"value": value, "unit": unit}
        if comparator is not None:
            target["detailQuantity"]["comparator"] = comparator
    if text is not None:
        target["detailString"] = text
    if due is not None:
        target["dueDate"] = due
    return {"resourceType": "Goal", "id": rid, "subject": _subject(cpr),
            "lifecycleStatus": status, "description": {"text": f"Mål {rid}"},
            "target": [target], "addresses": _refs(cond)}  # fmt: skip


def observation(
    rid: str,
    code: tuple[str, str],
    value: float | None,
    *,
    focus: str | None = None,
    at: str = "2027-01-04T09:00:00+01:00",
    unit: str = "L",
    cpr: str = PATIENT,
) -> Res:
    res: Res = {"resourceType": "Observation", "id": rid, "subject": _subject(cpr),
                "status": "final", "code": {"coding": [{"system": code[0], "code": code[1]}]},
                "effectiveDateTime": at}  # fmt: skip
    if value is not None:
        res["valueQuantity"] = {"value": value, "unit": unit}
    if focus is not None:
        res["focus"] = _refs(focus)
    return res


def care_plan(
    rid: str,
    status: str,
    created: str | None,
    *,
    addresses: str | None = "cond-copd",
    codes: tuple[str, ...] = (),
    cpr: str = PATIENT,
) -> Res:
    res: Res = {"resourceType": "CarePlan", "id": rid, "subject": _subject(cpr),
                "status": status, "intent": "plan", "category": _codes(*codes),
                "author": {"identifier": {"system": SOR_SYSTEM, "value": "380101000016003"},
                           "display": "Lægerne Søndergade, Aarhus"}}  # fmt: skip
    if created is not None:
        res["created"] = created
    if addresses is not None:
        res["addresses"] = _refs(addresses)
    return res


def medication(
    rid: str,
    status: str = "active",
    start: str | None = "2026-10-01",
    *,
    codes: tuple[str, ...] = (),
    reason: str | None = None,
    cpr: str = PATIENT,
) -> Res:
    res: Res = {"resourceType": "MedicationStatement", "id": rid, "subject": _subject(cpr),
                "status": status,
                "medicationCodeableConcept": {"text": f"Medicin {rid}",
                                              "coding": [{"system": ATC, "code": "R03AC02"}]},
                "reasonCode": _codes(*codes)}  # fmt: skip
    if reason is not None:
        res["reasonReference"] = _refs(reason)
    if start is not None:
        res["effectivePeriod"] = {"start": start}
    return res


def withheld(res: Res) -> Res:
    """The resource with the confidentiality label R: seen only by its custodian's clinicians."""
    return res | {"meta": {"security": [{"system": _CONFIDENTIALITY, "code": "R"}]}}


def consent_block(rid: str, org: str, *classes: str, cpr: str = PATIENT) -> Res:
    """An active deny Consent naming ``org`` (SOR), for ``classes`` (none: all data)."""
    actor = {"reference": {"identifier": {"system": SOR_SYSTEM, "value": org}}}
    provision = {"type": "deny", "actor": [actor], "class": [{"code": c} for c in classes]}
    return {"resourceType": "Consent", "id": rid, "status": "active",
            "patient": _subject(cpr), "provision": provision}  # fmt: skip
