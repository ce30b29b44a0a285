"""Plain attribute leaves read directly (schema.execution) answer exactly as graphql-core does.

Each query runs on two schemas of the same types: one with the shortcut (as the gateway's
``build_schema`` makes it), one without; data and errors (message, path) must be equal,
for good values and for every kind of bad one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import json
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
import strawberry
from graphql import GraphQLObjectType
from strawberry.extensions import SchemaExtension

from schema import build_schema
from schema.direct import mark_direct_fields
from schema.execution import AcyclicExecutionContext


@strawberry.enum
class Level(enum.Enum):
    GREEN = "green"
    RED = "red"


@strawberry.type
class Thing:
    name: str
    note: str | None
    level: Level
    when: dt.date | None
    score: float

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


def _thing(**changes: Any) -> Any:
    values: dict[str, Any] = {
        "name": "a",
        "note": None,
        "level": Level.GREEN,
        "when": dt.date(2026, 1, 2),
        "score": 1.5,
    }
    return SimpleNamespace(**(values | changes))


class _Broken:
    """A source whose attribute read fails, as a bug would."""

    note = None
    level = Level.RED
    when = None
    score = 2.0

    @property
    def name(self) -> str:
        raise RuntimeError("broken")


_THINGS: list[Any] = []


@strawberry.type
class Query:
    @strawberry.field
    def things(self) -> list[Thing | None]:
        return _THINGS

    @strawberry.field
    async def later(self) -> list[Thing | None]:
        return _THINGS


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    plain = strawberry.Schema(query=Query, execution_context_class=AcyclicExecutionContext)
    direct = strawberry.Schema(query=Query, execution_context_class=AcyclicExecutionContext)
    mark_direct_fields(direct._schema)
    return plain, direct


def _answer(schema: strawberry.Schema, query: str) -> tuple[str, list[tuple[str, Any]]]:
    """The data as JSON text (so the fields' order counts too) and the errors."""
    result = asyncio.run(schema.execute(query))
    errors = sorted((e.message, e.path) for e in result.errors or [])
    return json.dumps(result.data), errors


QUERY = """{
  things { name note level when __typename score shout again: name }
  later { shout name level when }
}"""


@pytest.mark.parametrize(
    "things",
    [
        pytest.param([_thing(), _thing(note="n", when=None)], id="good-values-as-graphql-core"),
        pytest.param([_thing(name=None)], id="null-for-a-non-null-leaf-is-graphql-cores-error"),
        pytest.param([_thing(level="purple")], id="a-value-the-enum-refuses-is-its-error"),
        pytest.param([_thing(score="many")], id="a-value-the-scalar-refuses-is-its-error"),
        pytest.param([_thing(when="not a date")], id="a-custom-scalar-refusing-is-its-error"),
        pytest.param([_Broken(), _thing()], id="a-failing-attribute-read-is-its-error"),
        pytest.param([_thing(name=ValueError("boom"))], id="an-exception-value-is-its-error"),
    ],
)
def test_the_shortcut_answers_as_graphql_core(things: list[Any]) -> None:
    _THINGS[:] = things
    plain, direct = _schemas()
    assert _answer(direct, QUERY) == _answer(plain, QUERY)


def test_only_plain_attribute_leaves_are_marked() -> None:
    _plain, direct = _schemas()
    thing = direct._schema.type_map["Thing"]
    assert isinstance(thing, GraphQLObjectType)
    marked = {name for name, field in thing.fields.items() if "minplan-leaf" in field.extensions}
    assert marked == {"name", "note", "level", "when", "score"}  # not `shout`, a resolver


def test_the_gateway_schema_marks_its_plain_leaves_only() -> None:
    schema = build_schema()._schema
    appointment = schema.type_map["Appointment"]
    section = schema.type_map["PlanSection"]
    assert isinstance(appointment, GraphQLObjectType)
    assert isinstance(section, GraphQLObjectType)
    assert "minplan-leaf" in appointment.fields["status"].extensions
    assert "minplan-leaf" not in section.fields["appointments"].extensions  # a list, an argument


class _EveryField(SchemaExtension):
    """An extension that sees each field's resolution (strawberry's ``resolve`` hook)."""

    seen: ClassVar[list[str]] = []

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        _EveryField.seen.append(info.field_name)
        return _next(root, info, *args, **kwargs)


def test_an_extension_hooking_every_field_still_sees_every_leaf() -> None:
    _THINGS[:] = [_thing()]
    schema = strawberry.Schema(
        query=Query, execution_context_class=AcyclicExecutionContext, extensions=[_EveryField]
    )
    mark_direct_fields(schema._schema)
    _EveryField.seen = []
    data, errors = _answer(schema, "{ things { name level } }")
    assert errors == []
    assert json.loads(data) == {"things": [{"name": "a", "level": "GREEN"}]}
    assert _EveryField.seen == ["things", "name", "level"]
