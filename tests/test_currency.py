"""ISO 4217 table and the minor-unit <-> decimal text conversions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messages.currency import CURRENCIES, exponent, format_amount, is_known, parse_amount
from messages.errors import MessageError, UnknownCurrency

PAYABLE = sorted(code for code, row in CURRENCIES.items() if row.exponent is not None)


def test_table_is_well_formed() -> None:
    assert len(PAYABLE) > 150
    for code, row in CURRENCIES.items():
        assert len(code) == 3 and code.isascii() and code.isupper()
        assert len(row.numeric) == 3 and row.numeric.isdigit()
        assert row.exponent in (None, 0, 2, 3, 4)


@pytest.mark.parametrize(
    ("code", "numeric", "exp"),
    [("CNY", "156", 2), ("USD", "840", 2), ("JPY", "392", 0), ("KRW", "410", 0),
     ("BHD", "048", 3), ("KWD", "414", 3), ("CLF", "990", 4), ("EUR", "978", 2),
     ("HKD", "344", 2), ("VND", "704", 0)],
)
def test_known_rows(code: str, numeric: str, exp: int) -> None:
    assert CURRENCIES[code].numeric == numeric
    assert exponent(code) == exp
    assert is_known(code)


@pytest.mark.parametrize("code", ["XYZ", "cny", "", "CNYX", "HRK", "XAU", "XXX"])
def test_unknown_or_unpayable_currency(code: str) -> None:
    assert not is_known(code)
    with pytest.raises(UnknownCurrency) as info:
        exponent(code)
    assert info.value.code == "UNKNOWN_CURRENCY"
    with pytest.raises(MessageError, match="UNKNOWN_CURRENCY"):
        format_amount(1, code)
    with pytest.raises(MessageError, match="UNKNOWN_CURRENCY"):
        parse_amount("1", code)


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [(12345, "CNY", "123.45"), (100, "JPY", "100"), (0, "CNY", "0.00"), (1, "CNY", "0.01"),
     (5, "BHD", "0.005"), (1, "CLF", "0.0001"), (10**15, "USD", "10000000000000.00")],
)
def test_format_amount(minor: int, currency: str, text: str) -> None:
    assert format_amount(minor, currency) == text


@pytest.mark.parametrize("minor", [-1, 1.5, True, "100"])
def test_format_amount_refuses_non_money(minor: object) -> None:
    with pytest.raises(MessageError) as info:
        format_amount(minor, "CNY")  # type: ignore[arg-type]
    assert info.value.code == "BAD_AMOUNT"


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("123.45", "CNY", 12345), ("123.4", "CNY", 12340), ("123", "CNY", 12300),
     ("0.01", "CNY", 1), ("007", "JPY", 7), ("100", "JPY", 100), ("1.234", "KWD", 1234)],
)
def test_parse_amount(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [("1.005", "CNY"), ("100.0", "JPY"), ("1.2345", "BHD"), ("-1.00", "CNY"), ("+1", "CNY"),
     ("1e3", "CNY"), (".5", "CNY"), ("5.", "CNY"), ("", "CNY"), (" 1.00", "CNY"),
     ("1,00", "CNY"), ("NaN", "CNY"), ("١٢", "CNY"), ("1.00\n", "CNY")],
)
def test_parse_amount_is_strict(text: str, currency: str) -> None:
    with pytest.raises(MessageError) as info:
        parse_amount(text, currency)
    assert info.value.code == "BAD_AMOUNT"


@given(st.sampled_from(PAYABLE), st.integers(min_value=0, max_value=10**18))
def test_round_trip(currency: str, minor: int) -> None:
    text = format_amount(minor, currency)
    assert parse_amount(text, currency) == minor
    decimals = text.partition(".")[2]
    assert len(decimals) == exponent(currency)
