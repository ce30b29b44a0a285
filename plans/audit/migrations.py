"""The access log's schema history: what each version added, applied in place at start.

An access log is never recreated or copied: it is the patient's record of who has seen
their data, and a gateway upgraded over a live log must keep every row. So each backend
creates the table as version 1 shipped it, then applies every step below that the table
lacks, in order, inside the transaction that holds its start-up lock (PostgreSQL: an
advisory lock; SQLite: ``BEGIN IMMEDIATE``). A new log and a migrated one therefore end
with the same columns, and two gateways starting at once apply a step once.

Whether a step is applied is read from the table itself (its columns), not from a
version counter kept elsewhere: one database may hold several logs (tests keep one table
each), and SQLite's ``user_version`` is one number per file.

Versions:
    1. The table as first shipped (the ``CREATE TABLE`` in each backend).
    2. ``context`` (issue 13): a plan read or a work-list read. Rows from before are plan
       reads, the only kind there was, so the column's default ``PLAN`` is their truth.

Example:
    >>> [step.column for step in MIGRATIONS]
    ['context']
    >>> SCHEMA_VERSION
    2
"""

from __future__ import annotations

from dataclasses import dataclass

from plans.audit.base import AccessContext

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "AddColumn"]


@dataclass(frozen=True, slots=True)
class AddColumn:
    """One schema step: add a column with a default that holds for every older row.

    Attributes:
        version: The schema version this step makes.
        column: The column added.
        sqlite: Its type and constraints in SQLite.
        postgres: Its type and constraints in PostgreSQL.
    """

    version: int
    column: str
    sqlite: str
    postgres: str


_PLAN = AccessContext.PLAN.value

#: Every step after version 1, oldest first.
MIGRATIONS: tuple[AddColumn, ...] = (
    AddColumn(
        version=2,
        column="context",
        sqlite=f"TEXT NOT NULL DEFAULT '{_PLAN}'",
        postgres=f"text NOT NULL DEFAULT '{_PLAN}'",
    ),
)

#: The version a started log is at.
SCHEMA_VERSION = MIGRATIONS[-1].version
