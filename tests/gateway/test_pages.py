"""The pages in the embedded demo, as a visitor uses them: pick a person, read, break the glass.

Everything runs in-process: the demo app serves its own sources through ASGI.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import httpx
import pytest

from demo.people import (
    ORG_GP,
    ORG_HOSPITAL,
    PATIENT_BLOCKS,
    PATIENT_BOTH,
    PATIENT_COPD,
    PATIENT_DIABETES_HEART,
    PATIENT_LBP,
    PATIENT_NONE,
    PROXY_OF_BOTH,
)
from gateway.devtokens import DevIssuer
from tests.gateway.pages_fixtures import csrf_of, demo_app, sign_in

PLAN_SECTIONS = [
    "Opfølgning",
    "Forløb og tovholder",
    "Aftaler",
    "Mål og værdier",
    "Medicin",
    "Journalnotater",
    "Forebyggelsestilbud",
    "Sundhedskompetence",
    "Diagnoser",
]
REASON = "Akut indlagt med åndenød, behov for KOL-status"


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with demo_app(tmp_path) as client:
        yield client


def headings(html: str, level: int) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h).strip()
            for h in re.findall(rf"<h{level}[^>]*>(.*?)</h{level}>", html, re.S)]  # fmt: skip


def text(html: str) -> str:
    """The page's words, without tags, on one line (what a reader sees)."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


async def test_the_front_page_offers_every_demo_person_and_sets_no_viewer(
    demo: httpx.AsyncClient,
) -> None:
    page = await demo.get("/")
    assert page.status_code == 200
    words = text(page.text)
    for name in ("Karen Jensen", "Mette Hansen", "Lis Andersen", "Dr. Hans Berg", "Dr. Ida Holm",
                 "Fys. Anders Berg", "Spl. Lone Kjær"):  # fmt: skip
        assert name in words
    assert "Borger, fuldmagt til Birgit Hansen" in words
    assert "minplan_demo_token" not in page.headers.get("set-cookie", "")


async def test_signing_in_sets_an_httponly_strict_cookie_and_redirects(
    demo: httpx.AsyncClient,
) -> None:
    response = await sign_in(demo, f"citizen-{PATIENT_COPD}")
    assert response.status_code == 303
    assert response.headers["location"] == "/plan"
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("minplan_demo_token=")
    assert "httponly" in cookie
    assert "samesite=strict" in cookie


async def test_karen_sees_every_section_of_her_plan_in_danish(demo: httpx.AsyncClient) -> None:
    await sign_in(demo, f"citizen-{PATIENT_COPD}")
    page = await demo.get("/plan")
    assert page.status_code == 200, page.text
    html, words = page.text, text(page.text)
    assert '<html lang="da">' in html
    assert headings(html, 1) == ["Min plan"]
    assert "KOL" in headings(html, 2)
    assert set(PLAN_SECTIONS) <= set(headings(html, 3))
    assert "Karen Jensen · CPR 010152-1234" in words
    assert "Triage: Grøn" in words and "triage-green" in html
    assert "Tovholder Lægerne Søndergade, Aarhus" in words
    assert "18. januar 2027 kl. 10.00 Booket Årskontrol for KOL" in words
    assert "Aflyst" in words and "Gennemført" in words and "Planlagt" in words
    assert "Gå længere uden at blive forpustet" in words and "Mål: ≥ 400 m" in words
    assert "Relvar Ellipta" in words
    assert "Spirometri og KOL-status" in words
    assert "Din aftale hos Aarhus Universitetshospital" in words  # an alert, to the patient
    assert '<svg class="chart"' in html and "<desc" in html
    assert "Udskrevet" in words and "print-header" in html


@pytest.mark.parametrize(
    "withheld",
    [
        pytest.param("Samtale om pårørendeforhold", id="gp-withheld-note-not-shown"),
        pytest.param("Intern vurdering", id="hospital-withheld-note-not-shown"),
        pytest.param("Noteres kun til eget brug", id="withheld-text-not-shown"),
    ],
)
async def test_a_withheld_note_is_never_in_the_page(demo: httpx.AsyncClient, withheld: str) -> None:
    await sign_in(demo, f"citizen-{PATIENT_COPD}")
    own = await demo.get("/plan")
    await sign_in(demo, f"clinician-{ORG_HOSPITAL}" if "vurdering" not in withheld
                  else f"clinician-{ORG_GP}")  # fmt: skip
    other = await demo.get(f"/plan/{PATIENT_COPD}")
    assert own.status_code == other.status_code == 200
    assert withheld not in own.text
    assert withheld not in other.text
    assert "Spirometri og KOL-status" in other.text  # the shared notes are there


async def test_values_are_drawn_against_their_target(demo: httpx.AsyncClient) -> None:
    await sign_in(demo, f"citizen-{PATIENT_DIABETES_HEART}")
    page = await demo.get("/plan")
    words = text(page.text)
    packages = [h for h in headings(page.text, 2) if h in ("Type 2-diabetes", "Hjertesygdom")]
    assert packages == ["Type 2-diabetes", "Hjertesygdom"]
    assert "HbA1c" in words and "mål < 53 mmol/mol" in words
    assert "Uden for målet" in words
    assert 'class="chart-target"' in page.text  # the target's band
    assert "Målet er < 53 mmol/mol; den seneste værdi er uden for målet." in words


@pytest.mark.parametrize(
    ("cpr", "expected"),
    [
        pytest.param(PATIENT_LBP, ["Kroniske lænderygsmerter", "Øvrige oplysninger"],
                     id="low-back-pain-and-unassigned-items"),
        pytest.param(PATIENT_NONE, ["Øvrige oplysninger"], id="no-package-only-unassigned"),
    ],
)  # fmt: skip
async def test_each_citizen_sees_their_packages_by_danish_name(
    demo: httpx.AsyncClient, cpr: str, expected: list[str]
) -> None:
    await sign_in(demo, f"citizen-{cpr}")
    page = await demo.get("/plan")
    assert page.status_code == 200
    assert [h for h in headings(page.text, 2) if h != "Noget er skjult"] == expected


async def test_a_proxy_reads_the_plan_they_hold_power_of_attorney_for(
    demo: httpx.AsyncClient,
) -> None:
    response = await sign_in(demo, f"citizen-{PROXY_OF_BOTH}")
    assert response.headers["location"] == f"/plan/{PATIENT_BOTH}"
    page = await demo.get(f"/plan/{PATIENT_BOTH}")
    assert page.status_code == 200
    assert headings(page.text, 1) == ["Plan for Birgit Hansen"]
    assert {"KOL", "Kroniske lænderygsmerter"} <= set(headings(page.text, 2))
    assert f'href="/access-log?cpr={PATIENT_BOTH}"' in page.text
    assert "værdispring" not in page.text.lower()  # a proxy breaks no glass
    log = await demo.get(f"/access-log?cpr={PATIENT_BOTH}")
    assert log.status_code == 200
    assert "Mette Hansen" in text(log.text) and "Fuldmagt" in text(log.text)


async def test_someone_elses_plan_is_refused_with_403(demo: httpx.AsyncClient) -> None:
    await sign_in(demo, f"citizen-{PATIENT_BLOCKS}")
    page = await demo.get(f"/plan/{PATIENT_BOTH}")
    assert page.status_code == 403
    assert headings(page.text, 1) == ["Ingen adgang"]
    assert "Birgit" not in page.text


@pytest.mark.parametrize(
    "path",
    [pytest.param("/plan/123", id="short-cpr"), pytest.param("/plan/3213991234", id="no-date")],
)
async def test_a_bad_cpr_is_a_400_page(demo: httpx.AsyncClient, path: str) -> None:
    await sign_in(demo, f"clinician-{ORG_GP}")
    page = await demo.get(path)
    assert page.status_code == 400
    assert headings(page.text, 1) == ["Forkert indtastning"]


@pytest.mark.parametrize(
    "path", ["/plan", f"/plan/{PATIENT_COPD}", "/access-log", "/worklist?kind=COPD"]
)
async def test_without_signing_in_a_page_is_401_and_says_how(
    demo: httpx.AsyncClient, path: str
) -> None:
    page = await demo.get(path)
    assert page.status_code == 401
    assert headings(page.text, 1) == ["Log ind"]
    assert 'href="/"' in page.text


async def test_a_clinician_looks_a_patient_up_by_cpr(demo: httpx.AsyncClient) -> None:
    await sign_in(demo, f"clinician-{ORG_GP}")
    lookup = await demo.get("/plan")
    assert lookup.status_code == 200
    assert '<label for="cpr">CPR-nummer</label>' in lookup.text
    found = await demo.get("/plan", params={"cpr": "230748-1234"})
    assert found.status_code == 303
    assert found.headers["location"] == "/plan/230748-1234"
    page = await demo.get(found.headers["location"])
    assert page.status_code == 200
    assert headings(page.text, 1) == ["Plan for Birgit Hansen"]


async def glass_page(demo: httpx.AsyncClient) -> httpx.Response:
    await sign_in(demo, f"clinician-{ORG_HOSPITAL}")
    page = await demo.get(f"/plan/{PATIENT_BLOCKS}")
    assert page.status_code == 200
    return page


async def test_the_hospital_is_refused_lis_notes_and_offered_the_glass(
    demo: httpx.AsyncClient,
) -> None:
    page = await glass_page(demo)
    words = text(page.text)
    assert "Noget er skjult" in words
    assert '<label for="reason">Begrundelse for værdispring</label>' in page.text
    assert "Inhalatorer" not in words and "Ambulant notat" not in words
    assert "Ingen journalnotater." in words


@pytest.mark.parametrize(
    "csrf",
    [
        pytest.param(None, id="no-token"),
        pytest.param("123.abc", id="forged-token"),
        pytest.param("other-form", id="token-of-the-sign-out-form"),
    ],
)
async def test_breaking_the_glass_without_a_valid_csrf_token_is_refused(
    demo: httpx.AsyncClient, csrf: str | None
) -> None:
    page = await glass_page(demo)
    if csrf == "other-form":
        csrf = csrf_of(page.text, "/signout")
    form = {"reason": REASON} | ({"csrf": csrf} if csrf else {})
    refused = await demo.post(f"/plan/{PATIENT_BLOCKS}", data=form)
    assert refused.status_code == 403
    assert "Inhalatorer" not in refused.text


async def test_a_token_made_for_another_viewer_does_not_break_the_glass(
    demo: httpx.AsyncClient,
) -> None:
    page = await glass_page(demo)
    token = csrf_of(page.text, f"/plan/{PATIENT_BLOCKS}")
    await sign_in(demo, f"clinician-{ORG_GP}")  # same browser session, another viewer
    refused = await demo.post(f"/plan/{PATIENT_BLOCKS}", data={"csrf": token, "reason": REASON})
    assert refused.status_code == 403


async def test_a_reason_the_log_cannot_hold_is_refused_and_nothing_is_read(
    demo: httpx.AsyncClient,
) -> None:
    page = await glass_page(demo)
    token = csrf_of(page.text, f"/plan/{PATIENT_BLOCKS}")
    refused = await demo.post(f"/plan/{PATIENT_BLOCKS}", data={"csrf": token, "reason": "!!"})
    assert refused.status_code == 400
    assert "Begrundelsen kan ikke bruges" in refused.text
    assert "Inhalatorer" not in refused.text


async def test_breaking_the_glass_shows_the_notes_and_lis_finds_it_in_her_log(
    demo: httpx.AsyncClient, tmp_path: Path
) -> None:
    page = await glass_page(demo)
    token = csrf_of(page.text, f"/plan/{PATIENT_BLOCKS}")
    broken = await demo.post(f"/plan/{PATIENT_BLOCKS}", data={"csrf": token, "reason": REASON})
    assert broken.status_code == 200, broken.text
    words = text(broken.text)
    assert "Du har brugt værdispring." in words
    assert "Inhalatorer" in words and "Ambulant notat" in words

    lis = DevIssuer(tmp_path / "key.pem").issue(role="citizen", cpr=PATIENT_BLOCKS)
    answer = await demo.post(
        "/graphql",
        json={"query": "{ accessLog { actorName emergency reason context } }"},
        headers={"Authorization": f"Bearer {lis}"},
    )
    entries = answer.json()["data"]["accessLog"]
    assert entries[0] == {"actorName": "Dr. Ida Holm", "emergency": True, "reason": REASON,
                          "context": "PLAN"}  # fmt: skip
    assert entries[1]["emergency"] is False  # the page read before it, logged as an API read

    await sign_in(demo, f"citizen-{PATIENT_BLOCKS}")
    log = await demo.get("/access-log")
    assert log.status_code == 200
    assert f"Begrundelse: {REASON}" in text(log.text)


async def test_signing_out_clears_the_cookie(demo: httpx.AsyncClient) -> None:
    await sign_in(demo, f"citizen-{PATIENT_COPD}")
    page = await demo.get("/plan")
    out = await demo.post("/signout", data={"csrf": csrf_of(page.text, "/signout")})
    assert out.status_code == 303
    assert 'minplan_demo_token=""' in out.headers["set-cookie"]
    assert (await demo.get("/plan")).status_code == 401


async def test_signing_in_without_the_forms_token_is_refused(demo: httpx.AsyncClient) -> None:
    await demo.get("/")
    refused = await demo.post("/signin", data={"who": f"citizen-{PATIENT_COPD}"})
    assert refused.status_code == 403
    assert "minplan_demo_token" not in refused.headers.get("set-cookie", "")


ROW = re.compile(r'<tr>\s*<th scope="row"><a href="/plan/(\d{10})">')


async def test_the_work_list_filters_by_triage(demo: httpx.AsyncClient) -> None:
    await sign_in(demo, f"clinician-{ORG_GP}")
    page = await demo.get("/worklist", params={"kind": "COPD", "triage": "RED"})
    assert page.status_code == 200, page.text
    rows = ROW.findall(page.text)
    assert rows
    assert re.findall(r"Triage: (\w+)", text(page.text)) == ["Rød"] * len(rows)
    assert '<input type="checkbox" name="triage" value="RED" checked>' in page.text
    assert f"{len(rows)} patienter passer på filtrene." in text(page.text)


async def test_the_work_list_pages_with_its_filters(demo: httpx.AsyncClient) -> None:
    await sign_in(demo, f"clinician-{ORG_GP}")
    first = await demo.get("/worklist", params={"kind": "COPD", "triage": ["RED", "YELLOW"]})
    assert first.status_code == 200, first.text
    rows = ROW.findall(first.text)
    assert len(rows) == 25
    following = re.search(r'href="/worklist\?([^"]+)">Næste side', first.text)
    assert following, "no next page"
    query = unescape(following.group(1))
    assert query.startswith("kind=COPD&triage=RED&triage=YELLOW&after=")
    second = await demo.get(f"/worklist?{query}")
    assert second.status_code == 200
    more = ROW.findall(second.text)
    assert more and not set(more) & set(rows)
    assert set(re.findall(r"Triage: (\w+)", text(second.text))) <= {"Rød", "Gul"}
    assert "Første side" in second.text


async def test_the_work_list_filters_by_alert(demo: httpx.AsyncClient) -> None:
    await sign_in(demo, f"clinician-{ORG_GP}")
    page = await demo.get("/worklist", params={"kind": "COPD", "alerts": "NO_SHOW"})
    assert page.status_code == 200
    entries = page.text.count('<th scope="row">')
    assert entries > 0
    assert text(page.text).count("Udeblevet ") >= entries


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        pytest.param(f"citizen-{PATIENT_COPD}", "/worklist?kind=COPD", 403,
                     id="citizen-has-no-work-list"),
        pytest.param(f"clinician-{ORG_GP}", "/worklist?kind=FLU", 400, id="unknown-package"),
        pytest.param(f"clinician-{ORG_GP}", "/worklist?kind=COPD&triage=BLUE", 400,
                     id="unknown-triage"),
        pytest.param(f"clinician-{ORG_GP}", "/worklist?kind=COPD&after=junk", 400,
                     id="bad-cursor"),
        pytest.param(f"clinician-{ORG_GP}", "/access-log", 403, id="clinician-has-no-access-log"),
    ],
)  # fmt: skip
async def test_pages_refuse_in_danish_with_the_right_status(
    demo: httpx.AsyncClient, who: str, path: str, status: int
) -> None:
    await sign_in(demo, who)
    page = await demo.get(path)
    assert page.status_code == status
    assert '<html lang="da">' in page.text


@pytest.mark.parametrize(
    "path", ["/", "/plan", f"/plan/{PATIENT_BOTH}", "/access-log", "/worklist?kind=COPD"]
)
async def test_every_page_is_danish_uncached_and_under_a_strict_policy(
    demo: httpx.AsyncClient, path: str
) -> None:
    await sign_in(demo, f"citizen-{PROXY_OF_BOTH}")
    page = await demo.get(path)
    assert '<html lang="da">' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "form-action 'self'" in csp
    assert "http" not in csp and "unsafe" not in csp


async def test_the_stylesheet_prints_a4_without_navigation(demo: httpx.AsyncClient) -> None:
    css = await demo.get("/static/pages/pages.css")
    assert css.status_code == 200
    assert "@media print" in css.text and "size: A4" in css.text
    assert ".package ~ .package { break-before: page; }" in css.text
    script = await demo.get("/static/pages/pages.js")
    assert script.status_code == 200 and "window.print" in script.text
