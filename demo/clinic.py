"""The demo GP clinic's list: about 1,600 synthetic citizens listed with Lægerne Søndergade.

The work list (contract §5) needs a clinic with a realistic list: most citizens in no
package, about 5% in COPD, some in low back pain, a few in both, and, among the package
patients, every follow-up alert and every triage level. This module generates that list
and each package patient's data in every source, from a seeded :class:`random.Random`
(never the wall clock), dated relative to :data:`demo.data.BASE_DAY` and shaped exactly as
:mod:`demo.data` and :mod:`demo.data_v2` shape theirs (their helpers build every resource).

- :data:`CLINIC_PATIENTS`: the generated citizens, with the scenario each package follows
  (:class:`ClinicPackage`); they are not in :data:`demo.people.PATIENTS`, which tests walk
  person by person.
- :data:`LISTED`: CPR → name of everyone actively listed, the named demo people who are
  this clinic's patients included.
- :func:`clinic_resources`: their resources by source, ``listing``'s Patients included,
  built once per process.

Two citizens carry a Consent against the clinic: :data:`DENIES_DIAGNOSES` (left out of the
work list) and :data:`DENIES_APPOINTMENTS` (listed, but no appointment alerts).

Example:
    >>> len(LISTED), sum(COPD in c.kinds for c in CLINIC_PATIENTS)
    (1608, 80)
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from core.cpr import is_valid_cpr
from demo import data as d
from demo import data_v2 as v2
from demo import people as p

__all__ = [
    "CLINIC_PATIENTS",
    "COPD",
    "DENIES_APPOINTMENTS",
    "DENIES_DIAGNOSES",
    "GENERATED",
    "LISTED",
    "LOW_BACK_PAIN",
    "NAMED_LISTED",
    "ORG_GP",
    "SEED",
    "UNLISTED",
    "ClinicPackage",
    "ClinicPatient",
    "build_clinic_resources",
    "clinic_resources",
]

Res = dict[str, Any]

ORG_GP = p.ORG_GP
SEED = 13  # the issue that asked for the clinic; any fixed number would do
GENERATED = 1_600
COPD, LOW_BACK_PAIN = "COPD", "LOW_BACK_PAIN"
_COPD_COUNT, _LBP_ONLY_COUNT, _BOTH_COUNT = 80, 44, 8
_UNLISTED_COUNT = 5
_BORN_FIRST, _BORN_LAST = date(1930, 1, 1), date(2005, 12, 31)

#: The named demo people who are this clinic's patients: their diagnoses, notes, triage or
#: courses come from it (Mette Hansen has none; she is listed elsewhere).
NAMED_LISTED: tuple[str, ...] = (
    p.PATIENT_COPD,
    p.PATIENT_LBP,
    p.PATIENT_BOTH,
    p.PATIENT_NONE,
    p.PATIENT_BLOCKS,
    p.PATIENT_DIABETES_HEART,
    p.PATIENT_BROKEN,
    p.PATIENT_MANY,
)

# fmt: off
_WOMEN = (
    "Anne", "Kirsten", "Hanne", "Mette", "Anna", "Helle", "Susanne", "Lene", "Maria",
    "Marianne", "Inge", "Lone", "Bente", "Camilla", "Pia", "Louise", "Charlotte", "Jette",
    "Tina", "Gitte", "Ida", "Emma", "Julie", "Ulla", "Birthe", "Dorthe", "Rikke", "Karina",
    "Lise", "Hanna", "Grethe", "Ellen", "Else", "Ruth", "Tove", "Signe", "Laura", "Cecilie",
)
_MEN = (
    "Peter", "Michael", "Lars", "Jens", "Thomas", "Henrik", "Søren", "Christian", "Martin",
    "Jan", "Morten", "Jesper", "Anders", "Niels", "Mads", "Rasmus", "Per", "Kim", "Hans",
    "Ole", "Frederik", "Mikkel", "Jørgen", "Erik", "Poul", "Carsten", "Torben", "Kristian",
    "Bent", "Flemming", "Brian", "Steen", "Preben", "Knud", "Svend", "Emil", "Jonas", "Tobias",
)
_MIDDLE = {True: ("Marie", "Louise", "Margrethe", "Kristine"), False: ("Juul", "Emil", "Bach")}
_SURNAMES = (
    "Nielsen", "Jensen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen",
    "Sørensen", "Rasmussen", "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen",
    "Thomsen", "Christiansen", "Poulsen", "Johansen", "Møller", "Mortensen", "Knudsen",
    "Jakobsen", "Mikkelsen", "Olesen", "Frederiksen", "Laursen", "Henriksen", "Lund",
    "Schmidt", "Eriksen", "Holm", "Kristiansen", "Clausen", "Simonsen", "Svendsen",
    "Andreasen", "Iversen", "Jeppesen", "Vestergaard", "Mogensen", "Nissen", "Lauridsen",
    "Kjær", "Dam", "Bruun", "Skov", "Østergaard", "Winther", "Bech", "Gregersen",
)
# fmt: on

#: Scenario decks: each package draws its course, appointments and measurements from a
#: shuffled deck, so every alert occurs several times however the seed falls.
#: Course: what the careplan source holds, and the alert it gives (§5).
_COURSE_DECK = {
    "ok": 8,  # active, reviewed, next control booked: none
    "on-hold": 1,  # on-hold, next control ahead: none
    "review-overdue": 2,  # a scheduled control before today: REVIEW_OVERDUE
    "review-lapsed": 2,  # last control over 12 months ago, none scheduled: REVIEW_OVERDUE
    "no-triage": 2,  # active, never triaged: NO_TRIAGE
    "no-plan": 2,  # diagnosed months ago, no care plan: NO_PLAN
    "draft-only": 1,  # a draft plan is no course: NO_PLAN
    "new": 1,  # diagnosed within the deadline, no plan yet: none
    "completed": 1,  # only a completed course: none
}
#: Appointments of the package (§5: NO_SHOW and NOT_REBOOKED).
_APPOINTMENT_DECK = {
    "routine": 9,  # a past control held, the next one booked: none
    "no-show": 3,  # a no-show within 180 days, nothing held or booked since: NO_SHOW
    "no-show-rebooked": 2,  # a no-show, then a new booking: none
    "no-show-old": 1,  # a no-show more than 180 days ago: none
    "cancelled": 3,  # cancelled, not rebooked with the same clinic: NOT_REBOOKED
    "cancelled-rebooked": 2,  # cancelled, rebooked with the same clinic: none
    "none": 1,
}
#: Values the package's goals target (§5: OFF_TARGET).
_MEASURE_DECK = {"on-target": 5, "off-target": 3, "no-goal": 2}
_TRIAGE_DECK = {"red": 3, "yellow": 4, "green": 5}
_TRIAGED = frozenset({"ok", "on-hold", "review-overdue", "review-lapsed", "completed"})


@dataclass(frozen=True, slots=True)
class ClinicPackage:
    """One package of a generated citizen and the scenarios its data follows."""

    kind: str  # COPD or LOW_BACK_PAIN
    course: str  # a key of the course deck
    appointments: str  # a key of the appointment deck
    measures: str  # a key of the measurement deck
    triage: str | None  # the latest triage ("red", "yellow", "green"), None: never triaged


@dataclass(frozen=True, slots=True)
class ClinicPatient:
    """A generated citizen of the clinic's list."""

    number: int  # 1-based; resource ids carry it (``kl-0042``), never the CPR
    cpr: str
    given: str
    family: str
    female: bool
    born: date
    packages: tuple[ClinicPackage, ...]
    hypertension: bool  # a diagnosis in no package (to unassigned)

    @property
    def name(self) -> str:
        return f"{self.given} {self.family}"

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(package.kind for package in self.packages)

    @property
    def key(self) -> str:
        return f"kl-{self.number:04d}"


def _deck(rng: random.Random, weights: dict[str, int], size: int) -> Iterator[str]:
    cards = [name for name, weight in weights.items() for _ in range(weight)]
    dealt = (cards * (size // len(cards) + 1))[:size]
    rng.shuffle(dealt)
    return iter(dealt)


def _birth_day(rng: random.Random, first: date, last: date) -> date:
    # Most listed adults are middle-aged; the oldest and the youngest are fewer.
    span = (last - first).days
    return first + timedelta(days=int(rng.triangular(0, span, span * 0.55)))


def _cpr(rng: random.Random, born: date, female: bool, taken: set[str]) -> str:
    while True:
        # The 7th digit gives the century (0-3: 1900s; 4 with a year up to 36: 2000s); an
        # even last digit a woman, an odd one a man. "1234" is the named people's serial.
        seventh = 4 if born.year >= 2000 else rng.randint(0, 3)
        last = rng.randrange(0, 10, 2) if female else rng.randrange(1, 10, 2)
        cpr = f"{born:%d%m%y}{seventh}{rng.randint(0, 99):02d}{last}"
        if cpr not in taken and cpr[6:] != "1234" and is_valid_cpr(cpr):
            taken.add(cpr)
            return cpr


def _generate() -> tuple[tuple[ClinicPatient, ...], tuple[tuple[str, str], ...]]:
    """The listed citizens, and some formerly listed (``active: false``)."""
    rng = random.Random(SEED)
    taken = set(p.PATIENTS)
    named = set(p.PATIENTS.values())
    people: list[tuple[str, str, bool, date, str]] = []
    while len(people) < GENERATED + _UNLISTED_COUNT:
        female = rng.random() < 0.5
        given = rng.choice(_WOMEN if female else _MEN)
        if rng.random() < 0.15:
            given = f"{given} {rng.choice(_MIDDLE[female])}"
        family = rng.choice(_SURNAMES)
        if f"{given} {family}" in named:
            continue  # never a second Karen Jensen next to the named one
        born = _birth_day(rng, _BORN_FIRST, _BORN_LAST)
        people.append((given, family, female, born, _cpr(rng, born, female, taken)))
    listed, unlisted = people[:GENERATED], people[GENERATED:]
    # COPD is a disease of the older; low back pain of any adult.
    older = [i for i, row in enumerate(listed) if row[3].year <= 1970]
    adults = [i for i, row in enumerate(listed) if row[3].year <= 2002]
    copd = rng.sample(older, _COPD_COUNT)
    both = rng.sample(copd, _BOTH_COUNT)
    chosen = set(copd)
    back = rng.sample([i for i in adults if i not in chosen], _LBP_ONLY_COUNT) + both
    kinds: dict[int, list[str]] = {}
    for i in copd:
        kinds.setdefault(i, []).append(COPD)
    for i in back:
        kinds.setdefault(i, []).append(LOW_BACK_PAIN)
    size = _COPD_COUNT + _LBP_ONLY_COUNT + _BOTH_COUNT
    courses = _deck(rng, _COURSE_DECK, size)
    visits = _deck(rng, _APPOINTMENT_DECK, size)
    measures = _deck(rng, _MEASURE_DECK, size)
    triages = _deck(rng, _TRIAGE_DECK, size)
    patients: list[ClinicPatient] = []
    for i, (given, family, female, born, cpr) in enumerate(listed):
        packages = []
        for kind in sorted(kinds.get(i, ())):
            course, triage = next(courses), next(triages)
            packages.append(
                ClinicPackage(
                    kind=kind,
                    course=course,
                    appointments=next(visits),
                    measures=next(measures),
                    triage=triage if course in _TRIAGED else None,
                )
            )
        hypertension = not packages and rng.random() < 0.08
        patients.append(
            ClinicPatient(i + 1, cpr, given, family, female, born, tuple(packages), hypertension)
        )
    return tuple(patients), tuple((f"{g} {f}", cpr) for g, f, _, _, cpr in unlisted)


CLINIC_PATIENTS, _UNLISTED = _generate()
#: CPR → name of the formerly listed: the listing source answers them with ``active: false``.
UNLISTED: dict[str, str] = {cpr: name for name, cpr in _UNLISTED}
#: CPR → name of everyone the clinic lists: the named demo people first, then the generated.
LISTED: dict[str, str] = {cpr: p.PATIENTS[cpr] for cpr in NAMED_LISTED} | {
    c.cpr: c.name for c in CLINIC_PATIENTS
}


def _first_copd_patient(appointments: str) -> str:
    return next(
        c.cpr
        for c in CLINIC_PATIENTS
        if c.kinds == (COPD,) and c.packages[0].appointments == appointments
    )


#: A COPD patient whose Consent denies the clinic the ``diagnoses`` section.
DENIES_DIAGNOSES = _first_copd_patient("routine")
#: A COPD patient whose Consent denies the clinic ``appointments``: a no-show the clinic
#: would otherwise be alerted to.
DENIES_APPOINTMENTS = _first_copd_patient("no-show")


# --- Resources ------------------------------------------------------------------------
# demo.data's helpers name the patient from demo.people; the clinic's citizens are not
# there, so each resource is built for a stand-in and then handed to its citizen.
_STAND_IN = p.PATIENT_COPD
_GP_NAME = p.ORGS[ORG_GP]
_WARD = "Aarhus Universitetshospital, Lungemedicinsk Ambulatorium"
_HHMM = ("08:00", "08:30", "09:10", "10:00", "10:40", "11:20", "13:00", "13:40", "14:20")


def _own(resource: Res, patient: ClinicPatient) -> Res:
    ref = {"identifier": {"system": d.CPR, "value": patient.cpr}, "display": patient.name}
    key = "patient" if resource["resourceType"] == "Consent" else "subject"
    resource[key] = ref
    if resource["resourceType"] == "Appointment":
        resource["participant"][0]["actor"] = dict(ref)
    return resource


def _codes(codes: d.Codes) -> tuple[Res, ...]:
    return tuple(dict(c) for c in codes)  # fresh dicts: a caller may change one


@dataclass(frozen=True, slots=True)
class _Kind:
    """What a package's data is made of."""

    short: str
    codes: tuple[d.Codes, ...]
    texts: tuple[str, ...]
    control: str
    others: tuple[tuple[str, str], ...]  # (who, what) besides the GP: the cancelled ones
    goals: tuple[tuple[str, v2.Code, tuple[str, float | None, float | None, str]], ...]
    medicines: tuple[tuple[str, str, str], ...]  # ATC, name, dosage
    offer: tuple[str, str]  # title, url


_KINDS = {
    COPD: _Kind(
        "kol",
        (d.COPD + d.COPD_SKS, d.COPD_SKS, d.COPD, d.COPD_EXAC),
        ("Kronisk obstruktiv lungesygdom (KOL)", "KOL, moderat (GOLD 2)", "KOL, let (GOLD 1)",
         "KOL, svær (GOLD 3)"),
        "Årskontrol for KOL",
        ((d.MUNI, "KOL-rehabilitering, holdtræning"), (_WARD, "Lungemedicinsk kontrol"),
         (d.PHYSIO, "Fysioterapi, åndedrætstræning")),
        (("Bevare lungefunktionen", v2.FEV1, (">=", 1.2, None, "L")),
         ("Mindre åndenød i hverdagen", v2.MRC, ("<=", 2, None, "point"))),
        (("R03BB04", "Spiriva Respimat 2,5 mikrog/dosis", "2 pust 1 gang dagligt"),
         ("R03AC02", "Ventoline 0,1 mg/dosis", "1-2 pust efter behov"),
         ("R03AK10", "Relvar Ellipta 92/22 mikrog/dosis", "1 inhalation 1 gang dagligt")),
        ("KOL-rehabilitering (12 uger)", "https://www.aarhus.dk/borger/sundhed/kol-rehabilitering"),
    ),
    LOW_BACK_PAIN: _Kind(
        "lrs",
        (d.LBP, d.LBP_SKS, d.LBP + d.LBP_SKS),
        ("Lænderygsmerter", "Kroniske lænderygsmerter", "Lænderygsmerter, uspecifikke"),
        "Opfølgning på rygsmerter",
        ((d.PHYSIO, "Fysioterapi, individuel træning"), (d.MUNI, "Holdtræning for ryggen")),
        (("Mindre ondt i ryggen", v2.NRS, ("range", 0, 3, "point")),
         ("Smerter til at leve med", v2.NRS, ("<=", 4, None, "point"))),
        (("N02BE01", "Pamol 500 mg tabletter", "2 tabletter op til 3 gange dagligt efter behov"),
         ("M01AE01", "Ibuprofen 400 mg tabletter", "1 tablet 3 gange dagligt i 1 uge")),
        ("Rygskole: viden og øvelser for ryggen", "https://www.aarhus.dk/borger/sundhed/rygskole"),
    ),
}  # fmt: skip


class _Builder:
    """One citizen's resources, by source, from their own seeded random stream."""

    def __init__(self, patient: ClinicPatient) -> None:
        self.patient = patient
        self.rng = random.Random(f"{SEED}-{patient.number}")
        self.out: dict[str, list[Res]] = {}

    def add(self, source: str, resource: Res) -> None:
        self.out.setdefault(source, []).append(_own(resource, self.patient))

    def build(self) -> dict[str, list[Res]]:
        if self.patient.hypertension:
            rid = f"cond-{self.patient.key}-htn"
            onset = -self.rng.randint(60, 3000)
            text = "Forhøjet blodtryk"
            self.add("diagnoses", d._condition(rid, _STAND_IN, _codes(d.HTN), text, onset, d.GP))
        for package in self.patient.packages:
            self.package(package)
        return self.out

    def package(self, package: ClinicPackage) -> None:
        kind, rng = _KINDS[package.kind], self.rng
        prefix = f"{self.patient.key}-{kind.short}"
        cond = f"cond-{prefix}"
        codes = _codes(rng.choice(kind.codes))
        onset = -rng.randint(5, 25) if package.course == "new" else -rng.randint(400, 4000)
        if package.course in {"no-plan", "draft-only"}:
            onset = -rng.randint(45, 700)
        org = d.HOSP if package.kind == COPD and rng.random() < 0.3 else d.GP
        text = rng.choice(kind.texts)
        self.add("diagnoses", d._condition(cond, _STAND_IN, codes, text, onset, org))
        self.course(package, prefix, cond, codes, onset)
        self.appointments(package, kind, prefix, codes)
        self.measures(package, kind, prefix, cond, onset)
        for n, (atc, name, dosage) in enumerate(rng.sample(kind.medicines, 2), start=1):
            start = max(onset, -rng.randint(30, 900))
            self.add(
                "medication",
                v2._medication(
                    f"med-{prefix}-{n}",
                    _STAND_IN,
                    "active",
                    atc,
                    name,
                    dosage,
                    start,
                    None,
                    d.GP,
                    _codes(codes),
                ),
            )
        if package.course != "new":
            day = max(onset + 1, -rng.randint(10, 200))
            note = f"Status for {text.lower()}. Plan og mål gennemgået med patienten."
            withheld = rng.random() < 0.1
            self.add(
                "journal",
                d._note(
                    f"note-{prefix}", _STAND_IN, day, "Statusnotat", d.GP, cond, withheld, note
                ),
            )
        if rng.random() < 0.35:
            title, url = kind.offer
            self.add(
                "prevention",
                d._offer(
                    f"sr-{prefix}", _STAND_IN, "active", title, d.MUNI, _codes(codes), url, True
                ),
            )

    def course(
        self, package: ClinicPackage, prefix: str, cond: str, codes: Sequence[Res], onset: int
    ) -> None:
        rng, scenario = self.rng, package.course
        if scenario in {"no-plan", "new"}:
            return
        if scenario == "draft-only":
            created = -rng.randint(1, -onset - 1)
            self.add(
                "careplan",
                v2._care_plan(f"cp-{prefix}", _STAND_IN, "draft", created, d.GP, cond, codes, []),
            )
            return
        created = -rng.randint(max(60, -onset // 2), max(61, -onset - 1))
        status, reviews = "active", [("completed", created)]
        if scenario in {"ok", "on-hold", "no-triage"}:
            last = -rng.randint(20, min(300, -created))
            reviews += [("completed", last), ("scheduled", rng.randint(7, 120))]
            status = "on-hold" if scenario == "on-hold" else "active"
        elif scenario == "review-overdue":
            created = min(created, -400)
            reviews += [("completed", -rng.randint(340, 390)), ("scheduled", -rng.randint(5, 60))]
        elif scenario == "review-lapsed":
            created = min(created, -500)
            reviews = [("completed", created), ("completed", -rng.randint(380, 480))]
        elif scenario == "completed":
            created = min(created, -500)
            status, reviews = "completed", [("completed", created), ("completed", created + 360)]
        coordinator = d.HOSP if rng.random() < 0.15 else d.GP
        self.add(
            "careplan",
            v2._care_plan(
                f"cp-{prefix}", _STAND_IN, status, created, coordinator, cond, codes, reviews
            ),
        )
        if package.triage is not None:
            # Sometimes triaged before; the latest assessment is the level that counts.
            first = -rng.randint(30, min(330, -created))
            if rng.random() < 0.5:
                earlier = rng.choice(("green", "yellow", "red"))
                self.add(
                    "careplan", d._risk(f"risk-{prefix}-1", _STAND_IN, first - 120, earlier, codes)
                )
            latest = d._risk(f"risk-{prefix}-2", _STAND_IN, first, package.triage, codes)
            self.add("careplan", latest)

    def appointments(
        self, package: ClinicPackage, kind: _Kind, prefix: str, codes: Sequence[Res]
    ) -> None:
        rng, scenario = self.rng, package.appointments
        n = 0

        def visit(status: str, day: int, who: str, what: str) -> None:
            nonlocal n
            n += 1
            self.add(
                "appointments",
                d._appointment(
                    f"appt-{prefix}-{n}",
                    _STAND_IN,
                    status,
                    day,
                    rng.choice(_HHMM),
                    30,
                    what,
                    who,
                    _codes(codes),
                ),
            )

        if scenario == "none":
            return
        if scenario == "routine":
            visit("fulfilled", -rng.randint(20, 170), d.GP, kind.control)
            visit("booked", rng.randint(5, 90), d.GP, kind.control)
        elif scenario.startswith("no-show"):
            visit("fulfilled", -rng.randint(330, 400), d.GP, kind.control)
            missed = -rng.randint(200, 320) if scenario == "no-show-old" else -rng.randint(5, 170)
            visit("noshow", missed, d.GP, kind.control)
            if scenario == "no-show-rebooked":
                visit("booked", rng.randint(3, 40), d.GP, kind.control)
            elif rng.random() < 0.5:
                who, what = rng.choice(kind.others)
                visit("proposed", rng.randint(20, 60), who, what)  # planned: no rebooking
        else:  # cancelled, cancelled-rebooked
            who, what = rng.choice(kind.others)
            # Cancelled by the clinic ahead of time, or cancelled within the last months.
            day = rng.randint(3, 30) if rng.random() < 0.3 else -rng.randint(3, 150)
            visit("fulfilled", -rng.randint(200, 300), d.GP, kind.control)
            visit("cancelled", day, who, what)
            if scenario == "cancelled-rebooked":
                visit("booked", max(day, 0) + rng.randint(7, 45), who, what)
            else:
                visit("booked", rng.randint(5, 90), d.GP, kind.control)  # another clinic

    def measures(
        self, package: ClinicPackage, kind: _Kind, prefix: str, cond: str, onset: int
    ) -> None:
        rng, scenario = self.rng, package.measures
        text, code, aim = rng.choice(kind.goals)
        if scenario != "no-goal":
            self.add(
                "careplan",
                v2._measure_goal(
                    f"goal-{prefix}-value", _STAND_IN, text, code, aim, rng.randint(60, 300), cond
                ),
            )
        on, off = _values(code, rng)
        values = [rng.choice(on + off)]
        values.append(rng.choice(off) if scenario == "off-target" else rng.choice(on))
        # Both after the diagnosis, the second strictly the latest.
        last = -rng.randint(1, min(60, -onset - 1))
        first = -rng.randint(1 - last, max(1 - last, min(300, -onset)))
        unit = aim[3]
        for n, (value, day) in enumerate(zip(values, (first, last), strict=True), start=1):
            home = code == v2.NRS or (code == v2.MRC and n == 2)
            origin = v2.HOME if home else v2.CLINIC
            who = f"{self.patient.name} (egen måling)" if home else d.GP
            self.add(
                "observations",
                v2._observation(
                    f"obs-{prefix}-{n}", _STAND_IN, code, value, unit, day, origin, who, cond
                ),
            )


def _values(code: v2.Code, rng: random.Random) -> tuple[list[float], list[float]]:
    """Values on and off the package's goals for ``code`` (off for every goal of the kind)."""
    if code == v2.FEV1:  # goal: ≥ 1.2 L
        return [round(rng.uniform(1.25, 2.6), 2) for _ in range(3)], [
            round(rng.uniform(0.6, 1.15), 2) for _ in range(3)
        ]
    if code == v2.MRC:  # goal: ≤ 2
        return [1, 2], [3, 4, 5]
    return [0, 1, 2, 3], [5, 6, 7, 8]  # NRS; goals: 0-3, or ≤ 4


def _listing_patient(rid: str, cpr: str, given: str, family: str, **fields: Any) -> Res:
    res: Res = {
        "resourceType": "Patient",
        "id": rid,
        "identifier": [{"system": d.CPR, "value": cpr}],
        "active": True,
        "name": [{"use": "official", "text": f"{given} {family}", "family": family,
                  "given": given.split()}],
        "generalPractitioner": [
            {"identifier": {"system": d.SOR, "value": ORG_GP}, "display": _GP_NAME}
        ],
    }  # fmt: skip
    return res | fields


def _listing() -> list[Res]:
    rows: list[Res] = []
    for cpr in NAMED_LISTED:
        given, family = p.PATIENTS[cpr].split(" ", 1)
        rows.append(_listing_patient(f"pat-{given.lower()}", cpr, given, family))
    for c in CLINIC_PATIENTS:
        res = _listing_patient(f"pat-{c.key}", c.cpr, c.given, c.family)
        res["gender"] = "female" if c.female else "male"
        res["birthDate"] = c.born.isoformat()
        if c.number % 10 == 0:
            del res["name"][0]["text"]  # some registers send only the parts
        rows.append(res)
    for n, (cpr, name) in enumerate(UNLISTED.items(), start=1):
        given, family = name.rsplit(" ", 1)
        rows.append(_listing_patient(f"pat-kl-moved-{n}", cpr, given, family, active=False))
    return rows


def _consents() -> list[Res]:
    by_cpr = {c.cpr: c for c in CLINIC_PATIENTS}
    rows = [
        ("consent-kl-gp-diagnoses", DENIES_DIAGNOSES, ["diagnoses"]),
        ("consent-kl-gp-appointments", DENIES_APPOINTMENTS, ["appointments"]),
    ]
    return [
        _own(d._consent(rid, _STAND_IN, "active", "deny", ORG_GP, d._BLOCKED, classes), by_cpr[cpr])
        for rid, cpr, classes in rows
    ]


def build_clinic_resources() -> dict[str, list[Res]]:
    """Every resource of the generated citizens by source, ``listing`` included; new on
    every call. The named demo people's are :func:`demo.data.build_resources`'s."""
    resources: dict[str, list[Res]] = {"listing": _listing(), "consent": _consents()}
    for patient in CLINIC_PATIENTS:
        if not (patient.packages or patient.hypertension):
            continue  # listed, nothing more
        for source, rows in _Builder(patient).build().items():
            resources.setdefault(source, []).extend(rows)
    return resources


@functools.cache
def clinic_resources() -> dict[str, list[Res]]:
    """:func:`build_clinic_resources`, built once per process and shared: read, never change."""
    return build_clinic_resources()
