"""The work list's entries: who is in the package as the clinician may see it, and each
one's package, assembled and flagged exactly as a ``plan`` read assembles it (contract §5).

Everything here is per read and per viewer: consent decides, from this read's answers,
who is shown and what of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from connectors import SearchKey
from core.cpr import pseudonymise_cpr
from core.records import ConsentRecord, DiagnosisRecord, ListedPatient, Record, TriageLevel
from plans.alerts import answered_sources, raise_alerts
from plans.assembly import assemble_packages, package_kind
from plans.audit import AccessContext, AccessLog, AccessRecord
from plans.consent import CONSENT_SOURCE, Access, filter_records, request_access
from plans.model import AlertKind, AlertPriority, CarePackage, PackageKind
from plans.tracing import access_log_span
from plans.viewer import Viewer
from plans.views import ViewIds, view_key
from plans.worklist_cursors import SortKey
from upstream.pipeline import SourceResult

__all__ = [
    "CONSENT_KEY",
    "DIAGNOSES_KEY",
    "Candidate",
    "EntryAssembler",
    "in_package",
    "log_entries",
]

DIAGNOSES_KEY: SearchKey = ("diagnoses", "Condition")
CONSENT_KEY: SearchKey = (CONSENT_SOURCE, "Consent")

_PRIORITY_RANK = {AlertPriority.HIGH: 0, AlertPriority.MEDIUM: 1, AlertPriority.LOW: 2}
_TRIAGE_RANK = {TriageLevel.RED: 0, TriageLevel.YELLOW: 1, TriageLevel.GREEN: 2}

Fetched = Mapping[SearchKey, Mapping[str, SourceResult]]


@dataclass(slots=True)
class Candidate:
    """A listed patient in the package as this clinician sees it, and what was fetched."""

    listed: ListedPatient
    access: Access
    by_key: dict[SearchKey, SourceResult]
    package: CarePackage | None = None
    restricted: bool = False

    def sort_key(self) -> SortKey:
        package = self.package
        assert package is not None
        alerts = package.alerts
        priority = min((_PRIORITY_RANK[a.priority] for a in alerts), default=3)
        triage = _TRIAGE_RANK[package.triage.level] if package.triage is not None else 3
        since = min((a.since for a in alerts), default=date.max).toordinal()
        return priority, triage, since, self.listed.cpr

    def matches(
        self, triage: Collection[TriageLevel] | None, alerts: Collection[AlertKind] | None
    ) -> bool:
        """In the package, with a triage of ``triage`` and an alert of ``alerts`` (None: any)."""
        package = self.package
        if package is None:
            return False
        if triage is not None and (package.triage is None or package.triage.level not in triage):
            return False
        return alerts is None or any(a.kind in alerts for a in package.alerts)


def in_package(
    viewer: Viewer,
    kind: PackageKind,
    listed: Sequence[ListedPatient],
    consents_of: Mapping[str, SourceResult],
    diagnoses_of: Mapping[str, SourceResult],
) -> list[Candidate]:
    """The listed patients with an active diagnosis of ``kind`` this clinician may see."""
    candidates = []
    for patient in listed:
        consent = consents_of.get(patient.cpr)
        if consent is None or not consent.ok:
            continue  # Consents unknown: fail closed, this patient is not shown
        rules = [r for r in consent.records if isinstance(r, ConsentRecord)]
        access = request_access(viewer, patient.cpr).decide(rules)
        if "diagnoses" in access.denied:
            continue
        diagnoses = diagnoses_of.get(patient.cpr)
        if diagnoses is None or not diagnoses.ok:
            continue
        visible, _ = filter_records(access, {"diagnoses": diagnoses.records})
        if any(
            isinstance(d, DiagnosisRecord) and d.active and package_kind(d.code) is kind
            for d in visible.get("diagnoses", ())
        ):
            by_key = {CONSENT_KEY: consent, DIAGNOSES_KEY: diagnoses}
            candidates.append(Candidate(patient, access, by_key))
    return candidates


class EntryAssembler:
    """Assembles and flags a candidate's package as a clinician's plan read does."""

    def __init__(self, ids: ViewIds, *, plan_deadline_days: int) -> None:
        self.ids = ids
        self.plan_deadline_days = plan_deadline_days

    def assemble(
        self, candidate: Candidate, fetched: Fetched, kind: PackageKind, now: datetime
    ) -> None:
        """The candidate's package of ``kind``, from everything fetched for them so far."""
        cpr = candidate.listed.cpr
        for key, answers in fetched.items():
            if cpr in answers:
                candidate.by_key[key] = answers[cpr]
        by_source: dict[str, list[Record]] = {}
        for (source, _), result in candidate.by_key.items():
            by_source.setdefault(source, []).extend(result.records)
        access = candidate.access
        visible, restricted = filter_records(access, by_source)
        view = view_key(access)
        packages, _unassigned = assemble_packages(
            visible, package_id=lambda k: self.ids.package_id(cpr, k, view)
        )
        raise_alerts(
            packages,
            sections=access.allowed,
            answered=answered_sources({k: r.ok for k, r in candidate.by_key.items()}),
            now=now,
            deadline_days=self.plan_deadline_days,
            second_person=False,
        )
        candidate.package = next((p for p in packages if p.kind is kind), None)
        candidate.restricted = restricted


async def log_entries(
    access_log: AccessLog,
    viewer: Viewer,
    page: Sequence[Candidate],
    request_id: str | None,
    pseudonym_key: bytes,
) -> None:
    """Write each entry of ``page`` to its patient's access log, context WORKLIST."""
    if not page:
        return
    at = datetime.now(UTC)
    request = request_id or uuid.uuid4().hex
    with access_log_span(AccessContext.WORKLIST, len(page)):
        await access_log.record_many(
            [
                AccessRecord(
                    at=at,
                    patient=pseudonymise_cpr(c.listed.cpr, pseudonym_key),
                    actor_role=c.access.kind.value,
                    actor_name=viewer.name,
                    actor_org=viewer.org,
                    actor_org_name=viewer.org_name,
                    actor_ref=viewer.subject,
                    sections=c.access.allowed,
                    emergency=False,
                    reason=None,
                    request_id=request,
                    context=AccessContext.WORKLIST,
                )
                for c in page
            ]
        )
