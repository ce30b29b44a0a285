"""Settings: real sources need diagnoses and consent, a secret pseudonym key and an identity
provider; every other source is optional.

Each check is one error located at its setting, so ``explain`` (what ``minplan serve``
prints) names every variable to fix, and never a value.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.settings import DEV_PSEUDONYM_KEY, REQUIRED_SOURCES, SOURCE_NAMES, Settings, explain

SECRET = "k" * 40


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MINPLAN_* setting of the developer's shell leaks into the settings under test."""
    for name in list(os.environ):
        if name.startswith("MINPLAN_"):
            monkeypatch.delenv(name)


def real(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {f"source_{n}_url": f"http://src.test/{n}" for n in SOURCE_NAMES}
    values |= {
        "auth_issuer": "https://idp.test",
        "auth_jwks_url": "https://idp.test/jwks",
        "pseudonym_key": SECRET,
    }
    return values | overrides


def problems(**values: Any) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        Settings(**values)
    return explain(raised.value)


def test_no_source_is_the_demo_with_its_defaults() -> None:
    settings = Settings()
    assert settings.demo
    assert settings.pseudonym_key == DEV_PSEUDONYM_KEY


def test_a_complete_configuration_is_accepted() -> None:
    assert not Settings(**real()).demo


def only(configured: list[str]) -> dict[str, Any]:
    values = real()
    for name in SOURCE_NAMES:
        if name not in configured:
            del values[f"source_{name}_url"]
    return values


@pytest.mark.parametrize(
    "configured",
    [
        pytest.param(["journal"], id="one-optional"),
        pytest.param([n for n in SOURCE_NAMES if n != "consent"], id="all-but-consent"),
        pytest.param([n for n in SOURCE_NAMES if n != "diagnoses"], id="all-but-diagnoses"),
    ],
)
def test_a_missing_required_source_is_named(configured: list[str]) -> None:
    message = "\n".join(problems(**only(configured)))
    for name in SOURCE_NAMES:
        setting = f"MINPLAN_SOURCE_{name.upper()}_URL"
        missing = name in REQUIRED_SOURCES and name not in configured
        assert (setting in message) is missing, message
    assert "required whenever any source is configured" in message


@pytest.mark.parametrize(
    "configured",
    [
        pytest.param(["diagnoses", "consent"], id="the-required-two"),
        pytest.param(["diagnoses", "appointments", "consent"], id="and-appointments"),
        pytest.param(["consent", "listing", "diagnoses"], id="and-listing"),
    ],
)
def test_the_other_sources_are_optional(configured: list[str]) -> None:
    settings = Settings(**only(configured))
    assert not settings.demo
    assert settings.configured_sources() == [n for n in SOURCE_NAMES if n in configured]
    assert settings.missing_required_sources() == []


def test_the_v2_sources_are_read_from_the_contracts_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("observations", "medication", "listing"):
        monkeypatch.setenv(f"MINPLAN_SOURCE_{name.upper()}_URL", f"http://{name}.test/fhir/")
    # Any source configured ends the demo, so the required two are missing now.
    message = "\n".join(problems())
    assert "MINPLAN_SOURCE_DIAGNOSES_URL" in message
    assert "MINPLAN_SOURCE_CONSENT_URL" in message
    settings = Settings(**only(["diagnoses", "consent"]))
    assert settings.configured_sources() == [
        "diagnoses", "consent", "observations", "medication", "listing"
    ]  # fmt: skip
    assert settings.source_url("listing") == "http://listing.test/fhir"


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(None, id="left-at-the-dev-default"),
        pytest.param("short", id="too-short"),
    ],
)
def test_real_sources_need_a_secret_pseudonym_key(key: str | None) -> None:
    values = real()
    if key is None:
        del values["pseudonym_key"]
    else:
        values["pseudonym_key"] = key
    [line] = problems(**values)
    assert line.startswith("MINPLAN_PSEUDONYM_KEY: ")
    assert "short" not in line and DEV_PSEUDONYM_KEY not in line  # the value stays out


@pytest.mark.parametrize("missing", ["auth_issuer", "auth_jwks_url"])
def test_real_sources_need_an_identity_provider(missing: str) -> None:
    values = real()
    del values[missing]
    [line] = problems(**values)
    assert line.startswith(f"MINPLAN_{missing.upper()}: ")


def test_every_problem_is_named_at_once() -> None:
    lines = problems(source_journal_url="http://journal.test/fhir")
    named = {line.split(":", 1)[0] for line in lines}
    assert "MINPLAN_PSEUDONYM_KEY" in named
    assert {"MINPLAN_AUTH_ISSUER", "MINPLAN_AUTH_JWKS_URL"} <= named
    assert "MINPLAN_SOURCE_JOURNAL_URL" not in named


def test_an_error_never_shows_a_value() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(**real(pseudonym_key="secret-but-short", source_timeout="soon"))
    assert "secret-but-short" not in str(raised.value)
    assert "soon" not in str(raised.value)


@pytest.mark.parametrize("url", ["ftp://idp.test/jwks", "/etc/jwks.json", "https:///jwks"])
def test_a_jwks_url_neither_http_nor_file_is_refused(url: str) -> None:
    [line] = problems(**real(auth_jwks_url=url))
    assert line.startswith("MINPLAN_AUTH_JWKS_URL: must be an http(s):// URL")
