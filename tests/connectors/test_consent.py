"""The ``consent`` source: Consent → ConsentRecord (actors, roles, classes, status)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connectors.consent import SOURCE, parse_consent
from connectors.fhirmodels_consent import MAX_PROVISION_DEPTH
from core.codes import CPR_SYSTEM, SOR_SYSTEM
from core.errors import UpstreamBadResponse
from core.records import ConsentActorRecord, ConsentProvisionRecord, ConsentRecord
from tests.connectors.conftest import (
    CPR_A,
    CPR_B,
    CPR_OTHER,
    ORG_GP,
    ORG_HOSPITAL,
    Factory,
    Fetch,
)


def test_deny_consent_maps_every_field(make_consent: Factory) -> None:
    resource = make_consent(
        "consent-deny",
        CPR_A,
        kind="deny",
        actors=[(SOR_SYSTEM, ORG_HOSPITAL, "IRCP"), (SOR_SYSTEM, ORG_GP, "IRCP")],
        classes=["journal", "appointments"],
    )
    assert parse_consent(SOURCE, resource) == ConsentRecord(
        source="consent",
        source_id="consent-deny",
        patient=CPR_A,
        active=True,
        kind="deny",
        actors=(
            ConsentActorRecord(system=SOR_SYSTEM, value=ORG_HOSPITAL, role="IRCP"),
            ConsentActorRecord(system=SOR_SYSTEM, value=ORG_GP, role="IRCP"),
        ),
        classes=("journal", "appointments"),
    )


def test_power_of_attorney_names_the_proxy_by_cpr(make_consent: Factory) -> None:
    resource = make_consent(
        "consent-proxy", CPR_A, kind="permit", actors=[(CPR_SYSTEM, CPR_OTHER, "proxy")], classes=[]
    )
    consent = parse_consent(SOURCE, resource)
    assert (consent.patient, consent.kind, consent.classes) == (CPR_A, "permit", ())
    assert consent.actors == (ConsentActorRecord(system=CPR_SYSTEM, value=CPR_OTHER, role="proxy"),)


@pytest.mark.parametrize(
    "classes",
    [
        pytest.param(("journal",), id="journal"),
        pytest.param(("appointments", "diagnoses", "goals", "prevention"), id="four-sections"),
        pytest.param((), id="empty-means-all-data"),
    ],
)
def test_classes_are_the_sections(make_consent: Factory, classes: tuple[str, ...]) -> None:
    assert parse_consent(SOURCE, make_consent(classes=classes)).classes == classes


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param({"system": "urn:x"}, id="system-only"),
        pytest.param({}, id="empty-object"),
        pytest.param({"code": None}, id="code-null"),
        pytest.param({"code": ""}, id="code-empty"),
        pytest.param({"code": " \t"}, id="code-blank"),
    ],
)
def test_class_without_a_readable_code_is_kept_as_unreadable(
    make_consent: Factory, entry: dict[str, object]
) -> None:
    # Kept as "": the consent rules count it as all data (fail closed), not as no class.
    resource = make_consent()
    resource["provision"]["class"] = [entry, {"code": "goals"}]
    assert parse_consent(SOURCE, resource).classes == ("", "goals")


def test_class_codes_are_trimmed(make_consent: Factory) -> None:
    resource = make_consent(classes=[" journal", "goals\n", "\tappointments "])
    assert parse_consent(SOURCE, resource).classes == ("journal", "goals", "appointments")


@pytest.mark.parametrize(
    ("system", "value"),
    [
        pytest.param(SOR_SYSTEM, " " + ORG_HOSPITAL, id="value-leading-space"),
        pytest.param(SOR_SYSTEM, ORG_HOSPITAL + " ", id="value-trailing-space"),
        pytest.param(SOR_SYSTEM, "\t" + ORG_HOSPITAL + "\n", id="value-tab-newline"),
        pytest.param(" " + SOR_SYSTEM + " ", ORG_HOSPITAL, id="system-spaces"),
        pytest.param(SOR_SYSTEM + "\n", " " + ORG_HOSPITAL, id="both"),
    ],
)
def test_identifiers_are_trimmed(make_consent: Factory, system: str, value: str) -> None:
    consent = parse_consent(SOURCE, make_consent(actors=[(system, value, "IRCP")]))
    assert consent.actors == (
        ConsentActorRecord(system=SOR_SYSTEM, value=ORG_HOSPITAL, role="IRCP"),
    )


def test_blank_identifier_is_none(make_consent: Factory) -> None:
    consent = parse_consent(SOURCE, make_consent(actors=[(" ", "  ", "IRCP")]))
    assert consent.actors == (ConsentActorRecord(system=None, value=None, role="IRCP"),)


def _actor(system: str, value: str, role: str = "IRCP") -> dict[str, object]:
    return {"role": {"coding": [{"code": role}]},
            "reference": {"identifier": {"system": system, "value": value}}}  # fmt: skip


def test_nested_provisions_are_read_depth_first(make_consent: Factory) -> None:
    resource = make_consent(kind="permit", actors=[(CPR_SYSTEM, CPR_OTHER, "proxy")], classes=[])
    resource["provision"]["provision"] = [
        {
            "type": "deny",
            "actor": [_actor(SOR_SYSTEM, " " + ORG_GP)],
            "class": [{"code": "journal"}],
            "provision": [{"type": "permit", "class": [{"code": "goals"}]}],
        },
        {"actor": [_actor(SOR_SYSTEM, ORG_HOSPITAL)], "class": [{}]},
    ]
    consent = parse_consent(SOURCE, resource)
    gp = (ConsentActorRecord(system=SOR_SYSTEM, value=ORG_GP, role="IRCP"),)
    hospital = (ConsentActorRecord(system=SOR_SYSTEM, value=ORG_HOSPITAL, role="IRCP"),)
    assert consent.nested == (
        ConsentProvisionRecord(kind="deny", actors=gp, classes=("journal",)),
        # No actors: its parent's. No type: its parent's.
        ConsentProvisionRecord(kind="permit", actors=gp, classes=("goals",)),
        ConsentProvisionRecord(kind="permit", actors=hospital, classes=("",)),
    )
    assert consent.provisions()[0] == ConsentProvisionRecord(
        kind="permit", actors=consent.actors, classes=()
    )


def _nest(depth: int) -> dict[str, object]:
    node: dict[str, object] = {"type": "deny", "actor": [_actor(SOR_SYSTEM, ORG_GP)]}
    for _ in range(depth - 1):
        node = {"type": "permit", "provision": [node]}
    return node


@pytest.mark.parametrize("depth", [2, 5, MAX_PROVISION_DEPTH])
def test_nesting_within_the_bound_is_read(make_consent: Factory, depth: int) -> None:
    resource = make_consent(kind="permit", actors=[])
    resource["provision"]["provision"] = [_nest(depth - 1)] if depth > 1 else []
    consent = parse_consent(SOURCE, resource)
    assert len(consent.provisions()) == depth
    assert consent.provisions()[-1].kind == "deny"


@pytest.mark.parametrize("depth", [MAX_PROVISION_DEPTH + 1, 50, 300])
async def test_nesting_past_the_bound_fails_closed(
    fetch: Fetch, make_consent: Factory, depth: int
) -> None:
    resource = make_consent("consent-deep", CPR_A, kind="permit", actors=[])
    resource["provision"]["provision"] = [_nest(depth - 1)]
    with pytest.raises(ValidationError, match="nested deeper"):
        parse_consent(SOURCE, resource)
    with pytest.raises(UpstreamBadResponse, match="unreadable Consent"):
        await fetch("consent", "Consent", [resource], cprs=[CPR_A])


@pytest.mark.parametrize(
    "nested",
    [
        pytest.param({"type": "Deny"}, id="nested-type-misspelt"),
        pytest.param({"type": "deny", "provision": "x"}, id="nested-provision-not-a-list"),
        pytest.param("deny", id="nested-not-an-object"),
    ],
)
async def test_an_unreadable_nested_provision_fails_closed(
    fetch: Fetch, make_consent: Factory, nested: object
) -> None:
    resource = make_consent("consent-odd", CPR_A)
    resource["provision"]["provision"] = [nested]
    with pytest.raises(UpstreamBadResponse, match="unreadable Consent"):
        await fetch("consent", "Consent", [resource], cprs=[CPR_A])


@pytest.mark.parametrize(
    ("status", "active"),
    [
        pytest.param("active", True, id="active-counts"),
        pytest.param("inactive", False, id="inactive-ignored"),
        pytest.param("rejected", False, id="rejected-ignored"),
        pytest.param("proposed", False, id="proposed-ignored"),
        pytest.param("draft", False, id="draft-ignored"),
        pytest.param("entered-in-error", False, id="entered-in-error-ignored"),
    ],
)
def test_only_active_consents_are_active(make_consent: Factory, status: str, active: bool) -> None:
    assert parse_consent(SOURCE, make_consent(status=status)).active is active


def test_actor_without_role_or_identifier(make_consent: Factory) -> None:
    resource = make_consent()
    resource["provision"]["actor"] = [{"reference": {"display": "Ukendt"}}]
    assert parse_consent(SOURCE, resource).actors == (
        ConsentActorRecord(system=None, value=None, role=None),
    )


def test_consent_without_actors_names_no_one(make_consent: Factory) -> None:
    assert parse_consent(SOURCE, make_consent(actors=[])).actors == ()


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param("no-provision", id="no-provision"),
        pytest.param("odd-type", id="provision-type-not-deny-or-permit"),
        pytest.param("no-status", id="no-status"),
        pytest.param("no-type", id="top-provision-without-type"),
    ],
)
async def test_an_unreadable_consent_fails_the_search_closed(
    fetch: Fetch, make_consent: Factory, breakage: str
) -> None:
    # A skipped Consent could be a block: the rules are unknown, so the search fails and
    # the gateway answers CONSENT_UNAVAILABLE to clinicians and proxies.
    broken = make_consent("consent-broken", CPR_B)
    if breakage == "no-provision":
        del broken["provision"]
    elif breakage == "odd-type":
        broken["provision"]["type"] = "Deny"
    elif breakage == "no-type":
        del broken["provision"]["type"]
    else:
        del broken["status"]
    with pytest.raises(UpstreamBadResponse, match="unreadable Consent"):
        await fetch("consent", "Consent", [make_consent("consent-a", CPR_A), broken],
                    cprs=[CPR_A, CPR_B])  # fmt: skip


async def test_fetch_reads_every_consent_by_patient(fetch: Fetch, make_consent: Factory) -> None:
    subject_only = make_consent("consent-subject", CPR_B)
    subject_only["subject"] = subject_only.pop("patient")
    resources = [
        make_consent("consent-a", CPR_A),
        make_consent("consent-b", CPR_B, kind="permit", status="inactive"),
        subject_only,
    ]
    fetched = await fetch("consent", "Consent", resources, cprs=[CPR_A, CPR_B])
    assert fetched.skipped == 0
    consents = {
        cpr: [(r.source_id, r.active) for r in rs if isinstance(r, ConsentRecord)]
        for cpr, rs in fetched.by_patient.items()
    }
    assert consents == {
        CPR_A: [("consent-a", True)],
        CPR_B: [("consent-b", False), ("consent-subject", True)],
    }


async def test_a_consent_for_a_patient_not_asked_about_fails_the_search(
    fetch: Fetch, make_consent: Factory
) -> None:
    # It cannot be placed (its patient written another way?), and it may be a block.
    with pytest.raises(UpstreamBadResponse, match="unasked patient"):
        await fetch("consent", "Consent", [make_consent("consent-x", CPR_B)], cprs=[CPR_A])
