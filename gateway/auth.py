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

import base64
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt
from cachetools import TLRUCache
from jwt import exceptions as jwt_errors

from core.cpr import is_valid_cpr
from core.errors import AuthError, ConfigError
from plans.viewer import Role, Viewer

from .jwks import ALLOWED_ALGORITHMS, SigningKeys

__all__ = ["ALLOWED_ALGORITHMS", "TokenVerifier", "bearer_token"]

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

    The key set is loaded on first use and refreshed when a token names an unknown
    ``kid``, at most once per ``min_refresh_interval`` seconds (:class:`SigningKeys`), so a
    key rotation at the identity provider is picked up without a restart.

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
        self._audience = audience
        self._leeway = leeway
        self._max_lifetime = max_lifetime
        self._keys = SigningKeys(
            jwks_url,
            http_client=http_client,
            min_refresh_interval=min_refresh_interval,
            clock=clock,
        )
        # Tokens already verified, by their exact text: a client sends the same token on
        # every request, and an ES256/RS256 check costs more than the rest of a cached plan's
        # auth. An entry lives until the token's exp or VERIFIED_TTL, whichever is first.
        self._verified: TLRUCache[str, tuple[float, Viewer]] = TLRUCache(
            maxsize=VERIFIED_MAX,
            ttu=lambda _token, entry, now: min(entry[0], now + VERIFIED_TTL),
            timer=lambda: time.time(),  # looked up per call: tests move the wall clock
        )

    async def verify(self, token: str) -> Viewer:
        """Check the token's signature and claims; return who it names.

        Raises:
            AuthError: the message names the failed check, e.g. ``"token expired"``.
        """
        hit = self._verified.get(token)
        if hit is not None:
            return hit[1]
        header = _plain_header(token)
        if header is None:  # anything unusual: PyJWT reads it (and names what is wrong)
            try:
                header = jwt.get_unverified_header(token)
            except jwt_errors.PyJWTError as exc:
                raise AuthError("malformed token") from exc
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            shown = alg if isinstance(alg, str) and _SAFE_ALG.match(alg) else "in header"
            raise AuthError(f"unsupported algorithm {shown}")
        key = await self._keys.key_for(header.get("kid"))
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
        self._verified[token] = (float(claims["exp"]), viewer)
        return viewer

    async def refresh(self) -> None:
        """(Re)load the JWKS now. On failure the keys already loaded stay in use.

        Raises:
            AuthError: the JWKS could not be loaded or holds no usable key.
        """
        await self._keys.refresh()

    async def aclose(self) -> None:
        """Close the HTTP client if the verifier created it."""
        await self._keys.aclose()


#: A base64url segment without padding, as PyJWT accepts it (its alphabet, no length 4n+1).
_SEGMENT = re.compile(r"(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?")


def _plain_header(token: str) -> dict[str, Any] | None:
    """The header of a plain compact JWS, read once, or None for any other token.

    ``jwt.decode`` reads the whole token again and checks everything; this only picks the
    key. PyJWT's own header read (``get_unverified_header``) decodes every segment checking
    each character in Python, which was a third of a fresh token's check. A token this
    does not read (padding, more segments, ``b64`` or ``crit`` headers, a ``kid`` that is
    not a string, anything that fails) goes PyJWT's way, with PyJWT's answer.
    """
    parts = token.split(".")
    if len(parts) != 3 or not all(_SEGMENT.fullmatch(part) for part in parts):
        return None
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, RecursionError):  # binascii.Error and JSONDecodeError are ValueErrors
        return None
    if not isinstance(header, dict) or "b64" in header or "crit" in header:
        return None
    if not isinstance(header.get("kid", ""), str):
        return None
    return header


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
