"""bench/cpu.py: the in-process CPU measurement reads right plans and reports its figures."""

from __future__ import annotations

import json

import pytest

import gateway.runtime
from bench import cpu


@pytest.mark.parametrize(
    ("shape", "viewer"),
    [
        pytest.param("full", "citizen", id="a-patients-own-whole-plan"),
        pytest.param("appointments", "clinician", id="a-clinicians-smaller-shape"),
    ],
)
def test_it_reads_right_plans_and_reports_cpu_per_plan(
    shape: str, viewer: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway.runtime, "tune_gc", lambda: None)  # no gc.freeze() in pytest
    cpu.main(["-n", "20", "--warmup", "2", "--shape", shape, "--viewer", viewer])
    report = json.loads(capsys.readouterr().out.splitlines()[0])
    assert (report["shape"], report["viewer"], report["plans"]) == (shape, viewer, 20)
    assert 0 < report["cpu_ms_best"] <= report["cpu_ms_p75"]
    assert report["wall_ms_p50"] > 0
