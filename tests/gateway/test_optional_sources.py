"""A region may go live before every source does (contract §4, §6).

Only ``diagnoses`` and ``consent`` are required (tests/gateway/test_settings.py and
tests/test_cli.py: refused at start, naming the variable). A source without a URL is never
asked and not listed; one the gateway has no connector for is ignored, with a warning.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest

from connectors import CONNECTOR_CLASSES
from core.sources import SOURCE_NAMES
from demo.people import ORG_GP, PATIENT_BOTH
from gateway.services import READABLE_SOURCES, source_urls
from gateway.settings import Settings
from tests.conftest import FULL_PLAN, MakeGateway

LIVE = ("diagnoses", "appointments", "consent")
#: Every other readable source left without a URL.
NOT_YET: dict[str, Any] = {
    f"source_{n}_url": None for n in (*READABLE_SOURCES, "listing") if n not in LIVE
}


@pytest.mark.parametrize(
    ("viewer", "listed"),
    [
        pytest.param("clinician", ["diagnoses", "appointments", "consent"], id="clinician"),
        pytest.param("patient", ["diagnoses", "appointments"], id="patient"),
    ],
)
async def test_a_plan_lists_and_asks_only_the_configured_sources(
    make_gateway: MakeGateway, viewer: str, listed: list[str]
) -> None:
    async with make_gateway(**NOT_YET) as gw:
        token = gw.clinician(ORG_GP) if viewer == "clinician" else gw.citizen(PATIENT_BOTH)
        body = await gw.data(FULL_PLAN, token, {"cpr": PATIENT_BOTH})
        ready = (await gw.client.get("/readyz")).json()
        asked = {source for source, _ in gw.upstream.searches()}
    assert "errors" not in body, body["errors"]  # nothing missing is "unavailable"
    plan = body["data"]["plan"]
    assert [s["name"] for s in plan["sources"]] == listed
    assert all(s["ok"] for s in plan["sources"])
    assert asked == set(listed)
    assert set(ready["sources"]) == set(LIVE)
    assert [p["kind"] for p in plan["packages"]] == ["COPD", "LOW_BACK_PAIN"]
    assert any(p["appointments"] for p in plan["packages"])
    for package in plan["packages"]:
        assert package["journalNotes"] == package["goals"] == []
        assert package["triage"] is None


async def test_the_listing_source_is_wired_for_the_work_list_not_for_plans(
    make_gateway: MakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.services"):
        async with make_gateway(source_listing_url="http://listing.test/fhir") as gw:
            ready = (await gw.client.get("/readyz")).json()
            body = await gw.data(FULL_PLAN, gw.clinician(ORG_GP), {"cpr": PATIENT_BOTH})
    assert "listing" not in CONNECTOR_CLASSES  # it is searched by clinic, not by patient
    assert ready["sources"]["listing"] == "closed"
    assert "listing" not in [s["name"] for s in body["data"]["plan"]["sources"]]
    assert [r.getMessage() for r in caplog.records if r.name == "gateway.services"] == []


async def test_without_a_listing_source_there_is_no_work_list(make_gateway: MakeGateway) -> None:
    async with make_gateway(source_listing_url=None) as gw:
        ready = (await gw.client.get("/readyz")).json()
        body = await gw.data("{ worklist(kind: COPD) { total } }", gw.clinician(ORG_GP))
        asked = gw.upstream.searches()
    assert "listing" not in ready["sources"]
    assert body["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    assert "not configured" in body["errors"][0]["message"]
    assert asked == []


def test_the_demo_wires_only_the_sources_with_a_connector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [n for n in os.environ if n.startswith("MINPLAN_")]:
        monkeypatch.delenv(name)  # no setting of the developer's shell ends the demo
    urls = source_urls(Settings(), "http://127.0.0.1:8000")
    assert list(urls) == list(READABLE_SOURCES)
    assert list(READABLE_SOURCES) == [n for n in SOURCE_NAMES if n in CONNECTOR_CLASSES]
    assert {"diagnoses", "consent"} <= set(urls)
    assert urls["journal"] == "http://127.0.0.1:8000/demo/fhir/journal"
