"""The break-the-glass reason rule (contract §3, v2) on its own: decide_access, check_reason."""

from __future__ import annotations

import pytest

from core.errors import BadUserInput
from plans.consent import REASON_RULE, check_reason, decide_access
from plans.viewer import Role, Viewer
from tests.emergency_reasons import ACCEPTED, REFUSED

PATIENT = "1709551234"
HOSPITAL = "265161000016000"
CLINICIAN = Viewer(role=Role.CLINICIAN, subject="sub-holm", org=HOSPITAL, name="Dr. Holm")


@pytest.mark.parametrize("reason", REFUSED)
def test_an_unreadable_reason_is_refused_with_the_rule(reason: str) -> None:
    with pytest.raises(BadUserInput) as refused:
        decide_access(CLINICIAN, PATIENT, [], reason)
    assert str(refused.value).startswith(REASON_RULE)
    with pytest.raises(BadUserInput):
        check_reason(CLINICIAN, PATIENT, reason)


@pytest.mark.parametrize(("reason", "logged"), ACCEPTED)
def test_a_readable_reason_is_kept_normalised(reason: str, logged: str) -> None:
    assert decide_access(CLINICIAN, PATIENT, [], reason).emergency_reason == logged
    assert check_reason(CLINICIAN, PATIENT, reason) == logged


@pytest.mark.parametrize(
    "reason",
    [
        pytest.param("\ud800", id="lone-high-surrogate"),
        pytest.param("Akut \udfff indlagt", id="lone-low-surrogate"),
    ],
)
def test_a_lone_surrogate_is_refused(reason: str) -> None:
    # JSON may carry an escaped lone surrogate ("\\ud800"), which decodes to one of these.
    with pytest.raises(BadUserInput):
        check_reason(CLINICIAN, PATIENT, reason)


def test_no_reason_is_no_break_the_glass() -> None:
    assert check_reason(CLINICIAN, PATIENT, None) is None
