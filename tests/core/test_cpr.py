"""CPR validation and masking: what counts as a CPR, and that logs never show one."""

from __future__ import annotations

import pytest

from core.cpr import is_valid_cpr, mask_cpr, pseudonymise_cpr


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        pytest.param("0101521234", True, id="ten-ascii-digits-real-date"),
        pytest.param("2902004234", True, id="leap-day-2000"),
        pytest.param("2902001234", False, id="no-leap-day-in-1900"),
        pytest.param("3102701234", False, id="31-february"),
        pytest.param("12345", False, id="too-short"),
        pytest.param("0101521234\n", False, id="trailing-newline"),
        pytest.param("٠١٠١٥٢١٢٣٤", False, id="arabic-indic-digits"),
        pytest.param("０１０１５２１２３４", False, id="full-width-digits"),
        pytest.param("010152-1234", False, id="hyphen-is-for-the-api-layer"),
    ],
)
def test_is_valid_cpr(value: str, valid: bool) -> None:
    assert is_valid_cpr(value) is valid


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("cpr 0101521234 here", id="plain"),
        pytest.param("010152-1234", id="hyphen"),
        pytest.param("plan(cpr:%220101521234%22)", id="after-url-encoded-quote"),
        pytest.param("010152%2D1234", id="url-encoded-hyphen"),
        pytest.param("010152%201234", id="url-encoded-space"),
        pytest.param("010152+1234", id="plus-as-space"),
    ],
)
def test_mask_cpr_masks_every_spelling(text: str) -> None:
    masked = mask_cpr(text)
    assert "0101521234" not in masked.replace("-", "").replace("%2D", "").replace("%20", "")
    assert "<cpr>" in masked


def test_longer_numbers_are_left_alone() -> None:
    assert mask_cpr("order 123456789012") == "order 123456789012"


def test_pseudonyms_are_keyed_and_stable() -> None:
    a = pseudonymise_cpr("0101521234", b"key-one")
    assert a == pseudonymise_cpr("0101521234", b"key-one")
    assert a != pseudonymise_cpr("0101521234", b"key-two")
    assert "0101521234" not in a


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("010152\u20131234", id="en-dash"),
        pytest.param("010152\t1234", id="tab"),
        pytest.param("010152/1234", id="slash"),
        pytest.param("01.01.52.1234", id="dots"),
        pytest.param("01/01/52 1234", id="slashes-and-space"),
        pytest.param("%30%31%30%31%35%32%31%32%33%34", id="percent-encoded-digits"),
        pytest.param("%30%31%30%31%35%32%E2%80%93%31%32%33%34", id="percent-encoded-en-dash"),
        pytest.param("010152%091234", id="percent-encoded-tab"),
        pytest.param("010152\\u20131234", id="json-escaped-en-dash"),
        pytest.param('{"cpr": 101521234}', id="json-number-without-its-zero"),
        pytest.param("cpr:0101521234", id="after-a-colon"),
        pytest.param("%220101521234%22", id="between-encoded-quotes"),
    ],
)
def test_mask_cpr_masks_other_spellings(text: str) -> None:
    assert "<cpr>" in mask_cpr(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("request b0101521234a4b6c8d9e0f1a2b3c4d5e6", id="inside-a-hex-request-id"),
        pytest.param("0101521234abcdef0123456789abcdef", id="at-the-start-of-a-hex-id"),
        pytest.param("token QUJDRA0101521234xyz", id="inside-base64"),
        pytest.param("took 123456789 ms", id="nine-digits-no-date"),
        pytest.param("2026-11-22 02:00:35,621 INFO", id="a-timestamp"),
    ],
)
def test_mask_cpr_leaves_other_tokens_alone(text: str) -> None:
    assert mask_cpr(text) == text
