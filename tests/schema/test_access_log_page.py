"""``accessLogPage`` and ``accessLog(since)`` through the real app; ``/readyz`` and the log."""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from demo.people import ORG_GP, ORG_HOSPITAL, PATIENT_BOTH, PATIENT_LBP, PROXY_OF_BOTH
from plans.audit import AccessContext, AccessRecord
from tests.conftest import Gateway, MakeGateway
from tests.schema.test_contract import CONTRACT_V2, _check_field, _check_type

PAGE = """
query($cpr: String, $since: DateTime, $first: Int, $after: String) {
  accessLogPage(cpr: $cpr, since: $since, first: $first, after: $after) {
    entries { at actorName reason } total endCursor hasNextPage
  }
}"""
LOG = """
query($cpr: String, $since: DateTime) { accessLog(cpr: $cpr, since: $since) { at actorName } }"""
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


async def fill(gw: Gateway, count: int, patient: str = PATIENT_BOTH) -> list[str]:
    """``count`` clinician reads of ``patient``, a minute apart, two to a moment; newest first."""
    services = gw.app.state.services
    pseudonym = services.plans.pseudonym(patient)
    for n in range(count):
        await services.access_log.record(
            AccessRecord(
                at=T0 + timedelta(minutes=n // 2),
                patient=pseudonym,
                actor_role="clinician",
                actor_name=f"Læge {n:04d}",
                actor_org=ORG_GP,
                actor_org_name="Lægerne Søndergade",
                actor_ref="sub",
                sections=("diagnoses",),
                emergency=False,
                reason=None,
                request_id=f"req-{n}",
            )
        )
    return [f"Læge {n:04d}" for n in reversed(range(count))]


async def page_all(
    gw: Gateway, token: str, *, first: int | None = 100, **variables: Any
) -> tuple[list[dict[str, Any]], list[str]]:
    pages: list[dict[str, Any]] = []
    names: list[str] = []
    after = None
    while True:
        body = await gw.data(PAGE, token, {"first": first, "after": after, **variables})
        assert "errors" not in body, body["errors"]
        page = body["data"]["accessLogPage"]
        pages.append(page)
        names += [e["actorName"] for e in page["entries"]]
        if not page["hasNextPage"]:
            return pages, names
        after = page["endCursor"]


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def test_every_entry_once_newest_first_in_pages_of_100(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        expected = await fill(gw, 1234)
        await fill(gw, 7, patient=PATIENT_LBP)  # another patient's: never on Birgit's pages
        pages, names = await page_all(gw, gw.citizen(PATIENT_BOTH))
        newest = (await gw.data(LOG, gw.citizen(PATIENT_BOTH)))["data"]["accessLog"]
    assert names == expected
    assert len(names) == len(set(names)) == 1234
    assert [len(p["entries"]) for p in pages] == [100] * 12 + [34]
    assert {p["total"] for p in pages} == {1234}
    assert [p["hasNextPage"] for p in pages] == [True] * 12 + [False]
    assert all(p["endCursor"] for p in pages)
    # accessLog stays as it was: the newest 500.
    assert [e["actorName"] for e in newest] == expected[:500]


async def test_a_real_read_comes_first_and_the_default_page_is_100(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway() as gw:
        await fill(gw, 150)
        await gw.data("query($c: String) { plan(cpr: $c) { cpr } }", gw.clinician(ORG_HOSPITAL,
                      name="Dr. Ida Holm"), {"c": PATIENT_BOTH})  # fmt: skip
        body = await gw.data(
            "{ accessLogPage { entries { actorName } total hasNextPage } }",
            gw.citizen(PATIENT_BOTH),
        )
    page = body["data"]["accessLogPage"]
    assert page["entries"][0]["actorName"] == "Dr. Ida Holm"
    assert (len(page["entries"]), page["total"], page["hasNextPage"]) == (100, 151, True)


async def test_context_is_plan_for_a_plan_read_and_worklist_for_a_work_list_entry(
    make_gateway: MakeGateway,
) -> None:
    # The work list writes its page with record_many (context WORKLIST); a plan read is PLAN.
    query = "{ accessLogPage { entries { actorName context } total } accessLog { context } }"
    async with make_gateway() as gw:
        services = gw.app.state.services
        listed = AccessRecord(
            at=datetime.now(UTC) - timedelta(minutes=5),
            patient=services.plans.pseudonym(PATIENT_BOTH),
            actor_role="clinician",
            actor_name="Læge på arbejdslisten",
            actor_org=ORG_GP,
            actor_org_name="Lægerne Søndergade",
            actor_ref="sub",
            sections=("diagnoses", "appointments"),
            emergency=False,
            reason=None,
            request_id="req-worklist",
            context=AccessContext.WORKLIST,
        )
        await services.access_log.record_many([listed])
        await gw.data("query($c: String) { plan(cpr: $c) { cpr } }", gw.clinician(ORG_GP,
                      name="Læge Ib"), {"c": PATIENT_BOTH})  # fmt: skip
        body = await gw.data(query, gw.citizen(PATIENT_BOTH))
    assert "errors" not in body, body["errors"]
    page = body["data"]["accessLogPage"]
    assert page["entries"] == [
        {"actorName": "Læge Ib", "context": "PLAN"},
        {"actorName": "Læge på arbejdslisten", "context": "WORKLIST"},
    ]
    assert page["total"] == 2
    assert body["data"]["accessLog"] == [{"context": "PLAN"}, {"context": "WORKLIST"}]


def test_access_context_is_served_as_contract_v2_names_it() -> None:
    # The rest of version 2 comes with the work list; this part is served already.
    _check_type(CONTRACT_V2, "AccessContext")
    _check_field(CONTRACT_V2, "AccessLogEntry", "context")


async def test_since_with_paging(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        expected = await fill(gw, 400)
        # Entry 200's moment, written in Copenhagen time: entries 200..399 match.
        since = (T0 + timedelta(minutes=100)).astimezone(
            datetime.fromisoformat("2026-01-01T00:00:00+01:00").tzinfo
        )
        pages, names = await page_all(gw, gw.citizen(PATIENT_BOTH), first=30,
                                      since=since.isoformat())  # fmt: skip
    assert names == expected[:200]
    assert {p["total"] for p in pages} == {200}
    assert len(pages) == 7


async def test_reads_between_pages_neither_repeat_nor_skip(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        expected = await fill(gw, 250)
        token = gw.citizen(PATIENT_BOTH)
        names, after = [], None
        for n in range(3):
            body = await gw.data(PAGE, token, {"first": 100, "after": after})
            page = body["data"]["accessLogPage"]
            names += [e["actorName"] for e in page["entries"]]
            after = page["endCursor"]
            # A clinician reads the plan again while the patient pages.
            clinician = gw.clinician(ORG_GP, name=f"Læge midt i {n}")
            await gw.data("query($c: String) { plan(cpr: $c) { cpr } }", clinician,
                          {"c": PATIENT_BOTH})  # fmt: skip
        assert page["hasNextPage"] is False
        assert page["total"] == 250 + 2  # what was there when the last page was read
    assert names == expected


async def test_a_proxy_pages_the_patients_log(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        expected = await fill(gw, 120)
        _, names = await page_all(gw, gw.citizen(PROXY_OF_BOTH), cpr=PATIENT_BOTH)
    assert names == expected


@pytest.mark.parametrize(
    "who",
    [
        pytest.param("stranger", id="citizen-without-power-of-attorney"),
        pytest.param("clinician", id="clinician"),
    ],
)
async def test_others_are_forbidden(make_gateway: MakeGateway, who: str) -> None:
    async with make_gateway() as gw:
        await fill(gw, 3)
        token = gw.citizen(PATIENT_LBP) if who == "stranger" else gw.clinician(ORG_GP)
        body = await gw.data(PAGE, token, {"cpr": PATIENT_BOTH, "first": 10})
        # A cursor does not open someone else's log either.
        own = await gw.data(PAGE, gw.citizen(PATIENT_BOTH), {"first": 1})
        cursor = own["data"]["accessLogPage"]["endCursor"]
        with_cursor = await gw.data(PAGE, token, {"cpr": PATIENT_BOTH, "after": cursor})
    for answer in (body, with_cursor):
        assert codes(answer) == ["FORBIDDEN"]
        assert answer["data"] is None


async def test_a_cursor_pages_only_the_callers_own_log(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        await fill(gw, 5)
        await fill(gw, 5, patient=PATIENT_LBP)
        birgit = await gw.data(PAGE, gw.citizen(PATIENT_BOTH), {"first": 2})
        cursor = birgit["data"]["accessLogPage"]["endCursor"]
        jens = await gw.data(PAGE, gw.citizen(PATIENT_LBP), {"first": 100, "after": cursor})
    page = jens["data"]["accessLogPage"]
    # Jens's own entries only, those before the position (a cursor is a place, not a key).
    assert page["total"] == 5
    assert [e["actorName"] for e in page["entries"]] == ["Læge 0001", "Læge 0000"]


@pytest.mark.parametrize("first", [0, -1, 501, 100_000])
async def test_first_out_of_range(
    make_gateway: MakeGateway, first: int, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_gateway() as gw:
        body = await gw.data(PAGE, gw.citizen(PATIENT_BOTH), {"first": first})
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "first must be between 1 and 500" in body["errors"][0]["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "after",
    [
        pytest.param("garbage", id="garbage"),
        pytest.param("eyJhdCI6MX0", id="json-without-id"),
        pytest.param("eyJhdCI6IjIwMjYtMTEtMDFUMDg6MDA6MDArMDA6MDAiLCJpZCI6IngifQ", id="id-string"),
        pytest.param("%%%%", id="not-base64"),
        pytest.param("A" * 10_000, id="huge"),
        pytest.param("", id="empty"),
    ],
)
async def test_malformed_cursor_is_bad_user_input(
    make_gateway: MakeGateway, after: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_gateway() as gw:
        body = await gw.data(PAGE, gw.citizen(PATIENT_BOTH), {"after": after})
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "after is not a cursor" in body["errors"][0]["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_altered_cursor_is_refused(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        await fill(gw, 3)
        own = await gw.data(PAGE, gw.citizen(PATIENT_BOTH), {"first": 1})
        cursor = own["data"]["accessLogPage"]["endCursor"]
        altered = await gw.data(PAGE, gw.citizen(PATIENT_BOTH), {"after": cursor[:-3] + "!!!"})
    assert codes(altered) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "since",
    [
        pytest.param("9999-12-31T23:59:59-23:59", id="year-9999-west-of-utc"),
        pytest.param("0001-01-01T00:00:00+05:00", id="year-1-east-of-utc"),
        pytest.param("9999-12-31T20:00:00-05:00", id="year-9999-new-york"),
        pytest.param("0001-01-01T00:59:00+01:00", id="year-1-copenhagen"),
    ],
)
@pytest.mark.parametrize("field", ["accessLog", "accessLogPage"])
async def test_since_without_a_utc_time_is_bad_user_input(
    make_gateway: MakeGateway, since: str, field: str, caplog: pytest.LogCaptureFixture
) -> None:
    query = LOG if field == "accessLog" else PAGE
    async with make_gateway() as gw:
        body = await gw.data(query, gw.citizen(PATIENT_BOTH), {"since": since})
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["message"].startswith("since is out of range")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("since", "count"),
    [
        pytest.param("2026-11-01T08:05:00", 10, id="naive-is-utc"),
        pytest.param("2026-11-01T09:05:00+01:00", 10, id="offset"),
        pytest.param("9999-12-31T23:59:59+14:00", 0, id="far-future-east"),
        pytest.param("0001-01-01T00:00:00-05:00", 20, id="far-past-west"),
        pytest.param("0001-01-01T00:00:00", 20, id="year-1-naive"),
    ],
)
@pytest.mark.parametrize("field", ["accessLog", "accessLogPage"])
async def test_since_in_range_is_accepted(
    make_gateway: MakeGateway, since: str, count: int, field: str
) -> None:
    async with make_gateway() as gw:
        await fill(gw, 20)  # T0 + 0..9 minutes
        query = LOG if field == "accessLog" else PAGE
        body = await gw.data(query, gw.citizen(PATIENT_BOTH), {"since": since})
    assert "errors" not in body, body["errors"]
    data = body["data"][field]
    assert len(data if field == "accessLog" else data["entries"]) == count


async def test_readyz_fails_while_the_access_log_is_locked(
    make_gateway: MakeGateway, tmp_path: Path
) -> None:
    async with make_gateway() as gw:
        assert (await gw.client.get("/readyz")).status_code == 200
        with closing(sqlite3.connect(tmp_path / "access-log.sqlite3", isolation_level=None)) as db:
            db.execute("BEGIN EXCLUSIVE")
            locked = await gw.client.get("/readyz")
            db.execute("ROLLBACK")
        released = await gw.client.get("/readyz")
    assert locked.status_code == 503
    assert locked.json()["accessLog"] is False
    assert locked.json()["status"] == "unavailable"
    assert released.status_code == 200
    assert released.json()["accessLog"] is True
