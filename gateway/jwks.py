"""The identity provider's signing keys (JWKS), loaded on first use and refreshed on rotation.

Hand-written rather than PyJWT's ``PyJWKClient``: that one fetches with blocking urllib
(no shared httpx client, so no injected transport in tests), refetches after a cooldown
on every unknown ``kid``, and keeps no failed load to answer from for a short backoff.

Example:
    keys = SigningKeys("https://idp.example/jwks", http_client=client)
    key = await keys.key_for("key-1")  # a jwt.PyJWK
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx
import jwt
from jwt import exceptions as jwt_errors

from core.errors import AuthError, ConfigError

__all__ = ["ALLOWED_ALGORITHMS", "SigningKeys", "jwks_path"]

logger = logging.getLogger(__name__)

#: The only signature algorithms the gateway accepts (contract §2).
ALLOWED_ALGORITHMS: tuple[str, ...] = ("RS256", "ES256")

# After a failed first load, answer from the failure for this long instead of asking
# the identity provider again on every request (capped by min_refresh_interval).
_FAILED_LOAD_BACKOFF = 5.0
_UNAVAILABLE = "signing keys unavailable: "


class SigningKeys:
    """The usable keys of one JWKS, by ``kid``.

    The set is loaded on first use (one load even for many concurrent first requests).
    An unknown ``kid`` makes it fetch the set again, at most once per
    ``min_refresh_interval`` seconds; a failed refresh keeps the keys already loaded.

    Args:
        url: an ``http(s)://`` URL or a ``file://`` path of the JWKS.
        http_client: used for ``http(s)``; if None one is created and owned (close it
            with :meth:`aclose`).
        min_refresh_interval: least seconds between two fetches of the JWKS.
        clock: monotonic clock for the refresh rate limit (tests inject one).

    Raises:
        ConfigError: the URL is neither ``http(s)://host/…`` nor ``file:///path``.
    """

    def __init__(
        self,
        url: str,
        *,
        http_client: httpx.AsyncClient | None = None,
        min_refresh_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._path = jwks_path(url)
        self._client = http_client
        self._owns_client = http_client is None
        self._min_refresh_interval = min_refresh_interval
        self._clock = clock
        self._lock = asyncio.Lock()
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._fetched_at = -math.inf  # last fetch of the JWKS, ok or not
        self._failure: str | None = None  # why the last load failed

    async def key_for(self, kid: object) -> jwt.PyJWK:
        """The key named ``kid`` (or the only key, when the token names none).

        Raises:
            AuthError: no such key, even after a refresh, or the JWKS is unavailable.
        """
        keys = await self._ensure_loaded()
        if kid is None and len(keys) == 1:
            return next(iter(keys.values()))  # a single-key issuer may leave out "kid"
        if not isinstance(kid, str):
            raise AuthError("unknown signing key")
        if kid in keys:
            return keys[kid]
        async with self._lock:
            if self._keys is not None and kid in self._keys:
                return self._keys[kid]  # another request refreshed meanwhile
            if self._clock() - self._fetched_at >= self._min_refresh_interval:
                try:
                    await self._load()
                except AuthError as exc:
                    logger.warning("JWKS refresh for an unknown key id failed: %s", exc)
            if self._keys is not None and kid in self._keys:
                return self._keys[kid]
        raise AuthError("unknown signing key")

    async def refresh(self) -> None:
        """(Re)load the JWKS now. On failure the keys already loaded stay in use.

        Raises:
            AuthError: the JWKS could not be loaded or holds no usable key.
        """
        async with self._lock:
            await self._load()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _ensure_loaded(self) -> dict[str, jwt.PyJWK]:
        if self._keys is not None:
            return self._keys
        async with self._lock:
            if self._keys is not None:
                return self._keys
            backoff = min(_FAILED_LOAD_BACKOFF, self._min_refresh_interval)
            if self._failure is not None and self._clock() - self._fetched_at < backoff:
                raise AuthError(self._failure)
            return await self._load()

    async def _load(self) -> dict[str, jwt.PyJWK]:  # callers hold self._lock
        try:
            keys = _parse_jwks(await self._fetch())
        except AuthError as exc:
            self._fetched_at, self._failure = self._clock(), str(exc)
            raise
        self._keys, self._fetched_at, self._failure = keys, self._clock(), None
        return keys

    async def _fetch(self) -> object:
        if self._path is not None:
            try:
                text = await asyncio.to_thread(self._path.read_text, encoding="utf-8")
            except OSError as exc:
                logger.warning("cannot read JWKS file %s (%s)", self._path, type(exc).__name__)
                raise AuthError(_UNAVAILABLE + "JWKS file unreadable") from exc
        else:
            self._client = self._client or httpx.AsyncClient(timeout=5.0)
            try:
                response = await self._client.get(self._url)
            except httpx.HTTPError as exc:
                logger.warning("cannot fetch JWKS from %s (%s)", self._url, type(exc).__name__)
                raise AuthError(f"{_UNAVAILABLE}JWKS fetch failed ({type(exc).__name__})") from exc
            if not response.is_success:
                logger.warning("JWKS at %s answered HTTP %s", self._url, response.status_code)
                raise AuthError(f"{_UNAVAILABLE}JWKS answered HTTP {response.status_code}")
            text = response.text
        try:
            return json.loads(text)
        except ValueError as exc:
            raise AuthError(_UNAVAILABLE + "JWKS is not JSON") from exc


def jwks_path(url: str) -> Path | None:
    """The local path of a ``file://`` JWKS URL, None for ``http(s)``.

    Raises:
        ConfigError: any other URL.
    """
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return None
    if parts.scheme == "file" and parts.netloc in ("", "localhost") and parts.path:
        return Path(url2pathname(parts.path))
    raise ConfigError(
        "auth JWKS URL (MINPLAN_AUTH_JWKS_URL) must be an http(s):// URL or "
        f"file:///absolute/path, got {url!r}"
    )


def _parse_jwks(document: object) -> dict[str, jwt.PyJWK]:
    """Usable public signing keys by ``kid``: RS256/ES256 only, first of a ``kid`` wins."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise AuthError(_UNAVAILABLE + "JWKS has no 'keys' list")
    # Private ("d") and encryption keys have no business here; skip rather than trust.
    raw = [
        k
        for k in document["keys"]
        if isinstance(k, dict) and "d" not in k and k.get("use", "sig") == "sig"
    ]
    try:
        keyset = jwt.PyJWKSet.from_dict({"keys": raw})
    except jwt_errors.PyJWTError as exc:
        raise AuthError(_UNAVAILABLE + "JWKS has no usable key") from exc
    keys: dict[str, jwt.PyJWK] = {}
    for key in keyset:
        if key.algorithm_name in ALLOWED_ALGORITHMS:
            keys.setdefault(key.key_id or "", key)
    if not keys:
        raise AuthError(_UNAVAILABLE + "JWKS has no RS256 or ES256 key")
    return keys
