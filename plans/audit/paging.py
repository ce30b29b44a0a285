"""Paging through a patient's access log: the page, its keyset position, the opaque cursor.

Pages are keyset pages on ``(at, id)``, newest first: an entry written while a patient
pages is newer than every cursor, so it never shifts, duplicates or skips an older one.
The cursor is base64url of ``{"at": …, "id": …}``; it names a position only, never the
patient (the reader is checked on every page) and never a CPR.

Example:
    >>> key = PageKey(datetime(2026, 3, 1, 9, 30, tzinfo=UTC), 42)
    >>> decode_cursor(encode_cursor(key)) == key
    True
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from plans.audit.base import AccessRecord

__all__ = [
    "MAX_CURSOR_LENGTH",
    "MAX_PAGE_SIZE",
    "AccessPage",
    "PageKey",
    "check_page_size",
    "decode_cursor",
    "encode_cursor",
]

#: ``first`` at most (and what ``accessLog`` returns without paging).
MAX_PAGE_SIZE = 500
#: A cursor we make is well under this; anything longer is not ours.
MAX_CURSOR_LENGTH = 200
# Row ids are SQLite INTEGER / PostgreSQL bigint.
_MAX_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class PageKey:
    """The position of one entry in newest-first order: its time (UTC) and row id."""

    at: datetime
    id: int


@dataclass(frozen=True, slots=True)
class AccessPage:
    """One page of a patient's entries, newest first.

    Attributes:
        entries: At most ``first`` entries.
        total: Every entry of the patient matching ``since``, across all pages.
        end: The last entry's position (for the next page's cursor), None when empty.
        has_next: True when older entries follow.
    """

    entries: tuple[AccessRecord, ...]
    total: int
    end: PageKey | None
    has_next: bool


def check_page_size(first: int) -> int:
    """Return ``first`` if it is 1 to :data:`MAX_PAGE_SIZE`, else raise ValueError."""
    if isinstance(first, bool) or not 1 <= first <= MAX_PAGE_SIZE:
        raise ValueError(f"first must be between 1 and {MAX_PAGE_SIZE}, not {first}")
    return first


def encode_cursor(key: PageKey) -> str:
    """The opaque cursor of a position."""
    at = key.at.astimezone(UTC).isoformat(timespec="microseconds")
    raw = json.dumps({"at": at, "id": key.id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> PageKey:
    """The position a cursor names.

    Raises:
        ValueError: not a cursor made by :func:`encode_cursor` (malformed or altered).
    """
    if not 0 < len(cursor) <= MAX_CURSOR_LENGTH or not cursor.isascii():
        raise ValueError("not a cursor of this access log")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        at_text, row_id = data["at"], data["id"]
        if set(data) != {"at", "id"} or not isinstance(at_text, str):
            raise ValueError("unexpected fields")
        if type(row_id) is not int or not 0 < row_id <= _MAX_ID:
            raise ValueError("bad id")
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("naive time")
        at = at.astimezone(UTC)
    except (ValueError, TypeError, KeyError, OverflowError, binascii.Error) as exc:
        # json.JSONDecodeError and UnicodeDecodeError are ValueErrors too.
        raise ValueError("not a cursor of this access log") from exc
    return PageKey(at, row_id)
