"""Query limits (depth, aliases, tokens) and the masking of unexpected errors."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from demo.people import ORG_GP, PATIENT_COPD
from tests.conftest import MakeGateway


def cyclic_introspection(levels: int) -> str:
    """The classic deep query: ``fields { type { fields { type ...`` ``levels`` times."""
    return (
        "{ __schema { types { " + "fields { type { " * levels + "name" + " } }" * levels + " } } }"
    )


def aliased_plans(count: int) -> str:
    return "{ " + " ".join(f"p{i}: plan {{ cpr }}" for i in range(count)) + " }"


def many_tokens(count: int) -> str:
    """A plan query of about ``count`` tokens, most of them in one long list argument."""
    statuses = " ".join(["BOOKED"] * (count - 20))
    return f"{{ plan {{ packages {{ appointments(status: [{statuses}]) {{ sourceId }} }} }} }}"


def refused(response: httpx.Response) -> list[dict[str, Any]]:
    """The errors of a request refused before execution: no data, not a server error."""
    assert response.status_code < 500, response.text
    body = response.json()
    assert body.get("data") is None
    errors: list[dict[str, Any]] = body["errors"]
    assert errors
    return errors


@pytest.mark.parametrize(
    ("query", "settings", "words"),
    [
        pytest.param(cyclic_introspection(4), {}, "depth", id="cyclic-introspection"),
        pytest.param(
            "{ plan { packages { appointments { sourceId } } } }",
            {"max_query_depth": 2},
            "depth",
            id="plan-deeper-than-setting",
        ),
        pytest.param(aliased_plans(31), {}, "alias", id="31-aliases"),
        pytest.param(many_tokens(2100), {}, "token", id="2100-tokens"),
        pytest.param(many_tokens(60), {"max_tokens": 50}, "token", id="tokens-over-setting"),
    ],
)
async def test_query_over_a_limit_is_refused_without_upstream_calls(
    make_gateway: MakeGateway, query: str, settings: dict[str, Any], words: str
) -> None:
    async with make_gateway(**settings) as gw:
        response = await gw.query(query, gw.citizen(PATIENT_COPD))
        assert gw.upstream.requests == []
    errors = refused(response)
    assert any(words in e["message"].lower() for e in errors), errors
    codes = {e["extensions"]["code"] for e in errors}
    assert codes <= {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"}, errors


@pytest.mark.parametrize(
    ("query", "code"),
    [
        pytest.param("{ plan { cpr ", "GRAPHQL_PARSE_FAILED", id="syntax"),
        pytest.param("{ plan { nope } }", "GRAPHQL_VALIDATION_FAILED", id="unknown-field"),
    ],
)
async def test_a_query_that_does_not_parse_or_validate_has_a_code(
    make_gateway: MakeGateway, query: str, code: str
) -> None:
    # Front ends branch on extensions.code: graphql-core's own errors carry one too.
    async with make_gateway() as gw:
        response = await gw.query(query, gw.citizen(PATIENT_COPD))
        assert gw.upstream.requests == []
    assert response.status_code == 200
    assert [e["extensions"]["code"] for e in refused(response)] == [code]


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(cyclic_introspection(1), id="introspection-within-depth"),
        pytest.param(aliased_plans(30), id="30-aliases"),
        pytest.param(many_tokens(1900), id="1900-tokens"),
    ],
)
async def test_query_within_the_limits_is_answered(make_gateway: MakeGateway, query: str) -> None:
    async with make_gateway() as gw:
        body = await gw.data(query, gw.citizen(PATIENT_COPD))
    assert "errors" not in body, body["errors"]
    assert body["data"]


SECRET = "postgresql://admin:hunter2@db.internal/minplan"


async def test_unexpected_error_in_a_resolver_is_masked(
    make_gateway: MakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken_read(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError(f"could not connect to {SECRET} (/srv/minplan/gateway/plans.py)")

    async with make_gateway() as gw:
        gw.app.state.services.plans.read = broken_read
        response = await gw.query(
            "query($cpr: String) { plan(cpr: $cpr) { cpr } me { role } }",
            gw.clinician(ORG_GP),
            {"cpr": PATIENT_COPD},
        )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None  # plan is non-null, so the whole answer is null
    (error,) = body["errors"]
    assert error["path"] == ["plan"]
    assert error["message"].startswith("Internal error")
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    for internal in ("hunter2", "postgresql", "RuntimeError", "plans.py", "Traceback"):
        assert internal not in response.text
    # Logged by type, request and place; the message (which may quote values) is not.
    (logged,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "RuntimeError" in logged
    assert "path plan" in logged
    assert "test_limits.py:" in logged  # the frame that raised it
    assert "hunter2" not in logged


async def test_a_query_is_validated_once_and_a_refusal_is_given_every_time(
    make_gateway: MakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    import strawberry.schema.schema as strawberry_schema

    validated: list[object] = []
    real = strawberry_schema.validate_document

    def counting(*args: Any) -> Any:
        validated.append(args[1])
        return real(*args)

    monkeypatch.setattr(strawberry_schema, "validate_document", counting)
    too_deep = cyclic_introspection(4)
    async with make_gateway() as gw:
        token = gw.citizen(PATIENT_COPD)
        for _ in range(3):
            response = await gw.query("{ plan { cpr } }", token)
            assert response.json()["data"]["plan"]["cpr"] == PATIENT_COPD
        for _ in range(2):
            errors = refused(await gw.query(too_deep, token))
            assert "depth" in errors[0]["message"].lower()
    assert len(validated) == 2  # each query text once, its verdict reused


def test_the_validation_is_cached_by_document_and_rules() -> None:
    from graphql import specified_rules
    from graphql.validation import NoUnusedFragmentsRule

    from schema import build_schema
    from schema.extensions import DocumentCache

    schema = build_schema()._schema
    rules = tuple(specified_rules)
    cache = DocumentCache()
    first = cache.parse("{ me { name } }", {})
    assert cache.validate(schema, first, rules) == []
    assert cache.validate(schema, first, rules) is cache.validate(schema, first, rules)
    errors = cache.validate(schema, cache.parse("{ nope }", {}), rules)
    assert errors and "nope" in errors[0].message
    unused = cache.parse("{ me { name } } fragment F on Viewer { name }", {})
    assert cache.validate(schema, unused, ()) == []  # other rules: validated again
    assert cache.validate(schema, unused, (NoUnusedFragmentsRule,))
