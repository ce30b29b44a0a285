"""The alerts' setting and clock: MINPLAN_PLAN_DEADLINE_DAYS, and the demo's fixed day."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.localtime import local_date, system_clock
from demo.data import BASE_DAY
from gateway.app import create_app
from gateway.settings import Settings, explain
from tests.conftest import MakeGateway


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MINPLAN_* setting of the developer's shell leaks into the settings under test."""
    for name in list(os.environ):
        if name.startswith("MINPLAN_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("env", "days"),
    [
        pytest.param(None, 30, id="deadline-defaults-to-30-days"),
        pytest.param("0", 0, id="deadline-zero-days"),
        pytest.param("90", 90, id="deadline-90-days"),
    ],
)
def test_plan_deadline_days(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, env: str | None, days: int
) -> None:
    if env is not None:
        monkeypatch.setenv("MINPLAN_PLAN_DEADLINE_DAYS", env)
    assert Settings().plan_deadline_days == days


@pytest.mark.parametrize("value", [pytest.param("-1", id="negative"), pytest.param("x", id="text")])
def test_a_bad_plan_deadline_is_refused_by_name(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MINPLAN_PLAN_DEADLINE_DAYS", value)
    with pytest.raises(ValidationError) as raised:
        Settings()
    (line,) = explain(raised.value)
    assert line.startswith("MINPLAN_PLAN_DEADLINE_DAYS: ")


async def test_the_embedded_demo_computes_alerts_on_its_own_day(
    clean_env: None, tmp_path: Path
) -> None:
    settings = Settings(audit_url=f"sqlite:///{tmp_path / 'audit.sqlite3'}", plan_deadline_days=7)
    assert settings.demo
    app = create_app(settings, self_url="http://x", demo_key_path=tmp_path / "k.pem")
    async with app.router.lifespan_context(app):
        reader = app.state.services.plans
        assert local_date(reader.clock()) == BASE_DAY
        assert reader.plan_deadline_days == 7


async def test_configured_sources_compute_alerts_on_the_real_day(make_gateway: MakeGateway) -> None:
    async with make_gateway(plan_deadline_days=45) as gw:
        reader = gw.app.state.services.plans
        assert reader.clock is system_clock
        assert reader.plan_deadline_days == 45
