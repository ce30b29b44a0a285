"""Factory fixtures for the connector tests: FHIR resources, search bundles, a mocked source.

Every resource factory returns a fresh, readable resource of the kind the contract
describes (patient by CPR identifier, Danish text, ICD-10 or SKS codes). Keyword
arguments change the common fields, ``**fields`` replaces or adds top-level ones, and a
test that needs a broken resource deletes or spoils a field of what it got.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

import httpx
import pytest
import respx

from connectors import CONNECTOR_CLASSES, Fetched, FhirClient
from core.codes import (
    CONFIDENTIALITY_SYSTEM,
    CPR_SYSTEM,
    ICD10_SYSTEM,
    SKS_SYSTEM,
    SOR_SYSTEM,
    TRIAGE_SYSTEM,
)

HOST = "http://sources.test"
CPR_A = "0101521234"
CPR_B = "2307481234"
CPR_OTHER = "1508791234"
ORG_GP = "123451000016008"
ORG_HOSPITAL = "265161000016000"
HEALTH_LITERACY = "http://minplan.example/Questionnaire/health-literacy"
CLINICAL_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-clinical"

Resource = dict[str, Any]
Factory = Callable[..., Resource]


def coding(system: str, code: str, display: str | None = None) -> Resource:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def icd10(code: str) -> Resource:
    return coding(ICD10_SYSTEM, code)


def sks(code: str) -> Resource:
    return coding(SKS_SYSTEM, code)


def patient_ref(cpr: str) -> Resource:
    return {"identifier": {"system": CPR_SYSTEM, "value": cpr}, "display": "Karen Jensen"}


def restricted_label() -> Resource:
    """A ``securityLabel`` / ``meta.security`` coding for "restricted" (R)."""
    return coding(CONFIDENTIALITY_SYSTEM, "R")


def fhir_response(
    body: object, *, status_code: int = 200, content_type: str = "application/fhir+json"
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": content_type} if content_type else {}
    return httpx.Response(status_code, content=content, headers=headers)


def bundle(resources: Sequence[object] = (), *, next_url: str | None = None) -> Resource:
    """A searchset Bundle of these resources (anything, to test broken entries)."""
    links = [{"relation": "self", "url": f"{HOST}/search"}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    entries = [{"resource": r, "search": {"mode": "match"}} for r in resources]
    return {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}


def _base(kind: str, rid: str, cpr: str, fields: Resource, key: str = "subject") -> Resource:
    return {"resourceType": kind, "id": rid, key: patient_ref(cpr), **fields}


@pytest.fixture
def make_condition() -> Factory:
    def make(
        rid: str = "cond-kol",
        cpr: str = CPR_A,
        *,
        codes: Sequence[Resource] = (icd10("J44.9"),),
        status: str = "active",
        **fields: Any,
    ) -> Resource:
        body: Resource = {
            "clinicalStatus": {"coding": [coding(CLINICAL_SYSTEM, status)]},
            "code": {"coding": list(codes), "text": "Kronisk obstruktiv lungesygdom (KOL)"},
            "onsetDateTime": "2026-03-02T10:15:00+01:00",
            "recorder": {"display": "Lægerne Søndergade, Aarhus"},
        }
        return _base("Condition", rid, cpr, body | fields)

    return make


@pytest.fixture
def make_appointment() -> Factory:
    def make(
        rid: str = "appt-kontrol",
        cpr: str = CPR_A,
        *,
        status: str = "booked",
        codes: Sequence[Resource] = (icd10("J44.9"),),
        refs: Sequence[str] = (),
        **fields: Any,
    ) -> Resource:
        body: Resource = {
            "status": status,
            "start": "2027-02-01T09:00:00+01:00",
            "end": "2027-02-01T09:30:00+01:00",
            "description": "Årskontrol for KOL",
            "participant": [
                {"actor": patient_ref(cpr)},
                {"actor": {"display": "Lægerne Søndergade, Aarhus"}},
            ],
            "reasonCode": [{"coding": list(codes)}] if codes else [],
            "reasonReference": [{"reference": f"Condition/{ref}"} for ref in refs],
        }
        return _base("Appointment", rid, cpr, body | fields)

    return make


@pytest.fixture
def make_note() -> Factory:
    def make(
        rid: str = "note-kontrol",
        cpr: str = CPR_A,
        *,
        text: str = "Spirometri udført. Øget dosis af inhalator.",
        codes: Sequence[Resource] = (icd10("J44.9"),),
        refs: Sequence[str] = (),
        custodian: str = ORG_GP,
        **fields: Any,
    ) -> Resource:
        data = base64.b64encode(text.encode("utf-8")).decode("ascii")
        body: Resource = {
            "date": "2027-01-20T14:20:00+01:00",
            "description": "Konsultation, KOL",
            "author": [{"display": "Lægerne Søndergade, Aarhus"}],
            "custodian": {"identifier": {"system": SOR_SYSTEM, "value": custodian}},
            "content": [{"attachment": {"contentType": "text/plain", "data": data}}],
            "context": {
                "event": [{"coding": list(codes)}] if codes else [],
                "related": [{"reference": f"Condition/{ref}"} for ref in refs],
            },
        }
        return _base("DocumentReference", rid, cpr, body | fields)

    return make


@pytest.fixture
def make_goal() -> Factory:
    def make(
        rid: str = "goal-gang",
        cpr: str = CPR_A,
        *,
        target: Resource | None = None,
        addresses: Sequence[str] = ("cond-kol",),
        **fields: Any,
    ) -> Resource:
        aim = target or {
            "detailQuantity": {"value": 400, "comparator": ">=", "unit": "m"},
            "dueDate": "2027-06-30",
        }
        body: Resource = {
            "lifecycleStatus": "active",
            "description": {"text": "Gå 400 meter uden pause"},
            "target": [aim],
            "addresses": [{"reference": f"Condition/{ref}"} for ref in addresses],
        }
        return _base("Goal", rid, cpr, body | fields)

    return make


@pytest.fixture
def make_risk() -> Factory:
    def make(
        rid: str = "risk-kol",
        cpr: str = CPR_A,
        *,
        level: str = "green",
        codes: Sequence[Resource] = (icd10("J44.9"),),
        **fields: Any,
    ) -> Resource:
        body: Resource = {
            "occurrenceDateTime": "2027-01-15T11:00:00+01:00",
            "performer": {"display": "Lægerne Søndergade, Aarhus"},
            "code": {"coding": list(codes)},
            "prediction": [{"qualitativeRisk": {"coding": [coding(TRIAGE_SYSTEM, level)]}}],
        }
        return _base("RiskAssessment", rid, cpr, body | fields)

    return make


@pytest.fixture
def make_response() -> Factory:
    """A QuestionnaireResponse: by default the health-literacy one, scored 3.5, for COPD."""

    def make(
        rid: str = "qr-hl",
        cpr: str = CPR_A,
        *,
        score: Resource | None = None,
        package: Resource | None = None,
        **fields: Any,
    ) -> Resource:
        items: list[Resource] = [{"linkId": "score", "answer": [score or {"valueDecimal": 3.5}]}]
        items.append({"linkId": "package", "answer": [{"valueCoding": package or icd10("J44.9")}]})
        body: Resource = {
            "questionnaire": HEALTH_LITERACY,
            "authored": "2027-01-10T19:30:00+01:00",
            "item": items,
        }
        return _base("QuestionnaireResponse", rid, cpr, body | fields)

    return make


@pytest.fixture
def make_offer() -> Factory:
    def make(
        rid: str = "sr-rygskole",
        cpr: str = CPR_A,
        *,
        codes: Sequence[Resource] = (icd10("M54.5"),),
        **fields: Any,
    ) -> Resource:
        body: Resource = {
            "status": "active",
            "code": {"text": "Rygskole"},
            "performer": [{"display": "Aarhus Kommune, Sundhed og Omsorg"}],
            "reasonCode": [{"coding": list(codes)}] if codes else [],
            "supportingInfo": [{"display": "https://www.aarhus.dk/rygskole"}],
        }
        return _base("ServiceRequest", rid, cpr, body | fields)

    return make


@pytest.fixture
def make_consent() -> Factory:
    def make(
        rid: str = "consent-deny",
        cpr: str = CPR_A,
        *,
        status: str = "active",
        kind: str = "deny",
        actors: Sequence[tuple[str, str, str]] = ((SOR_SYSTEM, ORG_HOSPITAL, "IRCP"),),
        classes: Sequence[str] = ("journal",),
        **fields: Any,
    ) -> Resource:
        who = [(r, {"identifier": {"system": s, "value": v}}) for s, v, r in actors]
        provision: Resource = {
            "type": kind,
            "actor": [{"role": {"coding": [{"code": r}]}, "reference": ref} for r, ref in who],
            "class": [{"code": c} for c in classes],
        }
        body = {"status": status, "provision": provision}
        return _base("Consent", rid, cpr, body | fields, key="patient")

    return make


@pytest.fixture
def router() -> respx.MockRouter:
    return respx.MockRouter(assert_all_called=False)


@pytest.fixture
async def http(router: respx.MockRouter) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as client:
        yield client


MakeClient = Callable[..., FhirClient]


@pytest.fixture
def make_client(http: httpx.AsyncClient) -> MakeClient:
    """``make_client(source="appointments", timeout=..., page_size=..., max_pages=...)``."""

    def make(source: str = "appointments", **options: Any) -> FhirClient:
        return FhirClient(http, source=source, base_url=f"{HOST}/{source}", **options)

    return make


class Fetch(Protocol):
    async def __call__(
        self,
        source: str,
        resource_type: str,
        resources: Sequence[object],
        cprs: Sequence[str] = ...,
    ) -> Fetched: ...


@pytest.fixture
def fetch(router: respx.MockRouter, make_client: MakeClient) -> Fetch:
    """Serve one page of ``resources`` at the source and fetch it through its connector."""

    async def run(
        source: str,
        resource_type: str,
        resources: Sequence[object],
        cprs: Sequence[str] = (CPR_A,),
    ) -> Fetched:
        router.get(f"{HOST}/{source}/{resource_type}").mock(
            return_value=fhir_response(bundle(resources))
        )
        connector = CONNECTOR_CLASSES[source](make_client(source))
        return await connector.fetch(resource_type, cprs)

    return run
