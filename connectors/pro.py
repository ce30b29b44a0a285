"""The ``pro`` source (patient questionnaires): the health-literacy ``QuestionnaireResponse``."""

from __future__ import annotations

from core.codes import normalise_code
from core.records import HealthLiteracyRecord

from .base import Connector
from .fhir import FhirClient
from .fhirmodels import QuestionnaireResponseModel

__all__ = ["SOURCE", "ProConnector", "parse_questionnaire_response"]

SOURCE = "pro"
HEALTH_LITERACY_SUFFIX = "/health-literacy"


def parse_questionnaire_response(
    source: str, resource: dict[str, object]
) -> HealthLiteracyRecord | None:
    model = QuestionnaireResponseModel.model_validate(resource)
    # A canonical reference may name a version: ".../health-literacy|2.0".
    canonical = (model.questionnaire or "").split("|", 1)[0].rstrip("/")
    if not canonical.endswith(HEALTH_LITERACY_SUFFIX):
        return None  # another questionnaire: not part of the plan
    score = model.answer("score")
    value = None
    if score is not None:
        value = score.valueDecimal if score.valueDecimal is not None else score.valueInteger
    if value is None:
        raise ValueError("health-literacy response has no score")
    if model.authored is None:
        raise ValueError("health-literacy response has no authored time")
    package = model.answer("package")
    coding = package.valueCoding if package is not None else None
    code = normalise_code(coding.system, coding.code) if coding is not None else None
    return HealthLiteracyRecord(
        source=source,
        source_id=model.id,
        patient=model.require_patient(),
        codes=(code,) if code else (),
        withheld=model.is_withheld(),
        score=float(value),
        answered_at=model.authored,
    )


class ProConnector(Connector):
    def __init__(self, fhir: FhirClient) -> None:
        super().__init__(fhir, {"QuestionnaireResponse": parse_questionnaire_response})
