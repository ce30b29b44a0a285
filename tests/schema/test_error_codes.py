"""Every error carries ``extensions.code``, the same through ``schema.execute`` as over HTTP.

The codes are the schema's: HTTP only serialises them. Each request goes through the app
over HTTP and straight to the same app's schema with a context built from its services.
"""

from __future__ import annotations

from typing import Any

import pytest

from demo.people import ORG_GP, PATIENT_COPD, PATIENT_LBP
from tests.conftest import Gateway, MakeGateway


def depth(levels: int) -> str:
    return (
        "{ __schema { types { " + "fields { type { " * levels + "name" + " } }" * levels + " } } }"
    )


def aliases(count: int) -> str:
    return "{ " + " ".join(f"p{i}: plan {{ cpr }}" for i in range(count)) + " }"


def tokens(count: int) -> str:
    statuses = " ".join(["BOOKED"] * count)
    return f"{{ plan {{ packages {{ appointments(status: [{statuses}]) {{ sourceId }} }} }} }}"


PLAN = "query($cpr: String) { plan(cpr: $cpr) { cpr } }"

CASES = [
    pytest.param("{ plan { cpr }", {}, "citizen", "GRAPHQL_PARSE_FAILED", id="parse-error"),
    pytest.param(tokens(2100), {}, "citizen", "GRAPHQL_PARSE_FAILED", id="token-limit"),
    pytest.param(
        "{ plan { nope } }", {}, "citizen", "GRAPHQL_VALIDATION_FAILED", id="unknown-field"
    ),
    pytest.param(depth(20), {}, "citizen", "GRAPHQL_VALIDATION_FAILED", id="depth-limit"),
    pytest.param(aliases(31), {}, "citizen", "GRAPHQL_VALIDATION_FAILED", id="alias-limit"),
    pytest.param(PLAN, {"cpr": "12345"}, "clinician", "BAD_USER_INPUT", id="malformed-cpr"),
    pytest.param(PLAN, {"cpr": PATIENT_LBP}, "citizen", "FORBIDDEN", id="another-citizen"),
    pytest.param(PLAN, {"cpr": 101521234}, "clinician", "BAD_USER_INPUT", id="wrong-type"),
]


def token_for(gw: Gateway, who: str) -> str:
    return gw.citizen(PATIENT_COPD) if who == "citizen" else gw.clinician(ORG_GP)


async def codes_both_ways(
    gw: Gateway, query: str, variables: dict[str, Any], who: str
) -> tuple[list[str], list[str]]:
    """The error codes over HTTP, then through ``schema.execute``, for the same viewer."""
    token = token_for(gw, who)
    body = await gw.data(query, token, variables)
    over_http = [error["extensions"]["code"] for error in body["errors"]]
    services = gw.app.state.services
    context = services.context(await services.verifier.verify(token), request_id="test")
    result = await gw.app.state.schema.execute(
        query, variable_values=variables, context_value=context
    )
    at_schema = [(error.extensions or {}).get("code") for error in result.errors or ()]
    return over_http, at_schema


@pytest.mark.parametrize(("query", "variables", "who", "code"), CASES)
async def test_the_schema_gives_the_codes_http_gives(
    make_gateway: MakeGateway, query: str, variables: dict[str, Any], who: str, code: str
) -> None:
    async with make_gateway() as gw:
        over_http, at_schema = await codes_both_ways(gw, query, variables, who)
    assert over_http == [code]
    assert at_schema == over_http


async def test_a_masked_bug_is_an_internal_error_both_ways(
    make_gateway: MakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_read(*_args: object, **_kwargs: object) -> object:
        raise KeyError(PATIENT_COPD)

    async with make_gateway() as gw:
        monkeypatch.setattr(gw.app.state.services.plans, "read", broken_read)
        over_http, at_schema = await codes_both_ways(gw, PLAN, {"cpr": PATIENT_COPD}, "clinician")
    assert over_http == ["INTERNAL_SERVER_ERROR"]
    assert at_schema == over_http


async def test_a_cached_validation_error_is_coded_on_a_copy() -> None:
    """The validation cache shares its errors between requests: they are copied, not coded."""
    from schema import build_schema

    schema = build_schema()
    first = await schema.execute("{ plan { nope } }")
    second = await schema.execute("{ plan { nope } }")
    assert first.errors and second.errors
    assert first.errors[0] is not second.errors[0]
    assert [e.extensions for e in second.errors] == [{"code": "GRAPHQL_VALIDATION_FAILED"}]
