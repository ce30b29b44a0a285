"""The schema's custom scalars, each with the specification it follows (``@specifiedBy``).

Code generators read ``@specifiedBy`` to map a scalar to a type of their own (GraphQL
Code Generator, ariadne-codegen, GraphQL Inspector): without it ``Date`` and ``DateTime``
come out as ``unknown``/``Any``. The values are strawberry's own (``isoformat`` out,
ISO 8601 in); only their description and the URL are ours. The gateway's datetimes carry
their UTC offset, as RFC 3339 requires.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from strawberry.schema.config import StrawberryConfig
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

__all__ = ["DATETIME_SPEC", "DATE_SPEC", "SCALARS", "schema_config"]

#: RFC 3339's ``full-date``: ``2027-01-04``.
DATE_SPEC = "https://tools.ietf.org/html/rfc3339"
#: The GraphQL Scalars project's ``DateTime``: RFC 3339 ``date-time`` with an offset.
DATETIME_SPEC = "https://scalars.graphql.org/andimarek/date-time"

#: Python type → its scalar, for :class:`StrawberryConfig`'s ``scalar_map``.
SCALARS: dict[object, ScalarDefinition] = {
    dt.date: dataclasses.replace(
        DateDefinition,
        description="A calendar date, RFC 3339 full-date (ISO 8601), e.g. `2027-01-04`.",
        specified_by_url=DATE_SPEC,
    ),
    dt.datetime: dataclasses.replace(
        DateTimeDefinition,
        description=(
            "A moment with its UTC offset, RFC 3339 date-time (ISO 8601), "
            "e.g. `2027-01-18T10:00:00+01:00`."
        ),
        specified_by_url=DATETIME_SPEC,
    ),
}


def schema_config() -> StrawberryConfig:
    """strawberry's defaults, with :data:`SCALARS`."""
    return StrawberryConfig(scalar_map=SCALARS)
