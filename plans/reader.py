"""Reading one plan: check the request, fetch, decide access, filter, assemble, alert, log.

The order matters for safety and speed:

- Everything that needs no Consent (the CPR, a bad ``emergencyReason``) is refused
  before any source is called.
- A citizen asking for another CPR is checked against the consent source *first*; no other
  source is called until their power of attorney is confirmed.
- Everyone else fetches at once every source the query needs (contract §6), and consent
  unless the viewer is the patient; the decision waits for consent only, and filtering for
  everything. A source that is not configured is never asked, nor listed in ``sources``.
- A clinician's or proxy's read is written to the access log before the plan is returned;
  if that write fails, so does the read.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Collection, Mapping, Sequence
from datetime import UTC, datetime

from connectors import SearchKey
from core.cpr import pseudonymise_cpr
from core.errors import AuditWriteError, BadUserInput, Forbidden
from core.localtime import Clock, system_clock
from core.metrics import Metrics
from core.records import ConsentRecord, Record
from plans.alerts import answered_sources, raise_alerts
from plans.assembly import assemble_packages
from plans.audit import AccessContext, AccessLog, AccessRecord
from plans.consent import (
    CONSENT_SOURCE,
    Access,
    AccessRequest,
    Purpose,
    ViewerKind,
    filter_records,
    request_access,
)
from plans.model import Plan, SourceStatus
from plans.statuses import source_statuses
from plans.tracing import access_log_span, consent_span, note_access
from plans.viewer import Viewer
from plans.views import ViewIds, view_key
from upstream.loaders import RequestLoaders
from upstream.pipeline import SourceResult

__all__ = ["PlanReader"]

log = logging.getLogger(__name__)

CONSENT_KEY: SearchKey = (CONSENT_SOURCE, "Consent")
_DEADLINE_RESULT = SourceResult((), ok=False, error="request deadline exceeded")

_Fetches = Mapping[SearchKey, Awaitable[SourceResult]]


class PlanReader:
    """Reads plans, and authorises every read of a patient's data; shared by every request."""

    def __init__(
        self,
        *,
        search_keys: Sequence[SearchKey],
        access_log: AccessLog,
        pseudonym_key: bytes,
        deadline: float,
        metrics: Metrics | None = None,
        clock: Clock = system_clock,
        plan_deadline_days: int = 30,
    ) -> None:
        self.search_keys = tuple(search_keys)
        self.clock = clock  # "today" for alerts; the embedded demo's stays on its day
        self.plan_deadline_days = plan_deadline_days
        self.access_log = access_log
        self.pseudonym_key = pseudonym_key
        self.deadline = deadline
        self.metrics = metrics
        self.ids = ViewIds(pseudonym_key)

    def pseudonym(self, cpr: str) -> str:
        return pseudonymise_cpr(cpr, self.pseudonym_key)

    async def authorise(
        self,
        viewer: Viewer,
        cpr: str | None,
        loaders: RequestLoaders,
        *,
        purpose: Purpose,
        emergency_reason: str | None = None,
    ) -> tuple[str, Access]:
        """The patient's CPR and what ``viewer`` may see of them, asking only the consent source.

        Raises:
            Forbidden: not the patient, their proxy, or (for a plan) a clinician.
            ConsentUnavailable: the Consents are unknown and the viewer is not the patient.
            BadUserInput: a bad CPR or emergencyReason.
        """
        request = request_access(viewer, cpr, purpose=purpose, emergency_reason=emergency_reason)
        return request.patient, await self._decide(request, loaders)

    async def read(
        self,
        viewer: Viewer,
        cpr: str | None,
        loaders: RequestLoaders,
        *,
        needs: Collection[str],
        emergency_reason: str | None = None,
        request_id: str | None = None,
        also: Sequence[SearchKey] = (),
        alerts: bool = True,
    ) -> Plan:
        """The plan of the patient ``cpr`` names, as ``viewer`` may see it; the read logged.

        Only the searches of the sources in ``needs`` are made (those configured), and the
        consent source's when the viewer is not the patient, whatever ``needs`` says: so
        ``sources``, ``restricted`` and every section are over what was asked. ``also``
        names on-demand searches the query needs (``("careplan", "CarePlan")`` for the
        course); one of a source that is not configured is not made. ``alerts``: work out
        the packages' follow-up alerts (a query that does not select them leaves them empty).

        Raises:
            Forbidden, ConsentUnavailable, BadUserInput: as :meth:`authorise`.
            AuditWriteError: the read could not be logged, so it is refused.
        """
        request = request_access(viewer, cpr, emergency_reason=emergency_reason)
        patient = request.patient
        deadline_at = asyncio.get_running_loop().time() + self.deadline
        keys = self._keys_for(needs, also, consent=request.needs_consents)
        if request.consents_first:
            access = await self._decide(request, loaders)
            fetches = self._start_fetches(loaders, patient, keys)
        else:
            fetches = self._start_fetches(loaders, patient, keys)
            access = await self._decide(request, loaders, deadline_at)
        results = await self._gather(fetches, deadline_at)
        by_source: dict[str, list[Record]] = {}
        for (source, _), result in results.items():
            by_source.setdefault(source, []).extend(result.records)
        visible, restricted = filter_records(access, by_source)
        proxy = viewer.cpr if access.kind is ViewerKind.PROXY else None
        view = view_key(access, proxy=self.pseudonym(proxy) if proxy else None)
        packages, unassigned = assemble_packages(
            visible, package_id=lambda kind: self.ids.package_id(patient, kind, view)
        )
        if alerts:
            raise_alerts(  # after filtering: alerts read only what this viewer sees
                packages,
                sections=access.allowed,
                answered=answered_sources({key: result.ok for key, result in results.items()}),
                now=self.clock(),
                deadline_days=self.plan_deadline_days,
                second_person=access.kind is ViewerKind.PATIENT,
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

    def start(
        self,
        viewer: Viewer,
        cpr: str | None,
        loaders: RequestLoaders,
        *,
        needs: Collection[str],
        emergency_reason: str | None = None,
        also: Sequence[SearchKey] = (),
    ) -> bool:
        """Start now the searches :meth:`read` will make for this request; True if any.

        Their answers wait in ``loaders`` (each search once per request), where :meth:`read`,
        called with the same arguments, finds them. What :meth:`read` refuses before asking
        anything (a malformed CPR, an ``emergencyReason`` from a citizen or one the reason's
        rule refuses) starts nothing here; for a proxy, only the consent search, whose answer
        :meth:`read` checks before it asks anything else.
        """
        try:
            request = request_access(viewer, cpr, emergency_reason=emergency_reason)
        except (BadUserInput, Forbidden):
            return False  # read() refuses it again, with the answer
        if request.consents_first:
            keys: Sequence[SearchKey] = (CONSENT_KEY,)
        else:
            keys = self._keys_for(needs, also, consent=request.needs_consents)
        self._start_fetches(loaders, request.patient, keys)
        return bool(keys)

    async def _decide(
        self, request: AccessRequest, loaders: RequestLoaders, deadline_at: float | None = None
    ) -> Access:
        """The request's access, once the patient's Consents are in (if it needs them)."""
        consents: list[ConsentRecord] | None = None
        if request.needs_consents:
            # The loaders ask each search once per request: a plan read fetching consent with
            # its other sources waits here on the same consent answer it lists in `sources`.
            fetch = {CONSENT_KEY: loaders.load(CONSENT_KEY, request.patient)}
            consent = (await self._gather(fetch, deadline_at))[CONSENT_KEY]
            if consent.ok:
                consents = [r for r in consent.records if isinstance(r, ConsentRecord)]
        with consent_span(request.kind) as span:
            access = request.decide(consents)
            note_access(span, access)
        return access

    def _keys_for(
        self, needs: Collection[str], also: Sequence[SearchKey], *, consent: bool
    ) -> tuple[SearchKey, ...]:
        """The configured searches of ``needs`` and ``also``; consent's only if ``consent``."""
        wanted = set(needs) - {CONSENT_SOURCE} | ({CONSENT_SOURCE} if consent else set())
        configured = {source for source, _ in self.search_keys}
        keys = [key for key in self.search_keys if key[0] in wanted]
        keys += [key for key in also if key[0] in configured and key[0] != CONSENT_SOURCE]
        return tuple(dict.fromkeys(keys))

    @staticmethod
    def _start_fetches(
        loaders: RequestLoaders, patient: str, keys: Sequence[SearchKey]
    ) -> _Fetches:
        return {key: loaders.load(key, patient) for key in keys}

    @staticmethod
    async def _gather(
        fetches: _Fetches, deadline_at: float | None
    ) -> dict[SearchKey, SourceResult]:
        """Each fetch's result, or a failure for those still running at the deadline."""
        futures = {key: asyncio.ensure_future(fetch) for key, fetch in fetches.items()}
        if not futures:  # a query that needs no source (asyncio.wait refuses an empty set)
            return {}
        timeout = None
        if deadline_at is not None:
            timeout = max(0.0, deadline_at - asyncio.get_running_loop().time())
        # asyncio.wait leaves what is still pending alone: a DataLoader future that other
        # fields may share is never cancelled by this request's deadline.
        done, _pending = await asyncio.wait(futures.values(), timeout=timeout)
        return {
            key: future.result() if future in done else _DEADLINE_RESULT
            for key, future in futures.items()
        }

    @staticmethod
    def _statuses(results: dict[SearchKey, SourceResult]) -> list[SourceStatus]:
        return source_statuses((source, r) for (source, _), r in results.items())

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
            with access_log_span(AccessContext.PLAN, 1):
                await self.access_log.record(entry)
        except AuditWriteError:
            log.error("access log write failed; the read is refused (request %s)", entry.request_id)
            raise
