"""Token lifetime and claim shapes over HTTP: refused with 401 before any source is asked."""

from __future__ import annotations

import pytest

from tests.conftest import MakeGateway

HOUR = 3600
GP = "380101000016003"
KAREN = "0101521234"


async def _status(gw: object, token: str) -> tuple[int, str]:
    response = await gw.query("{ me { role org } }", token)  # type: ignore[attr-defined]
    body = response.json()
    message = body["errors"][0]["message"] if response.status_code != 200 else ""
    return response.status_code, message


@pytest.mark.parametrize(
    ("ttl", "expected"),
    [
        pytest.param(25 * HOUR, 401, id="25h-refused"),
        pytest.param(365 * 24 * HOUR, 401, id="a-year-refused"),
        pytest.param(23 * HOUR, 200, id="23h-accepted"),
    ],
)
async def test_token_lifetime_over_http(make_gateway: MakeGateway, ttl: int, expected: int) -> None:
    async with make_gateway() as gw:
        token = gw.issuer.issue(role="citizen", cpr=KAREN, ttl=ttl)
        status, message = await _status(gw, token)
        assert gw.upstream.requests == []
    assert status == expected
    if expected == 401:
        assert "claim 'exp' too far ahead" in message


async def test_max_token_lifetime_setting(make_gateway: MakeGateway) -> None:
    async with make_gateway(auth_max_token_lifetime=HOUR) as gw:
        assert (await _status(gw, gw.issuer.issue(role="citizen", cpr=KAREN, ttl=HOUR)))[0] == 200
        assert (await _status(gw, gw.issuer.issue(role="citizen", cpr=KAREN, ttl=2 * HOUR)))[
            0
        ] == 401


@pytest.mark.parametrize(
    ("org", "expected"),
    [
        pytest.param(" ", 401, id="blank"),
        pytest.param("' OR 1=1 --", 401, id="sql"),
        pytest.param("12a", 401, id="letter"),
        pytest.param(" " + GP, 401, id="leading-space"),
        pytest.param(GP, 200, id="gp-sor-code"),
    ],
)
async def test_org_claim_over_http(make_gateway: MakeGateway, org: str, expected: int) -> None:
    async with make_gateway() as gw:
        status, message = await _status(gw, gw.issuer.issue(role="clinician", org=org))
    assert status == expected
    if expected == 401:
        assert "claim 'org' must be a SOR code (1-20 digits)" in message
