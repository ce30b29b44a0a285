"""The break-the-glass reason rule (contract §3, v2), alone and as the consent policy applies it."""

from __future__ import annotations

import pytest

from core.errors import BadUserInput
from plans.consent import decide_access, request_access
from plans.emergency_reason import REASON_RULE, normalise_reason
from plans.viewer import Role, Viewer
from tests.emergency_reasons import ACCEPTED, REFUSED

PATIENT = "1709551234"
HOSPITAL = "265161000016000"
CLINICIAN = Viewer(role=Role.CLINICIAN, subject="sub-holm", org=HOSPITAL, name="Dr. Holm")
CITIZEN = Viewer(role=Role.CITIZEN, subject="sub-patient", cpr=PATIENT)


def checked(reason: str | None) -> str | None:
    """The reason as the policy keeps it, checked before anything is fetched."""
    return request_access(CLINICIAN, PATIENT, emergency_reason=reason).emergency_reason


@pytest.mark.parametrize("reason", REFUSED)
def test_an_unreadable_reason_is_refused_with_the_rule(reason: str) -> None:
    with pytest.raises(BadUserInput) as refused:
        decide_access(CLINICIAN, PATIENT, [], reason)
    assert str(refused.value).startswith(REASON_RULE)
    with pytest.raises(BadUserInput):
        checked(reason)
    with pytest.raises(BadUserInput):
        normalise_reason(reason)


@pytest.mark.parametrize(("reason", "logged"), ACCEPTED)
def test_a_readable_reason_is_kept_normalised(reason: str, logged: str) -> None:
    assert decide_access(CLINICIAN, PATIENT, [], reason).emergency_reason == logged
    assert checked(reason) == logged
    assert normalise_reason(reason) == logged


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
        checked(reason)


def test_no_reason_is_no_break_the_glass() -> None:
    assert checked(None) is None


def test_a_citizen_may_not_break_the_glass() -> None:
    with pytest.raises(BadUserInput, match="for clinicians"):
        request_access(CITIZEN, PATIENT, emergency_reason="Akut indlagt")
