"""Bare strawberry: the gateway's GraphQL types serving one pre-assembled plan from memory.

The yardstick for the gateway's own overhead: the same types (``schema/types``), the same
query and answer, but no auth, no sources, no consent and no assembly per request; only
strawberry's ParserCache and ValidationCache, under uvicorn in one worker.

The plan is assembled once, the gateway's way: the synthetic resources (contract v2's
course, values and medication too) are parsed by the connectors' parsers, filtered for the
patient themself and put together by ``plans.assembly.assemble_packages``; it lists the
sources a patient's own whole plan asks (all but consent).

Run: ``python -m bench.bare --port 9200``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime

import strawberry
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

from bench.synthetic import CPR_MARK, cpr_for, resources, sources_for
from connectors.appointments import parse_appointment
from connectors.careplan import parse_care_plan, parse_goal, parse_risk_assessment
from connectors.consent import parse_consent
from connectors.diagnoses import parse_condition
from connectors.journal import parse_document_reference
from connectors.medication import parse_medication_statement
from connectors.observations import parse_observation
from connectors.prevention import parse_service_request
from connectors.pro import parse_questionnaire_response
from core.records import ConsentRecord, Record
from plans import model
from plans.assembly import assemble_packages
from plans.consent import decide_access, filter_records
from plans.viewer import Role, Viewer
from plans.views import ViewIds, view_key
from schema.types.care import Course, Measurement, Medication
from schema.types.items import (
    Appointment,
    Diagnosis,
    Goal,
    HealthLiteracy,
    JournalNote,
    PreventionOffer,
    Triage,
)
from schema.types.plan import Plan

__all__ = ["build_plan", "create_app"]

_PARSERS: dict[str, Callable[[str, dict[str, object]], Record | None]] = {
    "Condition": parse_condition,
    "Appointment": parse_appointment,
    "DocumentReference": parse_document_reference,
    "Goal": parse_goal,
    "RiskAssessment": parse_risk_assessment,
    "QuestionnaireResponse": parse_questionnaire_response,
    "ServiceRequest": parse_service_request,
    "Consent": parse_consent,
    "CarePlan": parse_care_plan,
    "Observation": parse_observation,
    "MedicationStatement": parse_medication_statement,
}


def build_plan(cpr: str, *, latency_ms: float = 20.0) -> model.Plan:
    """The plan the gateway assembles for ``cpr`` from the synthetic sources, seen by them."""
    by_source: dict[str, list[Record]] = {}
    for (source, kind), items in resources().items():
        for item in items:
            resource = json.loads(json.dumps(item).replace(CPR_MARK, cpr))
            record = _PARSERS[kind](source, resource)
            if record is not None:
                by_source.setdefault(source, []).append(record)
    consents = [r for r in by_source["consent"] if isinstance(r, ConsentRecord)]
    viewer = Viewer(Role.CITIZEN, "bench-citizen", cpr=cpr)
    access = decide_access(viewer, cpr, consents)
    visible, restricted = filter_records(access, by_source)
    ids, view = ViewIds(b"minplan-dev-pseudonym-key"), view_key(access)
    packages, unassigned = assemble_packages(
        visible, package_id=lambda kind: ids.package_id(cpr, kind, view)
    )
    return model.Plan(
        id=ids.plan_id(cpr, view),
        cpr=cpr,
        packages=packages,
        unassigned=unassigned,
        sources=[
            model.SourceStatus(n, ok=True, latency_ms=latency_ms)
            for n in sources_for("full", patient=True)
        ],
        restricted=restricted,
        generated_at=datetime.now(UTC),
        sections=(),
    )


def create_app() -> Starlette:
    """Starlette with ``/graphql`` (bare strawberry) and ``/healthz``."""
    plan = build_plan(cpr_for(0))

    @strawberry.type
    class Query:
        @strawberry.field
        async def plan(self, cpr: str | None = None, emergency_reason: str | None = None) -> Plan:
            # A shallow copy naming the asked patient, so answers validate like the gateway's.
            return dataclasses.replace(plan, cpr=cpr or plan.cpr)  # type: ignore[return-value]

    schema = strawberry.Schema(
        query=Query,
        types=[
            Diagnosis,
            Triage,
            Goal,
            Appointment,
            JournalNote,
            PreventionOffer,
            HealthLiteracy,
            Course,
            Measurement,
            Medication,
        ],
        extensions=[ParserCache, ValidationCache],
    )

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    graphql: GraphQL[None, None] = GraphQL(schema, graphql_ide=None)
    routes = [Route("/graphql", graphql, methods=["GET", "POST"]), Route("/healthz", healthz)]
    return Starlette(routes=routes)


def main() -> None:
    parser = argparse.ArgumentParser(description="Bare strawberry serving one plan from memory.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9200)
    args = parser.parse_args()
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
