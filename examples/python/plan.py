"""A typed Min Plan client in Python: gql over httpx, sending ``examples/plan.graphql``.

Run it against a gateway (``scripts/serve`` for the demo)::

    pip install -r examples/python/requirements.txt
    TOKEN=$(.venv/bin/minplan token --role citizen --cpr 0101521234) \
        python examples/python/plan.py            # GATEWAY_URL, CPR optional

What it shows, for any Python client of this gateway:

- **Typed answers.** The query is checked against ``schema/minplan.graphql`` before it is
  sent (gql validates locally), and the answer is read as the ``TypedDict`` s below, with
  ``Date`` and ``DateTime`` parsed into :mod:`datetime` values (their ``@specifiedBy`` is
  RFC 3339, which :meth:`datetime.datetime.fromisoformat` reads).
- **A plan with one source down is still a plan.** The gateway answers it with a
  ``SOURCE_UNAVAILABLE`` error beside the data (HTTP 200). gql raises
  :class:`TransportQueryError` for any error; :func:`read_plan` keeps the data it carries
  and the errors, and ``sources`` says which sections are missing.

Prints the plan, then a JSON summary as its last line (``tests/clients/test_examples.py``
reads it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.utilities import update_schema_scalars
from graphql import GraphQLScalarType, GraphQLSchema, build_schema

HERE = Path(__file__).resolve().parent
#: The gateway's SDL (``minplan schema``) and the query the TypeScript example sends too.
SCHEMA = HERE.parents[1] / "schema" / "minplan.graphql"
QUERY = HERE.parent / "plan.graphql"
TIMEOUT_S = 10.0

PackageKind = Literal["COPD", "LOW_BACK_PAIN", "TYPE2_DIABETES", "HEART_DISEASE"]


class Item(TypedDict):
    """``fragment Item on Sourced``: where an item came from."""

    source: str
    sourceId: str


class Triage(Item):
    level: Literal["RED", "YELLOW", "GREEN"]
    assessedAt: dt.datetime


class Appointment(Item):
    status: str
    start: dt.datetime | None
    actor: str | None


class Goal(Item):
    description: str
    target: str | None
    due: dt.date | None


class CarePackage(TypedDict):
    id: str
    kind: PackageKind
    triage: Triage | None
    appointments: list[Appointment]
    goals: list[Goal]


class SourceStatus(TypedDict):
    name: str
    ok: bool
    stale: bool
    cached: bool
    error: str | None


class Plan(TypedDict):
    id: str
    cpr: str
    restricted: bool
    generatedAt: dt.datetime
    packages: list[CarePackage]
    sources: list[SourceStatus]


@dataclass(frozen=True)
class PlanAnswer:
    """A plan and the errors that came beside it (each a GraphQL error as JSON)."""

    plan: Plan
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        """Sources that did not answer (and had no stale copy): their sections are empty."""
        return [s["name"] for s in self.plan["sources"] if not s["ok"] and not s["stale"]]

    @property
    def codes(self) -> list[str]:
        return [str(e.get("extensions", {}).get("code", "?")) for e in self.errors]


#: ``@specifiedBy`` RFC 3339: ISO 8601 strings on the wire, ``datetime`` values here.
DATE = GraphQLScalarType(
    name="Date", serialize=dt.date.isoformat, parse_value=dt.date.fromisoformat
)
DATETIME = GraphQLScalarType(
    name="DateTime", serialize=dt.datetime.isoformat, parse_value=dt.datetime.fromisoformat
)


def load_schema() -> GraphQLSchema:
    """The gateway's schema with the date scalars parsed, for local validation and parsing."""
    schema = build_schema(SCHEMA.read_text(encoding="utf-8"))
    update_schema_scalars(schema, [DATE, DATETIME])
    return schema


async def read_plan(url: str, token: str, cpr: str | None = None) -> PlanAnswer:
    """The plan (a patient's, or with ``cpr=None`` the citizen's own) and its errors.

    Raises :class:`TransportQueryError` only when there is no plan to show (``FORBIDDEN``,
    ``CONSENT_UNAVAILABLE``, ...).
    """
    transport = HTTPXAsyncTransport(
        url=f"{url.rstrip('/')}/graphql",
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT_S,
    )
    client = Client(schema=load_schema(), transport=transport, parse_results=True)
    request = GraphQLRequest(QUERY.read_text(encoding="utf-8"), variable_values={"cpr": cpr})
    errors: list[dict[str, Any]] = []
    async with client as session:
        try:
            data = await session.execute(request)
        except TransportQueryError as exc:
            # gql raises whenever `errors` is set: a usable plan with one source down comes
            # with a SOURCE_UNAVAILABLE error. Keep the plan; raise only when there is none.
            if not exc.data or exc.data.get("plan") is None:
                raise
            data, errors = exc.data, list(exc.errors or [])
    return PlanAnswer(plan=cast(Plan, data["plan"]), errors=errors)


def describe(package: CarePackage) -> str:
    """One line per package: what a plan page would show first."""
    triage = f"triage {package['triage']['level']}" if package["triage"] else "no triage"
    booked = [a for a in package["appointments"] if a["status"] == "BOOKED" and a["start"]]
    upcoming = min(booked, key=lambda a: cast(dt.datetime, a["start"]), default=None)
    when = ""
    if upcoming is not None and upcoming["start"] is not None:
        when = f", next {upcoming['start'].date().isoformat()} ({upcoming['actor'] or '?'})"
    return (
        f"{package['kind']}: {triage}, {len(package['appointments'])} appointments{when}, "
        f"{len(package['goals'])} goals"
    )


def main() -> int:
    token = os.environ.get("TOKEN")
    if not token:
        print("plan.py: set TOKEN (minplan token --help) and GATEWAY_URL", file=sys.stderr)
        return 1
    url = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000")
    answer = asyncio.run(read_plan(url, token, os.environ.get("CPR") or None))
    plan = answer.plan
    print(f"Plan {plan['cpr']} (generated {plan['generatedAt'].isoformat()})")
    for package in plan["packages"]:
        print(f"  {describe(package)}")
    statuses = [
        s["name"] + (" ok" if s["ok"] else f" DOWN ({s['error']})") for s in plan["sources"]
    ]
    print(f"Sources: {', '.join(statuses)}")
    if answer.missing:
        print(f"Not shown, try again later: {', '.join(answer.missing)}")
    if answer.errors:
        print(f"Errors beside the data: {', '.join(answer.codes)}")
    summary = {
        "cpr": plan["cpr"],
        "packages": [p["kind"] for p in plan["packages"]],
        "triage": {p["kind"]: p["triage"]["level"] for p in plan["packages"] if p["triage"]},
        "appointments": [a["sourceId"] for p in plan["packages"] for a in p["appointments"]],
        "sources": {s["name"]: s["ok"] for s in plan["sources"]},
        "down": answer.missing,
        "errors": answer.codes,
        # The parsed scalars' Python types, as the TypedDicts promise them.
        "types": sorted(
            {type(plan["generatedAt"]).__name__}
            | {type(g["due"]).__name__ for p in plan["packages"] for g in p["goals"] if g["due"]}
        ),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
