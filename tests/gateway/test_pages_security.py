"""The pages outside the demo: bearer tokens only, sources that fail, logs without CPRs.

``make_gateway`` is the gateway with configured sources (not the demo): no cookie sign-in.
"""

from __future__ import annotations

import logging
import re
from html import unescape

import pytest

from demo.people import ORG_GP, ORG_HOSPITAL, PATIENT_BLOCKS, PATIENT_BOTH, PATIENT_COPD
from gateway.logs import CprMaskingFilter, RequestLogFilter
from tests.conftest import FaultyTransport, MakeGateway


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", ["/signin", "/signout"])
async def test_outside_the_demo_there_is_no_cookie_sign_in_route(
    make_gateway: MakeGateway, path: str
) -> None:
    async with make_gateway() as gw:
        response = await gw.client.post(path, data={"who": f"citizen-{PATIENT_COPD}"})
    assert response.status_code == 404


async def test_outside_the_demo_a_token_in_a_cookie_signs_nobody_in(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway() as gw:
        token = gw.citizen(PATIENT_COPD)
        gw.client.cookies.set("minplan_demo_token", token)
        by_cookie = await gw.client.get("/plan")
        gw.client.cookies.clear()
        by_header = await gw.client.get("/plan", headers=bearer(token))
    assert by_cookie.status_code == 401
    assert "sundhedsportalen" in text(by_cookie.text)
    assert by_header.status_code == 200
    assert "Karen Jensen · CPR 010152-1234" in text(by_header.text)


async def test_outside_the_demo_the_front_page_sends_people_to_their_portal(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway() as gw:
        page = await gw.client.get("/")
    assert page.status_code == 200
    assert "Log ind via sundhedsportalen" in text(page.text)
    assert "/signin" not in page.text and "Karen" not in page.text


async def test_a_bad_token_is_a_401_page(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        page = await gw.client.get("/plan", headers=bearer("not.a.jwt"))
    assert page.status_code == 401
    assert "<h1>Log ind</h1>" in page.text


@pytest.mark.parametrize(
    ("source", "notice"),
    [
        pytest.param("appointments", "Aftaler kan ikke vises lige nu.", id="appointments-down"),
        pytest.param("journal", "Journalnotater kan ikke vises lige nu.", id="journal-down"),
        pytest.param("observations", "Måleværdier kan ikke vises lige nu.", id="values-down"),
        pytest.param("medication", "Medicin kan ikke vises lige nu.", id="medication-down"),
    ],
)
async def test_a_source_that_does_not_answer_gets_its_danish_notice(
    make_gateway: MakeGateway, faulty: FaultyTransport, source: str, notice: str
) -> None:
    faulty.faults[source] = 503
    async with make_gateway(transport=faulty, retries=0) as gw:
        page = await gw.client.get("/plan", headers=bearer(gw.citizen(PATIENT_COPD)))
    assert page.status_code == 200, page.text
    words = text(page.text)
    assert "Ikke alle oplysninger kan vises" in words
    assert words.count(notice) >= 2  # at the top, and in the package's section
    assert "KOL" in words  # the rest of the plan is there


async def test_consent_down_is_a_503_page_for_a_clinician(
    make_gateway: MakeGateway, faulty: FaultyTransport
) -> None:
    faulty.faults["consent"] = 503
    async with make_gateway(transport=faulty, retries=0) as gw:
        page = await gw.client.get(f"/plan/{PATIENT_BOTH}", headers=bearer(gw.clinician(ORG_GP)))
    assert page.status_code == 503
    assert "Samtykker kan ikke læses lige nu" in text(page.text)
    assert "KOL" not in text(page.text)


ACCESS_LOG = "{ accessLog { actorName orgName emergency sections context } }"


async def test_a_page_read_is_logged_exactly_as_an_api_read(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        clinician = gw.clinician(ORG_HOSPITAL, name="Dr. Ida Holm")
        page = await gw.client.get(f"/plan/{PATIENT_BLOCKS}", headers=bearer(clinician))
        assert page.status_code == 200
        log = await gw.data(ACCESS_LOG, gw.citizen(PATIENT_BLOCKS))
    (entry,) = log["data"]["accessLog"]
    assert entry["actorName"] == "Dr. Ida Holm"
    assert entry["emergency"] is False and entry["context"] == "PLAN"
    assert "journal" not in entry["sections"]  # Lis blocks the hospital from her notes
    assert {"diagnoses", "appointments", "goals", "measurements", "medication"} <= set(
        entry["sections"]
    )


async def test_the_glass_form_needs_the_csrf_cookie_it_was_made_for(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway() as gw:
        headers = bearer(gw.clinician(ORG_HOSPITAL))
        page = await gw.client.get(f"/plan/{PATIENT_BLOCKS}", headers=headers)
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        gw.client.cookies.clear()  # another browser: the token's session cookie is gone
        refused = await gw.client.post(
            f"/plan/{PATIENT_BLOCKS}",
            data={"csrf": token.group(1), "reason": "Akut indlagt"},
            headers=headers,
        )
    assert refused.status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(f"/plan/{PATIENT_COPD}", id="plain"),
        pytest.param("/plan/010152-1234", id="with-hyphen"),
        pytest.param(f"/access-log?cpr={PATIENT_COPD}", id="in-the-query-string"),
        pytest.param(f"/plan?cpr={PATIENT_COPD}", id="the-look-up-form"),
    ],
)
def test_the_request_log_holds_no_cpr_of_a_page(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("tests.pages.access")
    logger.addFilter(RequestLogFilter())
    with caplog.at_level(logging.INFO, logger="tests.pages.access"):
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200)
    (record,) = caplog.records
    line = record.getMessage()
    assert "0101" not in line and "1234" not in line, line
    assert CprMaskingFilter().filter(record)
    assert line.startswith('127.0.0.1:5000 - "GET /')
