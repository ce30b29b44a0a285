"""The pages' parts on their own: the value chart, CSRF tokens, Danish words, the documents."""

from __future__ import annotations

from datetime import date

import pytest
from graphql import parse, validate

from gateway.pages import DOCUMENTS, CsrfTokens
from gateway.pages.chart import Target, danish_number, parse_target, value_chart
from gateway.pages.csrf import MAX_AGE
from gateway.pages.labels import PACKAGE_NAMES, danish_datetime, danish_day, word_for
from gateway.pages.render import is_web_url
from schema import build_schema


@pytest.mark.parametrize(
    ("text", "target"),
    [
        pytest.param("< 53 mmol/mol", Target(None, 53.0), id="below"),
        pytest.param("≥ 400 m", Target(400.0, None), id="at-least"),
        pytest.param("110–130 mmHg", Target(110.0, 130.0), id="range-en-dash"),
        pytest.param("≤ 1,8 mmol/L", Target(None, 1.8), id="decimal-comma"),
        pytest.param("Røgfri i 6 måneder", None, id="words-have-no-bounds"),
        pytest.param("7", None, id="a-bare-number-has-no-side"),
        pytest.param(None, None, id="none"),
    ],
)
def test_a_target_is_read_into_bounds(text: str | None, target: Target | None) -> None:
    assert parse_target(text) == target


@pytest.mark.parametrize(
    ("value", "shown"),
    [pytest.param(58.0, "58", id="whole"), pytest.param(1.85, "1,85", id="decimal-comma"),
     pytest.param(None, "", id="none")],
)  # fmt: skip
def test_numbers_are_written_the_danish_way(value: float | None, shown: str) -> None:
    assert danish_number(value) == shown


def values(*pairs: tuple[str, float, bool | None]) -> list[dict[str, object]]:
    return [
        {"at": at, "value": v, "onTarget": ok, "unit": "mmol/mol", "display": "HbA1c",
         "code": "x", "target": "< 53 mmol/mol"}
        for at, v, ok in pairs
    ]  # fmt: skip


def test_the_chart_draws_every_value_and_the_target_and_says_so_in_words() -> None:
    svg = value_chart(
        values(
            ("2026-12-17T08:10:00+01:00", 58.0, False), ("2026-06-18T08:10:00+02:00", 64.0, False)
        ),
        title_id="c1",
    )
    assert svg is not None
    assert svg.count("<circle") == 2 and "<polyline" in svg
    assert 'class="chart-target"' in svg and 'class="chart-target-line"' in svg
    assert 'role="img"' in svg and 'aria-labelledby="c1-t c1-d"' in svg
    assert "2 målinger fra 18. juni 2026 til 17. december 2026." in svg
    assert "Seneste værdi: 58 mmol/mol den 17. december 2026." in svg
    assert "Målet er &lt; 53 mmol/mol; den seneste værdi er uden for målet." in svg


def test_the_chart_escapes_what_the_source_wrote() -> None:
    series = values(("2026-12-17T08:10:00+01:00", 1.0, None))
    series[0]["display"] = "<script>alert(1)</script>"
    svg = value_chart(series, title_id='x"><script>')
    assert svg is not None and "<script>" not in svg


def test_no_chart_without_a_number() -> None:
    assert value_chart(values(("2026-12-17T08:10:00+01:00", 1.0, None))[:0], title_id="c") is None


def test_dates_are_danish_and_in_copenhagen_time() -> None:
    assert danish_day("2027-01-04") == "4. januar 2027"
    assert danish_datetime("2027-01-18T09:00:00+00:00") == "18. januar 2027 kl. 10.00"
    assert danish_day("2026-12-31T23:30:00+00:00") == "1. januar 2027"


def test_dates_read_again_give_the_same_words() -> None:
    # The words of a date's text are remembered: the second reading must not differ.
    for _ in range(2):
        assert danish_datetime("2027-07-04T06:05:00+00:00") == "4. juli 2027 kl. 08.05"
        assert danish_datetime("2027-07-04T23:59:00") == "4. juli 2027 kl. 23.59"
        assert danish_datetime("2027-07-04") == "4. juli 2027"
        assert danish_datetime(None) == danish_day(None) == ""
        assert danish_day(date(2027, 7, 4)) == danish_day("2027-07-04") == "4. juli 2027"


def test_a_code_without_a_word_is_shown_as_it_is() -> None:
    words = word_for(PACKAGE_NAMES)
    assert (words("COPD"), words("ASTHMA")) == ("KOL", "ASTHMA")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("session", "purpose", "viewer", "later", "accepted"),
    [
        pytest.param("s1", "glass:1", "clinician:a", 0, True, id="same-form-accepted"),
        pytest.param("s2", "glass:1", "clinician:a", 0, False, id="other-session-refused"),
        pytest.param("s1", "glass:2", "clinician:a", 0, False, id="other-patient-refused"),
        pytest.param("s1", "glass:1", "clinician:b", 0, False, id="other-viewer-refused"),
        pytest.param("s1", "glass:1", "clinician:a", MAX_AGE + 1, False, id="stale-refused"),
    ],
)
def test_a_csrf_token_is_bound_to_session_form_viewer_and_time(
    session: str, purpose: str, viewer: str, later: int, accepted: bool
) -> None:
    clock = Clock()
    tokens = CsrfTokens(key=b"k" * 32, clock=clock)
    token = tokens.issue("s1", purpose="glass:1", viewer="clinician:a")
    clock.now += later
    assert tokens.check(token, session, purpose=purpose, viewer=viewer) is accepted


def test_a_csrf_token_of_another_key_is_refused() -> None:
    token = CsrfTokens(key=b"a" * 32).issue("s", purpose="p", viewer="v")
    assert not CsrfTokens(key=b"b" * 32).check(token, "s", purpose="p", viewer="v")


@pytest.mark.parametrize(
    ("url", "link"),
    [pytest.param("https://sundhed.dk/x", True, id="https"),
     pytest.param("javascript:alert(1)", False, id="script-url-stays-text"),
     pytest.param("data:text/html,x", False, id="data-url-stays-text")],
)  # fmt: skip
def test_only_web_urls_become_links(url: str, link: bool) -> None:
    assert is_web_url(url) is link


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_page_document_is_valid_against_the_served_schema(name: str) -> None:
    schema = build_schema()._schema
    assert validate(schema, parse(DOCUMENTS[name])) == []
