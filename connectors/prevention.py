"""The ``prevention`` source (prevention and municipal health offers): ``ServiceRequest``."""

from __future__ import annotations

from core.records import PreventionOfferRecord

from .base import Connector
from .fhir import FhirClient
from .fhirmodels import ServiceRequestModel

__all__ = ["OFFER_URL_EXTENSION", "SOURCE", "PreventionConnector", "parse_service_request"]

SOURCE = "prevention"
OFFER_URL_EXTENSION = "urn:minplan:offer-url"


def parse_service_request(source: str, resource: dict[str, object]) -> PreventionOfferRecord:
    model = ServiceRequestModel.model_validate(resource)
    title = model.code.text or next((c.display for c in model.code.coding if c.display), None)
    if not title:
        raise ValueError("ServiceRequest.code has no text")
    url = model.supportingInfo[0].display if model.supportingInfo else None
    if url is None:
        url = next(
            (e.valueUrl for e in model.extension if e.url == OFFER_URL_EXTENSION and e.valueUrl),
            None,
        )
    codes: dict[str, None] = {}
    for concept in model.reasonCode:
        codes.update(dict.fromkeys(concept.diagnosis_codes()))
    return PreventionOfferRecord(
        source=source,
        source_id=model.id,
        patient=model.require_patient(),
        codes=tuple(codes),
        withheld=model.is_withheld(),
        title=title,
        provider=model.performer[0].display if model.performer else None,
        status=model.status,
        url=url,
    )


class PreventionConnector(Connector):
    def __init__(self, fhir: FhirClient) -> None:
        super().__init__(fhir, {"ServiceRequest": parse_service_request})
