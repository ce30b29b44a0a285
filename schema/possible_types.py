"""The concrete types behind each interface and union, as normalising client caches want them.

Apollo Client's ``InMemoryCache({ possibleTypes })`` (and urql's graphcache, Relay) cannot
tell from an answer alone which types a fragment on an interface matches: without this
map Apollo Client drops the fields of ``... on Sourced`` (``source``, ``sourceId``) from
what it reads back from its cache. ``minplan schema --possible-types`` prints it.
"""

from __future__ import annotations

import json

from graphql import GraphQLInterfaceType, GraphQLSchema, GraphQLUnionType

__all__ = ["possible_types", "possible_types_json"]


def possible_types(schema: GraphQLSchema) -> dict[str, list[str]]:
    """``{"Sourced": ["Appointment", …]}``: every interface and union, its object types sorted.

    The shape Apollo Client's ``possibleTypes`` option takes, and GraphQL Code Generator's
    ``fragment-matcher`` plugin writes. Introspection's own types are left out.
    """
    return {
        name: sorted(t.name for t in schema.get_possible_types(abstract))
        for name, abstract in sorted(schema.type_map.items())
        if isinstance(abstract, (GraphQLInterfaceType, GraphQLUnionType))
        and not name.startswith("__")
    }


def possible_types_json(schema: GraphQLSchema) -> str:
    """:func:`possible_types` as the JSON ``minplan schema --possible-types`` prints."""
    return json.dumps(possible_types(schema), indent=2) + "\n"
