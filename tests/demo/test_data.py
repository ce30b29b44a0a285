"""The demo data holds every case the gateway must handle, and holds it consistently."""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from core.cpr import is_valid_cpr
from demo import people as p
from demo.data import RAW_RESOURCE_KEY, RESOURCE_TYPES, build_resources

CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
APPOINTMENT_STATUSES = {
    "proposed", "pending", "booked", "arrived", "checked-in", "waitlist",
    "fulfilled", "cancelled", "noshow", "entered-in-error",
}  # fmt: skip
PACKAGE_PREFIXES = {"J44": "COPD", "M545": "LBP", "E11": "T2D"}
PACKAGE_PREFIXES |= {f"I2{n}": "HEART" for n in range(6)}

Res = dict[str, Any]


@pytest.fixture(scope="module")
def data() -> dict[str, list[Res]]:
    return build_resources()


def patient_of(resource: Res) -> str:
    ref = resource["patient"] if resource["resourceType"] == "Consent" else resource["subject"]
    assert ref["identifier"]["system"] == CPR_SYSTEM
    return str(ref["identifier"]["value"])


def of(data: dict[str, list[Res]], source: str, kind: str, cpr: str | None = None) -> list[Res]:
    return [
        r
        for r in data[source]
        if r["resourceType"] == kind and (cpr is None or patient_of(r) == cpr)
    ]


def by_id(data: dict[str, list[Res]], source: str, rid: str) -> Res:
    (found,) = [r for r in data[source] if r["id"] == rid]
    return found


def level(risk: Res) -> str:
    return str(risk["prediction"][0]["qualitativeRisk"]["coding"][0]["code"])


def package(coding: Res) -> str | None:
    code = coding["code"].replace(".", "")
    if coding["system"] == "urn:oid:1.2.208.176.2.4":
        code = code.removeprefix("D")
    return next((kind for pre, kind in PACKAGE_PREFIXES.items() if code.startswith(pre)), None)


def test_sources_and_types_match_resource_types(data: dict[str, list[Res]]) -> None:
    assert set(data) == set(RESOURCE_TYPES)
    for source, resources in data.items():
        assert {r["resourceType"] for r in resources} == set(RESOURCE_TYPES[source])


def test_every_resource_names_a_known_patient(data: dict[str, list[Res]]) -> None:
    ids = Counter(r["id"] for resources in data.values() for r in resources)
    assert max(ids.values()) == 1
    for resources in data.values():
        for resource in resources:
            cpr = patient_of(resource)
            ref = resource.get("patient") or resource["subject"]
            assert ref["display"] == p.PATIENTS[cpr]


def test_every_cpr_is_a_real_date_and_every_sor_code_is_digits() -> None:
    assert len(p.PATIENTS) >= 9
    assert all(is_valid_cpr(cpr) for cpr in p.PATIENTS)
    assert all(sor.isdigit() for sor in p.ORGS)
    assert p.ORGS[p.ORG_GP] == "Lægerne Søndergade, Aarhus"


def test_patients_have_the_packages_they_stand_for(data: dict[str, list[Res]]) -> None:
    active: dict[str, set[str]] = {cpr: set() for cpr in p.PATIENTS}
    for condition in of(data, "diagnoses", "Condition"):
        status = condition["clinicalStatus"]["coding"][0]["code"]
        if status == "active" and "code" in condition:
            kinds = {package(c) for c in condition["code"]["coding"]}
            active[patient_of(condition)] |= kinds - {None}  # type: ignore[arg-type]
    assert active == {
        p.PATIENT_COPD: {"COPD"},
        p.PATIENT_LBP: {"LBP"},
        p.PATIENT_BOTH: {"COPD", "LBP"},
        p.PROXY_OF_BOTH: set(),
        p.PATIENT_NONE: set(),
        p.PATIENT_BLOCKS: {"COPD"},
        p.PATIENT_DIABETES_HEART: {"T2D", "HEART"},
        p.PATIENT_BROKEN: {"LBP"},
        p.PATIENT_MANY: {"COPD"},
    }
    patients = {patient_of(r) for resources in data.values() for r in resources}
    assert len(patients) >= 8
    ole = of(data, "diagnoses", "Condition", p.PATIENT_NONE)
    assert {c["clinicalStatus"]["coding"][0]["code"] for c in ole} == {"active", "resolved"}


def test_conditions_carry_icd10_and_sks_codes(data: dict[str, list[Res]]) -> None:
    codes = {
        (c["system"], c["code"])
        for r in of(data, "diagnoses", "Condition")
        for c in r.get("code", {}).get("coding", [])
    }
    icd10, sks = "http://hl7.org/fhir/sid/icd-10", "urn:oid:1.2.208.176.2.4"
    assert (icd10, "J44.9") in codes
    assert {(sks, c) for c in ("DJ449", "DM545", "DE119", "DI251")} <= codes
    assert all(r["recorder"]["display"] in p.ORGS.values() for r in data["diagnoses"])


def test_every_appointment_status_occurs(data: dict[str, list[Res]]) -> None:
    statuses = {r.get("status") for r in data["appointments"]}
    assert statuses >= APPOINTMENT_STATUSES
    for appointment in data["appointments"]:
        if RAW_RESOURCE_KEY in appointment:
            continue
        actors = [part["actor"] for part in appointment["participant"]]
        assert actors[0]["identifier"]["value"] == patient_of(appointment)
        assert actors[1]["display"]


def test_references_point_at_conditions_of_the_same_patient(data: dict[str, list[Res]]) -> None:
    conditions = {f"Condition/{r['id']}": patient_of(r) for r in data["diagnoses"]}
    refs = [(r, ref) for r in data["appointments"] for ref in r.get("reasonReference", [])]
    refs += [(r, ref) for r in data["journal"] for ref in r.get("context", {}).get("related", [])]
    refs += [(r, ref) for r in data["careplan"] for ref in r.get("addresses", [])]
    refs += [(r, ref) for r in data["observations"] for ref in r.get("focus", [])]
    refs += [(r, ref) for r in data["medication"] for ref in r.get("reasonReference", [])]
    assert {r["resourceType"] for r, _ in refs} == {
        "Appointment", "DocumentReference", "Goal", "CarePlan", "Observation",
        "MedicationStatement",
    }  # fmt: skip
    for resource, ref in refs:
        assert conditions[ref["reference"]] == patient_of(resource)


def test_some_items_are_linked_to_nothing(data: dict[str, list[Res]]) -> None:
    links = ("reasonCode", "reasonReference", RAW_RESOURCE_KEY)
    assert any(not any(k in r for k in links) for r in data["appointments"])
    assert any("context" not in r for r in data["journal"])
    assert any("addresses" not in r for r in of(data, "careplan", "Goal"))


def test_many_appointments_for_pagination(data: dict[str, list[Res]]) -> None:
    assert len(of(data, "appointments", "Appointment", p.PATIENT_MANY)) == 45


def test_times_are_fixed_and_carry_the_danish_offset(data: dict[str, list[Res]]) -> None:
    try:
        copenhagen = ZoneInfo("Europe/Copenhagen")
    except ZoneInfoNotFoundError:  # pragma: no cover - only without tz data
        pytest.skip("no time-zone data")
    starts = [r["start"] for r in data["appointments"] if "start" in r]
    offsets = set()
    for text in starts:
        when = datetime.fromisoformat(text)
        assert 2026 <= when.year <= 2027
        assert when.utcoffset() == when.astimezone(copenhagen).utcoffset()
        offsets.add(text[-6:])
    assert offsets == {"+01:00", "+02:00"}


def test_data_is_deterministic(data: dict[str, list[Res]]) -> None:
    assert build_resources() == data


def test_notes_decode_and_some_are_withheld(data: dict[str, list[Res]]) -> None:
    withheld = []
    for note in data["journal"]:
        assert note["custodian"]["identifier"]["system"] == SOR_SYSTEM
        if note["id"] != "note-sofie-badbase64":
            text = base64.b64decode(note["content"][0]["attachment"]["data"], validate=True)
            assert text.decode("utf-8")
        if any(
            c["code"] == "R" for label in note.get("securityLabel", []) for c in label["coding"]
        ):
            withheld.append(note["custodian"]["identifier"]["value"])
    assert p.ORG_GP in withheld
    assert p.ORG_HOSPITAL in withheld


def test_triage_changes_over_time(data: dict[str, list[Res]]) -> None:
    for cpr in (p.PATIENT_COPD, p.PATIENT_BOTH, p.PATIENT_MANY):
        risks = sorted(
            of(data, "careplan", "RiskAssessment", cpr), key=lambda r: r["occurrenceDateTime"]
        )
        levels = [level(r) for r in risks]
        assert levels[0] != levels[-1]


def test_questionnaires_and_offers(data: dict[str, list[Res]]) -> None:
    names = {r["questionnaire"].rsplit("/", 1)[-1] for r in data["pro"]}
    assert "health-literacy" in names
    assert len(names) >= 2
    offers = data["prevention"]
    assert {"active", "completed", "revoked"} <= {r["status"] for r in offers}
    assert any("extension" in r for r in offers)
    assert any("supportingInfo" in r for r in offers)


def test_consents(data: dict[str, list[Res]]) -> None:
    def summary(r: Res) -> tuple[str, str, str, str, str, tuple[str, ...]]:
        actor = r["provision"]["actor"][0]
        who = actor["reference"]["identifier"]
        classes = tuple(c["code"] for c in r["provision"].get("class", []))
        role = actor["role"]["coding"][0]["code"]
        return (patient_of(r), r["status"], r["provision"]["type"], who["value"], role, classes)

    consents = {summary(r) for r in data["consent"]}
    assert (p.PATIENT_BOTH, "active", "permit", p.PROXY_OF_BOTH, "proxy", ()) in consents
    assert (p.PATIENT_BLOCKS, "active", "deny", p.ORG_HOSPITAL, "blocked", ("journal",)) in consents
    assert (p.PATIENT_BLOCKS, "active", "deny", p.ORG_PHYSIO, "PRCP", ()) in consents
    assert any(c[1:3] == ("inactive", "deny") for c in consents)
    assert any(c[1:3] == ("inactive", "permit") and c[0] != p.PATIENT_BOTH for c in consents)


@pytest.mark.parametrize(
    ("source", "rid", "broken"),
    [
        pytest.param("appointments", "appt-sofie-bogus", lambda r: r["status"] == "bogus-status",
                     id="appointment-bogus-status"),
        pytest.param("appointments", "appt-sofie-raw",
                     lambda r: not isinstance(r[RAW_RESOURCE_KEY], dict), id="entry-not-object"),
        pytest.param("diagnoses", "cond-sofie-nocode", lambda r: "code" not in r,
                     id="condition-without-code"),
        pytest.param("journal", "note-sofie-badbase64",
                     lambda r: not _is_base64(r["content"][0]["attachment"]["data"]),
                     id="note-bad-base64"),
        pytest.param("careplan", "goal-sofie-nodesc", lambda r: "description" not in r,
                     id="goal-without-description"),
        pytest.param("careplan", "risk-sofie-purple",
                     lambda r: level(r) == "purple",
                     id="risk-purple"),
        pytest.param("prevention", "sr-sofie-nocode", lambda r: "code" not in r,
                     id="offer-without-code"),
        pytest.param("observations", "obs-sofie-notime", lambda r: "effectiveDateTime" not in r,
                     id="observation-without-time"),
        pytest.param("medication", "med-sofie-bogus", lambda r: r["status"] == "bogus-status",
                     id="medication-bogus-status"),
        pytest.param("careplan", "cp-sofie-bogus", lambda r: r["status"] == "bogus-status",
                     id="care-plan-bogus-status"),
    ],
)  # fmt: skip
def test_broken_resources_are_present_and_searchable(
    data: dict[str, list[Res]], source: str, rid: str, broken: Any
) -> None:
    resource = by_id(data, source, rid)
    assert broken(resource)
    assert patient_of(resource) == p.PATIENT_BROKEN
    good = [r for r in data[source] if patient_of(r) == p.PATIENT_BROKEN and "sofie" in r["id"]]
    assert len(good) >= 2  # the broken one has good neighbours


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except binascii.Error:
        return False
    return True


def test_each_call_returns_an_independent_copy() -> None:
    first = build_resources()
    first["diagnoses"][0]["code"]["coding"][0]["code"] = "changed"
    assert build_resources()["diagnoses"][0]["code"]["coding"][0]["code"] != "changed"
