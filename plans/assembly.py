"""Plan assembly: derive the care packages and place every visible item (contract §1).

A package exists when an active Condition of its kind exists. An item belongs to the package
of a diagnosis code it carries, or of the ``Condition/{id}`` it references in the
``diagnoses`` source; an item that fits no package of the patient's goes to ``unassigned``.
An item fitting two packages (say an appointment for COPD and back pain) shows in both.

(v2) A package's course is its CarePlan with status ``active`` or ``on-hold`` (the latest
``created`` if several), else its latest-created ``completed`` one; ``draft`` and
``revoked`` plans are no course, and a CarePlan of no package is shown nowhere.
Medication is placed like any item; measurements by their own rules (plans/measurements.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from core.records import (
    AppointmentRecord,
    CourseRecord,
    DiagnosisRecord,
    GoalRecord,
    HealthLiteracyRecord,
    JournalNoteRecord,
    MeasurementRecord,
    MedicationRecord,
    PreventionOfferRecord,
    Record,
    TriageRecord,
)
from plans.measurements import place_measurements
from plans.model import CarePackage, PackageKind, PlanSection

__all__ = ["assemble_packages", "package_kind"]

_EPOCH = datetime.min.replace(tzinfo=UTC)
#: CarePlan statuses that make a course ahead of a completed one.
_CURRENT = frozenset({"active", "on-hold"})


def package_kind(code: str) -> PackageKind | None:
    """The package a normalised ICD-10 code puts a patient in, if any.

    >>> package_kind("DJ449"[1:4]).name, package_kind("I21.0").name, package_kind("I10")
    ('COPD', 'HEART_DISEASE', None)
    """
    if code.startswith("J44"):
        return PackageKind.COPD
    if code.startswith("M54.5"):
        return PackageKind.LOW_BACK_PAIN
    if code.startswith("E11"):
        return PackageKind.TYPE2_DIABETES
    if code[:1] == "I" and code[1:3].isdigit() and 20 <= int(code[1:3]) <= 25:
        return PackageKind.HEART_DISEASE
    return None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def assemble_packages(
    by_source: Mapping[str, Sequence[Record]],
    *,
    package_id: Callable[[PackageKind], str],
) -> tuple[list[CarePackage], PlanSection]:
    """Build the packages and the unassigned section from visible records.

    ``package_id`` names a package of this patient in this view (``ViewIds.package_id``).

    ``by_source`` holds only what the viewer may see; a source that is absent (denied or
    failed) contributes nothing. Without visible diagnoses no package can be derived, and
    every item is unassigned.
    """
    conditions = [r for r in by_source.get("diagnoses", ()) if isinstance(r, DiagnosisRecord)]
    active = [c for c in conditions if c.active]
    packages: dict[PackageKind, CarePackage] = {}
    condition_kind: dict[str, PackageKind] = {}
    unassigned = PlanSection()
    for condition in conditions:
        # An item referencing a Condition belongs to that Condition's package, active or
        # not; whether the package exists is decided by the active ones below.
        kind = package_kind(condition.code)
        if kind is not None:
            condition_kind[condition.source_id] = kind
    for condition in active:
        kind = package_kind(condition.code)
        if kind is None:
            unassigned.diagnoses.append(condition)
            continue
        package = packages.get(kind)
        if package is None:
            package = packages[kind] = CarePackage(id=package_id(kind), kind=kind)
        package.diagnoses.append(condition)

    def homes(record: Record) -> list[CarePackage]:
        kinds: dict[PackageKind, None] = {}
        for code in record.codes:
            kind = package_kind(code)
            if kind is not None and kind in packages:
                kinds[kind] = None
        for ref in record.condition_refs:
            kind = condition_kind.get(ref)
            if kind is not None and kind in packages:
                kinds[kind] = None
        return [packages[k] for k in kinds]

    measurements: list[MeasurementRecord] = []
    for source, records in by_source.items():
        if source == "diagnoses":
            continue
        for record in records:
            if isinstance(record, MeasurementRecord):
                measurements.append(record)  # placed by the goals, so after them
            else:
                _place(record, homes(record), unassigned, packages)
    place_measurements(measurements, packages, condition_kind, unassigned)

    for section in (*packages.values(), unassigned):
        _sort(section)
    ordered = [packages[k] for k in PackageKind if k in packages]
    return ordered, unassigned


def _place(
    record: Record,
    targets: list[CarePackage],
    unassigned: PlanSection,
    packages: Mapping[PackageKind, CarePackage],
) -> None:
    if isinstance(record, TriageRecord):
        for package in targets:  # the latest assessment per package; none goes unassigned
            if package.triage is None or _aware(record.assessed_at) > _aware(
                package.triage.assessed_at
            ):
                package.triage = record
        return
    if isinstance(record, HealthLiteracyRecord):
        # A response that names no package is about the patient: it applies to every package.
        for package in targets or (list(packages.values()) if not record.codes else []):
            current = package.health_literacy
            if current is None or _aware(record.answered_at) > _aware(current.answered_at):
                package.health_literacy = record
        return
    if isinstance(record, CourseRecord):
        if record.may_be_course:  # a CarePlan of no package is no course of any
            for package in targets:
                if package.course is None or _course_rank(record) > _course_rank(package.course):
                    package.course = record
        return
    sections: list[PlanSection] = list(targets) or [unassigned]
    for section in sections:
        if isinstance(record, AppointmentRecord):
            section.appointments.append(record)
        elif isinstance(record, JournalNoteRecord):
            section.journal_notes.append(record)
        elif isinstance(record, GoalRecord):
            section.goals.append(record)
        elif isinstance(record, PreventionOfferRecord):
            section.prevention_offers.append(record)
        elif isinstance(record, MedicationRecord):
            section.medications.append(record)


def _course_rank(course: CourseRecord) -> tuple[bool, datetime, str]:
    # active/on-hold beat completed; then the latest created (none: oldest); then the id,
    # so two plans created at once still give the same course on every read.
    created = _aware(course.plan_created_at) if course.plan_created_at else _EPOCH
    return course.status in _CURRENT, created, course.source_id


def _sort(section: PlanSection) -> None:
    # Appointments by start, oldest first (no start: last); notes newest first;
    # goals by due date (none: last); ties broken by source id, so the order is stable.
    section.appointments.sort(
        key=lambda a: (a.start is None, _aware(a.start) if a.start else _EPOCH, a.source_id)
    )
    section.journal_notes.sort(key=lambda n: (_aware(n.date), n.source_id), reverse=True)
    section.goals.sort(
        key=lambda g: (g.due is None, g.due.isoformat() if g.due else "", g.source_id)
    )
    section.diagnoses.sort(key=lambda d: (d.code, d.source_id))
    section.prevention_offers.sort(key=lambda p: (p.title, p.source_id))
    # Values newest first; medication active first, then newest start first (none: last).
    section.measurements.sort(key=lambda m: (_aware(m.at), m.source_id), reverse=True)
    section.medications.sort(
        key=lambda m: (
            m.status != "active",
            m.start is None,
            -m.start.toordinal() if m.start else 0,
            m.source_id,
        )
    )
