"""Which sources a ``plan`` query needs, from its selection (contract §6).

:data:`FIELD_SOURCES` is the one table: each field of ``Plan``, ``CarePackage`` and
``PlanSection``, by its GraphQL name, and the sources its data (or what is computed for
it) comes from. Adding a field is one line here; a test fails for a field without one.
The consent source is not in it: the domain asks consent whenever the viewer is not the
patient, whatever the query selects.

:func:`plan_needs` walks the ``plan`` field's selection, fragments and inline fragments
included (aliases do not matter, type conditions are always ``Plan``, ``CarePackage`` or
``PlanSection``), two levels deep: the plan's fields, and those of its packages and
``unassigned``. The items below hold only their own source's data. A field under ``@skip``
or ``@include`` counts as selected: asking a source too many is the safe side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionNode,
)

from core.sources import SOURCE_NAMES

__all__ = ["FIELD_SOURCES", "SECTION_FIELDS", "plan_needs"]

#: GraphQL field name (on Plan, CarePackage, PlanSection) → the sources it needs.
FIELD_SOURCES: dict[str, tuple[str, ...]] = {
    # Plan. `id` is the view (consent's decision); `restricted` is over what was asked.
    "id": (),
    "cpr": (),
    "generatedAt": (),
    "restricted": (),
    "sources": (),
    "packages": ("diagnoses",),  # packages are derived from diagnoses
    "unassigned": ("diagnoses",),  # what is unassigned depends on the packages
    # CarePackage and PlanSection (a package's `id` and `kind` come with its diagnoses).
    "kind": ("diagnoses",),
    "diagnoses": ("diagnoses",),
    "appointments": ("appointments",),
    "journalNotes": ("journal",),
    "goals": ("careplan",),
    "triage": ("careplan",),
    "healthLiteracy": ("pro",),
    "preventionOffers": ("prevention",),
    # v2 (harmless before the fields exist): goals place and target measurements.
    "course": ("careplan",),
    "measurements": ("observations", "careplan"),
    "medications": ("medication",),
    "alerts": ("appointments", "careplan", "observations"),  # contract §5: what alerts read
    "__typename": (),
}

#: Plan fields whose type is a package or section: their selections are walked too.
SECTION_FIELDS = frozenset({"packages", "unassigned"})

_EVERY_SOURCE = frozenset(SOURCE_NAMES)


def plan_needs(
    field_nodes: Iterable[FieldNode], fragments: Mapping[str, FragmentDefinitionNode]
) -> frozenset[str]:
    """The sources the selection of a ``plan`` field needs.

    Args:
        field_nodes: the field's nodes, one per place the query selects it under the same
            response key (GraphQL resolve info's ``field_nodes``).
        fragments: the document's fragments by name (resolve info's ``fragments``).
    """
    walk = _Walk(fragments)
    walk.selections(
        selection
        for node in field_nodes
        if node.selection_set is not None
        for selection in node.selection_set.selections
    )
    return frozenset(walk.needs)


class _Walk:
    """One walk; each named fragment is read once, however often it is spread.

    Once is enough because the table does not depend on where a field appears, so a
    fragment adds the same sources wherever it is spread; reading each spread again would
    let a chain of fragments spreading the next one twice cost 2^n.
    """

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.needs: set[str] = set()
        self.read: set[str] = set()

    def selections(self, nodes: Iterable[SelectionNode]) -> None:
        for node in nodes:
            if isinstance(node, FieldNode):
                self.field(node)
            elif isinstance(node, InlineFragmentNode):
                self.selections(node.selection_set.selections)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if name not in self.read and fragment is not None:
                    self.read.add(name)
                    self.selections(fragment.selection_set.selections)

    def field(self, node: FieldNode) -> None:
        name = node.name.value
        sources = FIELD_SOURCES.get(name)
        # A field the table misses asks everything: never an empty section by mistake.
        self.needs.update(_EVERY_SOURCE if sources is None else sources)
        if name in SECTION_FIELDS and node.selection_set is not None:
            self.selections(node.selection_set.selections)
