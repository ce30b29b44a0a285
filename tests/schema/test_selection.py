"""Asking only what the query needs (contract §6): the upstream searches per query shape.

Each case counts the searches a plan read makes (first pages only: a source's later pages
are the same search) for a query shape and a viewer. The patient's own read never asks
consent; anyone else's always does.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import graphql
import pytest

from core.sources import SOURCE_NAMES
from demo.people import (
    ORG_GP,
    ORG_HOSPITAL,
    PATIENT_BLOCKS,
    PATIENT_BOTH,
    PATIENT_COPD,
    PROXY_OF_BOTH,
)
from schema.selection import (
    COURSE_SEARCH,
    FIELD_SOURCES,
    SECTION_FIELDS,
    PlanNeeds,
    plan_needs,
)
from tests.conftest import FULL_PLAN, Gateway, MakeGateway

DX = ("diagnoses", "Condition")
APPTS = ("appointments", "Appointment")
NOTES = ("journal", "DocumentReference")
GOALS = ("careplan", "Goal")
RISK = ("careplan", "RiskAssessment")
PRO = ("pro", "QuestionnaireResponse")
OFFERS = ("prevention", "ServiceRequest")
CONSENT = ("consent", "Consent")
CARE_PLANS = ("careplan", "CarePlan")
VALUES = ("observations", "Observation")
MEDICINES = ("medication", "MedicationStatement")
#: Every search but consent's, which is asked unless the patient reads: 10, and 11 with it.
ALL = [DX, APPTS, NOTES, GOALS, RISK, CARE_PLANS, PRO, OFFERS, VALUES, MEDICINES]

SHAPES = [
    pytest.param(FULL_PLAN, ALL, id="full-plan"),
    pytest.param("{ packages { kind appointments { status } } }", [DX, APPTS], id="appointments"),
    pytest.param("{ packages { kind } }", [DX], id="one-package-header"),
    pytest.param("{ packages { id } }", [DX], id="package-ids"),
    pytest.param("{ unassigned { journalNotes { title } } }", [DX, NOTES], id="unassigned-notes"),
    pytest.param("{ packages { triage { level } } }", [DX, GOALS, RISK], id="triage"),
    pytest.param("{ packages { healthLiteracy { score } } }", [DX, PRO], id="health-literacy"),
    pytest.param("{ unassigned { preventionOffers { title } } }", [DX, OFFERS], id="offers"),
    pytest.param("{ packages { course { status } } }", [DX, CARE_PLANS], id="course"),
    pytest.param(
        "{ packages { measurements { value onTarget } } }",
        [DX, VALUES, GOALS, RISK],
        id="measurements-and-their-goals",
    ),
    pytest.param("{ unassigned { medications { name } } }", [DX, MEDICINES], id="medications"),
    pytest.param(
        "{ ...P } fragment P on Plan { packages { ...K } } "
        "fragment K on CarePackage { goals { description } }",
        [DX, GOALS, RISK],
        id="fragments",
    ),
    pytest.param(
        "{ ... on Plan { unassigned { ... on PlanSection { appointments { status } } } } }",
        [DX, APPTS],
        id="inline-fragments",
    ),
    pytest.param(
        "{ packages { kind } ...S } "
        "fragment S on Plan { packages { ... { journalNotes { date } } } }",
        [DX, NOTES],
        id="fragment-and-field-merged",
    ),
    pytest.param("{ sources { name ok } }", [], id="sources-only"),
    pytest.param("{ restricted }", [], id="restricted-only"),
    pytest.param("{ cpr id generatedAt __typename }", [], id="no-section"),
]


def plan_query(selection: str) -> str:
    """``selection`` (a plan's, then its fragments) as a query for the plan of ``$cpr``."""
    if selection.lstrip().startswith("query"):
        return selection
    body, _, fragments = selection.partition(" fragment ")
    query = f"query($cpr: String) {{ plan(cpr: $cpr) {body} }}"
    return f"{query} fragment {fragments}" if fragments else query


def first_pages(gw: Gateway) -> list[tuple[str, str]]:
    """Every search made, sorted: (source, resource type) of each first page."""
    pages = [r for r in gw.upstream.requests if "_offset" not in r.url.params]
    return sorted(
        (source, rtype) for source, rtype, *_ in (p.url.path[1:].split("/") for p in pages)
    )


@pytest.mark.parametrize(("selection", "searches"), SHAPES)
@pytest.mark.parametrize("viewer", ["clinician", "patient", "proxy"])
async def test_a_plan_read_asks_only_what_its_query_selects(
    make_gateway: MakeGateway, selection: str, searches: list[tuple[str, str]], viewer: str
) -> None:
    async with make_gateway() as gw:
        token = {
            "clinician": gw.clinician(ORG_GP),
            "patient": gw.citizen(PATIENT_BOTH),
            "proxy": gw.citizen(PROXY_OF_BOTH),
        }[viewer]
        body = await gw.data(plan_query(selection), token, {"cpr": PATIENT_BOTH})
        asked = first_pages(gw)
    assert "errors" not in body, body["errors"]
    expected = searches if viewer == "patient" else [*searches, CONSENT]
    assert asked == sorted(expected)
    if viewer == "proxy":  # the power of attorney is checked before anything else is asked
        assert gw.upstream.searches()[0] == CONSENT
    sources = body["data"]["plan"].get("sources")
    if sources is not None:
        names = {name for name, _ in expected}
        assert [s["name"] for s in sources] == [n for n in SOURCE_NAMES if n in names]


async def test_aliased_plans_with_different_selections_ask_each_search_once(
    make_gateway: MakeGateway,
) -> None:
    query = """query($cpr: String) {
      a: plan(cpr: $cpr) { packages { appointments { status } } sources { name } }
      b: plan(cpr: $cpr) { unassigned { journalNotes { title } } sources { name } }
      plan(cpr: $cpr) { packages { kind } }
      plan(cpr: $cpr) { packages { goals { description } } }
    }"""
    async with make_gateway() as gw:
        body = await gw.data(query, gw.clinician(ORG_GP), {"cpr": PATIENT_BOTH})
        asked = first_pages(gw)
    assert "errors" not in body, body["errors"]
    # The union of what every plan needs, each search once; the last two merge into one.
    assert asked == sorted([DX, APPTS, NOTES, GOALS, RISK, CONSENT])
    assert [s["name"] for s in body["data"]["a"]["sources"]] == [
        "diagnoses", "appointments", "consent"
    ]  # fmt: skip
    assert [s["name"] for s in body["data"]["b"]["sources"]] == ["diagnoses", "journal", "consent"]
    assert body["data"]["plan"]["packages"][0]["goals"]


@pytest.mark.parametrize(
    ("org", "patient", "selection", "searched", "restricted"),
    [
        # Lis blocks the hospital from her journal notes: true whatever is selected.
        pytest.param(ORG_HOSPITAL, PATIENT_BLOCKS, "restricted", {"consent"}, True, id="blocked"),
        pytest.param(
            ORG_HOSPITAL, PATIENT_BLOCKS, "restricted packages { appointments { status } }",
            {"consent", "diagnoses", "appointments"}, True, id="blocked-section-not-selected",
        ),
        # Karen's hospital note is withheld from the GP: it counts only when notes are asked.
        pytest.param(ORG_GP, PATIENT_COPD, "restricted", {"consent"}, False, id="nothing-asked"),
        pytest.param(
            ORG_GP, PATIENT_COPD, "restricted packages { journalNotes { title } }",
            {"consent", "diagnoses", "journal"}, True, id="withheld-note-asked",
        ),
    ],
)  # fmt: skip
async def test_restricted_counts_every_block_and_what_was_withheld_of_what_was_asked(
    make_gateway: MakeGateway,
    org: str,
    patient: str,
    selection: str,
    searched: set[str],
    restricted: bool,
) -> None:
    query = f"query($cpr: String) {{ plan(cpr: $cpr) {{ {selection} }} }}"
    async with make_gateway() as gw:
        body = await gw.data(query, gw.clinician(org), {"cpr": patient})
        asked = {source for source, _ in gw.upstream.searches()}
    assert asked == searched
    assert body["data"]["plan"]["restricted"] is restricted


async def test_the_patients_restricted_alone_asks_nothing(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        body = await gw.data("{ plan { restricted sources { name } } }", gw.citizen(PATIENT_COPD))
        assert gw.upstream.requests == []
    assert body["data"]["plan"] == {"restricted": False, "sources": []}


def test_every_field_of_a_plan_and_its_sections_has_a_line_in_the_table() -> None:
    sdl = Path(__file__).parents[2] / "schema" / "minplan.graphql"
    served = graphql.build_schema(sdl.read_text(encoding="utf-8"))
    for type_name in ("Plan", "CarePackage", "PlanSection"):
        object_type = served.get_type(type_name)
        assert isinstance(object_type, graphql.GraphQLObjectType)
        missing = set(object_type.fields) - set(FIELD_SOURCES)
        assert not missing, f"{type_name} fields without sources in schema/selection.py"
    plan = served.get_type("Plan")
    assert isinstance(plan, graphql.GraphQLObjectType)
    for name in SECTION_FIELDS:
        assert graphql.get_named_type(plan.fields[name].type).name in {"CarePackage", "PlanSection"}


@pytest.mark.parametrize(
    ("field", "needs"),
    [
        pytest.param("course", PlanNeeds(frozenset({"diagnoses"}), (COURSE_SEARCH,)), id="course"),
        pytest.param(
            "measurements",
            PlanNeeds(frozenset({"diagnoses", "observations", "careplan"}), ()),
            id="measurements",
        ),
        pytest.param(
            "medications", PlanNeeds(frozenset({"diagnoses", "medication"}), ()), id="medications"
        ),
        pytest.param(
            "alerts",
            PlanNeeds(
                frozenset({"diagnoses", "appointments", "careplan", "observations"}),
                (COURSE_SEARCH,),
                alerts=True,
            ),
            id="alerts-need-every-section-their-rules-read-and-the-course",
        ),
    ],
)
def test_the_v2_fields_need_what_contract_section_6_says(field: str, needs: PlanNeeds) -> None:
    assert plan_needs(*parse(f"{{ plan {{ packages {{ {field} {{ x }} }} }} }}")) == needs


def parse(query: str) -> tuple[list[graphql.FieldNode], dict[str, graphql.FragmentDefinitionNode]]:
    """The ``plan`` field's nodes and the fragments of ``query``, as resolve info has them."""
    document = graphql.parse(query)
    fragments = {
        d.name.value: d
        for d in document.definitions
        if isinstance(d, graphql.FragmentDefinitionNode)
    }
    operation = next(
        d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)
    )
    nodes = [
        s
        for s in operation.selection_set.selections
        if isinstance(s, graphql.FieldNode) and s.name.value == "plan"
    ]
    return nodes, fragments


def test_a_field_the_table_misses_asks_every_source() -> None:
    needs = plan_needs(*parse("{ plan { packages { somethingNew { x } } } }"))
    assert {"diagnoses", "journal", "observations", "medication"} <= needs.sources
    assert COURSE_SEARCH in needs.searches


def test_each_fragment_is_read_once_however_often_it_is_spread() -> None:
    # F0 spreads F1 twice, F1 spreads F2 twice, …: 2^200 spreads, read as 200 fragments.
    depth = 200
    chain = "".join(f"fragment F{i} on Plan {{ ...F{i + 1} ...F{i + 1} }} " for i in range(depth))
    query = f"{{ plan {{ ...F0 }} }} {chain} fragment F{depth} on Plan {{ unassigned {{ goals }} }}"
    started = time.perf_counter()
    assert plan_needs(*parse(query)) == PlanNeeds(frozenset({"diagnoses", "careplan"}), ())
    assert time.perf_counter() - started < 1.0


def test_what_a_selection_needs_is_remembered_per_parsed_document() -> None:
    text = "{{ plan {{ ...F }} }} fragment F on Plan {{ {} }}"
    nodes, fragments = parse(text.format("packages { kind }"))
    first = plan_needs(nodes, fragments)
    assert plan_needs(nodes, dict(fragments)) is first  # the same nodes: remembered
    assert first == PlanNeeds(frozenset({"diagnoses"}), ())
    # The same field text in another document, whose fragment selects something else.
    other_nodes, other_fragments = parse(text.format("unassigned { journalNotes { title } }"))
    assert plan_needs(other_nodes, other_fragments).sources == {"diagnoses", "journal"}
    assert plan_needs(nodes, fragments) is first


@pytest.mark.parametrize(
    ("selection", "worked_out"),
    [
        pytest.param("{ packages { kind alerts { kind } } }", True, id="alerts-selected"),
        pytest.param(
            "{ ...P } fragment P on Plan { packages { alerts { kind } } }",
            True,
            id="alerts-in-a-fragment",
        ),
        pytest.param("{ packages { kind appointments { status } } }", False, id="no-alerts"),
    ],
)
async def test_alerts_are_worked_out_only_when_selected(
    make_gateway: MakeGateway, monkeypatch: pytest.MonkeyPatch, selection: str, worked_out: bool
) -> None:
    import plans.reader

    calls: list[int] = []
    real = plans.reader.raise_alerts

    def counting(packages: Any, **kwargs: Any) -> None:
        calls.append(len(packages))
        real(packages, **kwargs)

    monkeypatch.setattr(plans.reader, "raise_alerts", counting)
    async with make_gateway() as gw:
        body = await gw.data(plan_query(selection), gw.clinician(ORG_GP), {"cpr": PATIENT_BOTH})
    assert "errors" not in body, body["errors"]
    assert bool(calls) is worked_out
    packages = body["data"]["plan"]["packages"]
    assert packages
    if worked_out:  # the demo's patient has alerts to show
        assert any(p["alerts"] for p in packages)
