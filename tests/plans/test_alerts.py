"""Follow-up alerts (contract §5, v2): every rule raised and not raised, gating, order, text."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pytest

from connectors.careplan import parse_care_plan
from core.codes import CPR_SYSTEM
from core.localtime import COPENHAGEN
from core.records import (
    AppointmentRecord,
    AppointmentStatus,
    CourseRecord,
    DiagnosisRecord,
    GoalRecord,
    MeasurementOrigin,
    TriageLevel,
    TriageRecord,
)
from plans.alerts import answered_sources, danish_date, raise_alerts
from plans.consent import ALL_CLASSES
from plans.model import Alert, AlertKind, AlertPriority, CarePackage, Measurement, PackageKind

CPR = "0101521234"
TODAY = date(2027, 1, 4)
NOW = datetime.combine(TODAY, time(10, 0), COPENHAGEN)
ALL_SOURCES = ("diagnoses", "appointments", "careplan", "observations")
GP, PHYSIO = "Lægerne Søndergade, Aarhus", "Fysioterapi Nord"
FEV1 = ("http://loinc.org", "20150-9")
MRC = ("http://loinc.org", "98070-6")
S = AppointmentStatus


def at(days: int, hhmm: str = "10:00") -> datetime:
    """``days`` from TODAY at local ``hhmm`` (Copenhagen)."""
    hour, minute = map(int, hhmm.split(":"))
    return datetime.combine(TODAY + timedelta(days=days), time(hour, minute), COPENHAGEN)


def day(days: int) -> date:
    return TODAY + timedelta(days=days)


def appt(
    rid: str, status: AppointmentStatus, start: datetime | None, actor: str | None = GP
) -> AppointmentRecord:
    return AppointmentRecord(
        source="appointments", source_id=rid, patient=CPR, status=status, start=start,
        end=None, description=None, actor=actor,
    )  # fmt: skip


def diagnosis(rid: str, onset: date | None) -> DiagnosisRecord:
    return DiagnosisRecord(
        source="diagnoses", source_id=rid, patient=CPR, code="J44.9", display="KOL",
        onset=onset, recorded_by=GP, active=True,
    )  # fmt: skip


def course(
    status: str = "active",
    *,
    due: date | None = None,
    created: datetime | None = None,
    started: date | None = None,
    coordinator: str | None = GP,
) -> CourseRecord:
    return CourseRecord(
        source="careplan", source_id="cp-1", patient=CPR, status=status, started_at=started,
        plan_created_at=created, coordinator_sor=None, coordinator_name=coordinator,
        last_review_at=None, next_review_due=due,
    )  # fmt: skip


def triage(level: TriageLevel) -> TriageRecord:
    return TriageRecord(
        source="careplan", source_id="risk-1", patient=CPR, level=level, assessed_at=at(-30),
        assessed_by=GP,
    )  # fmt: skip


def goal(rid: str, measure: tuple[str, str], target: str = "≥ 1.5 L") -> GoalRecord:
    return GoalRecord(
        source="careplan", source_id=rid, patient=CPR, description="Mål", target=target,
        due=None, status="active", measures=(measure,),
    )  # fmt: skip


def value(
    rid: str,
    code: tuple[str, str],
    number: float,
    when: datetime,
    on_target: bool | None,
    *,
    display: str = "FEV1",
    unit: str = "L",
    target: str | None = "≥ 1.5 L",
) -> Measurement:
    return Measurement(
        source="observations", source_id=rid, patient=CPR, system=code[0], code=code[1],
        display=display, value=number, unit=unit, at=when, origin=MeasurementOrigin.CLINIC,
        performer=GP, target=target if on_target is not None else None, on_target=on_target,
    )  # fmt: skip


@dataclass
class Case:
    """One package, and what the viewer sees and which sources answered."""

    package: CarePackage
    sections: Collection[str] = ALL_CLASSES
    answered: Collection[str] = ALL_SOURCES
    now: datetime = NOW
    deadline_days: int = 30
    expected: list[tuple[AlertKind, date, tuple[str, ...]]] = field(default_factory=list)


def pkg(**sections: object) -> CarePackage:
    """A COPD package; with a course and a green triage unless given (so NO_PLAN and
    NO_TRIAGE stay quiet in cases about other rules)."""
    values: dict[str, object] = {"course": course(due=day(30)), "triage": triage(TriageLevel.GREEN)}
    values |= sections
    return CarePackage(id="pkg", kind=PackageKind.COPD, **values)  # type: ignore[arg-type]


def raised(case: Case, *, second_person: bool = False) -> list[Alert]:
    raise_alerts(
        [case.package],
        sections=case.sections,
        answered=case.answered,
        now=case.now,
        deadline_days=case.deadline_days,
        second_person=second_person,
    )
    return case.package.alerts


def summary(alerts: list[Alert]) -> list[tuple[AlertKind, date, tuple[str, ...]]]:
    return [(a.kind, a.since, tuple(i.source_id for i in a.items)) for a in alerts]


NO_SHOW, NOT_REBOOKED = AlertKind.NO_SHOW, AlertKind.NOT_REBOOKED
REVIEW_OVERDUE, NO_PLAN = AlertKind.REVIEW_OVERDUE, AlertKind.NO_PLAN
NO_TRIAGE, OFF_TARGET = AlertKind.NO_TRIAGE, AlertKind.OFF_TARGET


def without(names: Collection[str], *gone: str) -> tuple[str, ...]:
    return tuple(n for n in names if n not in gone)


MISSED = appt("a-missed", S.NO_SHOW, at(-10))
CANCELLED = appt("a-cancelled", S.CANCELLED, at(-10), PHYSIO)
#: 2026-07-07 22:30 UTC is 2026-07-08 00:30 in Copenhagen: exactly 180 days before TODAY there,
#: 181 days in UTC.
MIDNIGHT = datetime(2026, 7, 7, 22, 30, tzinfo=UTC)
AN_OLD_ONSET = diagnosis("d-copd", day(-31))

CASES = [
    # -- NO_SHOW ------------------------------------------------------------------------
    pytest.param(Case(pkg(appointments=[MISSED]),
                      expected=[(NO_SHOW, day(-10), ("a-missed",))]),
                 id="NO_SHOW-raised-within-180-days"),
    pytest.param(Case(pkg(appointments=[appt("a1", S.NO_SHOW, at(-180, "08:00"))]),
                      expected=[(NO_SHOW, day(-180), ("a1",))]),
                 id="NO_SHOW-raised-180-days-back"),
    pytest.param(Case(pkg(appointments=[appt("a1", S.NO_SHOW, at(-181, "23:59"))])),
                 id="NO_SHOW-not-raised-181-days-back"),
    pytest.param(Case(pkg(appointments=[appt("a1", S.NO_SHOW, MIDNIGHT)]),
                      expected=[(NO_SHOW, date(2026, 7, 8), ("a1",))]),
                 id="NO_SHOW-raised-copenhagen-midnight-edge-counts-the-local-day"),
    pytest.param(Case(pkg(appointments=[MISSED, appt("a-next", S.BOOKED, at(20))])),
                 id="NO_SHOW-not-raised-rebooked-after"),
    pytest.param(Case(pkg(appointments=[MISSED, appt("a-held", S.COMPLETED, at(-3), PHYSIO)])),
                 id="NO_SHOW-not-raised-completed-after-with-any-actor"),
    pytest.param(Case(pkg(appointments=[MISSED, appt("a-prop", S.PLANNED, at(20))]),
                      expected=[(NO_SHOW, day(-10), ("a-missed",))]),
                 id="NO_SHOW-raised-only-planned-after"),
    pytest.param(Case(pkg(appointments=[appt("a-before", S.BOOKED, at(-20)), MISSED]),
                      expected=[(NO_SHOW, day(-10), ("a-missed",))]),
                 id="NO_SHOW-raised-booked-only-before-it"),
    pytest.param(Case(pkg(appointments=[appt("a1", S.NO_SHOW, at(2))])),
                 id="NO_SHOW-not-raised-not-yet-started"),
    pytest.param(Case(pkg(appointments=[appt("a1", S.NO_SHOW, None)])),
                 id="NO_SHOW-not-raised-without-start"),
    pytest.param(Case(pkg(appointments=[appt("a1", S.NO_SHOW, at(-40)), MISSED]),
                      expected=[(NO_SHOW, day(-40), ("a1",)), (NO_SHOW, day(-10), ("a-missed",))]),
                 id="NO_SHOW-two-no-shows-two-alerts-oldest-first"),
    pytest.param(Case(pkg(appointments=[MISSED]), sections=without(ALL_CLASSES, "appointments")),
                 id="NO_SHOW-not-raised-appointments-hidden"),
    pytest.param(Case(pkg(appointments=[MISSED]), answered=without(ALL_SOURCES, "appointments")),
                 id="NO_SHOW-not-raised-appointments-down"),
    # -- NOT_REBOOKED -------------------------------------------------------------------
    pytest.param(Case(pkg(appointments=[CANCELLED]),
                      expected=[(NOT_REBOOKED, day(-10), ("a-cancelled",))]),
                 id="NOT_REBOOKED-raised-within-180-days"),
    pytest.param(Case(pkg(appointments=[appt("a1", S.CANCELLED, at(12), PHYSIO)]),
                      expected=[(NOT_REBOOKED, day(12), ("a1",))]),
                 id="NOT_REBOOKED-raised-cancelled-ahead"),
    pytest.param(Case(pkg(appointments=[appt("a1", S.CANCELLED, at(-181, "23:00"), PHYSIO)])),
                 id="NOT_REBOOKED-not-raised-181-days-back"),
    pytest.param(Case(pkg(appointments=[CANCELLED, appt("a2", S.PLANNED, at(30), PHYSIO)])),
                 id="NOT_REBOOKED-same-actor-planned-later"),
    pytest.param(Case(pkg(appointments=[CANCELLED, appt("a2", S.BOOKED, at(3), PHYSIO)])),
                 id="NOT_REBOOKED-same-actor-booked-later"),
    pytest.param(Case(pkg(appointments=[CANCELLED,
                                        appt("a2", S.BOOKED, at(3), " fysioterapi nord ")])),
                 id="NOT_REBOOKED-same-actor-spelt-with-other-case-and-spaces"),
    pytest.param(Case(pkg(appointments=[CANCELLED, appt("a2", S.BOOKED, at(3), GP)]),
                      expected=[(NOT_REBOOKED, day(-10), ("a-cancelled",))]),
                 id="NOT_REBOOKED-raised-booked-with-another-actor"),
    pytest.param(Case(pkg(appointments=[CANCELLED, appt("a2", S.BOOKED, at(-2), PHYSIO)]),
                      expected=[(NOT_REBOOKED, day(-10), ("a-cancelled",))]),
                 id="NOT_REBOOKED-raised-same-actor-booked-before-now"),
    pytest.param(Case(pkg(appointments=[CANCELLED, appt("a2", S.COMPLETED, at(-2), PHYSIO)]),
                      expected=[(NOT_REBOOKED, day(-10), ("a-cancelled",))]),
                 id="NOT_REBOOKED-raised-same-actor-only-completed"),
    pytest.param(Case(pkg(appointments=[CANCELLED]), sections=without(ALL_CLASSES, "appointments")),
                 id="NOT_REBOOKED-not-raised-appointments-hidden"),
    # -- REVIEW_OVERDUE -----------------------------------------------------------------
    pytest.param(Case(pkg(course=course(due=day(-1))),
                      expected=[(REVIEW_OVERDUE, day(-1), ("cp-1",))]),
                 id="REVIEW_OVERDUE-raised-due-yesterday"),
    pytest.param(Case(pkg(course=course(due=TODAY))), id="REVIEW_OVERDUE-not-raised-due-today"),
    pytest.param(Case(pkg(course=course("on-hold", due=day(-40))),
                      expected=[(REVIEW_OVERDUE, day(-40), ("cp-1",))]),
                 id="REVIEW_OVERDUE-raised-on-hold"),
    pytest.param(Case(pkg(course=course("completed", due=day(-40)))),
                 id="REVIEW_OVERDUE-not-raised-completed-course"),
    pytest.param(Case(pkg(course=course(due=day(-1))), sections=without(ALL_CLASSES, "goals")),
                 id="REVIEW_OVERDUE-not-raised-goals-hidden"),
    pytest.param(Case(pkg(course=course(due=day(-1))), answered=without(ALL_SOURCES, "careplan")),
                 id="REVIEW_OVERDUE-not-raised-careplan-down"),
    # -- NO_PLAN ------------------------------------------------------------------------
    pytest.param(Case(pkg(course=None, diagnoses=[AN_OLD_ONSET]),
                      expected=[(NO_PLAN, day(-1), ("d-copd",))]),
                 id="NO_PLAN-raised-31-days-after-onset"),
    pytest.param(Case(pkg(course=None, diagnoses=[diagnosis("d-copd", day(-30))])),
                 id="NO_PLAN-not-raised-30-days-after-onset"),
    pytest.param(Case(pkg(course=None, diagnoses=[diagnosis("d-copd", day(-1))]),
                      deadline_days=0, expected=[(NO_PLAN, day(-1), ("d-copd",))]),
                 id="NO_PLAN-raised-deadline-zero-days"),
    pytest.param(Case(pkg(course=None, diagnoses=[diagnosis("d-new", day(-5)),
                                                  diagnosis("d-old", day(-90))]),
                      expected=[(NO_PLAN, day(-60), ("d-new", "d-old"))]),
                 id="NO_PLAN-raised-from-the-earliest-onset-with-every-active-diagnosis"),
    pytest.param(Case(pkg(course=None, diagnoses=[diagnosis("d-copd", None)])),
                 id="NO_PLAN-not-raised-onset-unknown"),
    pytest.param(Case(pkg(course=course("completed"), diagnoses=[AN_OLD_ONSET])),
                 id="NO_PLAN-not-raised-completed-course-is-a-course"),
    pytest.param(Case(pkg(course=None, diagnoses=[AN_OLD_ONSET]),
                      answered=without(ALL_SOURCES, "careplan")),
                 id="NO_PLAN-not-raised-careplan-down"),
    pytest.param(Case(pkg(course=None, diagnoses=[AN_OLD_ONSET]),
                      sections=without(ALL_CLASSES, "goals")),
                 id="NO_PLAN-not-raised-goals-hidden"),
    pytest.param(Case(pkg(course=None, diagnoses=[AN_OLD_ONSET]),
                      sections=without(ALL_CLASSES, "diagnoses")),
                 id="NO_PLAN-not-raised-diagnoses-hidden"),
    pytest.param(Case(pkg(course=None, diagnoses=[AN_OLD_ONSET]),
                      answered=without(ALL_SOURCES, "diagnoses")),
                 id="NO_PLAN-not-raised-diagnoses-down"),
    # -- NO_TRIAGE ----------------------------------------------------------------------
    pytest.param(Case(pkg(triage=None, course=course(due=day(30),
                                                     created=datetime(2026, 9, 15, 23, 30,
                                                                      tzinfo=UTC))),
                      expected=[(NO_TRIAGE, date(2026, 9, 16), ("cp-1",))]),
                 id="NO_TRIAGE-raised-since-the-copenhagen-day-the-plan-was-made"),
    pytest.param(Case(pkg(triage=None, course=course(due=day(30), started=date(2026, 9, 1))),
                      expected=[(NO_TRIAGE, date(2026, 9, 1), ("cp-1",))]),
                 id="NO_TRIAGE-since-falls-back-to-startedAt"),
    pytest.param(Case(pkg(triage=None, course=course("on-hold", due=day(30), started=day(-9))),
                      expected=[(NO_TRIAGE, day(-9), ("cp-1",))]),
                 id="NO_TRIAGE-raised-on-hold"),
    pytest.param(Case(pkg(triage=None, course=course("completed", started=day(-9)))),
                 id="NO_TRIAGE-not-raised-completed-course"),
    pytest.param(Case(pkg(triage=triage(TriageLevel.RED), course=course(due=day(3)))),
                 id="NO_TRIAGE-not-raised-with-a-triage"),
    pytest.param(Case(pkg(triage=None, course=None)), id="NO_TRIAGE-not-raised-without-course"),
    pytest.param(Case(pkg(triage=None, course=course(due=day(3), started=day(-9))),
                      answered=without(ALL_SOURCES, "careplan")),
                 id="NO_TRIAGE-not-raised-careplan-down"),
    pytest.param(Case(pkg(triage=None, course=course(due=day(3), started=day(-9))),
                      sections=without(ALL_CLASSES, "goals")),
                 id="NO_TRIAGE-not-raised-goals-hidden"),
    # -- OFF_TARGET ---------------------------------------------------------------------
    pytest.param(Case(pkg(goals=[goal("g-fev1", FEV1)],
                          measurements=[value("v-new", FEV1, 1.2, at(-3), False),
                                        value("v-old", FEV1, 1.6, at(-60), True)]),
                      expected=[(OFF_TARGET, day(-3), ("v-new",))]),
                 id="OFF_TARGET-raised-latest-off-target"),
    pytest.param(Case(pkg(goals=[goal("g-fev1", FEV1)],
                          measurements=[value("v-new", FEV1, 1.6, at(-3), True),
                                        value("v-old", FEV1, 1.2, at(-60), False)])),
                 id="OFF_TARGET-not-raised-latest-on-target"),
    pytest.param(Case(pkg(goals=[goal("g-fev1", FEV1, target="1.5 L")],
                          measurements=[value("v-new", FEV1, 1.2, at(-3), None)])),
                 id="OFF_TARGET-not-raised-on-target-unknown"),
    pytest.param(Case(pkg(goals=[goal("g-mrc", MRC)],
                          measurements=[value("v-new", FEV1, 1.2, at(-3), False)])),
                 id="OFF_TARGET-not-raised-no-goal-targets-the-code"),
    pytest.param(Case(pkg(goals=[goal("g-fev1", FEV1), goal("g-mrc", MRC, "≤ 3 point")],
                          measurements=[value("v-fev1", FEV1, 1.2, at(-3), False),
                                        value("v-mrc", MRC, 4, at(-8), False, display="MRC",
                                              unit="point", target="≤ 3 point")]),
                      expected=[(OFF_TARGET, day(-8), ("v-mrc",)),
                                (OFF_TARGET, day(-3), ("v-fev1",))]),
                 id="OFF_TARGET-one-alert-per-code"),
    pytest.param(Case(pkg(goals=[goal("g-fev1", FEV1)],
                          measurements=[value("v-new", FEV1, 1.2, at(-3), False)]),
                      sections=without(ALL_CLASSES, "measurements")),
                 id="OFF_TARGET-not-raised-measurements-hidden"),
    pytest.param(Case(pkg(goals=[goal("g-fev1", FEV1)],
                          measurements=[value("v-new", FEV1, 1.2, at(-3), False)]),
                      sections=without(ALL_CLASSES, "goals")),
                 id="OFF_TARGET-not-raised-goals-hidden"),
    pytest.param(Case(pkg(goals=[goal("g-fev1", FEV1)],
                          measurements=[value("v-new", FEV1, 1.2, at(-3), False)]),
                      answered=without(ALL_SOURCES, "observations")),
                 id="OFF_TARGET-not-raised-observations-down"),
    # -- several rules at once: the oldest first, then by kind ------------------------------
    pytest.param(Case(pkg(course=course(due=day(-10)), appointments=[MISSED, CANCELLED],
                          goals=[goal("g-fev1", FEV1)],
                          measurements=[value("v", FEV1, 1.2, at(-10, "08:00"), False)]),
                      expected=[(NO_SHOW, day(-10), ("a-missed",)),
                                (NOT_REBOOKED, day(-10), ("a-cancelled",)),
                                (REVIEW_OVERDUE, day(-10), ("cp-1",)),
                                (OFF_TARGET, day(-10), ("v",))]),
                 id="order-same-since-ties-broken-by-kind"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_rule(case: Case) -> None:
    assert summary(raised(case)) == case.expected


def test_an_alert_carries_only_items_of_its_package() -> None:
    package = pkg(appointments=[MISSED], course=None, diagnoses=[AN_OLD_ONSET])
    alerts = raised(Case(package))
    shown = {id(i) for i in (*package.appointments, *package.diagnoses)}
    assert alerts and all(id(item) in shown for a in alerts for item in a.items)


@pytest.mark.parametrize(
    ("level", "priority"),
    [
        pytest.param(TriageLevel.RED, AlertPriority.HIGH, id="priority-RED-is-HIGH"),
        pytest.param(TriageLevel.YELLOW, AlertPriority.MEDIUM, id="priority-YELLOW-is-MEDIUM"),
        pytest.param(TriageLevel.GREEN, AlertPriority.LOW, id="priority-GREEN-is-LOW"),
        pytest.param(None, AlertPriority.LOW, id="priority-no-triage-is-LOW"),
    ],
)
def test_priority_comes_from_the_packages_triage(
    level: TriageLevel | None, priority: AlertPriority
) -> None:
    package = pkg(appointments=[MISSED], triage=triage(level) if level else None)
    assert {a.priority for a in raised(Case(package))} == {priority}


def test_packages_are_flagged_each_by_their_own_triage() -> None:
    red = pkg(appointments=[MISSED], triage=triage(TriageLevel.RED))
    green = CarePackage(id="lbp", kind=PackageKind.LOW_BACK_PAIN, appointments=[CANCELLED],
                        course=course(due=day(9)), triage=triage(TriageLevel.GREEN))  # fmt: skip
    raise_alerts([red, green], sections=ALL_CLASSES, answered=ALL_SOURCES, now=NOW,
                 deadline_days=30, second_person=False)  # fmt: skip
    assert [(a.kind, a.priority) for a in red.alerts] == [(NO_SHOW, AlertPriority.HIGH)]
    assert [(a.kind, a.priority) for a in green.alerts] == [(NOT_REBOOKED, AlertPriority.LOW)]


def test_alerts_are_replaced_not_added_to_on_a_second_run() -> None:
    case = Case(pkg(appointments=[MISSED]))
    raised(case)
    assert summary(raised(case)) == [(NO_SHOW, day(-10), ("a-missed",))]


def test_a_naive_now_is_read_as_utc() -> None:
    # 23:30 UTC on 3 January is already 4 January in Copenhagen: a review due on the 3rd is
    # overdue.
    case = Case(pkg(course=course(due=day(-1))), now=datetime(2027, 1, 3, 23, 30))
    assert summary(raised(case)) == [(REVIEW_OVERDUE, day(-1), ("cp-1",))]


def _course_reviewed_on_29_february() -> CourseRecord:
    code = {"coding": [{"system": "urn:minplan:activity", "code": "review"}]}
    detail = {"code": code, "status": "completed", "scheduledPeriod": {"start": "2028-02-29"}}
    review = {"detail": detail}
    resource: dict[str, object] = {
        "resourceType": "CarePlan", "id": "cp-1", "status": "active", "intent": "plan",
        "subject": {"identifier": {"system": CPR_SYSTEM, "value": CPR}},
        "created": "2027-06-01T10:00:00+02:00", "activity": [review],
    }  # fmt: skip
    parsed = parse_care_plan("careplan", resource)
    assert parsed is not None
    return parsed


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        pytest.param(date(2029, 2, 28), [], id="REVIEW_OVERDUE-29-february-due-28-february"),
        pytest.param(date(2029, 3, 1), [(REVIEW_OVERDUE, date(2029, 2, 28), ("cp-1",))],
                     id="REVIEW_OVERDUE-29-february-overdue-from-1-march"),
    ],
)  # fmt: skip
def test_12_months_after_29_february(
    today: date, expected: list[tuple[AlertKind, date, tuple[str, ...]]]
) -> None:
    now = datetime.combine(today, time(9, 0), COPENHAGEN)
    case = Case(pkg(course=_course_reviewed_on_29_february()), now=now)
    assert summary(raised(case)) == expected


# -- the text ---------------------------------------------------------------------------------

TEXT_CASES = [
    pytest.param(
        pkg(appointments=[appt("a1", S.NO_SHOW, datetime(2027, 1, 2, 9, 0, tzinfo=UTC), PHYSIO)]),
        "Du udeblev fra din aftale hos Fysioterapi Nord den 2. januar 2027, og der er ikke "
        "booket en ny.",
        "Patienten udeblev fra sin aftale hos Fysioterapi Nord den 2. januar 2027, og der er "
        "ikke booket en ny.",
        id="NO_SHOW-text",
    ),
    pytest.param(
        pkg(appointments=[appt("a1", S.CANCELLED, at(12), PHYSIO)]),
        "Din aftale hos Fysioterapi Nord den 16. januar 2027 blev aflyst, og der er ikke booket "
        "en ny.",
        "Patientens aftale hos Fysioterapi Nord den 16. januar 2027 blev aflyst, og der er ikke "
        "booket en ny.",
        id="NOT_REBOOKED-text",
    ),
    pytest.param(
        pkg(course=course(due=date(2026, 12, 15))),
        "Den næste kontrol i dit forløb for KOL hos Lægerne Søndergade, Aarhus skulle have "
        "været holdt senest den 15. december 2026.",
        "Den næste kontrol i patientens forløb for KOL hos Lægerne Søndergade, Aarhus skulle "
        "have været holdt senest den 15. december 2026.",
        id="REVIEW_OVERDUE-text",
    ),
    pytest.param(
        pkg(course=None, diagnoses=[diagnosis("d1", date(2026, 10, 6))]),
        "Der er ikke lagt en plan for dit forløb for KOL, selv om diagnosen blev stillet den "
        "6. oktober 2026.",
        "Der er ikke lagt en plan for patientens forløb for KOL, selv om diagnosen blev stillet "
        "den 6. oktober 2026.",
        id="NO_PLAN-text",
    ),
    pytest.param(
        pkg(triage=None, course=course(due=day(9), started=date(2026, 9, 16))),
        "Dit forløb for KOL er ikke triageret (rød, gul eller grøn), selv om forløbet startede "
        "den 16. september 2026.",
        "Patientens forløb for KOL er ikke triageret (rød, gul eller grøn), selv om forløbet "
        "startede den 16. september 2026.",
        id="NO_TRIAGE-text-started",
    ),
    pytest.param(
        pkg(goals=[goal("g", FEV1)], measurements=[value("v", FEV1, 1.25, at(-3), False)]),
        "Din seneste måling af FEV1 den 1. januar 2027 var 1.25 L, og målet er ≥ 1.5 L.",
        "Patientens seneste måling af FEV1 den 1. januar 2027 var 1.25 L, og målet er ≥ 1.5 L.",
        id="OFF_TARGET-text",
    ),
]


@pytest.mark.parametrize(("package", "patient", "clinician"), TEXT_CASES)
def test_text_for_the_patient_and_for_a_clinician_or_proxy(
    package: CarePackage, patient: str, clinician: str
) -> None:
    (alert,) = raised(Case(package), second_person=True)
    assert alert.text == patient
    (alert,) = raised(Case(package), second_person=False)
    assert alert.text == clinician
    assert CPR not in alert.text


def test_off_target_text_writes_an_integral_value_without_decimals() -> None:
    measured = value("v", MRC, 4.0, at(-3), False, display="MRC", unit="point", target="≤ 3 point")
    (alert,) = raised(Case(pkg(goals=[goal("g", MRC)], measurements=[measured])))
    assert "var 4 point, og målet er ≤ 3 point." in alert.text


@pytest.mark.parametrize(
    ("when", "text"),
    [
        pytest.param(date(2027, 1, 12), "12. januar 2027", id="januar"),
        pytest.param(date(2028, 2, 29), "29. februar 2028", id="februar-leap-day"),
        pytest.param(date(2026, 5, 1), "1. maj 2026", id="maj"),
        pytest.param(date(2026, 12, 31), "31. december 2026", id="december"),
    ],
)
def test_danish_dates(when: date, text: str) -> None:
    assert danish_date(when) == text


# -- which sources answered ----------------------------------------------------------------------

GOALS, RISKS, PLANS = ("careplan", "Goal"), ("careplan", "RiskAssessment"), ("careplan", "CarePlan")
APPTS = ("appointments", "Appointment")


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        pytest.param({GOALS: True, RISKS: True, PLANS: True, APPTS: True},
                     {"careplan", "appointments"}, id="answered-every-search"),
        pytest.param({GOALS: True, RISKS: True, APPTS: True}, {"appointments"},
                     id="answered-careplan-not-without-its-course-search"),
        pytest.param({GOALS: True, RISKS: True, PLANS: False}, set(),
                     id="answered-careplan-not-when-the-course-search-failed"),
        pytest.param({GOALS: False, RISKS: True, PLANS: True}, set(),
                     id="answered-careplan-not-when-the-goal-search-failed"),
        pytest.param({APPTS: False}, set(), id="answered-not-a-failed-source"),
        pytest.param({}, set(), id="answered-not-a-source-not-asked"),
    ],
)  # fmt: skip
def test_answered_sources(outcomes: dict[tuple[str, str], bool], expected: set[str]) -> None:
    assert answered_sources(outcomes) == expected


def test_no_plan_is_never_raised_when_the_course_search_was_not_made() -> None:
    package = pkg(course=None, diagnoses=[AN_OLD_ONSET])
    answered = answered_sources({("diagnoses", "Condition"): True, GOALS: True, RISKS: True})
    assert raised(Case(package, answered=answered)) == []
