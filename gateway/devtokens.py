"""The embedded demo's token issuer: an ES256 key on disk and tokens signed with it.

Only for ``minplan serve`` without configured sources and ``minplan token``: both
processes load the same key file, so a token printed by one verifies in the other.

Example:
    issuer = DevIssuer()
    token = issuer.issue(role="citizen", cpr="0101701234", name="Demo Borger")
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.cpr import is_valid_cpr, pseudonymise_cpr
from core.errors import ConfigError

__all__ = ["DEV_ISSUER", "DevIssuer", "default_key_path"]

#: ``iss`` of every dev token; point ``MINPLAN_AUTH_ISSUER`` here to accept them.
DEV_ISSUER = "urn:minplan:dev-issuer"

_KEY_FILE = Path("minplan") / "dev-signing-key.pem"


def default_key_path() -> Path:
    """Where the dev signing key lives.

    ``$MINPLAN_DEV_KEY_FILE`` if set, else ``$XDG_STATE_HOME/minplan/dev-signing-key.pem``,
    else ``~/.local/state/minplan/dev-signing-key.pem``.
    """
    explicit = os.environ.get("MINPLAN_DEV_KEY_FILE")
    if explicit:
        return Path(explicit).expanduser()
    state_home = os.environ.get("XDG_STATE_HOME")
    # The XDG spec says relative values are invalid and must be ignored.
    if state_home and Path(state_home).is_absolute():
        return Path(state_home) / _KEY_FILE
    return Path.home() / ".local" / "state" / _KEY_FILE


class DevIssuer:
    """Issues ES256 dev tokens with a P-256 key persisted at ``key_path``.

    The key is loaded if the file exists, otherwise generated and written with mode
    0600 (parent directories created). When several processes create it at once, the
    first file to land wins and every process ends up using it.

    Args:
        key_path: the PEM (PKCS#8) private key file; :func:`default_key_path` if None.

    Raises:
        ConfigError: the file exists but is not a P-256 EC private key.
    """

    def __init__(self, key_path: Path | None = None) -> None:
        self.key_path = key_path if key_path is not None else default_key_path()
        self._private_key = _load_or_create(self.key_path)
        public = self._private_key.public_key().public_numbers()
        self._public_jwk: dict[str, str] = {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url(public.x.to_bytes(32, "big")),
            "y": _b64url(public.y.to_bytes(32, "big")),
        }
        self.kid: str = _thumbprint(self._public_jwk)
        # Keyed, so a citizen's ``sub`` cannot be brute-forced back to the CPR without the key.
        secret = self._private_key.private_numbers().private_value.to_bytes(32, "big")
        self._sub_key = hashlib.sha256(b"minplan-dev-sub\x00" + secret).digest()

    def jwks(self) -> dict[str, object]:
        """The public key as a JWK Set, with ``kid``, ``alg: ES256`` and ``use: sig``."""
        return {"keys": [{**self._public_jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}]}

    def issue(
        self,
        *,
        role: str,
        cpr: str | None = None,
        org: str | None = None,
        org_name: str | None = None,
        name: str | None = None,
        ttl: float = 12 * 3600,
        audience: str = "minplan",
    ) -> str:
        """A signed token for a citizen (needs ``cpr``) or a clinician (needs ``org``).

        Raises:
            ValueError: unknown role, a missing or malformed ``cpr``/``org``, or ``ttl <= 0``.
        """
        if role == "citizen":
            if cpr is None or not is_valid_cpr(cpr):
                raise ValueError("a citizen token needs a valid cpr (10 digits, DDMMYY first)")
            subject = f"dev-citizen-{pseudonymise_cpr(cpr, self._sub_key)[:8]}"
        elif role == "clinician":
            if not org:
                raise ValueError("a clinician token needs org (the SOR code)")
            seed = f"{org}\x00{name or ''}".encode()
            subject = f"dev-clinician-{hashlib.sha256(seed).hexdigest()[:8]}"
        else:
            raise ValueError(f"role must be citizen or clinician, got {role!r}")
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": DEV_ISSUER,
            "aud": [audience],
            "sub": subject,
            "iat": now,
            "exp": now + int(ttl),
            "role": role,
        }
        optional = {"cpr": cpr, "org": org, "org_name": org_name, "name": name}
        claims.update({k: v for k, v in optional.items() if v is not None})
        return jwt.encode(claims, self._private_key, algorithm="ES256", headers={"kid": self.kid})


def _load_or_create(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        return _parse_key(path.read_bytes(), path)
    except FileNotFoundError:
        pass
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkstemp creates the file 0600; the key is complete on disk before it gets its name.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".dev-signing-key-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(pem)
            tmp.flush()
            os.fsync(tmp.fileno())
        try:
            # link() refuses to overwrite: if another process got there first, use its key.
            os.link(tmp_name, path)
        except FileExistsError:
            return _parse_key(path.read_bytes(), path)
        except OSError:
            # A filesystem without hard links: replace atomically and read back what landed.
            os.replace(tmp_name, path)
            return _parse_key(path.read_bytes(), path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
    return key


def _parse_key(pem: bytes, path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"dev signing key {path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError(f"dev signing key {path} is not a P-256 EC private key")
    return key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638: SHA-256 of the required members, sorted, no whitespace, base64url."""
    required = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())
