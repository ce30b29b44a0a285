"""The access log in PostgreSQL, on an asyncpg pool.

``at`` is ``timestamptz``, ``sections`` a ``text[]``, with an index on
``(patient, at DESC)`` for the patient's newest-first read. Each insert is one
autocommitted statement: :meth:`PostgresAccessLog.record` returns after the commit;
:meth:`PostgresAccessLog.record_many` writes its batch in one transaction.

The schema is created, and an older one migrated (:mod:`plans.audit.migrations`), in one
transaction holding an advisory lock on the table's name: gateways starting at once take
turns, and each later one finds the table up to date.

:meth:`PostgresAccessLog.ping` inserts a row in a transaction it rolls back: a table that
cannot take a write (read-only, locked) is not ready, though it reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from core.errors import AuditWriteError
from plans.audit.base import DEFAULT_TABLE
from plans.audit.migrations import MIGRATIONS
from plans.audit.sql import Row, SqlAccessLog, Statement

__all__ = ["PostgresAccessLog"]

_POOL_MIN = 1
_POOL_MAX = 10
_COMMAND_TIMEOUT = 5.0
_PING_TIMEOUT = 2.0
# How long the readiness probe's insert may wait for a lock (a table held locked is down).
_PING_LOCK_TIMEOUT = "1s"


class PostgresAccessLog(SqlAccessLog):
    """The access log in a PostgreSQL table.

    Args:
        dsn: A ``postgresql://`` or ``postgres://`` URL. Never shown in messages.
        table: Table name, a safe identifier.

    Example:
        >>> log = PostgresAccessLog("postgresql://minplan@db/minplan")  # doctest: +SKIP
        >>> await log.start()  # doctest: +SKIP
    """

    database = "PostgreSQL"

    def __init__(self, dsn: str, *, table: str = DEFAULT_TABLE) -> None:
        super().__init__(table, mark=lambda n: f"${n}")
        self._dsn = dsn
        self._pool: Any = None  # asyncpg.Pool; asyncpg ships no type hints
        self._probe = (
            f"INSERT INTO {table} (at, patient, actor_role, sections, emergency, request_id) "  # noqa: S608
            "VALUES (now(), '', 'clinician', '{}', false, 'readiness-probe')"
        )

    async def start(self) -> None:
        """Open the pool, create the table and index if absent, bring an older table up
        to date.

        Idempotent, also across gateway instances starting together: the DDL runs
        under a transaction-scoped advisory lock.

        Raises:
            AuditWriteError: The server cannot be reached or the schema not created.
        """
        try:
            if self._pool is not None:
                await self._create_schema(self._pool)
                return
            pool = await asyncpg.create_pool(
                self._dsn,
                min_size=_POOL_MIN,
                max_size=_POOL_MAX,
                command_timeout=_COMMAND_TIMEOUT,
            )
            try:
                await self._create_schema(pool)
            except BaseException:
                pool.terminate()
                raise
            self._pool = pool
        except Exception as exc:
            raise AuditWriteError(
                f"access log: cannot open PostgreSQL table {self._table} ({type(exc).__name__})"
            ) from exc

    async def _create_schema(self, pool: Any) -> None:
        """Create the table if absent, then apply the later steps it lacks; one
        transaction (PostgreSQL's DDL is transactional), so a failure changes nothing."""
        table = self._table
        async with pool.acquire() as conn, conn.transaction():
            # Concurrent CREATE ... IF NOT EXISTS can still collide in pg_type.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", table)
            # The table as version 1 shipped it; later columns come from MIGRATIONS, so a
            # new log and a migrated one are the same.
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {table} (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    at timestamptz NOT NULL,
                    patient text NOT NULL,
                    actor_role text NOT NULL,
                    actor_name text,
                    actor_org text,
                    actor_org_name text,
                    actor_ref text,
                    sections text[] NOT NULL,
                    emergency boolean NOT NULL,
                    reason text,
                    request_id text NOT NULL
                )"""
            )
            await conn.execute(
                f"CREATE INDEX IF NOT EXISTS {table}_patient_at ON {table} (patient, at DESC)"
            )
            for step in MIGRATIONS:
                # Look first: ALTER TABLE takes an ACCESS EXCLUSIVE lock even when IF NOT
                # EXISTS finds the column, stalling every running gateway's inserts.
                present = await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = $1::text::regclass"
                    " AND attname = $2 AND NOT attisdropped)",
                    table,
                    step.column,
                )
                if not present:
                    await conn.execute(
                        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {step.column} "
                        f"{step.postgres}"
                    )

    async def close(self) -> None:
        """Close the pool, waiting for connections in use. Safe to call twice."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def _stored_moment(self, moment: datetime) -> object:
        return moment.astimezone(UTC)

    def _stored_sections(self, sections: tuple[str, ...]) -> object:
        return list(sections)

    def _read_moment(self, value: Any) -> datetime:
        moment: datetime = value
        return moment.astimezone(UTC)

    def _read_sections(self, value: Any) -> Iterable[str]:
        sections: list[str] = value
        return sections

    def _open(self) -> Any:
        if self._pool is None:
            raise RuntimeError("the access log is not started or already closed")
        return self._pool

    async def _write(self, insert: Statement) -> None:
        sql, params = insert
        await self._open().execute(sql, *params)

    async def _write_many(self, insert: str, rows: Sequence[list[object]]) -> None:
        async with self._open().acquire() as conn, conn.transaction():
            await conn.executemany(insert, rows)

    async def _read(self, select: Statement) -> Sequence[Row]:
        sql, params = select
        rows: Sequence[Row] = await self._open().fetch(sql, *params)
        return rows

    async def _read_page(self, count: Statement, select: Statement) -> tuple[int, Sequence[Row]]:
        async with self._open().acquire() as conn, conn.transaction(isolation="repeatable_read"):
            # One snapshot for the count and the page, so `total` matches what is paged.
            total = await conn.fetchval(count[0], *count[1])
            rows: Sequence[Row] = await conn.fetch(select[0], *select[1])
        return int(total), rows

    async def ping(self) -> bool:
        """True when the table takes an insert now (rolled back: nothing kept); never raises."""
        if self._pool is None:
            return False
        try:
            async with asyncio.timeout(_PING_TIMEOUT), self._pool.acquire() as conn:
                transaction = conn.transaction()
                await transaction.start()
                try:
                    await conn.execute(f"SET LOCAL lock_timeout = '{_PING_LOCK_TIMEOUT}'")
                    await conn.execute(self._probe)
                finally:
                    await transaction.rollback()
        except Exception:
            return False
        return True
