"""CPR handling: validation and pseudonyms, so a CPR number never reaches a log in clear."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

__all__ = ["is_valid_cpr", "mask_cpr", "pseudonymise_cpr"]

_CPR = re.compile(r"[0-9]{10}")  # ASCII digits only, matched whole (fullmatch)
# Not inside a longer number; but a URL-encoded character (%22, a quote) may stand right
# before it, as in a GET query string that uvicorn's access log prints.
# Between the date and the serial: nothing, a hyphen, or a hyphen or space URL-encoded.
_CPR_ANYWHERE = re.compile(
    r"(?:(?<=%[0-9A-Fa-f]{2})|(?<!\d))(\d{6})(?:-|%2[dD]|\+|%20| )?(\d{4})(?!\d)"
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
    return hmac.new(key, cpr.encode(), hashlib.sha256).hexdigest()[:32]


def mask_cpr(text: str) -> str:
    """Replace anything that looks like a CPR number (DDMMYY-XXXX or 10 digits) in text."""
    return _CPR_ANYWHERE.sub("<cpr>", text)
