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
    "AppointmentRecord",
    "AppointmentStatus",
    "ConsentProvisionRecord",
    "ConsentRecord",
    "DiagnosisRecord",
    "GoalRecord",
    "HealthLiteracyRecord",
    "JournalNoteRecord",
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
    description: str
    target: str | None
    due: date | None
    status: str


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
