"""Fee schedules: tiers, basis points rounded half up, minimum and maximum, VAT split."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.catalogue import load_catalogue
from routing.fees import FeeSchedule, FeeTier, half_up_div, split_vat

CAT = load_catalogue()
HVPS = CAT.channels["HVPS"].fees["CNY"]
UNIONPAY = CAT.channels["UnionPay"].fees["CNY"]


@pytest.mark.parametrize(("amount", "fee"), [
    (1, 50), (1_000_000, 50), (1_000_001, 500), (10_000_000, 500), (10_000_001, 1000),
    (100_000_000, 1000), (100_000_001, 1500), (10**14, 1500),
])
def test_hvps_tiers_are_inclusive_upper_bounds(amount: int, fee: int) -> None:
    assert HVPS.fee(amount) == fee


@pytest.mark.parametrize(("amount", "fee"), [
    (100, 10),  # 0.05 fen, below the 0.10 CNY minimum
    (20_000, 10),  # exactly 10 fen
    (21_000, 11),  # 10.5 fen: half up
    (20_999, 10),  # 10.4995 fen
    (3_000_000, 1500),
    (4_000_000, 2000),
    (4_000_100, 2000),  # capped at 20.00 CNY
])
def test_unionpay_bps_with_min_and_max(amount: int, fee: int) -> None:
    assert UNIONPAY.fee(amount) == fee


def test_fixed_plus_bps_in_one_tier() -> None:
    s = FeeSchedule(tiers=(FeeTier(upto=1000, fixed=5, bps=100), FeeTier(fixed=7, bps=50)))
    assert [s.fee(a) for a in (50, 1000, 1001, 1100)] == [6, 15, 12, 13]  # 0.5 rounds up to 1


def test_half_up_not_bankers() -> None:
    s = FeeSchedule(tiers=(FeeTier(bps=1),))
    # 5_000 * 1bp = 0.5 and 25_000 * 1bp = 2.5: banker's rounding would give 0 and 2
    assert (s.fee(5_000), s.fee(25_000), s.fee(4_999)) == (1, 3, 0)


@pytest.mark.parametrize(("gross", "rate", "net", "vat"), [
    (106, 600, 100, 6), (100, 600, 94, 6), (1500, 600, 1415, 85), (1, 600, 1, 0),
    (0, 600, 0, 0), (20, 600, 19, 1), (113, 1300, 100, 13), (50, 0, 50, 0),
])
def test_vat_split(gross: int, rate: int, net: int, vat: int) -> None:
    assert split_vat(gross, rate) == (net, vat)


def test_schedule_split_adds_up() -> None:
    assert HVPS.split(80_000_00) == (500, 472, 28)


@given(gross=st.integers(0, 10**15), rate=st.integers(0, 10_000))
def test_vat_split_always_adds_up_and_rounds_half_up(gross: int, rate: int) -> None:
    net, vat = split_vat(gross, rate)
    assert net + vat == gross and 0 <= vat <= gross
    # net is the nearest integer to gross / (1 + rate), ties upwards: 2|net*d - g*1e4| <= d
    d = 10_000 + rate
    assert -d < 2 * (net * d - gross * 10_000) <= d


def test_half_up_div_refuses_negatives() -> None:
    with pytest.raises(ValueError):
        half_up_div(-1, 10)
    with pytest.raises(ValueError):
        half_up_div(1, 0)
