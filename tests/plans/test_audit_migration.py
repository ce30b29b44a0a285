"""The access log's migration in place (issue 13): a log written by schema version 1 (no
``context``) is brought up to date at start on both backends, keeping every row as PLAN,
also when several gateway processes start on it at once."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path

import asyncpg
import pytest

from core.cpr import pseudonymise_cpr
from plans.audit import AccessContext, AccessLog, AccessRecord, open_access_log
from plans.audit.migrations import MIGRATIONS, SCHEMA_VERSION
from tests.services import postgres_reachable, postgres_url, require_service

KEY = b"test-pseudonym-key"
T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
OLD_ROWS = 1000
PATIENTS = [pseudonymise_cpr(f"01017{n:05d}", KEY) for n in range(10)]

# The tables exactly as schema version 1 created them (plans/audit before issue 13).
V1_SQLITE = """CREATE TABLE {table} (
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
V1_POSTGRES = """CREATE TABLE {table} (
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
V1_INDEX = {
    "sqlite": "CREATE INDEX {table}_patient_at ON {table} (patient, at)",
    "postgres": "CREATE INDEX {table}_patient_at ON {table} (patient, at DESC)",
}
V1_COLUMNS = [
    "id", "at", "patient", "actor_role", "actor_name", "actor_org", "actor_org_name",
    "actor_ref", "sections", "emergency", "reason", "request_id",
]  # fmt: skip
V1_INSERT = (
    "INSERT INTO {table} (at, patient, actor_role, actor_name, actor_org, actor_org_name, "
    "actor_ref, sections, emergency, reason, request_id) VALUES ({marks})"
)


def old_entries() -> list[AccessRecord]:
    """What version 1 logged: clinician and proxy plan reads, some breaking the glass."""
    entries = []
    for n in range(OLD_ROWS):
        proxy = n % 7 == 0
        entries.append(
            AccessRecord(
                at=T0 + timedelta(seconds=n // 2),  # two to a moment: ties too
                patient=PATIENTS[n % len(PATIENTS)],
                actor_role="proxy" if proxy else "clinician",
                actor_name=f"Læge {n:04d}" if not proxy else None,
                actor_org=None if proxy else "123456",
                actor_org_name=None if proxy else "Lægehuset Østerbro",
                actor_ref=f"subject-{n}",
                sections=("diagnoses", "journal") if n % 3 else (),
                emergency=n % 11 == 0,
                reason="Akut indlæggelse" if n % 11 == 0 else None,
                request_id=f"req-old-{n:05d}",
            )
        )
    return entries


OLD = old_entries()


def worklist_entry(n: int, patient: str = PATIENTS[0]) -> AccessRecord:
    return replace(
        OLD[1],
        at=T0 + timedelta(days=1, seconds=n),
        patient=patient,
        request_id=f"req-new-{n}",
        context=AccessContext.WORKLIST,
    )


@dataclass
class OldLog:
    """A log written by schema version 1, and how to look at its table from outside."""

    name: str
    url: str
    table: str
    columns: Callable[[], Awaitable[list[str]]]
    execute: Callable[[str], Awaitable[None]]

    async def open(self) -> AccessLog:
        log = open_access_log(self.url, table=self.table)
        await log.start()
        return log


def _sqlite_v1(path: Path, table: str, entries: list[AccessRecord]) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(V1_SQLITE.format(table=table))
        db.execute(V1_INDEX["sqlite"].format(table=table))
        db.executemany(
            V1_INSERT.format(table=table, marks=", ".join("?" * 11)),
            [
                (
                    e.at.astimezone(UTC).isoformat(timespec="microseconds"),
                    e.patient,
                    e.actor_role,
                    e.actor_name,
                    e.actor_org,
                    e.actor_org_name,
                    e.actor_ref,
                    json.dumps(list(e.sections)),
                    e.emergency,
                    e.reason,
                    e.request_id,
                )
                for e in entries
            ],
        )


async def _postgres_v1(url: str, table: str, entries: list[AccessRecord]) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(V1_POSTGRES.format(table=table))
        await conn.execute(V1_INDEX["postgres"].format(table=table))
        await conn.executemany(
            V1_INSERT.format(table=table, marks=", ".join(f"${n}" for n in range(1, 12))),
            [
                (
                    e.at,
                    e.patient,
                    e.actor_role,
                    e.actor_name,
                    e.actor_org,
                    e.actor_org_name,
                    e.actor_ref,
                    list(e.sections),
                    e.emergency,
                    e.reason,
                    e.request_id,
                )
                for e in entries
            ],
        )
    finally:
        await conn.close()


async def _pg_execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _place(name: str, tmp_path: Path, table: str) -> OldLog:
    """Where a test's log lives; nothing is written yet."""
    if name == "sqlite":
        path = tmp_path / "access-log.sqlite3"

        async def sqlite_columns() -> list[str]:
            with closing(sqlite3.connect(path)) as db:
                return [str(row[1]) for row in db.execute(f"PRAGMA table_info({table})")]

        async def sqlite_execute(sql: str) -> None:
            with closing(sqlite3.connect(path, isolation_level=None)) as db:
                db.execute(sql)

        return OldLog(name, f"sqlite:///{path}", table, sqlite_columns, sqlite_execute)
    url = postgres_url()

    async def postgres_columns() -> list[str]:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = $1::text::regclass"
                " AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                table,
            )
        finally:
            await conn.close()
        return [str(row["attname"]) for row in rows]

    async def postgres_execute(sql: str) -> None:
        await _pg_execute(url, sql)

    return OldLog(name, url, table, postgres_columns, postgres_execute)


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
async def place(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OldLog]:
    """An empty place for a log (a file, or a fresh table name on the shared server)."""
    table = f"access_log_mig_{uuid.uuid4().hex[:12]}"
    if request.param == "postgres":
        require_service("postgres", *await postgres_reachable(postgres_url()))
    where = _place(request.param, tmp_path, table)
    try:
        yield where
    finally:
        if where.name == "postgres":
            await _pg_execute(where.url, f"DROP TABLE IF EXISTS {table}")


@pytest.fixture
async def old_log(place: OldLog) -> OldLog:
    """A log holding :data:`OLD_ROWS` entries written by schema version 1."""
    if place.name == "sqlite":
        _sqlite_v1(Path(place.url.removeprefix("sqlite:///")), place.table, OLD)
    else:
        await _postgres_v1(place.url, place.table, OLD)
    assert await place.columns() == V1_COLUMNS
    return place


async def everything(log: AccessLog) -> list[AccessRecord]:
    """Every entry of every test patient, by patient, newest first."""
    found: list[AccessRecord] = []
    for patient in PATIENTS:
        found += await log.entries(patient, limit=500)
    return found


def expected_old() -> list[AccessRecord]:
    by_patient = {p: [e for e in OLD if e.patient == p][::-1] for p in PATIENTS}
    return [e for p in PATIENTS for e in by_patient[p]]


async def test_start_migrates_an_old_log_keeping_every_row_as_a_plan_read(
    old_log: OldLog,
) -> None:
    log = await old_log.open()
    try:
        migrated = await everything(log)
        page = await log.page(PATIENTS[3], first=500)
    finally:
        await log.close()

    assert await old_log.columns() == [*V1_COLUMNS, "context"]
    assert len(migrated) == OLD_ROWS
    assert migrated == expected_old()  # every field as written, every context PLAN
    assert {e.context for e in migrated} == {AccessContext.PLAN}
    assert page.total == OLD_ROWS // len(PATIENTS)
    assert {e.context for e in page.entries} == {AccessContext.PLAN}


async def test_new_entries_round_trip_beside_the_old_ones(old_log: OldLog) -> None:
    log = await old_log.open()
    try:
        await log.record_many([worklist_entry(n) for n in range(3)])
        await log.record(plan_read := replace(worklist_entry(3), context=AccessContext.PLAN))
        newest = await log.entries(PATIENTS[0], limit=5)
        total = (await log.page(PATIENTS[0])).total
    finally:
        await log.close()

    assert newest[0] == plan_read
    assert newest[1:4] == [worklist_entry(n) for n in (2, 1, 0)]
    assert [e.context for e in newest] == [AccessContext.PLAN] + [AccessContext.WORKLIST] * 3 + [
        AccessContext.PLAN
    ]
    assert total == OLD_ROWS // len(PATIENTS) + 4


async def test_starting_again_is_a_no_op(old_log: OldLog) -> None:
    first = await old_log.open()
    await first.record_many([worklist_entry(0)])
    await first.close()
    columns = await old_log.columns()

    again = await old_log.open()
    await again.start()  # and a second start on the same instance
    try:
        kept = await everything(again)
    finally:
        await again.close()

    assert await old_log.columns() == columns == [*V1_COLUMNS, "context"]
    assert len(kept) == OLD_ROWS + 1
    assert [e for e in kept if e.context is AccessContext.WORKLIST] == [worklist_entry(0)]


async def test_a_migrated_log_and_a_new_one_have_the_same_columns(
    old_log: OldLog, tmp_path: Path
) -> None:
    fresh = _place(old_log.name, tmp_path / "fresh", f"{old_log.table}_new")
    migrated, new = await old_log.open(), await fresh.open()
    try:
        assert await fresh.columns() == await old_log.columns()
        assert [step.version for step in MIGRATIONS] == list(range(2, SCHEMA_VERSION + 1))
        assert [step.column for step in MIGRATIONS] == (await fresh.columns())[len(V1_COLUMNS) :]
    finally:
        await migrated.close()
        await new.close()
        if fresh.name == "postgres":
            await fresh.execute(f"DROP TABLE IF EXISTS {fresh.table}")


async def test_a_restart_does_not_wait_for_a_reader(old_log: OldLog) -> None:
    # Once migrated, a start must not lock out the running gateways: ALTER TABLE would wait
    # for (and then block) every reader, however long its transaction.
    first = await old_log.open()
    await first.close()
    if old_log.name == "sqlite":
        reader = sqlite3.connect(old_log.url.removeprefix("sqlite:///"), isolation_level=None)
        reader.execute("BEGIN")
        reader.execute(f"SELECT count(*) FROM {old_log.table}").fetchone()  # noqa: S608
        try:
            log = await asyncio.wait_for(old_log.open(), timeout=3)
        finally:
            reader.execute("ROLLBACK")
            reader.close()
    else:
        conn = await asyncpg.connect(old_log.url)
        transaction = conn.transaction()
        await transaction.start()
        await conn.fetchval(f"SELECT count(*) FROM {old_log.table}")  # noqa: S608
        try:
            log = await asyncio.wait_for(old_log.open(), timeout=3)
        finally:
            await transaction.rollback()
            await conn.close()
    try:
        assert len(await everything(log)) == OLD_ROWS
    finally:
        await log.close()


# -- several gateways starting at once ------------------------------------------------------


def _start_in_a_process(url: str, table: str, barrier: Barrier, n: int) -> None:
    """One gateway process: wait for the others, start the log, write one work-list entry."""

    async def run() -> None:
        log = open_access_log(url, table=table)
        await log.start()
        try:
            await log.record_many([worklist_entry(n, patient=PATIENTS[n])])
        finally:
            await log.close()

    barrier.wait(timeout=60)
    asyncio.run(run())


STARTS = 4


@pytest.mark.parametrize("written", [pytest.param(True, id="old-log"),
                                     pytest.param(False, id="no-log-yet")])  # fmt: skip
async def test_processes_starting_at_once_all_succeed_and_migrate_once(
    place: OldLog, written: bool
) -> None:
    if written:
        if place.name == "sqlite":
            _sqlite_v1(Path(place.url.removeprefix("sqlite:///")), place.table, OLD)
        else:
            await _postgres_v1(place.url, place.table, OLD)
    context = multiprocessing.get_context("spawn")  # real, separate gateway processes
    barrier = context.Barrier(STARTS)
    processes = [
        context.Process(target=_start_in_a_process, args=(place.url, place.table, barrier, n))
        for n in range(STARTS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        await asyncio.to_thread(process.join, 120)

    assert [p.exitcode for p in processes] == [0] * STARTS
    assert await place.columns() == [*V1_COLUMNS, "context"]
    log = await place.open()
    try:
        found = await everything(log)
    finally:
        await log.close()
    assert sorted(e.request_id for e in found if e.context is AccessContext.WORKLIST) == [
        f"req-new-{n}" for n in range(STARTS)
    ]
    assert len(found) == (OLD_ROWS if written else 0) + STARTS


async def test_instances_starting_at_once_in_one_process_all_succeed(old_log: OldLog) -> None:
    logs = [open_access_log(old_log.url, table=old_log.table) for _ in range(STARTS)]
    try:
        await asyncio.gather(*(log.start() for log in logs))
        await asyncio.gather(*(log.record_many([worklist_entry(n)]) for n, log in enumerate(logs)))
        found = await logs[0].entries(PATIENTS[0], limit=500)
    finally:
        for log in logs:
            await log.close()

    assert await old_log.columns() == [*V1_COLUMNS, "context"]
    assert len(found) == OLD_ROWS // len(PATIENTS) + STARTS
