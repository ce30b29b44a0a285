"""The access log ("who has seen my data"): the record, the backend protocol, the factory.

Every plan read by a clinician or a proxy, and every patient on a clinician's work list,
is written here before the answer leaves; if the write fails, the read fails
(:class:`~core.errors.AuditWriteError`). The patient and their proxies read it back
newest first.

A CPR number is never stored in clear: ``patient`` and a proxy's ``actor_ref`` are keyed
pseudonyms made with :func:`core.cpr.pseudonymise_cpr`.

Example:
    >>> log = open_access_log("sqlite:///:memory:")  # doctest: +SKIP
    >>> await log.start()  # doctest: +SKIP
    >>> await log.record(AccessRecord(...))  # doctest: +SKIP
    >>> await log.entries(patient_pseudonym)  # doctest: +SKIP
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from core.errors import ConfigError

if TYPE_CHECKING:
    from plans.audit.paging import AccessPage, PageKey

__all__ = [
    "ACTOR_ROLES",
    "COLUMNS",
    "DEFAULT_TABLE",
    "AccessContext",
    "AccessLog",
    "AccessRecord",
    "check_entries_query",
    "check_table_name",
    "since_in_utc",
]

#: Who is logged: the patient's own reads are not.
ACTOR_ROLES: frozenset[str] = frozenset({"clinician", "proxy"})

DEFAULT_TABLE = "minplan_access_log"

# Lower case only (PostgreSQL folds unquoted names), and short enough that the index
# name derived from it stays within PostgreSQL's 63-character identifier limit.
_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")


class AccessContext(enum.StrEnum):
    """What the reader was doing when they saw the patient's data.

    Stored as its value (the member's name) in the ``context`` column; entries written
    before the column existed read back as :attr:`PLAN`, the only read there was then.
    """

    #: The patient's plan was read (``Query.plan``).
    PLAN = "PLAN"
    #: The patient was one entry of a clinic's work list (``Query.worklist``).
    WORKLIST = "WORKLIST"


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One read of a patient's plan by someone other than the patient.

    Attributes:
        at: When, timezone-aware (stored and returned in UTC).
        patient: Pseudonym of the patient's CPR.
        actor_role: ``"clinician"`` or ``"proxy"``.
        actor_name: The reader's name, from the token.
        actor_org: The reader's organisation, an SOR code.
        actor_org_name: The organisation's name.
        actor_ref: Pseudonym of a proxy's CPR, or the token subject of a clinician.
        sections: Plan sections returned, e.g. ``("diagnoses", "appointments")``.
        emergency: True when the reader broke the glass.
        reason: The break-the-glass reason.
        request_id: The request that read the plan.
        context: A plan read or a work-list read; PLAN unless said otherwise.

    Raises:
        ValueError: ``at`` is naive, ``actor_role`` is not one of :data:`ACTOR_ROLES`,
            or ``context`` names no :class:`AccessContext`.
    """

    at: datetime
    patient: str
    actor_role: str
    actor_name: str | None
    actor_org: str | None
    actor_org_name: str | None
    actor_ref: str | None
    sections: tuple[str, ...]
    emergency: bool
    reason: str | None
    request_id: str
    context: AccessContext = AccessContext.PLAN

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("AccessRecord.at must be timezone-aware")
        if self.actor_role not in ACTOR_ROLES:
            raise ValueError(
                f"AccessRecord.actor_role must be one of {sorted(ACTOR_ROLES)}, "
                f"not {self.actor_role!r}"
            )
        if not isinstance(self.sections, tuple):
            # A list would make the frozen record unhashable; accept any iterable.
            object.__setattr__(self, "sections", tuple(self.sections))
        if type(self.context) is not AccessContext:
            # A plain "WORKLIST" (as a row holds it) becomes the member; anything else fails.
            try:
                object.__setattr__(self, "context", AccessContext(self.context))
            except ValueError:
                raise ValueError(
                    f"AccessRecord.context must be one of {[c.value for c in AccessContext]}, "
                    f"not {self.context!r}"
                ) from None


#: The stored columns, in the order of :class:`AccessRecord`'s fields.
COLUMNS: tuple[str, ...] = tuple(field.name for field in fields(AccessRecord))


@runtime_checkable
class AccessLog(Protocol):
    """What a backend of the access log does. Open one with :func:`open_access_log`."""

    async def start(self) -> None:
        """Connect, create the schema if absent and bring an older one up to date.

        Idempotent, also when several gateway processes start at once.

        Raises:
            AuditWriteError: The store cannot be opened or the schema not created.
        """
        ...

    async def close(self) -> None:
        """Release the connection(s). Safe to call twice."""
        ...

    async def record(self, entry: AccessRecord) -> None:
        """Write one entry; return only once it is committed.

        Raises:
            AuditWriteError: On any failure, with the cause chained.
        """
        ...

    async def record_many(self, entries: Sequence[AccessRecord]) -> None:
        """Write every entry in one transaction; return only once all are committed.

        All or nothing: if one entry cannot be written, none is kept. For a work-list page,
        one entry per patient returned. An empty sequence writes nothing.

        Raises:
            AuditWriteError: On any failure, with the cause chained.
        """
        ...

    async def entries(
        self, patient: str, *, since: datetime | None = None, limit: int = 500
    ) -> list[AccessRecord]:
        """The patient's entries, newest first.

        Args:
            patient: Pseudonym of the patient's CPR.
            since: Only entries at or after this (timezone-aware) moment.
            limit: At most this many entries (at least 1).
        """
        ...

    async def page(
        self,
        patient: str,
        *,
        since: datetime | None = None,
        first: int = 100,
        after: PageKey | None = None,
    ) -> AccessPage:
        """One page of the patient's entries, newest first, with the count of all of them.

        Args:
            patient: Pseudonym of the patient's CPR.
            since: Only entries at or after this (timezone-aware) moment.
            first: At most this many entries (1 to ``MAX_PAGE_SIZE``).
            after: Only entries older than this position (the previous page's ``end``).
        """
        ...

    async def ping(self) -> bool:
        """True when the store accepts a write (for ``/readyz``); writes nothing; never raises."""
        ...


def check_table_name(table: str) -> str:
    """Return ``table`` if it is a safe SQL identifier, else raise ConfigError.

    >>> check_table_name("minplan_access_log")
    'minplan_access_log'
    """
    if not _TABLE_NAME.match(table):
        raise ConfigError(
            f"access log table name {table!r} is not allowed: use 1-48 characters "
            "of a-z, 0-9 and _, not starting with a digit"
        )
    return table


def check_entries_query(since: datetime | None, limit: int) -> datetime | None:
    """Check the arguments of :meth:`AccessLog.entries`; return ``since`` in UTC.

    Raises:
        ValueError: ``since`` is naive or out of range in UTC, or ``limit`` is below 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    return since_in_utc(since)


def since_in_utc(since: datetime | None) -> datetime | None:
    """``since`` in UTC.

    Raises:
        ValueError: ``since`` is naive, or has no UTC equivalent (year 1 with a positive
            offset, year 9999 with a negative one).
    """
    if since is None:
        return None
    if since.tzinfo is None or since.utcoffset() is None:
        raise ValueError("since must be timezone-aware")
    try:
        return since.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("since is out of range once in UTC") from exc
