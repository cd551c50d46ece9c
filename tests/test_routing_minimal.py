"""The minimal router: IBPS when the order fits, a reason code when it does not."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.minimal import IbpsRule, MinimalRouter, RouteDecision
from switch.order import Order, Party
from tests.orders import order

NOW = datetime(2026, 3, 2, 23, 59, tzinfo=UTC)
RULE = IbpsRule()
CAP = RULE.per_item_cap
FEES = {fee for _, fee in RULE.fee_tiers}


def decide(**changes: Any) -> RouteDecision:
    return MinimalRouter().decide(order(**changes), NOW)


def to_agent(agent: str) -> dict[str, Party]:
    return {"creditor": Party(account="6222000000000009", name="李四", agent=agent)}


def test_ibps_within_cap_for_cny_to_cnaps_bank() -> None:
    d = decide(amount=12_345)
    assert (d.channel, d.reason, d.fee) == ("IBPS", None, 30)
    assert any("23:59" in line for line in d.explanation)  # the time it decided at is named


def test_designated_ibps_is_honoured() -> None:
    assert decide(designated_channel="IBPS").channel == "IBPS"


@pytest.mark.parametrize(("amount", "channel", "reason"), [
    (CAP, "IBPS", None), (CAP - 1, "IBPS", None), (CAP + 1, None, "AM02"), (10**15, None, "AM02"),
])
def test_per_item_cap_is_inclusive(amount: int, channel: str | None, reason: str | None) -> None:
    d = decide(amount=amount)
    assert (d.channel, d.reason) == (channel, reason)
    if channel is None:
        assert d.fee == 0


@pytest.mark.parametrize("currency", ["USD", "EUR", "JPY", "CNH"])
def test_non_cny_is_am03(currency: str) -> None:
    d = decide(currency=currency)
    assert (d.channel, d.reason, d.fee) == (None, "AM03", 0)


@pytest.mark.parametrize("agent", ["ICBKCNBJ", "ICBKCNBJXXX", "10310000002", "1031000000260"])
def test_creditor_agent_not_cnaps_is_rc01(agent: str) -> None:
    d = decide(**to_agent(agent))
    assert (d.channel, d.reason) == (None, "RC01")


@pytest.mark.parametrize("channel", ["HVPS", "SWIFT", "ibps", ""])
def test_other_designated_channel_is_ag01(channel: str) -> None:
    d = decide(designated_channel=channel)
    assert (d.channel, d.reason) == (None, "AG01")


@pytest.mark.parametrize(("amount", "fee"), [
    (1, 30), (100_000, 30), (100_001, 80), (1_000_000, 80), (1_000_001, 200), (CAP, 200),
])
def test_fee_tiers_at_their_boundaries(amount: int, fee: int) -> None:
    assert decide(amount=amount).fee == fee


def test_custom_rule_is_used() -> None:
    router = MinimalRouter(IbpsRule(per_item_cap=1000, fee_tiers=((500, 1), (1000, 2))))
    assert router.decide(order(amount=500), NOW).fee == 1
    assert router.decide(order(amount=501), NOW).fee == 2
    assert router.decide(order(amount=1001), NOW).reason == "AM02"


# -- properties ---------------------------------------------------------------------------------
orders = st.builds(
    lambda base, amount, currency, agent, designated: msgspec.structs.replace(
        base, amount=amount, currency=currency, designated_channel=designated,
        creditor=msgspec.structs.replace(base.creditor, agent=agent)),
    st.just(order()),
    st.integers(-10, 2 * CAP),
    st.sampled_from(["CNY", "USD"]),
    st.sampled_from(["103100000026", "ICBKCNBJ", "12345"]),
    st.sampled_from([None, "IBPS", "HVPS"]),
)
times = st.datetimes(timezones=st.just(UTC))


@given(orders, times)
def test_decide_is_pure(o: Order, now: datetime) -> None:
    first = MinimalRouter().decide(o, now)
    assert MinimalRouter().decide(o, now) == first
    assert MinimalRouter().decide(msgspec.structs.replace(o), now) == first
    assert (first.channel is None) is (first.reason is not None)


@given(orders, times)
def test_fee_is_a_tier_fee_and_never_negative(o: Order, now: datetime) -> None:
    d = MinimalRouter().decide(o, now)
    assert d.fee >= 0
    if d.channel is not None:
        assert d.fee in FEES
        assert o.amount <= CAP and o.currency == "CNY"
    else:
        assert d.fee == 0
