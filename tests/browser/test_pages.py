"""The shared view as each kind of viewer sees it in a real browser, and as it prints.

Each viewer's page is loaded once; on it the test finds every section, takes a screenshot at
phone and desktop width, runs axe-core, and (for a plan) prints it to an A4 PDF whose text
must carry every section, the patient's name and CPR. Viewers sign in the way they would:
the demo's people through the front page's picker (its cookie), and a portal in front of the
pages through the ``Authorization`` header.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Locator, expect

from demo.people import ORG_GP, PATIENT_BOTH, PATIENT_COPD
from tests.browser.viewing import (
    Visit,
    axe_violations,
    blocking,
    describe,
    print_screenshot,
    print_to_pdf,
    screenshots,
    sign_in_as,
)

pytestmark = pytest.mark.browser

#: The packages by their Danish names.
PACKAGE_NAMES = frozenset({"KOL", "Kroniske lænderygsmerter", "Type 2-diabetes", "Hjertesygdom"})
#: The sections every package shows, by their Danish headings, in the page's order.
PACKAGE_SECTIONS = (
    "Opfølgning",
    "Forløb og tovholder",
    "Aftaler",
    "Mål og værdier",
    "Medicin",
    "Journalnotater",
    "Forebyggelsestilbud",
    "Sundhedskompetence",
    "Diagnoser",
)


@dataclass(frozen=True)
class PlanView:
    """One viewer on one plan page, and what a person checks on it."""

    name: str
    sign_in: Callable[[Visit], None]
    path: str
    heading: str
    patient: str
    cpr: str
    #: Each package's Danish name and its triage in words.
    packages: tuple[tuple[str, str], ...]
    #: Note titles the page shows, and titles withheld from this viewer (never shown).
    notes: tuple[str, ...] = ()
    withheld: tuple[str, ...] = ()
    nav: tuple[str, ...] = ()


def _picker(person: str) -> Callable[[Visit], None]:
    return lambda visit: sign_in_as(visit.page, person)


def _bearer(*token_args: str) -> Callable[[Visit], None]:
    return lambda visit: visit.sign_in_with_token(*token_args)


PLAN_VIEWS = [
    pytest.param(
        PlanView(
            name="citizen-karen-plan",
            sign_in=_picker("Karen Jensen"),
            path="/plan",
            heading="Min plan",
            patient="Karen Jensen",
            cpr=PATIENT_COPD,
            packages=(("KOL", "Grøn"),),
            notes=("Spirometri og KOL-status", "Ambulant notat, lungemedicin"),
            withheld=("Samtale om pårørendeforhold", "Intern vurdering"),
            nav=("Min plan", "Hvem har set mine data"),
        ),
        id="citizen-reads-own-plan",
    ),
    pytest.param(
        PlanView(
            name="proxy-mette-for-birgit",
            sign_in=_picker("Mette Hansen"),
            path=f"/plan/{PATIENT_BOTH}",
            heading="Plan for Birgit Hansen",
            patient="Birgit Hansen",
            cpr=PATIENT_BOTH,
            packages=(("KOL", "Rød"), ("Kroniske lænderygsmerter", "Grøn")),
            nav=("Min plan", "Hvem har set mine data"),
        ),
        id="proxy-reads-the-plan-they-hold-power-of-attorney-for",
    ),
    pytest.param(
        PlanView(
            name="gp-plan-karen",
            sign_in=_bearer("--role", "clinician", "--org", ORG_GP),
            path=f"/plan/{PATIENT_COPD}",
            heading="Plan for Karen Jensen",
            patient="Karen Jensen",
            cpr=PATIENT_COPD,
            packages=(("KOL", "Grøn"),),
            notes=("Spirometri og KOL-status",),
            nav=("Find patient", "Arbejdsliste"),
        ),
        id="gp-reads-a-patients-plan-through-a-portals-bearer-token",
    ),
]


def _cpr(cpr: str) -> str:
    return f"{cpr[:6]}-{cpr[6:]}"


@pytest.mark.parametrize("view", PLAN_VIEWS)
def test_plan_page(visit: Visit, artifacts: Path, view: PlanView) -> None:
    page = visit.page
    view.sign_in(visit)
    response = page.goto(view.path)
    assert response is not None
    assert response.status == 200, response.status
    expect(page.locator("html")).to_have_attribute("lang", "da")

    main = page.get_by_role("main")
    expect(main.get_by_role("heading", level=1)).to_have_text(view.heading)
    expect(main).to_contain_text(f"{view.patient} · CPR {_cpr(view.cpr)}")
    navigation = page.get_by_role("navigation", name="Hovedmenu")
    for link in view.nav:
        expect(navigation.get_by_role("link", name=link, exact=True)).to_be_visible()

    names = [name for name, _ in view.packages]
    shown = main.get_by_role("heading", level=2).all_inner_texts()
    assert [h for h in shown if h in PACKAGE_NAMES] == names, shown
    for name, triage in view.packages:
        package = main.get_by_role("region", name=name, exact=True)
        # Triage in words, never colour alone.
        expect(package.get_by_text(f"Triage: {triage}", exact=True)).to_be_visible()
        for heading in PACKAGE_SECTIONS:
            expect(package.get_by_role("heading", name=heading, exact=True)).to_have_count(1)
    # A value's history against its target, drawn on the server: an image with words.
    expect(main.get_by_role("img", name=re.compile(r"over tid")).first).to_be_visible()

    for title in view.notes:
        expect(main.get_by_role("heading", name=title, exact=True)).to_be_visible()
    for title in view.withheld:
        expect(main).not_to_contain_text(title)

    screenshots(page, artifacts, view.name)
    found = blocking(axe_violations(page))
    assert not found, describe(found)

    text = print_to_pdf(page, artifacts / f"{view.name}.pdf")
    for expected in (view.patient, f"CPR {_cpr(view.cpr)}", *names, *PACKAGE_SECTIONS):
        assert expected in text, f"{expected!r} is not in the printed plan"
    assert "Udskrevet" in text, "the printed plan carries no print date"
    for title in view.withheld:
        assert title not in text, f"the withheld note {title!r} was printed"
    for chrome in ("Logget ind som", "Log ud", "Udskriv planen"):
        assert chrome not in text, f"the page's {chrome!r} was printed"
    print_screenshot(page, artifacts / f"{view.name}-print.png")
    assert visit.blocked == [], f"the page asked outside 127.0.0.1: {visit.blocked}"


def test_gp_work_list_and_its_filters(visit: Visit, artifacts: Path) -> None:
    page = visit.page
    sign_in_as(page, "Hans Berg")
    page.get_by_role("navigation", name="Hovedmenu").get_by_role(
        "link", name="Arbejdsliste"
    ).click()
    page.wait_for_url(re.compile(r"/worklist"))
    main = page.get_by_role("main")
    expect(main.get_by_role("heading", level=1)).to_have_text("Arbejdsliste: KOL")
    table = main.get_by_role("table", name=re.compile("^Patienter i KOL"))
    patients = table.get_by_role("rowheader").get_by_role("link")
    expect(patients.first).to_be_visible()
    total = _matching(main)
    assert total > 0

    screenshots(page, artifacts, "gp-worklist")
    found = blocking(axe_violations(page))
    assert not found, describe(found)

    # Only the red ones: every row left says so in words, not colour alone.
    main.get_by_role("group", name="Triage").get_by_label("Rød").check()
    main.get_by_role("button", name="Vis").click()
    page.wait_for_url(re.compile(r"triage=RED"))
    red = _matching(main)
    assert 0 < red < total, (red, total)
    rows = table.get_by_role("row").filter(has=page.get_by_role("rowheader"))
    expect(rows.first).to_be_visible()
    for row in rows.all():
        expect(row).to_contain_text("Triage: Rød")
    assert visit.blocked == [], f"the page asked outside 127.0.0.1: {visit.blocked}"


def test_front_page_lists_the_demo_people(visit: Visit, artifacts: Path) -> None:
    page = visit.page
    page.goto("/")
    main = page.get_by_role("main")
    for group, person in (("Borgere", "Karen Jensen"), ("Behandlere", "Dr. Ida Holm")):
        expect(main.get_by_role("heading", name=group)).to_be_visible()
        expect(main.get_by_role("button", name=person)).to_be_visible()
    screenshots(page, artifacts, "front-page")
    found = blocking(axe_violations(page))
    assert not found, describe(found)


def _matching(main: Locator) -> int:
    """The work list's count of the patients that match its filters, as it says it."""
    status = main.get_by_role("status").filter(has_text="passer på filtrene")
    expect(status).to_be_visible()
    found = re.match(r"(\d+) patient", status.inner_text())
    assert found, status.inner_text()
    return int(found.group(1))
