"""The benchmark's query shapes and its checker (bench/load.py, bench/synthetic.py).

The searches the benchmark expects of each shape are the ones the gateway's selection table
(schema/selection.py) makes it ask; bare strawberry's answers pass the checker, and an
answer that lost the course or a target does not.
"""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from graphql import FieldNode, FragmentDefinitionNode, OperationDefinitionNode, parse
from starlette.applications import Starlette

from bench.bare import create_app
from bench.load import QUERIES, check_plan
from bench.synthetic import SEARCHES, SHAPES, cpr_for, resources, searches_for, sources_for
from schema.selection import COURSE_SEARCH, plan_needs


def _needs(query: str) -> set[tuple[str, str]]:
    """The searches the gateway makes for ``query``'s plan field (consent aside)."""
    document = parse(query)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    plan = next(s for s in operation.selection_set.selections if isinstance(s, FieldNode))
    needs = plan_needs([plan], fragments)
    on_demand = {COURSE_SEARCH}
    plan_searches = {s for s in SEARCHES if s[0] in needs.sources and s not in on_demand}
    return plan_searches | set(needs.searches)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_shape_expects_the_searches_the_gateway_makes_for_it(shape: str) -> None:
    assert _needs(QUERIES[shape]) == set(SHAPES[shape])


def test_search_counts_per_shape_and_viewer() -> None:
    counts = {s: (len(searches_for(s, patient=True)), len(searches_for(s, patient=False)))
              for s in SHAPES}  # fmt: skip
    assert counts == {"full": (10, 11), "appointments": (2, 3), "header": (1, 2)}
    assert set(resources()) == set(SEARCHES)


@pytest.fixture(scope="module")
def bare() -> Starlette:
    return create_app()


async def _answer(app: Starlette, shape: str, cpr: str) -> dict[str, Any]:
    body = {"operationName": "Plan", "query": QUERIES[shape], "variables": {"cpr": cpr}}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bare") as client:
        response = await client.post("/graphql", json=body)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_bare_strawberrys_answer_is_right(bare: Starlette, shape: str) -> None:
    cpr = cpr_for(7)
    want = sources_for("full", patient=True)  # bare lists the whole plan's sources
    assert (
        check_plan(await _answer(bare, shape, cpr), cpr, False, shape=shape, sources=want) is None
    )


@pytest.mark.parametrize(
    ("spoil", "problem"),
    [
        pytest.param(lambda p: p.update(course=None), "course wrong", id="no-course"),
        pytest.param(
            lambda p: p["measurements"][2].update(target=None),
            "measurement targets",
            id="no-target",
        ),
        pytest.param(lambda p: p["medications"].pop(), "medications", id="a-medication-lost"),
    ],
)
async def test_a_plan_missing_v2_parts_is_wrong(bare: Starlette, spoil: Any, problem: str) -> None:
    cpr = cpr_for(8)
    answer = copy.deepcopy(await _answer(bare, "full", cpr))
    spoil(answer["data"]["plan"]["packages"][0])
    found = check_plan(answer, cpr, False, sources=sources_for("full", patient=True))
    assert found is not None and found.startswith(problem)
