"""Reading one plan: validate, fetch concurrently, decide access, filter, assemble, log.

The order matters for safety and speed:

- A bad ``emergencyReason`` is refused before any source is called.
- A citizen asking for another CPR is checked against the consent source *first*; no other
  source is called until the proxy Consent is found.
- Everyone else fetches every source at once, consent included; filtering waits for
  consent, fetching does not.
- A clinician's or proxy's read is written to the access log before the plan is returned;
  if that write fails, so does the read.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from connectors import SearchKey
from core.cpr import is_valid_cpr, pseudonymise_cpr
from core.errors import AuditWriteError, BadUserInput
from core.metrics import Metrics
from core.records import ConsentRecord, Record
from core.sources import SOURCE_NAMES
from plans.assembly import assemble_packages
from plans.audit import AccessLog, AccessRecord
from plans.consent import (
    Access,
    ViewerKind,
    check_reason,
    decide_access,
    filter_records,
    viewer_kind,
)
from plans.model import Plan, SourceStatus
from plans.viewer import Viewer
from plans.views import ViewIds, view_key
from upstream.loaders import RequestLoaders
from upstream.pipeline import SourceResult

__all__ = ["PlanReader", "resolve_patient"]

log = logging.getLogger(__name__)

CONSENT_KEY: SearchKey = ("consent", "Consent")
_DEADLINE_RESULT = SourceResult((), ok=False, error="request deadline exceeded")


def resolve_patient(viewer: Viewer, cpr: str | None) -> str:
    """The CPR a plan request is about; a citizen may leave it out for their own."""
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


class PlanReader:
    """Reads plans; shared by every request of one app."""

    def __init__(
        self,
        *,
        search_keys: Sequence[SearchKey],
        access_log: AccessLog,
        pseudonym_key: bytes,
        deadline: float,
        metrics: Metrics | None = None,
    ) -> None:
        self.search_keys = tuple(search_keys)
        self.access_log = access_log
        self.pseudonym_key = pseudonym_key
        self.deadline = deadline
        self.metrics = metrics
        self.ids = ViewIds(pseudonym_key)

    def pseudonym(self, cpr: str) -> str:
        return pseudonymise_cpr(cpr, self.pseudonym_key)

    async def consents_for(
        self, loaders: RequestLoaders, patient: str
    ) -> list[ConsentRecord] | None:
        """The patient's Consents, or None when the consent source failed."""
        result = await loaders.load(CONSENT_KEY, patient)
        if not result.ok:
            return None
        return [r for r in result.records if isinstance(r, ConsentRecord)]

    async def read(
        self,
        viewer: Viewer,
        cpr: str | None,
        loaders: RequestLoaders,
        *,
        emergency_reason: str | None = None,
        request_id: str | None = None,
    ) -> Plan:
        patient = resolve_patient(viewer, cpr)
        # A bad emergencyReason is refused before anything is fetched or logged.
        check_reason(viewer, patient, emergency_reason)
        loop = asyncio.get_running_loop()
        deadline_at = loop.time() + self.deadline
        if viewer_kind(viewer, patient) is ViewerKind.PROXY:
            # Proxy check first: nothing else is fetched for a citizen who may not look.
            decide_access(
                viewer, patient, await self.consents_for(loaders, patient), emergency_reason
            )
        results = await self._fetch_all(loaders, patient, deadline_at)
        consent = results[CONSENT_KEY]
        consents = (
            [r for r in consent.records if isinstance(r, ConsentRecord)] if consent.ok else None
        )
        access = decide_access(viewer, patient, consents, emergency_reason)
        by_source: dict[str, list[Record]] = {}
        for (source, _), result in results.items():
            by_source.setdefault(source, []).extend(result.records)
        visible, restricted = filter_records(access, by_source)
        view = view_key(
            access,
            proxy=self.pseudonym(viewer.cpr)
            if access.kind is ViewerKind.PROXY and viewer.cpr
            else None,
        )
        packages, unassigned = assemble_packages(
            visible, package_id=lambda kind: self.ids.package_id(patient, kind, view)
        )
        plan = Plan(
            id=self.ids.plan_id(patient, view),
            cpr=patient,
            packages=packages,
            unassigned=unassigned,
            sources=self._statuses(results),
            restricted=restricted,
            generated_at=datetime.now(UTC),
            sections=access.allowed,
        )
        if access.logged:
            await self._log_access(viewer, patient, access, request_id)
        if self.metrics is not None:
            self.metrics.child(self.metrics.plans, access.kind.value).inc()
        return plan

    async def _fetch_all(
        self, loaders: RequestLoaders, patient: str, deadline_at: float
    ) -> dict[SearchKey, SourceResult]:
        loop = asyncio.get_running_loop()
        # asyncio.wait leaves what is still pending alone: a DataLoader future that other
        # fields may share is never cancelled by this request's deadline.
        futures = {
            key: asyncio.ensure_future(loaders.load(key, patient)) for key in self.search_keys
        }
        done, _pending = await asyncio.wait(
            futures.values(), timeout=max(0.0, deadline_at - loop.time())
        )
        return {
            key: future.result() if future in done else _DEADLINE_RESULT
            for key, future in futures.items()
        }

    @staticmethod
    def _statuses(results: dict[SearchKey, SourceResult]) -> list[SourceStatus]:
        statuses: list[SourceStatus] = []
        for name in SOURCE_NAMES:
            parts = [r for (source, _), r in results.items() if source == name]
            if not parts:
                statuses.append(SourceStatus(name, ok=False, error="not configured"))
                continue
            failed = [r for r in parts if not r.ok]
            latencies = [r.latency_ms for r in parts if r.latency_ms is not None]
            statuses.append(
                SourceStatus(
                    name=name,
                    ok=not failed,
                    stale=any(r.stale for r in parts),
                    latency_ms=round(max(latencies), 2) if latencies else None,
                    error=failed[0].error if failed else None,
                    cached=all(r.cached for r in parts),
                )
            )
        return statuses

    async def _log_access(
        self, viewer: Viewer, patient: str, access: Access, request_id: str | None
    ) -> None:
        proxy = access.kind is ViewerKind.PROXY
        entry = AccessRecord(
            at=datetime.now(UTC),
            patient=self.pseudonym(patient),
            actor_role=access.kind.value,
            actor_name=viewer.name,
            actor_org=None if proxy else viewer.org,
            actor_org_name=None if proxy else viewer.org_name,
            actor_ref=self.pseudonym(viewer.cpr) if proxy and viewer.cpr else viewer.subject,
            sections=access.allowed,
            emergency=bool(access.overridden),
            reason=access.emergency_reason,
            request_id=request_id or uuid.uuid4().hex,
        )
        try:
            await self.access_log.record(entry)
        except AuditWriteError:
            log.error("access log write failed; the read is refused (request %s)", entry.request_id)
            raise
