"""How the schema executes: graphql-core's executor, minus a reference cycle and most of
its per-field work for plain attributes."""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfoHelpers,
    GraphQLSchema,
    Undefined,
    is_leaf_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

__all__ = ["AcyclicExecutionContext", "mark_direct_leaves"]


class AcyclicExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context without graphql-core's reference cycle.

    graphql-core 3.3 gives each execution ``async_helpers`` made of its own bound methods,
    a cycle from the context to itself. Everything the context reaches (the request's
    context, loaders, records, the result) was then freed only by the garbage collector,
    never by reference counting, and under load they filled the older generations and made
    full collections long pauses. Here the helpers reach the context through a weak
    reference, and a plan's objects go as soon as its request is done.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        this = weakref.ref(self)

        def gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
            return _alive(this).gather_async_work(values)

        def track(values: Sequence[Any]) -> None:
            _alive(this).track_async_work(values)

        self.async_helpers = GraphQLResolveInfoHelpers(gather=gather, track=track)
        # strawberry passes a middleware manager always; it has middlewares only when an
        # extension hooks each field's resolution, which the shortcut below would skip.
        manager = self.middleware_manager
        self._leaves_direct = manager is None or not manager.middlewares

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        """graphql-core's, but a plain attribute of a scalar or enum type is read directly.

        Most of a plan's fields are such leaves, and for each graphql-core makes a response
        path, builds a resolve info, calls strawberry's wrapper around ``getattr`` and walks
        ``complete_value``. The shortcut gives the same answer: the attribute, coerced by
        the same type. Every other field, and a leaf whose value is anything unusual (a
        null for a non-null field, a value the type refuses, an error), goes to
        graphql-core, which reports it as it always has. The answer keeps the query's order.
        """
        if not self._leaves_direct:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        rest: dict[str, FieldDetailsList] = {}
        fields = parent_type.fields
        for response_name, field_details_list in grouped_field_set.items():
            field_def = fields.get(field_details_list[0].node.name.value)
            leaf: _Leaf | None = field_def.extensions.get(_LEAF) if field_def is not None else None
            value = _SLOW if leaf is None else leaf.read(source_value)
            if value is _SLOW:
                rest[response_name] = field_details_list
            results[response_name] = value  # a placeholder for the rest: keeps the order
        if not rest:
            return results
        others = super().execute_fields(parent_type, source_value, path, rest, position_context)
        if isinstance(others, dict):
            return _merge(results, rest, others)

        async def merged() -> dict[str, Any]:
            return _merge(results, rest, await others)

        return merged()


def _merge(
    results: dict[str, Any], rest: Mapping[str, Any], others: Mapping[str, Any]
) -> dict[str, Any]:
    """The leaves' values and graphql-core's for the rest, in the query's order."""
    for name in rest:
        if name in others:
            results[name] = others[name]
        else:  # graphql-core leaves out a field it could not execute
            del results[name]
    return results


#: Marks a leaf's value the shortcut does not give: graphql-core's path must.
_SLOW: Any = object()
#: The key in ``GraphQLField.extensions`` (graphql-core's place for such data) of a leaf.
_LEAF = "minplan-leaf"


class _Leaf:
    """How to read one plain attribute field of a scalar or enum type without a resolver."""

    __slots__ = ("coerce", "getter", "name", "non_null")

    def __init__(
        self, getter: Callable[[Any, str], Any], name: str, type_: GraphQLLeafType, non_null: bool
    ) -> None:
        self.getter, self.name, self.non_null = getter, name, non_null
        self.coerce = type_.coerce_output_value

    def read(self, source: Any) -> Any:
        try:
            value = self.getter(source, self.name)
        except Exception:  # graphql-core's path reads it again and reports it
            return _SLOW
        if value is None:
            return _SLOW if self.non_null else None
        if isinstance(value, Exception):
            return _SLOW
        try:
            coerced = self.coerce(value)
        except Exception:  # as above: reported by graphql-core's path
            return _SLOW
        return _SLOW if coerced is None or coerced is Undefined else coerced


def mark_direct_leaves(schema: GraphQLSchema) -> None:
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
                field.extensions[_LEAF] = leaf


def _leaf(field: GraphQLField) -> _Leaf | None:
    definition = field.extensions.get("strawberry-definition")
    if (
        definition is None
        or field.args
        or not getattr(field.resolve, "_is_default", False)
        or not definition.is_basic_field
        or definition.python_name is None
    ):
        return None
    type_, non_null = field.type, False
    if isinstance(type_, GraphQLNonNull):
        type_, non_null = type_.of_type, True
    if not is_leaf_type(type_) or type_.coerce_output_value is None:
        return None
    return _Leaf(definition.default_resolver, definition.python_name, type_, non_null)


def _alive(ref: weakref.ref[AcyclicExecutionContext]) -> AcyclicExecutionContext:
    context = ref()
    if context is None:  # a resolver outliving its execution: graphql-core's error to raise
        raise RuntimeError("the GraphQL execution is over")
    return context
