"""The demo's synthetic FHIR R4 resources, one list per upstream source.

Each resource carries just the fields the contract says the gateway reads, plus
``resourceType``, ``id`` and the patient (``subject``, or ``patient`` for Consent).
Dates are fixed, as offsets in days from :data:`BASE_DAY`, rendered with the Danish
UTC offset of that day. Some of Sofie Christensen's resources are broken on purpose.
Contract version 2's resources (CarePlan, Observation, MedicationStatement, and Goals that
target values) are in :mod:`demo.data_v2`, which also says where their codes come from.

A resource holding :data:`RAW_RESOURCE_KEY` is a marker, not a resource: the demo server
indexes it like any other but answers with the key's value as the entry's ``resource``
(a string, so an entry whose ``resource`` is not an object).

Example:
    >>> resources = build_resources()
    >>> sorted(resources) == sorted(RESOURCE_TYPES)
    True
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from demo import people as p

__all__ = ["BASE_DAY", "RAW_RESOURCE_KEY", "RESOURCE_TYPES", "build_resources"]

RESOURCE_TYPES: dict[str, tuple[str, ...]] = {
    "diagnoses": ("Condition",),
    "appointments": ("Appointment",),
    "journal": ("DocumentReference",),
    "careplan": ("Goal", "RiskAssessment", "CarePlan"),
    "pro": ("QuestionnaireResponse",),
    "prevention": ("ServiceRequest",),
    "consent": ("Consent",),
    "observations": ("Observation",),
    "medication": ("MedicationStatement",),
}
"""Source name → the FHIR resource types it serves."""

RAW_RESOURCE_KEY = "_demo_raw_resource"
BASE_DAY = date(2027, 1, 4)  # the Monday the first packages (COPD, low back pain) start

CPR, SOR = "urn:oid:1.2.208.176.1.2", "urn:oid:1.2.208.176.1.1"
ICD10, SKS = "http://hl7.org/fhir/sid/icd-10", "urn:oid:1.2.208.176.2.4"
_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
_HEALTH_LITERACY = "http://minplan.example/Questionnaire/health-literacy"
_HANDBOOK = "https://www.sundhed.dk/borger/patienthaandbogen"

Res = dict[str, Any]
Codes = Sequence[Res]
Link = Codes | str | None  # diagnosis codings, a Condition id, or nothing (→ unassigned)

KAREN, JENS, BIRGIT, METTE = p.PATIENT_COPD, p.PATIENT_LBP, p.PATIENT_BOTH, p.PROXY_OF_BOTH
OLE, LIS, HENRIK = p.PATIENT_NONE, p.PATIENT_BLOCKS, p.PATIENT_DIABETES_HEART
SOFIE, PETER = p.PATIENT_BROKEN, p.PATIENT_MANY
GP, HOSP, MUNI, PHYSIO = p.ORG_GP, p.ORG_HOSPITAL, p.ORG_MUNICIPALITY, p.ORG_PHYSIO


def _c(system: str, code: str, display: str) -> Res:
    return {"system": system, "code": code, "display": display}


COPD = (_c(ICD10, "J44.9", "Kronisk obstruktiv lungesygdom, uspecificeret"),)
COPD_SKS = (_c(SKS, "DJ449", "Kronisk obstruktiv lungesygdom UNS"),)
COPD_EXAC = (_c(ICD10, "J44.1", "KOL med akut eksacerbation"), _c(SKS, "DJ441", "KOL, eksacerb."))
LBP = (_c(ICD10, "M54.5", "Lænderygsmerter"),)
LBP_SKS = (_c(SKS, "DM545", "Lændesmerter"),)
T2D = (_c(ICD10, "E11.9", "Type 2-diabetes uden komplikationer"), _c(SKS, "DE119", "Type 2-dm."))
HEART_SKS = (_c(SKS, "DI251", "Aterosklerotisk hjertesygdom"),)
HTN = (_c(ICD10, "I10", "Essentiel hypertension"),)


def _offset(day: date) -> str:
    # Danish summer time runs from the last Sunday of March to the last Sunday of October.
    def last_sunday(month: int) -> date:
        end = date(day.year, month, 31)
        return end - timedelta(days=(end.weekday() + 1) % 7)

    return "+02:00" if last_sunday(3) <= day < last_sunday(10) else "+01:00"


def _at(days: int, hhmm: str = "09:00", minutes: int = 0) -> str:
    """The ISO 8601 time ``days`` after BASE_DAY at local ``hhmm``, plus ``minutes``."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    when = datetime(BASE_DAY.year, BASE_DAY.month, BASE_DAY.day, hour, minute)
    when += timedelta(days=days, minutes=minutes)
    return when.isoformat() + _offset(when.date())


def _patient(cpr: str) -> Res:
    return {"identifier": {"system": CPR, "value": cpr}, "display": p.PATIENTS[cpr]}


def _actor(who: str) -> Res:
    if who in p.ORGS:
        return {"identifier": {"system": SOR, "value": who}, "display": p.ORGS[who]}
    return {"display": who}


def _base(kind: str, rid: str, cpr: str, **fields: Any) -> Res:
    key = "patient" if kind == "Consent" else "subject"
    return {"resourceType": kind, "id": rid, key: _patient(cpr), **fields}


def _condition(
    rid: str, cpr: str, codes: Codes, text: str, days: int, org: str, status: str = "active"
) -> Res:
    return _base(
        "Condition",
        rid,
        cpr,
        clinicalStatus={"coding": [{"system": _CLINICAL, "code": status}]},
        code={"coding": list(codes), "text": text},
        onsetDateTime=_at(days, "10:15"),
        recorder={"display": p.ORGS[org]},
    )


def _appointment(
    rid: str,
    cpr: str,
    status: str,
    days: int,
    hhmm: str,
    minutes: int,
    text: str,
    who: str,
    link: Link,
) -> Res:
    res = _base("Appointment", rid, cpr, status=status, description=text)
    res["start"], res["end"] = _at(days, hhmm), _at(days, hhmm, minutes)
    res["participant"] = [{"actor": _patient(cpr)}, {"actor": _actor(who)}]
    if isinstance(link, str):
        res["reasonReference"] = [{"reference": f"Condition/{link}"}]
    elif link:
        res["reasonCode"] = [{"coding": list(link)}]
    return res


def _note(
    rid: str, cpr: str, days: int, title: str, org: str, link: Link, withheld: bool, text: str
) -> Res:
    data = base64.b64encode(text.encode()).decode()
    res = _base("DocumentReference", rid, cpr, date=_at(days, "14:20"), description=title)
    res["author"] = [{"display": p.ORGS[org]}]
    res["custodian"] = {"identifier": {"system": SOR, "value": org}, "display": p.ORGS[org]}
    res["content"] = [{"attachment": {"contentType": "text/plain", "data": data}}]
    if isinstance(link, str):
        res["context"] = {"related": [{"reference": f"Condition/{link}"}]}
    elif link:
        res["context"] = {"event": [{"coding": list(link)}]}
    if withheld:
        res["securityLabel"] = [{"coding": [{"system": _CONFIDENTIALITY, "code": "R"}]}]
    return res


def _goal(
    rid: str, cpr: str, status: str, text: str, target: float | str, due: int, cond: str
) -> Res:
    aim: Res = {"dueDate": _at(due)[:10]}
    if isinstance(target, str):
        aim["detailString"] = target
    else:
        aim["detailQuantity"] = {"value": target, "comparator": ">=", "unit": "m"}
    res = _base("Goal", rid, cpr, lifecycleStatus=status, description={"text": text})
    res["target"] = [aim]
    if cond:
        res["addresses"] = [{"reference": f"Condition/{cond}"}]
    return res


def _risk(rid: str, cpr: str, days: int, level: str, codes: Codes, org: str = GP) -> Res:
    return _base(
        "RiskAssessment",
        rid,
        cpr,
        occurrenceDateTime=_at(days, "11:00"),
        performer={"display": p.ORGS[org]},
        code={"coding": list(codes)},
        prediction=[
            {"qualitativeRisk": {"coding": [{"system": "urn:minplan:triage", "code": level}]}}
        ],
    )


def _pro(rid: str, cpr: str, days: int, score: float | int, package: Res) -> Res:
    answer = {"valueInteger": score} if isinstance(score, int) else {"valueDecimal": score}
    items: list[Res] = [{"linkId": "score", "answer": [answer]}]
    items.append({"linkId": "package", "answer": [{"valueCoding": package}]})
    return _base(
        "QuestionnaireResponse",
        rid,
        cpr,
        questionnaire=_HEALTH_LITERACY,
        authored=_at(days, "19:30"),
        item=items,
    )


def _offer(
    rid: str, cpr: str, status: str, title: str, who: str, codes: Codes, url: str, ext: bool
) -> Res:
    res = _base("ServiceRequest", rid, cpr, status=status, code={"text": title})
    res["performer"] = [{"display": p.ORGS.get(who, who)}]
    if codes:
        res["reasonCode"] = [{"coding": list(codes)}]
    if ext:
        res["extension"] = [{"url": "urn:minplan:offer-url", "valueUrl": url}]
    else:
        res["supportingInfo"] = [{"display": url}]
    return res


def _consent(
    rid: str, cpr: str, status: str, kind: str, actor: str, role: Res, classes: Sequence[str]
) -> Res:
    system = CPR if actor in p.PATIENTS else SOR
    name = p.PATIENTS.get(actor) or p.ORGS[actor]
    who = {"identifier": {"system": system, "value": actor}, "display": name}
    provision: Res = {"type": kind, "actor": [{"role": {"coding": [role]}, "reference": who}]}
    if classes:
        provision["class"] = [{"code": c} for c in classes]
    return _base("Consent", rid, cpr, status=status, provision=provision)


# Tables of rows, one per resource; laid out by hand, so the formatter keeps off them.
# fmt: off
_CONDITIONS: list[tuple[Any, ...]] = [
    ("cond-karen-kol", KAREN, COPD + COPD_SKS, "Kronisk obstruktiv lungesygdom (KOL)", -300, GP),
    ("cond-jens-lrs", JENS, LBP_SKS, "Kroniske lænderygsmerter", -200, GP),
    ("cond-birgit-kol", BIRGIT, COPD_EXAC, "KOL med tilbagevendende eksacerbationer", -330, HOSP),
    ("cond-birgit-lrs", BIRGIT, LBP, "Lænderygsmerter, uspecifikke", -150, GP),
    ("cond-ole-kol", OLE, COPD, "Mistanke om KOL, afkræftet ved spirometri", -240, GP, "resolved"),
    ("cond-ole-htn", OLE, HTN, "Forhøjet blodtryk", -270, GP),
    ("cond-lis-kol", LIS, COPD_SKS, "KOL, moderat (GOLD 2)", -310, HOSP),
    ("cond-henrik-dm2", HENRIK, T2D, "Type 2-diabetes", -350, GP),
    ("cond-henrik-ihd", HENRIK, HEART_SKS, "Iskæmisk hjertesygdom (stabil angina)", -120, HOSP),
    ("cond-sofie-lrs", SOFIE, LBP + LBP_SKS, "Lænderygsmerter", -90, GP),
    ("cond-peter-kol", PETER, COPD + COPD_SKS, "KOL, svær (GOLD 3)", -365, HOSP),
]

_APPOINTMENTS: list[tuple[Any, ...]] = [
    ("appt-karen-spiro", KAREN, "fulfilled", -60, "09:30", 30,
     "Lungefunktionsmåling (spirometri)", GP, COPD),
    ("appt-karen-control", KAREN, "booked", 14, "10:00", 30, "Årskontrol for KOL", GP, COPD_SKS),
    ("appt-karen-rehab", KAREN, "proposed", 40, "13:00", 60,
     "KOL-rehabilitering, forsamtale", MUNI, COPD),
    ("appt-karen-ward", KAREN, "cancelled", -20, "08:15", 45,
     "Ambulant kontrol", "Aarhus Universitetshospital, Lungemedicinsk Ambulatorium", COPD),
    ("appt-karen-error", KAREN, "entered-in-error", 5, "09:00", 15, "Fejlbooking", GP, COPD),
    ("appt-karen-flu", KAREN, "fulfilled", -90, "11:40", 10, "Influenzavaccination", GP, None),
    ("appt-jens-physio-1", JENS, "fulfilled", -30, "15:00", 45,
     "Fysioterapi, første konsultation og undersøgelse", PHYSIO, LBP_SKS),
    ("appt-jens-physio-2", JENS, "arrived", 0, "08:00", 45,
     "Fysioterapi, individuel træning", PHYSIO, LBP_SKS),
    ("appt-jens-back-class", JENS, "waitlist", 20, "16:30", 60,
     "Holdtræning for ryggen", "Fysioterapi Nord, holdtræning", LBP),
    ("appt-jens-gp", JENS, "noshow", -10, "10:20", 15,
     "Opfølgning hos egen læge", GP, LBP_SKS),
    ("appt-jens-licence", JENS, "booked", 35, "14:00", 15,
     "Lægeerklæring til kørekortfornyelse", GP, None),
    ("appt-birgit-ward", BIRGIT, "booked", 21, "09:45", 45, "Lungemedicinsk kontrol",
     "Aarhus Universitetshospital, Lungemedicinsk Ambulatorium", "cond-birgit-kol"),
    ("appt-birgit-physio", BIRGIT, "pending", 10, "12:00", 45,
     "Fysioterapi, genoptræning af ryggen", PHYSIO, "cond-birgit-lrs"),
    ("appt-birgit-plan", BIRGIT, "checked-in", 0, "10:30", 30,
     "Samtale om forløbsplan", GP, COPD),
    ("appt-birgit-rehab", BIRGIT, "fulfilled", -45, "13:00", 90,
     "KOL-rehabilitering, holdtræning", MUNI, "cond-birgit-kol"),
    ("appt-ole-bp", OLE, "booked", 30, "08:40", 15, "Blodtrykskontrol", GP, HTN),
    ("appt-ole-spiro", OLE, "fulfilled", -235, "09:00", 30,
     "Lungefunktionsmåling (spirometri)", GP, "cond-ole-kol"),
    ("appt-lis-ward", LIS, "booked", 7, "11:15", 30,
     "Lungemedicinsk kontrol med iltmætning", HOSP, COPD_SKS),
    ("appt-lis-physio", LIS, "booked", 12, "14:00", 45,
     "Fysioterapi, åndedrætstræning", PHYSIO, COPD),
    ("appt-lis-gp", LIS, "fulfilled", -15, "09:10", 20, "Konsultation om inhalatorer", GP, COPD),
    ("appt-henrik-hba1c", HENRIK, "booked", 25, "08:00", 15,
     "Diabeteskontrol med blodprøver (HbA1c)", GP, T2D),
    ("appt-henrik-echo", HENRIK, "proposed", 60, "10:00", 45,
     "Ekkokardiografi", "Aarhus Universitetshospital, Hjertesygdomme", HEART_SKS),
    ("appt-henrik-eyes", HENRIK, "cancelled", -5, "13:30", 30,
     "Øjenscreening for diabetes", "Øjenlægerne Ryesgade", "cond-henrik-dm2"),
    ("appt-sofie-physio", SOFIE, "booked", 9, "07:45", 45, "Fysioterapi for ryggen", PHYSIO, LBP),
]

_NOTES: list[tuple[Any, ...]] = [
    ("note-karen-spiro", KAREN, -60, "Spirometri og KOL-status", GP, COPD, False,
     "FEV1 62 % af forventet, FEV1/FVC 0,61. Let forværring siden sidst. Inhalationsteknik "
     "gennemgået. Aftalt KOL-rehabilitering i kommunen og årskontrol om 2 uger."),
    ("note-karen-family", KAREN, -55, "Samtale om pårørendeforhold", GP, COPD, True,
     "Patienten fortæller om belastning i hjemmet. Noteres kun til eget brug."),
    ("note-karen-ward", KAREN, -25, "Ambulant notat, lungemedicin", HOSP, "cond-karen-kol", False,
     "Stabil KOL uden eksacerbationer i år. Fortsætter LAMA/LABA. Ny kontrol om 6 måneder."),
    ("note-karen-ward-internal", KAREN, -24, "Intern vurdering", HOSP, "cond-karen-kol", True,
     "Overvejer henvisning til udredning for iltbehandling; drøftes på konference først."),
    ("note-jens-physio", JENS, -30, "Fysioterapeutisk undersøgelse", PHYSIO, LBP_SKS, False,
     "Nedsat bevægelighed i lænden, ingen neurologiske udfald. Plan: 8 ugers træning, "
     "daglige øvelser hjemme og gåture."),
    ("note-jens-licence", JENS, -3, "Kørekort", GP, None, False,
     "Forespørgsel om lægeerklæring til fornyelse af kørekort. Tid bestilt."),
    ("note-birgit-back", BIRGIT, -60, "Rygsmerter, opfølgning", GP, "cond-birgit-lrs", False,
     "Smerterne er aftaget efter genoptræning. Fortsætter øvelser. Henvist til fysioterapi."),
    ("note-birgit-ward", BIRGIT, -40, "Udskrivningsnotat", HOSP, "cond-birgit-kol", False,
     "Indlagt 3 døgn med eksacerbation af KOL. Behandlet med prednisolon og antibiotika. "
     "Udskrevet i habituel tilstand; opfølgning hos egen læge inden for 2 uger."),
    ("note-birgit-private", BIRGIT, -38, "Opfølgning efter indlæggelse", GP, "cond-birgit-kol",
     True, "Drøftet bekymringer om fremtiden. Noteres ikke til deling."),
    ("note-ole-bp", OLE, -20, "Blodtryk", GP, HTN, False,
     "Hjemmeblodtryk 142/88 i gennemsnit. Øger amlodipin til 10 mg. Kontrol om en måned."),
    ("note-lis-ward", LIS, -35, "Ambulant notat", HOSP, COPD_SKS, False,
     "Iltmætning 93 % i hvile. Ingen behov for iltbehandling. Fortsætter nuværende behandling."),
    ("note-lis-gp", LIS, -15, "Inhalatorer", GP, COPD, False,
     "Skiftet til én kombinationsinhalator for at lette behandlingen."),
    ("note-lis-physio", LIS, -10, "Åndedrætstræning", PHYSIO, COPD, False,
     "Instrueret i læbepust og sekretmobilisering. Træner to gange ugentligt."),
    ("note-henrik-dm", HENRIK, -18, "Årsstatus for diabetes", GP, T2D, False,
     "HbA1c 58 mmol/mol. Fodundersøgelse normal. Henvist til diabetesskole i kommunen."),
    ("note-henrik-heart", HENRIK, -100, "Kardiologisk vurdering", HOSP, HEART_SKS, False,
     "Stabil angina pectoris. Startet på statin og acetylsalicylsyre. Hjerterehabilitering."),
    ("note-sofie-back", SOFIE, -12, "Lænderygsmerter", GP, "cond-sofie-lrs", False,
     "Smerter med udstråling til venstre ben, ingen røde flag. Henvist til fysioterapi."),
    ("note-peter-plan", PETER, -7, "Forløbsplan for KOL", GP, COPD, False,
     "Aftalt ugentlig træning i kommunen og mål om 500 meters gang. Triage: gul."),
]

_GOALS: list[tuple[Any, ...]] = [
    ("goal-karen-walk", KAREN, "active", "Gå længere uden at blive forpustet", 400.0, 90,
     "cond-karen-kol"),
    ("goal-karen-smoke", KAREN, "active", "Rygestop", "Røgfri i 6 måneder", 180, "cond-karen-kol"),
    ("goal-karen-weight", KAREN, "accepted", "Vægttab", "Tabe 3 kg", 120, ""),
    ("goal-jens-walk", JENS, "active", "Gåtur 30 min dagligt", "30 min dagligt", 60,
     "cond-jens-lrs"),
    ("goal-birgit-walk", BIRGIT, "active", "Gå til købmanden uden pause", 250.0, 75,
     "cond-birgit-kol"),
    ("goal-birgit-garden", BIRGIT, "on-hold", "Kunne arbejde i haven igen", "2 timer ad gangen",
     150, "cond-birgit-lrs"),
    ("goal-ole-bp", OLE, "active", "Blodtryk i behandlingsmål", "Under 135/85 hjemme", 60,
     "cond-ole-htn"),
    ("goal-lis-walk", LIS, "active", "Daglig gåtur", 600.0, 100, "cond-lis-kol"),
    ("goal-henrik-hba1c", HENRIK, "active", "Bedre blodsukker", "HbA1c under 53 mmol/mol", 180,
     "cond-henrik-dm2"),
    ("goal-henrik-bp", HENRIK, "active", "Lavere blodtryk", "Under 130/80", 90,
     "cond-henrik-ihd"),
    ("goal-sofie-work", SOFIE, "active", "Tilbage på fuld tid", "37 timer om ugen", 90,
     "cond-sofie-lrs"),
    ("goal-peter-walk", PETER, "completed", "Gå 500 meter uden pause", 500.0, -14,
     "cond-peter-kol"),
]

_RISKS: list[tuple[Any, ...]] = [
    ("risk-karen-1", KAREN, -120, "yellow", COPD),
    ("risk-karen-2", KAREN, -10, "green", COPD),
    ("risk-jens-1", JENS, -25, "green", LBP_SKS),
    ("risk-birgit-kol-1", BIRGIT, -150, "green", COPD_EXAC),
    ("risk-birgit-kol-2", BIRGIT, -70, "yellow", COPD_EXAC),
    ("risk-birgit-kol-3", BIRGIT, -5, "red", COPD_EXAC),
    ("risk-birgit-lrs-1", BIRGIT, -40, "green", LBP),
    ("risk-lis-1", LIS, -30, "yellow", COPD_SKS),
    ("risk-henrik-dm-1", HENRIK, -20, "yellow", T2D),
    ("risk-sofie-1", SOFIE, -12, "green", LBP),
    ("risk-peter-1", PETER, -100, "red", COPD),
    ("risk-peter-2", PETER, -3, "yellow", COPD),
]

_PROS: list[tuple[Any, ...]] = [
    ("qr-karen-hl", KAREN, -70, 2.6, COPD[0]),
    ("qr-jens-hl", JENS, -28, 3.4, LBP_SKS[0]),
    ("qr-birgit-hl-1", BIRGIT, -160, 2.1, COPD_EXAC[1]),
    ("qr-birgit-hl-2", BIRGIT, -20, 3.0, COPD_EXAC[1]),
    ("qr-henrik-hl", HENRIK, -22, 3, T2D[0]),
    ("qr-peter-hl", PETER, -101, 1.8, COPD[0]),
]

_OFFERS: list[tuple[Any, ...]] = [
    ("sr-karen-rehab", KAREN, "active", "KOL-rehabilitering (12 uger)", MUNI, COPD,
     "https://www.aarhus.dk/borger/sundhed/kol-rehabilitering", True),
    ("sr-karen-smoke", KAREN, "completed", "Rygestopkursus", MUNI, COPD,
     "https://www.stoplinien.dk", False),
    ("sr-karen-association", KAREN, "active", "Lungeforeningen: netværk for patienter",
     "Lungeforeningen", COPD, "https://www.lunge.dk", False),
    ("sr-jens-backschool", JENS, "active", "Rygskole: viden og øvelser for ryggen", MUNI, LBP_SKS,
     f"{_HANDBOOK}/knogler-muskler-og-led/sygdomme/ryg/laenderygsmerter/", True),
    ("sr-birgit-rehab", BIRGIT, "revoked", "KOL-rehabilitering (afbrudt ved indlæggelse)", MUNI,
     COPD_EXAC, "https://www.aarhus.dk/borger/sundhed/kol-rehabilitering", True),
    ("sr-birgit-app", BIRGIT, "active", "Anbefalet app: træning for ryggen", "Sundhed.dk", LBP,
     "https://www.sundhed.dk/borger/guides/sundhedsapps/", False),
    ("sr-ole-exercise", OLE, "active", "Motion på recept", MUNI, HTN,
     "https://www.aarhus.dk/borger/sundhed/motion", True),
    ("sr-lis-rehab", LIS, "active", "KOL-rehabilitering (8 uger)", MUNI, COPD_SKS,
     "https://www.aarhus.dk/borger/sundhed/kol-rehabilitering", True),
    ("sr-henrik-school", HENRIK, "active", "Diabetesskole", MUNI, T2D,
     "https://www.diabetes.dk/diabetesskole", False),
    ("sr-henrik-heart", HENRIK, "on-hold", "Hjerterehabilitering", HOSP, HEART_SKS,
     "https://hjerteforeningen.dk/hjerterehabilitering", True),
    ("sr-sofie-backschool", SOFIE, "active", "Rygskole", MUNI, LBP,
     f"{_HANDBOOK}/knogler-muskler-og-led/sygdomme/ryg/laenderygsmerter/", False),
    ("sr-peter-rehab", PETER, "completed", "KOL-rehabilitering (12 uger)", MUNI, COPD,
     "https://www.aarhus.dk/borger/sundhed/kol-rehabilitering", True),
]
# fmt: on

_PROXY = {"code": "proxy", "display": "Fuldmagt"}
_BLOCKED = {"code": "blocked", "display": "Spærret"}
_PRCP = {"system": _PARTICIPATION, "code": "PRCP", "display": "primary information recipient"}


def _consents() -> list[Res]:
    return [
        _consent("consent-birgit-proxy", BIRGIT, "active", "permit", METTE, _PROXY, ()),
        _consent("consent-karen-proxy-old", KAREN, "inactive", "permit", METTE, _PROXY, ()),
        _consent("consent-lis-hospital", LIS, "active", "deny", HOSP, _BLOCKED, ["journal"]),
        _consent("consent-lis-physio", LIS, "active", "deny", PHYSIO, _PRCP, ()),
        _consent("consent-lis-gp-old", LIS, "inactive", "deny", GP, _BLOCKED, ()),
    ]


def _many_appointments() -> list[Res]:
    # Peter's weekly training: 45 weeks, so a search at page size 20 has three pages.
    rows: list[Res] = []
    for week in range(45):
        days = -140 + 7 * week
        status = "booked" if days >= 0 else "fulfilled"
        if days < 0 and week % 7 == 3:
            status = "noshow"
        elif days < 0 and week % 11 == 5:
            status = "cancelled"
        text = f"KOL-rehabilitering, holdtræning (uge {week + 1})"
        rid = f"appt-peter-{week + 1:02d}"
        rows.append(_appointment(rid, PETER, status, days, "10:00", 60, text, MUNI, COPD))
    return rows


def _broken() -> dict[str, list[Res]]:
    """Sofie's resources that the gateway must skip and count, each still searchable."""
    nocode = _condition("cond-sofie-nocode", SOFIE, LBP, "Rygsmerter", -80, GP)
    del nocode["code"]
    bogus = _appointment(
        "appt-sofie-bogus", SOFIE, "bogus-status", 16, "10:00", 30, "Opfølgning", GP, LBP
    )
    raw = _base("Appointment", "appt-sofie-raw", SOFIE)
    raw[RAW_RESOURCE_KEY] = "Appointment/appt-sofie-raw: <afkortet>"
    badb64 = _note("note-sofie-badbase64", SOFIE, -6, "Telefonkonsultation", GP, LBP, False, "")
    badb64["content"][0]["attachment"]["data"] = "***ikke base64***"
    nodesc = _goal("goal-sofie-nodesc", SOFIE, "active", "Cykle", "5 km", 30, "cond-sofie-lrs")
    del nodesc["description"]
    purple = _risk("risk-sofie-purple", SOFIE, -2, "purple", LBP)
    nocode_offer = _offer("sr-sofie-nocode", SOFIE, "active", "Rygskole", MUNI, LBP, "", False)
    del nocode_offer["code"]
    return {
        "diagnoses": [nocode],
        "appointments": [bogus, raw],
        "journal": [badb64],
        "careplan": [nodesc, purple],
        "prevention": [nocode_offer],
    }


def build_resources() -> dict[str, list[Res]]:
    """Every demo resource, by source name; a new, independent copy on every call.

    Returns:
        ``{source: [resource, ...]}`` for every source of :data:`RESOURCE_TYPES`.
    """
    resources: dict[str, list[Res]] = {
        "diagnoses": [_condition(*r) for r in _CONDITIONS],
        "appointments": [_appointment(*r) for r in _APPOINTMENTS],
        "journal": [_note(*r) for r in _NOTES],
        "careplan": [_goal(*r) for r in _GOALS] + [_risk(*r) for r in _RISKS],
        "pro": [_pro(*r) for r in _PROS],
        "prevention": [_offer(*r) for r in _OFFERS],
        "consent": _consents(),
    }
    resources["appointments"] += _many_appointments()
    resources["pro"].append(_unrelated_questionnaire())
    for source, extra in _broken().items():
        resources[source] += extra
    # Contract v2 (courses, values, medication) lives beside this module; it builds on its
    # helpers, so it is imported here rather than at the top.
    from demo.data_v2 import build_v2_resources

    for source, extra in build_v2_resources().items():
        resources.setdefault(source, []).extend(extra)
    # The code tables share their coding dicts; a caller may mutate what it gets.
    return copy.deepcopy(resources)


def _unrelated_questionnaire() -> Res:
    res = _pro("qr-karen-cat", KAREN, -70, 18, COPD[0])
    res["questionnaire"] = "http://minplan.example/Questionnaire/copd-assessment-test"
    res["item"] = [{"linkId": "total", "answer": [{"valueInteger": 18}]}]
    return res
