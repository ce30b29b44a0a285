"""The upstream sources of the contract, by name."""

from __future__ import annotations

__all__ = ["REQUIRED_SOURCES", "SOURCE_NAMES"]

#: The ten upstream sources of the contract (seven in version 1), in the order
#: ``Plan.sources`` lists them.
SOURCE_NAMES: tuple[str, ...] = (
    "diagnoses",
    "appointments",
    "journal",
    "careplan",
    "pro",
    "prevention",
    "consent",
    "observations",
    "medication",
    "listing",
)

#: Required whenever any source is configured (the others are optional): packages are
#: derived from diagnoses, and consent decides every read but the patient's own.
REQUIRED_SOURCES: tuple[str, ...] = ("diagnoses", "consent")
