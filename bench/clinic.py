"""The work-list benchmark's synthetic clinic: who is listed, and each listed patient's data.

A GP clinic (:data:`CLINIC_SOR`, the benchmark clinician's organisation) lists
:data:`LISTED` patients. Of those, :data:`IN_PACKAGE` have an active COPD diagnosis; the
rest have no diagnosis or one that makes no package (hypertension) and an empty answer
from every other source. The COPD patients differ in a few ways that drive the work
list's order and filters: their triage (red, yellow, green or none) and alert-raising data
(a no-show, a cancellation not rebooked, an overdue control, no course, a value off its
target). :func:`expected` says what the gateway must show for each of them.

Dates are relative to the day the data is built (Europe/Copenhagen), so the alerts hold
whatever the day of the run: "today" in the gateway is the same day (the bench does not
run across midnight, and every date sits weeks away from its rule's boundary).

The resources carry :data:`~bench.synthetic.CPR_MARK` where the CPR goes, as
:mod:`bench.synthetic`'s do, so the source server encodes each variant once and splices
CPRs into bytes. Patients outside the clinic get the benchmark's usual patient
(:func:`bench.synthetic.resources`).

Example:
    >>> len(clinic_cprs()), len(package_cprs())
    (2000, 150)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bench.synthetic import CPR_MARK, resources

__all__ = [
    "ALERT_KINDS",
    "CLINIC_SOR",
    "IN_PACKAGE",
    "LISTED",
    "LISTING_PATH",
    "Expected",
    "Variant",
    "clinic_cprs",
    "expected",
    "listed_patients",
    "package_cprs",
    "patient_resources",
    "today",
    "variant_of",
]

#: The clinic: the benchmark clinician's organisation (bench/load.py signs its token).
CLINIC_SOR = "380101000016003"
LISTED, IN_PACKAGE = 2_000, 150
#: Every ``STRIDE``-th listed patient is in COPD: 150 spread over the list.
STRIDE = 13
#: The listing source's one search, under the source server's prefix.
LISTING_PATH = "/listing/Patient"
#: Where the clinic's CPRs start among bench.synthetic.cpr_for's indexes: serial 3000,
#: far above the load generator's new patients, so no load ever reads a clinic patient.
_FIRST_INDEX = 25_000 * 3_000
ALERT_KINDS = (
    "NO_SHOW",
    "NOT_REBOOKED",
    "REVIEW_OVERDUE",
    "NO_PLAN",
    "NO_TRIAGE",
    "OFF_TARGET",
)

_CPR_SYSTEM, _SOR_SYSTEM = "urn:oid:1.2.208.176.1.2", "urn:oid:1.2.208.176.1.1"
_SKS = "urn:oid:1.2.208.176.2.4"
_COPD = {"coding": [{"system": _SKS, "code": "DJ449", "display": "Kronisk obstruktiv lungesygdom"}]}
_HYPERTENSION = {"coding": [{"system": _SKS, "code": "DI109", "display": "Hypertension"}]}
_CONDITION_REF = {"reference": f"Condition/cond-{CPR_MARK}-kol"}
_FEV1 = {"system": "http://loinc.org", "code": "20150-9", "display": "FEV1"}
_GP_NAME, _HOSPITAL_NAME = "Lægehuset Søndergade", "AUH, Lungemedicin"
_COPENHAGEN = ZoneInfo("Europe/Copenhagen")
_GIVEN = ("Anna", "Bent", "Camilla", "Dorte", "Erik", "Frida", "Gunnar", "Hanne", "Ib", "Jonas")
_FAMILY = ("Hansen", "Jensen", "Nielsen", "Pedersen", "Andersen", "Larsen", "Sørensen")

Res = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Variant:
    """What sets one COPD patient apart: triage and the alerts their data raises."""

    triage: str | None  # "red", "yellow", "green", or None: no risk assessment
    no_show: bool  # a recent no-show and nothing booked after it
    not_rebooked: bool  # a recent hospital cancellation, no new booking with the hospital
    overdue: bool  # the last control over a year ago, none scheduled
    no_plan: bool  # no CarePlan at all (no course)
    off_target: bool  # the latest FEV1 below the goal's target

    @staticmethod
    def of(k: int) -> Variant:
        """The ``k``-th COPD patient's variant: each trait on its own cycle, so all mix."""
        return Variant(
            triage=("red", "yellow", "green", None)[k % 4],
            no_show=k % 5 == 1,
            not_rebooked=k % 8 == 5,
            overdue=k % 6 == 2,
            no_plan=k % 10 == 9,
            off_target=k % 3 == 0,
        )


@dataclass(frozen=True, slots=True)
class Expected:
    """What the work list must show for a COPD patient: triage level and alert kinds."""

    triage: str | None  # "RED", "YELLOW", "GREEN" or None
    alerts: tuple[str, ...]  # sorted kinds, one per offending item


def today() -> date:
    """Today in Europe/Copenhagen, the day the gateway's rules are taken on."""
    return datetime.now(_COPENHAGEN).date()


@functools.cache
def clinic_cprs() -> tuple[str, ...]:
    """The listed patients' CPR numbers, in the listing's order."""
    from bench.synthetic import cpr_for

    return tuple(cpr_for(_FIRST_INDEX + i) for i in range(LISTED))


@functools.cache
def package_cprs() -> tuple[str, ...]:
    """The COPD patients among them, :data:`IN_PACKAGE` of them."""
    return clinic_cprs()[::STRIDE][:IN_PACKAGE]


@functools.cache
def _variants() -> dict[str, Variant | str]:
    """Each listed CPR: its COPD variant, or ``"none"``/``"other"`` (no diagnosis / no package)."""
    found: dict[str, Variant | str] = {}
    package = set(package_cprs())
    k = 0
    for i, cpr in enumerate(clinic_cprs()):
        if cpr in package:
            found[cpr] = Variant.of(k)
            k += 1
        else:
            found[cpr] = "other" if i % 3 == 0 else "none"
    return found


def variant_of(cpr: str) -> Variant | str | None:
    """A listed patient's variant (``"none"``, ``"other"``), or None for anyone else."""
    return _variants().get(cpr)


def expected(cpr: str) -> Expected | None:
    """What the work list shows for ``cpr``; None when the patient is not in COPD."""
    variant = variant_of(cpr)
    if not isinstance(variant, Variant):
        return None
    kinds = []
    if variant.no_show:
        kinds.append("NO_SHOW")
    if variant.not_rebooked:
        kinds.append("NOT_REBOOKED")
    if variant.no_plan:
        kinds.append("NO_PLAN")
    else:
        if variant.overdue:
            kinds.append("REVIEW_OVERDUE")
        if variant.triage is None:
            kinds.append("NO_TRIAGE")
    if variant.off_target:
        kinds.append("OFF_TARGET")
    level = variant.triage.upper() if variant.triage else None
    return Expected(triage=level, alerts=tuple(sorted(kinds)))


def listed_patients() -> list[Res]:
    """The listing source's Patients for the clinic, one per listed CPR."""
    patients = []
    for i, cpr in enumerate(clinic_cprs()):
        name = f"{_GIVEN[i % len(_GIVEN)]} {_FAMILY[i // len(_GIVEN) % len(_FAMILY)]}"
        patients.append(
            {
                "resourceType": "Patient",
                "id": f"pat-{i}",
                "identifier": [{"system": _CPR_SYSTEM, "value": cpr}],
                "name": [{"text": name}],
                "active": True,
                "generalPractitioner": [
                    {"identifier": {"system": _SOR_SYSTEM, "value": CLINIC_SOR}}
                ],
            }
        )
    return patients


# Resources ---------------------------------------------------------------------------------


def _at(day: date, clock: str = "12:00") -> str:
    """A DateTime at noon in Copenhagen: far from midnight, its date never shifts."""
    offset = datetime.combine(day, datetime.min.time(), _COPENHAGEN).strftime("%z")
    return f"{day.isoformat()}T{clock}:00{offset[:3]}:{offset[3:]}"


def _subject() -> Res:
    return {"identifier": {"system": _CPR_SYSTEM, "value": CPR_MARK}, "display": "Bench Patient"}


def _base(kind: str, rid: str, **fields: Any) -> Res:
    return {"resourceType": kind, "id": f"{rid}-{CPR_MARK}", "subject": _subject(), **fields}


def _condition(day: date, code: Res, *, copd: bool) -> Res:
    res = _base("Condition", "cond", code=code)
    if copd:
        res["id"] = f"cond-{CPR_MARK}-kol"
    res["clinicalStatus"] = {"coding": [{"code": "active"}]}
    res["onsetDateTime"] = _at(day - timedelta(days=400))
    res["recorder"] = {"display": _GP_NAME}
    return res


def _appointment(n: int, status: str, day: date, who: str, text: str) -> Res:
    res = _base("Appointment", f"wl-appt{n}", status=status, description=text)
    res["start"], res["end"] = _at(day, "10:00"), _at(day, "10:30")
    res["participant"] = [{"actor": _subject()}, {"actor": {"display": who}}]
    res["reasonReference"] = [_CONDITION_REF]
    return res


def _appointments(v: Variant, day: date) -> list[Res]:
    found = [_appointment(0, "fulfilled", day - timedelta(days=60), _GP_NAME, "Spirometri")]
    if v.no_show:  # nothing booked or held after it: NO_SHOW
        found.append(_appointment(1, "noshow", day - timedelta(days=20), _GP_NAME, "Opfølgning"))
    else:
        found.append(_appointment(1, "booked", day + timedelta(days=20), _GP_NAME, "Årskontrol"))
    if v.not_rebooked:  # the hospital cancelled and has booked nothing since: NOT_REBOOKED
        found.append(
            _appointment(2, "cancelled", day - timedelta(days=10), _HOSPITAL_NAME, "Kontrol")
        )
    return found


def _goal(day: date) -> Res:
    res = _base("Goal", "wl-goal", lifecycleStatus="active")
    res["description"] = {"text": "Holde lungefunktionen"}
    target = {"value": 1.5, "comparator": ">=", "unit": "L"}
    res["target"] = [
        {
            "measure": {"coding": [_FEV1]},
            "detailQuantity": target,
            "dueDate": (day + timedelta(days=180)).isoformat(),
        }
    ]
    res["addresses"] = [_CONDITION_REF]
    return res


def _risks(v: Variant, day: date) -> list[Res]:
    if v.triage is None:
        return []
    found = []
    for n, (level, back) in enumerate((("green", 300), (v.triage, 30))):
        res = _base("RiskAssessment", f"wl-risk{n}", occurrenceDateTime=_at(day - timedelta(back)))
        res["code"] = _COPD
        res["performer"] = {"display": _GP_NAME}
        triage = {"coding": [{"system": "urn:minplan:triage", "code": level}]}
        res["prediction"] = [{"qualitativeRisk": triage}]
        found.append(res)
    return found


def _care_plans(v: Variant, day: date) -> list[Res]:
    if v.no_plan:  # onset 400 days back, far past the plan deadline: NO_PLAN
        return []
    res = _base("CarePlan", "wl-cp", status="active", intent="plan")
    created = day - timedelta(days=380)
    res["created"], res["period"] = _at(created), {"start": created.isoformat()}
    res["author"] = {
        "identifier": {"system": _SOR_SYSTEM, "value": CLINIC_SOR},
        "display": _GP_NAME,
    }
    res["addresses"] = [_CONDITION_REF]
    res["category"] = [_COPD]
    review = {"coding": [{"system": "urn:minplan:activity", "code": "review"}]}
    # overdue: the last control 400 days back and none scheduled, so the next was due
    # 12 months after it, about five weeks ago: REVIEW_OVERDUE
    held = [("completed", day - timedelta(days=400 if v.overdue else 200))]
    if not v.overdue:
        held.append(("scheduled", day + timedelta(days=30)))
    res["activity"] = [
        {"detail": {"code": review, "status": status, "scheduledPeriod": {"start": _at(when)}}}
        for status, when in held
    ]
    return [res]


def _observations(v: Variant, day: date) -> list[Res]:
    found = []
    latest = 1.2 if v.off_target else 1.7  # the goal wants >= 1.5 L
    for n, (value, back) in enumerate(((1.6, 200), (latest, 14))):
        res = _base("Observation", f"wl-obs{n}", status="final", code={"coding": [_FEV1]})
        res["category"] = [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "exam",
                    }
                ]
            }
        ]
        res["valueQuantity"] = {"value": value, "unit": "L"}
        res["effectiveDateTime"] = _at(day - timedelta(days=back), "09:45")
        res["performer"] = [{"display": _GP_NAME}]
        found.append(res)
    return found


def patient_resources(variant: Variant | str, day: date) -> dict[tuple[str, str], list[Res]]:
    """Each search's resources for a listed patient of ``variant``, dated from ``day``.

    Searches not named answer empty: a COPD patient's journal, questionnaires, offers and
    medication are the benchmark's usual patient's (the work list asks them only when its
    query selects them); a patient outside COPD has nothing beyond an optional diagnosis.
    """
    if variant == "none":
        return {}
    if variant == "other":
        return {("diagnoses", "Condition"): [_condition(day, _HYPERTENSION, copd=False)]}
    if not isinstance(variant, Variant):
        raise ValueError(f"unknown variant {variant!r}")
    usual = resources()
    found = {
        key: usual[key]
        for key in (
            ("journal", "DocumentReference"),
            ("pro", "QuestionnaireResponse"),
            ("prevention", "ServiceRequest"),
            ("medication", "MedicationStatement"),
            ("consent", "Consent"),
        )
    }
    found |= {
        ("diagnoses", "Condition"): [_condition(day, _COPD, copd=True)],
        ("appointments", "Appointment"): _appointments(variant, day),
        ("careplan", "Goal"): [_goal(day)],
        ("careplan", "RiskAssessment"): _risks(variant, day),
        ("careplan", "CarePlan"): _care_plans(variant, day),
        ("observations", "Observation"): _observations(variant, day),
    }
    return found
