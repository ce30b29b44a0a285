"""The ``prevention`` source: ServiceRequest → PreventionOfferRecord, its link from two places."""

from __future__ import annotations

import pytest

from connectors.prevention import OFFER_URL_EXTENSION, SOURCE, parse_service_request
from core.records import PreventionOfferRecord
from tests.connectors.conftest import (
    CPR_A,
    CPR_B,
    Factory,
    Fetch,
    coding,
    icd10,
    restricted_label,
    sks,
)

RYGSKOLE = "https://www.aarhus.dk/rygskole"
KOL_HOLD = "https://www.sundhed.dk/borger/kol-rehabilitering"


def test_offer_maps_every_field(make_offer: Factory) -> None:
    resource = make_offer("sr-rygskole", CPR_A, codes=[icd10("M54.5"), sks("DJ449")])
    assert parse_service_request(SOURCE, resource) == PreventionOfferRecord(
        source="prevention",
        source_id="sr-rygskole",
        patient=CPR_A,
        codes=("M54.5", "J44.9"),
        withheld=False,
        title="Rygskole",
        provider="Aarhus Kommune, Sundhed og Omsorg",
        status="active",
        url=RYGSKOLE,
    )


def _extension(url: str = OFFER_URL_EXTENSION, value: str = KOL_HOLD) -> dict[str, str]:
    return {"url": url, "valueUrl": value}


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        pytest.param({"supportingInfo": [{"display": RYGSKOLE}]}, RYGSKOLE, id="supportingInfo"),
        pytest.param({"extension": [_extension()]}, KOL_HOLD, id="offer-url-extension"),
        pytest.param(
            {"supportingInfo": [{"display": RYGSKOLE}], "extension": [_extension()]},
            RYGSKOLE,
            id="supportingInfo-first",
        ),
        pytest.param(
            {"supportingInfo": [{"reference": "DocumentReference/x"}], "extension": [_extension()]},
            KOL_HOLD,
            id="supportingInfo-without-display-falls-back",
        ),
        pytest.param(
            {"extension": [_extension("urn:other"), _extension(value="https://b.example")]},
            "https://b.example",
            id="other-extension-passed-over",
        ),
        pytest.param({"extension": [_extension("urn:other")]}, None, id="other-extension-only"),
        pytest.param({}, None, id="no-link"),
    ],
)
def test_offer_url(make_offer: Factory, fields: dict[str, object], url: str | None) -> None:
    resource = make_offer()
    del resource["supportingInfo"]
    offer = parse_service_request(SOURCE, resource | fields)
    assert offer.url == url


def test_title_may_come_from_the_coding(make_offer: Factory) -> None:
    resource = make_offer(code={"coding": [coding("urn:offers", "kol", "KOL-rehabilitering")]})
    assert parse_service_request(SOURCE, resource).title == "KOL-rehabilitering"


@pytest.mark.parametrize(
    "code",
    [
        pytest.param({}, id="empty-code"),
        pytest.param({"text": ""}, id="empty-text"),
        pytest.param({"coding": [coding("urn:offers", "kol")]}, id="coding-without-display"),
    ],
)
def test_offer_without_title_is_unreadable(make_offer: Factory, code: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="no text"):
        parse_service_request(SOURCE, make_offer(code=code))


def test_provider_and_codes_may_be_missing(make_offer: Factory) -> None:
    resource = make_offer(codes=[], meta={"security": [restricted_label()]})
    del resource["performer"]
    offer = parse_service_request(SOURCE, resource)
    assert (offer.provider, offer.codes, offer.withheld) == (None, (), True)


async def test_fetch_skips_the_unreadable_offers(fetch: Fetch, make_offer: Factory) -> None:
    no_code = make_offer("sr-nocode")
    del no_code["code"]
    no_status = make_offer("sr-nostatus")
    del no_status["status"]
    resources = [
        make_offer("sr-1", CPR_A),
        no_code,
        no_status,
        make_offer("sr-2", CPR_B, status="completed"),
    ]
    fetched = await fetch("prevention", "ServiceRequest", resources, cprs=[CPR_A, CPR_B])
    assert fetched.skipped == 2
    offers = {
        cpr: [(r.source_id, r.status) for r in rs if isinstance(r, PreventionOfferRecord)]
        for cpr, rs in fetched.by_patient.items()
    }
    assert offers == {CPR_A: [("sr-1", "active")], CPR_B: [("sr-2", "completed")]}
