"""The playground with no internet: it loads, runs its preloaded query, and shows the plan.

Every request to a host other than 127.0.0.1 is aborted, so the page passes only if the
gateway serves GraphiQL and everything it loads itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from demo.people import PATIENT_COPD
from tests.browser.viewing import Visit, screenshots

pytestmark = pytest.mark.browser

#: GraphiQL's run button, by its accessible name.
RUN_BUTTON = re.compile(r"^(Execute query|Run)", re.IGNORECASE)


def test_playground_runs_its_preloaded_query_offline(visit: Visit, artifacts: Path) -> None:
    page = visit.page
    response = page.goto("/graphql")
    assert response is not None
    assert response.status == 200
    expect(page).to_have_title("Min Plan playground")
    # Loaded means loaded from here: GraphiQL, React and the explorer are the gateway's own.
    assert visit.blocked == [], f"the playground asked outside 127.0.0.1: {visit.blocked}"

    run = page.get_by_role("button", name=RUN_BUTTON)
    expect(run).to_be_visible(timeout=15_000)
    run.click()

    # The answer is Karen Jensen's plan (the preloaded token is hers), not an error.
    result = page.locator(".graphiql-response")
    expect(result).to_contain_text(f'"cpr": "{PATIENT_COPD}"', timeout=15_000)
    expect(result).to_contain_text('"kind": "COPD"')
    expect(result).not_to_contain_text('"errors"')

    screenshots(page, artifacts, "playground")
    assert visit.blocked == [], f"the playground asked outside 127.0.0.1: {visit.blocked}"
    assert visit.errors == [], f"the playground's scripts failed: {visit.errors}"
