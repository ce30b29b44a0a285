"""The served schema against the public contract, the committed SDL, and its descriptions.

The contract (``minplan.graphql`` of the shared contract folder) is what front ends build
against: the gateway may add to it, never rename, drop or change what is there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
)
from graphql.pyutils import Undefined

from schema import SDL_PATH, export_sdl

_REPO = Path(__file__).resolve().parents[2]


def _contract_path() -> Path:
    """The partners' contract: ``$MINPLAN_CONTRACT_SDL``, else the shared folder beside the
    repository (as CI has it), else the copy in ``tests/contract/`` (a clone on its own)."""
    if env := os.environ.get("MINPLAN_CONTRACT_SDL"):
        return Path(env)
    shared = _REPO.parent / "shared" / "contract" / "minplan.graphql"
    return shared if shared.exists() else _REPO / "tests" / "contract" / "minplan.graphql"


CONTRACT_PATH = _contract_path()
CONTRACT: GraphQLSchema = build_schema(CONTRACT_PATH.read_text(encoding="utf-8"))
SERVED: GraphQLSchema = build_schema(export_sdl())
#: Version 2 (a superset), beside version 1: the shared folder's, else the copy in tests/.
CONTRACT_V2_PATH = CONTRACT_PATH.with_name("minplan.v2.graphql")
CONTRACT_V2: GraphQLSchema = build_schema(CONTRACT_V2_PATH.read_text(encoding="utf-8"))
#: Every type of version 2 (issues 12 and 13 serve all of it), and its new fields on types
#: version 1 already had.
V2_TYPES = tuple(
    name
    for name in sorted(CONTRACT_V2.type_map)
    if not name.startswith("__") and name not in CONTRACT.type_map
)
V2_FIELDS = [
    (name, field)
    for name, t in sorted(CONTRACT_V2.type_map.items())
    if name in CONTRACT.type_map and isinstance(t, (GraphQLObjectType, GraphQLInterfaceType))
    for field in t.fields
    if field not in getattr(CONTRACT.type_map[name], "fields", {})
]


def _own_types(schema: GraphQLSchema) -> list[GraphQLNamedType]:
    builtin = {"String", "Int", "Float", "Boolean", "ID"}
    return [
        t
        for name, t in sorted(schema.type_map.items())
        if not name.startswith("__") and name not in builtin
    ]


def _output_compatible(served: GraphQLOutputType, contract: GraphQLOutputType) -> bool:
    """A client reading ``contract`` can read ``served``: same shape, nulls at most removed."""
    if isinstance(contract, GraphQLNonNull):
        return isinstance(served, GraphQLNonNull) and _output_compatible(
            served.of_type, contract.of_type
        )
    if isinstance(served, GraphQLNonNull):
        return _output_compatible(served.of_type, contract)
    if isinstance(contract, GraphQLList):
        return isinstance(served, GraphQLList) and _output_compatible(
            served.of_type, contract.of_type
        )
    return not isinstance(served, GraphQLList) and served.name == contract.name


def _input_compatible(served: GraphQLInputType, contract: GraphQLInputType) -> bool:
    """Every value a client may send for ``contract`` is accepted by ``served``."""
    if isinstance(served, GraphQLNonNull):
        return isinstance(contract, GraphQLNonNull) and _input_compatible(
            served.of_type, contract.of_type
        )
    if isinstance(contract, GraphQLNonNull):
        return _input_compatible(served, contract.of_type)
    if isinstance(served, GraphQLList):
        return isinstance(contract, GraphQLList) and _input_compatible(
            served.of_type, contract.of_type
        )
    return not isinstance(contract, GraphQLList) and served.name == contract.name


def _fields(t: GraphQLNamedType) -> dict[str, GraphQLField]:
    return dict(t.fields) if isinstance(t, GraphQLObjectType | GraphQLInterfaceType) else {}


CONTRACT_FIELDS = [
    pytest.param(t.name, name, id=f"{t.name}.{name}")
    for t in _own_types(CONTRACT)
    for name in _fields(t)
]


@pytest.mark.parametrize(
    "type_name", [pytest.param(t.name, id=t.name) for t in _own_types(CONTRACT)]
)
def test_contract_type_is_served_with_the_same_kind(type_name: str) -> None:
    _check_type(CONTRACT, type_name)


@pytest.mark.parametrize("type_name", [pytest.param(n, id=f"v2-{n}") for n in V2_TYPES])
def test_contract_v2_type_is_served_with_the_same_kind(type_name: str) -> None:
    _check_type(CONTRACT_V2, type_name)


def _check_type(schema: GraphQLSchema, type_name: str) -> None:
    contract = schema.get_type(type_name)
    assert contract is not None, f"{type_name} is not in the contract"
    served = SERVED.get_type(type_name)
    assert served is not None, f"type {type_name} of the contract is not served"
    assert type(served) is type(contract), (
        f"{type_name} is a {type(contract).__name__} in the contract, "
        f"a {type(served).__name__} as served"
    )
    if isinstance(contract, GraphQLEnumType):
        assert isinstance(served, GraphQLEnumType)
        missing = set(contract.values) - set(served.values)
        assert not missing, f"enum {type_name} lacks values {sorted(missing)}"
    if isinstance(contract, GraphQLObjectType):
        assert isinstance(served, GraphQLObjectType)
        missing = {i.name for i in contract.interfaces} - {i.name for i in served.interfaces}
        assert not missing, f"{type_name} does not implement {sorted(missing)}"


@pytest.mark.parametrize(("type_name", "field_name"), CONTRACT_FIELDS)
def test_contract_field_is_served_with_a_compatible_type(type_name: str, field_name: str) -> None:
    _check_field(CONTRACT, type_name, field_name)


CONTRACT_V2_FIELDS = [
    pytest.param(t, f, id=f"v2-{t}.{f}")
    for t, f in [
        *V2_FIELDS,
        *((n, f) for n in V2_TYPES for f in _fields(CONTRACT_V2.get_type(n))),  # type: ignore[arg-type]
    ]
]


@pytest.mark.parametrize(("type_name", "field_name"), CONTRACT_V2_FIELDS)
def test_contract_v2_field_is_served_with_a_compatible_type(
    type_name: str, field_name: str
) -> None:
    _check_field(CONTRACT_V2, type_name, field_name)


def _check_field(schema: GraphQLSchema, type_name: str, field_name: str) -> None:
    contract = _fields(schema.get_type(type_name))[field_name]  # type: ignore[arg-type]
    served_fields = _fields(SERVED.get_type(type_name))  # type: ignore[arg-type]
    assert field_name in served_fields, f"{type_name}.{field_name} is not served"
    served = served_fields[field_name]
    assert _output_compatible(served.type, contract.type), (
        f"{type_name}.{field_name} is {served.type} as served, {contract.type} in the contract"
    )
    for arg_name, arg in contract.args.items():
        assert arg_name in served.args, f"{type_name}.{field_name}({arg_name}:) is not served"
        assert _input_compatible(served.args[arg_name].type, arg.type), (
            f"{type_name}.{field_name}({arg_name}:) is {served.args[arg_name].type} as served, "
            f"{arg.type} in the contract"
        )
    extra_required = [
        name for name, arg in served.args.items() if name not in contract.args and _required(arg)
    ]
    assert not extra_required, (
        f"{type_name}.{field_name} requires arguments the contract lacks: {extra_required}"
    )


def _required(arg: GraphQLArgument) -> bool:
    return isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined


@pytest.mark.parametrize("contract", [CONTRACT, CONTRACT_V2], ids=["v1", "v2"])
def test_no_breaking_change_from_the_contract(contract: GraphQLSchema) -> None:
    # graphql-core's own check, as a second opinion on the hand-written one above.
    changes = [f"{c.type.name}: {c.description}" for c in find_breaking_changes(contract, SERVED)]
    assert changes == []


def test_every_part_of_version_2_is_checked() -> None:
    names = set(V2_TYPES) | {f"{t}.{f}" for t, f in V2_FIELDS}
    for part in ("Worklist", "WorklistEntry", "FollowUpAlert", "AccessContext", "AlertKind",
                 "Query.worklist", "CarePackage.alerts", "AccessLogEntry.context"):  # fmt: skip
        assert part in names


def test_committed_sdl_is_the_served_schema() -> None:
    committed = SDL_PATH.read_text(encoding="utf-8")
    assert committed == export_sdl(), (
        "schema/minplan.graphql is out of date with the code; "
        "run `minplan schema > schema/minplan.graphql` and commit it"
    )


def _described() -> list[object]:
    params: list[object] = []
    for t in _own_types(SERVED):
        params.append(pytest.param(t.description, id=t.name))
        for field_name, field in _fields(t).items():
            params.append(pytest.param(field.description, id=f"{t.name}.{field_name}"))
            for arg_name, arg in field.args.items():
                params.append(
                    pytest.param(arg.description, id=f"{t.name}.{field_name}({arg_name})")
                )
    return params


@pytest.mark.parametrize("description", _described())
def test_every_type_field_and_argument_is_described(description: str | None) -> None:
    assert description is not None
    assert description.strip()


@pytest.mark.parametrize("name", ["minplan.graphql", "minplan.v2.graphql"])
def test_the_contract_copy_matches_the_shared_contract(name: str) -> None:
    shared = _REPO.parent / "shared" / "contract" / name
    if not shared.exists():
        pytest.skip("no shared contract folder beside this clone; tests use tests/contract/")
    copy = _REPO / "tests" / "contract" / name
    assert copy.read_text(encoding="utf-8") == shared.read_text(encoding="utf-8"), (
        f"the shared contract changed: cp ../shared/contract/{name} tests/contract/"
    )
