"""Break the glass, end to end, as the README's newcomer does it in a browser.

Lis Andersen has blocked the hospital from her journal notes. The hospital's clinician opens
her plan, is refused the notes, gives a reason and sees them; then Lis signs in and finds
that read, with its reason, in her access log.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.viewing import (
    Visit,
    axe_violations,
    blocking,
    describe,
    screenshots,
    sign_in_as,
)

pytestmark = pytest.mark.browser

#: Lis's journal notes (hospital, GP, physiotherapist), all hidden from the hospital.
LIS_NOTES = ("Ambulant notat", "Inhalatorer", "Åndedrætstræning")
REASON = "Indlagt akut med forværring af KOL, skal se tidligere notater"


def test_hospital_clinician_breaks_the_glass_and_lis_sees_it_in_her_log(
    visit: Visit, artifacts: Path
) -> None:
    page = visit.page
    sign_in_as(page, "Ida Holm")
    page.get_by_role("main").get_by_role("link", name="Lis Andersen").click()
    page.wait_for_url(re.compile(r"/plan/1709551234$"))
    main = page.get_by_role("main")
    expect(main.get_by_role("heading", level=1)).to_have_text("Plan for Lis Andersen")

    # Refused: the notes are not there, and the page says something is hidden.
    hidden = main.get_by_role("region", name="Noget er skjult")
    expect(hidden).to_be_visible()
    for title in LIS_NOTES:
        expect(main.get_by_role("heading", name=title, exact=True)).to_have_count(0)
    screenshots(page, artifacts, "hospital-lis-refused")
    found = blocking(axe_violations(page))
    assert not found, describe(found)

    hidden.get_by_label("Begrundelse for værdispring").fill(REASON)
    hidden.get_by_role("button", name="Brug værdispring").click()
    expect(main.get_by_role("status")).to_contain_text("Du har brugt værdispring")
    expect(main.get_by_role("status")).to_contain_text(REASON)
    for title in LIS_NOTES:
        expect(main.get_by_role("heading", name=title, exact=True)).to_be_visible()
    screenshots(page, artifacts, "hospital-lis-broke-the-glass")
    found = blocking(axe_violations(page))
    assert not found, describe(found)

    page.get_by_role("button", name="Log ud").click()
    page.wait_for_url(re.compile(r"/$"))
    sign_in_as(page, "Lis Andersen")
    page.get_by_role("navigation", name="Hovedmenu").get_by_role(
        "link", name="Hvem har set mine data"
    ).click()
    page.wait_for_url(re.compile(r"/access-log$"))
    log = page.get_by_role("main").get_by_role("table", name="Adgange til planen")
    read = log.get_by_role("row").filter(has_text=REASON)
    expect(read).to_have_count(1)
    expect(read).to_contain_text("Dr. Ida Holm")
    expect(read).to_contain_text("Aarhus Universitetshospital")
    expect(read.get_by_role("cell").last).to_contain_text("Ja")
    screenshots(page, artifacts, "citizen-lis-access-log")
    found = blocking(axe_violations(page))
    assert not found, describe(found)
    assert visit.blocked == [], f"a page asked outside 127.0.0.1: {visit.blocked}"
