"""The access log in a SQLite file (the default), on one aiosqlite connection.

WAL mode with ``synchronous=FULL``: a committed access record survives a crash or a
power cut. Each insert runs in autocommit mode, so :meth:`SqliteAccessLog.record`
returns only after its own commit; :meth:`SqliteAccessLog.record_many` writes its batch
in one ``BEGIN IMMEDIATE`` transaction. ``at`` is ISO 8601 text in UTC with
microseconds (fixed width, so it sorts as time does); ``sections`` is a JSON array.

The schema is created, and an older one migrated (:mod:`plans.audit.migrations`), in
one ``BEGIN IMMEDIATE`` transaction: a second process starting at once waits for the
write lock, then finds the table up to date.

:meth:`SqliteAccessLog.ping` asks for the write lock on a connection of its own and gives
it back at once: a database another process holds locked is not ready, though it reads.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from core.errors import AuditWriteError
from plans.audit.base import COLUMNS, DEFAULT_TABLE
from plans.audit.migrations import MIGRATIONS
from plans.audit.sql import Row, SqlAccessLog, Statement

__all__ = ["SqliteAccessLog"]

_MEMORY = ":memory:"
_BUSY_TIMEOUT_MS = 5000
# /readyz waits this long for the write lock: long enough for a write under way to
# finish, short enough that a probe does not hang on a database held locked.
_PING_BUSY_TIMEOUT_S = 1.0
_ROW = ("id", *COLUMNS)


async def _switch_to_wal(db: aiosqlite.Connection) -> None:
    """``PRAGMA journal_mode=WAL``, waiting for a process that holds the lock it needs.

    SQLite may answer "database is locked" to this pragma at once, without calling its busy
    handler (another process starting on the same new file, say), so the busy timeout does
    not cover it: it is retried here, for as long as that timeout.
    """
    deadline = asyncio.get_running_loop().time() + _BUSY_TIMEOUT_MS / 1000
    delay = 0.01
    while True:
        try:
            await db.execute_fetchall("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


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


async def _add_column(db: aiosqlite.Connection, table: str, column: str, definition: str) -> None:
    try:
        await db.execute_fetchall(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
    except sqlite3.OperationalError as exc:
        # Under the write lock no gateway can add it between our look and our ALTER; if
        # something else did (a racing process on another code path, a hand migration),
        # the step is done either way.
        if "duplicate column name" not in str(exc):
            raise


class SqliteAccessLog(SqlAccessLog):
    """The access log in a SQLite file.

    Args:
        path: The database file (its directory is made if missing), or ``":memory:"``.
        table: Table name, a safe identifier.

    Example:
        >>> log = SqliteAccessLog("var/minplan-access-log.sqlite3")  # doctest: +SKIP
        >>> await log.start()  # doctest: +SKIP
    """

    database = "SQLite"

    def __init__(self, path: str, *, table: str = DEFAULT_TABLE) -> None:
        super().__init__(table, mark=lambda _n: "?")
        self._path = path
        self._db: aiosqlite.Connection | None = None
        # One connection serves every call; a transaction on it (a batch, the schema step)
        # would take in, and on failure roll back, whatever else ran on it meanwhile. So
        # each use of the connection holds this lock for its whole extent.
        self._lock = asyncio.Lock()

    @property
    def path(self) -> str:
        """The database file, as given."""
        return self._path

    async def start(self) -> None:
        """Open the file (making its directory), set WAL and FULL sync, create the schema
        or bring an older one up to date.

        Idempotent: a second call only re-checks the schema. Safe when two processes
        start on one file at once.

        Raises:
            AuditWriteError: The file cannot be opened or the schema not created.
        """
        try:
            if self._db is not None:
                async with self._lock:
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
            await db.execute_fetchall(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            await _switch_to_wal(db)
            await db.execute_fetchall("PRAGMA synchronous=FULL")
        except BaseException:
            await db.close()
            raise
        return db

    async def _create_schema(self, db: aiosqlite.Connection) -> None:
        """Create the table as version 1 shipped it, then apply the later steps it lacks.

        All in one ``BEGIN IMMEDIATE`` transaction (SQLite's DDL is transactional): it
        takes the write lock first, so a racing process waits, then reads the columns as
        this one left them; a failure leaves the table as it was.
        """
        table = self._table
        await db.execute_fetchall("BEGIN IMMEDIATE")
        try:
            # The table as version 1 shipped it; later columns come from MIGRATIONS.
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
            info = await db.execute_fetchall(f"PRAGMA table_info({table})")
            present = {str(row[1]) for row in info}
            for step in MIGRATIONS:
                if step.column not in present:
                    await _add_column(db, table, step.column, step.sqlite)
            await db.execute_fetchall("COMMIT")
        except BaseException:
            if db.in_transaction:
                await db.execute_fetchall("ROLLBACK")
            raise

    async def close(self) -> None:
        """Close the connection. Safe to call twice."""
        db, self._db = self._db, None
        if db is not None:
            await db.close()

    def _stored_moment(self, moment: datetime) -> object:
        return _utc_text(moment)

    def _stored_sections(self, sections: tuple[str, ...]) -> object:
        return json.dumps(list(sections))

    def _read_moment(self, value: Any) -> datetime:
        return datetime.fromisoformat(str(value))

    def _read_sections(self, value: Any) -> Iterable[str]:
        sections: list[str] = json.loads(str(value))
        return sections

    def _open(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the access log is not started or already closed")
        return self._db

    async def _write(self, insert: Statement) -> None:
        async with self._lock:
            await self._open().execute_fetchall(*insert)

    async def _write_many(self, insert: str, rows: Sequence[list[object]]) -> None:
        async with self._lock:
            db = self._open()
            # IMMEDIATE: take the write lock before the first insert, waiting (busy
            # timeout) for another process's write rather than failing half-way.
            await db.execute_fetchall("BEGIN IMMEDIATE")
            try:
                await db.executemany(insert, rows)
                await db.execute_fetchall("COMMIT")
            except BaseException:
                if db.in_transaction:
                    await db.execute_fetchall("ROLLBACK")
                raise

    async def _read(self, select: Statement) -> Sequence[Row]:
        async with self._lock:
            return await self._fetch(select)

    async def _fetch(self, select: Statement) -> Sequence[Row]:
        rows = await self._open().execute_fetchall(*select)
        return [dict(zip(_ROW, row, strict=True)) for row in rows]

    async def _read_page(self, count: Statement, select: Statement) -> tuple[int, Sequence[Row]]:
        # One connection, autocommit: a write between the two reads can only be newer than
        # every entry of the page, so the page itself never shifts.
        async with self._lock:
            (total,) = next(iter(await self._open().execute_fetchall(*count)))
            return int(total), await self._fetch(select)

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
