"""The ``consent`` source (the consent registry): ``Consent``."""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import UpstreamBadResponse
from core.records import ConsentActorRecord, ConsentRecord

from .base import Connector, Fetched
from .fhir import FhirClient
from .fhirmodels import ConsentModel

__all__ = ["SOURCE", "ConsentConnector", "parse_consent"]

SOURCE = "consent"


def parse_consent(source: str, resource: dict[str, object]) -> ConsentRecord:
    model = ConsentModel.model_validate(resource)
    provision = model.provision
    actors = tuple(
        ConsentActorRecord(
            system=a.reference.identifier.system if a.reference.identifier else None,
            value=a.reference.identifier.value if a.reference.identifier else None,
            role=a.role.coding[0].code if a.role and a.role.coding else None,
        )
        for a in provision.actor
    )
    return ConsentRecord(
        source=source,
        source_id=model.id,
        patient=model.require_patient(),
        active=model.status == "active",
        kind=provision.type,
        actors=actors,
        classes=tuple(c.code for c in provision.class_ if c.code),
    )


class ConsentConnector(Connector):
    """Consents decide who sees what, so an unreadable one makes the rules unknown.

    Elsewhere an unreadable resource is skipped; a skipped Consent could be a block that
    no longer applies. The search fails instead, and the gateway fails closed
    (CONSENT_UNAVAILABLE for clinicians and proxies).
    """

    def __init__(self, fhir: FhirClient) -> None:
        super().__init__(fhir, {"Consent": parse_consent})

    async def fetch(self, resource_type: str, cprs: Sequence[str]) -> Fetched:
        fetched = await super().fetch(resource_type, cprs)
        if fetched.skipped:
            raise UpstreamBadResponse(self.source, "unreadable Consent: rules unknown")
        if fetched.foreign:
            # A Consent we cannot place (its patient written another way?) may be a block.
            raise UpstreamBadResponse(self.source, "Consent for an unasked patient")
        return fetched
