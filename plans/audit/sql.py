"""What the SQL backends of the access log share: the statements, the reads, the pages.

A backend says how its database marks a parameter (``?`` or ``$1``), how it stores a
moment and the sections, and how it runs a statement; :class:`SqlAccessLog` does the
rest the same way for both: checking the arguments, building the queries, turning rows
into :class:`~plans.audit.base.AccessRecord` and pages, and failing a write as
:class:`~core.errors.AuditWriteError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from core.errors import AuditWriteError
from plans.audit.base import (
    COLUMNS,
    AccessContext,
    AccessRecord,
    check_entries_query,
    check_table_name,
    since_in_utc,
)
from plans.audit.paging import AccessPage, PageKey, check_page_size

__all__ = ["Row", "SqlAccessLog", "Statement"]

#: A statement and its parameters, in order.
Statement = tuple[str, list[object]]
#: One stored entry by column name, ``id`` included.
Row = Mapping[str, Any]

_NEWEST_FIRST = " ORDER BY at DESC, id DESC"


class SqlAccessLog(ABC):
    """The access log in one SQL table; a subclass connects and runs the statements.

    Args:
        table: Table name, a safe identifier.
        mark: The placeholder of the n-th parameter (from 1).
    """

    #: The database's name, for messages.
    database: ClassVar[str]

    def __init__(self, table: str, *, mark: Callable[[int], str]) -> None:
        self._table = check_table_name(table)
        self._mark = mark
        columns = ", ".join(COLUMNS)
        placeholders = ", ".join(mark(n) for n in range(1, len(COLUMNS) + 1))
        # The table name is checked against a strict pattern; values are parameters.
        self._insert = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608
        self._select = f"SELECT id, {columns} FROM {table} WHERE patient = {mark(1)}"  # noqa: S608
        self._count = f"SELECT count(*) FROM {table} WHERE patient = {mark(1)}"  # noqa: S608

    @property
    def table(self) -> str:
        """The table holding the entries."""
        return self._table

    @abstractmethod
    def _stored_moment(self, moment: datetime) -> object:
        """A moment (timezone-aware) as the ``at`` column holds it."""

    @abstractmethod
    def _stored_sections(self, sections: tuple[str, ...]) -> object:
        """The sections as the ``sections`` column holds them."""

    @abstractmethod
    def _read_moment(self, value: Any) -> datetime:
        """The ``at`` column's value as a moment in UTC."""

    @abstractmethod
    def _read_sections(self, value: Any) -> Iterable[str]:
        """The ``sections`` column's value as section names."""

    @abstractmethod
    async def _write(self, insert: Statement) -> None:
        """Run ``insert`` and commit it. Raises RuntimeError when not started."""

    @abstractmethod
    async def _write_many(self, insert: str, rows: Sequence[list[object]]) -> None:
        """Run ``insert`` once per row in one transaction; commit all or none.

        Raises RuntimeError when not started."""

    @abstractmethod
    async def _read(self, select: Statement) -> Sequence[Row]:
        """The rows ``select`` finds. Raises RuntimeError when not started."""

    @abstractmethod
    async def _read_page(self, count: Statement, select: Statement) -> tuple[int, Sequence[Row]]:
        """The count and the rows, as of one moment if the database can."""

    async def record(self, entry: AccessRecord) -> None:
        """Write one entry; return once the database has committed it.

        Raises:
            AuditWriteError: On any failure, including a closed log or a timeout.
        """
        values = self._values(entry)
        try:
            await self._write((self._insert, values))
        except Exception as exc:
            raise self._write_error(exc) from exc

    async def record_many(self, entries: Sequence[AccessRecord]) -> None:
        """Write every entry in one transaction, in order; all are committed or none.

        Raises:
            AuditWriteError: On any failure, including a closed log or a timeout; then
                no entry of ``entries`` is kept.
        """
        rows = [self._values(entry) for entry in entries]
        if not rows:
            return
        try:
            await self._write_many(self._insert, rows)
        except Exception as exc:
            raise self._write_error(exc) from exc

    def _values(self, entry: AccessRecord) -> list[object]:
        values = {name: getattr(entry, name) for name in COLUMNS}
        values["at"] = self._stored_moment(entry.at)
        values["sections"] = self._stored_sections(entry.sections)
        values["context"] = entry.context.value
        return [values[name] for name in COLUMNS]

    def _write_error(self, exc: Exception) -> AuditWriteError:
        return AuditWriteError(
            f"access log: could not write to {self.database} table {self._table} "
            f"({type(exc).__name__})"
        )

    async def entries(
        self, patient: str, *, since: datetime | None = None, limit: int = 500
    ) -> list[AccessRecord]:
        """As :meth:`AccessLog.entries` (ties: last written first); ValueError for bad
        arguments, RuntimeError unstarted."""
        where, params = self._where(patient, check_entries_query(since, limit))
        params.append(limit)
        query = self._select + where + _NEWEST_FIRST + f" LIMIT {self._mark(len(params))}"
        return [self._record(row) for row in await self._read((query, params))]

    async def page(
        self,
        patient: str,
        *,
        since: datetime | None = None,
        first: int = 100,
        after: PageKey | None = None,
    ) -> AccessPage:
        """As :meth:`AccessLog.page`; ValueError for bad arguments, RuntimeError unstarted."""
        check_page_size(first)
        where, params = self._where(patient, since_in_utc(since))
        count: Statement = (self._count + where, list(params))
        if after is not None:
            params += [self._stored_moment(after.at), after.id]
            where += f" AND (at, id) < ({self._mark(len(params) - 1)}, {self._mark(len(params))})"
        params.append(first + 1)  # one more than asked: is there a next page?
        query = self._select + where + _NEWEST_FIRST + f" LIMIT {self._mark(len(params))}"
        total, rows = await self._read_page(count, (query, params))
        kept = rows[:first]
        entries = tuple(self._record(row) for row in kept)
        return AccessPage(
            entries=entries,
            total=total,
            end=PageKey(entries[-1].at, int(kept[-1]["id"])) if kept else None,
            has_next=len(rows) > first,
        )

    def _where(self, patient: str, since_utc: datetime | None) -> tuple[str, list[object]]:
        if since_utc is None:
            return "", [patient]
        return f" AND at >= {self._mark(2)}", [patient, self._stored_moment(since_utc)]

    def _record(self, row: Row) -> AccessRecord:
        return AccessRecord(
            at=self._read_moment(row["at"]),
            patient=str(row["patient"]),
            actor_role=str(row["actor_role"]),
            actor_name=_optional(row["actor_name"]),
            actor_org=_optional(row["actor_org"]),
            actor_org_name=_optional(row["actor_org_name"]),
            actor_ref=_optional(row["actor_ref"]),
            sections=tuple(str(s) for s in self._read_sections(row["sections"])),
            emergency=bool(row["emergency"]),
            reason=_optional(row["reason"]),
            request_id=str(row["request_id"]),
            context=AccessContext(str(row["context"])),
        )


def _optional(value: object) -> str | None:
    return None if value is None else str(value)
