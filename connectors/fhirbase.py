"""What every FHIR model shares: codes, references, and a resource's id, patient and label."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from core.codes import CONFIDENTIALITY_SYSTEM, CPR_SYSTEM, normalise_codes

__all__ = [
    "CodeableConcept",
    "Coding",
    "FhirModel",
    "Identifier",
    "Meta",
    "Reference",
    "Resource",
    "condition_ids",
]


class FhirModel(BaseModel):
    # Repeated elements are tuples defaulting to (): pydantic deep-copies a [] default for
    # every resource that leaves the element out (about a tenth of the parsing time).
    model_config = ConfigDict(extra="ignore", frozen=True)


class Coding(FhirModel):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class CodeableConcept(FhirModel):
    coding: tuple[Coding, ...] = ()
    text: str | None = None

    def diagnosis_codes(self) -> tuple[str, ...]:
        return normalise_codes((c.system, c.code) for c in self.coding)


class Identifier(FhirModel):
    system: str | None = None
    value: str | None = None


class Reference(FhirModel):
    reference: str | None = None
    identifier: Identifier | None = None
    display: str | None = None

    def condition_id(self) -> str | None:
        """The id of a ``Condition/{id}`` reference, else None."""
        ref = self.reference or ""
        return ref.split("/", 1)[1] or None if ref.startswith("Condition/") else None

    def cpr(self) -> str | None:
        ident = self.identifier
        return ident.value if ident is not None and ident.system == CPR_SYSTEM else None


class Meta(FhirModel):
    security: tuple[Coding, ...] = ()


class Resource(FhirModel):
    """What every resource we read has: an id, a patient, and maybe a confidentiality label."""

    id: str
    subject: Reference | None = None
    patient: Reference | None = None
    meta: Meta | None = None

    @field_validator("id")
    @classmethod
    def _id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("blank id")
        return value

    def patient_cpr(self) -> str | None:
        for ref in (self.subject, self.patient):
            if ref is not None and (cpr := ref.cpr()):
                return cpr
        return None

    def require_patient(self) -> str:
        cpr = self.patient_cpr()
        if not cpr:
            raise ValueError("no patient CPR identifier")
        return cpr

    def security_codings(self) -> tuple[Coding, ...]:
        return self.meta.security if self.meta is not None else ()

    def is_withheld(self) -> bool:
        return any(
            c.system == CONFIDENTIALITY_SYSTEM and c.code == "R" for c in self.security_codings()
        )


def condition_ids(refs: tuple[Reference, ...]) -> tuple[str, ...]:
    return tuple(cid for ref in refs if (cid := ref.condition_id()) is not None)
