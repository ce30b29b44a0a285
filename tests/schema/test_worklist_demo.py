"""The demo clinic's work list, as its GP reads it on the demo's day (issue 13's demo).

The clinic's data and the README's named people through the real gateway: every alert kind
and triage level shows, the patient blocking the clinic from diagnoses is left out, the one
blocking appointments is listed without appointment alerts, and paging through the whole
list reads every COPD patient exactly once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.localtime import fixed_day_clock
from demo import clinic
from demo.data import BASE_DAY
from demo.people import ORG_GP, ORG_HOSPITAL, PATIENT_COPD, PATIENTS
from tests.conftest import Gateway, MakeGateway

PAGE = """
query($kind: PackageKind!, $first: Int, $after: String) {
  worklist(kind: $kind, first: $first, after: $after) {
    total hasNextPage endCursor
    entries { cpr name package { kind triage { level } alerts { kind priority } } }
  }
}
"""


@pytest.fixture
async def gw(make_gateway: MakeGateway) -> AsyncIterator[Gateway]:
    async with make_gateway() as gateway:
        services = gateway.app.state.services
        services.plans.clock = services.worklists.clock = fixed_day_clock(BASE_DAY)
        yield gateway


async def read_all(gw: Gateway, kind: str, token: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    after = None
    while True:
        body = await gw.data(PAGE, token, {"kind": kind, "first": 200, "after": after})
        page = body["data"]["worklist"]
        entries += page["entries"]
        assert page["total"] >= len(entries)
        if not page["hasNextPage"]:
            assert len(entries) == page["total"]
            return entries
        after = page["endCursor"]


def copd_patients_seen_by_the_gp() -> set[str]:
    generated = {
        p.cpr
        for p in clinic.CLINIC_PATIENTS
        if any(pkg.kind == "COPD" for pkg in p.packages) and p.cpr in clinic.LISTED
    }
    return generated - {clinic.DENIES_DIAGNOSES}


async def test_the_gp_sees_every_alert_kind_and_triage_level(gw: Gateway) -> None:
    entries = await read_all(gw, "COPD", gw.clinician(ORG_GP))
    kinds = {a["kind"] for e in entries for a in e["package"]["alerts"]}
    assert kinds == {"NO_SHOW", "NOT_REBOOKED", "REVIEW_OVERDUE", "NO_PLAN", "NO_TRIAGE",
                     "OFF_TARGET"}  # fmt: skip
    levels = {(e["package"]["triage"] or {}).get("level") for e in entries}
    assert levels == {"RED", "YELLOW", "GREEN", None}
    cprs = [e["cpr"] for e in entries]
    assert len(cprs) == len(set(cprs))
    assert copd_patients_seen_by_the_gp() <= set(cprs)
    # Karen Jensen, a named COPD patient of this GP, is on it, by her name.
    assert {e["name"] for e in entries if e["cpr"] == PATIENT_COPD} == {PATIENTS[PATIENT_COPD]}


async def test_consent_leaves_one_out_and_silences_anothers_appointments(gw: Gateway) -> None:
    entries = {e["cpr"]: e for e in await read_all(gw, "COPD", gw.clinician(ORG_GP))}
    assert clinic.DENIES_DIAGNOSES not in entries
    blocked = entries[clinic.DENIES_APPOINTMENTS]
    assert not {"NO_SHOW", "NOT_REBOOKED"} & {a["kind"] for a in blocked["package"]["alerts"]}


async def test_another_organisation_lists_nobody(gw: Gateway) -> None:
    body = await gw.data(PAGE, gw.clinician(ORG_HOSPITAL), {"kind": "COPD"})
    assert body["data"]["worklist"]["total"] == 0
    assert body["data"]["worklist"]["entries"] == []
