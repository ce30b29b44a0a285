"""FHIR's date and time types as the models read them: every instant timezone-aware."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

__all__ = ["Day", "DayOrInstant", "Instant"]

#: One ``timezone`` per offset seen. pydantic gives every parsed datetime its own ``TzInfo``,
#: an object the garbage collector tracks: 18 per plan, and cached records keep them alive,
#: so full collections walked tens of thousands of them. ``timezone`` objects are not
#: tracked, and one per offset is plenty (offsets are whole minutes within ±24 h).
_ZONES: dict[timedelta, tzinfo] = {timedelta(0): UTC}


def _aware(value: datetime) -> datetime:
    # FHIR requires an offset on a dateTime with a time; a source that leaves it out is read
    # as UTC, so that every DateTime we serve carries an offset.
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=UTC)
    zone = _ZONES.get(offset)
    if zone is None:
        zone = _ZONES.setdefault(offset, timezone(offset))
    return value if value.tzinfo is zone else value.replace(tzinfo=zone)


def _not_a_timestamp(value: object) -> object:
    # pydantic reads a number (or a string of digits, like a year-only "2026") as Unix
    # seconds; FHIR has no such form, and 1970-01-01 must never reach a plan.
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        raise ValueError("not a FHIR dateTime")
    return value


#: A FHIR dateTime/instant, always timezone-aware.
Instant = Annotated[datetime, BeforeValidator(_not_a_timestamp), AfterValidator(_aware)]

_PARTIAL_DATE = re.compile(r"\d{4}(-\d{2})?")


def _partial_as_unknown(value: object) -> object:
    # FHIR date and dateTime may give only a year or a year and month ("2019", "2019-05"):
    # with no day to show, such a value reads as unknown, not as an unreadable resource.
    return None if isinstance(value, str) and _PARTIAL_DATE.fullmatch(value) else value


#: A FHIR dateTime that may be a day alone; a year, or a year and month, reads as unknown.
DayOrInstant = Annotated[Instant | date | None, BeforeValidator(_partial_as_unknown)]

#: A FHIR date; a year, or a year and month, reads as unknown.
Day = Annotated[date | None, BeforeValidator(_partial_as_unknown)]
