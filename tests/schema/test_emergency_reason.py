"""Break the glass only with a reason the patient can read (contract §3, v2), through the app.

An unreadable reason is BAD_USER_INPUT, and nothing is read: no upstream search and no
access-log entry. A readable one is logged as normalised (NFKC, trimmed).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from demo.people import ORG_HOSPITAL, PATIENT_BLOCKS
from tests.conftest import Gateway, MakeGateway
from tests.emergency_reasons import ACCEPTED, REFUSED

PLAN = """
query($cpr: String, $reason: String) {
  plan(cpr: $cpr, emergencyReason: $reason) { restricted packages { journalNotes { sourceId } } }
}"""
ACCESS_LOG = "{ accessLog { actorRole emergency reason } }"
LIS_NOTES = {"note-lis-ward", "note-lis-gp", "note-lis-physio"}


def notes(plan: dict[str, Any]) -> set[str]:
    return {n["sourceId"] for p in plan["packages"] for n in p["journalNotes"]}


async def log_of_lis(gw: Gateway) -> list[dict[str, Any]]:
    body = await gw.data(ACCESS_LOG, gw.citizen(PATIENT_BLOCKS))
    entries: list[dict[str, Any]] = body["data"]["accessLog"]
    return entries


async def assert_refused_and_nothing_read(gw: Gateway, body: dict[str, Any]) -> None:
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "letters or digits" in error["message"]
    assert "control, format or bidi" in error["message"]
    assert gw.upstream.requests == [], "no source may be asked"
    assert await log_of_lis(gw) == [], "nothing was read, so nothing is logged"


@pytest.mark.parametrize("reason", REFUSED)
async def test_an_unreadable_reason_reads_nothing(make_gateway: MakeGateway, reason: str) -> None:
    async with make_gateway() as gw:
        token = gw.clinician(ORG_HOSPITAL, name="Dr. Ida Holm")
        body = await gw.data(PLAN, token, {"cpr": PATIENT_BLOCKS, "reason": reason})
        await assert_refused_and_nothing_read(gw, body)


@pytest.mark.parametrize(
    ("escaped", "status"),
    [
        # A lone surrogate is not text: the body is not valid JSON text (RFC 8259 §8.2),
        # and the gateway's JSON reader refuses it before GraphQL sees it.
        pytest.param('"\\ud800"', 400, id="lone-high-surrogate"),
        pytest.param('"Akut \\udfff indlagt"', 400, id="lone-low-surrogate"),
        pytest.param('"Akut \\u202eindlagt"', 200, id="escaped-right-to-left-override"),
    ],
)
async def test_a_reason_escaped_in_the_json_body_is_judged_as_decoded(
    make_gateway: MakeGateway, escaped: str, status: int
) -> None:
    # Sent as JSON escapes, as a client may; a lone surrogate cannot be encoded otherwise.
    body = (
        f'{{"query": {json.dumps(PLAN)}, '
        f'"variables": {{"cpr": "{PATIENT_BLOCKS}", "reason": {escaped}}}}}'
    )
    async with make_gateway() as gw:
        token = gw.clinician(ORG_HOSPITAL)
        response = await gw.client.post(
            "/graphql",
            content=body.encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert response.status_code == status, response.text
        if status == 400:
            [error] = response.json()["errors"]
            assert error["extensions"]["code"] == "BAD_REQUEST"
            assert gw.upstream.requests == [], "no source may be asked"
            assert await log_of_lis(gw) == [], "nothing was read, so nothing is logged"
        else:
            await assert_refused_and_nothing_read(gw, response.json())


async def test_an_unreadable_reason_in_the_document_reads_nothing(
    make_gateway: MakeGateway,
) -> None:
    # The same rule when the reason is written into the query, not passed as a variable.
    query = (
        f'{{ plan(cpr: "{PATIENT_BLOCKS}", emergencyReason: "Akut\\u200bindlagt") '
        "{ restricted } }"
    )
    async with make_gateway() as gw:
        body = await gw.data(query, gw.clinician(ORG_HOSPITAL))
        await assert_refused_and_nothing_read(gw, body)


@pytest.mark.parametrize(("reason", "logged"), ACCEPTED)
async def test_a_readable_reason_breaks_the_glass_and_is_logged_normalised(
    make_gateway: MakeGateway, reason: str, logged: str
) -> None:
    async with make_gateway() as gw:
        token = gw.clinician(ORG_HOSPITAL, name="Dr. Ida Holm")
        body = await gw.data(PLAN, token, {"cpr": PATIENT_BLOCKS, "reason": reason})
        assert "errors" not in body, body["errors"]
        assert notes(body["data"]["plan"]) == LIS_NOTES  # the journal block is overridden
        entries = await log_of_lis(gw)
    assert entries == [{"actorRole": "clinician", "emergency": True, "reason": logged}]
