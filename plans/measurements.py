"""Disease values in the plan (contract §1, v2): where a measurement goes, and its target.

An Observation belongs to the package of the Condition in its ``focus``; else to every
package that has a Goal whose ``target[0].measure`` is the Observation's code (system and
code); else to ``unassigned``. In each package it lands in, its ``target`` and ``onTarget``
come from that package's *active* Goal for the code, the one due soonest.

Only the goals placed in the packages count, so only those this viewer sees: consent
filtering runs before assembly. With ``goals`` blocked, values are placed by ``focus``
alone and carry no target; a withheld goal neither places nor targets anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields

from core.records import GoalRecord, MeasurementRecord
from plans.model import CarePackage, Measurement, PackageKind, PlanSection

__all__ = ["place_measurements", "placed", "target_goal"]


def place_measurements(
    records: Iterable[MeasurementRecord],
    packages: Mapping[PackageKind, CarePackage],
    condition_kind: Mapping[str, PackageKind],
    unassigned: PlanSection,
) -> None:
    """Add each measurement to its packages (with their targets) or to ``unassigned``.

    Goals must be placed already: they decide placement and targets.
    ``condition_kind`` maps a visible Condition's id to its package kind.
    """
    for record in records:
        homes = _by_focus(record, packages, condition_kind) or [
            package
            for package in packages.values()
            if any(g.measures_code(record.system, record.code) for g in package.goals)
        ]
        if not homes:
            unassigned.measurements.append(placed(record, None))
        for package in homes:
            package.measurements.append(placed(record, target_goal(package.goals, record)))


def _by_focus(
    record: MeasurementRecord,
    packages: Mapping[PackageKind, CarePackage],
    condition_kind: Mapping[str, PackageKind],
) -> list[CarePackage]:
    # A focus on a Condition of no package (hypertension), or of a package the patient is
    # not in (a resolved diagnosis), places nothing: the goal rule decides then.
    kinds = dict.fromkeys(
        kind for ref in record.condition_refs if (kind := condition_kind.get(ref)) in packages
    )
    return [packages[kind] for kind in kinds if kind is not None]


def target_goal(goals: Iterable[GoalRecord], record: MeasurementRecord) -> GoalRecord | None:
    """The active goal about the record's code that is due soonest (no due date: last)."""
    candidates = [
        g for g in goals if g.status == "active" and g.measures_code(record.system, record.code)
    ]
    if not candidates:
        return None
    return min(candidates, key=_due_order)


def _due_order(goal: GoalRecord) -> tuple[bool, int, str]:
    return goal.due is None, goal.due.toordinal() if goal.due else 0, goal.source_id


def placed(record: MeasurementRecord, goal: GoalRecord | None) -> Measurement:
    """The record as shown in one section, with ``goal``'s target (none without a goal)."""
    values = {f.name: getattr(record, f.name) for f in fields(record)}
    values.pop("target", None)  # a Measurement placed again takes the new section's target
    values.pop("on_target", None)
    if goal is None:
        return Measurement(**values)
    return Measurement(**values, target=goal.target, on_target=goal.on_target(record.value))
