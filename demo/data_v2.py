"""The demo's resources for contract version 2: courses, disease values, medication.

- ``careplan``: a ``CarePlan`` per package course, coordinated by the GP clinic (Lis
  Andersen's by the hospital), with completed and scheduled controls (activity code
  ``urn:minplan:activity|review``). Birgit Hansen's COPD control is overdue (scheduled
  before :data:`demo.data.BASE_DAY`, not held); Jens Nielsen has a revoked plan and Peter
  Mortensen a completed one beside their active ones. Goals that target values by range
  and by comparator (``target[0].measure``), for the people whose goal lists no example
  or test pins (Karen Jensen's, Lis Andersen's, Sofie Christensen's and Ole Pedersen's stay
  as they were).
- ``observations``: lab results, values measured in the clinic, and values measured at
  home (``urn:minplan:origin|home``); some on target, some not.
- ``medication``: active and stopped MedicationStatements with dosage text and prescriber.
- ``appointments`` (for the follow-up alerts): Henrik Larsen missed his heart check-up at
  the hospital, and only a proposed (not booked) scan follows it, so his heart-disease
  package raises a NO_SHOW as of BASE_DAY; the other alert kinds come from the data above.

Where the codes come from:

- Values: LOINC (``http://loinc.org``): 20150-9 FEV1, 19926-5 FEV1/FVC, 98070-6 MRC
  breathlessness scale grade (1-5, as the Danish COPD database records it), 72514-3 pain
  severity 0-10 numeric rating (NRS), 8480-6 systolic and 8462-4 diastolic blood pressure,
  13457-7 LDL cholesterol (calculated); and the Danish NPU code NPU03835 (B-Hæmoglobin
  A1c (IFCC), mmol/mol; system ``urn:oid:1.2.208.176.2.1``), as Danish labs report HbA1c.
- Medicines: WHO ATC (``http://www.whocc.no/atc``): R03AC02 salbutamol, R03BB04
  tiotropium, R03AK10 vilanterol and fluticasone furoate, H02AB06 prednisolone, N02BE01
  paracetamol, M01AE01 ibuprofen, A10BA02 metformin, C10AA01 simvastatin, C10AA05
  atorvastatin, B01AC06 acetylsalicylic acid, C08CA01 amlodipine; names as Danish packages
  read (Ventoline, Spiriva, Relvar Ellipta, ...).
- Diagnoses (package links), CPR and SOR: as in :mod:`demo.data` and :mod:`demo.people`.

Every value, dose and date is made up.
"""

from __future__ import annotations

from typing import Any

from demo import data as d
from demo import people as p

__all__ = ["CARE_PLANS", "build_v2_resources"]

Res = dict[str, Any]
Code = tuple[str, str, str]  # system, code, display

LOINC, NPU, ATC = "http://loinc.org", "urn:oid:1.2.208.176.2.1", "http://www.whocc.no/atc"
ACTIVITY, ORIGIN = "urn:minplan:activity", "urn:minplan:origin"
_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

FEV1: Code = (LOINC, "20150-9", "FEV1")
FEV1_FVC: Code = (LOINC, "19926-5", "FEV1/FVC")
MRC: Code = (LOINC, "98070-6", "Åndenød, MRC-skala (1-5)")
NRS: Code = (LOINC, "72514-3", "Smerte, NRS (0-10)")
HBA1C: Code = (NPU, "NPU03835", "HbA1c")
SYS_BP: Code = (LOINC, "8480-6", "Systolisk blodtryk")
DIA_BP: Code = (LOINC, "8462-4", "Diastolisk blodtryk")
LDL: Code = (LOINC, "13457-7", "LDL-kolesterol")

KAREN, JENS, BIRGIT, OLE = d.KAREN, d.JENS, d.BIRGIT, d.OLE
LIS, HENRIK, SOFIE, PETER = d.LIS, d.HENRIK, d.SOFIE, d.PETER
GP, HOSP, MUNI = d.GP, d.HOSP, d.MUNI
LAB, CLINIC, HOME = "lab", "clinic", "home"
_AUH_LAB = "Blodprøver og Biokemi, Aarhus Universitetshospital"


def _care_plan(
    rid: str,
    cpr: str,
    status: str,
    created: int,
    org: str,
    cond: str,
    codes: d.Codes,
    reviews: list[tuple[str, int]],
) -> Res:
    res = d._base("CarePlan", rid, cpr, status=status, intent="plan")
    res["created"] = d._at(created, "10:30")
    res["period"] = {"start": d._at(created)[:10]}
    res["author"] = d._actor(org)
    res["addresses"] = [{"reference": f"Condition/{cond}"}]
    res["category"] = [{"coding": list(codes)}]
    res["activity"] = [
        {
            "detail": {
                "code": {"coding": [{"system": ACTIVITY, "code": "review", "display": "Kontrol"}]},
                "status": state,
                "scheduledPeriod": {"start": d._at(day, "09:00")},
            }
        }
        for state, day in reviews
    ]
    return res


def _observation(
    rid: str,
    cpr: str,
    code: Code,
    value: float,
    unit: str,
    days: int,
    origin: str,
    performer: str,
    cond: str | None,
    status: str = "final",
) -> Res:
    system, number, display = code
    res = d._base("Observation", rid, cpr, status=status)
    category = [{"coding": [{"system": _CATEGORY, "code": "laboratory"}]}] if origin == LAB else []
    if origin != LAB:
        category.append({"coding": [{"system": _CATEGORY, "code": "vital-signs"}]})
    if origin == HOME:
        category.append({"coding": [{"system": ORIGIN, "code": "home", "display": "Hjemme"}]})
    res["category"] = category
    res["code"] = {"coding": [{"system": system, "code": number, "display": display}]}
    res["code"]["text"] = display
    res["valueQuantity"] = {"value": value, "unit": unit}
    res["effectiveDateTime"] = d._at(days, "08:10" if origin == LAB else "10:00")
    res["performer"] = [{"display": p.ORGS.get(performer, performer)}]
    if cond:
        res["focus"] = [{"reference": f"Condition/{cond}"}]
    return res


def _medication(
    rid: str,
    cpr: str,
    status: str,
    atc: str,
    name: str,
    dosage: str,
    start: int,
    end: int | None,
    org: str,
    link: d.Link,
) -> Res:
    atc_display = _ATC_NAMES[atc]
    res = d._base("MedicationStatement", rid, cpr, status=status)
    res["medicationCodeableConcept"] = {
        "coding": [{"system": ATC, "code": atc, "display": atc_display}],
        "text": name,
    }
    res["effectivePeriod"] = {"start": d._at(start)[:10]}
    if end is not None:
        res["effectivePeriod"]["end"] = d._at(end)[:10]
    res["dosage"] = [{"text": dosage}]
    res["informationSource"] = {"display": p.ORGS[org]}
    if isinstance(link, str):
        res["reasonReference"] = [{"reference": f"Condition/{link}"}]
    elif link:
        res["reasonCode"] = [{"coding": list(link)}]
    return res


def _measure_goal(
    rid: str,
    cpr: str,
    text: str,
    code: Code,
    aim: tuple[str, float | None, float | None, str],
    due: int,
    cond: str,
) -> Res:
    """A Goal about a value, ``aim`` being ("range", low, high, unit) or
    (comparator, value, None, unit)."""
    kind, first, second, unit = aim
    system, number, display = code
    target: Res = {"measure": {"coding": [{"system": system, "code": number, "display": display}]}}
    if kind == "range":
        bounds = {"low": first, "high": second}
        target["detailRange"] = {
            k: {"value": v, "unit": unit} for k, v in bounds.items() if v is not None
        }
    else:
        target["detailQuantity"] = {"value": first, "comparator": kind, "unit": unit}
    target["dueDate"] = d._at(due)[:10]
    res = d._base("Goal", rid, cpr, lifecycleStatus="active", description={"text": text})
    res["target"] = [target]
    res["addresses"] = [{"reference": f"Condition/{cond}"}]
    return res


_ATC_NAMES = {
    "R03AC02": "salbutamol",
    "R03BB04": "tiotropiumbromid",
    "R03AK10": "vilanterol og fluticasonfuroat",
    "H02AB06": "prednisolon",
    "N02BE01": "paracetamol",
    "M01AE01": "ibuprofen",
    "A10BA02": "metformin",
    "C10AA01": "simvastatin",
    "C10AA05": "atorvastatin",
    "B01AC06": "acetylsalicylsyre",
    "C08CA01": "amlodipin",
}

# Tables of rows, one per resource; laid out by hand, so the formatter keeps off them.
# fmt: off
CARE_PLANS: list[tuple[Any, ...]] = [
    # id, patient, status, created (days from BASE_DAY), coordinator, condition, codes,
    # reviews (activity status, day)
    ("cp-karen-kol", KAREN, "active", -290, GP, "cond-karen-kol", d.COPD,
     [("completed", -290), ("completed", -60), ("scheduled", 14)]),
    ("cp-jens-lrs-old", JENS, "revoked", -195, GP, "cond-jens-lrs", d.LBP_SKS, []),
    ("cp-jens-lrs", JENS, "active", -180, GP, "cond-jens-lrs", d.LBP_SKS,
     [("completed", -30)]),
    ("cp-birgit-kol", BIRGIT, "active", -320, GP, "cond-birgit-kol", d.COPD_EXAC,
     [("completed", -320), ("scheduled", -20)]),
    ("cp-birgit-lrs", BIRGIT, "on-hold", -140, GP, "cond-birgit-lrs", d.LBP, []),
    ("cp-lis-kol", LIS, "active", -300, HOSP, "cond-lis-kol", d.COPD_SKS,
     [("completed", -300), ("not-started", 7)]),
    ("cp-henrik-dm2", HENRIK, "active", -340, GP, "cond-henrik-dm2", d.T2D,
     [("completed", -340), ("completed", -18), ("scheduled", 25)]),
    ("cp-henrik-ihd", HENRIK, "active", -110, GP, "cond-henrik-ihd", d.HEART_SKS,
     [("completed", -100)]),
    ("cp-sofie-lrs", SOFIE, "draft", -85, GP, "cond-sofie-lrs", d.LBP, []),
    ("cp-peter-kol-2025", PETER, "completed", -720, HOSP, "cond-peter-kol", d.COPD,
     [("completed", -700), ("completed", -380)]),
    ("cp-peter-kol", PETER, "active", -360, GP, "cond-peter-kol", d.COPD,
     [("completed", -360), ("in-progress", 0)]),
]

_OBSERVATIONS: list[tuple[Any, ...]] = [
    # id, patient, code, value, unit, day, origin, performer, focus condition
    ("obs-karen-fev1-1", KAREN, FEV1, 1.55, "L", -290, CLINIC, GP, "cond-karen-kol"),
    ("obs-karen-fev1-2", KAREN, FEV1, 1.42, "L", -60, CLINIC, GP, "cond-karen-kol"),
    ("obs-karen-ratio", KAREN, FEV1_FVC, 61, "%", -60, CLINIC, GP, "cond-karen-kol"),
    ("obs-karen-mrc-1", KAREN, MRC, 3, "point", -60, CLINIC, GP, "cond-karen-kol"),
    ("obs-karen-mrc-2", KAREN, MRC, 2, "point", -6, HOME, "Karen Jensen (egen måling)",
     "cond-karen-kol"),
    ("obs-jens-nrs-1", JENS, NRS, 7, "point", -30, CLINIC, d.PHYSIO, "cond-jens-lrs"),
    ("obs-jens-nrs-2", JENS, NRS, 5, "point", -2, HOME, "Jens Nielsen (egen måling)", None),
    ("obs-birgit-fev1", BIRGIT, FEV1, 0.98, "L", -40, CLINIC, HOSP, "cond-birgit-kol"),
    ("obs-birgit-mrc", BIRGIT, MRC, 4, "point", -40, CLINIC, HOSP, "cond-birgit-kol"),
    ("obs-birgit-nrs-1", BIRGIT, NRS, 6, "point", -60, CLINIC, GP, "cond-birgit-lrs"),
    ("obs-birgit-nrs-2", BIRGIT, NRS, 3, "point", -4, HOME, "Birgit Hansen (egen måling)",
     "cond-birgit-lrs"),
    ("obs-ole-sys", OLE, SYS_BP, 142, "mmHg", -20, HOME, "Ole Pedersen (egen måling)",
     "cond-ole-htn"),
    ("obs-ole-dia", OLE, DIA_BP, 88, "mmHg", -20, HOME, "Ole Pedersen (egen måling)",
     "cond-ole-htn"),
    ("obs-lis-fev1", LIS, FEV1, 1.21, "L", -35, CLINIC, HOSP, "cond-lis-kol"),
    ("obs-lis-mrc", LIS, MRC, 3, "point", -15, CLINIC, GP, "cond-lis-kol"),
    ("obs-henrik-hba1c-1", HENRIK, HBA1C, 64, "mmol/mol", -200, LAB, _AUH_LAB, None),
    ("obs-henrik-hba1c-2", HENRIK, HBA1C, 58, "mmol/mol", -18, LAB, _AUH_LAB, None),
    ("obs-henrik-ldl-1", HENRIK, LDL, 2.9, "mmol/L", -110, LAB, _AUH_LAB, None),
    ("obs-henrik-ldl-2", HENRIK, LDL, 1.6, "mmol/L", -18, LAB, _AUH_LAB, None),
    ("obs-henrik-sys-1", HENRIK, SYS_BP, 142, "mmHg", -18, CLINIC, GP, "cond-henrik-ihd"),
    ("obs-henrik-sys-2", HENRIK, SYS_BP, 128, "mmHg", -3, HOME, "Henrik Larsen (egen måling)",
     "cond-henrik-ihd"),
    ("obs-henrik-dia-2", HENRIK, DIA_BP, 79, "mmHg", -3, HOME, "Henrik Larsen (egen måling)",
     "cond-henrik-ihd"),
    ("obs-sofie-nrs", SOFIE, NRS, 6, "point", -12, CLINIC, GP, "cond-sofie-lrs"),
    ("obs-peter-fev1-1", PETER, FEV1, 0.92, "L", -365, CLINIC, HOSP, "cond-peter-kol"),
    ("obs-peter-fev1-2", PETER, FEV1, 1.05, "L", -7, CLINIC, GP, "cond-peter-kol"),
    ("obs-peter-mrc", PETER, MRC, 4, "point", -7, CLINIC, GP, "cond-peter-kol"),
]

_GOALS_V2: list[tuple[Any, ...]] = [
    # id, patient, description, measured value, (comparator or "range", a, b, unit), due, cond
    ("goal-jens-pain", JENS, "Mindre ondt i ryggen", NRS, ("range", 0, 3, "point"), 60,
     "cond-jens-lrs"),
    ("goal-birgit-mrc", BIRGIT, "Mindre åndenød i hverdagen", MRC, ("<=", 3, None, "point"),
     120, "cond-birgit-kol"),
    ("goal-birgit-pain", BIRGIT, "Smerter til at leve med", NRS, ("<=", 3, None, "point"), 90,
     "cond-birgit-lrs"),
    ("goal-henrik-hba1c-value", HENRIK, "HbA1c i behandlingsmål", HBA1C,
     ("<", 53, None, "mmol/mol"), 180, "cond-henrik-dm2"),
    ("goal-henrik-sys", HENRIK, "Systolisk blodtryk i mål", SYS_BP, ("range", 110, 130, "mmHg"),
     90, "cond-henrik-ihd"),
    ("goal-henrik-ldl", HENRIK, "LDL-kolesterol i mål", LDL, ("range", None, 1.8, "mmol/L"), 120,
     "cond-henrik-ihd"),
    ("goal-peter-fev1", PETER, "Bevare lungefunktionen", FEV1, (">=", 1.0, None, "L"), 180,
     "cond-peter-kol"),
]

_APPOINTMENTS_V2: list[tuple[Any, ...]] = [
    # id, patient, status, day, time, minutes, text, actor, package link (as demo.data's)
    ("appt-henrik-cardio", HENRIK, "noshow", -12, "09:00", 30, "Kontrol i hjerteambulatoriet",
     "Aarhus Universitetshospital, Hjertesygdomme", "cond-henrik-ihd"),
]

_MEDICATIONS: list[tuple[Any, ...]] = [
    # id, patient, status, ATC, name, dosage, start, end, prescriber, package link
    ("med-karen-relvar", KAREN, "active", "R03AK10", "Relvar Ellipta 92/22 mikrog/dosis",
     "1 inhalation 1 gang dagligt", -290, None, GP, d.COPD),
    ("med-karen-ventoline", KAREN, "active", "R03AC02", "Ventoline 0,1 mg/dosis",
     "1-2 pust efter behov, højst 8 pust i døgnet", -290, None, GP, d.COPD),
    ("med-karen-spiriva", KAREN, "stopped", "R03BB04", "Spiriva Respimat 2,5 mikrog/dosis",
     "2 pust 1 gang dagligt", -700, -290, GP, "cond-karen-kol"),
    ("med-jens-paracetamol", JENS, "active", "N02BE01", "Pamol 500 mg tabletter",
     "2 tabletter op til 3 gange dagligt efter behov", -180, None, GP, d.LBP_SKS),
    ("med-jens-ibuprofen", JENS, "stopped", "M01AE01", "Ibuprofen 400 mg tabletter",
     "1 tablet 3 gange dagligt i 1 uge", -180, -173, GP, d.LBP_SKS),
    ("med-birgit-spiriva", BIRGIT, "active", "R03BB04", "Spiriva Respimat 2,5 mikrog/dosis",
     "2 pust 1 gang dagligt", -320, None, GP, "cond-birgit-kol"),
    ("med-birgit-ventoline", BIRGIT, "active", "R03AC02", "Ventoline 0,1 mg/dosis",
     "1-2 pust efter behov", -320, None, GP, "cond-birgit-kol"),
    ("med-birgit-prednisolon", BIRGIT, "completed", "H02AB06", "Prednisolon 25 mg tabletter",
     "37,5 mg dagligt i 5 dage", -43, -38, HOSP, d.COPD_EXAC),
    ("med-birgit-paracetamol", BIRGIT, "active", "N02BE01", "Panodil 500 mg tabletter",
     "2 tabletter morgen og aften", -140, None, GP, "cond-birgit-lrs"),
    ("med-ole-amlodipin", OLE, "active", "C08CA01", "Amlodipin 10 mg tabletter",
     "1 tablet dagligt", -20, None, GP, d.HTN),
    ("med-lis-relvar", LIS, "active", "R03AK10", "Relvar Ellipta 92/22 mikrog/dosis",
     "1 inhalation 1 gang dagligt", -15, None, GP, d.COPD_SKS),
    ("med-henrik-metformin", HENRIK, "active", "A10BA02", "Metformin 500 mg tabletter",
     "2 tabletter 2 gange dagligt til måltiderne", -340, None, GP, d.T2D),
    ("med-henrik-simvastatin", HENRIK, "stopped", "C10AA01", "Simvastatin 40 mg tabletter",
     "1 tablet til natten", -340, -100, GP, d.HEART_SKS),
    ("med-henrik-atorvastatin", HENRIK, "active", "C10AA05", "Atorvastatin 40 mg tabletter",
     "1 tablet dagligt", -100, None, GP, d.HEART_SKS),
    ("med-henrik-asa", HENRIK, "active", "B01AC06", "Hjertemagnyl 75 mg tabletter",
     "1 tablet dagligt", -100, None, GP, "cond-henrik-ihd"),
    ("med-sofie-paracetamol", SOFIE, "active", "N02BE01", "Pamol 500 mg tabletter",
     "2 tabletter op til 4 gange dagligt", -12, None, GP, "cond-sofie-lrs"),
    ("med-peter-spiriva", PETER, "active", "R03BB04", "Spiriva Respimat 2,5 mikrog/dosis",
     "2 pust 1 gang dagligt", -365, None, HOSP, d.COPD),
    ("med-peter-ventoline", PETER, "active", "R03AC02", "Ventoline 0,1 mg/dosis",
     "1-2 pust efter behov", -365, None, HOSP, d.COPD),
]
# fmt: on


def _broken() -> dict[str, list[Res]]:
    """Sofie Christensen's v2 resources that the gateway must skip and count."""
    no_time = _observation(
        "obs-sofie-notime", SOFIE, NRS, 5, "point", -5, HOME, "Sofie Christensen", None
    )
    del no_time["effectiveDateTime"]
    preliminary = _observation(
        "obs-sofie-preliminary", SOFIE, NRS, 4, "point", -1, CLINIC, GP, None, "preliminary"
    )
    bogus = _medication(
        "med-sofie-bogus", SOFIE, "bogus-status", "M01AE01", "Ibuprofen 400 mg", "1 tablet",
        -12, None, GP, d.LBP,
    )  # fmt: skip
    error = _medication(
        "med-sofie-error", SOFIE, "entered-in-error", "N02BE01", "Pamol 500 mg", "2 tabletter",
        -12, None, GP, d.LBP,
    )  # fmt: skip
    plan = _care_plan("cp-sofie-bogus", SOFIE, "bogus-status", -80, GP, "cond-sofie-lrs", d.LBP, [])
    return {
        "observations": [no_time, preliminary],
        "medication": [bogus, error],
        "careplan": [plan],
    }


def build_v2_resources() -> dict[str, list[Res]]:
    """The v2 resources by source: ``careplan`` (CarePlans and Goals to add), ``observations``,
    ``medication``, and ``appointments`` to add. Fresh dicts on every call;
    :func:`demo.data.build_resources` merges them."""
    resources: dict[str, list[Res]] = {
        "careplan": [_care_plan(*r) for r in CARE_PLANS] + [_measure_goal(*r) for r in _GOALS_V2],
        "observations": [_observation(*r) for r in _OBSERVATIONS],
        "medication": [_medication(*r) for r in _MEDICATIONS],
        "appointments": [d._appointment(*r) for r in _APPOINTMENTS_V2],
    }
    for source, extra in _broken().items():
        resources[source] += extra
    return resources
