"""What client tooling reads from the schema besides its types: scalar specifications and
the possible types of each interface.

Code generators map a scalar by its ``@specifiedBy`` URL (else it becomes ``unknown``), and
Apollo Client needs ``possibleTypes`` to read ``... on Sourced`` back from its cache.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    get_introspection_query,
)
from graphql import (
    build_schema as build_sdl,
)

from demo.people import PATIENT_COPD
from gateway.cli import main
from schema import SDL_PATH, build_schema
from schema.possible_types import possible_types
from schema.scalars import DATE_SPEC, DATETIME_SPEC
from tests.conftest import MakeGateway

#: RFC 3339's full-date and date-time (an offset required), as the specifications say.
FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@pytest.mark.parametrize(
    ("scalar", "url"),
    [
        pytest.param("Date", DATE_SPEC, id="Date-is-RFC-3339-full-date"),
        pytest.param("DateTime", DATETIME_SPEC, id="DateTime-is-the-date-time-scalar-spec"),
    ],
)
def test_the_committed_sdl_names_each_scalars_specification(scalar: str, url: str) -> None:
    sdl = SDL_PATH.read_text(encoding="utf-8")
    assert f'scalar {scalar} @specifiedBy(url: "{url}")' in sdl
    served = build_sdl(sdl).type_map[scalar]
    assert isinstance(served, GraphQLScalarType)
    assert served.specified_by_url == url


def test_every_custom_scalar_has_a_specification() -> None:
    schema = build_schema()._schema
    builtin = {"String", "Int", "Float", "Boolean", "ID"}
    custom = [
        t
        for name, t in schema.type_map.items()
        if isinstance(t, GraphQLScalarType) and name not in builtin
    ]
    assert {t.name for t in custom} >= {"Date", "DateTime"}
    assert all(t.specified_by_url for t in custom), [t.name for t in custom]


async def test_introspection_gives_specified_by_url_as_codegen_asks_it() -> None:
    schema = build_schema()
    result = await schema.execute(get_introspection_query(specified_by_url=True))
    assert result.errors is None
    assert result.data is not None
    urls = {
        t["name"]: t["specifiedByURL"]
        for t in result.data["__schema"]["types"]
        if t["kind"] == "SCALAR" and t["name"] in {"Date", "DateTime"}
    }
    assert urls == {"Date": DATE_SPEC, "DateTime": DATETIME_SPEC}


async def test_served_values_follow_the_specifications(make_v2_gateway: MakeGateway) -> None:
    """What the URLs promise: a full-date, and a date-time with its offset."""
    query = """{ plan { generatedAt packages { course { lastReviewAt nextReviewDue }
                 appointments { start } } } }"""
    async with make_v2_gateway() as gw:
        body = await gw.data(query, gw.citizen(PATIENT_COPD))
    plan = body["data"]["plan"]
    times = [plan["generatedAt"]]
    times += [a["start"] for p in plan["packages"] for a in p["appointments"]]
    dates = [
        d
        for p in plan["packages"]
        if p["course"]
        for d in (p["course"]["lastReviewAt"], p["course"]["nextReviewDue"])
        if d
    ]
    assert len(times) > 1 and dates, plan
    assert all(DATE_TIME.match(t) for t in times), times
    assert all(FULL_DATE.match(d) for d in dates), dates
    assert dt.datetime.fromisoformat(times[0]).utcoffset() is not None


def test_possible_types_list_every_implementation_of_every_interface() -> None:
    schema = build_schema()._schema
    found = possible_types(schema)
    interfaces = [
        t
        for name, t in schema.type_map.items()
        if isinstance(t, GraphQLInterfaceType) and not name.startswith("__")
    ]
    assert interfaces, "the schema has interfaces"
    for interface in interfaces:
        implementing = sorted(
            t.name
            for t in schema.type_map.values()
            if isinstance(t, GraphQLObjectType) and interface in t.interfaces
        )
        assert found[interface.name] == implementing
    assert "Appointment" in found["Sourced"] and "Measurement" in found["Sourced"]
    assert set(found) == {t.name for t in interfaces}, "no introspection type, nothing else"


def test_schema_possible_types_prints_apollos_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--possible-types"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == possible_types(build_sdl(SDL_PATH.read_text(encoding="utf-8")))
    assert all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(n, str) for n in v)
        for k, v in printed.items()
    )
