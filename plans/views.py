"""Ids of a plan and its packages, one set per view (contract §3, v2).

A client cache that normalises by id (Apollo Client, urql) merges every answer that carries
the same ``__typename:id``. So ``Plan.id`` and ``CarePackage.id`` name the patient *and the
view*: what this viewer may see of them in this request. The same viewer asking twice, or
two clinicians of one organisation under the same consent, get the same ids; the patient,
a proxy, another organisation, another block or a break-the-glass read get others, and a
cached ordinary read can never pick up what an override showed.

Ids are keyed hashes (HMAC-SHA256 with the pseudonym key), so they reveal neither the CPR
nor the view.
"""

from __future__ import annotations

import hashlib
import hmac

from .consent import Access, ViewerKind
from .model import PackageKind

__all__ = ["ViewIds", "view_key"]


def view_key(access: Access, *, proxy: str | None = None) -> str:
    """Everything that decides what one viewer sees of a patient's plan, as one string.

    Args:
        access: the consent decision for this request.
        proxy: the proxy's CPR pseudonym (never the CPR), for a proxy's view.

    >>> from plans.consent import Access, ViewerKind
    >>> view_key(Access(ViewerKind.CLINICIAN, "265161000016000", frozenset({"journal"}),
    ...                 frozenset(), None))
    'clinician|org=265161000016000|denied=journal|overridden=|glass=0'
    """
    if access.kind is ViewerKind.PATIENT:
        return "patient"
    if access.kind is ViewerKind.PROXY:
        return f"proxy|of={proxy or ''}"
    # The org decides which withheld items show; denied and overridden, which sections. A
    # break-the-glass read is a view of its own even when it overrode nothing, so a client
    # never mixes an override's answer with an ordinary one; its reason text is not part of it.
    glass = "1" if access.emergency_reason is not None else "0"
    return (
        f"clinician|org={access.viewer_org or ''}"
        f"|denied={','.join(sorted(access.denied))}"
        f"|overridden={','.join(sorted(access.overridden))}|glass={glass}"
    )


class ViewIds:
    """Makes the ids of one patient's plan and packages in one view.

    >>> ids = ViewIds(b"key")
    >>> ids.plan_id("0101521234", "patient") == ids.plan_id("0101521234", "patient")
    True
    >>> ids.plan_id("0101521234", "patient") != ids.plan_id("0101521234", "proxy|of=x")
    True
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _digest(self, *parts: str) -> str:
        # Joined by a character no tag, CPR or kind holds; the view key, which might, comes
        # last: no two different part lists hash the same message.
        message = "\x1f".join(parts).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:24]

    def plan_id(self, cpr: str, view: str) -> str:
        return f"plan-{self._digest('plan', cpr, view)}"

    def package_id(self, cpr: str, kind: PackageKind, view: str) -> str:
        return f"{kind.value.lower()}-{self._digest('package', cpr, kind.value, view)}"
