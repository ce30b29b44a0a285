"""The access log in PostgreSQL, on an asyncpg pool.

``at`` is ``timestamptz``, ``sections`` a ``text[]``, with an index on
``(patient, at DESC)`` for the patient's newest-first read. Each insert is one
autocommitted statement: :meth:`PostgresAccessLog.record` returns after the commit.
:meth:`PostgresAccessLog.ping` inserts a row in a transaction it rolls back: a table that
cannot take a write (read-only, locked) is not ready, though it reads.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg

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

__all__ = ["PostgresAccessLog"]

_POOL_MIN = 1
_POOL_MAX = 10
_COMMAND_TIMEOUT = 5.0
_PING_TIMEOUT = 2.0
# How long the readiness probe's insert may wait for a lock (a table held locked is down).
_PING_LOCK_TIMEOUT = "1s"


class PostgresAccessLog:
    """The access log in a PostgreSQL table.

    Args:
        dsn: A ``postgresql://`` or ``postgres://`` URL. Never shown in messages.
        table: Table name, a safe identifier.

    Example:
        >>> log = PostgresAccessLog("postgresql://minplan@db/minplan")  # doctest: +SKIP
        >>> await log.start()  # doctest: +SKIP
    """

    def __init__(self, dsn: str, *, table: str = DEFAULT_TABLE) -> None:
        self._dsn = dsn
        self._table = check_table_name(table)
        self._pool: Any = None  # asyncpg.Pool; asyncpg ships no type hints
        columns = ", ".join(COLUMNS)
        placeholders = ", ".join(f"${n}" for n in range(1, len(COLUMNS) + 1))
        # The table name is checked against a strict pattern; values are parameters.
        self._insert = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608
        select = f"SELECT {columns} FROM {table} WHERE patient = $1"  # noqa: S608
        self._select = select + " ORDER BY at DESC, id DESC LIMIT $2"
        self._select_since = select + " AND at >= $3 ORDER BY at DESC, id DESC LIMIT $2"
        self._select_ids = f"SELECT id, {columns} FROM {table} WHERE patient = $1"  # noqa: S608
        self._count = f"SELECT count(*) FROM {table} WHERE patient = $1"  # noqa: S608
        self._probe = (
            f"INSERT INTO {table} (at, patient, actor_role, sections, emergency, request_id) "  # noqa: S608
            "VALUES (now(), '', 'clinician', '{}', false, 'readiness-probe')"
        )

    @property
    def table(self) -> str:
        """The table holding the entries."""
        return self._table

    async def start(self) -> None:
        """Open the pool and create the table and index if absent.

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
        table = self._table
        async with pool.acquire() as conn, conn.transaction():
            # Concurrent CREATE ... IF NOT EXISTS can still collide in pg_type.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", table)
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

    async def close(self) -> None:
        """Close the pool, waiting for connections in use. Safe to call twice."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def record(self, entry: AccessRecord) -> None:
        """Write one entry; return once PostgreSQL has committed it.

        Raises:
            AuditWriteError: On any failure, including a closed log or a timeout.
        """
        try:
            if self._pool is None:
                raise RuntimeError("the access log is not started or already closed")
            await self._pool.execute(
                self._insert,
                entry.at.astimezone(UTC),
                entry.patient,
                entry.actor_role,
                entry.actor_name,
                entry.actor_org,
                entry.actor_org_name,
                entry.actor_ref,
                list(entry.sections),
                entry.emergency,
                entry.reason,
                entry.request_id,
            )
        except Exception as exc:
            raise AuditWriteError(
                f"access log: could not write to PostgreSQL table {self._table} "
                f"({type(exc).__name__})"
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
            asyncpg.PostgresError: The store could not be read.
        """
        since_utc = check_entries_query(since, limit)
        if self._pool is None:
            raise RuntimeError("the access log is not started or already closed")
        if since_utc is None:
            rows = await self._pool.fetch(self._select, patient, limit)
        else:
            rows = await self._pool.fetch(self._select_since, patient, limit, since_utc)
        return [_to_record(row) for row in rows]

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
            asyncpg.PostgresError: The store could not be read.
        """
        check_page_size(first)
        since_utc = since_in_utc(since)
        if self._pool is None:
            raise RuntimeError("the access log is not started or already closed")
        where, params = "", list[object]([patient])
        if since_utc is not None:
            params.append(since_utc)
            where += f" AND at >= ${len(params)}"
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            # One snapshot for the count and the page, so `total` matches what is paged.
            count = await conn.fetchval(self._count + where, *params)
            if after is not None:
                params += [after.at, after.id]
                where += f" AND (at, id) < (${len(params) - 1}, ${len(params)})"
            params.append(first + 1)
            query = self._select_ids + where + f" ORDER BY at DESC, id DESC LIMIT ${len(params)}"
            rows = await conn.fetch(query, *params)
        kept = rows[:first]
        end = PageKey(kept[-1]["at"].astimezone(UTC), int(kept[-1]["id"])) if kept else None
        return AccessPage(
            entries=tuple(_to_record(row) for row in kept),
            total=int(count),
            end=end,
            has_next=len(rows) > first,
        )

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


def _to_record(row: Any) -> AccessRecord:
    at: datetime = row["at"]
    return AccessRecord(
        at=at.astimezone(UTC),
        patient=row["patient"],
        actor_role=row["actor_role"],
        actor_name=row["actor_name"],
        actor_org=row["actor_org"],
        actor_org_name=row["actor_org_name"],
        actor_ref=row["actor_ref"],
        sections=tuple(row["sections"]),
        emergency=row["emergency"],
        reason=row["reason"],
        request_id=row["request_id"],
    )
