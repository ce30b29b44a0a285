"""TokenVerifier and bearer_token: what the gateway accepts as a caller, and why it refuses."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from jwt.warnings import InsecureKeyLengthWarning

from core.errors import AuthError, ConfigError
from gateway.auth import TokenVerifier, bearer_token
from plans.viewer import Role, Viewer

ISSUER = "https://idp.example/realms/minplan"
JWKS_URL = "https://idp.example/realms/minplan/jwks"
CPR = "0101701234"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: PrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    assert isinstance(jwk, dict)
    return {**jwk, "kid": kid, "use": "sig"}


def jwks(*entries: tuple[PrivateKey, str]) -> dict[str, Any]:
    return {"keys": [public_jwk(key, kid) for key, kid in entries]}


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "minplan",
        "sub": "user-1",
        "iat": now,
        "exp": now + 300,
        "role": "citizen",
        "cpr": CPR,
        "name": "Karen Jensen",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: PrivateKey, kid: str = "rsa-1", alg: str = "RS256") -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None = None) -> str:
    """A JWT built by hand: unsigned, or HMAC-SHA256 with ``secret`` (PyJWT refuses both)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    signature = b"" if secret is None else hmac.digest(secret, signing_input.encode(), "sha256")
    return f"{signing_input}.{b64url(signature)}"


@pytest.fixture
def write_jwks(tmp_path: Path) -> Callable[[dict[str, Any]], str]:
    def write(document: dict[str, Any]) -> str:
        path = tmp_path / "jwks.json"
        path.write_text(json.dumps(document))
        return path.as_uri()

    return write


@pytest.fixture
def verifier(
    write_jwks: Callable[[dict[str, Any]], str],
    rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
) -> TokenVerifier:
    url = write_jwks(jwks((rsa_key, "rsa-1"), (ec_key, "ec-1")))
    return TokenVerifier(issuer=ISSUER, jwks_url=url)


# --- accepted -------------------------------------------------------------------------


async def test_valid_rs256_citizen(verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    viewer = await verifier.verify(sign(claims(), rsa_key))
    assert viewer == Viewer(Role.CITIZEN, "user-1", cpr=CPR, name="Karen Jensen")
    assert viewer.is_citizen


async def test_valid_es256_clinician(
    verifier: TokenVerifier, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    token = sign(
        claims(role="clinician", cpr=None, org="123456789", org_name="Lungemed. amb.", sub=None),
        ec_key,
        kid="ec-1",
        alg="ES256",
    )
    viewer = await verifier.verify(token)
    assert viewer == Viewer(
        Role.CLINICIAN, "", org="123456789", org_name="Lungemed. amb.", name="Karen Jensen"
    )


async def test_clinician_cpr_claim_is_not_kept(
    verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    viewer = await verifier.verify(sign(claims(role="clinician", org="123456789"), rsa_key))
    assert viewer.cpr is None


async def test_audience_list_containing_minplan(
    verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    viewer = await verifier.verify(sign(claims(aud=["account", "minplan"]), rsa_key))
    assert viewer.cpr == CPR


async def test_expired_within_leeway_is_accepted(
    verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    viewer = await verifier.verify(sign(claims(exp=int(time.time()) - 10), rsa_key))
    assert viewer.subject == "user-1"


# --- refused --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"exp": int(time.time()) - 120}, "token expired", id="expired"),
        pytest.param({"iss": "https://evil.example"}, "wrong issuer", id="wrong-issuer"),
        pytest.param({"aud": "account"}, "wrong audience", id="wrong-audience"),
        pytest.param({"aud": ["account", "other"]}, "wrong audience", id="wrong-audience-list"),
        pytest.param({"exp": None}, "claim 'exp' missing", id="missing-exp"),
        pytest.param({"iss": None}, "claim 'iss' missing", id="missing-iss"),
        pytest.param({"aud": None}, "claim 'aud' missing", id="missing-aud"),
        pytest.param(
            {"cpr": "12345"}, "claim 'cpr' missing or malformed", id="citizen-cpr-too-short"
        ),
        pytest.param(
            {"cpr": "3102701234"}, "claim 'cpr' missing or malformed", id="citizen-cpr-no-date"
        ),
        pytest.param({"cpr": None}, "claim 'cpr' missing or malformed", id="citizen-no-cpr"),
        pytest.param({"cpr": 101701234}, "claim 'cpr' missing or malformed", id="cpr-not-str"),
        pytest.param(
            {"role": "clinician", "cpr": None}, "claim 'org' missing", id="clinician-no-org"
        ),
        pytest.param(
            {"role": "admin"}, "claim 'role' must be citizen or clinician", id="role-admin"
        ),
        pytest.param({"role": None}, "claim 'role' must be citizen or clinician", id="no-role"),
        pytest.param({"name": 42}, "claim 'name' must be a string", id="name-not-str"),
    ],
)
async def test_claims_refused(
    verifier: TokenVerifier,
    rsa_key: rsa.RSAPrivateKey,
    overrides: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(AuthError) as info:
        await verifier.verify(sign(claims(**overrides), rsa_key))
    assert str(info.value) == message
    assert CPR not in str(info.value)


async def test_unknown_kid(verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(AuthError, match=r"^unknown signing key$"):
        await verifier.verify(sign(claims(), rsa_key, kid="nobody"))


async def test_bad_signature_other_key_same_kid(
    verifier: TokenVerifier, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(AuthError, match=r"^bad signature$"):
        await verifier.verify(sign(claims(), other_rsa_key, kid="rsa-1"))


async def test_tampered_payload(verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    header, _, signature = sign(claims(), rsa_key).split(".")
    payload = b64url(json.dumps(claims(cpr="0202801234")).encode())
    with pytest.raises(AuthError, match=r"^bad signature$"):
        await verifier.verify(f"{header}.{payload}.{signature}")


@pytest.mark.parametrize(
    "alg",
    [pytest.param("none", id="alg-none"), pytest.param("None", id="alg-None-capitalised")],
)
async def test_alg_none(verifier: TokenVerifier, alg: str) -> None:
    token = forge({"alg": alg, "typ": "JWT", "kid": "rsa-1"}, claims())
    with pytest.raises(AuthError, match=f"^unsupported algorithm {alg}$"):
        await verifier.verify(token)


async def test_hs256_with_public_key_as_secret(
    verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    token = forge({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims(), secret=public_pem)
    with pytest.raises(AuthError, match=r"^unsupported algorithm HS256$"):
        await verifier.verify(token)


async def test_rs512_unsupported(verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(AuthError, match=r"^unsupported algorithm RS512$"):
        await verifier.verify(sign(claims(), rsa_key, alg="RS512"))


async def test_alg_not_matching_key(verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    # An RS256 token naming the EC key's kid must not be checked with that key.
    with pytest.raises(AuthError, match=r"^algorithm RS256 does not match the signing key$"):
        await verifier.verify(sign(claims(), rsa_key, kid="ec-1"))


async def test_short_rsa_key_refused(write_jwks: Callable[[dict[str, Any]], str]) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    verifier = TokenVerifier(issuer=ISSUER, jwks_url=write_jwks(jwks((weak, "weak"))))
    with pytest.warns(InsecureKeyLengthWarning):
        token = sign(claims(), weak, kid="weak")
    with pytest.raises(AuthError, match="signing key rejected"):
        await verifier.verify(token)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("not-a-jwt", id="one-segment"),
        pytest.param("a.b.c", id="garbage-segments"),
        pytest.param(forge({"alg": "RS256", "kid": 7}, {}), id="kid-not-string"),
    ],
)
async def test_malformed_token(verifier: TokenVerifier, token: str) -> None:
    with pytest.raises(AuthError, match=r"^malformed token$"):
        await verifier.verify(token)


async def test_unsafe_alg_is_not_echoed(verifier: TokenVerifier) -> None:
    with pytest.raises(AuthError, match=r"^unsupported algorithm in header$"):
        await verifier.verify(forge({"alg": "<script>" * 5, "kid": "rsa-1"}, claims()))


# --- the JWKS -------------------------------------------------------------------------


async def test_file_jwks(
    write_jwks: Callable[[dict[str, Any]], str], ec_key: ec.EllipticCurvePrivateKey
) -> None:
    url = write_jwks(jwks((ec_key, "ec-1")))
    assert url.startswith("file:///")
    verifier = TokenVerifier(issuer=ISSUER, jwks_url=url)
    viewer = await verifier.verify(sign(claims(), ec_key, kid="ec-1", alg="ES256"))
    assert viewer.cpr == CPR


async def test_single_key_without_kid(
    write_jwks: Callable[[dict[str, Any]], str], ec_key: ec.EllipticCurvePrivateKey
) -> None:
    document = jwks((ec_key, "ec-1"))
    del document["keys"][0]["kid"]
    verifier = TokenVerifier(issuer=ISSUER, jwks_url=write_jwks(document))
    token = jwt.encode(claims(), ec_key, algorithm="ES256")
    assert (await verifier.verify(token)).cpr == CPR


@respx.mock
async def test_http_jwks(rsa_key: rsa.RSAPrivateKey) -> None:
    route = respx.get(JWKS_URL).mock(return_value=httpx.Response(200, json=jwks((rsa_key, "k1"))))
    async with httpx.AsyncClient() as client:
        verifier = TokenVerifier(issuer=ISSUER, jwks_url=JWKS_URL, http_client=client)
        for _ in range(3):
            viewer = await verifier.verify(sign(claims(), rsa_key, kid="k1"))
            assert viewer.cpr == CPR
    assert route.call_count == 1  # cached


@respx.mock
async def test_owned_http_client_is_closed(rsa_key: rsa.RSAPrivateKey) -> None:
    respx.get(JWKS_URL).mock(return_value=httpx.Response(200, json=jwks((rsa_key, "k1"))))
    verifier = TokenVerifier(issuer=ISSUER, jwks_url=JWKS_URL)
    assert (await verifier.verify(sign(claims(), rsa_key, kid="k1"))).cpr == CPR
    await verifier.aclose()


@respx.mock
async def test_concurrent_first_requests_load_once(rsa_key: rsa.RSAPrivateKey) -> None:
    route = respx.get(JWKS_URL).mock(return_value=httpx.Response(200, json=jwks((rsa_key, "k1"))))
    token = sign(claims(), rsa_key, kid="k1")
    async with httpx.AsyncClient() as client:
        verifier = TokenVerifier(issuer=ISSUER, jwks_url=JWKS_URL, http_client=client)
        viewers = await asyncio.gather(*(verifier.verify(token) for _ in range(10)))
    assert {v.cpr for v in viewers} == {CPR}
    assert route.call_count == 1


@respx.mock
async def test_rotation_unknown_kid_refetches_once(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    route = respx.get(JWKS_URL)
    route.side_effect = [
        httpx.Response(200, json=jwks((rsa_key, "old"))),
        httpx.Response(200, json=jwks((rsa_key, "old"), (ec_key, "new"))),
    ]
    clock = FakeClock()
    async with httpx.AsyncClient() as client:
        verifier = TokenVerifier(issuer=ISSUER, jwks_url=JWKS_URL, http_client=client, clock=clock)
        await verifier.verify(sign(claims(), rsa_key, kid="old"))
        clock.now += 61
        viewer = await verifier.verify(sign(claims(), ec_key, kid="new", alg="ES256"))
        assert viewer.cpr == CPR
        await verifier.verify(sign(claims(), rsa_key, kid="old"))
    assert route.call_count == 2


@respx.mock
async def test_refetch_is_rate_limited(rsa_key: rsa.RSAPrivateKey) -> None:
    route = respx.get(JWKS_URL).mock(return_value=httpx.Response(200, json=jwks((rsa_key, "k1"))))
    clock = FakeClock()
    async with httpx.AsyncClient() as client:
        verifier = TokenVerifier(issuer=ISSUER, jwks_url=JWKS_URL, http_client=client, clock=clock)
        await verifier.verify(sign(claims(), rsa_key, kid="k1"))
        clock.now += 61
        for kid in ("stranger-1", "stranger-2"):
            with pytest.raises(AuthError, match=r"^unknown signing key$"):
                await verifier.verify(sign(claims(), rsa_key, kid=kid))
        assert route.call_count == 2  # the first load and one refetch
        clock.now += 61
        with pytest.raises(AuthError, match=r"^unknown signing key$"):
            await verifier.verify(sign(claims(), rsa_key, kid="stranger-3"))
    assert route.call_count == 3


@respx.mock
async def test_fresh_keys_are_not_refetched(rsa_key: rsa.RSAPrivateKey) -> None:
    route = respx.get(JWKS_URL).mock(return_value=httpx.Response(200, json=jwks((rsa_key, "k1"))))
    async with httpx.AsyncClient() as client:
        verifier = TokenVerifier(issuer=ISSUER, jwks_url=JWKS_URL, http_client=client)
        with pytest.raises(AuthError, match=r"^unknown signing key$"):
            await verifier.verify(sign(claims(), rsa_key, kid="stranger"))
    assert route.call_count == 1


@respx.mock
@pytest.mark.parametrize(
    ("answer", "message"),
    [
        pytest.param(httpx.ConnectError("refused"), "JWKS fetch failed", id="unreachable"),
        pytest.param(httpx.ReadTimeout("slow"), "JWKS fetch failed", id="timeout"),
        pytest.param(httpx.Response(503), "JWKS answered HTTP 503", id="http-503"),
        pytest.param(httpx.Response(200, text="<html>"), "JWKS is not JSON", id="not-json"),
        pytest.param(httpx.Response(200, json=[]), "no 'keys' list", id="not-a-jwks"),
        pytest.param(httpx.Response(200, json={"keys": []}), "no usable key", id="no-keys"),
        pytest.param(
            httpx.Response(200, json={"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}),
            "no RS256 or ES256 key",
            id="only-hmac-key",
        ),
    ],
)
async def test_jwks_unavailable(
    rsa_key: rsa.RSAPrivateKey, answer: httpx.Response | Exception, message: str
) -> None:
    respx.get(JWKS_URL).mock(side_effect=[answer])
    async with httpx.AsyncClient() as client:
        verifier = TokenVerifier(issuer=ISSUER, jwks_url=JWKS_URL, http_client=client)
        with pytest.raises(AuthError, match=r"^signing keys unavailable: ") as info:
            await verifier.verify(sign(claims(), rsa_key, kid="k1"))
    assert message in str(info.value)


@respx.mock
async def test_jwks_recovers_after_backoff(rsa_key: rsa.RSAPrivateKey) -> None:
    route = respx.get(JWKS_URL)
    route.side_effect = [httpx.Response(500), httpx.Response(200, json=jwks((rsa_key, "k1")))]
    clock = FakeClock()
    token = sign(claims(), rsa_key, kid="k1")
    async with httpx.AsyncClient() as client:
        verifier = TokenVerifier(issuer=ISSUER, jwks_url=JWKS_URL, http_client=client, clock=clock)
        for _ in range(2):
            with pytest.raises(AuthError, match="HTTP 500"):
                await verifier.verify(token)
        assert route.call_count == 1  # the second request did not hammer the IdP
        clock.now += 6
        assert (await verifier.verify(token)).cpr == CPR
    assert route.call_count == 2


async def test_jwks_file_missing(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = TokenVerifier(issuer=ISSUER, jwks_url=(tmp_path / "absent.json").as_uri())
    with pytest.raises(AuthError, match=r"^signing keys unavailable: JWKS file unreadable$"):
        await verifier.verify(sign(claims(), rsa_key))


async def test_refresh_keeps_old_keys_on_failure(
    tmp_path: Path, write_jwks: Callable[[dict[str, Any]], str], rsa_key: rsa.RSAPrivateKey
) -> None:
    verifier = TokenVerifier(issuer=ISSUER, jwks_url=write_jwks(jwks((rsa_key, "rsa-1"))))
    await verifier.refresh()
    (tmp_path / "jwks.json").write_text("{")
    with pytest.raises(AuthError, match="not JSON"):
        await verifier.refresh()
    assert (await verifier.verify(sign(claims(), rsa_key))).cpr == CPR


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("ftp://idp.example/jwks", id="ftp"),
        pytest.param("/etc/jwks.json", id="bare-path"),
        pytest.param("file://etc/jwks.json", id="file-with-host"),
        pytest.param("https:///jwks", id="https-without-host"),
    ],
)
def test_bad_jwks_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="MINPLAN_AUTH_JWKS_URL"):
        TokenVerifier(issuer=ISSUER, jwks_url=url)


# --- bearer_token ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "token"),
    [
        pytest.param("Bearer abc.def.ghi", "abc.def.ghi", id="plain"),
        pytest.param("bearer abc.def.ghi", "abc.def.ghi", id="scheme-lowercase"),
        pytest.param("  Bearer   abc.def.ghi  ", "abc.def.ghi", id="extra-spaces"),
    ],
)
def test_bearer_token(header: str, token: str) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize(
    ("header", "message"),
    [
        pytest.param(None, "missing bearer token", id="no-header"),
        pytest.param("", "missing bearer token", id="empty"),
        pytest.param("Bearer", "missing bearer token", id="scheme-only"),
        pytest.param("Bearer   ", "missing bearer token", id="scheme-and-spaces"),
        pytest.param("Basic dXNlcjpwdw==", "authorization scheme must be Bearer", id="basic"),
        pytest.param("abc.def.ghi", "authorization scheme must be Bearer", id="no-scheme"),
        pytest.param("Bearer a.b.c d.e.f", "malformed bearer token", id="two-tokens"),
    ],
)
def test_bearer_token_refused(header: str | None, message: str) -> None:
    with pytest.raises(AuthError) as info:
        bearer_token(header)
    assert str(info.value) == message


def test_messages_never_carry_the_token() -> None:
    secret = hashlib.sha256(b"x").hexdigest()
    with pytest.raises(AuthError) as info:
        bearer_token(f"Token {secret}")
    assert secret not in str(info.value)


async def test_a_verified_token_is_remembered_until_its_time_runs_out(
    verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gateway.auth as auth

    token = sign(claims(), rsa_key)
    decodes: list[str] = []
    real_decode = auth.jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        decodes.append("decode")
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(auth.jwt, "decode", counting_decode)
    first = await verifier.verify(token)
    assert await verifier.verify(token) == first
    assert decodes == ["decode"], "the second request reused the first verification"

    later = time.time() + auth.VERIFIED_TTL + 1
    monkeypatch.setattr(auth.time, "time", lambda: later)
    await verifier.verify(token)
    assert len(decodes) == 2, "past its time, the token's signature is checked again"


# --- lifetime and claim shapes (issue 10) ---------------------------------------------

HOUR = 3600


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"exp": 1e308}, "claim 'exp' too far ahead", id="exp-1e308"),
        pytest.param(
            {"exp": lambda now: now + 25 * HOUR}, "claim 'exp' too far ahead", id="exp-in-25h"
        ),
        pytest.param(
            {"exp": lambda now: float(now + 2 * 86_400)},
            "claim 'exp' too far ahead",
            id="exp-float-in-2-days",
        ),
        pytest.param({"exp": "9999999999"}, "claim 'exp' must be a number", id="exp-string"),
        pytest.param(
            {"exp": lambda now: str(now + HOUR)},
            "claim 'exp' must be a number",
            id="exp-string-soon",
        ),
        pytest.param({"exp": True}, "token", id="exp-true"),
        pytest.param({"exp": float("inf")}, "", id="exp-infinity"),
        pytest.param({"exp": float("nan")}, "", id="exp-nan"),
        pytest.param({"iat": "0"}, "claim 'iat'", id="iat-string"),
        pytest.param({"iat": True}, "claim 'iat' must be a number", id="iat-true"),
    ],
)
async def test_token_times_refused(
    verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey, overrides: dict[str, Any], message: str
) -> None:
    now = int(time.time())
    values = {k: v(now) if callable(v) else v for k, v in overrides.items()}
    with pytest.raises(AuthError) as info:
        await verifier.verify(sign(claims(**values), rsa_key))
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    "exp",
    [
        pytest.param(23 * HOUR, id="exp-in-23h"),
        pytest.param(24 * HOUR, id="exp-in-24h"),
        pytest.param(24 * HOUR + 20, id="exp-in-24h-within-leeway"),
        pytest.param(0.5 * HOUR, id="exp-float"),
    ],
)
async def test_token_within_lifetime_accepted(
    verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey, exp: float
) -> None:
    viewer = await verifier.verify(sign(claims(exp=time.time() + exp), rsa_key))
    assert viewer.cpr == CPR


async def test_max_lifetime_is_configurable(
    write_jwks: Callable[[dict[str, Any]], str], rsa_key: rsa.RSAPrivateKey
) -> None:
    short = TokenVerifier(
        issuer=ISSUER, jwks_url=write_jwks(jwks((rsa_key, "rsa-1"))), max_lifetime=600, leeway=0
    )
    assert (await short.verify(sign(claims(exp=int(time.time()) + 500), rsa_key))).cpr == CPR
    with pytest.raises(AuthError, match="claim 'exp' too far ahead"):
        await short.verify(sign(claims(exp=int(time.time()) + 700), rsa_key))


@pytest.mark.parametrize(
    "org",
    [
        pytest.param(" ", id="blank"),
        pytest.param("", id="empty"),
        pytest.param("' OR 1=1 --", id="sql"),
        pytest.param("12a", id="letter"),
        pytest.param(" 380101000016003", id="leading-space"),
        pytest.param("380101000016003\n", id="trailing-newline"),
        pytest.param("٣٨٠١٠١", id="arabic-indic-digits"),
        pytest.param("１２３", id="fullwidth-digits"),
        pytest.param("1" * 21, id="21-digits"),
        pytest.param("-1", id="signed"),
    ],
)
async def test_org_must_be_a_sor_code(
    verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey, org: str
) -> None:
    token = sign(claims(role="clinician", cpr=None, org=org), rsa_key)
    with pytest.raises(AuthError) as info:
        await verifier.verify(token)
    assert str(info.value) == "claim 'org' must be a SOR code (1-20 digits)"


@pytest.mark.parametrize(
    "org", ["380101000016003", "265161000016000", "1001081000016004", "469401000016002", "1"]
)
async def test_sor_codes_accepted(
    verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey, org: str
) -> None:
    viewer = await verifier.verify(sign(claims(role="clinician", cpr=None, org=org), rsa_key))
    assert viewer.org == org


# --- the header read once ---------------------------------------------------------------


def _padded(token: str) -> str:
    return ".".join(part + "=" * (-len(part) % 4) for part in token.split("."))


def _odd_tokens(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> list[str]:
    good = sign(claims(), rsa_key)
    head, payload, signature = good.split(".")
    return [
        good,
        sign(claims(), ec_key, kid="ec-1", alg="ES256"),
        _padded(good),  # padding: PyJWT reads it (the signature then covers other bytes)
        f"{head}.{payload}.{signature}.{signature}",  # a fourth segment
        f"{head}.{payload}!.{signature}",  # a character outside base64url
        f"{head}.AAAAA.{signature}",  # a segment of length 4n + 1
        f"{head}..{signature}",  # an empty payload
        f"{b64url(b'[1, 2]')}.{payload}.{signature}",  # a header that is not an object
        f"{b64url(b'{nope')}.{payload}.{signature}",  # a header that is not JSON
        forge({"alg": "RS256", "kid": 7}, claims()),
        forge({"alg": "RS256", "kid": "rsa-1", "crit": ["exp"]}, claims()),
        forge({"alg": "RS256", "kid": "rsa-1", "b64": False}, claims()),
        forge({"alg": "none"}, claims()),
        forge({"alg": "RS512", "kid": "rsa-1"}, claims()),
        sign(claims(), rsa_key, kid="rsa-9"),  # a kid the JWKS does not have
        f"{head}.{payload}.{signature[:-4]}AAAA",  # a signature that does not verify
    ]


async def _outcome(verifier: TokenVerifier, token: str) -> Viewer | str:
    try:
        return await verifier.verify(token)
    except AuthError as exc:
        return str(exc)


async def test_header_read_once_answers_as_pyjwt(
    write_jwks: Callable[[dict[str, Any]], str],
    rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every token, odd or not, gets the answer PyJWT's own header read gives it."""
    url = write_jwks(jwks((rsa_key, "rsa-1"), (ec_key, "ec-1")))
    tokens = _odd_tokens(rsa_key, ec_key)
    ours = [await _outcome(TokenVerifier(issuer=ISSUER, jwks_url=url), t) for t in tokens]
    monkeypatch.setattr("gateway.auth._plain_header", lambda _token: None)
    pyjwt = [await _outcome(TokenVerifier(issuer=ISSUER, jwks_url=url), t) for t in tokens]
    assert ours == pyjwt
    assert isinstance(ours[0], Viewer) and isinstance(ours[1], Viewer)
    assert ours[3:6] == ["malformed token"] * 3
