"""Who may see what, in one place (contract §3): the consent policy of the gateway.

Every read of a patient's data is decided here, plans and access logs alike. The rules
run after fetching and before assembly, on connector records, so nothing a rule removes
can reach a resolver.

- A citizen sees their own plan and access log, less withheld items; so does a proxy (an
  active ``permit`` Consent with a ``proxy`` actor carrying their CPR).
- A clinician sees the plan less withheld items of other organisations, less the sections
  an active ``deny`` Consent naming their organisation covers (all, when it names none).
  ``emergencyReason`` overrides deny Consents; withheld items stay withheld.
- Fail closed: unknown Consents (the source failed, or sent one it could not read) are
  no rules, so clinicians and proxies get CONSENT_UNAVAILABLE; the patient does not.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from core.codes import CPR_SYSTEM, SOR_SYSTEM
from core.errors import BadUserInput, ConsentUnavailable, Forbidden
from core.records import ConsentProvisionRecord, ConsentRecord, Record
from plans.emergency_reason import normalise_reason
from plans.viewer import Viewer, resolve_patient

__all__ = [
    "ALL_CLASSES",
    "CONSENT_SOURCE",
    "SOURCE_CLASS",
    "Access",
    "AccessRequest",
    "Purpose",
    "ViewerKind",
    "check_proxy",
    "decide_access",
    "filter_records",
    "is_proxy_for",
    "request_access",
    "source_cache_ttls",
]

#: The source whose Consents are the rules.
CONSENT_SOURCE = "consent"

#: The consent classes (``Consent.provision.class[].code``), i.e. the plan sections a block
#: covers; version 2's ``measurements`` and ``medication`` last, as the contract lists them.
ALL_CLASSES: tuple[str, ...] = (
    "diagnoses", "appointments", "journal", "goals", "prevention", "measurements", "medication",
)  # fmt: skip

#: The consent class covering each source's data. Triage and the course (careplan) and health
#: literacy (pro) have no class of their own: they belong to the care plan's agreements, so a
#: block of ``goals`` hides them too (fail closed). A source not named here is never shown.
SOURCE_CLASS: dict[str, str] = {
    "diagnoses": "diagnoses",
    "appointments": "appointments",
    "journal": "journal",
    "careplan": "goals",
    "pro": "goals",
    "prevention": "prevention",
    "observations": "measurements",
    "medication": "medication",
}


class Purpose(enum.Enum):
    """What a patient's data is read for; a refusal names it."""

    PLAN = "plan"
    ACCESS_LOG = "access log"


#: Per purpose: why nothing is shown when Consents are unknown, and when a citizen is no proxy.
_REFUSALS: dict[Purpose, tuple[str, str]] = {
    Purpose.PLAN: (
        "The consent registry cannot be reached, so this plan cannot be shown to you.",
        "You may read only your own plan or one you hold power of attorney for.",
    ),
    Purpose.ACCESS_LOG: (
        "The consent registry cannot be reached, so your power of attorney cannot be checked.",
        "You may read only your own access log or one you are proxy for.",
    ),
}


class ViewerKind(enum.Enum):
    PATIENT = "patient"
    PROXY = "proxy"
    CLINICIAN = "clinician"


@dataclass(frozen=True, slots=True)
class Access:
    """What one viewer may see of one patient's plan in one request."""

    kind: ViewerKind
    viewer_org: str | None
    denied: frozenset[str]  # consent classes removed from this view
    overridden: frozenset[str]  # classes a block would remove, overridden by emergencyReason
    emergency_reason: str | None

    @property
    def allowed(self) -> tuple[str, ...]:
        return tuple(c for c in ALL_CLASSES if c not in self.denied)

    @property
    def logged(self) -> bool:
        """Reads by anyone but the patient go to the access log."""
        return self.kind is not ViewerKind.PATIENT


def viewer_kind(viewer: Viewer, patient: str) -> ViewerKind:
    if viewer.is_clinician:
        return ViewerKind.CLINICIAN
    return ViewerKind.PATIENT if viewer.cpr == patient else ViewerKind.PROXY


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """Who asks for which patient's data, why and for what: all but the Consents' verdict."""

    viewer: Viewer
    patient: str
    kind: ViewerKind
    purpose: Purpose
    emergency_reason: str | None  # as logged: normalised

    @property
    def needs_consents(self) -> bool:
        """The patient's own reads need no Consent, so they never fail on the consent source."""
        return self.kind is not ViewerKind.PATIENT

    @property
    def consents_first(self) -> bool:
        """A proxy is checked before anything else of the patient is fetched."""
        return self.kind is ViewerKind.PROXY

    def decide(self, consents: Sequence[ConsentRecord] | None) -> Access:
        """The access this request has, given the patient's Consents.

        Args:
            consents: the patient's Consents, or None when they are unknown (fail closed).

        Raises:
            Forbidden: a citizen who is neither the patient nor their proxy.
            ConsentUnavailable: Consents unknown, and the viewer is not the patient.
        """
        nothing: frozenset[str] = frozenset()
        if self.kind is ViewerKind.PATIENT:
            return Access(self.kind, None, nothing, nothing, None)
        if self.kind is ViewerKind.PROXY:
            check_proxy(self.viewer, self.patient, consents, purpose=self.purpose)
            return Access(self.kind, None, nothing, nothing, None)
        if consents is None:
            raise ConsentUnavailable(_REFUSALS[self.purpose][0])
        org = self.viewer.org
        blocked = frozenset(_blocked_classes(consents, self.patient, org or ""))
        if self.emergency_reason is not None:
            return Access(self.kind, org, nothing, blocked, self.emergency_reason)
        return Access(self.kind, org, blocked, nothing, None)


def request_access(
    viewer: Viewer,
    cpr: str | None,
    *,
    purpose: Purpose = Purpose.PLAN,
    emergency_reason: str | None = None,
) -> AccessRequest:
    """Check all that needs no Consent, before anything is fetched.

    Raises:
        Forbidden: a clinician asking for an access log (it is the patient's).
        BadUserInput: a bad CPR (see :func:`resolve_patient`), an emergencyReason from a
            citizen, or one that breaks :data:`plans.emergency_reason.REASON_RULE`.
    """
    if purpose is Purpose.ACCESS_LOG and not viewer.is_citizen:
        raise Forbidden("The access log is for the patient and their proxies only.")
    patient = resolve_patient(viewer, cpr)
    kind = viewer_kind(viewer, patient)
    if emergency_reason is not None:
        if kind is not ViewerKind.CLINICIAN:
            raise BadUserInput("emergencyReason is for clinicians breaking the glass.")
        emergency_reason = normalise_reason(emergency_reason)
    return AccessRequest(viewer, patient, kind, purpose, emergency_reason)


def decide_access(
    viewer: Viewer,
    patient: str,
    consents: Sequence[ConsentRecord] | None,
    emergency_reason: str | None = None,
) -> Access:
    """The access one viewer has to one patient's plan: :func:`request_access`, then decide."""
    return request_access(viewer, patient, emergency_reason=emergency_reason).decide(consents)


def check_proxy(
    viewer: Viewer,
    patient: str,
    consents: Sequence[ConsentRecord] | None,
    *,
    purpose: Purpose = Purpose.PLAN,
) -> None:
    """The proxy check: a citizen reading another's data must be their proxy.

    Raises:
        ConsentUnavailable: the Consents are unknown (None), so no power of attorney is.
        Forbidden: no active Consent makes ``viewer`` the patient's proxy.
    """
    unavailable, not_a_proxy = _REFUSALS[purpose]
    if consents is None:
        raise ConsentUnavailable(unavailable)
    if viewer.cpr is None or not is_proxy_for(consents, patient, viewer.cpr):
        raise Forbidden(not_a_proxy)


def is_proxy_for(consents: Iterable[ConsentRecord], patient: str, citizen_cpr: str) -> bool:
    """True when an active Consent of ``patient`` permits ``citizen_cpr`` as proxy.

    Fail closed over the provision tree: some ``permit`` provision names them with role
    ``proxy``, and no ``deny`` provision of an active Consent names them at all.
    """
    permitted = False
    for node in _active_provisions(consents, patient):
        named = [a for a in node.actors if a.system == CPR_SYSTEM and a.value == citizen_cpr]
        if node.kind == "deny" and named:
            return False
        permitted = permitted or (node.kind == "permit" and any(a.role == "proxy" for a in named))
    return permitted


def _blocked_classes(consents: Iterable[ConsentRecord], patient: str, org: str) -> set[str]:
    """The classes every ``deny`` provision naming ``org`` covers, nested ones included."""
    blocked: set[str] = set()
    for node in _active_provisions(consents, patient):
        if node.kind != "deny":
            continue
        if any(a.system == SOR_SYSTEM and a.value == org for a in node.actors):
            # An unknown or unreadable ("") class is treated as "everything": we cannot
            # tell what it covers.
            known = [k for k in node.classes if k in ALL_CLASSES]
            if not node.classes or len(known) != len(node.classes):
                return set(ALL_CLASSES)
            blocked.update(known)
    return blocked


def _active_provisions(
    consents: Iterable[ConsentRecord], patient: str
) -> Iterator[ConsentProvisionRecord]:
    for c in consents:
        if c.active and c.patient == patient:
            yield from c.provisions()


def may_see(access: Access, record: Record) -> bool:
    """Withheld items stay with their custodian organisation, emergency or not."""
    if not record.withheld:
        return True
    clinician = access.kind is ViewerKind.CLINICIAN
    return clinician and record.custodian is not None and record.custodian == access.viewer_org


def filter_records(
    access: Access, by_source: Mapping[str, Sequence[Record]]
) -> tuple[dict[str, list[Record]], bool]:
    """The records this access may see, by source, and whether anything was removed.
    Consent records themselves never pass (no class): they are the rules, not the plan."""
    visible: dict[str, list[Record]] = {}
    restricted = bool(access.denied)
    for source, records in by_source.items():
        section = SOURCE_CLASS.get(source)
        if section is None or section in access.denied:
            continue
        kept = [r for r in records if may_see(access, r)]
        restricted = restricted or len(kept) != len(records)
        visible[source] = kept
    return visible, restricted


def source_cache_ttls(
    source: str, *, fresh: float, stale: float, consent_fresh_at_most: float
) -> tuple[float, float]:
    """How long a source's cached answer is served (fresh) and may stand in for a failure
    (stale), in seconds, as the consent policy allows.

    Consent is fresh for at most ``consent_fresh_at_most`` however its TTL is set, so a
    new block applies within it; and it is never served stale: rules we cannot confirm
    now are unknown rules, and unknown rules fail closed.

    >>> source_cache_ttls("consent", fresh=60, stale=600, consent_fresh_at_most=5)
    (5, 0.0)
    """
    if source == CONSENT_SOURCE:
        return min(fresh, consent_fresh_at_most), 0.0
    return fresh, stale
