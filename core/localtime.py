"""Danish calendar days: the date of a DateTime in Europe/Copenhagen, and "12 months after".

Contract §5 (v2): "today" and the date of a DateTime are taken in Europe/Copenhagen time,
and 12 months after 29 February is 28 February.

Example:
    >>> from datetime import UTC, datetime
    >>> local_date(datetime(2027, 3, 1, 23, 30, tzinfo=UTC)), months_12_after(date(2028, 2, 29))
    (datetime.date(2027, 3, 2), datetime.date(2029, 2, 28))
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

__all__ = [
    "COPENHAGEN",
    "Clock",
    "fixed_day_clock",
    "local_date",
    "months_12_after",
    "system_clock",
]

COPENHAGEN = ZoneInfo("Europe/Copenhagen")

#: "Now", timezone-aware: what alerts measure "today" and "from now on" by (contract §5).
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def fixed_day_clock(day: date) -> Clock:
    """A clock that lives on ``day`` (Copenhagen) at the real time of day.

    The embedded demo's data is dated around one day; its alerts are computed as on that
    day, so they read the same whenever the demo runs.
    """

    def now() -> datetime:
        real = datetime.now(COPENHAGEN)
        return datetime.combine(day, time(real.hour, real.minute, real.second), COPENHAGEN)

    return now


def local_date(value: datetime | date) -> date:
    """The calendar day of ``value`` in Copenhagen; a date is its own day.

    A naive datetime is read as UTC, as the FHIR models read one.
    """
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(COPENHAGEN).date()


def months_12_after(day: date) -> date:
    """The same day a year later; 29 February goes to 28 February."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February, and the next year has none
        return day.replace(year=day.year + 1, day=28)
