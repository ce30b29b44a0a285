"""What connectors hand up: one typed record per readable resource, already mapped.

Records carry the item's plan fields (as the GraphQL types show them) and what the layers
above need to place and filter it: the patient, diagnosis codes, ``Condition/{id}``
references, the withheld label and the custodian organisation.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

__all__ = [
    "COURSE_STATUSES",
    "AppointmentRecord",
    "AppointmentStatus",
    "ConsentProvisionRecord",
    "ConsentRecord",
    "CourseRecord",
    "DiagnosisRecord",
    "GoalRecord",
    "HealthLiteracyRecord",
    "JournalNoteRecord",
    "ListedPatient",
    "MeasurementOrigin",
    "MeasurementRecord",
    "MedicationRecord",
    "OrganisationRef",
    "PreventionOfferRecord",
    "Record",
    "TriageLevel",
    "TriageRecord",
]


class AppointmentStatus(enum.Enum):
    PLANNED = "PLANNED"
    BOOKED = "BOOKED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    NO_SHOW = "NO_SHOW"


class MeasurementOrigin(enum.Enum):
    LAB = "LAB"
    CLINIC = "CLINIC"
    HOME = "HOME"


class TriageLevel(enum.Enum):
    GREEN = "GREEN"
    YELLOW = "YELLOW"
    RED = "RED"


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """Common to every item: where it came from, whose it is, where it belongs, who may see it."""

    source: str
    source_id: str
    patient: str
    codes: tuple[str, ...] = ()
    condition_refs: tuple[str, ...] = ()
    withheld: bool = False
    custodian: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DiagnosisRecord(Record):
    code: str
    display: str | None
    onset: date | None
    recorded_by: str | None
    active: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AppointmentRecord(Record):
    status: AppointmentStatus
    start: datetime | None
    end: datetime | None
    description: str | None
    actor: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalNoteRecord(Record):
    date: datetime
    title: str | None
    author: str | None
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GoalRecord(Record):
    """A goal; ``target`` is its text, the ``target_*`` fields what ``onTarget`` compares.

    ``measures`` holds the (system, code) pairs of ``target[0].measure.coding[]``: the
    value the goal is about. A range target sets ``target_low`` and/or ``target_high``
    (inclusive); a quantity sets ``target_value`` and, when it has one, ``target_comparator``
    (FHIR's ``<``, ``<=``, ``>=``, ``>``).
    """

    description: str
    target: str | None
    due: date | None
    status: str
    measures: tuple[tuple[str, str], ...] = ()
    target_low: float | None = None
    target_high: float | None = None
    target_value: float | None = None
    target_comparator: str | None = None
    target_unit: str | None = None

    def measures_code(self, system: str, code: str) -> bool:
        """Whether the goal is about the value coded ``system`` | ``code``."""
        return (system, code) in self.measures

    def on_target(self, value: float | None) -> bool | None:
        """Whether ``value`` lies in the range or meets the comparator (contract §1, v2).

        None when there is nothing to compare: no value, a quantity without a comparator,
        a text target, or no target at all.
        """
        if value is None:
            return None
        if self.target_low is not None or self.target_high is not None:
            low_ok = self.target_low is None or value >= self.target_low
            return low_ok and (self.target_high is None or value <= self.target_high)
        if self.target_value is None or self.target_comparator is None:
            return None
        aim = self.target_value
        return {
            "<": value < aim,
            "<=": value <= aim,
            ">=": value >= aim,
            ">": value > aim,
        }.get(self.target_comparator)


@dataclass(frozen=True, slots=True)
class OrganisationRef:
    """An organisation a record names: its SOR code and its name, either maybe unknown."""

    sor: str | None
    name: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CourseRecord(Record):
    """A CarePlan: the package's course (contract §1, v2). Review dates are computed here.

    Every readable CarePlan but ``entered-in-error`` is kept, ``draft``, ``revoked`` and
    ``unknown`` included; :attr:`may_be_course` tells the domain which ones can be a course.
    """

    status: str  # FHIR CarePlan.status as is
    started_at: date | None  # period.start, its Copenhagen day
    plan_created_at: datetime | None  # created
    coordinator_sor: str | None  # author.identifier with the SOR system
    coordinator_name: str | None  # author.display
    last_review_at: date | None
    next_review_due: date | None

    @property
    def coordinator(self) -> OrganisationRef | None:
        """The coordinating organisation (tovholder), or None when the plan names none."""
        if self.coordinator_sor is None and self.coordinator_name is None:
            return None
        return OrganisationRef(self.coordinator_sor, self.coordinator_name)

    @property
    def may_be_course(self) -> bool:
        """``active``, ``on-hold`` or ``completed``: draft and revoked plans are no course."""
        return self.status in COURSE_STATUSES


#: CarePlan statuses that can make a course; active and on-hold win over completed.
COURSE_STATUSES = frozenset({"active", "on-hold", "completed"})


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasurementRecord(Record):
    """An Observation: a lab result, or a value measured in the clinic or at home.

    ``codes`` is empty: it belongs to the package of the Condition in ``condition_refs``
    (its ``focus``), else to the packages whose goals measure ``system`` | ``code``.
    """

    system: str
    code: str
    display: str | None
    value: float | None
    unit: str | None
    at: datetime
    origin: MeasurementOrigin
    performer: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MedicationRecord(Record):
    """A MedicationStatement (contract §1, v2); ``entered-in-error`` ones never get here."""

    name: str
    atc: str | None  # the ATC code, e.g. "R03BB04"
    status: str  # FHIR MedicationStatement.status as is
    start: date | None
    end: date | None
    dosage: str | None
    prescriber: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TriageRecord(Record):
    level: TriageLevel
    assessed_at: datetime
    assessed_by: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthLiteracyRecord(Record):
    score: float
    answered_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PreventionOfferRecord(Record):
    title: str
    provider: str | None
    status: str
    url: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsentActorRecord:
    system: str | None
    value: str | None
    role: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsentProvisionRecord:
    """One provision of a Consent's tree, as it applies (contract §1, v2)."""

    kind: str  # "deny" or "permit"; a nested provision without a type has its parent's
    actors: tuple[ConsentActorRecord, ...]  # a nested one naming none: its parent's
    classes: tuple[str, ...]  # empty: all data; "" is an entry without a readable code


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsentRecord(Record):
    active: bool
    kind: str  # "deny" or "permit"
    actors: tuple[ConsentActorRecord, ...]
    classes: tuple[str, ...]  # empty: all data; "" is an entry without a readable code
    nested: tuple[ConsentProvisionRecord, ...] = ()  # provision.provision[], depth first

    def provisions(self) -> tuple[ConsentProvisionRecord, ...]:
        """Every provision of the tree: the top one first, then the nested ones."""
        top = ConsentProvisionRecord(kind=self.kind, actors=self.actors, classes=self.classes)
        return (top, *self.nested)


@dataclass(frozen=True, slots=True)
class ListedPatient:
    """(v2) One citizen the ``listing`` source lists with a GP clinic (contract §1)."""

    cpr: str
    name: str | None
