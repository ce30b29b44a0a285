"""Plain object and list-of-object fields completed directly (schema.execution) answer
exactly as graphql-core does, errors and their paths included; collected sub-selections
remembered across requests never outlive what they depend on.

As in test_direct_leaves: each query runs on two schemas of the same types, one with the
shortcut and one without, and data (as JSON text: the order counts) and errors must be equal.
"""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType

from schema.direct import mark_direct_fields
from schema.execution import AcyclicExecutionContext
from schema.types.base import instance_of


class PartRecord:
    """What resolvers return in the gateway: not the strawberry class (see instance_of)."""

    def __init__(self, label: Any = "p", size: Any = 1) -> None:
        self.label, self.size = label, size


@strawberry.type
class Part:
    label: str
    size: int | None

    @strawberry.field
    async def later(self) -> str:
        await asyncio.sleep(0)
        return f"later {self.label}"

    is_type_of = instance_of(PartRecord)


@strawberry.type
class Holder:
    name: str
    part: Part | None
    must: Part
    parts: list[Part]
    maybe: list[Part | None] | None


_HOLDERS: list[Any] = []


@strawberry.type
class Query:
    @strawberry.field
    def holders(self) -> list[Holder | None]:
        return _HOLDERS


def _holder(**changes: Any) -> Any:
    values: dict[str, Any] = {
        "name": "h",
        "part": PartRecord("a"),
        "must": PartRecord("b", None),
        "parts": [PartRecord("c"), PartRecord("d", 4)],
        "maybe": [PartRecord("e"), None],
    }
    return SimpleNamespace(**(values | changes))


def _without_label() -> PartRecord:
    part = PartRecord("gone", 2)
    del part.label
    return part


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    plain = strawberry.Schema(query=Query, execution_context_class=AcyclicExecutionContext)
    direct = strawberry.Schema(query=Query, execution_context_class=AcyclicExecutionContext)
    mark_direct_fields(direct._schema)
    return plain, direct


def _answer(
    schema: strawberry.Schema, query: str, variables: dict[str, Any] | None = None
) -> tuple[str, list[tuple[str, Any]]]:
    async def run() -> Any:
        result = await schema.execute(query, variable_values=variables)
        # A null bubbling past running siblings leaves them to settle in the background,
        # as a server's loop lets them; asyncio.run would cancel them half-way instead.
        for _ in range(20):
            await asyncio.sleep(0)
        return result

    result = asyncio.run(run())
    errors = sorted((e.message, e.path) for e in result.errors or [])
    return json.dumps(result.data), errors


QUERY = """{
  holders {
    name
    part { label size __typename }
    must { size label }
    parts { label size again: label }
    maybe { label }
  }
}"""

ASYNC_QUERY = """{ holders { part { later label } parts { label later } must { later } } }"""


@pytest.mark.parametrize(
    "holders",
    [
        pytest.param(
            [_holder(), _holder(part=None, maybe=None)], id="good-objects-as-graphql-core"
        ),
        pytest.param([_holder(must=None)], id="null-for-a-non-null-object-bubbles-to-the-item"),
        pytest.param([_holder(parts=[PartRecord(), None])], id="null-item-in-non-null-list"),
        pytest.param(
            [_holder(parts=[PartRecord(label=None)])], id="null-leaf-bubbles-through-list"
        ),
        pytest.param([_holder(part=PartRecord(label=None))], id="null-leaf-nulls-nullable-object"),
        pytest.param([_holder(maybe=[PartRecord(size="x")])], id="refused-leaf-in-nullable-item"),
        pytest.param([_holder(part=SimpleNamespace(label="x", size=1))], id="wrong-type-object"),
        pytest.param([_holder(parts="not a list")], id="a-non-list-for-a-list"),
        pytest.param([_holder(part=ValueError("boom"))], id="an-exception-value-is-its-error"),
        pytest.param([_holder(parts=(PartRecord("t"),))], id="a-tuple-is-a-list"),
        # Selections of leaves alone are read in one row (schema.direct.LeafRow):
        pytest.param([_holder(must=PartRecord("m", "x"))], id="refused-leaf-in-a-row"),
        pytest.param(
            [_holder(parts=[PartRecord("r", ValueError("bad size"))])],
            id="an-exception-value-in-a-row",
        ),
        pytest.param([_holder(must=_without_label())], id="a-missing-attribute-in-a-row"),
        pytest.param(
            [_holder(parts=[PartRecord(3, True), PartRecord("ok", None)])],
            id="values-coerced-in-a-row",
        ),
    ],
)
@pytest.mark.parametrize("query", [QUERY, ASYNC_QUERY], ids=["sync", "async-inside"])
def test_the_shortcut_completes_objects_as_graphql_core(holders: list[Any], query: str) -> None:
    _HOLDERS[:] = holders
    plain, direct = _schemas()
    assert _answer(direct, query) == _answer(plain, query)


def test_plain_object_fields_are_marked_and_answers_are_right() -> None:
    _HOLDERS[:] = [_holder()]
    _plain, direct = _schemas()
    holder = direct._schema.type_map["Holder"]
    assert isinstance(holder, GraphQLObjectType)
    marked = {n for n, f in holder.fields.items() if "minplan-nested" in f.extensions}
    assert marked == {"part", "must", "parts", "maybe"}
    data, errors = _answer(direct, "{ holders { parts { label } must { later } } }")
    assert errors == []
    assert json.loads(data) == {
        "holders": [{"parts": [{"label": "c"}, {"label": "d"}], "must": {"later": "later b"}}]
    }


def test_a_directive_depending_on_a_variable_is_collected_per_request() -> None:
    _HOLDERS[:] = [_holder()]
    _plain, direct = _schemas()
    query = "query($on: Boolean!) { holders { part { label size @include(if: $on) } } }"
    with_size = _answer(direct, query, {"on": True})
    without = _answer(direct, query, {"on": False})
    assert json.loads(with_size[0]) == {"holders": [{"part": {"label": "a", "size": 1}}]}
    assert json.loads(without[0]) == {"holders": [{"part": {"label": "a"}}]}
    assert json.loads(_answer(direct, query, {"on": True})[0]) == json.loads(with_size[0])


def test_the_same_document_twice_answers_the_same() -> None:
    _HOLDERS[:] = [_holder(), _holder(name="x", part=None)]
    _plain, direct = _schemas()
    first = _answer(direct, QUERY)
    _HOLDERS[:] = [_holder(name="y")]
    second = _answer(direct, QUERY)
    assert json.loads(first[0])["holders"][1]["name"] == "x"
    assert json.loads(second[0])["holders"] == [json.loads(first[0])["holders"][0] | {"name": "y"}]
