"""Which sources a ``plan`` query needs, from its selection (contract §6).

:data:`FIELD_SOURCES` is the one table: each field of ``Plan``, ``CarePackage`` and
``PlanSection``, by its GraphQL name, and what its data (or what is computed for it) comes
from: a source name (the searches every plan read of it makes), or one on-demand search
such as :data:`COURSE_SEARCH`. Adding a field is one line here; a test fails for a field
without one. The consent source is not in it: the domain asks consent whenever the viewer
is not the patient, whatever the query selects.

:func:`plan_needs` walks the ``plan`` field's selection, fragments and inline fragments
included (aliases do not matter, type conditions are always ``Plan``, ``CarePackage`` or
``PlanSection``), two levels deep: the plan's fields, and those of its packages and
``unassigned``. The items below hold only their own source's data. A field under ``@skip``
or ``@include`` counts as selected: asking a source too many is the safe side.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionNode,
)

from core.sources import SOURCE_NAMES

__all__ = [
    "COURSE_SEARCH",
    "FIELD_SOURCES",
    "SECTION_FIELDS",
    "PlanNeeds",
    "plan_needs",
    "worklist_needs",
]

#: A source's name, or one search of it (source, FHIR resource type) made only when needed.
Need = str | tuple[str, str]

#: The on-demand search behind ``CarePackage.course`` (contract §6: asked only when selected).
COURSE_SEARCH: tuple[str, str] = ("careplan", "CarePlan")

#: GraphQL field name (on Plan, CarePackage, PlanSection) → what it needs.
FIELD_SOURCES: dict[str, tuple[Need, ...]] = {
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
    # v2: the course is a CarePlan (placed by its diagnoses); goals place and target values.
    "course": (COURSE_SEARCH,),
    "measurements": ("observations", "careplan"),
    "medications": ("medication",),
    # Contract §5: everything the alert rules read; the course decides three of them.
    "alerts": ("diagnoses", "appointments", "careplan", "observations", COURSE_SEARCH),
    "__typename": (),
}

#: The package field whose selection asks for the follow-up alerts to be worked out.
ALERTS_FIELD = "alerts"

#: Plan fields whose type is a package or section: their selections are walked too.
SECTION_FIELDS = frozenset({"packages", "unassigned"})

#: What a field the table misses needs: everything.
_EVERYTHING: tuple[Need, ...] = (*SOURCE_NAMES, COURSE_SEARCH)


class PlanNeeds(NamedTuple):
    """What a plan read must ask: sources (their plan searches) and on-demand searches; and
    whether the packages' follow-up alerts are selected (else they are not worked out)."""

    sources: frozenset[str]
    searches: tuple[tuple[str, str], ...]
    alerts: bool = False


def plan_needs(
    field_nodes: Iterable[FieldNode], fragments: Mapping[str, FragmentDefinitionNode]
) -> PlanNeeds:
    """The sources the selection of a ``plan`` field needs.

    Args:
        field_nodes: the field's nodes, one per place the query selects it under the same
            response key (GraphQL resolve info's ``field_nodes``).
        fragments: the document's fragments by name (resolve info's ``fragments``).
    """
    nodes = tuple(field_nodes)
    key = tuple(id(node) for node in nodes)
    known = _NEEDS.get(key)
    if known is not None and all(a is b for a, b in zip(known[0], nodes, strict=True)):
        _NEEDS.move_to_end(key)
        return known[1]
    walk = _Walk(fragments)
    walk.selections(
        selection
        for node in nodes
        if node.selection_set is not None
        for selection in node.selection_set.selections
    )
    needs = walk.result()
    # The nodes kept beside their needs: their ids are never reused while they are here.
    _NEEDS[key] = (nodes, needs)
    if len(_NEEDS) > _NEEDS_MAX:
        _NEEDS.popitem(last=False)
    return needs


#: What each plan selection needs, by its field nodes' identity: the parse cache hands every
#: request of the same query the same nodes, and what they need depends on them alone (their
#: fragments are their document's). Bounded: a selection dropped here is only walked again.
_NEEDS: OrderedDict[tuple[int, ...], tuple[tuple[FieldNode, ...], PlanNeeds]] = OrderedDict()
_NEEDS_MAX = 1024


def worklist_needs(
    field_nodes: Iterable[FieldNode], fragments: Mapping[str, FragmentDefinitionNode]
) -> PlanNeeds:
    """The sources the ``entries { package { … } }`` selection of a ``worklist`` field needs.

    What the work list's order and filters read is not in it: the work list asks that
    whatever the query selects (contract §5).
    """
    packages = _fields_named(_fields_named(field_nodes, "entries", fragments), "package", fragments)
    walk = _Walk(fragments)
    walk.selections(
        selection
        for node in packages
        if node.selection_set is not None
        for selection in node.selection_set.selections
    )
    return walk.result()


def _fields_named(
    parents: Iterable[FieldNode], name: str, fragments: Mapping[str, FragmentDefinitionNode]
) -> list[FieldNode]:
    """The ``name`` fields selected under ``parents``, through fragments (each read once)."""
    found: list[FieldNode] = []
    read: set[str] = set()
    pending: list[SelectionNode] = [
        s for p in parents if p.selection_set is not None for s in p.selection_set.selections
    ]
    while pending:
        node = pending.pop()
        if isinstance(node, FieldNode):
            if node.name.value == name:
                found.append(node)
        elif isinstance(node, InlineFragmentNode):
            pending.extend(node.selection_set.selections)
        elif isinstance(node, FragmentSpreadNode):
            fragment = fragments.get(node.name.value)
            if fragment is not None and node.name.value not in read:
                read.add(node.name.value)
                pending.extend(fragment.selection_set.selections)
    return found


class _Walk:
    """One walk; each named fragment is read once, however often it is spread.

    Once is enough because the table does not depend on where a field appears, so a
    fragment adds the same sources wherever it is spread; reading each spread again would
    let a chain of fragments spreading the next one twice cost 2^n.
    """

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.needs: set[Need] = set()
        self.read: set[str] = set()
        self.alerts = False

    def result(self) -> PlanNeeds:
        sources = frozenset(n for n in self.needs if isinstance(n, str))
        searches = tuple(sorted(n for n in self.needs if not isinstance(n, str)))
        return PlanNeeds(sources, searches, self.alerts)

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
        self.alerts |= name == ALERTS_FIELD
        sources = FIELD_SOURCES.get(name)
        # A field the table misses asks everything: never an empty section by mistake.
        self.needs.update(_EVERYTHING if sources is None else sources)
        if name in SECTION_FIELDS and node.selection_set is not None:
            self.selections(node.selection_set.selections)
