"""Plan assembly: packages from active Conditions, every item placed by code or reference."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from core.records import (
    AppointmentRecord,
    AppointmentStatus,
    DiagnosisRecord,
    GoalRecord,
    HealthLiteracyRecord,
    JournalNoteRecord,
    PreventionOfferRecord,
    Record,
    TriageLevel,
    TriageRecord,
)
from plans.assembly import assemble_packages
from plans.model import CarePackage, PackageKind, PlanSection
from plans.views import ViewIds

CPR = "0101521234"
OTHER_CPR = "2307481234"
KEY = b"pseudonym-key-for-tests"
VIEW = "patient"
T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))
Codes = Sequence[str]


def condition(rid: str, code: str, *, active: bool = True) -> DiagnosisRecord:
    return DiagnosisRecord(
        source="diagnoses", source_id=rid, patient=CPR, codes=(code,), code=code,
        display=None, onset=None, recorded_by=None, active=active,
    )  # fmt: skip


def appointment(
    rid: str, *, codes: Codes = (), refs: Codes = (), start: datetime | None = T0
) -> AppointmentRecord:
    return AppointmentRecord(
        source="appointments", source_id=rid, patient=CPR, codes=tuple(codes),
        condition_refs=tuple(refs), status=AppointmentStatus.BOOKED, start=start, end=None,
        description=None, actor=None,
    )  # fmt: skip


def note(rid: str, *, codes: Codes = (), refs: Codes = (), at: datetime = T0) -> JournalNoteRecord:
    return JournalNoteRecord(
        source="journal", source_id=rid, patient=CPR, codes=tuple(codes),
        condition_refs=tuple(refs), date=at, title=None, author=None, text="",
    )  # fmt: skip


def goal(rid: str, *, codes: Codes = (), refs: Codes = (), due: date | None = None) -> GoalRecord:
    return GoalRecord(
        source="careplan", source_id=rid, patient=CPR, codes=tuple(codes),
        condition_refs=tuple(refs), description="Mål", target=None, due=due, status="active",
    )  # fmt: skip


def offer(rid: str, *, codes: Codes = (), refs: Codes = ()) -> PreventionOfferRecord:
    return PreventionOfferRecord(
        source="prevention", source_id=rid, patient=CPR, codes=tuple(codes),
        condition_refs=tuple(refs), title="Tilbud", provider=None, status="active", url=None,
    )  # fmt: skip


def triage(rid: str, *, codes: Codes = (), at: datetime = T0) -> TriageRecord:
    return TriageRecord(
        source="careplan", source_id=rid, patient=CPR, codes=tuple(codes),
        level=TriageLevel.YELLOW, assessed_at=at, assessed_by=None,
    )  # fmt: skip


def literacy(rid: str, *, codes: Codes = (), at: datetime = T0) -> HealthLiteracyRecord:
    return HealthLiteracyRecord(
        source="pro", source_id=rid, patient=CPR, codes=tuple(codes), score=3.0, answered_at=at
    )


def assemble(*records: Record, cpr: str = CPR) -> tuple[list[CarePackage], PlanSection]:
    by_source: dict[str, list[Record]] = {}
    for record in records:
        by_source.setdefault(record.source, []).append(record)
    return assemble_packages(
        by_source, package_id=lambda kind: ViewIds(KEY).package_id(cpr, kind, VIEW)
    )


def kinds(packages: list[CarePackage]) -> list[PackageKind]:
    return [p.kind for p in packages]


def ids(items: Sequence[Record]) -> list[str]:
    return [item.source_id for item in items]


COPD, LBP, T2D, HEART = (
    PackageKind.COPD, PackageKind.LOW_BACK_PAIN, PackageKind.TYPE2_DIABETES,
    PackageKind.HEART_DISEASE,
)  # fmt: skip
KOL, RYG = condition("cond-kol", "J44.9"), condition("cond-ryg", "M54.5")
ItemFactory = Callable[..., Record]
CODED_ITEMS = [
    pytest.param(appointment, "appointments", id="appointment"),
    pytest.param(note, "journal_notes", id="journal-note"),
    pytest.param(offer, "prevention_offers", id="prevention-offer"),
]
REFERENCING_ITEMS = [
    pytest.param(appointment, "appointments", id="appointment-reasonReference"),
    pytest.param(note, "journal_notes", id="journal-note-context-related"),
    pytest.param(goal, "goals", id="goal-addresses"),
]


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        pytest.param("J44.9", COPD, id="J44.9-is-COPD"),
        pytest.param("J44.1", COPD, id="J44.1-is-COPD"),
        pytest.param("J44", COPD, id="J44-is-COPD"),
        pytest.param("M54.5", LBP, id="M54.5-is-LOW_BACK_PAIN"),
        pytest.param("E11.9", T2D, id="E11.9-is-TYPE2_DIABETES"),
        pytest.param("E11.65", T2D, id="E11.65-is-TYPE2_DIABETES"),
        pytest.param("I20.0", HEART, id="I20.0-is-HEART_DISEASE"),
        pytest.param("I21.4", HEART, id="I21.4-is-HEART_DISEASE"),
        pytest.param("I25.1", HEART, id="I25.1-is-HEART_DISEASE"),
    ],
)
def test_active_condition_makes_its_package(code: str, kind: PackageKind) -> None:
    packages, unassigned = assemble(condition("cond-1", code))
    assert kinds(packages) == [kind]
    assert ids(packages[0].diagnoses) == ["cond-1"]
    assert unassigned.diagnoses == []


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("I19", id="I19-below-heart-range"),
        pytest.param("I26.9", id="I26-above-heart-range"),
        pytest.param("I10", id="hypertension"),
        pytest.param("M54.4", id="M54.4-not-low-back-pain"),
        pytest.param("E10.9", id="type1-diabetes"),
        pytest.param("J45.9", id="asthma"),
    ],
)
def test_other_active_diagnoses_go_to_unassigned(code: str) -> None:
    packages, unassigned = assemble(condition("cond-1", code))
    assert packages == []
    assert ids(unassigned.diagnoses) == ["cond-1"]


def test_resolved_condition_makes_no_package() -> None:
    packages, unassigned = assemble(condition("cond-old", "J44.9", active=False))
    assert (packages, unassigned.diagnoses) == ([], [])


def test_conditions_of_one_kind_share_one_package() -> None:
    packages, _ = assemble(condition("cond-b", "J44.1"), condition("cond-a", "J44.9"))
    assert kinds(packages) == [COPD]
    assert set(ids(packages[0].diagnoses)) == {"cond-a", "cond-b"}


def test_packages_come_in_the_contract_order() -> None:
    packages, _ = assemble(condition("c-heart", "I25.1"), condition("c-t2d", "E11.9"), RYG, KOL)
    assert kinds(packages) == [COPD, LBP, T2D, HEART]


@pytest.mark.parametrize(("make", "section"), CODED_ITEMS)
def test_item_is_placed_by_its_diagnosis_code(make: ItemFactory, section: str) -> None:
    packages, unassigned = assemble(KOL, RYG, make("item", codes=["M54.5"]))
    copd, back = packages
    assert (ids(getattr(copd, section)), ids(getattr(back, section))) == ([], ["item"])
    assert getattr(unassigned, section) == []


@pytest.mark.parametrize(("make", "section"), REFERENCING_ITEMS)
def test_item_is_placed_by_its_condition_reference(make: ItemFactory, section: str) -> None:
    packages, unassigned = assemble(KOL, RYG, make("item", refs=["cond-kol"]))
    copd, back = packages
    assert (ids(getattr(copd, section)), ids(getattr(back, section))) == (["item"], [])
    assert getattr(unassigned, section) == []


@pytest.mark.parametrize(("make", "section"), REFERENCING_ITEMS)
@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("cond-old", id="resolved-condition"),
        pytest.param("cond-unknown", id="unknown-condition"),
        pytest.param("cond-htn", id="non-package-condition"),
    ],
)
def test_item_referencing_no_package_condition_is_unassigned(
    make: ItemFactory, section: str, ref: str
) -> None:
    old, htn = condition("cond-old", "M54.5", active=False), condition("cond-htn", "I10")
    packages, unassigned = assemble(KOL, old, htn, make("item", refs=[ref]))
    assert kinds(packages) == [COPD]
    assert getattr(packages[0], section) == []
    assert ids(getattr(unassigned, section)) == ["item"]


@pytest.mark.parametrize(("make", "section"), CODED_ITEMS)
def test_item_for_a_package_the_patient_lacks_is_unassigned(
    make: ItemFactory, section: str
) -> None:
    packages, unassigned = assemble(KOL, make("item", codes=["E11.9"]))
    assert getattr(packages[0], section) == []
    assert ids(getattr(unassigned, section)) == ["item"]


@pytest.mark.parametrize(("make", "section"), CODED_ITEMS)
def test_item_without_code_or_reference_is_unassigned(make: ItemFactory, section: str) -> None:
    packages, unassigned = assemble(KOL, make("item"))
    assert (getattr(packages[0], section), ids(getattr(unassigned, section))) == ([], ["item"])


def test_item_for_two_packages_shows_in_both() -> None:
    packages, unassigned = assemble(
        KOL, RYG, appointment("appt", codes=["J44.9"], refs=["cond-ryg"])
    )
    assert [ids(p.appointments) for p in packages] == [["appt"], ["appt"]]
    assert unassigned.appointments == []


def test_code_and_reference_to_one_package_place_the_item_once() -> None:
    packages, _ = assemble(KOL, note("note", codes=["J44.1"], refs=["cond-kol"]))
    assert ids(packages[0].journal_notes) == ["note"]


def test_without_diagnoses_everything_is_unassigned() -> None:
    packages, unassigned = assemble(
        appointment("appt", codes=["J44.9"]), goal("g", refs=["cond-kol"])
    )
    assert packages == []
    assert (ids(unassigned.appointments), ids(unassigned.goals)) == (["appt"], ["g"])


def test_appointments_oldest_first_without_start_last() -> None:
    items = [
        appointment("later", codes=["J44.9"], start=T0 + timedelta(days=7)),
        appointment("no-start", codes=["J44.9"], start=None),
        appointment("earlier-cet", codes=["J44.9"], start=datetime(2027, 1, 4, 9, 30, tzinfo=CET)),
        appointment("first", codes=["J44.9"], start=T0 - timedelta(days=30)),
    ]
    packages, _ = assemble(KOL, *items)
    assert ids(packages[0].appointments) == ["first", "earlier-cet", "later", "no-start"]


def test_journal_notes_newest_first() -> None:
    items = [
        note("middle", refs=["cond-kol"], at=T0),
        note("oldest", refs=["cond-kol"], at=T0 - timedelta(days=90)),
        note("newest", refs=["cond-kol"], at=datetime(2027, 1, 4, 11, 0, tzinfo=CET)),
    ]
    packages, _ = assemble(KOL, *items)
    assert ids(packages[0].journal_notes) == ["newest", "middle", "oldest"]


def test_goals_by_due_date_without_due_date_last() -> None:
    items = [
        goal("none", refs=["cond-kol"]),
        goal("june", refs=["cond-kol"], due=date(2027, 6, 30)),
        goal("march", refs=["cond-kol"], due=date(2027, 3, 1)),
    ]
    packages, _ = assemble(KOL, *items)
    assert ids(packages[0].goals) == ["march", "june", "none"]


def test_latest_triage_per_package() -> None:
    packages, _ = assemble(
        KOL,
        RYG,
        triage("kol-new", codes=["J44.9"], at=T0),
        triage("kol-old", codes=["J44.9"], at=T0 - timedelta(days=60)),
        triage("ryg-old", codes=["M54.5"], at=T0 - timedelta(days=90)),
    )
    assert [p.triage.source_id if p.triage else None for p in packages] == ["kol-new", "ryg-old"]


@pytest.mark.parametrize(
    "codes",
    [pytest.param(["E11.9"], id="package-patient-lacks"), pytest.param([], id="no-package")],
)
def test_triage_without_a_package_of_the_patient_is_dropped(codes: list[str]) -> None:
    packages, _ = assemble(KOL, triage("tri", codes=codes))
    assert packages[0].triage is None


def test_health_literacy_goes_to_its_package() -> None:
    packages, _ = assemble(KOL, RYG, literacy("hl-ryg", codes=["M54.5"]))
    assert [p.health_literacy.source_id if p.health_literacy else None for p in packages] == [
        None,
        "hl-ryg",
    ]


def test_health_literacy_naming_no_package_goes_to_every_package() -> None:
    packages, _ = assemble(
        KOL,
        RYG,
        literacy("hl-old", at=T0 - timedelta(days=200)),
        literacy("hl-new", at=T0),
        literacy("hl-t2d", codes=["E11.9"], at=T0 + timedelta(days=1)),
    )
    assert [p.health_literacy.source_id if p.health_literacy else None for p in packages] == [
        "hl-new",
        "hl-new",
    ]


def test_package_ids_are_stable_and_name_the_kind() -> None:
    first, _ = assemble(KOL, RYG)
    again, _ = assemble(RYG, KOL)
    assert [p.id for p in first] == [p.id for p in again]
    ids = ViewIds(KEY)
    assert [p.id for p in first] == [ids.package_id(CPR, p.kind, VIEW) for p in first]
    assert len({p.id for p in first}) == 2


def test_item_referencing_an_inactive_condition_of_an_existing_package_joins_it() -> None:
    # The contract places an item by the Condition it references; the package exists
    # because another, active COPD Condition does.
    old_kol = condition("cond-kol-2019", "J44.1", active=False)
    packages, unassigned = assemble(KOL, old_kol, appointment("appt", refs=["cond-kol-2019"]))
    assert ids(packages[0].appointments) == ["appt"]
    assert unassigned.appointments == []
    assert ids(packages[0].diagnoses) == ["cond-kol"], "only active Conditions are shown"
