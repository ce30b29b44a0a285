"""Which of a clinic's listed patients have a diagnosis of each package, kept briefly.

A work list asks ``diagnoses`` about everyone listed only to find the few in the package.
What that finds is kept per organisation, for the listing it was made from, and no longer
than the oldest of those answers may be served fresh from the source cache: a read within
that time asks ``diagnoses`` about the package's patients alone, and sees what it would have
seen asking about everyone (a plan read, too, is served from the cache until then).

It holds only what the source said, filtered for no one: who the clinician may see is
decided on every read, from that read's consents and diagnoses. It is made only from answers
that are all fresh and ok: a failed search or a stale answer standing in for one is asked
again on the next read, as without it; a fresh TTL of 0 keeps nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cachetools import LRUCache

from core.records import DiagnosisRecord, ListedPatient
from plans.assembly import package_kind
from plans.model import PackageKind
from upstream.pipeline import SourceResult

__all__ = ["ListingPackages", "PackageIndex", "package_kinds"]

_NONE: frozenset[PackageKind] = frozenset()


def package_kinds(result: SourceResult | None) -> frozenset[PackageKind]:
    """The packages the active diagnoses of ``result`` put a patient in (before consent)."""
    if result is None:
        return _NONE
    kinds = {
        kind
        for d in result.records
        if isinstance(d, DiagnosisRecord) and d.active
        if (kind := package_kind(d.code)) is not None
    }
    return frozenset(kinds) if kinds else _NONE


@dataclass(slots=True)
class ListingPackages:
    """The packages of a listing's patients (``kinds``: only those with one)."""

    listed: Sequence[ListedPatient]
    kinds: Mapping[str, frozenset[PackageKind]]
    _in: dict[PackageKind, tuple[ListedPatient, ...]] = field(default_factory=dict)

    def patients(self, kind: PackageKind) -> tuple[ListedPatient, ...]:
        """The listed patients with a diagnosis of ``kind``, in the listing's order."""
        found = self._in.get(kind)
        if found is None:
            kinds = self.kinds
            found = tuple(p for p in self.listed if kind in kinds.get(p.cpr, ()))
            self._in[kind] = found
        return found


@dataclass(frozen=True, slots=True)
class _Snapshot:
    packages: ListingPackages
    until: float  # wall clock


class PackageIndex:
    """Per organisation: the packages of each listed patient, while their answers are fresh.

    Args:
        max_orgs: organisations remembered at most (least recently used go first).
    """

    def __init__(self, *, max_orgs: int = 256) -> None:
        self._by_org: LRUCache[str, _Snapshot] = LRUCache(maxsize=max_orgs)

    def lookup(self, org: str, listed: Sequence[ListedPatient]) -> ListingPackages | None:
        """The packages of ``listed``'s patients, or None when not known fresh."""
        snapshot = self._by_org.get(org)
        if snapshot is None:
            return None
        if time.time() >= snapshot.until:
            self._by_org.pop(org, None)
            return None
        known = snapshot.packages.listed
        if known is not listed and known != listed:
            return None
        return snapshot.packages

    def remember(
        self,
        org: str,
        listed: Sequence[ListedPatient],
        diagnoses: Mapping[str, SourceResult],
        *,
        fresh_for: float,
    ) -> ListingPackages:
        """The packages of ``listed``'s patients from ``diagnoses``; kept if every answer is
        fresh.

        ``fresh_for``: the seconds the source cache serves a ``diagnoses`` answer fresh.
        """
        kinds: dict[str, frozenset[PackageKind]] = {}
        oldest: float | None = None
        keep = fresh_for > 0
        for patient in listed:
            result = diagnoses.get(patient.cpr)
            if result is None or not result.ok or result.stale or result.fetched_at is None:
                keep = False
            else:
                oldest = result.fetched_at if oldest is None else min(oldest, result.fetched_at)
            found = package_kinds(result)
            if found:
                kinds[patient.cpr] = found
        packages = ListingPackages(listed, kinds)
        if keep and oldest is not None and oldest + fresh_for > time.time():
            self._by_org[org] = _Snapshot(packages, oldest + fresh_for)
        else:
            self._by_org.pop(org, None)
        return packages
