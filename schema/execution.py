"""How the schema executes: graphql-core's executor, minus a reference cycle and most of
its per-field work for plain attributes."""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

from graphql import (
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfoHelpers,
)
from graphql.execution.collect_fields import CollectedFields, FieldDetailsList, GroupedFieldSet
from graphql.execution.executor import invalid_return_type_error
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from .collected import Collected, Steps, collected_for, steps_for
from .direct import (
    NO_INFO,
    SLOW,
    Nested,
    attribute,
    unusual,
)

__all__ = ["AcyclicExecutionContext"]


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
        self._collected_known = False
        self._collected: Collected | None = None

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        """graphql-core's, but plain attributes are read and completed directly.

        Most of a plan's fields are plain attributes: leaves of a scalar or enum type, and
        objects or lists of objects whose fields are read the same way. For each, graphql-core
        builds a resolve info, calls strawberry's wrapper around ``getattr`` and walks
        ``complete_value`` through the list and the object. The shortcut gives the same
        answer: a leaf's attribute coerced by its type; an object's fields executed here,
        with graphql-core's own error handling (a null bubbling to the nearest nullable
        field, each error at its path). Every other field, and a value that is anything
        unusual (a null for a non-null field, a value the type refuses, an error, an
        awaitable), goes to graphql-core, which reports it as it always has. The answer keeps
        the query's order.
        """
        if not self._leaves_direct:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        steps, row = self._steps(parent_type, grouped_field_set, path)
        if row is not None and (data := row.read(source_value)) is not None:
            return data
        results: dict[str, Any] = {}
        rest: dict[str, FieldDetailsList] = {}
        pending: dict[str, Awaitable[Any]] = {}
        try:
            for response_name, field_details_list, leaf, nested in steps:
                if leaf is not None:
                    value = leaf.read(source_value)
                elif nested is not None:
                    value = self._nested(
                        nested, parent_type, source_value, path, response_name,
                        field_details_list, position_context,
                    )  # fmt: skip
                    if value is not SLOW and self.is_awaitable(value):
                        pending[response_name] = value
                else:
                    value = SLOW
                if value is SLOW:
                    rest[response_name] = field_details_list
                results[response_name] = value  # a placeholder for the rest: keeps the order
        except Exception:
            if pending:  # a null bubbling past siblings still running, as graphql-core does
                self.settle_in_background(list(pending.values()))
            raise
        if not rest and not pending:
            return results
        try:
            others = (
                super().execute_fields(parent_type, source_value, path, rest, position_context)
                if rest
                else {}
            )
        except Exception:
            if pending:
                self.settle_in_background(list(pending.values()))
            raise
        if isinstance(others, dict) and not pending:
            return _merge(results, rest, others)

        async def merged() -> dict[str, Any]:
            # At once, as graphql-core awaits a selection's fields; the first error cancels
            # the others.
            waiting = [*pending.values(), *([] if isinstance(others, dict) else [others])]
            done = await gather_with_cancel(*waiting)
            for name, value in zip(pending, done, strict=False):
                results[name] = value
            return _merge(results, rest, others if isinstance(others, dict) else done[-1])

        return merged()

    def _steps(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet, path: Path | None
    ) -> Steps:
        # The root's selection is collected anew for each request: its steps are not kept.
        memo = self._operation_collected() if path is not None else None
        return steps_for(memo, parent_type, grouped_field_set)

    def _operation_collected(self) -> Collected | None:
        if not self._collected_known:
            self._collected = collected_for(self.operation, self.fragments)
            self._collected_known = True
        return self._collected

    def _nested(
        self,
        nested: Nested,
        parent_type: GraphQLObjectType,
        source: Any,
        path: Path | None,
        response_name: str,
        field_details_list: FieldDetailsList,
        position_context: Any,
    ) -> Any:
        """A plain object or list-of-objects field completed here, or ``SLOW``.

        Errors are handled as graphql-core's ``execute_field`` and list completion handle
        them (``handle_field_error``: raised on for a non-null type, else recorded and null).
        """
        if self._operation_collected() is None:  # directives: graphql-core's @defer, @stream
            return SLOW
        value = attribute(nested.getter, nested.name, source, non_null=nested.non_null)
        if value is None or value is SLOW:
            return value
        if nested.item_type is None:
            if unusual(value, self.is_awaitable):
                return SLOW
            items = None
        else:
            if not isinstance(value, list | tuple):
                return SLOW
            items = value
            if any(item is None or unusual(item, self.is_awaitable) for item in items):
                return SLOW
        field_path = Path(path, response_name, parent_type.name)
        subfields = self.collect_subfields(nested.object_type, field_details_list)
        selected = subfields.grouped_field_set
        if items is None:
            return self._object(
                nested.object_type, nested.return_type, value, field_path, selected,
                field_details_list, position_context,
            )  # fmt: skip
        item_type = nested.item_type
        assert item_type is not None  # a list field: see _nested()
        completed: list[Any] = []
        waiting: list[int] = []
        try:
            for index, item in enumerate(items):
                data = self._object(
                    nested.object_type, item_type, item, Path(field_path, index, None),
                    selected, field_details_list, position_context,
                )  # fmt: skip
                if self.is_awaitable(data):
                    waiting.append(index)
                completed.append(data)
        except Exception as raw_error:
            if waiting:
                self.settle_in_background([completed[i] for i in waiting])
            self.handle_field_error(raw_error, nested.return_type, field_details_list, field_path)
            return None
        if not waiting:
            return completed
        return self._await_list(
            completed, waiting, nested.return_type, field_details_list, field_path
        )

    def _object(
        self,
        object_type: GraphQLObjectType,
        error_type: GraphQLOutputType,
        value: Any,
        path: Path,
        selected: GroupedFieldSet,
        field_details_list: FieldDetailsList,
        position_context: Any,
    ) -> Any:
        """One object's selected fields; an error as graphql-core handles it for ``error_type``."""
        try:
            if object_type.is_type_of is not None and not object_type.is_type_of(value, NO_INFO):
                raise invalid_return_type_error(object_type, value, field_details_list)
            data = self.execute_fields(object_type, value, path, selected, position_context)
        except Exception as raw_error:
            self.handle_field_error(raw_error, error_type, field_details_list, path)
            return None
        if not self.is_awaitable(data):
            return data

        async def awaited() -> Any:
            try:
                return await data
            except Exception as raw_error:
                self.handle_field_error(raw_error, error_type, field_details_list, path)
                return None

        return awaited()

    async def _await_list(
        self,
        completed: list[Any],
        waiting: list[int],
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> list[Any] | None:
        try:
            done = await gather_with_cancel(*(completed[i] for i in waiting))
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        for index, result in zip(waiting, done, strict=True):
            completed[index] = result
        return completed

    def collect_subfields(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> CollectedFields:
        """graphql-core's, remembered across requests of the same parsed operation.

        graphql-core collects each object's sub-selection again in every request. Without
        directives (``@skip``, ``@include``, ``@defer``) or fragment variables, what it
        collects depends on the document alone, and the parse cache hands every request
        of the same query the same nodes: so it is collected once per operation.
        """
        memo = self._operation_collected()
        if memo is None:
            return super().collect_subfields(return_type, field_details_list)
        key = (return_type, *(id(details.node) for details in field_details_list))
        collected = memo.get(key)
        if collected is None:
            collected = memo[key] = super().collect_subfields(return_type, field_details_list)
        return collected


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


def _alive(ref: weakref.ref[AcyclicExecutionContext]) -> AcyclicExecutionContext:
    context = ref()
    if context is None:  # a resolver outliving its execution: graphql-core's error to raise
        raise RuntimeError("the GraphQL execution is over")
    return context
