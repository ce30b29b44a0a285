"""Danish calendar days: the date of a DateTime in Europe/Copenhagen, and "12 months after".

Contract §5 (v2): "today" and the date of a DateTime are taken in Europe/Copenhagen time,
and 12 months after 29 February is 28 February.

Example:
    >>> from datetime import UTC, datetime
    >>> local_date(datetime(2027, 3, 1, 23, 30, tzinfo=UTC)), months_12_after(date(2028, 2, 29))
    (datetime.date(2027, 3, 2), datetime.date(2029, 2, 28))
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

__all__ = ["COPENHAGEN", "local_date", "months_12_after"]

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


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
