"""Who sees what (contract §3), through the real app and the demo sources."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from core.errors import AuditWriteError
from demo.data import build_resources
from demo.people import (
    ORG_GP,
    ORG_HOSPITAL,
    ORG_PHYSIO,
    ORGS,
    PATIENT_BLOCKS,
    PATIENT_BOTH,
    PATIENT_COPD,
    PATIENT_LBP,
    PROXY_OF_BOTH,
)
from demo.sources import create_sources_app
from plans.audit import AccessRecord
from plans.consent import ALL_CLASSES
from tests.conftest import Gateway, MakeGateway

ITEMS = "sourceId"
SECTION = f"diagnoses {{ {ITEMS} }} goals {{ {ITEMS} }} journalNotes {{ {ITEMS} }} " \
    f"preventionOffers {{ {ITEMS} }} appointments {{ {ITEMS} }}"  # fmt: skip
PLAN = f"""
query($cpr: String, $reason: String) {{
  plan(cpr: $cpr, emergencyReason: $reason) {{
    cpr restricted
    packages {{ kind {SECTION} triage {{ {ITEMS} }} healthLiteracy {{ {ITEMS} }} }}
    unassigned {{ {SECTION} }}
    sources {{ name ok }}
  }}
}}"""
ACCESS_LOG = """
query($cpr: String, $since: DateTime) {
  accessLog(cpr: $cpr, since: $since) {
    at actorName org orgName actorRole emergency reason sections context
  }
}"""

LIS_NOTES = {"note-lis-ward", "note-lis-gp", "note-lis-physio"}
LIS_OTHER = {
    "cond-lis-kol", "appt-lis-ward", "appt-lis-physio", "appt-lis-gp", "goal-lis-walk",
    "risk-lis-1", "sr-lis-rehab",
}  # fmt: skip


def ids(node: Any, only: str | None = None, inside: bool = False) -> set[str]:
    """Every ``sourceId`` in a response, or only those under fields named ``only``."""
    found: set[str] = set()
    if isinstance(node, list):
        for value in node:
            found |= ids(value, only, inside)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == ITEMS and (only is None or inside):
                found.add(value)
            else:
                found |= ids(value, only, inside or key == only)
    return found


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def read_plan(gw: Gateway, token: str, cpr: str | None, reason: str | None = None) -> Any:
    body = await gw.data(PLAN, token, {"cpr": cpr, "reason": reason})
    assert "errors" not in body, body["errors"]
    return body["data"]["plan"]


async def access_log(
    gw: Gateway, token: str, cpr: str | None = None, since: str | None = None
) -> dict[str, Any]:
    return await gw.data(ACCESS_LOG, token, {"cpr": cpr, "since": since})


async def test_citizen_sees_own_plan_without_withheld_notes(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        plan = await read_plan(gw, gw.citizen(PATIENT_COPD), None)
    assert plan["cpr"] == PATIENT_COPD
    assert ids(plan, "journalNotes") == {"note-karen-spiro", "note-karen-ward"}
    assert plan["restricted"] is True  # the two withheld notes were removed


async def test_proxy_sees_exactly_what_the_patient_sees(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        own = await read_plan(gw, gw.citizen(PATIENT_BOTH), None)
        proxied = await read_plan(gw, gw.citizen(PROXY_OF_BOTH), PATIENT_BOTH)
    # Only the sources asked differ: a proxy's read asks consent, the patient's does not.
    own_sources, proxied_sources = own.pop("sources"), proxied.pop("sources")
    assert proxied == own
    assert [s for s in proxied_sources if s["name"] != "consent"] == own_sources
    assert {"name": "consent", "ok": True} in proxied_sources
    assert "note-birgit-private" not in ids(own)
    assert {"note-birgit-back", "note-birgit-ward"} <= ids(own)


@pytest.mark.parametrize(
    ("citizen", "patient"),
    [
        pytest.param(PATIENT_LBP, PATIENT_BOTH, id="no-power-of-attorney"),
        pytest.param(PROXY_OF_BOTH, PATIENT_COPD, id="inactive-power-of-attorney"),
    ],
)
async def test_citizen_without_proxy_consent_is_forbidden(
    make_gateway: MakeGateway, citizen: str, patient: str
) -> None:
    async with make_gateway() as gw:
        body = await gw.data(PLAN, gw.citizen(citizen), {"cpr": patient})
        assert codes(body) == ["FORBIDDEN"]
        assert body["data"] is None
        assert gw.upstream.searches() == [("consent", "Consent")]


async def test_gp_sees_own_withheld_note_not_the_hospitals(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        plan = await read_plan(gw, gw.clinician(ORG_GP), PATIENT_COPD)
    notes = ids(plan, "journalNotes")
    assert "note-karen-family" in notes
    assert "note-karen-ward-internal" not in notes
    assert plan["restricted"] is True


async def test_hospital_blocked_from_journal_only(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        plan = await read_plan(gw, gw.clinician(ORG_HOSPITAL), PATIENT_BLOCKS)
    assert ids(plan, "journalNotes") == set()
    assert ids(plan) == LIS_OTHER
    assert plan["restricted"] is True


async def test_physio_blocked_from_everything(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        plan = await read_plan(gw, gw.clinician(ORG_PHYSIO), PATIENT_BLOCKS)
    assert ids(plan) == set()
    assert plan["packages"] == []
    assert plan["restricted"] is True


def withheld_gp_note_for_lis() -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "id": "note-lis-withheld",
        "subject": {"identifier": {"system": "urn:oid:1.2.208.176.1.2", "value": PATIENT_BLOCKS}},
        "date": "2027-01-02T10:00:00+01:00",
        "custodian": {"identifier": {"system": "urn:oid:1.2.208.176.1.1", "value": ORG_GP}},
        "content": [{"attachment": {"data": base64.b64encode(b"Kun til egen brug").decode()}}],
        "context": {"event": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10",
                                           "code": "J44.9"}]}]},
        "securityLabel": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]}],
    }  # fmt: skip


async def test_emergency_overrides_blocks_not_withheld_and_is_logged(
    make_gateway: MakeGateway,
) -> None:
    resources = build_resources()
    resources["journal"].append(withheld_gp_note_for_lis())
    reason = "Akut indlagt, bevidstløs"
    async with make_gateway(resources=resources) as gw:
        physio = gw.clinician(ORG_PHYSIO, name="Fys. Nord")
        plan = await read_plan(gw, physio, PATIENT_BLOCKS, reason)
        again = await read_plan(gw, physio, PATIENT_BLOCKS)
        log = await access_log(gw, gw.citizen(PATIENT_BLOCKS))
    assert ids(plan) == LIS_NOTES | LIS_OTHER  # blocked sections back, GP's withheld note not
    assert plan["restricted"] is True
    assert ids(again) == set()  # for that request only
    latest, emergency = log["data"]["accessLog"]
    assert (latest["emergency"], latest["reason"]) == (False, None)
    assert emergency["emergency"] is True
    assert emergency["reason"] == reason
    assert emergency["context"] == latest["context"] == "PLAN"
    assert (emergency["actorName"], emergency["org"]) == ("Fys. Nord", ORG_PHYSIO)
    assert sorted(emergency["sections"]) == sorted(ALL_CLASSES)


@pytest.mark.parametrize(
    ("who", "reason"),
    [
        pytest.param("clinician", "   ", id="blank-reason"),
        pytest.param("clinician", "", id="empty-reason"),
        pytest.param("patient", "Akut", id="citizen-reason"),
    ],
)
async def test_bad_emergency_reason(make_gateway: MakeGateway, who: str, reason: str) -> None:
    async with make_gateway() as gw:
        token = gw.clinician(ORG_PHYSIO) if who == "clinician" else gw.citizen(PATIENT_BLOCKS)
        body = await gw.data(PLAN, token, {"cpr": PATIENT_BLOCKS, "reason": reason})
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["data"] is None


class ConsentFault(httpx.AsyncBaseTransport):
    """The demo sources, except that the consent source answers ``response``."""

    def __init__(self, response: httpx.Response) -> None:
        self.inner = httpx.ASGITransport(app=create_sources_app())
        self.response = response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/consent/"):
            r = self.response
            return httpx.Response(r.status_code, headers=r.headers, content=r.content)
        return await self.inner.handle_async_request(request)


FAULTS = [
    pytest.param({"transport": ConsentFault(httpx.Response(503))}, id="down"),
    pytest.param({"source_timeouts": {"consent": 0.2}, "latency": {"consent": 1.0}}, id="slow"),
    pytest.param(
        {"transport": ConsentFault(httpx.Response(200, html="<html>Vedligehold</html>"))},
        id="junk",
    ),
]


@pytest.mark.parametrize("fault", FAULTS)
async def test_consent_unavailable_patient_still_gets_plan(
    make_gateway: MakeGateway, fault: dict[str, Any]
) -> None:
    async with make_gateway(**fault) as gw:
        body = await gw.data(PLAN, gw.citizen(PATIENT_BOTH), {})
        searched = {source for source, _ in gw.upstream.searches()}
    plan = body["data"]["plan"]
    # The patient's own read needs no Consent, so it does not even ask (contract §6).
    assert "consent" not in searched
    assert "consent" not in {s["name"] for s in plan["sources"]}
    assert all(s["ok"] for s in plan["sources"])
    assert {"note-birgit-back", "cond-birgit-kol"} <= ids(plan)
    assert "note-birgit-private" not in ids(plan)
    assert "CONSENT_UNAVAILABLE" not in codes(body)


@pytest.mark.parametrize("fault", FAULTS)
async def test_consent_unavailable_proxy_gets_nothing(
    make_gateway: MakeGateway, fault: dict[str, Any]
) -> None:
    async with make_gateway(**fault) as gw:
        body = await gw.data(PLAN, gw.citizen(PROXY_OF_BOTH), {"cpr": PATIENT_BOTH})
        assert {source for source, _ in gw.upstream.searches()} == {"consent"}
    assert codes(body) == ["CONSENT_UNAVAILABLE"]
    assert body["data"] is None


@pytest.mark.parametrize("fault", FAULTS)
async def test_consent_unavailable_clinician_gets_nothing(
    make_gateway: MakeGateway, fault: dict[str, Any]
) -> None:
    async with make_gateway(**fault) as gw:
        body = await gw.data(PLAN, gw.clinician(ORG_GP), {"cpr": PATIENT_BOTH})
        log = await access_log(gw, gw.citizen(PATIENT_BOTH))
    assert codes(body) == ["CONSENT_UNAVAILABLE"]
    assert body["data"] is None
    assert log["data"]["accessLog"] == []


class FlakyConsent(ConsentFault):
    """The demo sources; the consent source answers 503 once ``down`` is set."""

    def __init__(self) -> None:
        super().__init__(httpx.Response(503))
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return await super().handle_async_request(request)
        return await self.inner.handle_async_request(request)


@pytest.mark.parametrize(
    ("who", "cpr"),
    [pytest.param("proxy", PATIENT_BOTH, id="proxy"), pytest.param("clinician", PATIENT_BLOCKS,
                                                                    id="clinician")],
)  # fmt: skip
async def test_consent_down_after_a_cached_read_still_fails_closed(
    make_gateway: MakeGateway, who: str, cpr: str
) -> None:
    """Regression: a stale copy of the consents must not stand in for the source."""
    transport = FlakyConsent()
    # cache_ttls 0: every read asks the consent source; its last answer stays as a stale copy.
    async with make_gateway(transport=transport, cache_ttls={"consent": 0}) as gw:
        token = gw.citizen(PROXY_OF_BOTH) if who == "proxy" else gw.clinician(ORG_HOSPITAL)
        await read_plan(gw, token, cpr)
        transport.down = True
        body = await gw.data(PLAN, token, {"cpr": cpr})
    assert codes(body) == ["CONSENT_UNAVAILABLE"]
    assert body["data"] is None


async def test_access_log_lists_clinician_and_proxy_reads(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        patient, proxy = gw.citizen(PATIENT_BOTH), gw.citizen(PROXY_OF_BOTH)
        await read_plan(gw, patient, None)
        await read_plan(gw, gw.clinician(ORG_GP, name="Læge Ib"), PATIENT_BOTH)
        await read_plan(gw, gw.clinician(ORG_HOSPITAL, name="Læge Eva"), PATIENT_BOTH)
        await read_plan(gw, proxy, PATIENT_BOTH)
        await read_plan(gw, patient, None)
        entries = (await access_log(gw, patient))["data"]["accessLog"]
        since = entries[1]["at"]
        recent = (await access_log(gw, patient, since=since))["data"]["accessLog"]
        by_proxy = (await access_log(gw, proxy, PATIENT_BOTH))["data"]["accessLog"]
        other = (await access_log(gw, gw.citizen(PATIENT_LBP)))["data"]["accessLog"]
    assert [(e["actorName"], e["actorRole"], e["org"], e["orgName"]) for e in entries] == [
        ("Mette Hansen", "proxy", None, None),
        ("Læge Eva", "clinician", ORG_HOSPITAL, ORGS[ORG_HOSPITAL]),
        ("Læge Ib", "clinician", ORG_GP, ORGS[ORG_GP]),
    ]
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)
    assert all(e["emergency"] is False and e["reason"] is None for e in entries)
    assert all(sorted(e["sections"]) == sorted(ALL_CLASSES) for e in entries)
    assert [e["context"] for e in entries] == ["PLAN"] * 3  # plan reads, by clinic or proxy
    assert recent == entries[:2]
    assert by_proxy == entries
    assert other == []


async def test_access_log_sections_show_what_a_block_left(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        await read_plan(gw, gw.clinician(ORG_HOSPITAL), PATIENT_BLOCKS)
        entries = (await access_log(gw, gw.citizen(PATIENT_BLOCKS)))["data"]["accessLog"]
    assert [sorted(e["sections"]) for e in entries] == [sorted(set(ALL_CLASSES) - {"journal"})]


@pytest.mark.parametrize(
    "who",
    [pytest.param("clinician", id="clinician"), pytest.param("other-citizen", id="non-proxy")],
)
async def test_access_log_forbidden(make_gateway: MakeGateway, who: str) -> None:
    async with make_gateway() as gw:
        token = gw.clinician(ORG_GP) if who == "clinician" else gw.citizen(PATIENT_LBP)
        await read_plan(gw, gw.clinician(ORG_GP), PATIENT_BOTH)
        body = await access_log(gw, token, PATIENT_BOTH)
    assert codes(body) == ["FORBIDDEN"]
    assert body["data"] is None


async def test_access_log_write_failure_fails_the_read(
    make_gateway: MakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(entry: AccessRecord) -> None:
        raise AuditWriteError("access log: disk full")

    async with make_gateway() as gw:
        monkeypatch.setattr(gw.app.state.services.access_log, "record", refuse)
        for token, cpr in [
            (gw.clinician(ORG_GP), PATIENT_BOTH),
            (gw.citizen(PROXY_OF_BOTH), PATIENT_BOTH),
        ]:
            body = await gw.data(PLAN, token, {"cpr": cpr})
            assert codes(body) == ["ACCESS_LOG_UNAVAILABLE"]
            assert body["data"] is None
        own = await read_plan(gw, gw.citizen(PATIENT_BOTH), None)  # not logged: unaffected
    assert own["cpr"] == PATIENT_BOTH


async def test_an_unreadable_consent_fails_closed(make_gateway: MakeGateway) -> None:
    # Lis's block of the physiotherapist, spelt wrong: it cannot be read, so the rules are
    # unknown. The physio must not get her plan; Lis herself still does.
    resources = build_resources()
    for consent in resources["consent"]:
        if consent["id"] == "consent-lis-physio":
            consent["provision"]["type"] = "Deny"
    async with make_gateway(resources=resources) as gw:
        physio = await gw.data(PLAN, gw.clinician(ORG_PHYSIO), {"cpr": PATIENT_BLOCKS})
        lis = await gw.data(PLAN, gw.citizen(PATIENT_BLOCKS), {"cpr": None})
    assert physio["data"] is None
    assert "CONSENT_UNAVAILABLE" in codes(physio)
    assert lis["data"]["plan"]["packages"], "the patient still reads her own plan"
