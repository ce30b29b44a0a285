"""The FHIR ``Consent`` as the consent source is read: provisions, their actors and classes."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from .fhirbase import CodeableConcept, FhirModel, Reference, Resource

__all__ = ["MAX_PROVISION_DEPTH", "ConsentActor", "ConsentClass", "ConsentModel", "Provision"]


class ConsentActor(FhirModel):
    role: CodeableConcept | None = None
    reference: Reference


class ConsentClass(FhirModel):
    code: str | None = None


#: Levels of ``provision.provision[]`` read, the top one included; a deeper Consent is
#: unreadable (and so fails closed), rather than walked without end.
MAX_PROVISION_DEPTH = 10


class Provision(FhirModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    type: Literal["deny", "permit"] | None = None  # a nested one may leave it to its parent
    actor: tuple[ConsentActor, ...] = ()
    class_: tuple[ConsentClass, ...] = Field(default=(), alias="class")
    provision: tuple[Provision, ...] = ()


def _provision_depth(raw: object) -> int:
    """Levels of nested ``provision`` in raw JSON, counted without recursion."""
    deepest, stack = 0, [(raw, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict):
            continue
        deepest = max(deepest, depth)
        if depth > MAX_PROVISION_DEPTH:
            break
        children = node.get("provision")
        if isinstance(children, list):
            stack.extend((child, depth + 1) for child in children)
    return deepest


class ConsentModel(Resource):
    resourceType: Literal["Consent"]
    status: str
    provision: Provision

    @model_validator(mode="before")
    @classmethod
    def _bounded_depth(cls, data: object) -> object:
        if isinstance(data, dict) and _provision_depth(data.get("provision")) > MAX_PROVISION_DEPTH:
            raise ValueError(f"provisions nested deeper than {MAX_PROVISION_DEPTH} levels")
        return data

    @model_validator(mode="after")
    def _top_level_type(self) -> ConsentModel:
        if self.provision.type is None:
            raise ValueError("provision.type missing")
        return self
