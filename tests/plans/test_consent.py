"""The consent rules (contract §3) on records: decide_access, filter_records, is_proxy_for."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from core.codes import CPR_SYSTEM, SOR_SYSTEM
from core.errors import BadUserInput, ConsentUnavailable, Forbidden
from core.records import (
    AppointmentRecord,
    AppointmentStatus,
    ConsentActorRecord,
    ConsentProvisionRecord,
    ConsentRecord,
    GoalRecord,
    JournalNoteRecord,
    Record,
)
from plans.consent import (
    ALL_CLASSES,
    Access,
    Purpose,
    ViewerKind,
    check_proxy,
    decide_access,
    filter_records,
    is_proxy_for,
    request_access,
    source_cache_ttls,
)
from plans.viewer import Role, Viewer

PATIENT = "0101521234"
PROXY = "1508791234"
STRANGER = "0512701234"
GP, HOSPITAL, PHYSIO = "380101000016003", "265161000016000", "469401000016002"


def citizen(cpr: str) -> Viewer:
    return Viewer(role=Role.CITIZEN, subject=f"sub-{cpr}", cpr=cpr, name="Borger")


def clinician(org: str) -> Viewer:
    return Viewer(role=Role.CLINICIAN, subject=f"sub-{org}", org=org, name="Dr. Test")


def consent(
    kind: str,
    who: str,
    *,
    system: str = SOR_SYSTEM,
    role: str | None = "blocked",
    active: bool = True,
    classes: tuple[str, ...] = (),
    patient: str = PATIENT,
) -> ConsentRecord:
    actor = ConsentActorRecord(system=system, value=who, role=role)
    return ConsentRecord(
        source="consent",
        source_id=f"consent-{kind}-{who}",
        patient=patient,
        active=active,
        kind=kind,
        actors=(actor,),
        classes=classes,
    )


def proxy_consent(**changes: object) -> ConsentRecord:
    values: dict[str, object] = {"system": CPR_SYSTEM, "role": "proxy"} | changes
    return consent("permit", str(values.pop("who", PROXY)), **values)  # type: ignore[arg-type]


# -- is_proxy_for ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("consents", "expected"),
    [
        pytest.param([proxy_consent()], True, id="active-permit-proxy"),
        pytest.param([proxy_consent(active=False)], False, id="inactive-permit-is-no-proxy"),
        pytest.param(
            [consent("deny", PROXY, system=CPR_SYSTEM, role="proxy")], False, id="deny-is-no-proxy"
        ),
        pytest.param([proxy_consent(role="PRCP")], False, id="other-role-is-no-proxy"),
        pytest.param([proxy_consent(role=None)], False, id="no-role-is-no-proxy"),
        pytest.param([proxy_consent(who=STRANGER)], False, id="someone-else-is-proxy"),
        pytest.param([proxy_consent(system=SOR_SYSTEM)], False, id="same-digits-as-sor-code"),
        pytest.param([proxy_consent(patient=STRANGER)], False, id="consent-of-another-patient"),
        pytest.param([], False, id="no-consents"),
        pytest.param(
            [proxy_consent(active=False), proxy_consent()], True, id="one-active-among-old"
        ),
    ],
)
def test_is_proxy_for(consents: list[ConsentRecord], expected: bool) -> None:
    assert is_proxy_for(consents, PATIENT, PROXY) is expected


# -- decide_access -------------------------------------------------------------------------


def test_patient_sees_everything_even_without_consents() -> None:
    access = decide_access(citizen(PATIENT), PATIENT, None)
    assert access.kind is ViewerKind.PATIENT
    assert access.allowed == ALL_CLASSES
    assert not access.logged


def test_proxy_sees_what_the_patient_sees_and_is_logged() -> None:
    access = decide_access(citizen(PROXY), PATIENT, [proxy_consent()])
    assert access.kind is ViewerKind.PROXY
    assert access.allowed == ALL_CLASSES
    assert access.logged


@pytest.mark.parametrize(
    "consents",
    [
        pytest.param([], id="no-consent"),
        pytest.param([proxy_consent(active=False)], id="inactive-proxy"),
        pytest.param([proxy_consent(who=STRANGER)], id="proxy-for-someone-else"),
    ],
)
def test_citizen_without_power_of_attorney_is_forbidden(consents: list[ConsentRecord]) -> None:
    with pytest.raises(Forbidden):
        decide_access(citizen(PROXY), PATIENT, consents)


@pytest.mark.parametrize(
    "viewer",
    [
        pytest.param(citizen(PROXY), id="proxy"),
        pytest.param(citizen(STRANGER), id="stranger"),
        pytest.param(clinician(GP), id="clinician"),
    ],
)
def test_unknown_consents_fail_closed_for_all_but_the_patient(viewer: Viewer) -> None:
    with pytest.raises(ConsentUnavailable):
        decide_access(viewer, PATIENT, None)


@pytest.mark.parametrize(
    ("consents", "denied"),
    [
        pytest.param([], set(), id="no-block"),
        pytest.param([consent("deny", HOSPITAL, classes=("journal",))], {"journal"}, id="journal"),
        pytest.param([consent("deny", HOSPITAL)], set(ALL_CLASSES), id="no-class-means-all"),
        pytest.param(
            [consent("deny", HOSPITAL, classes=("journal", "goals"))],
            {"journal", "goals"},
            id="two-classes",
        ),
        pytest.param(
            [
                consent("deny", HOSPITAL, classes=("journal",)),
                consent("deny", HOSPITAL, classes=("appointments",)),
            ],
            {"journal", "appointments"},
            id="two-consents-add-up",
        ),
        pytest.param([consent("deny", HOSPITAL, active=False)], set(), id="inactive-block"),
        pytest.param([consent("deny", GP)], set(), id="block-of-another-org"),
        pytest.param([consent("permit", HOSPITAL)], set(), id="permit-is-no-block"),
        pytest.param(
            [consent("deny", HOSPITAL, classes=("journal", "x-unknown"))],
            set(ALL_CLASSES),
            id="unknown-class-fails-closed",
        ),
        pytest.param(
            [consent("deny", HOSPITAL, system=CPR_SYSTEM)], set(), id="cpr-with-same-digits"
        ),
    ],
)
def test_clinician_blocks(consents: list[ConsentRecord], denied: set[str]) -> None:
    access = decide_access(clinician(HOSPITAL), PATIENT, consents)
    assert access.kind is ViewerKind.CLINICIAN
    assert access.denied == denied
    assert set(access.allowed) == set(ALL_CLASSES) - denied
    assert access.logged


def test_emergency_overrides_every_block_for_this_request() -> None:
    blocks = [consent("deny", PHYSIO)]
    access = decide_access(clinician(PHYSIO), PATIENT, blocks, "  Bevidstløs på skadestuen  ")
    assert access.denied == frozenset()
    assert access.overridden == set(ALL_CLASSES)
    assert access.emergency_reason == "Bevidstløs på skadestuen"
    # The override lives in this Access only: the next request is blocked again.
    assert decide_access(clinician(PHYSIO), PATIENT, blocks).denied == set(ALL_CLASSES)


def test_emergency_still_needs_the_consent_source() -> None:
    with pytest.raises(ConsentUnavailable):
        decide_access(clinician(PHYSIO), PATIENT, None, "Hjertestop")


@pytest.mark.parametrize(
    ("viewer", "reason"),
    [
        pytest.param(clinician(GP), "", id="empty"),
        pytest.param(clinician(GP), " \t\n", id="blank"),
        pytest.param(clinician(GP), "x" * 501, id="too-long"),
        pytest.param(citizen(PATIENT), "Akut", id="patient"),
        pytest.param(citizen(PROXY), "Akut", id="proxy"),
    ],
)
def test_bad_emergency_reason_is_bad_user_input(viewer: Viewer, reason: str) -> None:
    with pytest.raises(BadUserInput):
        decide_access(viewer, PATIENT, [proxy_consent()], reason)


# -- filter_records -------------------------------------------------------------------------

AT = datetime(2027, 1, 4, 9, tzinfo=UTC)


def note(rid: str, *, withheld: bool = False, custodian: str | None = GP) -> JournalNoteRecord:
    return JournalNoteRecord(
        source="journal", source_id=rid, patient=PATIENT, withheld=withheld,
        custodian=custodian, date=AT, title=None, author=None, text="…",
    )  # fmt: skip


def appointment(rid: str, *, withheld: bool = False) -> AppointmentRecord:
    return AppointmentRecord(
        source="appointments", source_id=rid, patient=PATIENT, withheld=withheld,
        status=AppointmentStatus.BOOKED, start=AT, end=None, description=None, actor=None,
    )  # fmt: skip


def goal(rid: str) -> GoalRecord:
    return GoalRecord(
        source="careplan", source_id=rid, patient=PATIENT, description="Gå", target=None,
        due=None, status="active",
    )  # fmt: skip


RECORDS: dict[str, list[Record]] = {
    "journal": [
        note("shared"),
        note("gp-withheld", withheld=True, custodian=GP),
        note("hospital-withheld", withheld=True, custodian=HOSPITAL),
        note("withheld-no-custodian", withheld=True, custodian=None),
    ],
    "appointments": [appointment("booked"), appointment("withheld", withheld=True)],
    "careplan": [goal("walk")],
    "consent": [proxy_consent()],
}


def visible_ids(access: Access) -> tuple[set[str], bool]:
    visible, restricted = filter_records(access, RECORDS)
    return {r.source_id for records in visible.values() for r in records}, restricted


def access_of(viewer: Viewer, blocks: list[ConsentRecord], reason: str | None = None) -> Access:
    return decide_access(viewer, PATIENT, [proxy_consent(), *blocks], reason)


@pytest.mark.parametrize(
    ("viewer", "blocks", "reason", "expected"),
    [
        pytest.param(citizen(PATIENT), [], None, {"shared", "booked", "walk"}, id="patient"),
        pytest.param(citizen(PROXY), [], None, {"shared", "booked", "walk"}, id="proxy"),
        pytest.param(
            clinician(GP), [], None, {"shared", "gp-withheld", "booked", "walk"}, id="gp-own-note"
        ),
        pytest.param(
            clinician(HOSPITAL), [], None, {"shared", "hospital-withheld", "booked", "walk"},
            id="hospital-own-note",
        ),
        pytest.param(
            clinician(HOSPITAL), [consent("deny", HOSPITAL, classes=("journal",))], None,
            {"booked", "walk"}, id="journal-blocked",
        ),
        pytest.param(clinician(PHYSIO), [consent("deny", PHYSIO)], None, set(), id="all-blocked"),
        pytest.param(
            clinician(PHYSIO), [consent("deny", PHYSIO)], "Akut", {"shared", "booked", "walk"},
            id="emergency-keeps-withheld-out",
        ),
        pytest.param(
            clinician(GP), [consent("deny", GP, classes=("goals",))], None,
            {"shared", "gp-withheld", "booked"}, id="goals-blocked",
        ),
    ],
)  # fmt: skip
def test_filter_records(
    viewer: Viewer, blocks: list[ConsentRecord], reason: str | None, expected: set[str]
) -> None:
    seen, restricted = visible_ids(access_of(viewer, blocks, reason))
    assert seen == expected
    assert restricted  # every view above lost at least one withheld item or a section


def test_consents_are_never_plan_data() -> None:
    visible, _ = filter_records(access_of(clinician(GP), []), RECORDS)
    assert "consent" not in visible


def test_nothing_removed_is_not_restricted() -> None:
    access = access_of(clinician(GP), [])
    visible, restricted = filter_records(access, {"journal": [note("a")], "careplan": [goal("b")]})
    assert [r.source_id for r in visible["journal"]] == ["a"]
    assert restricted is False


def test_goals_block_covers_triage_and_health_literacy_sources() -> None:
    access = access_of(clinician(GP), [consent("deny", GP, classes=("goals",))])
    visible, restricted = filter_records(access, {"careplan": [goal("a")], "pro": [goal("b")]})
    assert visible == {}
    assert restricted


def test_the_v2_classes_come_last_in_the_contracts_order() -> None:
    assert ALL_CLASSES[-2:] == ("measurements", "medication")
    assert len(set(ALL_CLASSES)) == len(ALL_CLASSES) == 7


@pytest.mark.parametrize(
    ("blocked", "hidden"),
    [
        pytest.param("measurements", {"observations"}, id="measurements-hide-observations"),
        pytest.param("medication", {"medication"}, id="medication-hides-medication"),
        pytest.param("goals", {"careplan"}, id="goals-hide-the-course-with-careplan"),
    ],
)
def test_v2_sources_by_class(blocked: str, hidden: set[str]) -> None:
    sources = {"observations": [goal("o")], "medication": [goal("m")], "careplan": [goal("c")]}
    access = access_of(clinician(GP), [consent("deny", GP, classes=(blocked,))])
    visible, restricted = filter_records(access, sources)
    assert set(visible) == set(sources) - hidden
    assert restricted


def test_unknown_source_is_dropped() -> None:
    visible, _ = filter_records(access_of(citizen(PATIENT), []), {"mystery": [goal("x")]})
    assert visible == {}


# -- nested provisions, unreadable classes (contract §1, v2) ---------------------------------


def node(kind: str, *who: tuple[str, str], classes: tuple[str, ...] = ()) -> ConsentProvisionRecord:
    actors = tuple(ConsentActorRecord(system=s, value=v, role="blocked") for s, v in who)
    return ConsentProvisionRecord(kind=kind, actors=actors, classes=classes)


def tree(top: ConsentProvisionRecord, *nested: ConsentProvisionRecord) -> ConsentRecord:
    return ConsentRecord(
        source="consent",
        source_id="consent-tree",
        patient=PATIENT,
        active=True,
        kind=top.kind,
        actors=top.actors,
        classes=top.classes,
        nested=nested,
    )


def org(code: str) -> tuple[str, str]:
    return (SOR_SYSTEM, code)


def cpr(number: str) -> tuple[str, str]:
    return (CPR_SYSTEM, number)


@pytest.mark.parametrize(
    ("consents", "denied"),
    [
        pytest.param(
            [tree(node("permit", org(GP)), node("deny", org(HOSPITAL), classes=("journal",)))],
            {"journal"},
            id="nested-deny-in-permit-applies",
        ),
        pytest.param(
            [
                tree(
                    node("permit", org(HOSPITAL)),
                    node("permit", org(HOSPITAL)),
                    node("deny", org(HOSPITAL), classes=("goals",)),
                )
            ],
            {"goals"},
            id="deeper-nested-deny-applies",
        ),
        pytest.param(
            [tree(node("permit", org(HOSPITAL)), node("deny", org(GP), classes=("journal",)))],
            set(),
            id="nested-deny-of-another-org-does-not",
        ),
        pytest.param(
            [
                tree(
                    node("deny", org(HOSPITAL), classes=("journal",)),
                    node("permit", org(HOSPITAL), classes=("journal",)),
                )
            ],
            {"journal"},
            id="nested-permit-within-deny-leaves-the-deny",
        ),
        pytest.param(
            [
                tree(
                    node("deny", org(HOSPITAL), classes=("journal",)),
                    node("deny", org(HOSPITAL), classes=("appointments",)),
                )
            ],
            {"journal", "appointments"},
            id="deny-and-nested-deny-add-up",
        ),
        pytest.param(
            [tree(node("permit", org(GP)), node("deny", org(HOSPITAL)))],
            set(ALL_CLASSES),
            id="nested-deny-without-class-is-all-data",
        ),
        pytest.param(
            [tree(node("deny", org(HOSPITAL), classes=("",)))],
            set(ALL_CLASSES),
            id="class-without-code-is-all-data",
        ),
        pytest.param(
            [tree(node("deny", org(HOSPITAL), classes=("journal", "")))],
            set(ALL_CLASSES),
            id="class-with-code-and-one-without-is-all-data",
        ),
        pytest.param(
            [tree(node("permit", org(GP)), node("deny", org(HOSPITAL), classes=("", "goals")))],
            set(ALL_CLASSES),
            id="nested-class-without-code-is-all-data",
        ),
        pytest.param(
            [tree(node("deny", org(HOSPITAL), classes=("Journal",)))],
            set(ALL_CLASSES),
            id="class-code-in-another-case-is-unknown-all-data",
        ),
        pytest.param(
            [replace(tree(node("permit", org(GP)), node("deny", org(HOSPITAL))), active=False)],
            set(),
            id="inactive-consent-nested-deny-ignored",
        ),
        pytest.param(
            [replace(tree(node("permit", org(GP)), node("deny", org(HOSPITAL))), patient=STRANGER)],
            set(),
            id="another-patients-nested-deny-ignored",
        ),
    ],
)
def test_deny_provisions_anywhere_in_the_tree(
    consents: list[ConsentRecord], denied: set[str]
) -> None:
    access = decide_access(clinician(HOSPITAL), PATIENT, consents)
    assert access.denied == denied
    overridden = decide_access(clinician(HOSPITAL), PATIENT, consents, "Hjertestop, bevidstløs")
    assert (overridden.denied, overridden.overridden) == (frozenset(), denied)


@pytest.mark.parametrize(
    ("consents", "expected"),
    [
        pytest.param([proxy_consent()], True, id="top-level-permit-names-proxy"),
        pytest.param(
            [tree(node("permit", org(GP)), replace(node("permit"), actors=proxy_consent().actors))],
            True,
            id="nested-permit-names-proxy",
        ),
        pytest.param(
            [
                tree(
                    replace(node("permit"), actors=proxy_consent().actors), node("deny", cpr(PROXY))
                )
            ],
            False,
            id="nested-deny-naming-the-proxy-wins",
        ),
        pytest.param(
            [proxy_consent(), tree(node("permit", org(GP)), node("deny", cpr(PROXY)))],
            False,
            id="deny-in-another-consent-naming-the-proxy-wins",
        ),
        pytest.param(
            [
                tree(
                    replace(node("permit"), actors=proxy_consent().actors),
                    node("deny", org(HOSPITAL)),
                )
            ],
            True,
            id="nested-deny-naming-an-org-leaves-the-proxy",
        ),
        pytest.param(
            [
                tree(
                    replace(node("permit"), actors=proxy_consent().actors),
                    node("deny", cpr(STRANGER)),
                )
            ],
            True,
            id="nested-deny-naming-someone-else-leaves-the-proxy",
        ),
        pytest.param(
            [proxy_consent(), replace(tree(node("deny", cpr(PROXY))), active=False)],
            True,
            id="inactive-deny-naming-the-proxy-ignored",
        ),
        pytest.param(
            [tree(node("deny", org(GP)), replace(node("permit"), actors=proxy_consent().actors))],
            True,
            id="nested-permit-in-a-deny-of-an-org",
        ),
    ],
)
def test_proxy_rule_over_the_tree(consents: list[ConsentRecord], expected: bool) -> None:
    assert is_proxy_for(consents, PATIENT, PROXY) is expected
    if not expected:
        with pytest.raises(Forbidden):
            decide_access(citizen(PROXY), PATIENT, consents)


# -- request_access and the one proxy check ---------------------------------------------


@pytest.mark.parametrize("purpose", list(Purpose), ids=lambda p: p.name)
def test_the_proxy_check_is_one_for_every_purpose(purpose: Purpose) -> None:
    request = request_access(citizen(PROXY), PATIENT, purpose=purpose)
    assert (request.kind, request.needs_consents, request.consents_first) == (
        ViewerKind.PROXY,
        True,
        True,
    )
    assert request.decide([proxy_consent()]).kind is ViewerKind.PROXY
    with pytest.raises(Forbidden):
        request.decide([])
    with pytest.raises(ConsentUnavailable):
        request.decide(None)
    check_proxy(citizen(PROXY), PATIENT, [proxy_consent()], purpose=purpose)


def test_the_refusals_name_what_was_asked_for() -> None:
    with pytest.raises(Forbidden, match="own plan"):
        check_proxy(citizen(STRANGER), PATIENT, [proxy_consent()])
    with pytest.raises(Forbidden, match="own access log"):
        check_proxy(citizen(STRANGER), PATIENT, [proxy_consent()], purpose=Purpose.ACCESS_LOG)
    with pytest.raises(ConsentUnavailable, match="power of attorney cannot be checked"):
        check_proxy(citizen(PROXY), PATIENT, None, purpose=Purpose.ACCESS_LOG)


def test_the_patient_needs_no_consents() -> None:
    request = request_access(citizen(PATIENT), None, purpose=Purpose.ACCESS_LOG)
    assert request.patient == PATIENT and not request.needs_consents
    assert request.decide(None).kind is ViewerKind.PATIENT


def test_a_clinician_may_not_read_an_access_log_whatever_the_cpr() -> None:
    for cpr in (PATIENT, "not-a-cpr", None):
        with pytest.raises(Forbidden, match="patient and their proxies"):
            request_access(clinician(GP), cpr, purpose=Purpose.ACCESS_LOG)


@pytest.mark.parametrize(
    ("cpr", "expected"),
    [
        pytest.param("010152-1234", PATIENT, id="hyphenated"),
        pytest.param(" 0101521234 ", PATIENT, id="spaced"),
    ],
)
def test_the_cpr_is_read_as_usually_written(cpr: str, expected: str) -> None:
    assert request_access(clinician(GP), cpr).patient == expected


@pytest.mark.parametrize("cpr", [None, "3202521234", "12345"])
def test_a_clinician_needs_a_real_cpr(cpr: str | None) -> None:
    with pytest.raises(BadUserInput, match="cpr"):
        request_access(clinician(GP), cpr)


def test_consent_is_cached_briefly_and_never_stale() -> None:
    assert source_cache_ttls("consent", fresh=60, stale=600, consent_fresh_at_most=5) == (5, 0)
    assert source_cache_ttls("consent", fresh=2, stale=600, consent_fresh_at_most=5) == (2, 0)
    assert source_cache_ttls("journal", fresh=60, stale=600, consent_fresh_at_most=5) == (60, 600)
