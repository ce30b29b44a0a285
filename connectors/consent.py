"""The ``consent`` source (the consent registry): ``Consent``.

Read as contract §1 (v2) says: nested provisions too (a nested one without a type or
actors takes its parent's), identifiers trimmed, and a class entry without a readable
code kept as ``""``, which the consent rules count as all data (fail closed).
"""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import UpstreamBadResponse
from core.records import ConsentActorRecord, ConsentProvisionRecord, ConsentRecord

from .base import Connector, Fetched
from .fhir import FhirClient
from .fhirmodels_consent import ConsentModel, Provision

__all__ = ["SOURCE", "ConsentConnector", "parse_consent"]

SOURCE = "consent"


def parse_consent(source: str, resource: dict[str, object]) -> ConsentRecord:
    model = ConsentModel.model_validate(resource)
    top = _read_provision(model.provision, kind=model.provision.type or "", actors=())
    nested: list[ConsentProvisionRecord] = []
    # Depth first, the parent's record beside each child; the model bounds the depth.
    stack = [(child, top) for child in reversed(model.provision.provision)]
    while stack:
        node, parent = stack.pop()
        record = _read_provision(node, kind=parent.kind, actors=parent.actors)
        nested.append(record)
        stack.extend((child, record) for child in reversed(node.provision))
    return ConsentRecord(
        source=source,
        source_id=model.id,
        patient=model.require_patient(),
        active=model.status == "active",
        kind=top.kind,
        actors=top.actors,
        classes=top.classes,
        nested=tuple(nested),
    )


def _read_provision(
    node: Provision, *, kind: str, actors: tuple[ConsentActorRecord, ...]
) -> ConsentProvisionRecord:
    own = tuple(
        ConsentActorRecord(
            system=_trimmed(a.reference.identifier.system if a.reference.identifier else None),
            value=_trimmed(a.reference.identifier.value if a.reference.identifier else None),
            role=a.role.coding[0].code if a.role and a.role.coding else None,
        )
        for a in node.actor
    )
    return ConsentProvisionRecord(
        kind=node.type or kind,
        actors=own or actors,
        classes=tuple((c.code or "").strip() for c in node.class_),
    )


def _trimmed(text: str | None) -> str | None:
    return (text or "").strip() or None


class ConsentConnector(Connector):
    """Reads Consents; a search with one it cannot read or place fails as a whole.

    Elsewhere an unreadable resource is skipped; a skipped Consent could be a block that
    would no longer apply. So the search is answered as unreadable, and the consent policy
    (:mod:`plans.consent`) fails closed on it: CONSENT_UNAVAILABLE for clinicians and proxies.
    """

    def __init__(self, fhir: FhirClient) -> None:
        super().__init__(fhir, {"Consent": parse_consent})

    async def fetch(self, resource_type: str, cprs: Sequence[str]) -> Fetched:
        fetched = await super().fetch(resource_type, cprs)
        if fetched.skipped:
            raise UpstreamBadResponse(self.source, "unreadable Consent")
        if fetched.foreign:
            # A Consent we cannot place (its patient written another way?) is unreadable too.
            raise UpstreamBadResponse(self.source, "Consent for an unasked patient")
        return fetched
