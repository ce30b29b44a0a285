"""Follow-up alerts (contract §5, v2): the flags a package raises, from what the viewer sees.

Alerts are raised *after* consent filtering and assembly, from the assembled packages
only: an alert can never name or describe an item the viewer was not shown. A rule is
applied only when every consent class it reads is visible to the viewer and every source
it reads answered (a stale or cached answer counts); otherwise it stays silent, since the
absence of data it may not see, or that did not arrive, proves nothing.

=================  ============================  ==================================
kind               consent classes               sources
=================  ============================  ==================================
NO_SHOW            appointments                  appointments
NOT_REBOOKED       appointments                  appointments
REVIEW_OVERDUE     goals                         careplan
NO_PLAN            diagnoses, goals              diagnoses, careplan
NO_TRIAGE          goals                         careplan
OFF_TARGET         goals, measurements           careplan, observations
=================  ============================  ==================================

``careplan`` answers through three searches (Goal, RiskAssessment and the on-demand
CarePlan). It counts as answered only when every one of them was made and answered:
:func:`answered_sources` decides that from a caller's per-search outcomes, so NO_PLAN
is never raised because the CarePlan search failed or was not made.

Example:
    >>> from datetime import UTC, datetime
    >>> raise_alerts([], sections=("goals",), answered=("careplan",),
    ...              now=datetime(2027, 1, 4, tzinfo=UTC), deadline_days=30, second_person=True)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from core.localtime import local_date
from core.records import AppointmentStatus, CourseRecord, Record, TriageLevel
from plans.model import Alert, AlertKind, AlertPriority, CarePackage, Measurement, PackageKind

__all__ = [
    "COURSE_SEARCH",
    "RECENT_DAYS",
    "RULE_READS",
    "answered_sources",
    "danish_date",
    "raise_alerts",
]

#: How far back a missed or cancelled appointment still raises an alert.
RECENT_DAYS = 180

#: The on-demand search whose answer is the course: without it, "no course" is unknown.
COURSE_SEARCH: tuple[str, str] = ("careplan", "CarePlan")


@dataclass(frozen=True, slots=True)
class Reads:
    """What one rule reads: consent classes that must be visible, sources that must answer."""

    classes: frozenset[str]
    sources: frozenset[str]


def _reads(classes: str, sources: str) -> Reads:
    return Reads(frozenset(classes.split()), frozenset(sources.split()))


#: Contract §5's "reads" column, as consent classes and source names.
RULE_READS: dict[AlertKind, Reads] = {
    AlertKind.NO_SHOW: _reads("appointments", "appointments"),
    AlertKind.NOT_REBOOKED: _reads("appointments", "appointments"),
    AlertKind.REVIEW_OVERDUE: _reads("goals", "careplan"),
    AlertKind.NO_PLAN: _reads("diagnoses goals", "diagnoses careplan"),
    AlertKind.NO_TRIAGE: _reads("goals", "careplan"),
    AlertKind.OFF_TARGET: _reads("goals measurements", "careplan observations"),
}

_PRIORITY = {TriageLevel.RED: AlertPriority.HIGH, TriageLevel.YELLOW: AlertPriority.MEDIUM}
_PRIORITY_ORDER = {AlertPriority.HIGH: 0, AlertPriority.MEDIUM: 1, AlertPriority.LOW: 2}
_KIND_ORDER = {kind: rank for rank, kind in enumerate(AlertKind)}
#: CarePlan statuses of a course still running: the only ones that can be overdue or untriaged.
_RUNNING = frozenset({"active", "on-hold"})

_MONTHS = (
    "januar", "februar", "marts", "april", "maj", "juni",
    "juli", "august", "september", "oktober", "november", "december",
)  # fmt: skip
_PACKAGE_NAMES = {
    PackageKind.COPD: "KOL",
    PackageKind.LOW_BACK_PAIN: "lænderygsmerter",
    PackageKind.TYPE2_DIABETES: "type 2-diabetes",
    PackageKind.HEART_DISEASE: "hjertesygdom",
}


def answered_sources(outcomes: Mapping[tuple[str, str], bool]) -> frozenset[str]:
    """The source names that answered, from each search made: (source, type) → answered.

    A source answered when every search of it that was made answered (from the cache,
    fresh or stale, counts: that is the caller's ``ok``); ``careplan`` moreover only when
    its :data:`COURSE_SEARCH` was among them. A source not asked is not answered.

    >>> made = {("careplan", "Goal"): True, ("appointments", "Appointment"): True}
    >>> sorted(answered_sources(made))
    ['appointments']
    """
    sources: dict[str, bool] = {}
    for (source, _type), ok in outcomes.items():
        sources[source] = sources.get(source, True) and ok
    if COURSE_SEARCH not in outcomes:
        sources.pop(COURSE_SEARCH[0], None)
    return frozenset(name for name, ok in sources.items() if ok)


def raise_alerts(
    packages: Sequence[CarePackage],
    *,
    sections: Collection[str],
    answered: Collection[str],
    now: datetime,
    deadline_days: int,
    second_person: bool,
) -> None:
    """Set each package's ``alerts``: priority first (HIGH), then the oldest ``since``.

    Args:
        packages: assembled from the records the viewer may see (after consent filtering).
        sections: the consent classes the viewer may see (``Access.allowed``).
        answered: the source names that answered, as :func:`answered_sources` gives them;
            ``careplan`` only when its course search was made and answered too.
        now: the time of the request, timezone-aware; "today" is its Copenhagen day.
        deadline_days: ``MINPLAN_PLAN_DEADLINE_DAYS``, days a package may go without a plan.
        second_person: the reader is the patient ("Du …"); else a clinician or a proxy
            ("Patienten …").
    """
    now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    shown, asked = frozenset(sections), frozenset(answered)
    rules = [
        rule
        for kind, rule in _RULES.items()
        if RULE_READS[kind].classes <= shown and RULE_READS[kind].sources <= asked
    ]
    context = _Context(now, local_date(now), deadline_days, _Words(second_person))
    for package in packages:
        triage = package.triage
        priority = _PRIORITY.get(triage.level, AlertPriority.LOW) if triage else AlertPriority.LOW
        raised = [
            Alert(kind, priority, since, text, items)
            for rule in rules
            for kind, since, text, items in rule(package, context)
        ]
        package.alerts = sorted(raised, key=_order)


def _order(alert: Alert) -> tuple[int, date, int, tuple[tuple[str, str], ...]]:
    # The kind and the items' ids make the order the same on every read.
    ids = tuple((item.source, item.source_id) for item in alert.items)
    return _PRIORITY_ORDER[alert.priority], alert.since, _KIND_ORDER[alert.kind], ids


@dataclass(frozen=True, slots=True)
class _Words:
    """The reader's person: "Du … din" for the patient, "Patienten … sin" for others."""

    second_person: bool

    def subject(self) -> str:
        return "Du" if self.second_person else "Patienten"

    def own(self, noun: str) -> str:
        """Reflexive, a common-gender noun: "din aftale", "sin aftale"."""
        return f"{'din' if self.second_person else 'sin'} {noun}"

    def possessive(self, noun: str) -> str:
        """Non-reflexive at a sentence's start, a common-gender noun: "Din aftale",
        "Patientens aftale"."""
        return f"{'Din' if self.second_person else 'Patientens'} {noun}"

    def object(self, noun: str, *, neuter: bool = False) -> str:
        """Non-reflexive inside a sentence: "dit forløb", "patientens forløb"."""
        if self.second_person:
            return f"{'dit' if neuter else 'din'} {noun}"
        return f"patientens {noun}"


@dataclass(frozen=True, slots=True)
class _Context:
    now: datetime
    today: date
    deadline_days: int
    words: _Words


_Raised = tuple[AlertKind, date, str, tuple[Record, ...]]
_Rule = Callable[[CarePackage, _Context], Iterator[_Raised]]


def danish_date(day: date) -> str:
    """A date as Danish prose writes it.

    >>> danish_date(date(2027, 1, 12))
    '12. januar 2027'
    """
    return f"{day.day}. {_MONTHS[day.month - 1]} {day.year}"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _recent(start: datetime, ctx: _Context) -> bool:
    """Its Copenhagen day lies at most :data:`RECENT_DAYS` days before today."""
    return local_date(start) >= ctx.today - timedelta(days=RECENT_DAYS)


def _with(actor: str | None) -> str:
    return f" hos {actor}" if actor else ""


def _same_actor(a: str | None, b: str | None) -> bool:
    # Sources write one clinic's name with varying case and spacing; no name is no actor.
    return a is not None and b is not None and a.strip().casefold() == b.strip().casefold()


def _no_show(package: CarePackage, ctx: _Context) -> Iterator[_Raised]:
    """A recent no-show with no booked or completed appointment after it."""
    followed = [
        _aware(a.start)
        for a in package.appointments
        if a.start is not None
        and a.status in {AppointmentStatus.BOOKED, AppointmentStatus.COMPLETED}
    ]
    for appointment in package.appointments:
        if appointment.status is not AppointmentStatus.NO_SHOW or appointment.start is None:
            continue
        start = _aware(appointment.start)
        if start > ctx.now or not _recent(start, ctx) or any(s > start for s in followed):
            continue
        day = local_date(start)
        text = (
            f"{ctx.words.subject()} udeblev fra {ctx.words.own('aftale')}"
            f"{_with(appointment.actor)} den {danish_date(day)}, "
            "og der er ikke booket en ny."
        )
        yield AlertKind.NO_SHOW, day, text, (appointment,)


def _not_rebooked(package: CarePackage, ctx: _Context) -> Iterator[_Raised]:
    """A recent or coming cancelled appointment, and nothing planned with its actor from now."""
    ahead = [
        a
        for a in package.appointments
        if a.start is not None
        and a.status in {AppointmentStatus.PLANNED, AppointmentStatus.BOOKED}
        and _aware(a.start) >= ctx.now
    ]
    for appointment in package.appointments:
        if appointment.status is not AppointmentStatus.CANCELLED or appointment.start is None:
            continue
        start = _aware(appointment.start)
        if not _recent(start, ctx) or any(_same_actor(a.actor, appointment.actor) for a in ahead):
            continue
        day = local_date(start)
        text = (
            f"{ctx.words.possessive('aftale')}{_with(appointment.actor)} den "
            f"{danish_date(day)} blev aflyst, og der er ikke booket en ny."
        )
        yield AlertKind.NOT_REBOOKED, day, text, (appointment,)


def _running_course(package: CarePackage) -> CourseRecord | None:
    course = package.course
    return course if course is not None and course.status in _RUNNING else None


def _course_name(package: CarePackage, ctx: _Context) -> str:
    return f"{ctx.words.object('forløb', neuter=True)} for {_PACKAGE_NAMES[package.kind]}"


def _review_overdue(package: CarePackage, ctx: _Context) -> Iterator[_Raised]:
    """A running course whose next control was due before today."""
    course = _running_course(package)
    if course is None or course.next_review_due is None or course.next_review_due >= ctx.today:
        return
    due = course.next_review_due
    text = (
        f"Den næste kontrol i {_course_name(package, ctx)}"
        f"{_with(course.coordinator_name)} skulle have været holdt senest den "
        f"{danish_date(due)}."
    )
    yield AlertKind.REVIEW_OVERDUE, due, text, (course,)


def _no_plan(package: CarePackage, ctx: _Context) -> Iterator[_Raised]:
    """No course, though the earliest active diagnosis began more than the deadline ago."""
    if package.course is not None:
        return
    onsets = [d.onset for d in package.diagnoses if d.active and d.onset is not None]
    if not onsets:
        return  # when the package began is unknown: no deadline can have passed
    onset = min(onsets)
    since = onset + timedelta(days=ctx.deadline_days)
    if since >= ctx.today:
        return
    text = (
        f"Der er ikke lagt en plan for {_course_name(package, ctx)}, selv om diagnosen "
        f"blev stillet den {danish_date(onset)}."
    )
    items = tuple(d for d in package.diagnoses if d.active)
    yield AlertKind.NO_PLAN, since, text, items


def _no_triage(package: CarePackage, ctx: _Context) -> Iterator[_Raised]:
    """A running course with no triage."""
    course = _running_course(package)
    if course is None or package.triage is not None:
        return
    course_name = _course_name(package, ctx)
    head = course_name[0].upper() + course_name[1:]
    if course.plan_created_at is not None:
        since = local_date(course.plan_created_at)
        when = f", selv om planen blev lagt den {danish_date(since)}"
    elif course.started_at is not None:
        since = course.started_at
        when = f", selv om forløbet startede den {danish_date(since)}"
    else:  # a plan that says neither: the flag is as old as the day it is seen
        since, when = ctx.today, ""
    text = f"{head} er ikke triageret (rød, gul eller grøn){when}."
    yield AlertKind.NO_TRIAGE, since, text, (course,)


def _off_target(package: CarePackage, ctx: _Context) -> Iterator[_Raised]:
    """Per code a goal of the package targets: its latest value, when it misses the target."""
    latest: dict[tuple[str, str], Measurement] = {}
    for value in package.measurements:
        code = (value.system, value.code)
        if not any(g.measures_code(*code) for g in package.goals):
            continue
        current = latest.get(code)
        if current is None or (_aware(value.at), value.source_id) > (
            _aware(current.at),
            current.source_id,
        ):
            latest[code] = value
    for value in latest.values():
        if value.on_target is not False:
            continue
        day = local_date(value.at)
        name = value.display or value.code
        reading = _number(value.value) if value.value is not None else "uden værdi"
        unit = f" {value.unit}" if value.unit and value.value is not None else ""
        target = f", og målet er {value.target}" if value.target else ""
        text = (
            f"{ctx.words.possessive('seneste måling')} af {name} den {danish_date(day)} "
            f"var {reading}{unit}{target}."
        )
        yield AlertKind.OFF_TARGET, day, text, (value,)


def _number(value: float) -> str:
    # As the source gives it, an integral value without ".0": as goal targets are written.
    return format(Decimal(repr(value)).normalize(), "f")


#: Every rule by kind; each yields one alert per offending item.
_RULES: dict[AlertKind, _Rule] = {
    AlertKind.NO_SHOW: _no_show,
    AlertKind.NOT_REBOOKED: _not_rebooked,
    AlertKind.REVIEW_OVERDUE: _review_overdue,
    AlertKind.NO_PLAN: _no_plan,
    AlertKind.NO_TRIAGE: _no_triage,
    AlertKind.OFF_TARGET: _off_target,
}
