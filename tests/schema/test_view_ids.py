"""Plan and package ids per view (contract §3, v2), at the API.

A client cache that normalises by ``__typename:id`` (Apollo Client, urql) merges every
object with the same key. So the ids must be stable for one patient and one view, and
differ between views: another viewer, other consent filtering, a break-the-glass read.
The last test normalises the answers the way such a cache does and checks that no two
views ever share a cache entry.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

from demo.data import build_resources
from demo.people import (
    ORG_GP,
    ORG_HOSPITAL,
    ORG_PHYSIO,
    PATIENT_BLOCKS,
    PATIENT_BOTH,
    PROXY_OF_BOTH,
)
from tests.conftest import Gateway, MakeGateway

PLAN = """
query($cpr: String, $reason: String) {
  plan(cpr: $cpr, emergencyReason: $reason) {
    __typename id restricted
    packages { __typename id kind journalNotes { __typename sourceId } }
  }
}"""
REASON = "Akut indlagt med åndenød"


def lis_resources(*, proxy: str | None = None, gp_block: bool = False) -> dict[str, Any]:
    """The demo data, Lis with a proxy (Birgit's Consent, copied) or a new block of her GP."""
    resources = build_resources()
    consents = resources["consent"]
    if proxy is not None:
        permit = copy.deepcopy(next(c for c in consents if c["id"] == "consent-birgit-proxy"))
        permit["id"] = "consent-lis-proxy"
        permit["patient"]["identifier"]["value"] = PATIENT_BLOCKS
        permit["provision"]["actor"][0]["reference"]["identifier"]["value"] = proxy
        consents.append(permit)
    if gp_block:
        deny = copy.deepcopy(next(c for c in consents if c["id"] == "consent-lis-hospital"))
        deny["id"] = "consent-lis-gp-new"
        deny["provision"]["actor"][0]["reference"]["identifier"]["value"] = ORG_GP
        consents.append(deny)
    return resources


async def plan_of(gw: Gateway, token: str, cpr: str, reason: str | None = None) -> Any:
    body = await gw.data(PLAN, token, {"cpr": cpr, "reason": reason})
    assert "errors" not in body, body["errors"]
    return body["data"]["plan"]


def ids_of(plan: dict[str, Any]) -> list[str]:
    return [plan["id"], *(p["id"] for p in plan["packages"])]


async def views_of_lis(gw: Gateway) -> dict[str, Any]:
    """Lis's plan as every kind of viewer sees it, each view read twice."""
    readers = {
        "patient": (gw.citizen(PATIENT_BLOCKS), None),
        "proxy": (gw.citizen(PROXY_OF_BOTH), None),
        "gp": (gw.clinician(ORG_GP, name="Dr. Hans Berg"), None),
        "gp-glass": (gw.clinician(ORG_GP, name="Dr. Hans Berg"), REASON),
        "hospital": (gw.clinician(ORG_HOSPITAL, name="Dr. Ida Holm"), None),
        "hospital-glass": (gw.clinician(ORG_HOSPITAL, name="Dr. Ida Holm"), REASON),
        "physio": (gw.clinician(ORG_PHYSIO), None),
        "physio-glass": (gw.clinician(ORG_PHYSIO), REASON),
    }
    views: dict[str, Any] = {}
    for name, (token, reason) in readers.items():
        first = await plan_of(gw, token, PATIENT_BLOCKS, reason)
        again = await plan_of(gw, token, PATIENT_BLOCKS, reason)
        assert ids_of(first) == ids_of(again), f"{name}: the same view twice, the same ids"
        views[name] = first
    return views


async def test_the_same_view_has_the_same_ids(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        one = await plan_of(gw, gw.clinician(ORG_HOSPITAL, name="Dr. Ida Holm"), PATIENT_BLOCKS)
        two = await plan_of(gw, gw.clinician(ORG_HOSPITAL, name="Dr. Ib Ny"), PATIENT_BLOCKS)
        glass = await plan_of(gw, gw.clinician(ORG_HOSPITAL), PATIENT_BLOCKS, REASON)
        other = await plan_of(gw, gw.clinician(ORG_HOSPITAL), PATIENT_BLOCKS, "Bevidstløs")
    assert ids_of(one) == ids_of(two), "two clinicians of one organisation, one view"
    assert ids_of(glass) == ids_of(other), "the reason's wording is no view of its own"


async def test_every_view_has_its_own_ids(make_gateway: MakeGateway) -> None:
    async with make_gateway(resources=lis_resources(proxy=PROXY_OF_BOTH)) as gw:
        views = await views_of_lis(gw)
    plan_ids = {name: plan["id"] for name, plan in views.items()}
    assert len(set(plan_ids.values())) == len(views), plan_ids
    packages = {name: [p["id"] for p in plan["packages"]] for name, plan in views.items()}
    with_packages = {n: ids for n, ids in packages.items() if ids}
    assert "physio" not in with_packages  # blocked from everything: no package to name
    every = [i for ids in with_packages.values() for i in ids]
    assert len(set(every)) == len(every), packages
    for value in [*plan_ids.values(), *every]:
        assert PATIENT_BLOCKS not in value and PATIENT_BLOCKS[:6] not in value
        assert PROXY_OF_BOTH[:6] not in value
        assert not any(org in value for org in (ORG_GP, ORG_HOSPITAL, ORG_PHYSIO))


async def test_a_new_block_changes_the_ids(make_gateway: MakeGateway) -> None:
    async with make_gateway(resources=lis_resources()) as gw:
        before = {
            "gp": await plan_of(gw, gw.clinician(ORG_GP), PATIENT_BLOCKS),
            "hospital": await plan_of(gw, gw.clinician(ORG_HOSPITAL), PATIENT_BLOCKS),
        }
    # Another instance with the same pseudonym key (as replicas have), after Lis blocks her GP.
    async with make_gateway(resources=lis_resources(gp_block=True)) as gw:
        after = {
            "gp": await plan_of(gw, gw.clinician(ORG_GP), PATIENT_BLOCKS),
            "hospital": await plan_of(gw, gw.clinician(ORG_HOSPITAL), PATIENT_BLOCKS),
        }
    assert before["gp"]["restricted"] is False and after["gp"]["restricted"] is True
    assert not set(ids_of(before["gp"])) & set(ids_of(after["gp"])), "the GP's view changed"
    assert ids_of(before["hospital"]) == ids_of(after["hospital"]), "the hospital's did not"


def normalise(node: Any, store: dict[str, dict[str, Any]]) -> Any:
    """What a normalising cache keeps: objects with an id under ``Typename:id``, merged."""
    if isinstance(node, list):
        return [normalise(v, store) for v in node]
    if not isinstance(node, dict):
        return node
    fields = {k: normalise(v, store) for k, v in node.items()}
    if "id" not in node:
        return fields
    key = f"{node['__typename']}:{node['id']}"
    store.setdefault(key, {}).update(fields)  # merged field by field, as Apollo does
    return {"__ref": key}


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for value in node:
            yield from refs(value)
    elif isinstance(node, dict):
        if "__ref" in node:
            yield node["__ref"]
        for value in node.values():
            yield from refs(value)


def denormalise(node: Any, store: dict[str, dict[str, Any]]) -> Any:
    """Read an answer back from the cache, as ``fetchPolicy: 'cache-only'`` would."""
    if isinstance(node, list):
        return [denormalise(v, store) for v in node]
    if isinstance(node, dict):
        if "__ref" in node:
            return denormalise(store[node["__ref"]], store)
        return {k: denormalise(v, store) for k, v in node.items()}
    return node


async def test_a_normalising_cache_never_merges_two_views(make_gateway: MakeGateway) -> None:
    async with make_gateway(resources=lis_resources(proxy=PROXY_OF_BOTH)) as gw:
        views = await views_of_lis(gw)
        birgit = {
            "birgit-patient": await plan_of(gw, gw.citizen(PATIENT_BOTH), PATIENT_BOTH),
            "birgit-gp": await plan_of(gw, gw.clinician(ORG_GP), PATIENT_BOTH),
        }
    views |= birgit
    store: dict[str, dict[str, Any]] = {}
    roots = {name: normalise(plan, store) for name, plan in views.items()}
    owners: dict[str, set[str]] = {}
    for name, root in roots.items():
        for key in refs(root):
            owners.setdefault(key, set()).add(name)
    shared = {key: names for key, names in owners.items() if len(names) > 1}
    assert shared == {}, "cache entries shared by two views"
    # Every view reads back from the merged cache exactly as it was answered: the
    # hospital's ordinary read never shows what its break-the-glass read did.
    for name, root in roots.items():
        assert denormalise(root, store) == views[name], name
    hospital = denormalise(roots["hospital"], store)
    assert [p["journalNotes"] for p in hospital["packages"]] == [[]]
    glass = denormalise(roots["hospital-glass"], store)
    assert json.dumps(glass) != json.dumps(hospital)
