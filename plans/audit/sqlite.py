"""The access log in a SQLite file (the default), on one aiosqlite connection.

WAL mode with ``synchronous=FULL``: a committed access record survives a crash or a
power cut. Each insert runs in autocommit mode, so :meth:`SqliteAccessLog.record`
returns only after its own commit. ``at`` is ISO 8601 text in UTC with microseconds
(fixed width, so it sorts as time does); ``sections`` is a JSON array.

:meth:`SqliteAccessLog.ping` asks for the write lock on a connection of its own and gives
it back at once: a database another process holds locked is not ready, though it reads.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from core.errors import AuditWriteError
from plans.audit.base import (
    COLUMNS,
    DEFAULT_TABLE,
    AccessRecord,
    check_entries_query,
    check_table_name,
    since_in_utc,
)
from plans.audit.paging import AccessPage, PageKey, check_page_size

__all__ = ["SqliteAccessLog"]

_MEMORY = ":memory:"
_BUSY_TIMEOUT_MS = 5000
# /readyz waits this long for the write lock: long enough for a write under way to
# finish, short enough that a probe does not hang on a database held locked.
_PING_BUSY_TIMEOUT_S = 1.0


def _utc_text(moment: datetime) -> str:
    # Always "YYYY-MM-DDTHH:MM:SS.ffffff+00:00": text order is time order.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _make_parent(path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)


def _try_write_lock(path: str) -> bool:
    """Take the database's write lock and give it back, on a connection of its own.

    A separate connection, because a transaction begun on the log's shared one would
    take in (and roll back) any insert of a concurrent read. ``mode=rw``: never create.
    """
    uri = Path(path).resolve().as_uri() + "?mode=rw"
    try:
        with closing(
            sqlite3.connect(uri, uri=True, timeout=_PING_BUSY_TIMEOUT_S, isolation_level=None)
        ) as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
    except sqlite3.Error:
        return False
    return True


class SqliteAccessLog:
    """The access log in a SQLite file.

    Args:
        path: The database file (its directory is made if missing), or ``":memory:"``.
        table: Table name, a safe identifier.

    Example:
        >>> log = SqliteAccessLog("var/minplan-access-log.sqlite3")  # doctest: +SKIP
        >>> await log.start()  # doctest: +SKIP
    """

    def __init__(self, path: str, *, table: str = DEFAULT_TABLE) -> None:
        self._path = path
        self._table = check_table_name(table)
        self._db: aiosqlite.Connection | None = None
        columns = ", ".join(COLUMNS)
        placeholders = ", ".join("?" for _ in COLUMNS)
        # The table name is checked against a strict pattern; values are parameters.
        self._insert = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608
        select = f"SELECT {columns} FROM {table} WHERE patient = ?"  # noqa: S608
        order = " ORDER BY at DESC, id DESC LIMIT ?"
        self._select = select + order
        self._select_since = select + " AND at >= ?" + order
        self._select_ids = f"SELECT id, {columns} FROM {table} WHERE patient = ?"  # noqa: S608
        self._count = f"SELECT count(*) FROM {table} WHERE patient = ?"  # noqa: S608

    @property
    def path(self) -> str:
        """The database file, as given."""
        return self._path

    @property
    def table(self) -> str:
        """The table holding the entries."""
        return self._table

    async def start(self) -> None:
        """Open the file (making its directory), set WAL and FULL sync, create the schema.

        Idempotent: a second call only re-checks the schema.

        Raises:
            AuditWriteError: The file cannot be opened or the schema not created.
        """
        try:
            if self._db is not None:
                await self._create_schema(self._db)
                return
            db = await self._connect()
            try:
                await self._create_schema(db)
            except BaseException:
                await db.close()
                raise
            self._db = db
        except Exception as exc:
            raise AuditWriteError(
                f"access log: cannot open SQLite table {self._table} ({type(exc).__name__})"
            ) from exc

    async def _connect(self) -> aiosqlite.Connection:
        if self._path != _MEMORY:
            await asyncio.to_thread(_make_parent, self._path)
        # isolation_level=None: autocommit, every INSERT is its own committed transaction.
        db = await aiosqlite.connect(self._path, isolation_level=None)
        try:
            await db.execute_fetchall("PRAGMA journal_mode=WAL")
            await db.execute_fetchall("PRAGMA synchronous=FULL")
            await db.execute_fetchall(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        except BaseException:
            await db.close()
            raise
        return db

    async def _create_schema(self, db: aiosqlite.Connection) -> None:
        table = self._table
        await db.execute_fetchall(
            f"""CREATE TABLE IF NOT EXISTS {table} (
                id INTEGER PRIMARY KEY,
                at TEXT NOT NULL,
                patient TEXT NOT NULL,
                actor_role TEXT NOT NULL,
                actor_name TEXT,
                actor_org TEXT,
                actor_org_name TEXT,
                actor_ref TEXT,
                sections TEXT NOT NULL,
                emergency INTEGER NOT NULL,
                reason TEXT,
                request_id TEXT NOT NULL
            )"""
        )
        await db.execute_fetchall(
            f"CREATE INDEX IF NOT EXISTS {table}_patient_at ON {table} (patient, at)"
        )

    async def close(self) -> None:
        """Close the connection. Safe to call twice."""
        db, self._db = self._db, None
        if db is not None:
            await db.close()

    async def record(self, entry: AccessRecord) -> None:
        """Write one entry and commit it (fsynced) before returning.

        Raises:
            AuditWriteError: On any failure, including a closed log.
        """
        try:
            if self._db is None:
                raise RuntimeError("the access log is not started or already closed")
            await self._db.execute_fetchall(
                self._insert,
                (
                    _utc_text(entry.at),
                    entry.patient,
                    entry.actor_role,
                    entry.actor_name,
                    entry.actor_org,
                    entry.actor_org_name,
                    entry.actor_ref,
                    json.dumps(list(entry.sections)),
                    int(entry.emergency),
                    entry.reason,
                    entry.request_id,
                ),
            )
        except Exception as exc:
            raise AuditWriteError(
                f"access log: could not write to SQLite table {self._table} ({type(exc).__name__})"
            ) from exc

    async def entries(
        self, patient: str, *, since: datetime | None = None, limit: int = 500
    ) -> list[AccessRecord]:
        """The patient's entries, newest first (ties: last written first).

        Args:
            patient: Pseudonym of the patient's CPR.
            since: Only entries at or after this timezone-aware moment.
            limit: At most this many entries.

        Raises:
            ValueError: ``since`` is naive or ``limit`` below 1.
            RuntimeError: The log is not started.
            sqlite3.Error: The store could not be read.
        """
        since_utc = check_entries_query(since, limit)
        if self._db is None:
            raise RuntimeError("the access log is not started or already closed")
        if since_utc is None:
            rows = await self._db.execute_fetchall(self._select, (patient, limit))
        else:
            rows = await self._db.execute_fetchall(
                self._select_since, (patient, _utc_text(since_utc), limit)
            )
        return [_to_record(tuple(row)) for row in rows]

    async def page(
        self,
        patient: str,
        *,
        since: datetime | None = None,
        first: int = 100,
        after: PageKey | None = None,
    ) -> AccessPage:
        """One page of the patient's entries, newest first, and how many there are in all.

        Raises:
            ValueError: ``since`` naive or out of range, ``first`` outside 1-500.
            RuntimeError: The log is not started.
            sqlite3.Error: The store could not be read.
        """
        check_page_size(first)
        since_utc = since_in_utc(since)
        if self._db is None:
            raise RuntimeError("the access log is not started or already closed")
        where, params = "", list[str | int]([patient])
        if since_utc is not None:
            where += " AND at >= ?"
            params.append(_utc_text(since_utc))
        (count,) = next(iter(await self._db.execute_fetchall(self._count + where, params)))
        if after is not None:
            where += " AND (at, id) < (?, ?)"
            params += [_utc_text(after.at), after.id]
        query = self._select_ids + where + " ORDER BY at DESC, id DESC LIMIT ?"
        rows = [tuple(r) for r in await self._db.execute_fetchall(query, (*params, first + 1))]
        kept = rows[:first]
        end = None
        if kept:
            last_id, last_at = kept[-1][0], kept[-1][1]
            end = PageKey(datetime.fromisoformat(str(last_at)), int(str(last_id)))
        return AccessPage(
            entries=tuple(_to_record(row[1:]) for row in kept),
            total=int(count),
            end=end,
            has_next=len(rows) > first,
        )

    async def ping(self) -> bool:
        """True when the database would take a write now; writes nothing; never raises."""
        if self._db is None:
            return False
        try:
            if self._path == _MEMORY:  # no other connection can see (or lock) it
                return list(await self._db.execute_fetchall("SELECT 1")) == [(1,)]
            return await asyncio.to_thread(_try_write_lock, self._path)
        except Exception:
            return False


def _to_record(row: tuple[object, ...]) -> AccessRecord:
    (
        at,
        patient,
        actor_role,
        actor_name,
        actor_org,
        actor_org_name,
        actor_ref,
        sections,
        emergency,
        reason,
        request_id,
    ) = row
    return AccessRecord(
        at=datetime.fromisoformat(str(at)),
        patient=str(patient),
        actor_role=str(actor_role),
        actor_name=_optional(actor_name),
        actor_org=_optional(actor_org),
        actor_org_name=_optional(actor_org_name),
        actor_ref=_optional(actor_ref),
        sections=tuple(str(section) for section in json.loads(str(sections))),
        emergency=bool(emergency),
        reason=_optional(reason),
        request_id=str(request_id),
    )


def _optional(value: object) -> str | None:
    return None if value is None else str(value)
