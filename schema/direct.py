"""Which fields the executor (:mod:`schema.execution`) reads and completes directly.

Those strawberry resolves with ``getattr`` alone: no resolver of ours, no field extension,
no arguments. A leaf of a scalar or enum type is read and coerced; an object field (or a
list of objects) whose type's ``is_type_of`` needs no resolve info is completed in place.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLID,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    Undefined,
    is_leaf_type,
    is_object_type,
)

__all__ = [
    "BARE_IS_ATTRIBUTE",
    "LEAF",
    "NESTED",
    "NESTED_BARE",
    "NO_INFO",
    "SLOW",
    "Leaf",
    "LeafRow",
    "Nested",
    "attribute",
    "mark_direct_fields",
    "unusual",
]

#: Marks a leaf's value the shortcut does not give: graphql-core's path must.
SLOW: Any = object()
#: What an ``is_type_of`` that reads no resolve info (``reads_info = False``) is given.
NO_INFO: Any = None
#: The keys in ``GraphQLField.extensions`` (graphql-core's place for such data) of a leaf
#: and of a plain object (or list of objects) field.
LEAF = "minplan-leaf"
NESTED = "minplan-nested"
#: The key of a field whose resolver, given none of its arguments, answers its attribute:
#: read as a plain object field where the query gives it no argument.
NESTED_BARE = "minplan-nested-bare"
#: Declares such a field, in its strawberry metadata: ``strawberry.field(metadata=…)``.
BARE_IS_ATTRIBUTE: dict[str, bool] = {"minplan-bare-is-attribute": True}


def attribute(getter: Callable[[Any, str], Any], name: str, source: Any, *, non_null: bool) -> Any:
    """The attribute's value; ``SLOW`` when reading fails or a non-null field has none."""
    try:
        value = getter(source, name)
    except Exception:  # graphql-core's path reads it again and reports it
        return SLOW
    return SLOW if value is None and non_null else value


def unusual(value: Any, is_awaitable: Callable[[Any], bool]) -> bool:
    # graphql-core reports an Exception returned as a value, and awaits an awaitable.
    return isinstance(value, Exception) or is_awaitable(value)


class Nested:
    """How to read one plain attribute field of an object type, or a list of one."""

    __slots__ = ("getter", "item_type", "name", "non_null", "object_type", "return_type")

    def __init__(
        self,
        getter: Callable[[Any, str], Any],
        name: str,
        return_type: GraphQLOutputType,
        object_type: GraphQLObjectType,
        item_type: GraphQLOutputType | None,
    ) -> None:
        self.getter, self.name, self.return_type = getter, name, return_type
        self.object_type, self.item_type = object_type, item_type
        self.non_null = isinstance(return_type, GraphQLNonNull)


#: Scalars whose output coercion gives a ``str`` back unchanged (graphql-core's
#: ``serialize_string`` and ``serialize_id``): a ``str`` is read without the call.
_STR_AS_IS = (GraphQLString, GraphQLID)


class Leaf:
    """How to read one plain attribute field of a scalar or enum type without a resolver."""

    __slots__ = ("coerce", "getter", "name", "non_null", "str_as_is")

    def __init__(
        self, getter: Callable[[Any, str], Any], name: str, type_: GraphQLLeafType, non_null: bool
    ) -> None:
        self.getter, self.name, self.non_null = getter, name, non_null
        self.coerce = type_.coerce_output_value
        self.str_as_is = any(type_ is t for t in _STR_AS_IS)

    def read(self, source: Any) -> Any:
        # attribute() inlined: this runs for every leaf of every answer.
        try:
            value = self.getter(source, self.name)
        except Exception:  # graphql-core's path reads it again and reports it
            return SLOW
        return self.complete(value)

    def complete(self, value: Any) -> Any:
        """The attribute's value as the answer holds it, or ``SLOW``."""
        if value is None:
            return SLOW if self.non_null else None
        if self.str_as_is and type(value) is str:
            return value  # what the type's coercion returns for a str
        if isinstance(value, Exception):
            return SLOW
        try:
            coerced = self.coerce(value)
        except Exception:  # as above: reported by graphql-core's path
            return SLOW
        return SLOW if coerced is None or coerced is Undefined else coerced


class LeafRow:
    """A selection of leaves alone, read with one ``attrgetter`` (all attributes in one
    call) when strawberry reads each with plain ``getattr``."""

    __slots__ = ("get", "leaves", "names")

    def __init__(self, names: tuple[str, ...], leaves: tuple[Leaf, ...]) -> None:
        self.names, self.leaves = names, leaves
        self.get = operator.attrgetter(*(leaf.name for leaf in leaves))

    @staticmethod
    def of(names: Sequence[str], leaves: Sequence[Leaf | None]) -> LeafRow | None:
        """The row, or None when a field is not a leaf or not read with ``getattr``."""
        plain = [leaf for leaf in leaves if leaf is not None and leaf.getter is getattr]
        if len(plain) < 2 or len(plain) != len(leaves):  # one name: attrgetter gives no tuple
            return None
        return LeafRow(tuple(names), tuple(plain))

    def read(self, source: Any) -> dict[str, Any] | None:
        """Every leaf's answer by response name; None when one needs graphql-core's path."""
        try:
            values = self.get(source)
        except Exception:  # graphql-core's path reads them again and reports it
            return None
        data = {}
        for name, leaf, value in zip(self.names, self.leaves, values, strict=True):
            # Leaf.complete inlined for the two commonest values: a null, a str as it is.
            if value is None:
                if leaf.non_null:
                    return None
            elif type(value) is not str or not leaf.str_as_is:
                value = leaf.complete(value)
                if value is SLOW:
                    return None
            data[name] = value
        return data


def mark_direct_fields(schema: GraphQLSchema) -> None:
    """Mark every field :meth:`AcyclicExecutionContext.execute_fields` may read directly.

    Those strawberry resolves with its default resolver alone (no resolver of ours, no
    field extension, no arguments) and whose type is a scalar or an enum, maybe non-null.
    """
    for type_ in schema.type_map.values():
        if not is_object_type(type_) or type_.name.startswith("__"):
            continue
        for field in type_.fields.values():
            leaf = _leaf(field)
            if leaf is not None:
                field.extensions[LEAF] = leaf
            elif (nested := _nested(field)) is not None:
                field.extensions[NESTED] = nested
            elif (bare := _nested_bare(field)) is not None:
                field.extensions[NESTED_BARE] = bare


def _plain(field: GraphQLField) -> Any:
    """The field's strawberry definition if strawberry resolves it with ``getattr`` alone."""
    definition = field.extensions.get("strawberry-definition")
    if (
        definition is None
        or field.args
        or not getattr(field.resolve, "_is_default", False)
        or not definition.is_basic_field
        or definition.python_name is None
    ):
        return None
    return definition


def _nested_bare(field: GraphQLField) -> Nested | None:
    """A field declared :data:`BARE_IS_ATTRIBUTE`, read as :func:`_nested` reads a plain one."""
    definition = field.extensions.get("strawberry-definition")
    if definition is None or definition.python_name is None:
        return None
    if not all(definition.metadata.get(k) == v for k, v in BARE_IS_ATTRIBUTE.items()):
        return None
    return _object_field(field, getattr, definition.python_name)


def _nested(field: GraphQLField) -> Nested | None:
    """A plain field of an object type whose ``is_type_of`` needs no resolve info, or a list
    of one."""
    definition = _plain(field)
    if definition is None:
        return None
    return _object_field(field, definition.default_resolver, definition.python_name)


def _object_field(
    field: GraphQLField, getter: Callable[[Any, str], Any], name: str
) -> Nested | None:
    inner = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    item_type: GraphQLOutputType | None = None
    if isinstance(inner, GraphQLList):
        item_type = inner.of_type
        inner = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
    if not isinstance(inner, GraphQLObjectType):
        return None
    if inner.is_type_of is not None and getattr(inner.is_type_of, "reads_info", True):
        return None  # graphql-core's path, which has a resolve info to give it
    return Nested(getter, name, field.type, inner, item_type)


def _leaf(field: GraphQLField) -> Leaf | None:
    definition = _plain(field)
    if definition is None:
        return None
    type_, non_null = field.type, False
    if isinstance(type_, GraphQLNonNull):
        type_, non_null = type_.of_type, True
    if not is_leaf_type(type_) or type_.coerce_output_value is None:
        return None
    return Leaf(definition.default_resolver, definition.python_name, type_, non_null)
