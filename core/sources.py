"""The upstream sources of the contract, by name."""

from __future__ import annotations

__all__ = ["SOURCE_NAMES"]

#: The seven upstream sources of the contract, in the order ``Plan.sources`` lists them.
SOURCE_NAMES: tuple[str, ...] = (
    "diagnoses",
    "appointments",
    "journal",
    "careplan",
    "pro",
    "prevention",
    "consent",
)
