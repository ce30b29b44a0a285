"""The clinic's work list (contract §5): the listed patients in a package, flagged and ordered.

A read goes in phases, each a few batched searches (``patient:identifier=a,b,…``,
at most ``batch_size`` patients per search, all batches at once), never one per patient:

1. The ``listing`` source names the patients listed with the clinician's organisation.
2. ``diagnoses`` for all of them finds who has a diagnosis of the package at all; nothing
   more is asked about the others. While what an earlier read found is fresh
   (:mod:`plans.worklist_index`), only the package's patients are asked, with phase 3.
3. For those, at once: ``consent``, and what triage and alerts read (appointments,
   careplan's Goals, RiskAssessments and CarePlans, observations), which order and filters
   need whatever the query selects. Consent decides who is in the package *as this
   clinician may see it*: a patient whose Consents deny the clinician ``diagnoses`` is
   left out, and so is one whose Consents are unknown (fail closed); the consent source
   down refuses the whole list (CONSENT_UNAVAILABLE). Other sections the query selects
   (journal notes, say) are asked afterwards for the entries of the page alone.

Each entry's package is assembled and flagged exactly as a ``plan`` read by the same
clinician assembles it (:mod:`plans.worklist_entries`), after consent filtering. Every
entry returned is written to its patient's access log with context WORKLIST, before the
page is returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from connectors import SearchKey
from core.errors import BadUserInput, ConsentUnavailable, Forbidden, SourceUnavailable
from core.localtime import Clock, system_clock
from core.metrics import Metrics
from core.records import ListedPatient, TriageLevel
from plans.audit import AccessLog
from plans.consent import ViewerKind
from plans.model import AlertKind, CarePackage, PackageKind, SourceStatus
from plans.statuses import source_statuses
from plans.tracing import consent_span, note_decisions
from plans.viewer import Viewer
from plans.views import ViewIds
from plans.worklist_cursors import WorklistCursors
from plans.worklist_entries import (
    CONSENT_KEY,
    DIAGNOSES_KEY,
    Candidate,
    EntryAssembler,
    in_package,
    log_entries,
)
from plans.worklist_index import PackageIndex
from upstream.listing import ListingSource
from upstream.pipeline import SourcePipeline, SourceResult

__all__ = ["MAX_PAGE_SIZE", "Worklist", "WorklistEntry", "WorklistQuery", "WorklistReader"]

MAX_PAGE_SIZE = 200
#: What order and filters read (triage and alerts, contract §5), asked for every patient
#: in the package; the course is careplan's on-demand CarePlan search.
ORDER_SOURCES = frozenset({"appointments", "careplan", "observations"})
COURSE_SEARCH: SearchKey = ("careplan", "CarePlan")

_DEADLINE_RESULT = SourceResult((), ok=False, error="request deadline exceeded")


@dataclass(frozen=True, slots=True)
class WorklistQuery:
    kind: PackageKind
    triage: frozenset[TriageLevel] | None = None  # None: any triage, or none
    alerts: frozenset[AlertKind] | None = None  # None: with or without alerts
    first: int = 50
    after: str | None = None


@dataclass(slots=True)
class WorklistEntry:
    cpr: str
    name: str | None
    package: CarePackage
    restricted: bool


@dataclass(slots=True)
class Worklist:
    entries: list[WorklistEntry]
    total: int
    end_cursor: str | None
    has_next_page: bool
    sources: list[SourceStatus]


class WorklistReader:
    """Reads clinics' work lists; shared by every request."""

    def __init__(
        self,
        *,
        pipeline: SourcePipeline,
        listing: ListingSource | None,
        access_log: AccessLog,
        pseudonym_key: bytes,
        batch_size: int,
        deadline: float,
        plan_deadline_days: int = 30,
        clock: Clock = system_clock,
        metrics: Metrics | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.listing = listing
        self.access_log = access_log
        self.pseudonym_key = pseudonym_key
        self.batch_size = batch_size
        self.deadline = deadline
        self.plan_deadline_days = plan_deadline_days
        self.clock = clock
        self.metrics = metrics
        self.entries = EntryAssembler(ViewIds(pseudonym_key), plan_deadline_days=plan_deadline_days)
        self.cursors = WorklistCursors(pseudonym_key)
        self.index = PackageIndex()
        self._configured = {source for source, _ in pipeline.all_search_keys}

    async def read(
        self,
        viewer: Viewer,
        query: WorklistQuery,
        *,
        needs: Collection[str],
        request_id: str | None = None,
    ) -> Worklist:
        """One page of ``viewer``'s clinic's work list; each entry returned is logged.

        ``needs`` names the sources the query's ``package`` selection needs (contract §6);
        what order and filters read is asked whatever it says.

        Raises:
            Forbidden: the viewer is not a clinician.
            BadUserInput: ``first`` outside 1-200, or a cursor not of this query.
            ConsentUnavailable: the consent source did not answer (fail closed).
            SourceUnavailable: the listing source is not configured or did not answer.
            AuditWriteError: the entries could not be logged, so none is returned.
        """
        if not viewer.is_clinician or not viewer.org:
            raise Forbidden("The work list is for clinicians, of their own organisation.")
        if not 1 <= query.first <= MAX_PAGE_SIZE:
            raise BadUserInput(
                f"first must be between 1 and {MAX_PAGE_SIZE}; it was {query.first}."
            )
        scope = self._scope(viewer.org, query)
        after = self.cursors.decode(query.after, scope) if query.after is not None else None
        deadline_at = asyncio.get_running_loop().time() + self.deadline
        listing, listed = await self._listed(viewer.org)
        results: dict[SearchKey, dict[str, SourceResult]] = {}
        order_keys = self._keys(ORDER_SOURCES, also=(COURSE_SEARCH,))
        phase3 = [CONSENT_KEY, *order_keys]

        # Phase 2: diagnoses for everyone listed, to find who may be in the package at all;
        # the others need no more searches (not even consent: nothing of theirs is shown).
        # While an earlier read's finding is fresh, only the package's patients are asked.
        packages = self.index.lookup(viewer.org, listed)
        if packages is None:
            everyone = [p.cpr for p in listed]
            diagnosed = await self._fetch([DIAGNOSES_KEY], everyone, deadline_at, remember=False)
            results.update(diagnosed)
            packages = self.index.remember(
                viewer.org,
                listed,
                diagnosed.get(DIAGNOSES_KEY, {}),
                fresh_for=self.pipeline.fresh_ttl.get(DIAGNOSES_KEY[0], 0.0),
            )
        else:
            phase3.insert(0, DIAGNOSES_KEY)
        maybe = packages.patients(query.kind)

        # Phase 3: for those, consent and what order and filters read, all at once. Who is
        # in the package as this clinician may see it is decided when consent is in.
        fetched = await self._fetch(phase3, [p.cpr for p in maybe], deadline_at)
        results.update(fetched)
        diagnoses_of = results.get(DIAGNOSES_KEY, {})
        consents = fetched.get(CONSENT_KEY, {})
        if maybe and not any(r.ok for r in consents.values()):
            raise ConsentUnavailable(
                "The consent registry cannot be reached, so the work list cannot be shown."
            )
        with consent_span(ViewerKind.CLINICIAN) as span:
            candidates = in_package(viewer, query.kind, maybe, consents, diagnoses_of)
            note_decisions(span, decided=len(maybe), kept=len(candidates))
        now = self.clock()
        for candidate in candidates:
            self.entries.assemble(candidate, fetched, query.kind, now)
        matches = [c for c in candidates if c.matches(query.triage, query.alerts)]
        matches.sort(key=Candidate.sort_key)
        start = 0
        if after is not None:
            start = next((i for i, c in enumerate(matches) if c.sort_key() > after), len(matches))
        page = matches[start : start + query.first]
        has_next = start + query.first < len(matches)

        # The page's other sections (journal notes, say), for its entries only.
        page_keys = [k for k in self._keys(needs) if k not in order_keys]
        page_keys = [k for k in page_keys if k not in (CONSENT_KEY, DIAGNOSES_KEY)]
        if page_keys and page:
            more = await self._fetch(page_keys, [c.listed.cpr for c in page], deadline_at)
            results.update(more)
            for candidate in page:
                self.entries.assemble(candidate, more, query.kind, now)

        entries = [
            WorklistEntry(c.listed.cpr, c.listed.name, c.package, c.restricted)
            for c in page
            if c.package is not None
        ]
        await log_entries(self.access_log, viewer, page, request_id, self.pseudonym_key)
        if self.metrics is not None:
            self.metrics.worklist_entries.inc(len(entries))
        end = page[-1].sort_key() if page else after
        return Worklist(
            entries=entries,
            total=len(matches),
            end_cursor=self.cursors.encode(end, scope) if end is not None else None,
            has_next_page=has_next,
            sources=[*_statuses(results), listing],
        )

    @staticmethod
    def _scope(org: str, query: WorklistQuery) -> bytes:
        parts = [
            org,
            query.kind.value,
            ",".join(sorted(t.value for t in query.triage or ())) if query.triage else "*",
            ",".join(sorted(a.value for a in query.alerts or ())) if query.alerts else "*",
        ]
        return "|".join(parts).encode()

    async def _listed(self, org: str) -> tuple[SourceStatus, tuple[ListedPatient, ...]]:
        if self.listing is None:
            raise SourceUnavailable(
                "The work list needs the listing source, which is not configured here.",
                source="listing",
            )
        answer = await self.listing.listed(org)
        if not answer.ok:
            raise SourceUnavailable(
                f"Source 'listing' is unavailable ({answer.error}): the work list cannot "
                "be made without knowing who is listed with your clinic.",
                source="listing",
            )
        status = SourceStatus(
            name="listing",
            ok=True,
            stale=answer.stale,
            latency_ms=answer.latency_ms,
            cached=answer.cached,
        )
        return status, answer.patients

    def _keys(self, sources: Iterable[str], also: Sequence[SearchKey] = ()) -> list[SearchKey]:
        wanted = set(sources)
        keys = [k for k in self.pipeline.search_keys if k[0] in wanted]
        keys += [k for k in also if k[0] in self._configured]
        return list(dict.fromkeys(keys))

    async def _fetch(
        self,
        keys: Sequence[SearchKey],
        cprs: Sequence[str],
        deadline_at: float,
        *,
        remember: bool = True,
    ) -> dict[SearchKey, dict[str, SourceResult]]:
        """Every search of ``keys`` for ``cprs``: at most ``batch_size`` patients each, at once.

        ``remember``: the pipeline keeps the results decoded for the next read (the package's
        patients; not everyone listed, whom :class:`PackageIndex` stands for).

        A search still running at the deadline counts as failed for its patients; it is
        left to finish (and fill the cache), not cancelled.
        """
        configured = [k for k in keys if k[0] in self._configured]
        size = self.batch_size
        batches = [
            (key, list(cprs[i : i + size])) for key in configured for i in range(0, len(cprs), size)
        ]
        out: dict[SearchKey, dict[str, SourceResult]] = {key: {} for key in configured}
        if not batches:
            return out
        tasks = [
            asyncio.ensure_future(self.pipeline.fetch(key, batch, remember=remember))
            for key, batch in batches
        ]
        timeout = max(0.0, deadline_at - asyncio.get_running_loop().time())
        done, _pending = await asyncio.wait(tasks, timeout=timeout)
        for (key, batch), task in zip(batches, tasks, strict=True):
            answers = task.result() if task in done else [_DEADLINE_RESULT] * len(batch)
            out[key].update(zip(batch, answers, strict=True))
        return out


def _statuses(results: Mapping[SearchKey, Mapping[str, SourceResult]]) -> list[SourceStatus]:
    """One status per source asked: failed when any of its searches failed for anyone."""
    return source_statuses(
        ((source, r) for (source, _), answers in results.items() for r in answers.values()),
        of_patients=True,
    )
