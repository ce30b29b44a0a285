from __future__ import annotations

from demo.people import PATIENT_COPD
from tests.conftest import MakeGateway


async def test_citizen_reads_own_plan(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        body = await gw.data("{ plan { cpr packages { kind } } }", gw.citizen(PATIENT_COPD))
    assert body["data"]["plan"]["cpr"] == PATIENT_COPD
    assert [p["kind"] for p in body["data"]["plan"]["packages"]] == ["COPD"]
