"""A field whose resolver answers its attribute when given no argument (``appointments``) is
read directly then (schema.direct.NESTED_BARE), and through its resolver when given one.

Each query is answered twice by the same gateway: as it is, and with the direct reading of
such fields turned off; the answers must be equal, and the resolver must run exactly when
the query gives the field an argument.
"""

from __future__ import annotations

from typing import Any

import pytest

import schema.collected
import schema.types.plan
from demo.people import ORG_GP, PATIENT_BOTH
from tests.conftest import MakeGateway

QUERIES = [
    pytest.param(
        "{ packages { kind appointments { status start } } "
        "unassigned { appointments { status } } }",
        False,
        id="no-argument",
    ),
    pytest.param(
        "{ packages { appointments(status: [BOOKED]) { status } } }", True, id="an-argument"
    ),
    pytest.param(
        "{ packages { all: appointments { status } booked: appointments(status: [BOOKED]) "
        "{ status } } }",
        True,
        id="both-under-two-names",
    ),
    pytest.param(
        "{ packages { appointments(status: null) { status } } }", True, id="an-explicit-null"
    ),
]


@pytest.mark.parametrize(("selection", "resolved"), QUERIES)
async def test_appointments_answer_as_their_resolver_does(
    make_gateway: MakeGateway, monkeypatch: pytest.MonkeyPatch, selection: str, resolved: bool
) -> None:
    calls: list[Any] = []
    real = schema.types.plan._by_status

    def by_status(items: list[Any], status: list[Any] | None) -> list[Any]:
        calls.append(status)
        return real(items, status)

    monkeypatch.setattr(schema.types.plan, "_by_status", by_status)
    query = f"query($cpr: String) {{ plan(cpr: $cpr) {selection} }}"
    async with make_gateway() as gw:
        token = gw.clinician(ORG_GP)
        direct = await gw.data(query, token, {"cpr": PATIENT_BOTH})
        direct_calls = len(calls)
        monkeypatch.setattr(schema.collected, "NESTED_BARE", "no such key")
        # Another text: a new document, whose steps are looked up anew.
        resolver = await gw.data(f"{query} ", token, {"cpr": PATIENT_BOTH})
    assert "errors" not in direct, direct["errors"]
    assert direct["data"] == resolver["data"]
    assert direct["data"]["plan"]["packages"][0]
    assert (direct_calls > 0) is resolved  # the resolver runs only for an argument
    assert len(calls) > direct_calls  # with direct reading off, it runs for every one
