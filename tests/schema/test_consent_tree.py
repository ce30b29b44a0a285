"""Consent as contract §1 (v2) reads it, through the real app: nested provisions, trimmed
identifiers, unreadable classes. Each case changes the demo's Consents and reads a plan."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from core.codes import CPR_SYSTEM, SOR_SYSTEM
from demo.data import build_resources
from demo.people import ORG_GP, ORG_HOSPITAL, PATIENT_BLOCKS, PATIENT_BOTH, PROXY_OF_BOTH
from plans.consent import ALL_CLASSES
from tests.conftest import MakeGateway

ITEM = "{ sourceId }"
SECTIONS = {
    "diagnoses": "diagnoses",
    "appointments": "appointments",
    "journal": "journalNotes",
    "goals": "goals",
    "prevention": "preventionOffers",
}
FIELDS = " ".join(f"{f} {ITEM}" for f in SECTIONS.values())
PLAN = f"""query($cpr: String) {{ plan(cpr: $cpr) {{
  restricted packages {{ {FIELDS} }} unassigned {{ {FIELDS} }} }} }}"""

Resources = dict[str, list[dict[str, Any]]]


def actor(system: str, value: str, role: str = "blocked") -> dict[str, Any]:
    return {"role": {"coding": [{"code": role}]},
            "reference": {"identifier": {"system": system, "value": value}}}  # fmt: skip


def consent(rid: str, patient: str, provision: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": rid,
        "status": "active",
        "patient": {"identifier": {"system": CPR_SYSTEM, "value": patient}},
        "provision": provision,
    }


def seen_sections(plan: dict[str, Any]) -> set[str]:
    """The consent classes that have at least one item in the plan."""
    seen = set()
    for part in [*plan["packages"], plan["unassigned"]]:
        for cls, name in SECTIONS.items():
            if part.get(name):
                seen.add(cls)
    return seen


def lis_consent(resources: Resources, rid: str) -> dict[str, Any]:
    return next(c for c in resources["consent"] if c["id"] == rid)


def add_gp_tree(provision: dict[str, Any]) -> Callable[[Resources], None]:
    def change(resources: Resources) -> None:
        resources["consent"].append(consent("consent-lis-tree", PATIENT_BLOCKS, provision))

    return change


def hospital_block(**changes: Any) -> Callable[[Resources], None]:
    def change(resources: Resources) -> None:
        provision = lis_consent(resources, "consent-lis-hospital")["provision"]
        ident = provision["actor"][0]["reference"]["identifier"]
        ident["value"] = changes.get("value", ident["value"])
        ident["system"] = changes.get("system", ident["system"])
        if "classes" in changes:
            provision["class"] = changes["classes"]

    return change


GP_ACTOR = actor(SOR_SYSTEM, ORG_GP)
EVERYTHING = set(ALL_CLASSES)


@pytest.mark.parametrize(
    ("change", "org", "hidden"),
    [
        pytest.param(
            add_gp_tree({"type": "permit", "actor": [GP_ACTOR], "provision": [
                {"type": "deny", "actor": [GP_ACTOR], "class": [{"code": "appointments"}]}]}),
            ORG_GP, {"appointments"}, id="nested-deny-in-permit",
        ),
        pytest.param(
            add_gp_tree({"type": "permit", "actor": [GP_ACTOR], "provision": [
                {"type": "permit", "provision": [
                    {"type": "deny", "actor": [GP_ACTOR], "class": [{"code": "goals"}]}]}]}),
            ORG_GP, {"goals"}, id="deny-nested-two-deep",
        ),
        pytest.param(
            add_gp_tree({"type": "permit", "actor": [GP_ACTOR], "provision": [
                {"type": "deny", "class": [{"code": "journal"}]}]}),
            ORG_GP, {"journal"}, id="nested-deny-without-actors-names-the-parents",
        ),
        pytest.param(
            add_gp_tree({"type": "permit", "actor": [actor(SOR_SYSTEM, ORG_HOSPITAL)],
                         "provision": [{"type": "deny", "actor": [GP_ACTOR]}]}),
            ORG_GP, EVERYTHING, id="nested-deny-without-class-is-all-data",
        ),
        pytest.param(
            add_gp_tree({"type": "deny", "actor": [GP_ACTOR], "class": [{"code": "diagnoses"}],
                         "provision": [{"type": "permit", "actor": [GP_ACTOR],
                                        "class": [{"code": "diagnoses"}]}]}),
            ORG_GP, {"diagnoses"}, id="nested-permit-in-deny-leaves-the-deny",
        ),
        pytest.param(
            add_gp_tree({"type": "permit", "actor": [GP_ACTOR], "provision": [
                {"type": "deny", "actor": [actor(SOR_SYSTEM, ORG_HOSPITAL)]}]}),
            ORG_GP, set(), id="nested-deny-of-another-org-not-the-gp",
        ),
        pytest.param(
            hospital_block(value=" " + ORG_HOSPITAL), ORG_HOSPITAL, {"journal"},
            id="sor-value-leading-space",
        ),
        pytest.param(
            hospital_block(value=ORG_HOSPITAL + " \t"), ORG_HOSPITAL, {"journal"},
            id="sor-value-trailing-whitespace",
        ),
        pytest.param(
            hospital_block(system=f" {SOR_SYSTEM}\n"), ORG_HOSPITAL, {"journal"},
            id="sor-system-with-spaces",
        ),
        pytest.param(
            hospital_block(classes=[{"system": "urn:x"}]), ORG_HOSPITAL, EVERYTHING,
            id="class-without-code-is-all-data",
        ),
        pytest.param(
            hospital_block(classes=[{"code": "journal"}, {}]), ORG_HOSPITAL, EVERYTHING,
            id="class-with-code-and-one-without-is-all-data",
        ),
        pytest.param(
            hospital_block(classes=[{"code": " journal "}]), ORG_HOSPITAL, {"journal"},
            id="class-code-with-spaces-is-that-class",
        ),
    ],
)  # fmt: skip
async def test_blocks_over_the_consent_tree(
    make_gateway: MakeGateway,
    change: Callable[[Resources], None],
    org: str,
    hidden: set[str],
) -> None:
    resources = copy.deepcopy(build_resources())
    # The baseline: what the organisation sees with no block of its own.
    unblocked = copy.deepcopy(resources)
    unblocked["consent"] = [c for c in unblocked["consent"] if c["id"] != "consent-lis-hospital"]
    async with make_gateway(resources=unblocked) as gw:
        before = (await gw.data(PLAN, gw.clinician(org), {"cpr": PATIENT_BLOCKS}))["data"]["plan"]
    change(resources)
    async with make_gateway(resources=resources) as gw:
        body = await gw.data(PLAN, gw.clinician(org), {"cpr": PATIENT_BLOCKS})
    assert "errors" not in body, body["errors"]
    plan = body["data"]["plan"]
    assert not hidden or hidden & seen_sections(before), "the case must hide something seen"
    assert seen_sections(plan) == seen_sections(before) - hidden
    assert plan["restricted"] is (bool(hidden) or before["restricted"])


def proxy_tree(nested: list[dict[str, Any]]) -> Callable[[Resources], None]:
    def change(resources: Resources) -> None:
        lis_consent(resources, "consent-birgit-proxy")["provision"]["provision"] = nested

    return change


ACCESS_LOG = "query($cpr: String) { accessLog(cpr: $cpr) { at } }"


@pytest.mark.parametrize(
    ("nested", "allowed"),
    [
        pytest.param([], True, id="top-level-permit-as-today"),
        pytest.param([{"type": "deny", "actor": [actor(CPR_SYSTEM, PROXY_OF_BOTH)]}], False,
                     id="nested-deny-naming-the-proxy"),
        pytest.param([{"type": "deny", "actor": [actor(CPR_SYSTEM, f" {PROXY_OF_BOTH} ")]}],
                     False, id="nested-deny-naming-the-proxy-with-spaces"),
        pytest.param([{"type": "deny"}], False, id="nested-deny-without-actors-names-the-parents"),
        pytest.param([{"type": "deny", "actor": [actor(SOR_SYSTEM, ORG_GP)]}], True,
                     id="nested-deny-naming-an-org"),
    ],
)  # fmt: skip
async def test_proxy_over_the_consent_tree(
    make_gateway: MakeGateway, nested: list[dict[str, Any]], allowed: bool
) -> None:
    resources = copy.deepcopy(build_resources())
    proxy_tree(nested)(resources)
    async with make_gateway(resources=resources) as gw:
        mette = gw.citizen(PROXY_OF_BOTH)
        plan = await gw.data(PLAN, mette, {"cpr": PATIENT_BOTH})
        log = await gw.data(ACCESS_LOG, mette, {"cpr": PATIENT_BOTH})
    for body in (plan, log):
        if allowed:
            assert "errors" not in body, body["errors"]
        else:
            assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
            assert body["data"] is None
