"""Disease values through the schema, one contract §1 (v2) rule per case: where an
Observation is placed, and the ``target`` and ``onTarget`` it gets there.

Each case serves its own resources (tests/fhir_v2.py) and reads the patient's own plan;
consent's part (blocked or withheld goals) is in test_v2_consent.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import MakeGateway
from tests.fhir_v2 import (
    FEV1,
    LOINC,
    PATIENT,
    Res,
    condition,
    goal,
    observation,
    two_packages,
)

QUERY = """{ plan {
  packages { kind measurements { sourceId target onTarget } }
  unassigned { measurements { sourceId target onTarget } } } }"""

Placed = dict[str, list[tuple[str, str | None, bool | None]]]


def placed(plan: dict[str, Any]) -> Placed:
    """Per package kind (and ``unassigned``), its measurements as (id, target, onTarget)."""
    parts = [(p["kind"], p["measurements"]) for p in plan["packages"]]
    parts.append(("unassigned", plan["unassigned"]["measurements"]))
    return {kind: [(m["sourceId"], m["target"], m["onTarget"]) for m in items]
            for kind, items in parts if items}  # fmt: skip


def case(
    goals: list[Res], observations: list[Res], extra: tuple[Res, ...] = ()
) -> dict[str, list[Res]]:
    return {"diagnoses": [*two_packages(), *extra], "careplan": goals,
            "observations": observations}  # fmt: skip


GE_1 = goal("g-copd", FEV1, quantity=(">=", 1.0))
RANGE_LBP = goal("g-lbp", FEV1, cond="cond-lbp", rng=(2, 3))


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        pytest.param(
            case([RANGE_LBP], [observation("o1", FEV1, 1.5, focus="cond-copd")]),
            {"COPD": [("o1", None, None)]},
            id="observation-focus-wins",
        ),
        pytest.param(
            case([GE_1], [observation("o1", FEV1, 1.2, focus="cond-copd")]),
            {"COPD": [("o1", "≥ 1 L", True)]},
            id="observation-by-focus-gets-its-packages-target",
        ),
        pytest.param(
            case([GE_1, RANGE_LBP], [observation("o1", FEV1, 1.5)]),
            {"COPD": [("o1", "≥ 1 L", True)], "LOW_BACK_PAIN": [("o1", "2–3 L", False)]},
            id="observation-placed-by-goal-measure-in-two-packages",
        ),
        pytest.param(
            case([], [observation("o1", FEV1, 1.5)]),
            {"unassigned": [("o1", None, None)]},
            id="observation-unassigned",
        ),
        pytest.param(
            case([goal("g1", ("urn:other", FEV1[1]), quantity=(">=", 1))],
                 [observation("o1", FEV1, 1.5)]),
            {"unassigned": [("o1", None, None)]},
            id="goal-measure-of-another-system-places-nothing",
        ),
        pytest.param(
            case([GE_1], [observation("o1", FEV1, 1.5, focus="cond-htn")],
                 (condition("cond-htn", "I10"),)),
            {"COPD": [("o1", "≥ 1 L", True)]},
            id="focus-on-a-condition-of-no-package-falls-to-the-goal-rule",
        ),
        pytest.param(
            case([goal("g1", FEV1, cond="cond-lbp", quantity=(">=", 1), status="completed")],
                 [observation("o1", FEV1, 1.5)]),
            {"LOW_BACK_PAIN": [("o1", None, None)]},
            id="inactive-goal-places-but-gives-no-target",
        ),
        pytest.param(
            case([goal("g-late", FEV1, quantity=(">=", 2), due="2027-12-01"),
                  goal("g-soon", FEV1, quantity=(">=", 1), due="2027-03-01")],
                 [observation("o1", FEV1, 1.5)]),
            {"COPD": [("o1", "≥ 1 L", True)]},
            id="target-from-goal-due-soonest",
        ),
        pytest.param(
            case([goal("g-none", FEV1, quantity=(">=", 2), due=None),
                  goal("g-due", FEV1, quantity=(">=", 1), due="2028-01-01")],
                 [observation("o1", FEV1, 1.5)]),
            {"COPD": [("o1", "≥ 1 L", True)]},
            id="goal-without-due-date-is-due-last",
        ),
        pytest.param(
            case([goal("g1", FEV1, rng=(1, 2))],
                 [observation("o-low", FEV1, 1.0, at="2027-01-03T09:00:00+01:00"),
                  observation("o-high", FEV1, 2.0, at="2027-01-02T09:00:00+01:00"),
                  observation("o-over", FEV1, 2.01, at="2027-01-01T09:00:00+01:00")]),
            {"COPD": [("o-low", "1–2 L", True), ("o-high", "1–2 L", True),
                      ("o-over", "1–2 L", False)]},
            id="range-bounds-inclusive",
        ),
        pytest.param(
            case([goal("g1", FEV1, rng=(None, 1.8))],
                 [observation("o-at", FEV1, 1.8, at="2027-01-02T09:00:00+01:00"),
                  observation("o-over", FEV1, 1.9, at="2027-01-01T09:00:00+01:00")]),
            {"COPD": [("o-at", "≤ 1.8 L", True), ("o-over", "≤ 1.8 L", False)]},
            id="range-with-only-a-high-bound",
        ),
        pytest.param(
            case([goal("g1", FEV1, quantity=("<", 53))],
                 [observation("o-at", FEV1, 53, at="2027-01-02T09:00:00+01:00"),
                  observation("o-under", FEV1, 52.9, at="2027-01-01T09:00:00+01:00")]),
            {"COPD": [("o-at", "< 53 L", False), ("o-under", "< 53 L", True)]},
            id="comparator-lt-not-met",
        ),
        pytest.param(
            case([goal("g1", FEV1, quantity=("<=", 3))], [observation("o1", FEV1, 3)]),
            {"COPD": [("o1", "≤ 3 L", True)]},
            id="comparator-le-met-at-the-value",
        ),
        pytest.param(
            case([goal("g1", FEV1, quantity=(">", 1))], [observation("o1", FEV1, 1)]),
            {"COPD": [("o1", "> 1 L", False)]},
            id="comparator-gt-not-met-at-the-value",
        ),
        pytest.param(
            case([goal("g1", FEV1, quantity=(None, 1))], [observation("o1", FEV1, 1)]),
            {"COPD": [("o1", "1 L", None)]},
            id="detailQuantity-without-comparator-onTarget-null",
        ),
        pytest.param(
            case([goal("g1", FEV1, text="Så god som muligt")], [observation("o1", FEV1, 1)]),
            {"COPD": [("o1", "Så god som muligt", None)]},
            id="detailString-onTarget-null",
        ),
        pytest.param(
            case([GE_1], [observation("o1", FEV1, None)]),
            {"COPD": [("o1", "≥ 1 L", None)]},
            id="observation-without-value-onTarget-null",
        ),
    ],
)  # fmt: skip
async def test_measurement_rule(
    make_v2_gateway: MakeGateway, resources: dict[str, list[Res]], expected: Placed
) -> None:
    async with make_v2_gateway(resources=resources) as gw:
        body = await gw.data(QUERY, gw.citizen(PATIENT))
    assert "errors" not in body, body["errors"]
    assert placed(body["data"]["plan"]) == expected


async def test_measurements_show_every_field_newest_first(make_v2_gateway: MakeGateway) -> None:
    home = observation("o-home", FEV1, 1.4, focus="cond-copd", at="2027-01-03T18:00:00+01:00")
    home["category"] = [{"coding": [{"system": "urn:minplan:origin", "code": "home"}]}]
    home["performer"] = [{"display": "Karen Jensen (egen måling)"}]
    lab = observation("o-lab", (LOINC, "19926-5"), 61, focus="cond-copd", unit="%")
    lab["category"] = [{"coding": [{"code": "laboratory"}]}]
    lab["code"]["text"] = "FEV1/FVC"
    query = """{ plan { packages { measurements {
      source sourceId system code display value unit at origin performer } } } }"""
    async with make_v2_gateway(resources=case([], [lab, home])) as gw:
        body = await gw.data(query, gw.citizen(PATIENT))
    copd, _back_pain = body["data"]["plan"]["packages"]
    assert copd["measurements"] == [
        {"source": "observations", "sourceId": "o-lab", "system": LOINC, "code": "19926-5",
         "display": "FEV1/FVC", "value": 61.0, "unit": "%", "at": "2027-01-04T09:00:00+01:00",
         "origin": "LAB", "performer": None},
        {"source": "observations", "sourceId": "o-home", "system": LOINC, "code": "20150-9",
         "display": None, "value": 1.4, "unit": "L", "at": "2027-01-03T18:00:00+01:00",
         "origin": "HOME", "performer": "Karen Jensen (egen måling)"},
    ]  # fmt: skip
