"""The work list's cursors: opaque, sealed, bound to their query (contract §5)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import BadUserInput

__all__ = ["SortKey", "WorklistCursors"]

#: (alert priority rank, triage rank, oldest alert since as an ordinal, CPR): the order.
SortKey = tuple[int, int, int, str]


class WorklistCursors:
    """Opaque, tamper-proof cursors: the last entry's sort key, sealed with AES-GCM.

    The key ends in a CPR, which must not travel in clear (a cursor may end up in a URL and
    so in a log). Sealing also binds a cursor to its query (organisation, kind, filters):
    one from another query is refused rather than paging somewhere unexpected.
    """

    def __init__(self, secret: bytes) -> None:
        key = hmac.new(secret, b"minplan worklist cursor", hashlib.sha256).digest()
        self._aead = AESGCM(key)

    def encode(self, key: SortKey, scope: bytes) -> str:
        nonce = uuid.uuid4().bytes[:12]
        sealed = self._aead.encrypt(nonce, json.dumps(key).encode(), scope)
        return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def decode(self, cursor: str, scope: bytes) -> SortKey:
        """The key ``cursor`` seals for this query.

        Raises:
            BadUserInput: not a cursor of this work list query.
        """
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            plain = self._aead.decrypt(raw[:12], raw[12:], scope)
            priority, triage, since, cpr = json.loads(plain)
            return int(priority), int(triage), int(since), str(cpr)
        except (ValueError, InvalidTag, TypeError):
            raise BadUserInput(
                "after is not a cursor of this work list: pass the endCursor of the page "
                "before, with the same kind, triage and alerts."
            ) from None
