"""SigningKeys: which keys of a JWKS are used, and when the JWKS is fetched again.

The verifier's view of the same behaviour (tokens accepted or refused) is in test_auth.py.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from core.errors import AuthError, ConfigError
from gateway.jwks import SigningKeys, jwks_path

URL = "https://idp.example/jwks"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    algorithm = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
    jwk = algorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid}


def private(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    return {**ECAlgorithm.to_jwk(key, as_dict=True), "kid": kid}


@respx.mock
async def test_private_and_encryption_keys_are_skipped(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    document = {
        "keys": [
            private(ec_key, "private"),
            {**public(rsa_key, "encryption"), "use": "enc"},
            public(rsa_key, "signing"),
        ]
    }
    respx.get(URL).mock(return_value=httpx.Response(200, json=document))
    async with httpx.AsyncClient() as client:
        keys = SigningKeys(URL, http_client=client)
        assert (await keys.key_for("signing")).algorithm_name == "RS256"
        for kid in ("private", "encryption"):
            with pytest.raises(AuthError, match=r"^unknown signing key$"):
                await keys.key_for(kid)


@respx.mock
async def test_the_first_key_of_a_kid_wins(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    document = {"keys": [public(ec_key, "same"), public(rsa_key, "same")]}
    respx.get(URL).mock(return_value=httpx.Response(200, json=document))
    async with httpx.AsyncClient() as client:
        keys = SigningKeys(URL, http_client=client)
        assert (await keys.key_for("same")).algorithm_name == "ES256"


@respx.mock
async def test_a_failed_refresh_keeps_the_loaded_keys(rsa_key: rsa.RSAPrivateKey) -> None:
    route = respx.get(URL)
    route.side_effect = [
        httpx.Response(200, json={"keys": [public(rsa_key, "k1")]}),
        httpx.Response(503),
    ]
    clock = Clock()
    async with httpx.AsyncClient() as client:
        keys = SigningKeys(URL, http_client=client, clock=clock)
        await keys.key_for("k1")
        clock.now += 61
        with pytest.raises(AuthError, match=r"^unknown signing key$"):
            await keys.key_for("rotated")  # the refresh it triggers fails
        assert (await keys.key_for("k1")).key_id == "k1"
    assert route.call_count == 2


@respx.mock
async def test_a_kid_that_is_not_a_string_is_unknown(rsa_key: rsa.RSAPrivateKey) -> None:
    document = {"keys": [public(rsa_key, "k1"), public(rsa_key, "k2")]}
    respx.get(URL).mock(return_value=httpx.Response(200, json=document))
    async with httpx.AsyncClient() as client:
        keys = SigningKeys(URL, http_client=client)
        for kid in (None, 7, ["k1"]):
            with pytest.raises(AuthError, match=r"^unknown signing key$"):
                await keys.key_for(kid)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        pytest.param("https://idp.example/jwks", None, id="https"),
        pytest.param("http://localhost:8080/jwks", None, id="http"),
        pytest.param("file:///etc/jwks.json", "/etc/jwks.json", id="file"),
        pytest.param("file://localhost/etc/jwks.json", "/etc/jwks.json", id="file-localhost"),
    ],
)
def test_jwks_path(url: str, path: str | None) -> None:
    found = jwks_path(url)
    assert (str(found) if found is not None else None) == path


def test_another_scheme_is_a_config_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="MINPLAN_AUTH_JWKS_URL"):
        SigningKeys("ftp://idp.example/jwks")
