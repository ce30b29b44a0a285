"""The access log, on both backends: SQLite (a file in tmp_path) and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest

from core.cpr import pseudonymise_cpr
from core.errors import AuditWriteError, ConfigError
from plans.audit import (
    AccessContext,
    AccessLog,
    AccessPage,
    AccessRecord,
    PageKey,
    PostgresAccessLog,
    SqliteAccessLog,
    decode_cursor,
    encode_cursor,
    open_access_log,
)
from tests.services import postgres_reachable, postgres_url, require_service

KEY = b"test-pseudonym-key"
PATIENT = pseudonymise_cpr("0101701234", KEY)
OTHER_PATIENT = pseudonymise_cpr("0202802345", KEY)
PROXY = pseudonymise_cpr("0303903456", KEY)
T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def clinician_read(at: datetime = T0, *, patient: str = PATIENT, **changes: object) -> AccessRecord:
    record = AccessRecord(
        at=at,
        patient=patient,
        actor_role="clinician",
        actor_name="Læge Åse Ørsted",
        actor_org="123456",
        actor_org_name="Lægehuset Østerbro",
        actor_ref="token-subject-42",
        sections=("diagnoses", "appointments"),
        emergency=False,
        reason=None,
        request_id=f"req-{uuid.uuid4().hex[:8]}",
    )
    return replace(record, **changes)  # type: ignore[arg-type]


@dataclass
class Backend:
    """Where one test's access log lives; ``open`` starts as many instances as wanted."""

    name: str
    url: str
    table: str
    break_storage: Callable[[], Awaitable[None]]
    #: Run one statement on a connection of the test's own (as an operator would).
    execute: Callable[[str], Awaitable[None]]
    opened: list[AccessLog] = field(default_factory=list)

    async def open(self) -> AccessLog:
        log = open_access_log(self.url, table=self.table)
        self.opened.append(log)
        await log.start()
        return log


async def _drop_pg_table(url: str, table: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
    finally:
        await conn.close()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    table = f"access_log_test_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        path = tmp_path / "nested" / "access-log.sqlite3"

        async def execute_sqlite(sql: str) -> None:
            with closing(sqlite3.connect(path, isolation_level=None)) as db:
                db.execute(sql)

        async def drop_sqlite_table() -> None:
            await execute_sqlite(f"DROP TABLE {table}")

        backend = Backend("sqlite", f"sqlite:///{path}", table, drop_sqlite_table, execute_sqlite)
    else:
        url = postgres_url()
        require_service("postgres", *await postgres_reachable(url))

        async def execute_postgres(sql: str) -> None:
            conn = await asyncpg.connect(url)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        async def drop_postgres_table() -> None:
            await _drop_pg_table(url, table)

        backend = Backend("postgres", url, table, drop_postgres_table, execute_postgres)
    try:
        yield backend
    finally:
        for log in backend.opened:
            await log.close()
        if backend.name == "postgres":
            await _drop_pg_table(backend.url, table)


@pytest.fixture
async def log(backend: Backend) -> AccessLog:
    return await backend.open()


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(clinician_read(), id="clinician-all-fields"),
        pytest.param(
            clinician_read(
                at=datetime(2026, 3, 1, 10, 30, 15, 1, tzinfo=timezone(timedelta(hours=1))),
                emergency=True,
                reason="Bevidstløs patient på skadestuen",
                sections=(),
            ),
            id="emergency-non-utc-offset-no-sections",
        ),
        pytest.param(
            clinician_read(
                actor_role="proxy",
                actor_name=None,
                actor_org=None,
                actor_org_name=None,
                actor_ref=PROXY,
                sections=("diagnoses", "appointments", "journal", "goals", "prevention"),
            ),
            id="proxy-none-fields",
        ),
        pytest.param(clinician_read(context=AccessContext.WORKLIST), id="worklist-context"),
    ],
)
async def test_record_then_entries_round_trips_every_field(
    log: AccessLog, entry: AccessRecord
) -> None:
    await log.record(entry)

    [got] = await log.entries(PATIENT)

    assert got == entry
    assert got.at.utcoffset() == timedelta(0)
    assert got.at.microsecond == entry.at.microsecond
    assert isinstance(got.sections, tuple)


# The same instant as T0 + 2 min, in another offset: compared as time, not as text.
SINCE = (T0 + timedelta(minutes=2)).astimezone(timezone(timedelta(hours=-5)))


@pytest.mark.parametrize(
    ("query", "minutes"),
    [
        pytest.param({}, [1440, 4, 3, 2, 0], id="newest-first"),
        pytest.param({"since": SINCE}, [1440, 4, 3, 2], id="since-is-inclusive"),
        pytest.param({"limit": 2}, [1440, 4], id="limit-keeps-newest"),
        pytest.param({"since": SINCE, "limit": 1}, [1440], id="since-and-limit"),
    ],
)
async def test_entries_newest_first_since_and_limit(
    log: AccessLog, query: dict[str, object], minutes: list[int]
) -> None:
    for m in (3, 0, 1440, 4, 2):  # written out of order
        await log.record(clinician_read(T0 + timedelta(minutes=m)))

    got = await log.entries(PATIENT, **query)  # type: ignore[arg-type]

    assert [e.at for e in got] == [T0 + timedelta(minutes=m) for m in minutes]


async def test_equal_times_come_back_last_written_first(log: AccessLog) -> None:
    first, second = clinician_read(request_id="first"), clinician_read(request_id="second")
    await log.record(first)
    await log.record(second)

    assert [e.request_id for e in await log.entries(PATIENT)] == ["second", "first"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"limit": 0}, "limit must be at least 1", id="limit-zero"),
        pytest.param({"since": datetime(2026, 1, 1)}, "timezone-aware", id="naive-since"),
    ],
)
async def test_entries_rejects_bad_arguments(
    log: AccessLog, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await log.entries(PATIENT, **kwargs)  # type: ignore[arg-type]


async def test_concurrent_records_are_all_kept(log: AccessLog) -> None:
    entries = [clinician_read(T0 + timedelta(seconds=n)) for n in range(40)]

    await asyncio.gather(*(log.record(entry) for entry in entries))

    assert await log.entries(PATIENT) == entries[::-1]


async def test_entries_are_only_the_patients_own(log: AccessLog) -> None:
    mine = clinician_read(T0)
    theirs = clinician_read(T0 + timedelta(minutes=1), patient=OTHER_PATIENT)
    await log.record(mine)
    await log.record(theirs)

    assert await log.entries(PATIENT) == [mine]
    assert await log.entries(OTHER_PATIENT) == [theirs]
    assert await log.entries(pseudonymise_cpr("0404904567", KEY)) == []


async def test_start_twice_and_a_second_instance_keep_the_schema(backend: Backend) -> None:
    first = await backend.open()
    entry = clinician_read()
    await first.record(entry)
    await first.start()

    second = await backend.open()

    assert await first.entries(PATIENT) == [entry]
    assert await second.entries(PATIENT) == [entry]


async def test_entries_persist_across_instances(backend: Backend) -> None:
    writer = await backend.open()
    entry = clinician_read(emergency=True, reason="Akut indlæggelse")
    await writer.record(entry)
    await writer.close()

    reader = await backend.open()

    assert await reader.entries(PATIENT) == [entry]


@pytest.mark.parametrize(
    "breakage",
    [pytest.param("closed", id="log-closed"), pytest.param("table-dropped", id="table-dropped")],
)
async def test_failed_write_raises_audit_write_error(
    backend: Backend, log: AccessLog, breakage: str
) -> None:
    if breakage == "closed":
        await log.close()
    else:
        await backend.break_storage()

    with pytest.raises(AuditWriteError, match=f"access log: .*{backend.table}") as caught:
        await log.record(clinician_read())

    assert caught.value.__cause__ is not None


async def test_record_on_a_pool_that_cannot_connect_raises_audit_write_error() -> None:
    log = PostgresAccessLog("postgresql://postgres@127.0.0.1:1/test")

    with pytest.raises(AuditWriteError, match="PostgreSQL") as caught:
        await log.start()
    with pytest.raises(AuditWriteError):
        await log.record(clinician_read())

    assert "127.0.0.1" not in str(caught.value)
    assert await log.ping() is False
    await log.close()


async def test_ping_is_true_while_open_and_false_after_close(log: AccessLog) -> None:
    assert await log.ping() is True

    await log.close()

    assert await log.ping() is False
    await log.close()  # a second close is harmless


async def test_memory_sqlite_works() -> None:
    log = open_access_log("sqlite:///:memory:")
    assert isinstance(log, SqliteAccessLog)
    await log.start()
    try:
        await log.record(entry := clinician_read())
        assert await log.entries(PATIENT) == [entry]
    finally:
        await log.close()


@pytest.mark.parametrize(
    ("url", "kind", "path"),
    [
        pytest.param(
            "sqlite:///rel/log.sqlite3", SqliteAccessLog, "rel/log.sqlite3", id="relative"
        ),
        pytest.param(
            "sqlite:////abs/log.sqlite3", SqliteAccessLog, "/abs/log.sqlite3", id="absolute"
        ),
        pytest.param("sqlite:///:memory:", SqliteAccessLog, ":memory:", id="memory"),
        pytest.param("postgresql://u@db:5432/minplan", PostgresAccessLog, None, id="postgresql"),
        pytest.param("postgres://u@db/minplan", PostgresAccessLog, None, id="postgres"),
    ],
)
def test_url_picks_the_backend(url: str, kind: type[AccessLog], path: str | None) -> None:
    log = open_access_log(url)

    assert type(log) is kind
    assert getattr(log, "path", None) == path


async def test_sqlite_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    log = open_access_log(f"sqlite:///{path}")
    await log.start()
    try:
        await log.record(clinician_read())
        with closing(sqlite3.connect(path)) as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        await log.close()


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("mysql://root:hunter2@db/minplan", id="mysql"),
        pytest.param("sqlite://relative.sqlite3", id="sqlite-two-slashes"),
        pytest.param("sqlite:///", id="sqlite-no-path"),
        pytest.param("/var/lib/minplan/log.sqlite3", id="bare-path"),
        pytest.param("", id="empty"),
    ],
)
def test_bad_url_raises_config_error_naming_the_setting(url: str) -> None:
    with pytest.raises(ConfigError, match="MINPLAN_AUDIT_URL") as caught:
        open_access_log(url)

    assert "postgresql://" in str(caught.value) or "sqlite:///" in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "table",
    [
        pytest.param("access_log; DROP TABLE patients", id="injection"),
        pytest.param("1log", id="leading-digit"),
        pytest.param("AccessLog", id="upper-case"),
        pytest.param("", id="empty"),
        pytest.param("a" * 49, id="too-long"),
        pytest.param('"quoted"', id="quoted"),
    ],
)
def test_unsafe_table_name_is_rejected(table: str) -> None:
    with pytest.raises(ConfigError, match="table name"):
        open_access_log("sqlite:///:memory:", table=table)
    with pytest.raises(ConfigError, match="table name"):
        PostgresAccessLog(postgres_url(), table=table)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"at": datetime(2026, 3, 1, 9, 30)}, id="naive-at"),
        pytest.param({"actor_role": "citizen"}, id="citizen-role"),
    ],
)
def test_access_record_rejects_bad_values(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="AccessRecord"):
        clinician_read(**changes)  # type: ignore[arg-type]


def test_access_record_is_a_plan_read_unless_said_otherwise() -> None:
    assert clinician_read().context is AccessContext.PLAN
    # As a row holds it: the text becomes the member.
    assert clinician_read(context="WORKLIST").context is AccessContext.WORKLIST


@pytest.mark.parametrize(
    "context",
    [
        pytest.param("worklist", id="lower-case"),
        pytest.param("SEARCH", id="unknown"),
        pytest.param("", id="empty"),
    ],
)
def test_access_record_rejects_an_unknown_context(context: str) -> None:
    with pytest.raises(ValueError, match=r"AccessRecord\.context must be one of"):
        clinician_read(context=context)


def test_access_record_turns_a_list_of_sections_into_a_tuple() -> None:
    record = clinician_read(sections=["goals"])

    assert record.sections == ("goals",)
    assert hash(record)


# -- record_many: a work-list page in one transaction -------------------------------------


def worklist_page(count: int, *, at: datetime = T0, start: int = 0) -> list[AccessRecord]:
    """A work-list page as the work list writes it: one entry per patient, one moment."""
    return [
        clinician_read(
            at,
            patient=pseudonymise_cpr(f"{1000000 + start + n:010d}", KEY),
            sections=("diagnoses", "appointments"),
            request_id="req-worklist",
            context=AccessContext.WORKLIST,
        )
        for n in range(count)
    ]


async def test_record_many_keeps_every_entry_for_its_patient(log: AccessLog) -> None:
    page = worklist_page(200)

    await log.record_many(page)

    for entry in (page[0], page[117], page[-1]):
        assert await log.entries(entry.patient) == [entry]


async def test_record_many_keeps_the_batch_order(log: AccessLog) -> None:
    # One patient twice in a batch at one moment: newest first means last written first.
    batch = [
        clinician_read(request_id=f"req-{n}", context=AccessContext.WORKLIST) for n in range(5)
    ]
    await log.record(before := clinician_read(T0 - timedelta(minutes=1)))

    await log.record_many(batch)

    got = await log.entries(PATIENT)
    assert [e.request_id for e in got] == [f"req-{n}" for n in reversed(range(5))] + [
        before.request_id
    ]
    assert [e.context for e in got] == [AccessContext.WORKLIST] * 5 + [AccessContext.PLAN]
    page = await log.page(PATIENT, first=3)
    assert [e.context for e in page.entries] == [AccessContext.WORKLIST] * 3


async def test_record_many_of_nothing_writes_nothing(log: AccessLog) -> None:
    await log.record_many([])

    assert (await log.page(PATIENT)).total == 0


async def test_record_many_is_all_or_nothing(backend: Backend, log: AccessLog) -> None:
    # The database refuses the 150th entry (a duplicate where the operator demands unique
    # request ids): none of the page may be kept, and earlier entries stay.
    await log.record(kept := clinician_read(T0 - timedelta(days=1)))
    await backend.execute(
        f"CREATE UNIQUE INDEX {backend.table}_unique_request ON {backend.table} (request_id)"
    )
    page = [replace(e, request_id=f"req-wl-{n}") for n, e in enumerate(worklist_page(200))]
    page[149] = replace(page[149], request_id="req-wl-3")

    with pytest.raises(AuditWriteError, match=f"access log: .*{backend.table}") as caught:
        await log.record_many(page)

    assert caught.value.__cause__ is not None
    assert [(await log.page(e.patient)).total for e in page] == [0] * 200
    assert await log.entries(PATIENT) == [kept]
    await log.record_many(page[:149])  # the log still writes after the failed batch
    assert (await log.page(page[0].patient)).total == 1


async def test_a_failed_batch_takes_no_concurrent_write_with_it(
    backend: Backend, log: AccessLog
) -> None:
    # Plan reads logged while a work-list batch fails must all be kept (one SQLite
    # connection serves both: the batch's rollback must not reach them).
    await backend.execute(
        f"CREATE UNIQUE INDEX {backend.table}_unique_request ON {backend.table} (request_id)"
    )
    bad = [replace(e, request_id=f"req-bad-{n % 100}") for n, e in enumerate(worklist_page(200))]
    good = worklist_page(50, start=1000)
    singles = [clinician_read(T0 + timedelta(seconds=n), request_id=f"req-{n}") for n in range(40)]

    results = await asyncio.gather(
        log.record_many(bad),
        *(log.record(entry) for entry in singles),
        log.record_many([replace(e, request_id=f"req-good-{n}") for n, e in enumerate(good)]),
        return_exceptions=True,
    )

    assert isinstance(results[0], AuditWriteError)
    assert results[1:] == [None] * 41
    assert await log.entries(PATIENT) == singles[::-1]
    assert [(await log.page(e.patient)).total for e in bad] == [0] * 200
    assert [(await log.page(e.patient)).total for e in good] == [1] * 50


@pytest.mark.parametrize(
    "breakage",
    [pytest.param("closed", id="log-closed"), pytest.param("table-dropped", id="table-dropped")],
)
async def test_failed_record_many_raises_audit_write_error(
    backend: Backend, log: AccessLog, breakage: str
) -> None:
    if breakage == "closed":
        await log.close()
    else:
        await backend.break_storage()

    with pytest.raises(AuditWriteError, match=f"access log: .*{backend.table}") as caught:
        await log.record_many(worklist_page(3))

    assert caught.value.__cause__ is not None


# -- paging (accessLogPage) --------------------------------------------------------------


async def _fill(log: AccessLog, count: int, *, start: datetime = T0) -> list[AccessRecord]:
    """``count`` entries a second apart, three at a time sharing one moment (ties)."""
    written = []
    for n in range(count):
        entry = clinician_read(start + timedelta(seconds=n // 3), request_id=f"req-{n:05d}")
        await log.record(entry)
        written.append(entry)
    return written


def _newest_first(entries: list[AccessRecord]) -> list[str]:
    # Newest first; among equal times the last written first (as written: ascending).
    return [e.request_id for e in reversed(entries)]


async def _all_pages(
    log: AccessLog, first: int, since: datetime | None = None
) -> tuple[list[AccessPage], list[str]]:
    pages, seen, after = [], [], None
    while True:
        page = await log.page(PATIENT, since=since, first=first, after=after)
        pages.append(page)
        seen += [e.request_id for e in page.entries]
        if not page.has_next:
            return pages, seen
        assert page.end is not None
        after = decode_cursor(encode_cursor(page.end))  # as a client hands it back


async def test_pages_reach_every_entry_exactly_once_newest_first(log: AccessLog) -> None:
    written = await _fill(log, 1234)
    await log.record(clinician_read(patient=OTHER_PATIENT))  # never on this patient's pages

    pages, seen = await _all_pages(log, 100)

    assert seen == _newest_first(written)
    assert [len(p.entries) for p in pages] == [100] * 12 + [34]
    assert {p.total for p in pages} == {1234}
    assert [p.has_next for p in pages] == [True] * 12 + [False]


@pytest.mark.parametrize("first", [1, 7, 500])
async def test_page_sizes(log: AccessLog, first: int) -> None:
    written = await _fill(log, 40)
    pages, seen = await _all_pages(log, first)
    assert seen == _newest_first(written)
    assert len(pages) == -(-40 // first)


async def test_since_limits_pages_and_total(log: AccessLog) -> None:
    written = await _fill(log, 300)
    since = written[150].at  # entries 150..299 (and 150's tie partners 151, 152: same time)

    pages, seen = await _all_pages(log, 40, since=since)

    assert seen == _newest_first(written[150:])
    assert {p.total for p in pages} == {150}


async def test_since_with_an_offset_means_the_same_moment(log: AccessLog) -> None:
    written = await _fill(log, 30)
    since = written[15].at.astimezone(timezone(timedelta(hours=-5)))
    page = await log.page(PATIENT, since=since, first=100)
    assert [e.request_id for e in page.entries] == _newest_first(written[15:])


async def test_entries_written_between_pages_neither_repeat_nor_skip_older_ones(
    log: AccessLog,
) -> None:
    written = await _fill(log, 250)
    first = await log.page(PATIENT, first=100)
    assert first.end is not None
    newer = await _fill(log, 60, start=T0 + timedelta(days=1))  # a clinician keeps reading
    same_time = clinician_read(written[-1].at, request_id="req-tie-late")
    await log.record(same_time)  # the newest moment already paged, written later

    rest, seen = [], [e.request_id for e in first.entries]
    after: PageKey | None = first.end
    while after is not None:
        page = await log.page(PATIENT, first=100, after=after)
        rest.append(page)
        seen += [e.request_id for e in page.entries]
        after = page.end if page.has_next else None

    assert seen == _newest_first(written)
    assert {p.total for p in rest} == {250 + 60 + 1}
    # ... and a new first page starts with what came since.
    again = await log.page(PATIENT, first=100)
    assert [e.request_id for e in again.entries[:60]] == _newest_first(newer)
    assert again.entries[60].request_id == "req-tie-late"


async def test_an_empty_log_has_one_empty_page(log: AccessLog) -> None:
    page = await log.page(PATIENT)
    assert page == AccessPage(entries=(), total=0, end=None, has_next=False)


@pytest.mark.parametrize("first", [0, -1, 501, 10**9])
async def test_page_size_out_of_range(log: AccessLog, first: int) -> None:
    with pytest.raises(ValueError, match="first must be between 1 and 500"):
        await log.page(PATIENT, first=first)


@pytest.mark.parametrize(
    "since",
    [
        pytest.param(
            datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(hours=23, minutes=59))),
            id="year-9999-behind-utc",
        ),
        pytest.param(
            datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))), id="year-1-ahead-of-utc"
        ),
    ],
)
async def test_since_without_a_utc_time_is_a_value_error(log: AccessLog, since: datetime) -> None:
    with pytest.raises(ValueError, match="since is out of range"):
        await log.page(PATIENT, since=since)
    with pytest.raises(ValueError, match="since is out of range"):
        await log.entries(PATIENT, since=since)


def test_cursor_round_trips_and_names_no_patient() -> None:
    key = PageKey(T0, 1234)
    cursor = encode_cursor(key)
    assert decode_cursor(cursor) == key
    text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    assert PATIENT not in text
    assert set(json.loads(text)) == {"at", "id"}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("", id="empty"),
        pytest.param("not a cursor!", id="not-base64"),
        pytest.param("x" * 5000, id="huge"),
        pytest.param("æøå", id="non-ascii"),
        pytest.param(_b64(b"\xff\xfe"), id="not-utf8"),
        pytest.param(_b64(b"[1, 2]"), id="json-list"),
        pytest.param(_b64(b"null"), id="json-null"),
        pytest.param(_b64(b'{"at": "2026-03-01T09:30:15+00:00"}'), id="no-id"),
        pytest.param(_b64(b'{"id": 5}'), id="no-at"),
        pytest.param(_b64(b'{"at": "2026-03-01T09:30:15+00:00", "id": "5"}'), id="id-string"),
        pytest.param(_b64(b'{"at": "2026-03-01T09:30:15+00:00", "id": true}'), id="id-true"),
        pytest.param(_b64(b'{"at": "2026-03-01T09:30:15+00:00", "id": -1}'), id="id-negative"),
        pytest.param(_b64(b'{"at": "2026-03-01T09:30:15+00:00", "id": 1e3}'), id="id-float"),
        pytest.param(
            _b64(b'{"at": "2026-03-01T09:30:15+00:00", "id": 99999999999999999999}'),
            id="id-past-bigint",
        ),
        pytest.param(_b64(b'{"at": "2026-03-01T09:30:15", "id": 5}'), id="naive-at"),
        pytest.param(_b64(b'{"at": "yesterday", "id": 5}'), id="at-not-a-time"),
        pytest.param(
            _b64(b'{"at": "0001-01-01T00:00:00+05:00", "id": 5}'), id="at-before-year-1-in-utc"
        ),
        pytest.param(
            _b64(b'{"at": "2026-03-01T09:30:15+00:00", "id": 5, "patient": "x"}'),
            id="extra-field",
        ),
    ],
)
def test_malformed_or_altered_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(ValueError, match="not a cursor of this access log"):
        decode_cursor(cursor)


# -- readiness: the log must take a write -------------------------------------------------


async def test_sqlite_ping_is_false_while_another_connection_holds_the_write_lock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locked.sqlite3"
    log = SqliteAccessLog(str(path))
    await log.start()
    try:
        assert await log.ping() is True
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN EXCLUSIVE")
            assert await log.ping() is False
            other.execute("ROLLBACK")
        assert await log.ping() is True
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # a writer that never commits
            assert await log.ping() is False
            other.execute("COMMIT")
        assert await log.ping() is True
        assert await log.entries(PATIENT) == []  # the probe keeps nothing
    finally:
        await log.close()


async def test_sqlite_ping_is_false_when_the_file_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "gone" / "log.sqlite3"
    log = SqliteAccessLog(str(path))
    await log.start()
    try:
        for name in ("log.sqlite3", "log.sqlite3-wal", "log.sqlite3-shm"):
            (tmp_path / "gone" / name).unlink(missing_ok=True)
        (tmp_path / "gone").rmdir()
        assert await log.ping() is False
        assert not path.exists()  # the probe never creates a new, empty log
    finally:
        await log.close()


async def test_ping_writes_nothing(log: AccessLog) -> None:
    for _ in range(3):
        assert await log.ping() is True
    assert await log.entries(PATIENT) == []
    page = await log.page("", first=10)  # the probe's row would have patient ""
    assert page.total == 0


@pytest.mark.postgres
async def test_postgres_ping_is_false_when_the_table_refuses_inserts() -> None:
    # As a read-only or full database would: every insert fails, while reads still work.
    url = postgres_url()
    require_service("postgres", *await postgres_reachable(url))
    table = f"access_log_test_{uuid.uuid4().hex[:12]}"
    log = PostgresAccessLog(url, table=table)
    await log.start()
    admin = await asyncpg.connect(url)
    try:
        assert await log.ping() is True
        await admin.execute(
            f"""CREATE FUNCTION {table}_refuse() RETURNS trigger LANGUAGE plpgsql
                AS $$ BEGIN RAISE EXCEPTION 'read only'; END $$"""
        )
        await admin.execute(
            f"CREATE TRIGGER {table}_refuse BEFORE INSERT ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_refuse()"
        )
        assert await log.ping() is False
        assert await log.entries(PATIENT) == []  # it still reads: only the write is gone
        await admin.execute(f"DROP TRIGGER {table}_refuse ON {table}")
        assert await log.ping() is True
    finally:
        await log.close()
        await admin.execute(f"DROP TABLE IF EXISTS {table}")
        await admin.execute(f"DROP FUNCTION IF EXISTS {table}_refuse()")
        await admin.close()


@pytest.mark.postgres
async def test_postgres_ping_is_false_while_the_table_is_locked() -> None:
    url = postgres_url()
    require_service("postgres", *await postgres_reachable(url))
    table = f"access_log_test_{uuid.uuid4().hex[:12]}"
    log = PostgresAccessLog(url, table=table)
    await log.start()
    holder = await asyncpg.connect(url)
    try:
        assert await log.ping() is True
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        assert await log.ping() is False
        await transaction.rollback()
        assert await log.ping() is True
    finally:
        await holder.close()
        await log.close()
        await _drop_pg_table(url, table)
