"""A plan's searches leave before its operation is executed (schema.prefetch), and change nothing.

The searches start early only for a document the gateway has already parsed and validated,
so each case sends its query twice: the second request is the one that starts early. It
must make exactly the searches the first made (contract §6), each once, with the same
answer; and nothing at all where the read is refused before any source is asked.
"""

from __future__ import annotations

from typing import Any

import pytest

import gateway.graphql_http
from demo.people import ORG_GP, ORG_HOSPITAL, PATIENT_BLOCKS, PATIENT_BOTH, PROXY_OF_BOTH
from schema import MinPlanSchema
from tests.conftest import FULL_PLAN, Gateway, MakeGateway
from tests.schema.test_selection import first_pages, plan_query

#: No cache: every read asks its sources, so the second read's searches can be counted.
NO_CACHE: dict[str, Any] = {"cache_ttl": 0, "consent_cache_ttl": 0}


class Started:
    """What ``start_plan_searches`` answered, request by request, and how many searches
    had left when strawberry began to execute the operation."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, gw: Gateway) -> None:
        self.answers: list[bool] = []
        self.sent_before_execution: list[int] = []
        real_start = gateway.graphql_http.start_plan_searches
        real_execute = MinPlanSchema.execute

        def start(*args: Any, **kwargs: Any) -> bool:
            answer = real_start(*args, **kwargs)
            self.answers.append(answer)
            return answer

        async def execute(schema: MinPlanSchema, *args: Any, **kwargs: Any) -> Any:
            self.sent_before_execution.append(len(gw.upstream.requests))
            return await real_execute(schema, *args, **kwargs)

        monkeypatch.setattr(gateway.graphql_http, "start_plan_searches", start)
        monkeypatch.setattr(MinPlanSchema, "execute", execute)


async def _twice(
    gw: Gateway, query: str, token: str, variables: dict[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, str]], dict[str, Any], list[tuple[str, str]]]:
    """Both answers and the first pages each request searched."""
    first = await gw.data(query, token, variables)
    searched_first = first_pages(gw)
    gw.upstream.requests.clear()
    second = await gw.data(query, token, variables)
    return first, searched_first, second, first_pages(gw)


@pytest.mark.parametrize(
    "selection",
    [
        pytest.param(FULL_PLAN.split("plan(cpr: $cpr)", 1)[1].rsplit("}", 1)[0], id="full-plan"),
        pytest.param("{ packages { kind appointments { status } } }", id="appointments"),
        pytest.param("{ packages { kind } }", id="one-package-header"),
        pytest.param("{ packages { course { status } } }", id="course"),
        pytest.param("{ packages { alerts { kind } } }", id="alerts"),
        pytest.param(
            "{ ...P } fragment P on Plan { unassigned { ...S } } "
            "fragment S on PlanSection { medications { name } }",
            id="fragments",
        ),
        pytest.param("{ restricted }", id="no-section"),
    ],
)
@pytest.mark.parametrize("viewer", ["clinician", "patient", "proxy"])
async def test_the_second_read_starts_early_and_asks_what_the_first_asked(
    make_gateway: MakeGateway, monkeypatch: pytest.MonkeyPatch, selection: str, viewer: str
) -> None:
    async with make_gateway(**NO_CACHE) as gw:
        started = Started(monkeypatch, gw)
        token = {
            "clinician": gw.clinician(ORG_GP),
            "patient": gw.citizen(PATIENT_BOTH),
            "proxy": gw.citizen(PROXY_OF_BOTH),
        }[viewer]
        query = plan_query(selection)
        first, asked_first, second, asked_second = await _twice(
            gw, query, token, {"cpr": PATIENT_BOTH}
        )
    assert "errors" not in second, second["errors"]
    assert asked_second == asked_first  # the same searches, each once
    assert len(asked_second) == len(set(asked_second))
    _same_plan(first, second)
    asks_anything = bool(asked_first)
    assert started.answers == [False, asks_anything]  # a document new to the gateway: not early
    if asks_anything:
        assert started.sent_before_execution[1] >= 1, "the searches left before execution"
    if viewer == "proxy":  # the power of attorney first, even when starting early
        assert gw.upstream.searches()[0] == ("consent", "Consent")


def _same_plan(first: dict[str, Any], second: dict[str, Any]) -> None:
    """The same plan but for what differs between two reads (when, how long)."""

    def steady(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: steady(v) for k, v in value.items() if k not in ("generatedAt", "latencyMs")}
        if isinstance(value, list):
            return [steady(v) for v in value]
        return value

    assert steady(second) == steady(first)


@pytest.mark.parametrize(
    ("query", "variables", "viewer"),
    [
        pytest.param(
            "query($cpr: String) { plan(cpr: $cpr) { packages { kind } } }",
            {"cpr": "12345"},
            "clinician",
            id="malformed-cpr",
        ),
        pytest.param(
            'query($cpr: String) { plan(cpr: $cpr, emergencyReason: "Akut") { cpr } }',
            {"cpr": PATIENT_BOTH},
            "patient",
            id="citizen-breaking-the-glass",
        ),
        pytest.param(
            'query($cpr: String) { plan(cpr: $cpr, emergencyReason: "!!") { cpr } }',
            {"cpr": PATIENT_BLOCKS},
            "clinician",
            id="emergency-reason-without-words",
        ),
        pytest.param(
            "query($cpr: String) { plan(cpr: $cpr) @skip(if: true) { packages { kind } } }",
            {"cpr": PATIENT_BOTH},
            "clinician",
            id="skipped",
        ),
        pytest.param(
            "query($cpr: String, $x: Boolean!) "
            "{ plan(cpr: $cpr) @include(if: $x) { packages { kind } } }",
            {"cpr": PATIENT_BOTH, "x": False},
            "clinician",
            id="not-included",
        ),
        pytest.param(
            "query($cpr: String) { plan(cpr: $cpr) { packages { kind } } }",
            {"cpr": 1234567890},
            "clinician",
            id="variable-of-the-wrong-type",
        ),
    ],
)
async def test_nothing_is_asked_early_for_a_read_refused_before_asking(
    make_gateway: MakeGateway,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
    variables: dict[str, Any],
    viewer: str,
) -> None:
    async with make_gateway(**NO_CACHE) as gw:
        started = Started(monkeypatch, gw)
        token = gw.clinician(ORG_HOSPITAL) if viewer == "clinician" else gw.citizen(PATIENT_BOTH)
        first, asked_first, second, asked_second = await _twice(gw, query, token, variables)
    assert asked_first == asked_second == []
    assert started.answers == [False, False]
    assert second == first  # the same refusal (or the same empty answer), early or not


@pytest.mark.parametrize("fault", [503, "junk", "refused"])
async def test_a_source_down_when_starting_early_leaves_the_rest_of_the_plan(
    make_gateway: MakeGateway, monkeypatch: pytest.MonkeyPatch, faulty: Any, fault: int | str
) -> None:
    async with make_gateway(transport=faulty, **NO_CACHE) as gw:
        started = Started(monkeypatch, gw)
        faulty.faults["appointments"] = fault
        query = plan_query("{ sources { name ok } packages { kind appointments { status } } }")
        first, _, second, asked = await _twice(
            gw, query, gw.clinician(ORG_GP), {"cpr": PATIENT_BOTH}
        )
    assert started.answers == [False, True]
    _same_plan(first, second)
    sources = {s["name"]: s["ok"] for s in second["data"]["plan"]["sources"]}
    assert sources == {"diagnoses": True, "appointments": False, "consent": True}
    assert second["data"]["plan"]["packages"], "the rest of the plan is served"
    assert [e["extensions"]["code"] for e in second["errors"]] == ["SOURCE_UNAVAILABLE"]
    assert ("appointments", "Appointment") in asked
