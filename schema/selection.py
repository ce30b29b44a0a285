"""What a query selects below a field, fragments included, so a read asks only what it needs."""

from __future__ import annotations

from collections.abc import Iterable

from strawberry.types.nodes import SelectedField, Selection

__all__ = ["COURSE_SEARCH", "selects"]

#: The on-demand search behind ``CarePackage.course`` (contract §6: asked only when selected).
COURSE_SEARCH: tuple[str, str] = ("careplan", "CarePlan")


def selects(selections: Iterable[Selection], name: str) -> bool:
    """Whether a field called ``name`` is selected anywhere in ``selections``.

    ``@skip`` and ``@include`` are not evaluated: a field they may leave out still counts,
    so a read asks at worst one search too many, never one too few.
    """
    for selection in selections:
        if isinstance(selection, SelectedField) and selection.name == name:
            return True
        if selects(selection.selections, name):
            return True
    return False
