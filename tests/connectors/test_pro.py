"""The ``pro`` source: the health-literacy QuestionnaireResponse → HealthLiteracyRecord."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from connectors.pro import SOURCE, parse_questionnaire_response
from core.records import HealthLiteracyRecord
from tests.connectors.conftest import (
    CPR_A,
    CPR_B,
    Factory,
    Fetch,
    coding,
    icd10,
    sks,
)

CET = timezone(timedelta(hours=1))


def test_response_maps_every_field(make_response: Factory) -> None:
    resource = make_response("qr-hl", CPR_A, score={"valueDecimal": 3.5}, package=sks("DM545"))
    assert parse_questionnaire_response(SOURCE, resource) == HealthLiteracyRecord(
        source="pro",
        source_id="qr-hl",
        patient=CPR_A,
        codes=("M54.5",),
        withheld=False,
        score=3.5,
        answered_at=datetime(2027, 1, 10, 19, 30, tzinfo=CET),
    )


@pytest.mark.parametrize(
    ("answer", "score"),
    [
        pytest.param({"valueDecimal": 2.75}, 2.75, id="valueDecimal"),
        pytest.param({"valueInteger": 4}, 4.0, id="valueInteger"),
        pytest.param({"valueDecimal": 0}, 0.0, id="zero-is-a-score"),
        pytest.param({"valueDecimal": 1.5, "valueInteger": 9}, 1.5, id="decimal-before-integer"),
    ],
)
def test_score(make_response: Factory, answer: dict[str, object], score: float) -> None:
    record = parse_questionnaire_response(SOURCE, make_response(score=answer))
    assert record is not None
    assert record.score == score
    assert isinstance(record.score, float)


def test_score_is_found_by_link_id_not_position(make_response: Factory) -> None:
    items = [
        {"linkId": "q1", "answer": [{"valueInteger": 1}]},
        {"linkId": "package", "answer": [{"valueCoding": icd10("E11.9")}]},
        {"linkId": "score", "answer": [{"valueDecimal": 3.25}]},
    ]
    record = parse_questionnaire_response(SOURCE, make_response(item=items))
    assert record is not None
    assert (record.score, record.codes) == (3.25, ("E11.9",))


@pytest.mark.parametrize(
    ("package", "codes"),
    [
        pytest.param(icd10("J44.9"), ("J44.9",), id="icd10"),
        pytest.param(sks("DI251"), ("I25.1",), id="sks"),
        pytest.param(coding("http://snomed.info/sct", "13645005"), (), id="not-a-diagnosis"),
    ],
)
def test_package_code(
    make_response: Factory, package: dict[str, str], codes: tuple[str, ...]
) -> None:
    record = parse_questionnaire_response(SOURCE, make_response(package=package))
    assert record is not None
    assert record.codes == codes


def test_response_without_package_names_no_package(make_response: Factory) -> None:
    resource = make_response(item=[{"linkId": "score", "answer": [{"valueInteger": 3}]}])
    record = parse_questionnaire_response(SOURCE, resource)
    assert record is not None
    assert record.codes == ()


@pytest.mark.parametrize(
    "questionnaire",
    [
        pytest.param("http://minplan.example/Questionnaire/copd-assessment-test", id="cat"),
        pytest.param("http://minplan.example/Questionnaire/health-literacy-v0", id="similar-name"),
        pytest.param(None, id="no-questionnaire"),
    ],
)
def test_another_questionnaire_is_not_ours(
    make_response: Factory, questionnaire: str | None
) -> None:
    resource = make_response(questionnaire=questionnaire)
    if questionnaire is None:
        del resource["questionnaire"]
    assert parse_questionnaire_response(SOURCE, resource) is None


@pytest.mark.parametrize(
    "questionnaire",
    [
        pytest.param("https://pro.example/Questionnaire/health-literacy/", id="trailing-slash"),
        pytest.param("https://pro.example/Questionnaire/health-literacy|2.0", id="versioned"),
    ],
)
def test_health_literacy_questionnaire_spelled_otherwise(
    make_response: Factory, questionnaire: str
) -> None:
    record = parse_questionnaire_response(SOURCE, make_response(questionnaire=questionnaire))
    assert record is not None
    assert record.score == 3.5


@pytest.mark.parametrize(
    "items",
    [
        pytest.param([], id="no-items"),
        pytest.param([{"linkId": "score", "answer": []}], id="no-answer"),
        pytest.param([{"linkId": "score", "answer": [{"valueString": "høj"}]}], id="text-answer"),
    ],
)
def test_health_literacy_without_score_is_unreadable(
    make_response: Factory, items: list[object]
) -> None:
    with pytest.raises(ValueError, match="no score"):
        parse_questionnaire_response(SOURCE, make_response(item=items))


def test_health_literacy_without_authored_is_unreadable(make_response: Factory) -> None:
    resource = make_response()
    del resource["authored"]
    with pytest.raises(ValueError, match="authored"):
        parse_questionnaire_response(SOURCE, resource)


def test_score_that_is_not_a_number_is_unreadable(make_response: Factory) -> None:
    with pytest.raises(ValidationError):
        parse_questionnaire_response(SOURCE, make_response(score={"valueDecimal": "høj"}))


async def test_fetch_counts_unreadable_but_not_other_questionnaires(
    fetch: Fetch, make_response: Factory
) -> None:
    no_score = make_response("qr-noscore", item=[])
    other = make_response(
        "qr-cat", questionnaire="http://minplan.example/Questionnaire/copd-assessment-test"
    )
    no_id = make_response()
    del no_id["id"]
    resources = [
        make_response("qr-a", CPR_A),
        other,
        no_score,
        no_id,
        make_response("qr-b", CPR_B, score={"valueInteger": 2}),
    ]
    fetched = await fetch("pro", "QuestionnaireResponse", resources, cprs=[CPR_A, CPR_B])
    assert fetched.skipped == 2
    scores = {
        cpr: [(r.source_id, r.score) for r in rs if isinstance(r, HealthLiteracyRecord)]
        for cpr, rs in fetched.by_patient.items()
    }
    assert scores == {CPR_A: [("qr-a", 3.5)], CPR_B: [("qr-b", 2.0)]}
