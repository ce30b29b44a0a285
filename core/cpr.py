"""CPR handling: validation and pseudonyms, so a CPR number never reaches a log in clear."""

from __future__ import annotations

import functools
import hmac
import re
from collections.abc import Callable
from datetime import date

__all__ = ["is_valid_cpr", "mask_cpr", "pseudonymise_cpr", "pseudonymiser"]

_CPR = re.compile(r"[0-9]{10}")  # ASCII digits only, matched whole (fullmatch)
# The second net for logs (the first: logs that never hold request values at all).
# A digit, or one percent-encoded.
_DIGIT = r"(?:[0-9]|%3[0-9])"
# What people and encoders put between a CPR's parts: hyphens and dashes, spaces, a tab,
# slash, dot, plus, underscore; literal, percent-encoded, or escaped as repr and JSON print them.
_SEPARATOR = (
    r"(?:[-\u2010-\u2015\u2212\u00a0\u2007\u202f \t/.+_]"
    r"|%(?:2[0BbDdEeFf]|09|5[Ff]|[Cc]2%[Aa]0|[Ee]2%80%9[0-5]|[Ee]2%88%92)"
    r"|\\(?:t|xa0|u(?:00a0|201[0-5]|2212)))"
)
_GAP = f"{_SEPARATOR}{{0,3}}"  # up to three: "010152 - 1234", "01.01.52"
# Not inside a longer run of letters or digits (a hex request id, base64, an order
# number): a CPR stands apart. Letters that end a percent or backslash escape (%22, %3A,
# \t) do not count, so `plan(cpr:%220101521234%22)` is still masked.
_BEFORE = r"(?:(?<=%[0-9A-Fa-f]{2})|(?<=\\[tnr])|(?<![A-Za-z0-9]))"
_AFTER = r"(?![A-Za-z0-9])"
_CPR_ANYWHERE = re.compile(
    f"{_BEFORE}(?:"
    + _GAP.join(f"{_DIGIT}{{{n}}}" for n in (2, 2, 2, 4))
    # A CPR sent as a JSON number loses its leading zero (0101521234 -> 101521234):
    # nine digits that make a CPR date with a zero in front (checked in _mask).
    + f"|[1-9][0-9]{{8}}){_AFTER}"
)


def _century(yy: int, seventh: int) -> int:
    # The 7th digit and the two-digit year give the century (CPR-kontoret's table).
    if seventh <= 3:
        return 1900
    if seventh in (4, 9):
        return 2000 if yy <= 36 else 1900
    return 2000 if yy <= 57 else 1800


def is_valid_cpr(value: str) -> bool:
    """True for ten digits whose first six are a real date (DDMMYY).

    The modulus-11 check is not applied: CPR numbers issued since 2007 need not pass it.

    >>> is_valid_cpr("0101701234"), is_valid_cpr("3102701234"), is_valid_cpr("12345")
    (True, False, False)
    """
    if not _CPR.fullmatch(value):
        return False
    dd, mm, yy, seventh = int(value[0:2]), int(value[2:4]), int(value[4:6]), int(value[6])
    try:
        date(_century(yy, seventh) + yy, mm, dd)
    except ValueError:
        return False
    return True


def pseudonymise_cpr(cpr: str, key: bytes) -> str:
    """A stable keyed pseudonym of a CPR number (HMAC-SHA256, hex, 32 chars)."""
    return hmac.digest(key, cpr.encode(), "sha256").hex()[:32]


def pseudonymiser(key: bytes, *, remember: int = 65_536) -> Callable[[str], str]:
    """:func:`pseudonymise_cpr` with ``key``, remembering the last ``remember`` CPRs' pseudonyms.

    A clinic's work list looks up the same thousands of patients on every read, in several
    searches each; an HMAC per lookup is work repeated for nothing.

    >>> pseudonymiser(b"k")("0101701234") == pseudonymise_cpr("0101701234", b"k")
    True
    """

    @functools.lru_cache(maxsize=remember)
    def pseudonym(cpr: str) -> str:
        return pseudonymise_cpr(cpr, key)

    return pseudonym


def mask_cpr(text: str) -> str:
    """Replace anything that looks like a CPR number in text with ``<cpr>``.

    Ten digits (or DDMMYY and four digits with separators: dashes, spaces, a tab, slash,
    dots, ``+``; each possibly percent-encoded, digits too), standing apart from other
    letters and digits; and nine digits that are a CPR less its leading zero.

    >>> mask_cpr("cpr=01.01.52-1234, request b0101521234a4b6")
    'cpr=<cpr>, request b0101521234a4b6'
    """
    return _CPR_ANYWHERE.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    found = match.group()
    if len(found) == 9 and not is_valid_cpr("0" + found):
        return found  # nine digits that are no date: some other number
    return "<cpr>"
