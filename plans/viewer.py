"""Who is asking (the caller as the gateway understood their token), and about whom."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from core.cpr import is_valid_cpr
from core.errors import BadUserInput

__all__ = ["Role", "Viewer", "resolve_patient"]


class Role(enum.Enum):
    CITIZEN = "citizen"
    CLINICIAN = "clinician"


@dataclass(frozen=True, slots=True)
class Viewer:
    """A verified caller. Citizens carry ``cpr``; clinicians carry ``org`` (SOR code)."""

    role: Role
    subject: str
    cpr: str | None = None
    org: str | None = None
    org_name: str | None = None
    name: str | None = None

    @property
    def is_citizen(self) -> bool:
        return self.role is Role.CITIZEN

    @property
    def is_clinician(self) -> bool:
        return self.role is Role.CLINICIAN


def resolve_patient(viewer: Viewer, cpr: str | None) -> str:
    """The CPR a request is about; a citizen may leave it out for their own.

    Raises:
        BadUserInput: a clinician without a CPR, or a CPR that is not one.
    """
    if cpr is None:
        if viewer.cpr is None:
            raise BadUserInput("cpr is required for clinicians.")
        return viewer.cpr
    cpr = cpr.strip()
    if len(cpr) == 11 and cpr[6] == "-":  # DDMMYY-SSSS, the way it is usually written
        cpr = cpr[:6] + cpr[7:]
    if not is_valid_cpr(cpr):
        raise BadUserInput(
            "cpr must be 10 digits: DDMMYY (a real date) followed by 4 digits, "
            "optionally with a hyphen after DDMMYY."
        )
    return cpr
