"""The break-the-glass reason (contract §3, v2): readable, on one line, logged as judged.

The reason is shown to the patient in their access log, so it must be text a person can
read; who may give one at all is the consent policy's rule (:mod:`plans.consent`).
"""

from __future__ import annotations

import unicodedata

from core.errors import BadUserInput

__all__ = [
    "MAX_REASON_LENGTH",
    "MIN_REASON_ALNUM",
    "REASON_RULE",
    "REFUSED_REASON_CATEGORIES",
    "normalise_reason",
]

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


def normalise_reason(reason: str) -> str:
    """The reason as logged (NFKC, trimmed).

    Raises:
        BadUserInput: the reason breaks :data:`REASON_RULE`; the message says the rule.

    >>> normalise_reason("  Akut indlagt ")
    'Akut indlagt'
    """
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
