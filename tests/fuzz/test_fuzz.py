"""Fuzzing the served schema: generated queries, as a citizen, a proxy and a clinician.

hypothesis-graphql writes queries from the SDL the gateway serves: any field, any
argument, nested as deep as the type allows. Strings are drawn from the demo's CPR numbers
(in each spelling a client may send) as often as from arbitrary text, so the queries ask
for other people's data. Every answer, run in-process against the demo's data, must be:

- never a 5xx;
- errors only with an ``extensions.code`` a client can act on (``INTERNAL_SERVER_ERROR`` is
  a masked bug, so it counts as a finding too), and no Python exception text;
- for a citizen, no CPR of any demo person but their own (a proxy: also their
  principal's), in any spelling, anywhere in the JSON.

Bounded so that ``scripts/check`` stays fast: a fixed number of examples per viewer and a
deadline per example; in CI (``CI`` set) the examples are the same every run.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import graphql
import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import queries

from demo.clinic import LISTED, UNLISTED
from demo.people import (
    ORG_GP,
    ORGS,
    PATIENT_BLOCKS,
    PATIENT_BOTH,
    PATIENT_COPD,
    PATIENTS,
    PROXY_OF_BOTH,
)
from demo.sources import create_sources_app
from gateway.app import create_app
from gateway.devtokens import DevIssuer
from schema import export_sdl
from tests.conftest import gateway_settings

#: Every code an error may carry here (no rate limit or trusted documents configured).
KNOWN_CODES = frozenset(
    {
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "BAD_USER_INPUT",
        "CONSENT_UNAVAILABLE",
        "SOURCE_UNAVAILABLE",
        "ACCESS_LOG_UNAVAILABLE",
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_REQUEST",
    }
)
#: What a Python exception leaks into a message: a traceback, an exception class, a repr.
PYTHON_TEXT = re.compile(
    r"Traceback|File \"|\b[A-Z][A-Za-z]*(?:Error|Exception)\b|NoneType|object has no attribute"
    r"|<[a-z_.]+ object at 0x"
)
#: Ten digits, optionally split after the sixth by a hyphen or a space: a CPR as written.
CPR_TEXT = re.compile(r"(?<!\d)(\d{6})[- ]?(\d{4})(?!\d)")
#: Every CPR number the demo's data holds: its named people and the clinic's list.
DEMO_CPRS = frozenset(PATIENTS) | frozenset(LISTED) | frozenset(UNLISTED)
#: More for a deeper run: FUZZ_EXAMPLES=2000 .venv/bin/pytest tests/fuzz
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
DEADLINE = timedelta(seconds=5)


def spellings(cpr: str) -> list[str]:
    return [cpr, f"{cpr[:6]}-{cpr[6:]}", f"{cpr[:6]} {cpr[6:]}"]


def cprs_in(text: str) -> set[str]:
    """The demo CPR numbers written anywhere in ``text``, in any of their spellings."""
    return {a + b for a, b in CPR_TEXT.findall(text)} & DEMO_CPRS


def _nodes(values: st.SearchStrategy[str]) -> st.SearchStrategy[graphql.ValueNode]:
    return values.map(lambda value: graphql.StringValueNode(value=value))


#: CPR numbers the queries ask for besides the viewer's own: people with and without a
#: power of attorney or blocks, and patients of the clinic's list.
ASKED_CPRS = sorted({PATIENT_COPD, PATIENT_BOTH, PROXY_OF_BOTH, PATIENT_BLOCKS,
                     *sorted(LISTED)[:3]})  # fmt: skip
DATETIMES = _nodes(
    st.one_of(
        st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)).map(
            datetime.isoformat
        ),
        st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
        st.text(max_size=20),
    )
)
DATES = _nodes(st.one_of(st.dates().map(lambda day: day.isoformat()), st.text(max_size=12)))
SDL = export_sdl()
#: Query's fields: asked one at a time, mostly, since a non-null root field that fails nulls
#: the whole answer (queries of many fields would mostly end in their first error).
ROOT_FIELDS = sorted(graphql.build_schema(SDL).query_type.fields)  # type: ignore[union-attr]


def queries_asking_for(favoured: list[str]) -> st.SearchStrategy[str]:
    """Generated queries whose strings are CPR numbers, ``favoured`` ones most, or any text.

    Every String argument draws from the same strategy (cursors, reasons and CPR numbers
    alike): the viewer's own number or their principal's reaches answers with data; another
    number, a refusal; text, the input checks.
    """
    strings = _nodes(
        st.one_of(
            st.sampled_from([s for cpr in favoured for s in spellings(cpr)]),
            st.sampled_from([s for cpr in ASKED_CPRS for s in spellings(cpr)]),
            st.text(max_size=30),
        )
    )
    scalars = {"String": strings, "DateTime": DATETIMES, "Date": DATES}
    generated = st.one_of(
        *(queries(SDL, fields=(name,), custom_scalars=scalars) for name in ROOT_FIELDS),
        queries(SDL, custom_scalars=scalars),
    )
    # Half the time without a break-the-glass reason: a citizen who gives one is refused
    # before anything is read, so only then do their plan reads reach the data.
    return st.tuples(generated, st.booleans()).map(
        lambda drawn: without_emergency_reason(drawn[0]) if drawn[1] else drawn[0]
    )


def without_emergency_reason(query: str) -> str:
    """The query with every ``emergencyReason`` argument left out."""

    class Drop(graphql.Visitor):
        def enter_argument(self, node: graphql.ArgumentNode, *_args: object) -> object:
            return graphql.REMOVE if node.name.value == "emergencyReason" else None

    return graphql.print_ast(graphql.visit(graphql.parse(query), Drop()))


@dataclass(frozen=True)
class Viewer:
    """A token, and the CPR numbers its answers may name."""

    token: str
    may_see: frozenset[str] | None  # None: a clinician, whose answers are not scanned


#: The viewers, and the CPR numbers their queries ask for most.
FAVOURED = {
    "citizen": [PATIENT_COPD],
    "proxy": [PATIENT_BOTH, PROXY_OF_BOTH],
    "clinician": [PATIENT_COPD, PATIENT_BOTH, PATIENT_BLOCKS],
}


@dataclass(frozen=True)
class Demo:
    """The app, running on an event loop of its own thread; examples ask it from the test's."""

    portal: BlockingPortal
    client: httpx.AsyncClient
    viewers: dict[str, Viewer]

    def ask(self, query: str, viewer: str) -> httpx.Response:
        token = self.viewers[viewer].token
        headers = {"Authorization": f"Bearer {token}"}
        return self.portal.call(
            lambda: self.client.post("/graphql", json={"query": query}, headers=headers)
        )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The gateway over the demo's sources, in this process, for every example of a module."""
    home: Path = tmp_path_factory.mktemp("fuzz")
    issuer = DevIssuer(home / "dev-signing-key.pem")
    jwks = home / "jwks.json"
    jwks.write_text(json.dumps(issuer.jwks()))
    app = create_app(
        gateway_settings(jwks, home),
        transport=httpx.ASGITransport(app=create_sources_app()),
    )
    viewers = {
        "citizen": Viewer(
            issuer.issue(role="citizen", cpr=PATIENT_COPD, name=PATIENTS[PATIENT_COPD]),
            frozenset({PATIENT_COPD}),
        ),
        "proxy": Viewer(
            issuer.issue(role="citizen", cpr=PROXY_OF_BOTH, name=PATIENTS[PROXY_OF_BOTH]),
            frozenset({PROXY_OF_BOTH, PATIENT_BOTH}),
        ),
        "clinician": Viewer(
            issuer.issue(role="clinician", org=ORG_GP, org_name=ORGS[ORG_GP], name="Dr. Fuzz"),
            None,
        ),
    }
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    )
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
        portal.wrap_async_context_manager(client),
    ):
        yield Demo(portal, client, viewers)


def problems(response: httpx.Response, viewer: Viewer) -> list[str]:
    """What is wrong with one answer, by the rules in this module's docstring."""
    found = []
    if response.status_code >= 500:
        found.append(f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        return [*found, f"not JSON: {response.text[:200]!r}"]
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code not in KNOWN_CODES:
            found.append(f"error code {code!r}: {error.get('message')!r}")
        if PYTHON_TEXT.search(str(error.get("message", ""))):
            found.append(f"Python in an error: {error.get('message')!r}")
    if viewer.may_see is not None:
        leaked = cprs_in(response.text) - viewer.may_see
        if leaked:
            found.append(f"another's CPR in a citizen's answer: {sorted(leaked)}")
    return found


QUERIES = {viewer: queries_asking_for(cprs) for viewer, cprs in FAVOURED.items()}
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=DEADLINE,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("viewer", [pytest.param("citizen", id="citizen"),
                                    pytest.param("proxy", id="proxy-mette-for-birgit"),
                                    pytest.param("clinician", id="clinician")])  # fmt: skip
@FUZZ
@given(data=st.data())
def test_generated_queries_get_no_5xx_no_unmasked_error_and_no_others_cpr(
    demo: Demo, viewer: str, data: st.DataObject
) -> None:
    query = data.draw(QUERIES[viewer], label="query")
    response = demo.ask(query, viewer)
    assert problems(response, demo.viewers[viewer]) == [], query
    body = response.json()
    # What the examples reached (--hypothesis-show-statistics): answers, not only errors.
    for error in body.get("errors") or []:
        event(f"error {error['extensions']['code']}")
    for name, value in (body.get("data") or {}).items():
        if value is not None:
            event(f"answered {name}")


# --- the oracle itself: it must see what it is there to see ----------------------------------


def _answer(body: object, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


KAREN = Viewer(token="", may_see=frozenset({PATIENT_COPD}))


@pytest.mark.parametrize(
    ("response", "words"),
    [
        pytest.param(_answer({"data": None}, 500), "HTTP 500", id="a-5xx"),
        pytest.param(_answer({"errors": [{"message": "x"}]}), "error code None", id="no-code"),
        pytest.param(
            _answer({"errors": [{"message": "Internal error.",
                                 "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}),
            "INTERNAL_SERVER_ERROR", id="a-masked-bug",
        ),
        pytest.param(
            _answer({"errors": [{"message": "'NoneType' object has no attribute 'cpr'",
                                 "extensions": {"code": "FORBIDDEN"}}]}),
            "Python in an error", id="python-text",
        ),
        pytest.param(
            _answer({"errors": [{"message": "KeyError: 'org'",
                                 "extensions": {"code": "BAD_USER_INPUT"}}]}),
            "Python in an error", id="exception-name",
        ),
        pytest.param(_answer({"data": {"plan": {"cpr": PATIENT_BOTH}}}), PATIENT_BOTH,
                     id="another-cpr"),
        pytest.param(_answer({"data": {"x": f"{PATIENT_BOTH[:6]}-{PATIENT_BOTH[6:]}"}}),
                     PATIENT_BOTH, id="another-cpr-hyphenated"),
        pytest.param(_answer({"errors": [{"message": f"no access to {PATIENT_BOTH[:6]} "
                                                     f"{PATIENT_BOTH[6:]}",
                                          "extensions": {"code": "FORBIDDEN"}}]}),
                     PATIENT_BOTH, id="another-cpr-spaced-in-an-error"),
        pytest.param(_answer({"data": {"x": sorted(LISTED)[-1]}}), sorted(LISTED)[-1],
                     id="a-clinic-patients-cpr"),
    ],
)  # fmt: skip
def test_the_oracle_finds(response: httpx.Response, words: str) -> None:
    found = problems(response, KAREN)
    assert len(found) == 1
    assert words in found[0]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"data": {"plan": {"cpr": PATIENT_COPD}}}, id="own-cpr"),
        pytest.param({"data": {"plan": {"cpr": f"{PATIENT_COPD[:6]}-{PATIENT_COPD[6:]}"}}},
                     id="own-cpr-hyphenated"),
        pytest.param({"data": {"n": f"1{PATIENT_BOTH}", "t": "2026-01-01T10:00:00Z"}},
                     id="digits-within-a-longer-number"),
        pytest.param({"errors": [{"message": "Syntax Error: Unexpected Name 'x'.",
                                  "extensions": {"code": "GRAPHQL_PARSE_FAILED"}}]},
                     id="graphqls-own-message"),
    ],
)  # fmt: skip
def test_the_oracle_passes(body: object) -> None:
    assert problems(_answer(body), KAREN) == []


def test_without_emergency_reason_leaves_the_rest_of_the_query() -> None:
    query = 'query { plan(cpr: "0101521234", emergencyReason: "x") { cpr } me { role } }'
    assert " ".join(without_emergency_reason(query).split()) == (
        '{ plan(cpr: "0101521234") { cpr } me { role } }'
    )
