"""Never leak: random patients, items, labels, consents and viewers; no denied item comes back.

The oracle below is written from contract §3 alone, not from ``plans.consent``:

- a citizen sees their own plan, or another's with an active ``permit`` Consent whose
  ``proxy`` actor carries their CPR; never a withheld item;
- a clinician sees no withheld item unless their organisation (SOR) is its custodian, and
  nothing of a section an active ``deny`` Consent naming their organisation covers (all
  sections when it names none), unless they give an ``emergencyReason``;
- triage, health literacy and the course are part of the care plan's agreements
  (``goals``), and a class the gateway does not know blocks everything: both fail closed;
- (v2) values (``measurements``) and medicines (``medication``) are sections of their own;
  a value's ``target`` is the target text of a goal the viewer may see, never another's
  (each goal here has a target text of its own, so the text names the goal).
- (v2) follow-up alerts (contract §5) are raised only when every section their rule reads is
  visible: no alert carries an item the viewer may not see, and none names one in its text
  (appointments, values and courses carry their id in what the text quotes: the actor,
  the value's name, the coordinator); HIGH priority only from a triage the viewer may see.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from core.localtime import fixed_day_clock
from tests.conftest import MakeGateway

CPR_SYS, SOR_SYS = "urn:oid:1.2.208.176.1.2", "urn:oid:1.2.208.176.1.1"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
CPRS = ("0101521234", "2307481234", "1508791234")
ORGS = ("380101000016003", "265161000016000", "469401000016002")
STRANGER_ORG = "999901000016009"
CLASSES = ("diagnoses", "appointments", "journal", "goals", "prevention", "measurements",
           "medication")  # fmt: skip
FEV1 = ("http://loinc.org", "20150-9")
#: FHIR type → (source, consent class).
KINDS: dict[str, tuple[str, str]] = {
    "Condition": ("diagnoses", "diagnoses"),
    "Appointment": ("appointments", "appointments"),
    "DocumentReference": ("journal", "journal"),
    "Goal": ("careplan", "goals"),
    "RiskAssessment": ("careplan", "goals"),
    "QuestionnaireResponse": ("pro", "goals"),
    "ServiceRequest": ("prevention", "prevention"),
    "CarePlan": ("careplan", "goals"),
    "Observation": ("observations", "measurements"),
    "MedicationStatement": ("medication", "medication"),
}
#: Items that, when visible, always show (the rest show only as the latest or best of their
#: kind in a package: triage, health literacy, the course).
ALWAYS_SHOWN = {"Appointment", "DocumentReference", "Goal", "ServiceRequest", "Observation",
                "MedicationStatement"}  # fmt: skip
#: The consent classes each alert kind reads (contract §5's table).
ALERT_READS: dict[str, set[str]] = {
    "NO_SHOW": {"appointments"}, "NOT_REBOOKED": {"appointments"}, "REVIEW_OVERDUE": {"goals"},
    "NO_PLAN": {"diagnoses", "goals"}, "NO_TRIAGE": {"goals"},
    "OFF_TARGET": {"goals", "measurements"},
}  # fmt: skip
#: "Today" for the alerts: every item here is dated 4 January 2027, some days before.
ALERT_DAY = date(2027, 1, 10)
#: An Appointment's status, and whether a CarePlan's control is overdue, by ``variant``.
APPOINTMENT_STATUSES = ("booked", "noshow", "cancelled")


@dataclass(frozen=True)
class Item:
    kind: str
    code: str | None
    withheld: bool
    label_in_meta: bool
    custodian: tuple[str, str] | None  # (system, value); only DocumentReference carries one
    active: bool
    variant: int = 0  # an Appointment's status; a CarePlan's control overdue when odd


@dataclass(frozen=True)
class ConsentSpec:
    active: bool
    kind: str
    actor: tuple[str, str]
    role: str | None
    classes: tuple[str, ...]


@dataclass(frozen=True)
class Viewer:
    cpr: str | None
    org: str | None
    reason: str | None


items = st.builds(
    Item,
    kind=st.sampled_from(sorted(KINDS)),
    code=st.sampled_from([None, "J44.9", "M54.5", "I10"]),
    withheld=st.booleans(),
    label_in_meta=st.booleans(),
    custodian=st.sampled_from([None, *((SOR_SYS, o) for o in ORGS), ("urn:other", ORGS[0])]),
    active=st.booleans(),
    variant=st.integers(0, 2),
)
consents = st.builds(
    ConsentSpec,
    active=st.booleans(),
    kind=st.sampled_from(["deny", "permit"]),
    actor=st.sampled_from([(CPR_SYS, c) for c in CPRS] + [(SOR_SYS, o) for o in ORGS]),
    role=st.sampled_from(["proxy", "proxy", "blocked", None]),
    classes=st.lists(st.sampled_from([*CLASSES, "x-ukendt"]), max_size=3).map(tuple),
)
clinicians = st.builds(
    Viewer,
    cpr=st.none(),
    org=st.sampled_from([*ORGS, STRANGER_ORG]),
    reason=st.sampled_from([None, None, "Akut, bevidstløs", "   "]),
)
citizens = st.builds(
    Viewer, cpr=st.sampled_from(CPRS), org=st.none(), reason=st.sampled_from([None, None, "Akut"])
)
viewers = clinicians | citizens
patients = st.fixed_dictionaries(
    {cpr: st.tuples(st.lists(items, max_size=8), st.lists(consents, max_size=4)) for cpr in CPRS}
)


# -- the oracle ---------------------------------------------------------------------------


def may_read(viewer: Viewer, patient: str, rules: list[ConsentSpec]) -> bool:
    if viewer.org is not None:
        return viewer.reason is None or bool(viewer.reason.strip())
    if viewer.reason is not None:
        return False  # emergencyReason is for clinicians
    return viewer.cpr == patient or any(
        c.active and c.kind == "permit" and c.role == "proxy" and c.actor == (CPR_SYS, viewer.cpr)
        for c in rules
    )


def denied_classes(viewer: Viewer, rules: list[ConsentSpec]) -> set[str]:
    if viewer.org is None or viewer.reason is not None:
        return set()
    denied: set[str] = set()
    for c in rules:
        if c.active and c.kind == "deny" and c.actor == (SOR_SYS, viewer.org):
            unknown = any(k not in CLASSES for k in c.classes)
            denied |= set(CLASSES) if not c.classes or unknown else set(c.classes)
    return denied


def may_see(viewer: Viewer, item: Item, denied: set[str]) -> bool:
    if KINDS[item.kind][1] in denied:
        return False
    if not item.withheld:
        return True
    custodian = item.custodian if item.kind == "DocumentReference" else None
    return viewer.org is not None and custodian == (SOR_SYS, viewer.org)


# -- FHIR resources -------------------------------------------------------------------------


def identifier(pair: tuple[str, str]) -> dict[str, str]:
    return {"system": pair[0], "value": pair[1]}


def coding(code: str | None) -> list[dict[str, Any]]:
    return [{"coding": [{"system": ICD10, "code": code}]}] if code else []


def goal_target(rid: str) -> str:
    """The target text of goal ``rid``: its own, so a value's target names the goal."""
    _kind, patient, n = rid.split("-")
    return f"≥ {int(patient) * 100 + int(n) + 1} L"


def resource(rid: str, cpr: str, item: Item, conditions: list[str]) -> dict[str, Any]:
    """``conditions``: the patient's Condition ids; Goals address them all, and an Observation
    with a code has them as its focus (one without is placed by the goals)."""
    res: dict[str, Any] = {"resourceType": item.kind, "id": rid}
    refs = [{"reference": f"Condition/{c}"} for c in conditions]
    res["subject"] = {"identifier": {"system": CPR_SYS, "value": cpr}}
    at = "2027-01-04T09:00:00+01:00"
    if item.kind == "Condition":
        res["code"] = {"coding": [{"system": ICD10, "code": item.code or "Z00.0"}]}
        res["clinicalStatus"] = {"coding": [{"code": "active" if item.active else "resolved"}]}
        res["onsetDateTime"] = "2026-06-01"  # long enough ago for NO_PLAN
    elif item.kind == "Appointment":
        status = APPOINTMENT_STATUSES[item.variant % len(APPOINTMENT_STATUSES)]
        res |= {"status": status, "start": at, "reasonCode": coding(item.code)}
        res["participant"] = [{"actor": {"display": f"Klinik {rid}"}}]  # alert texts quote it
    elif item.kind == "DocumentReference":
        text = base64.b64encode(f"Notat {rid}".encode()).decode()
        res |= {"date": at, "content": [{"attachment": {"data": text}}]}
        res["context"] = {"event": coding(item.code)}
        if item.custodian:
            res["custodian"] = {"identifier": identifier(item.custodian)}
    elif item.kind == "Goal":
        res |= {"lifecycleStatus": "active", "description": {"text": f"Mål {rid}"}}
        aim = float(goal_target(rid).split()[1])
        measure = {"coding": [{"system": FEV1[0], "code": FEV1[1]}]}
        quantity = {"value": aim, "comparator": ">=", "unit": "L"}
        res |= {"addresses": refs, "target": [{"measure": measure, "detailQuantity": quantity}]}
    elif item.kind == "CarePlan":
        res |= {"status": "active", "intent": "plan", "created": at, "category": coding(item.code)}
        res["author"] = {"display": f"Koordinator {rid}"}  # REVIEW_OVERDUE's text quotes it
        if item.variant % 2:
            review = {"system": "urn:minplan:activity", "code": "review"}
            detail = {"code": {"coding": [review]}, "status": "scheduled",
                      "scheduledPeriod": {"start": "2027-01-05"}}  # fmt: skip
            res["activity"] = [{"detail": detail}]
    elif item.kind == "Observation":
        res |= {"status": "final", "effectiveDateTime": at, "focus": refs if item.code else []}
        res["code"] = {"coding": [{"system": FEV1[0], "code": FEV1[1]}], "text": f"Værdi {rid}"}
        res["valueQuantity"] = {"value": 5, "unit": "L"}
    elif item.kind == "MedicationStatement":
        res |= {"status": "active", "reasonCode": coding(item.code)}
        res["medicationCodeableConcept"] = {"text": f"Medicin {rid}"}
    elif item.kind == "RiskAssessment":
        risk = {"coding": [{"system": "urn:minplan:triage", "code": "red"}]}
        res |= {"occurrenceDateTime": at, "prediction": [{"qualitativeRisk": risk}]}
        res["code"] = (coding(item.code) or [{}])[0]
    elif item.kind == "QuestionnaireResponse":
        res |= {"questionnaire": "urn:q/health-literacy", "authored": at}
        res["item"] = [{"linkId": "score", "answer": [{"valueDecimal": 2.5}]}]
        if item.code:
            answer = {"valueCoding": {"system": ICD10, "code": item.code}}
            res["item"].append({"linkId": "package", "answer": [answer]})
    else:
        res |= {"status": "active", "code": {"text": f"Tilbud {rid}"}}
        res["reasonCode"] = coding(item.code)
    if item.withheld:
        label = [{"system": CONFIDENTIALITY, "code": "R"}]
        if item.label_in_meta or item.kind != "DocumentReference":
            res["meta"] = {"security": label}
        else:
            res["securityLabel"] = [{"coding": label}]
    return res


def consent_resource(rid: str, cpr: str, c: ConsentSpec) -> dict[str, Any]:
    actor: dict[str, Any] = {"reference": {"identifier": identifier(c.actor)}}
    if c.role:
        actor["role"] = {"coding": [{"code": c.role}]}
    provision = {"type": c.kind, "actor": [actor], "class": [{"code": k} for k in c.classes]}
    status = "active" if c.active else "inactive"
    patient = {"identifier": {"system": CPR_SYS, "value": cpr}}
    return {"resourceType": "Consent", "id": rid, "patient": patient, "status": status,
            "provision": provision}  # fmt: skip


# -- the query: everything, with aliases, fragments on Sourced and named fragments -------------

FRAGMENTS = """
fragment Src on Sourced { source sourceId }
fragment Val on Measurement { ...Src target onTarget }
fragment Pkg on CarePackage {
  id kind diagnoses { ...Src code } triage { ...Src level } goals { ... on Goal { sourceId } }
  course { ...Src status } measurements { ...Val } medications { ...Src name }
  journalNotes { ...Src text } preventionOffers { ...Src } healthLiteracy { ...Src score }
  appointments { ...Src } booked: appointments(status: [BOOKED]) { ... on Sourced { sourceId } }
  alerts { kind priority text items { ...Src } }
}
fragment Sec on PlanSection {
  diagnoses { ...Src } goals { ...Src } journalNotes { n: sourceId text }
  preventionOffers { ...Src } appointments { ...Src } measurements { ...Val }
  medications { ...Src }
}
fragment Everything on Plan {
  restricted packages { ...Pkg } unassigned { ...Sec }
  again: packages { notes: journalNotes { ... on JournalNote { ...Src } } }
}
"""
ONE_PATIENT = (
    FRAGMENTS
    + """
query($a: String, $reason: String) {
  first: plan(cpr: $a, emergencyReason: $reason) { ...Everything }
  again: plan(cpr: $a, emergencyReason: $reason) { packages { ...Pkg } }
}"""
)
TWO_PATIENTS = (
    FRAGMENTS
    + """
fragment Few on PlanSection { journalNotes { sourceId } diagnoses { sourceId } }
query($a: String, $b: String, $reason: String) {
  first: plan(cpr: $a, emergencyReason: $reason) { ...Everything }
  second: plan(cpr: $b, emergencyReason: $reason) { ...Everything unassigned { ...Few } }
}"""
)

Patients = dict[str, tuple[list[Item], list[ConsentSpec]]]


def seen_ids(node: Any) -> set[str]:
    """Every item id in a response, whatever alias it came under."""
    found: set[str] = set()
    if isinstance(node, list):
        for value in node:
            found |= seen_ids(value)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ("sourceId", "n"):
                found.add(value)
            else:
                found |= seen_ids(value)
    return found


def values(node: Any) -> list[dict[str, Any]]:
    """Every Measurement in a response (the objects that carry ``onTarget``)."""
    if isinstance(node, list):
        return [v for item in node for v in values(item)]
    if isinstance(node, dict):
        own = [node] if "onTarget" in node else []
        return own + [v for item in node.values() for v in values(item)]
    return []


def alerts(node: Any) -> list[dict[str, Any]]:
    """Every FollowUpAlert in a response (the objects that carry ``priority``)."""
    if isinstance(node, list):
        return [a for item in node for a in alerts(item)]
    if isinstance(node, dict):
        own = [node] if "priority" in node else []
        return own + [a for item in node.values() for a in alerts(item)]
    return []


def check_alerts(
    found: list[dict[str, Any]],
    allowed: set[str],
    hidden: set[str],
    denied: set[str],
    owner: dict[str, tuple[str, Item]],
) -> None:
    """No alert of a hidden section, none carrying or naming a hidden item or goal."""
    hidden_targets = {goal_target(r) for r in hidden if owner[r][1].kind == "Goal"}
    sees_triage = any(owner[r][1].kind == "RiskAssessment" for r in allowed)
    for alert in found:
        event(f"alert {alert['kind']}")
        assert not ALERT_READS[alert["kind"]] & denied, f"{alert['kind']} of a hidden section"
        assert {i["sourceId"] for i in alert["items"]} <= allowed, "an alert's hidden item"
        named = {r for r in hidden if re.search(rf"\b{re.escape(r)}\b", alert["text"])}
        assert not named, f"an alert's text names hidden {named}: {alert['text']}"
        assert not any(t in alert["text"] for t in hidden_targets), alert["text"]
        assert alert["priority"] == "LOW" or sees_triage, "priority from a hidden triage"


def serve(data: Patients) -> tuple[dict[str, list[dict[str, Any]]], dict[str, tuple[str, Item]]]:
    """The FHIR resources of every source, and each item id's (patient, item)."""
    resources: dict[str, list[dict[str, Any]]] = {s: [] for s, _ in KINDS.values()}
    resources["consent"] = []
    owner: dict[str, tuple[str, Item]] = {}
    for p, (cpr, (its, rules)) in enumerate(data.items()):
        conditions = [f"condition-{p}-{n}" for n, it in enumerate(its) if it.kind == "Condition"]
        for n, item in enumerate(its):
            rid = f"{item.kind.lower()}-{p}-{n}"
            owner[rid] = (cpr, item)
            resources[KINDS[item.kind][0]].append(resource(rid, cpr, item, conditions))
        for n, rule in enumerate(rules):
            resources["consent"].append(consent_resource(f"consent-{p}-{n}", cpr, rule))
    return resources, owner


def check(
    body: dict[str, Any],
    targets: dict[str, str],
    viewer: Viewer,
    data: Patients,
    owner: dict[str, tuple[str, Item]],
) -> None:
    """The oracle's verdict on one response; ``targets`` maps each alias to its patient."""
    if not all(may_read(viewer, p, data[p][1]) for p in targets.values()):
        event("refused")
        assert body["data"] is None
        assert {e["extensions"]["code"] for e in body["errors"]} <= {"FORBIDDEN", "BAD_USER_INPUT"}
        return
    assert "errors" not in body, body["errors"]
    for alias, patient in targets.items():
        its, rules = data[patient]
        denied = denied_classes(viewer, rules)
        allowed = {rid for rid, (cpr, it) in owner.items()
                   if cpr == patient and may_see(viewer, it, denied)}  # fmt: skip
        seen = seen_ids(body["data"][alias])
        event("read, items seen" if seen else "read, nothing to see")
        assert seen <= allowed, f"{alias}: leaked {seen - allowed}"
        hidden = {rid for rid, (cpr, _it) in owner.items() if rid not in allowed}
        check_alerts(alerts(body["data"][alias]), allowed, hidden, denied, owner)
        goals_seen = {goal_target(r) for r in allowed if owner[r][1].kind == "Goal"}
        for value in values(body["data"][alias]):
            if value["target"] is not None:
                event("a value with a target")
            assert value["target"] in goals_seen | {None}, f"{alias}: a target of a hidden goal"
            assert value["target"] is not None or value["onTarget"] is None
        if alias == "again":
            continue
        shown = {
            rid for rid in allowed
            if owner[rid][1].kind in ALWAYS_SHOWN
            or (owner[rid][1].kind == "Condition" and owner[rid][1].active)
        }  # fmt: skip
        assert shown <= seen, f"{alias}: missing {shown - seen}"
        removed = any(not may_see(viewer, it, denied) for it in its)
        if removed:
            assert body["data"][alias]["restricted"] is True
        elif not denied:
            assert body["data"][alias]["restricted"] is False


P0, P1, P2 = CPRS
GP, HOSPITAL, PHYSIO = ORGS
COPD = Item("Condition", "J44.9", withheld=False, label_in_meta=False, custodian=None, active=True)


def note(custodian: str, *, withheld: bool = True, system: str = SOR_SYS) -> Item:
    return Item("DocumentReference", "J44.9", withheld, False, (system, custodian), True)


def of(kind: str, *, withheld: bool = False, variant: int = 0) -> Item:
    return Item(kind, "J44.9", withheld, label_in_meta=True, custodian=None, active=True,
                variant=variant)  # fmt: skip


def proxy(cpr: str, *, active: bool = True) -> ConsentSpec:
    return ConsentSpec(active, "permit", (CPR_SYS, cpr), "proxy", ())


def block(org: str, *classes: str, active: bool = True) -> ConsentSpec:
    return ConsentSpec(active, "deny", (SOR_SYS, org), "blocked", classes)


PLENTY = [COPD, note(GP), note(HOSPITAL), note(GP, withheld=False), *map(of, sorted(KINDS))]
EMPTY: tuple[list[Item], list[ConsentSpec]] = ([], [])
#: Values placed and targeted by goals, one goal withheld (its target must never show).
UNFOCUSED = Item(
    "Observation", None, withheld=False, label_in_meta=True, custodian=None, active=True
)
TARGETED = [
    COPD,
    of("Goal", withheld=True),
    of("Goal"),
    of("Observation"),
    UNFOCUSED,
    of("CarePlan"),
]


#: Every alert kind but NO_PLAN (a course is there) and OFF_TARGET for the right viewer: a
#: missed and a cancelled appointment, a withheld missed one, an overdue untriaged course.
FLAGGED = [
    COPD,
    of("Appointment", variant=1),
    of("Appointment", variant=2),
    of("Appointment", withheld=True, variant=1),
    of("CarePlan", variant=1),
    of("Goal"),
    of("Observation"),
]


def scenario(items: list[Item], rules: list[ConsentSpec]) -> Patients:
    return {P0: (items, rules), P1: ([of("Appointment"), note(GP)], []), P2: EMPTY}


@example(scenario(PLENTY, [proxy(P2, active=False)]), Viewer(P2, None, None), P0, P0)
@example(scenario(PLENTY, [proxy(P2)]), Viewer(P2, None, None), P0, P1)
@example(scenario(PLENTY, [proxy(P2)]), Viewer(P2, None, None), P0, P0)
@example(scenario(PLENTY, []), Viewer(P0, None, "Akut"), P0, P0)
@example(scenario(PLENTY, [block(GP, "goals")]), Viewer(None, GP, None), P0, P1)
@example(scenario(PLENTY, [block(GP, "x-ukendt")]), Viewer(None, GP, None), P0, P0)
@example(scenario(PLENTY, [block(GP, active=False)]), Viewer(None, GP, None), P0, P0)
@example(scenario(PLENTY, [block(PHYSIO)]), Viewer(None, PHYSIO, None), P0, P0)
@example(scenario(PLENTY, [block(PHYSIO)]), Viewer(None, PHYSIO, "Akut"), P0, P1)
@example(scenario(PLENTY, [block(HOSPITAL, "journal")]), Viewer(None, HOSPITAL, " "), P0, P0)
@example(scenario([note(HOSPITAL, system="urn:x")], []), Viewer(None, HOSPITAL, None), P0, P0)
@example(scenario([of("Goal", withheld=True)], []), Viewer(None, GP, None), P0, P0)
@example(
    scenario(PLENTY, [block(GP, "measurements", "medication")]), Viewer(None, GP, None), P0, P0
)
@example(scenario(TARGETED, []), Viewer(None, GP, None), P0, P0)
@example(scenario(FLAGGED, []), Viewer(P0, None, None), P0, P0)
@example(scenario(FLAGGED, [block(GP, "appointments")]), Viewer(None, GP, None), P0, P0)
@example(scenario(FLAGGED, [block(GP, "goals")]), Viewer(None, GP, None), P0, P0)
@example(scenario([COPD, of("Goal"), of("Observation")], [block(GP, "measurements")]),
         Viewer(None, GP, None), P0, P0)  # fmt: skip
@example(scenario(TARGETED, []), Viewer(P0, None, None), P0, P0)
@example(scenario(TARGETED, [block(HOSPITAL, "goals")]), Viewer(None, HOSPITAL, None), P0, P0)
@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    max_examples=60,
    deadline=None,
)
@given(data=patients, viewer=viewers, a=st.sampled_from(CPRS), b=st.sampled_from(CPRS))
async def test_no_viewer_ever_receives_a_denied_item(
    make_v2_gateway: MakeGateway, data: Patients, viewer: Viewer, a: str, b: str
) -> None:
    resources, owner = serve(data)
    variables = {"a": a, "b": b, "reason": viewer.reason}
    async with make_v2_gateway(resources=resources) as gw:
        gw.app.state.services.plans.clock = fixed_day_clock(ALERT_DAY)
        token = gw.clinician(viewer.org) if viewer.org else gw.citizen(viewer.cpr or "")
        one = await gw.data(ONE_PATIENT, token, variables)
        two = await gw.data(TWO_PATIENTS, token, variables)
    check(one, {"first": a, "again": a}, viewer, data, owner)
    check(two, {"first": a, "second": b}, viewer, data, owner)
