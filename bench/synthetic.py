"""The benchmark's synthetic patient: one COPD package, as FHIR R4 resources per search.

Contract v2 (issue 12) too: a CarePlan (the course, with its coordinator and controls),
disease values (Observations, some placed and targeted by a goal's ``target.measure``)
and MedicationStatements. :data:`SHAPES` are the query shapes whose upstream searches the
benchmark counts; :func:`searches_for` names the searches each makes.

Every resource carries :data:`CPR_MARK` where the patient's CPR goes, so the source server
can encode them once and splice a CPR into bytes per request. :data:`EXPECTED` is what
the gateway must answer for any patient, and :func:`cpr_for` makes valid CPR numbers.

Example:
    >>> cpr_for(0), len(cpr_for(123_456))
    ('0101300000', 10)
"""

from __future__ import annotations

import base64
from datetime import date, timedelta
from typing import Any

__all__ = [
    "CITIZEN_SEARCHES",
    "CPR_MARK",
    "EXPECTED",
    "SEARCHES",
    "SHAPES",
    "SOURCE_NAMES",
    "cpr_for",
    "resources",
    "searches_for",
    "sources_for",
]

CPR_MARK = "@CPR@"
SOURCE_NAMES = (
    "diagnoses",
    "appointments",
    "journal",
    "careplan",
    "pro",
    "prevention",
    "consent",
    "observations",
    "medication",
)
#: The eleven searches of a clinician's whole plan: (source, FHIR resource type). The
#: CarePlan search is made only when the query selects ``course`` (contract §6).
SEARCHES: tuple[tuple[str, str], ...] = (
    ("diagnoses", "Condition"),
    ("appointments", "Appointment"),
    ("journal", "DocumentReference"),
    ("careplan", "Goal"),
    ("careplan", "RiskAssessment"),
    ("careplan", "CarePlan"),
    ("pro", "QuestionnaireResponse"),
    ("prevention", "ServiceRequest"),
    ("consent", "Consent"),
    ("observations", "Observation"),
    ("medication", "MedicationStatement"),
)
#: A patient's own whole plan: every search but consent's (ten).
CITIZEN_SEARCHES = tuple(s for s in SEARCHES if s[0] != "consent")
#: The query shapes counted, and the searches of their data (consent comes on top for
#: anyone but the patient): the whole plan; appointments only
#: (``packages { kind appointments { status } }``); one package header (``packages { id kind }``).
SHAPES: dict[str, tuple[tuple[str, str], ...]] = {
    "full": CITIZEN_SEARCHES,
    "appointments": (("diagnoses", "Condition"), ("appointments", "Appointment")),
    "header": (("diagnoses", "Condition"),),
}
#: The COPD package's item counts, and the source each list comes from.
EXPECTED: dict[str, tuple[str, int]] = {
    "diagnoses": ("diagnoses", 1),
    "appointments": ("appointments", 6),
    "journalNotes": ("journal", 3),
    "goals": ("careplan", 3),
    "preventionOffers": ("prevention", 2),
    "measurements": ("observations", 4),
    "medications": ("medication", 3),
}
#: Of the measurements, those a goal places (none of them without the careplan source),
#: each with a target, and of those, how many are on it.
BY_GOAL, ON_TARGET = 2, 1


def searches_for(shape: str, *, patient: bool) -> tuple[tuple[str, str], ...]:
    """The searches a plan read of ``shape`` makes: the patient's own, or anyone else's."""
    own = SHAPES[shape]
    return own if patient else (*own, ("consent", "Consent"))


def sources_for(shape: str, *, patient: bool) -> list[str]:
    """The sources ``Plan.sources`` lists for ``shape``, in the contract's order."""
    asked = {source for source, _ in searches_for(shape, patient=patient)}
    return [name for name in SOURCE_NAMES if name in asked]


_CPR_SYSTEM, _SOR = "urn:oid:1.2.208.176.1.2", "urn:oid:1.2.208.176.1.1"
_SKS = "urn:oid:1.2.208.176.2.4"
_ICD10 = "http://hl7.org/fhir/sid/icd-10"
_GP, _HOSPITAL = "380101000016003", "265161000016000"
_COPD = {"coding": [{"system": _SKS, "code": "DJ449", "display": "Kronisk obstruktiv lungesygdom"}]}
_COPD_ICD = {"coding": [{"system": _ICD10, "code": "J44.9", "display": "KOL, uspecificeret"}]}
_CONDITION_REF = {"reference": f"Condition/cond-{CPR_MARK}-kol"}
_LOINC, _ATC = "http://loinc.org", "http://www.whocc.no/atc"
_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_FEV1 = {"system": _LOINC, "code": "20150-9", "display": "FEV1"}
_FEV1_FVC = {"system": _LOINC, "code": "19926-5", "display": "FEV1/FVC"}
_MRC = {"system": _LOINC, "code": "98070-6", "display": "Åndenød, MRC-skala (1-5)"}

Res = dict[str, Any]


def cpr_for(index: int) -> str:
    """The ``index``-th synthetic CPR: a real date from 1930 on, born in the 1900s.

    The 7th digit stays 0-3, so the century is the 1900s whatever the year: 25,000 days
    times 4,000 serial numbers, all distinct and all valid (``DDMMYY`` + 4 digits).
    """
    day = date(1930, 1, 1) + timedelta(days=index % 25_000)
    serial = (index // 25_000) % 4_000
    return f"{day:%d%m%y}{serial:04d}"


def _patient() -> Res:
    return {"identifier": {"system": _CPR_SYSTEM, "value": CPR_MARK}, "display": "Bench Patient"}


def _base(kind: str, rid: str, **fields: Any) -> Res:
    key = "patient" if kind == "Consent" else "subject"
    return {"resourceType": kind, "id": f"{rid}-{CPR_MARK}", key: _patient(), **fields}


def _org(sor: str, name: str) -> Res:
    return {"identifier": {"system": _SOR, "value": sor}, "display": name}


def _condition() -> Res:
    res = _base("Condition", "cond", code={**_COPD, "text": "KOL, moderat (GOLD 2)"})
    res["id"] = f"cond-{CPR_MARK}-kol"
    res["clinicalStatus"] = {"coding": [{"code": "active"}]}
    res["onsetDateTime"] = "2025-03-11T10:15:00+01:00"
    res["recorder"] = {"display": "Lægehuset Søndergade"}
    return res


_APPOINTMENTS = (
    ("booked", "2027-01-18", "10:00", "10:30", "Årskontrol for KOL", "Lægehuset Søndergade"),
    ("fulfilled", "2026-11-05", "09:30", "10:00", "Spirometri", "Lægehuset Søndergade"),
    (
        "proposed",
        "2027-02-13",
        "13:00",
        "14:00",
        "KOL-rehabilitering, forsamtale",
        "Aarhus Kommune",
    ),
    ("cancelled", "2026-12-15", "08:15", "09:00", "Ambulant kontrol", "AUH, Lungemedicin"),
    ("arrived", "2027-01-04", "08:00", "08:45", "Fysioterapi, åndedrætstræning", "Fysio Nord"),
    ("noshow", "2026-12-22", "10:20", "10:35", "Opfølgning hos egen læge", "Lægehuset Søndergade"),
)


def _appointment(n: int, status: str, day: str, start: str, end: str, text: str, who: str) -> Res:
    res = _base("Appointment", f"appt{n}", status=status, description=text)
    res["start"], res["end"] = f"{day}T{start}:00+01:00", f"{day}T{end}:00+01:00"
    res["participant"] = [{"actor": _patient()}, {"actor": {"display": who}}]
    if n % 2:
        res["reasonReference"] = [_CONDITION_REF]
    else:
        res["reasonCode"] = [_COPD if n % 4 else _COPD_ICD]
    return res


_NOTE_TEXT = (
    "FEV1 62 % af forventet, FEV1/FVC 0,61. Let forværring siden sidst. Inhalationsteknik "
    "gennemgået, skiftet til én kombinationsinhalator. Aftalt KOL-rehabilitering i kommunen "
    "og årskontrol om 2 uger. Patienten ryger fortsat 10 cigaretter dagligt; tilbudt rygestop. "
)


def _note(n: int, day: str, title: str, sor: str, org: str) -> Res:
    text = base64.b64encode((_NOTE_TEXT * (n + 1)).encode()).decode()
    res = _base("DocumentReference", f"note{n}", date=f"{day}T14:20:00+01:00", description=title)
    res["author"] = [{"display": org}]
    res["custodian"] = _org(sor, org)
    res["content"] = [{"attachment": {"contentType": "text/plain", "data": text}}]
    res["context"] = {"related": [_CONDITION_REF]} if n % 2 else {"event": [_COPD]}
    return res


def _goal(n: int, text: str, target: Res, due: str) -> Res:
    """A goal; one whose target has a ``measure`` places and targets the values of that code."""
    res = _base("Goal", f"goal{n}", lifecycleStatus="active", description={"text": text})
    res["target"] = [{**target, "dueDate": due}]
    res["addresses"] = [_CONDITION_REF]
    return res


def _risk(n: int, when: str, level: str) -> Res:
    res = _base("RiskAssessment", f"risk{n}", occurrenceDateTime=when, code=_COPD_ICD)
    res["performer"] = {"display": "Lægehuset Søndergade"}
    triage = {"coding": [{"system": "urn:minplan:triage", "code": level}]}
    res["prediction"] = [{"qualitativeRisk": triage}]
    return res


def _pro() -> Res:
    items = [
        {"linkId": "score", "answer": [{"valueDecimal": 2.6}]},
        {"linkId": "package", "answer": [{"valueCoding": _COPD["coding"][0]}]},
    ]
    return _base(
        "QuestionnaireResponse",
        "qr-hl",
        questionnaire="http://minplan.example/Questionnaire/health-literacy",
        authored="2026-10-26T19:30:00+01:00",
        item=items,
    )


def _offer(n: int, status: str, title: str, url: str) -> Res:
    res = _base("ServiceRequest", f"sr{n}", status=status, code={"text": title})
    res["performer"] = [{"display": "Aarhus Kommune, Sundhed og Omsorg"}]
    res["reasonCode"] = [_COPD]
    if n % 2:
        res["extension"] = [{"url": "urn:minplan:offer-url", "valueUrl": url}]
    else:
        res["supportingInfo"] = [{"display": url}]
    return res


def _care_plan() -> Res:
    """The COPD course: coordinated by the GP, one control held and one scheduled."""
    res = _base("CarePlan", "cp", status="active", intent="plan")
    res["created"], res["period"] = "2025-03-20T10:30:00+01:00", {"start": "2025-03-20"}
    res["author"] = _org(_GP, "Lægehuset Søndergade")
    res["addresses"] = [_CONDITION_REF]
    res["category"] = [_COPD]
    review = {"coding": [{"system": "urn:minplan:activity", "code": "review"}]}
    res["activity"] = [
        {"detail": {"code": review, "status": status, "scheduledPeriod": {"start": start}}}
        for status, start in (
            ("completed", "2026-11-05T09:30:00+01:00"),
            ("scheduled", "2027-01-18T10:00:00+01:00"),
        )
    ]
    return res


def _observation(n: int, code: Res, value: float, unit: str, day: str, origin: str) -> Res:
    """A disease value; without a focus (FEV1 here) it goes where a goal measures its code."""
    res = _base("Observation", f"obs{n}", status="final", code={"coding": [code]})
    category = [{"coding": [{"system": _CATEGORY, "code": origin}]}]
    if origin == "home":
        category = [{"coding": [{"system": "urn:minplan:origin", "code": "home"}]}]
    res["category"] = category
    res["valueQuantity"] = {"value": value, "unit": unit}
    res["effectiveDateTime"] = f"{day}T09:45:00+01:00"
    res["performer"] = [{"display": "Lægehuset Søndergade"}]
    if code is not _FEV1:
        res["focus"] = [_CONDITION_REF]
    return res


def _medication(
    n: int, status: str, atc: str, name: str, dose: str, start: str, end: str | None
) -> Res:
    concept = {"coding": [{"system": _ATC, "code": atc}], "text": name}
    res = _base("MedicationStatement", f"med{n}", status=status, medicationCodeableConcept=concept)
    res["effectivePeriod"] = {"start": start, **({"end": end} if end else {})}
    res["dosage"] = [{"text": dose}]
    res["informationSource"] = {"display": "Lægehuset Søndergade"}
    if n % 2:
        res["reasonReference"] = [_CONDITION_REF]
    else:
        res["reasonCode"] = [_COPD if n else _COPD_ICD]
    return res


def _consent() -> Res:
    # A block of the hospital's access to the journal: no effect on the patient's own view
    # or on a GP's, but every clinician read runs the consent rules.
    actor = {"role": {"coding": [{"code": "blocked"}]}, "reference": _org(_HOSPITAL, "AUH")}
    provision = {"type": "deny", "actor": [actor], "class": [{"code": "journal"}]}
    return _base("Consent", "consent", status="active", provision=provision)


def resources() -> dict[tuple[str, str], list[Res]]:
    """Each search's resources for the patient :data:`CPR_MARK`; a new copy per call."""
    url = "https://www.aarhus.dk/borger/sundhed/kol-rehabilitering"
    return {
        ("diagnoses", "Condition"): [_condition()],
        ("appointments", "Appointment"): [_appointment(n, *a) for n, a in enumerate(_APPOINTMENTS)],
        ("journal", "DocumentReference"): [
            _note(0, "2026-11-05", "Spirometri og KOL-status", _GP, "Lægehuset Søndergade"),
            _note(1, "2026-12-10", "Ambulant notat, lungemedicin", _HOSPITAL, "AUH"),
            _note(2, "2026-12-28", "Inhalatorer", _GP, "Lægehuset Søndergade"),
        ],
        ("careplan", "Goal"): [
            _goal(
                0,
                "Gå længere uden at blive forpustet",
                {"detailQuantity": {"value": 400, "comparator": ">=", "unit": "m"}},
                "2027-04-04",
            ),
            _goal(1, "Rygestop", {"detailString": "Røgfri i 6 måneder"}, "2027-07-03"),
            _goal(
                2,
                "Holde lungefunktionen",
                {
                    "measure": {"coding": [_FEV1]},
                    "detailQuantity": {"value": 1.5, "comparator": ">=", "unit": "L"},
                },
                "2027-06-01",
            ),
        ],
        ("careplan", "RiskAssessment"): [
            _risk(0, "2026-09-06T11:00:00+02:00", "yellow"),
            _risk(1, "2026-12-25T11:00:00+01:00", "green"),
        ],
        ("careplan", "CarePlan"): [_care_plan()],
        ("pro", "QuestionnaireResponse"): [_pro()],
        ("prevention", "ServiceRequest"): [
            _offer(0, "active", "KOL-rehabilitering (12 uger)", url),
            _offer(1, "active", "Lungeforeningen: netværk for patienter", "https://www.lunge.dk"),
        ],
        ("consent", "Consent"): [_consent()],
        ("observations", "Observation"): [
            _observation(0, _FEV1, 1.62, "L", "2026-11-05", "exam"),
            _observation(1, _FEV1, 1.41, "L", "2026-05-12", "exam"),
            _observation(2, _FEV1_FVC, 0.61, "%", "2026-11-05", "exam"),
            _observation(3, _MRC, 2, "grade", "2026-12-20", "home"),
        ],
        ("medication", "MedicationStatement"): [
            _medication(
                0,
                "active",
                "R03AC02",
                "Ventoline 0,1 mg/dosis",
                "2 pust ved behov",
                "2025-03-11",
                None,
            ),
            _medication(
                1,
                "active",
                "R03BB04",
                "Spiriva Respimat 2,5 mikrog",
                "2 pust dagligt",
                "2025-04-02",
                None,
            ),
            _medication(
                2,
                "stopped",
                "H02AB06",
                "Prednisolon 25 mg",
                "1 tablet dagligt i 5 dage",
                "2026-12-10",
                "2026-12-15",
            ),
        ],
    }
