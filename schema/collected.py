"""The sub-selections graphql-core collects, remembered per parsed operation across requests.

graphql-core collects each object's sub-selection again in every request. Without
directives (``@skip``, ``@include``, ``@defer``, ``@stream``) or fragment variables, what it
collects depends on the document alone, and the parse cache hands every request of the same
query the same nodes: so it is collected once per operation.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.execution.collect_fields import FieldDetailsList, FragmentDetails, GroupedFieldSet

from .direct import LEAF, NESTED, NESTED_BARE, Leaf, LeafRow, Nested

__all__ = ["Collected", "Step", "Steps", "collected_for", "steps_for"]

#: Collected sub-selections of one operation, by return type and the field nodes' identity;
#: the executor keeps each sub-selection's steps here too, under keys of its own.
Collected = dict[tuple[Any, ...], Any]

#: Per parsed operation (by identity, the operation kept alive beside its entry so that
#: its id is never reused): the sub-selections collected, or None when they may differ
#: between requests. Bounded: an operation dropped here is only collected again.
_COLLECTED: OrderedDict[int, tuple[OperationDefinitionNode, Collected | None]] = OrderedDict()
_COLLECTED_MAX = 512


def collected_for(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDetails]
) -> Collected | None:
    entry = _COLLECTED.get(id(operation))
    if entry is not None and entry[0] is operation:
        _COLLECTED.move_to_end(id(operation))
        return entry[1]
    memo: Collected | None = None
    if _static(operation.selection_set, fragments, set()):
        memo = {}
    _COLLECTED[id(operation)] = (operation, memo)
    if len(_COLLECTED) > _COLLECTED_MAX:
        _COLLECTED.popitem(last=False)
    return memo


def _static(
    selections: SelectionSetNode, fragments: Mapping[str, FragmentDetails], seen: set[str]
) -> bool:
    """Whether collecting under ``selections`` cannot depend on a request's variables."""
    for selection in selections.selections:
        if selection.directives:
            return False
        if isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or selection.arguments or fragment.variable_signatures:
                return False
            if name in seen:
                continue
            seen.add(name)
            definition = fragment.definition
            if definition.directives or not _static(definition.selection_set, fragments, seen):
                return False
        elif isinstance(selection, FieldNode | InlineFragmentNode):
            inner = selection.selection_set
            if inner is not None and not _static(inner, fragments, seen):
                return False
    return True


#: One selected field: its response name, its nodes, and how it is read (a leaf, a plain
#: object or list of objects, or neither: graphql-core's path).
Step = tuple[str, FieldDetailsList, Leaf | None, Nested | None]
#: A sub-selection's steps, and the row that reads them all at once when all are plain leaves.
Steps = tuple[list[Step], LeafRow | None]
#: The memo's key for a sub-selection's steps (beside the collected sub-selections).
_STEPS = "steps"


def steps_for(
    memo: Collected | None, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
) -> Steps:
    """Each selected field with how it is read: looked up once per sub-selection of an
    operation (``memo``, which keeps the sub-selections graphql-core collected), not per
    object; each time when there is no memo."""
    key = (_STEPS, parent_type, id(grouped_field_set))
    if memo is not None and (hit := memo.get(key)) is not None and hit[0] is grouped_field_set:
        found: Steps = hit[1]
        return found
    fields = parent_type.fields
    steps: list[Step] = []
    for response_name, field_details_list in grouped_field_set.items():
        field_def = fields.get(field_details_list[0].node.name.value)
        extensions = field_def.extensions if field_def is not None else {}
        leaf, nested = extensions.get(LEAF), extensions.get(NESTED)
        if nested is None and not any(d.node.arguments for d in field_details_list):
            nested = extensions.get(NESTED_BARE)  # its resolver would answer the attribute
        steps.append((response_name, field_details_list, leaf, nested))
    row = LeafRow.of([step[0] for step in steps], [step[2] for step in steps])
    if memo is not None:
        # The selection kept beside its steps: its id is never reused while they are.
        memo[key] = (grouped_field_set, (steps, row))
    return steps, row
