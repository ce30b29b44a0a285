"""Who may see what, in one place (contract §3): proxies, blocks, break the glass, withheld items.

The rules run after fetching and before assembly, on connector records, so nothing a rule
removes can reach a resolver, whatever the query asks for.

- A citizen sees their own plan, less withheld items; a proxy (an active ``permit`` Consent
  with a ``proxy`` actor carrying their CPR) sees the same.
- A clinician sees the plan less withheld items of other organisations, less the sections
  an active ``deny`` Consent naming their organisation covers (all, when it names none).
  ``emergencyReason`` overrides deny Consents; withheld items stay withheld.
- Consent source unavailable: clinicians and proxies get CONSENT_UNAVAILABLE.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from core.codes import CPR_SYSTEM, SOR_SYSTEM
from core.errors import BadUserInput, ConsentUnavailable, Forbidden
from core.records import ConsentProvisionRecord, ConsentRecord, Record
from plans.viewer import Viewer

__all__ = [
    "ALL_CLASSES",
    "CONSENT_SOURCE",
    "MAX_REASON_LENGTH",
    "MIN_REASON_ALNUM",
    "REASON_RULE",
    "SOURCE_CLASS",
    "Access",
    "ViewerKind",
    "check_reason",
    "decide_access",
    "filter_records",
    "is_proxy_for",
    "source_cache_ttls",
]

#: The source whose Consents are the rules.
CONSENT_SOURCE = "consent"

#: The consent classes (``Consent.provision.class[].code``), i.e. the plan sections a block covers.
ALL_CLASSES: tuple[str, ...] = ("diagnoses", "appointments", "journal", "goals", "prevention")

#: The consent class covering each source's data. Triage (careplan) and health literacy (pro)
#: have no class of their own: they belong to the care plan's agreements, so a block of
#: ``goals`` hides them too (fail closed).
SOURCE_CLASS: dict[str, str] = {
    "diagnoses": "diagnoses",
    "appointments": "appointments",
    "journal": "journal",
    "careplan": "goals",
    "pro": "goals",
    "prevention": "prevention",
}

MAX_REASON_LENGTH = 500
#: Letters or digits a reason needs at least, so that the patient can read why.
MIN_REASON_ALNUM = 3
#: Unicode categories a reason may not hold: control (newline, tab), format (zero-width,
#: soft hyphen, bidi marks, embeddings, overrides and isolates), private use, surrogates,
#: unassigned, line and paragraph separators. They hide or garble text in the access log.
REFUSED_REASON_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
REASON_RULE = (
    f"emergencyReason must say why in at least {MIN_REASON_ALNUM} letters or digits, "
    f"at most {MAX_REASON_LENGTH} characters, on one line, without control, format or "
    "bidi characters (such as tabs, line breaks, zero-width or direction marks)"
)


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


def decide_access(
    viewer: Viewer,
    patient: str,
    consents: Sequence[ConsentRecord] | None,
    emergency_reason: str | None = None,
) -> Access:
    """The access one viewer has to one patient's plan.

    Args:
        consents: the patient's Consents, or None when the consent source is unavailable.

    Raises:
        Forbidden: a citizen who is neither the patient nor their proxy.
        ConsentUnavailable: consents unknown, and the viewer is not the patient.
        BadUserInput: an emergencyReason from a citizen, or one that breaks REASON_RULE.
    """
    kind = viewer_kind(viewer, patient)
    reason = _check_reason(kind, emergency_reason)
    if kind is ViewerKind.PATIENT:
        return Access(kind, None, frozenset(), frozenset(), None)
    if consents is None:
        raise ConsentUnavailable(
            "The consent registry cannot be reached, so this plan cannot be shown to you."
        )
    if kind is ViewerKind.PROXY:
        if viewer.cpr is None or not is_proxy_for(consents, patient, viewer.cpr):
            raise Forbidden(
                "You may read only your own plan or one you hold power of attorney for."
            )
        return Access(kind, None, frozenset(), frozenset(), None)
    blocked = frozenset(_blocked_classes(consents, patient, viewer.org or ""))
    if reason is not None:
        return Access(kind, viewer.org, frozenset(), blocked, reason)
    return Access(kind, viewer.org, blocked, frozenset(), None)


def check_reason(viewer: Viewer, patient: str, reason: str | None) -> str | None:
    """The emergencyReason as it will be logged; checked before anything is fetched.

    Raises:
        BadUserInput: a reason from a citizen, or one that breaks REASON_RULE.
    """
    return _check_reason(viewer_kind(viewer, patient), reason)


def _check_reason(kind: ViewerKind, reason: str | None) -> str | None:
    """The reason as logged (NFKC, trimmed), or BadUserInput saying the rule."""
    if reason is None:
        return None
    if kind is not ViewerKind.CLINICIAN:
        raise BadUserInput("emergencyReason is for clinicians breaking the glass.")
    # NFKC first, so fullwidth or compatibility spellings are judged (and logged) as plain text.
    reason = unicodedata.normalize("NFKC", reason).strip()
    if not reason:
        raise BadUserInput(f"{REASON_RULE}; it was blank.")
    if len(reason) > MAX_REASON_LENGTH:
        raise BadUserInput(f"{REASON_RULE}; it was {len(reason)} characters.")
    categories = [unicodedata.category(c) for c in reason]
    if any(c in REFUSED_REASON_CATEGORIES for c in categories):
        raise BadUserInput(f"{REASON_RULE}; it holds an invisible or control character.")
    if sum(c[0] in "LN" for c in categories) < MIN_REASON_ALNUM:
        raise BadUserInput(f"{REASON_RULE}; it has too few letters or digits.")
    return reason


def may_see(access: Access, record: Record) -> bool:
    """Withheld items stay with their custodian organisation, emergency or not."""
    if not record.withheld:
        return True
    return (
        access.kind is ViewerKind.CLINICIAN
        and record.custodian is not None
        and (record.custodian == access.viewer_org)
    )


def filter_records(
    access: Access, by_source: Mapping[str, Sequence[Record]]
) -> tuple[dict[str, list[Record]], bool]:
    """The records this access may see, by source, and whether anything was removed.

    Consent records themselves never pass: they are the rules, not the plan.
    """
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
