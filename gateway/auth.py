"""Bearer tokens: verify a JWT against the identity provider's JWKS and make a Viewer.

The contract (§2): RS256 or ES256 only, ``iss`` the configured issuer, ``minplan`` in
``aud``, ``exp`` required and checked. Beyond it: ``exp`` (and ``iat`` when present) is a
finite number no further ahead than the maximum token lifetime, and a clinician's ``org``
is a SOR code (ASCII digits). Every failure is an :class:`AuthError` whose
message names the failed check and never carries the token or a CPR number.

Example:
    verifier = TokenVerifier(issuer="https://idp.example", jwks_url="file:///etc/jwks.json")
    viewer = await verifier.verify(bearer_token(request.headers.get("authorization")))
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx
import jwt
from jwt import exceptions as jwt_errors

from core.cpr import is_valid_cpr
from core.errors import AuthError, ConfigError
from plans.viewer import Role, Viewer

__all__ = ["ALLOWED_ALGORITHMS", "TokenVerifier", "bearer_token"]

logger = logging.getLogger(__name__)

#: The only signature algorithms the gateway accepts (contract §2).
ALLOWED_ALGORITHMS: tuple[str, ...] = ("RS256", "ES256")

# After a failed first load, answer from the failure for this long instead of asking
# the identity provider again on every request (capped by min_refresh_interval).
_FAILED_LOAD_BACKOFF = 5.0
_UNAVAILABLE = "signing keys unavailable: "
_SAFE_ALG = re.compile(r"^[A-Za-z0-9+_-]{1,20}$")
# A SOR code: ASCII digits only (\d would also take other scripts' digits).
_SOR_CODE = re.compile(r"[0-9]{1,20}")

# PyJWT's exception -> the check that failed. Order matters: subclasses first.
_DECODE_ERRORS: tuple[tuple[type[jwt_errors.PyJWTError], str], ...] = (
    (jwt_errors.ExpiredSignatureError, "token expired"),
    (jwt_errors.ImmatureSignatureError, "token not yet valid"),
    (jwt_errors.InvalidIssuerError, "wrong issuer"),
    (jwt_errors.InvalidAudienceError, "wrong audience"),
    (jwt_errors.InvalidSignatureError, "bad signature"),
    (jwt_errors.InvalidIssuedAtError, "claim 'iat' malformed"),
    (jwt_errors.InvalidSubjectError, "claim 'sub' malformed"),
    (jwt_errors.InvalidJTIError, "claim 'jti' malformed"),
    (jwt_errors.InvalidKeyError, "signing key rejected (too short or malformed)"),
    (jwt_errors.DecodeError, "malformed token"),
)


def bearer_token(authorization: str | None) -> str:
    """The JWT from an ``Authorization: Bearer <jwt>`` header value.

    Raises:
        AuthError: no header, another scheme, or not exactly one token after ``Bearer``.

    >>> bearer_token("Bearer abc.def.ghi")
    'abc.def.ghi'
    """
    if authorization is None or not authorization.strip():
        raise AuthError("missing bearer token")
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise AuthError("authorization scheme must be Bearer")
    token = rest.strip()
    if not token:
        raise AuthError("missing bearer token")
    if len(token.split()) != 1:
        raise AuthError("malformed bearer token")
    return token


#: Seconds a verified token is trusted without checking its signature again, and how many
#: such tokens are kept.
VERIFIED_TTL = 60.0
VERIFIED_MAX = 10_000


class TokenVerifier:
    """Verifies bearer tokens against a JWKS and turns their claims into a :class:`Viewer`.

    The key set is loaded on first use (one load even for many concurrent first
    requests) and cached. A token whose ``kid`` is not in the cache makes the verifier
    fetch the JWKS again, at most once per ``min_refresh_interval`` seconds, so a key
    rotation at the identity provider is picked up without a restart.

    Args:
        issuer: the required ``iss``.
        jwks_url: an ``http(s)://`` URL or a ``file://`` path of the JWKS.
        audience: must be in the token's ``aud``.
        leeway: clock skew allowed on ``exp``/``nbf``/``iat``, seconds.
        max_lifetime: a token whose ``exp`` lies further ahead than this (plus the
            leeway), seconds, is refused: a stolen long-lived token would never expire.
        http_client: used for ``http(s)`` JWKS; if None the verifier creates and owns
            one (close it with :meth:`aclose`).
        min_refresh_interval: least seconds between two fetches of the JWKS.
        clock: monotonic clock for the refresh rate limit (tests inject one).
    """

    def __init__(
        self,
        *,
        issuer: str,
        jwks_url: str,
        audience: str = "minplan",
        leeway: float = 30.0,
        max_lifetime: float = 86_400.0,
        http_client: httpx.AsyncClient | None = None,
        min_refresh_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not issuer:
            raise ConfigError("auth issuer (MINPLAN_AUTH_ISSUER) is empty")
        self._issuer = issuer
        self._jwks_url = jwks_url
        self._jwks_path = _jwks_path(jwks_url)
        self._audience = audience
        self._leeway = leeway
        self._max_lifetime = max_lifetime
        self._client = http_client
        self._owns_client = http_client is None
        self._min_refresh_interval = min_refresh_interval
        self._clock = clock
        self._lock = asyncio.Lock()
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._fetched_at = -math.inf  # last fetch of the JWKS, ok or not
        self._failure: str | None = None  # why the last load failed
        # Tokens already verified, by their exact text: a client sends the same token on
        # every request, and an ES256/RS256 check costs more than the rest of a cached plan's
        # auth. An entry lives until the token's exp or VERIFIED_TTL, whichever is first.
        self._verified: dict[str, tuple[float, Viewer]] = {}

    async def verify(self, token: str) -> Viewer:
        """Check the token's signature and claims; return who it names.

        Raises:
            AuthError: the message names the failed check, e.g. ``"token expired"``.
        """
        hit = self._verified.get(token)
        if hit is not None:
            if hit[0] > time.time():
                return hit[1]
            del self._verified[token]
        try:
            header = jwt.get_unverified_header(token)
        except jwt_errors.PyJWTError as exc:
            raise AuthError("malformed token") from exc
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            shown = alg if isinstance(alg, str) and _SAFE_ALG.match(alg) else "in header"
            raise AuthError(f"unsupported algorithm {shown}")
        key = await self._key_for(header.get("kid"))
        if key.algorithm_name != alg:
            raise AuthError(f"algorithm {alg} does not match the signing key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALLOWED_ALGORITHMS),
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud"], "enforce_minimum_key_length": True},
            )
        except jwt_errors.MissingRequiredClaimError as exc:
            raise AuthError(f"claim '{exc.claim}' missing") from exc
        except jwt_errors.PyJWTError as exc:
            message = next((m for t, m in _DECODE_ERRORS if isinstance(exc, t)), "invalid token")
            raise AuthError(message) from exc
        _check_times(claims, latest_exp=time.time() + self._max_lifetime + self._leeway)
        viewer = _viewer_from_claims(claims)
        self._remember(token, float(claims["exp"]), viewer)
        return viewer

    def _remember(self, token: str, exp: float, viewer: Viewer) -> None:
        if len(self._verified) >= VERIFIED_MAX:
            del self._verified[next(iter(self._verified))]  # the oldest
        self._verified[token] = (min(exp, time.time() + VERIFIED_TTL), viewer)

    async def refresh(self) -> None:
        """(Re)load the JWKS now. On failure the keys already cached stay in use.

        Raises:
            AuthError: the JWKS could not be loaded or holds no usable key.
        """
        async with self._lock:
            await self._load()

    async def aclose(self) -> None:
        """Close the HTTP client if the verifier created it."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _key_for(self, kid: object) -> jwt.PyJWK:
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
        if self._jwks_path is not None:
            try:
                text = await asyncio.to_thread(self._jwks_path.read_text, encoding="utf-8")
            except OSError as exc:
                logger.warning("cannot read JWKS file %s (%s)", self._jwks_path, type(exc).__name__)
                raise AuthError(_UNAVAILABLE + "JWKS file unreadable") from exc
        else:
            self._client = self._client or httpx.AsyncClient(timeout=5.0)
            try:
                response = await self._client.get(self._jwks_url)
            except httpx.HTTPError as exc:
                logger.warning("cannot fetch JWKS from %s (%s)", self._jwks_url, type(exc).__name__)
                raise AuthError(f"{_UNAVAILABLE}JWKS fetch failed ({type(exc).__name__})") from exc
            if not response.is_success:
                logger.warning("JWKS at %s answered HTTP %s", self._jwks_url, response.status_code)
                raise AuthError(f"{_UNAVAILABLE}JWKS answered HTTP {response.status_code}")
            text = response.text
        try:
            return json.loads(text)
        except ValueError as exc:
            raise AuthError(_UNAVAILABLE + "JWKS is not JSON") from exc


def _jwks_path(url: str) -> Path | None:
    """The local path of a ``file://`` JWKS URL, None for ``http(s)``."""
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


def _is_number(value: object) -> bool:
    # JSON true is a Python bool, and PyJWT would read "9999999999" as a number: neither is.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_times(claims: Mapping[str, Any], *, latest_exp: float) -> None:
    """``exp`` (and ``iat`` when present) are numbers, and ``exp`` is not too far ahead."""
    exp = claims["exp"]
    if not _is_number(exp):
        raise AuthError("claim 'exp' must be a number")
    if exp > latest_exp:
        raise AuthError("claim 'exp' too far ahead (longer than the maximum token lifetime)")
    if "iat" in claims and not _is_number(claims["iat"]):
        raise AuthError("claim 'iat' must be a number")


def _viewer_from_claims(claims: Mapping[str, Any]) -> Viewer:
    role = claims.get("role")
    if role not in (Role.CITIZEN.value, Role.CLINICIAN.value):
        raise AuthError("claim 'role' must be citizen or clinician")
    subject = claims.get("sub") or ""
    org, org_name, name = (_optional_str(claims, c) for c in ("org", "org_name", "name"))
    if org is not None and not _SOR_CODE.fullmatch(org):
        raise AuthError("claim 'org' must be a SOR code (1-20 digits)")
    if role == Role.CITIZEN.value:
        cpr = claims.get("cpr")
        if not isinstance(cpr, str) or not is_valid_cpr(cpr):
            raise AuthError("claim 'cpr' missing or malformed")
        return Viewer(Role.CITIZEN, subject, cpr=cpr, org=org, org_name=org_name, name=name)
    if not org:
        raise AuthError("claim 'org' missing")
    return Viewer(Role.CLINICIAN, subject, org=org, org_name=org_name, name=name)


def _optional_str(claims: Mapping[str, Any], claim: str) -> str | None:
    value = claims.get(claim)
    if value is not None and not isinstance(value, str):
        raise AuthError(f"claim '{claim}' must be a string")
    return value
