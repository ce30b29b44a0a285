"""The ``journal`` source (shared journal notes): ``DocumentReference``."""

from __future__ import annotations

from core.codes import SOR_SYSTEM
from core.records import JournalNoteRecord

from .base import Connector
from .fhir import FhirClient
from .fhirbase import condition_ids
from .fhirmodels import DocumentReferenceModel

__all__ = ["SOURCE", "JournalConnector", "parse_document_reference"]

SOURCE = "journal"


def parse_document_reference(source: str, resource: dict[str, object]) -> JournalNoteRecord:
    model = DocumentReferenceModel.model_validate(resource)
    codes: dict[str, None] = {}
    refs: tuple[str, ...] = ()
    if model.context is not None:
        for concept in model.context.event:
            codes.update(dict.fromkeys(concept.diagnosis_codes()))
        refs = condition_ids(model.context.related)
    custodian = model.custodian.identifier if model.custodian else None
    return JournalNoteRecord(
        source=source,
        source_id=model.id,
        patient=model.require_patient(),
        codes=tuple(codes),
        condition_refs=refs,
        withheld=model.is_withheld(),
        custodian=custodian.value if custodian and custodian.system == SOR_SYSTEM else None,
        date=model.date,
        title=model.description,
        author=model.author[0].display if model.author else None,
        text=model.content[0].attachment.text(),
    )


class JournalConnector(Connector):
    def __init__(self, fhir: FhirClient) -> None:
        super().__init__(fhir, {"DocumentReference": parse_document_reference})
