"""Who is asking: the caller as the gateway understood their token."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Role", "Viewer"]


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
