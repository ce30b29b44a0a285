"""The pages' Danish words for the API's enums and codes, and Danish dates and times.

The API answers in codes (``COPD``, ``NO_SHOW``, ``active``); a person reads words. A code
without a word here is shown as it is, rather than hidden.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import date, datetime

from core.localtime import COPENHAGEN
from plans.alerts import danish_date

__all__ = [
    "ALERT_KINDS",
    "APPOINTMENT_STATUS",
    "MEASUREMENT_ORIGIN",
    "PACKAGE_NAMES",
    "PRIORITY",
    "SECTIONS",
    "SOURCE_NOTICES",
    "TRIAGE",
    "course_status",
    "danish_datetime",
    "danish_day",
    "goal_status",
    "medication_status",
    "offer_status",
    "parse_date",
    "word_for",
]

PACKAGE_NAMES = {
    "COPD": "KOL",
    "LOW_BACK_PAIN": "Kroniske lænderygsmerter",
    "TYPE2_DIABETES": "Type 2-diabetes",
    "HEART_DISEASE": "Hjertesygdom",
}

#: Consent classes (the access log's "what was seen") → Danish.
SECTIONS = {
    "diagnoses": "diagnoser",
    "appointments": "aftaler",
    "journal": "journalnotater",
    "goals": "mål og forløb",
    "prevention": "forebyggelse",
    "measurements": "målinger",
    "medication": "medicin",
}

#: Triage level → (the word, the CSS class that colours it). Never colour alone.
TRIAGE = {
    "RED": ("Rød", "red"),
    "YELLOW": ("Gul", "yellow"),
    "GREEN": ("Grøn", "green"),
    None: ("Ikke vurderet", "none"),
}

APPOINTMENT_STATUS = {
    "PLANNED": "Planlagt",
    "BOOKED": "Booket",
    "COMPLETED": "Gennemført",
    "CANCELLED": "Aflyst",
    "NO_SHOW": "Udeblevet",
}

ALERT_KINDS = {
    "NO_SHOW": "Udeblevet",
    "NOT_REBOOKED": "Aflyst uden ny aftale",
    "REVIEW_OVERDUE": "Kontrol overskredet",
    "NO_PLAN": "Ingen forløbsplan",
    "NO_TRIAGE": "Ikke triageret",
    "OFF_TARGET": "Værdi uden for målet",
}

PRIORITY = {"HIGH": "Høj", "MEDIUM": "Middel", "LOW": "Lav"}

MEASUREMENT_ORIGIN = {"LAB": "Laboratorie", "CLINIC": "Klinik", "HOME": "Hjemmemåling"}

#: One sentence per source that did not answer, in the order the contract names them.
SOURCE_NOTICES = {
    "diagnoses": "Diagnoser og forløb kan ikke vises lige nu.",
    "appointments": "Aftaler kan ikke vises lige nu.",
    "journal": "Journalnotater kan ikke vises lige nu.",
    "careplan": "Mål, triage og forløbsplaner kan ikke vises lige nu.",
    "pro": "Sundhedskompetence kan ikke vises lige nu.",
    "prevention": "Forebyggelsestilbud kan ikke vises lige nu.",
    "consent": "Samtykker kan ikke læses lige nu.",
    "observations": "Måleværdier kan ikke vises lige nu.",
    "medication": "Medicin kan ikke vises lige nu.",
    "listing": "Klinikkens patientliste kan ikke vises lige nu.",
}

_COURSE_STATUS = {"active": "Aktiv", "on-hold": "Sat i bero", "completed": "Afsluttet"}
_GOAL_STATUS = {
    "proposed": "Foreslået",
    "planned": "Planlagt",
    "accepted": "Aftalt",
    "active": "Aktivt",
    "on-hold": "Sat i bero",
    "completed": "Nået",
    "cancelled": "Opgivet",
}
_MEDICATION_STATUS = {
    "active": "Aktiv",
    "completed": "Afsluttet",
    "stopped": "Stoppet",
    "on-hold": "Pause",
    "intended": "Planlagt",
    "not-taken": "Ikke taget",
}
_OFFER_STATUS = {
    "draft": "Kladde",
    "active": "Aktivt",
    "on-hold": "Sat i bero",
    "completed": "Afsluttet",
    "revoked": "Trukket tilbage",
}


def word_for(table: Mapping[str, str]) -> Callable[[str], str]:
    """A template filter: a code's word in ``table``, or the code as it is.

    >>> word_for(PACKAGE_NAMES)("COPD"), word_for(PACKAGE_NAMES)("OTHER")
    ('KOL', 'OTHER')
    """
    get = table.get

    def word(code: str) -> str:
        return get(code, code)

    return word


def course_status(code: str) -> str:
    return _COURSE_STATUS.get(code, code)


def goal_status(code: str) -> str:
    return _GOAL_STATUS.get(code, code)


def medication_status(code: str) -> str:
    return _MEDICATION_STATUS.get(code, code)


def offer_status(code: str) -> str:
    return _OFFER_STATUS.get(code, code)


def parse_date(value: str | None) -> date | datetime | None:
    """An API ``Date`` or ``DateTime`` (ISO 8601) as Python's, or None."""
    if not value:
        return None
    if len(value) == 10:
        return date.fromisoformat(value)
    return datetime.fromisoformat(value)


def danish_day(value: str | date | None) -> str:
    """``"2027-01-04"`` (or a date-time, in Copenhagen) → ``"4. januar 2027"``; "" for none."""
    if isinstance(value, str):
        return _day(value)
    if value is None:
        return ""
    return _local_day(value)


def danish_datetime(value: str | None) -> str:
    """An API date-time in Copenhagen's time, the Danish way: ``"18. januar 2027 kl. 10.00"``."""
    return _datetime(value) if value else ""


# A date's words depend on the date's text alone, so they are remembered: a page writes the
# same few dates many times, and the words hold nothing of whoever asked.
@functools.lru_cache(maxsize=4096)
def _day(value: str) -> str:
    parsed = parse_date(value)
    return "" if parsed is None else _local_day(parsed)


def _local_day(value: date) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(COPENHAGEN).date() if value.tzinfo else value.date()
    return danish_date(value)


@functools.lru_cache(maxsize=4096)
def _datetime(value: str) -> str:
    parsed = parse_date(value)
    if parsed is None:
        return ""
    if not isinstance(parsed, datetime):
        return danish_date(parsed)
    local = parsed.astimezone(COPENHAGEN) if parsed.tzinfo else parsed
    # Not ``f"{local:%H.%M}"``: strftime is the slow way to write two numbers.
    return f"{danish_date(local.date())} kl. {local.hour:02d}.{local.minute:02d}"
