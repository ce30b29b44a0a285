"""A plan's searches started before its operation is executed.

A plan read spends most of its time waiting for its sources; what comes before the first
search leaves (strawberry's extensions, building the execution, the resolver's own start)
adds to that wait. :func:`start_plan_searches` starts the searches as soon as the request is
known to be a valid query: each ``plan`` field at the operation's root, with its arguments
coerced as graphql-core coerces them for the resolver, its needs read from its selection
(:func:`schema.selection.plan_needs`) and its access checked (:meth:`PlanReader.start`).
The resolver then finds the answers in the request's loaders: the same searches, each once.

Only a document the schema's cache already holds, parsed with the request's options and
validated without an error, qualifies: a new or invalid document, a field under a directive
(``@skip``, ``@include``), arguments or variables that do not coerce, anything unusual, and
nothing starts here; execution then goes its usual way, and its answer is the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationType,
    get_operation_ast,
)
from graphql.execution.values import get_argument_values, get_variable_values

from .context import Context
from .selection import plan_needs

if TYPE_CHECKING:
    from . import MinPlanSchema

__all__ = ["start_plan_searches"]

_PLAN = "plan"


def start_plan_searches(
    schema: MinPlanSchema,
    context: Context,
    query: str | None,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> bool:
    """Start the searches of the operation's root ``plan`` fields; True if any started."""
    documents = schema.document_cache
    if query is None or documents is None:
        return False
    core_schema = schema._schema
    document = documents.validated(query, schema.parse_options, core_schema)
    if document is None:
        return False
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return False
    nodes = [
        node
        for node in operation.selection_set.selections
        if isinstance(node, FieldNode) and node.name.value == _PLAN and not node.directives
    ]
    query_type = core_schema.query_type
    if not nodes or query_type is None or _PLAN not in query_type.fields:
        return False
    coerced = get_variable_values(
        core_schema, operation.variable_definitions or (), dict(variables or {}), max_errors=1
    )
    if isinstance(coerced, list):
        return False  # execution reports the variables' errors
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    field = query_type.fields[_PLAN]
    started = False
    for node in nodes:
        try:
            arguments = get_argument_values(field, node, coerced)
        except GraphQLError:
            continue  # execution reports it
        needs = plan_needs([node], fragments)
        started |= context.plans.start(
            context.viewer,
            arguments.get("cpr"),
            context.loaders,
            needs=needs.sources,
            also=needs.searches,
            emergency_reason=arguments.get("emergencyReason"),
        )
    return started
