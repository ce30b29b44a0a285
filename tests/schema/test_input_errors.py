"""A variable of the wrong type is the client's mistake: BAD_USER_INPUT, not a logged bug."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from demo.people import ORG_GP, PATIENT_COPD
from schema import build_schema
from tests.conftest import MakeGateway

PLAN = "query($cpr: String) { plan(cpr: $cpr) { cpr } }"
REQUIRED = "query($cpr: String!) { plan(cpr: $cpr) { cpr } }"
STATUSES = """query($s: [AppointmentStatus!]) {
  plan { packages { appointments(status: $s) { sourceId } } } }"""

CASES = [
    pytest.param(PLAN, {"cpr": 101521234}, id="json-number-for-string"),
    pytest.param(PLAN, {"cpr": ["0101521234"]}, id="list-for-string"),
    pytest.param(PLAN, {"cpr": {"value": "0101521234"}}, id="object-for-string"),
    pytest.param(PLAN, {"cpr": True}, id="boolean-for-string"),
    pytest.param(REQUIRED, {}, id="missing-required"),
    pytest.param(REQUIRED, {"cpr": None}, id="null-for-required"),
    pytest.param(STATUSES, {"s": ["NOPE"]}, id="unknown-enum-value"),
    pytest.param(STATUSES, {"s": "BOOKED "}, id="enum-misspelled"),
    pytest.param(STATUSES, {"s": [1]}, id="number-for-enum"),
]


@pytest.mark.parametrize(("query", "variables"), CASES)
async def test_a_variable_of_the_wrong_type_over_http(
    make_gateway: MakeGateway,
    caplog: pytest.LogCaptureFixture,
    query: str,
    variables: dict[str, Any],
) -> None:
    caplog.set_level(logging.DEBUG)
    async with make_gateway() as gw:
        body = await gw.data(query, gw.clinician(ORG_GP), variables)
        assert gw.upstream.requests == []
    assert body.get("data") is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("Variable '$")
    assert "Internal error" not in error["message"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize(("query", "variables"), CASES)
async def test_a_variable_of_the_wrong_type_at_the_schema(
    caplog: pytest.LogCaptureFixture, query: str, variables: dict[str, Any]
) -> None:
    caplog.set_level(logging.DEBUG)
    result = await build_schema().execute(query, variable_values=variables)
    assert result.data is None
    assert result.errors
    assert [e.extensions for e in result.errors] == [{"code": "BAD_USER_INPUT"}]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_bug_is_still_masked_and_logged(make_gateway: MakeGateway) -> None:
    async def broken_read(*_args: object, **_kwargs: object) -> object:
        raise KeyError(PATIENT_COPD)

    async with make_gateway() as gw:
        gw.app.state.services.plans.read = broken_read
        body = await gw.data(PLAN, gw.clinician(ORG_GP), {"cpr": PATIENT_COPD})
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert PATIENT_COPD not in error["message"]
