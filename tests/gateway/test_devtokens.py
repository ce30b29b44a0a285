"""DevIssuer: the demo's tokens verify like real ones, and its key outlives the process."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from core.errors import ConfigError
from gateway.auth import TokenVerifier
from gateway.devtokens import DEV_ISSUER, DevIssuer, default_key_path
from plans.viewer import Role, Viewer

CPR = "0101701234"


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "minplan" / "dev-signing-key.pem"


@pytest.fixture
def issuer(key_path: Path) -> DevIssuer:
    return DevIssuer(key_path)


@pytest.fixture
def verifier(issuer: DevIssuer, tmp_path: Path) -> TokenVerifier:
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(issuer.jwks()))
    return TokenVerifier(issuer=DEV_ISSUER, jwks_url=jwks_file.as_uri())


async def test_citizen_token_verifies(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    viewer = await verifier.verify(issuer.issue(role="citizen", cpr=CPR, name="Karen Jensen"))
    assert viewer.role is Role.CITIZEN
    assert viewer.cpr == CPR
    assert viewer.name == "Karen Jensen"
    assert viewer.subject.startswith("dev-citizen-")


async def test_clinician_token_verifies(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    token = issuer.issue(
        role="clinician", org="123456789", org_name="Lungemedicinsk amb.", name="Dr. Holm"
    )
    viewer = await verifier.verify(token)
    assert viewer == Viewer(
        Role.CLINICIAN,
        viewer.subject,
        org="123456789",
        org_name="Lungemedicinsk amb.",
        name="Dr. Holm",
    )
    assert viewer.subject.startswith("dev-clinician-")


def test_claims_and_header(issuer: DevIssuer) -> None:
    token = issuer.issue(role="citizen", cpr=CPR, ttl=60)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    assert header["kid"] == issuer.kid
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == DEV_ISSUER
    assert claims["aud"] == ["minplan"]
    assert claims["exp"] - claims["iat"] == 60
    assert set(claims) == {"iss", "aud", "sub", "iat", "exp", "role", "cpr"}  # None left out


def test_sub_does_not_carry_the_cpr(issuer: DevIssuer) -> None:
    claims = jwt.decode(issuer.issue(role="citizen", cpr=CPR), options={"verify_signature": False})
    sub = claims["sub"]
    assert CPR not in sub
    assert CPR[:6] not in sub
    assert hashlib.sha256(CPR.encode()).hexdigest()[:8] not in sub  # keyed, not a plain hash
    again = jwt.decode(issuer.issue(role="citizen", cpr=CPR), options={"verify_signature": False})
    assert again["sub"] == sub  # stable


def test_key_persisted_and_reused(key_path: Path) -> None:
    first = DevIssuer(key_path)
    assert key_path.exists()
    second = DevIssuer(key_path)
    assert second.kid == first.kid
    assert second.jwks() == first.jwks()
    # A token from one instance verifies with the other's public key.
    public = jwt.PyJWK(second.jwks()["keys"][0])  # type: ignore[index]
    token = first.issue(role="citizen", cpr=CPR)
    assert jwt.decode(token, public, algorithms=["ES256"], audience="minplan")["cpr"] == CPR


def test_key_file_mode_0600(key_path: Path) -> None:
    DevIssuer(key_path)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert not [p for p in key_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_concurrent_creation_agrees(key_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        kids = set(pool.map(lambda _: DevIssuer(key_path).kid, range(16)))
    assert kids == {DevIssuer(key_path).kid}


def test_kid_is_rfc7638_thumbprint(issuer: DevIssuer) -> None:
    jwk = issuer.jwks()["keys"][0]  # type: ignore[index]
    assert jwk["alg"] == "ES256"
    assert jwk["use"] == "sig"
    assert "d" not in jwk
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"], "y": jwk["y"]},
        separators=(",", ":"),
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    assert issuer.kid == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"role": "admin"}, "role must be citizen or clinician", id="bad-role"),
        pytest.param({"role": "citizen"}, "needs a valid cpr", id="citizen-without-cpr"),
        pytest.param({"role": "citizen", "cpr": "3102701234"}, "valid cpr", id="cpr-no-date"),
        pytest.param({"role": "clinician"}, "needs org", id="clinician-without-org"),
        pytest.param({"role": "citizen", "cpr": CPR, "ttl": 0}, "ttl", id="ttl-zero"),
    ],
)
def test_issue_refuses(issuer: DevIssuer, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        issuer.issue(**kwargs)  # type: ignore[arg-type]
    assert "3102701234" not in str(info.value)


@pytest.mark.parametrize(
    "pem",
    [
        pytest.param(b"not a key", id="garbage"),
        pytest.param(
            rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            id="rsa-key",
        ),
        pytest.param(
            ec.generate_private_key(ec.SECP384R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            id="p384-key",
        ),
    ],
)
def test_unusable_key_file(tmp_path: Path, pem: bytes) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(pem)
    with pytest.raises(ConfigError, match="dev signing key"):
        DevIssuer(path)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {"MINPLAN_DEV_KEY_FILE": "/run/k.pem", "XDG_STATE_HOME": "/xdg"},
            Path("/run/k.pem"),
            id="explicit-file",
        ),
        pytest.param(
            {"XDG_STATE_HOME": "/xdg"},
            Path("/xdg/minplan/dev-signing-key.pem"),
            id="xdg-state-home",
        ),
        pytest.param(
            {"XDG_STATE_HOME": "relative"},
            Path("/home/u/.local/state/minplan/dev-signing-key.pem"),
            id="relative-xdg-ignored",
        ),
        pytest.param({}, Path("/home/u/.local/state/minplan/dev-signing-key.pem"), id="home"),
    ],
)
def test_default_key_path(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: Path
) -> None:
    for name in ("MINPLAN_DEV_KEY_FILE", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", "/home/u")
    assert default_key_path() == expected
