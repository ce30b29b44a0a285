"""CSRF tokens for the pages' forms: signed, bound to a browser session and a viewer, dated.

Every page sets a random session id in an HttpOnly, SameSite=Strict cookie (once); a form
carries ``HMAC(key, purpose | session | viewer | issued)`` with the time it was issued. A
POST is accepted only with a token made for that cookie, that viewer and that form, and not
older than :data:`MAX_AGE`. The key is derived from the pseudonym key, so every instance
with the same settings accepts the others' tokens and nothing new has to be configured.

Example:
    tokens = CsrfTokens(key=settings.pseudonym_key.encode())
    token = tokens.issue(session, purpose="glass", viewer="clinician:380101000016003")
    tokens.check(token, session, purpose="glass", viewer="clinician:380101000016003")
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

__all__ = ["MAX_AGE", "SESSION_COOKIE", "CsrfTokens", "new_session"]

#: The cookie that names the browser session a form's token is bound to.
SESSION_COOKIE = "minplan_session"

#: Seconds a form may stay open before its token is refused.
MAX_AGE = 2 * 3600

_SESSION_BYTES = 24


def new_session() -> str:
    """A fresh, unguessable session id for :data:`SESSION_COOKIE`."""
    return secrets.token_urlsafe(_SESSION_BYTES)


class CsrfTokens:
    """Issues and checks form tokens; see the module docstring for what binds them."""

    def __init__(self, *, key: bytes, clock: Callable[[], float] = time.time) -> None:
        self._key = hmac.new(key, b"minplan-pages-csrf", hashlib.sha256).digest()
        self._clock = clock

    def issue(self, session: str, *, purpose: str, viewer: str) -> str:
        """A token for one form (``purpose``) of one viewer in one browser session."""
        issued = str(int(self._clock()))
        return f"{issued}.{self._sign(issued, session, purpose, viewer)}"

    def check(self, token: str | None, session: str | None, *, purpose: str, viewer: str) -> bool:
        """True when ``token`` was issued for this session, form and viewer, and is fresh."""
        if not token or not session:
            return False
        issued, _, signature = token.partition(".")
        if not issued.isascii() or not issued.isdigit() or len(issued) > 12:
            return False
        age = self._clock() - int(issued)
        if not 0 <= age <= MAX_AGE:
            return False
        expected = self._sign(issued, session, purpose, viewer)
        return hmac.compare_digest(signature.encode(), expected.encode())

    def _sign(self, issued: str, session: str, purpose: str, viewer: str) -> str:
        message = "\x00".join((purpose, session, viewer, issued)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
