"""The router's decisions on the scenarios of issue #3, on a virtual clock in Shanghai time."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from routing.catalogue import WhitelistRoute, load_catalogue
from routing.router import FallbackForbidden, RouteDecision, Router
from routing.state import CapLedger, RoutingState
from switch.clock import VirtualClock
from switch.order import Party
from tests.orders import order

SH = ZoneInfo("Asia/Shanghai")
CAT = load_catalogue()
ROUTER = Router(CAT)
CNY = 100  # fen per yuan
LEI = "5493001KJTIIGC8Y1R12"


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return VirtualClock(datetime(y, m, d, hh, mm, tzinfo=SH)).now()


WORKDAY = at(2026, 3, 2)  # a Monday, ordinary working day


def decide(when: datetime = WORKDAY, state: RoutingState | None = None,
           router: Router = ROUTER, **changes: Any) -> RouteDecision:
    return router.decide(order(**changes), when, state)


def fee(channel: str, amount: int, currency: str = "CNY") -> int:
    return CAT.channels[channel].fees[currency].fee(amount)


def cand(d: RouteDecision, channel: str) -> tuple[bool, str | None]:
    c = next(c for c in d.candidates if c.channel == channel)
    return c.eligible, c.reason


def cross_border(currency: str = "CNY", lei: str | None = LEI, **changes: Any) -> dict[str, Any]:
    creditor = Party(account="GB29NWBK60161331926819", name="Acme Ltd", agent="NWBKGB2LXXX",
                     country="GB", lei=lei)
    return {"currency": currency, "creditor": creditor, **changes}


# --- cost optimisation --------------------------------------------------------------------


def test_30k_at_ten_goes_to_the_cheapest_of_beps_and_ibps() -> None:
    d = decide(amount=30_000 * CNY)
    cheapest = min(("BEPS", "IBPS"), key=lambda c: fee(c, 30_000 * CNY))
    assert fee("BEPS", 30_000 * CNY) != fee("IBPS", 30_000 * CNY)  # the test decides something
    assert (d.channel, d.fee, d.scheduled_for, d.reason) == (
        cheapest, fee(cheapest, 30_000 * CNY), None, None)
    assert d.business_date == date(2026, 3, 2)


def test_30k_urgent_goes_to_ibps() -> None:
    d = decide(amount=30_000 * CNY, urgency="urgent")
    assert (d.channel, d.fee) == ("IBPS", fee("IBPS", 30_000 * CNY))
    assert d.cost is not None and d.cost.delay_cost == CAT.cost_of_delay.urgent * 10


def test_80k_at_ten_goes_to_hvps() -> None:
    d = decide(amount=80_000 * CNY)
    assert (d.channel, d.scheduled_for, d.fee) == ("HVPS", None, fee("HVPS", 80_000 * CNY))
    assert cand(d, "BEPS") == (False, "AM02") and cand(d, "IBPS") == (False, "AM02")


def test_80k_at_six_pm_is_scheduled_for_the_next_hvps_window() -> None:
    d = decide(at(2026, 3, 2, 18), amount=80_000 * CNY)
    assert d.channel == "HVPS"
    assert d.scheduled_for == datetime(2026, 3, 2, 20, 30, tzinfo=SH)
    assert d.business_date == date(2026, 3, 3)
    assert cand(d, "BEPS") == (False, "AM02") and cand(d, "IBPS") == (False, "AM02")


@pytest.mark.parametrize(("now", "opens", "business_day"), [
    (at(2026, 3, 6, 18), datetime(2026, 3, 8, 20, 30, tzinfo=SH), date(2026, 3, 9)),  # Friday
    (at(2026, 2, 13, 18), datetime(2026, 2, 13, 20, 30, tzinfo=SH), date(2026, 2, 14)),  # Sat
    (at(2026, 9, 30, 18), datetime(2026, 10, 7, 20, 30, tzinfo=SH), date(2026, 10, 8)),
])
def test_hvps_after_cutoff_waits_for_the_next_working_day(now: datetime, opens: datetime,
                                                          business_day: date) -> None:
    d = decide(now, amount=80_000 * CNY)
    assert (d.channel, d.scheduled_for, d.business_date) == ("HVPS", opens, business_day)


def test_80k_on_a_public_holiday_goes_by_beps_within_its_holiday_cap() -> None:
    d = decide(at(2026, 5, 1), amount=80_000 * CNY)
    assert (d.channel, d.scheduled_for, d.fee) == ("BEPS", None, fee("BEPS", 80_000 * CNY))
    assert d.business_date == date(2026, 5, 6)  # BEPS books it on the first working day
    assert cand(d, "HVPS") == (True, None)  # eligible, but only later
    assert cand(d, "IBPS") == (False, "AM02")


@pytest.mark.parametrize(("now", "opens", "business_day"), [
    (at(2026, 2, 18), datetime(2026, 2, 23, 20, 30, tzinfo=SH), date(2026, 2, 24)),
    (at(2026, 10, 3), datetime(2026, 10, 7, 20, 30, tzinfo=SH), date(2026, 10, 8)),
    # Sunday 4 January is a make-up working day
    (at(2026, 1, 1), datetime(2026, 1, 3, 20, 30, tzinfo=SH), date(2026, 1, 4)),
    (at(2026, 5, 2), datetime(2026, 5, 5, 20, 30, tzinfo=SH), date(2026, 5, 6)),
    (at(2026, 6, 20), datetime(2026, 6, 21, 20, 30, tzinfo=SH), date(2026, 6, 22)),
    # Sunday 20 September is a make-up working day: its window opened Saturday 20:30
    (at(2026, 9, 19, 21), datetime(2026, 9, 19, 21, 0, tzinfo=SH), date(2026, 9, 20)),
])
def test_two_million_on_a_holiday_is_scheduled_for_hvps(now: datetime, opens: datetime,
                                                        business_day: date) -> None:
    d = decide(now, amount=2_000_000 * CNY)
    assert d.channel == "HVPS"
    assert d.business_date == business_day
    assert d.scheduled_for == (None if opens == now else opens)
    assert cand(d, "BEPS") == (False, "AM02")


def test_usd_goes_by_swift() -> None:
    d = decide(**cross_border("USD", amount=10_000 * 100))
    assert (d.channel, d.fee) == ("SWIFT", fee("SWIFT", 10_000 * 100, "USD"))
    assert cand(d, "HVPS") == (False, "AM03") and cand(d, "CIPS") == (False, "AM03")
    assert d.business_date == date(2026, 3, 2)  # 03:00 CET, well before the 17:30 cut-off


def test_cross_border_cny_to_a_bank_with_an_lei_goes_by_cips() -> None:
    d = decide(**cross_border(amount=500_000 * CNY))
    assert (d.channel, d.fee) == ("CIPS", fee("CIPS", 500_000 * CNY))
    assert cand(d, "SWIFT") == (True, None)  # SWIFT could, at a far higher fee
    assert cand(d, "HVPS") == (False, "AG01")


def test_cross_border_cny_without_an_lei_falls_to_swift() -> None:
    d = decide(**cross_border(lei=None, amount=500_000 * CNY))
    assert d.channel == "SWIFT"
    assert cand(d, "CIPS") == (False, "RC01")


def test_domestic_channels_need_a_cnaps_bank_code() -> None:
    creditor = Party(account="6222000000000009", name="李四", agent="ICBKCNBJXXX")
    d = decide(creditor=creditor, amount=100 * CNY)
    assert (d.channel, d.reason) == (None, "RC01")


# --- screening and designated routes ------------------------------------------------------


@pytest.mark.parametrize("party", [
    Party(account="6222000000000666", name="X", agent="103100000026"),
    Party(account="6222000000000009", name="  blocked   TRADING co ", agent="103100000026"),
    Party(account="6222000000000009", name="X", agent="SANCXXKPXXX"),
])
def test_blocklisted_creditor_is_rejected_with_rr04(party: Party) -> None:
    d = decide(creditor=party, designated_channel="IBPS")  # a designation changes nothing
    assert (d.channel, d.reason, d.rule) == (None, "RR04", "screening")
    assert "creditor" in d.summary()


def test_blocklisted_debtor_is_rejected_with_rr04() -> None:
    debtor = Party(account="6222000000000666", name="Z", agent="102100099996")
    assert decide(debtor=debtor).reason == "RR04"


def test_designated_channel_that_is_closed_is_rejected_with_tm01() -> None:
    d = decide(at(2026, 3, 2, 18), amount=80_000 * CNY, designated_channel="HVPS")
    assert (d.channel, d.reason, d.rule) == (None, "TM01", "designated")
    d = decide(at(2026, 5, 1), amount=100 * CNY, designated_channel="HVPS")
    assert (d.channel, d.reason) == (None, "TM01")


def test_designated_channel_is_honoured_over_a_cheaper_one() -> None:
    d = decide(amount=30_000 * CNY, designated_channel="HVPS")
    assert (d.channel, d.rule) == ("HVPS", "designated")
    assert cand(d, "BEPS") == (True, "AG01")


def test_designated_channel_failing_a_limit_gives_its_reason() -> None:
    d = decide(amount=80_000 * CNY, designated_channel="IBPS")
    assert (d.channel, d.reason) == (None, "AM02")
    assert decide(designated_channel="TELEX").reason == "AG01"


# --- caps, positions, health --------------------------------------------------------------


def test_a_nearly_used_daily_cap_moves_the_payment_to_the_next_best() -> None:
    first = decide(amount=30_000 * CNY)
    assert first.channel == "BEPS" and first.business_date is not None
    cap = CAT.channels["BEPS"].daily_cap
    assert cap is not None
    nearly = RoutingState(channel_used={("BEPS", first.business_date): cap - 100})
    d = decide(amount=30_000 * CNY, state=nearly)
    assert d.channel == "IBPS"
    assert cand(d, "BEPS") == (False, "AM14")
    # another day's usage does not count
    other = RoutingState(channel_used={("BEPS", date(2026, 3, 1)): cap})
    assert decide(amount=30_000 * CNY, state=other).channel == "BEPS"


def test_the_debtors_daily_cap_counts_per_debtor() -> None:
    o = order(amount=30_000 * CNY)
    day = date(2026, 3, 2)
    cap = CAT.channels["BEPS"].debtor_daily_cap
    assert cap is not None
    state = RoutingState()
    while (cap - 30_000 * CNY) >= state.debtor_used.get(("BEPS", o.debtor.account, day), 0):
        state = CapLedger.consume(state, "BEPS", o.debtor.account, day, o.amount)
    d = ROUTER.decide(o, WORKDAY, state)
    assert (d.channel, cand(d, "BEPS")) == ("IBPS", (False, "AM14"))
    other = msgspec.structs.replace(o, debtor=Party(account="1", name="C", agent="102100099996"))
    assert ROUTER.decide(other, WORKDAY, state).channel == "BEPS"
    released = CapLedger.release(state, "BEPS", o.debtor.account, day, o.amount)
    assert ROUTER.decide(o, WORKDAY, released).channel == "BEPS"


def test_a_channel_with_its_circuit_open_is_skipped() -> None:
    d = decide(amount=30_000 * CNY, state=RoutingState(unavailable=frozenset({"BEPS"})))
    assert d.channel == "IBPS"
    assert cand(d, "BEPS") == (False, "AB07")


def test_short_position_rejects_with_am04_when_nothing_else_fits() -> None:
    short = RoutingState(positions={("HVPS", "CNY"): 79_999 * CNY})
    d = decide(amount=80_000 * CNY, state=short)
    assert (d.channel, d.reason) == (None, "AM04")
    assert d.explanation[0] == f"no channel can take it; HVPS: available position " \
                               f"{79_999 * CNY} below the amount"
    assert decide(amount=80_000 * CNY, state=RoutingState(
        positions={("HVPS", "CNY"): 80_000 * CNY})).channel == "HVPS"


def test_a_channel_short_of_liquidity_is_skipped_for_the_next_best() -> None:
    assert decide(amount=30_000 * CNY).channel == "BEPS"
    short = RoutingState(positions={("BEPS", "CNY"): 30_000 * CNY - 1,
                                    ("IBPS", "CNY"): 10**12})
    d = decide(amount=30_000 * CNY, state=short)
    assert (d.channel, d.fee) == ("IBPS", fee("IBPS", 30_000 * CNY))
    assert cand(d, "BEPS") == (False, "AM04")
    beps = next(c for c in d.candidates if c.channel == "BEPS")
    assert beps.text == f"available position {30_000 * CNY - 1} below the amount"
    # an overdrawn position takes nothing; exactly the amount is enough
    overdrawn = decide(amount=1, state=RoutingState(positions={("BEPS", "CNY"): -5}))
    assert overdrawn.channel != "BEPS" and cand(overdrawn, "BEPS") == (False, "AM04")
    exact = RoutingState(positions={("BEPS", "CNY"): 30_000 * CNY})
    assert decide(amount=30_000 * CNY, state=exact).channel == "BEPS"


def test_positions_are_per_channel_and_currency() -> None:
    usd = cross_border("USD", amount=10_000 * 100)
    short_usd = RoutingState(positions={("SWIFT", "USD"): 10_000 * 100 - 1,
                                        ("SWIFT", "EUR"): 10**12})
    d = decide(state=short_usd, **usd)
    assert (d.channel, d.reason) == (None, "AM04")  # only SWIFT settles USD
    # a short position in another currency, or on another channel, changes nothing
    other = RoutingState(positions={("SWIFT", "EUR"): 0, ("CIPS", "USD"): 0,
                                    ("SWIFT", "CNY"): 0})
    assert decide(state=other, **usd).channel == "SWIFT"
    # cross-border CNY: CIPS short of renminbi, SWIFT's correspondent is not
    cny = cross_border(amount=500_000 * CNY)
    d = decide(state=RoutingState(positions={("CIPS", "CNY"): 100 * CNY}), **cny)
    assert d.channel == "SWIFT" and cand(d, "CIPS") == (False, "AM04")
    d = decide(state=RoutingState(positions={("CIPS", "CNY"): 100 * CNY,
                                             ("SWIFT", "CNY"): 100 * CNY}), **cny)
    assert (d.channel, d.reason) == (None, "AM04")


def test_a_designated_channel_short_of_liquidity_is_rejected_am04() -> None:
    short = RoutingState(positions={("HVPS", "CNY"): 100 * CNY})
    d = decide(amount=30_000 * CNY, designated_channel="HVPS", state=short)
    assert (d.channel, d.reason, d.rule) == (None, "AM04", "designated")
    assert decide(amount=30_000 * CNY, state=short).channel == "BEPS"  # undesignated: unaffected


def test_a_poor_success_rate_costs_its_expected_retries() -> None:
    assert decide(amount=30_000 * CNY).channel == "BEPS"
    state = RoutingState(success_ppm={"BEPS": 400_000})  # 2.5 attempts on average
    d = decide(amount=30_000 * CNY, state=state)
    assert d.channel == "IBPS"
    flaky = decide(amount=30_000 * CNY, state=state, designated_channel="BEPS").cost
    assert flaky is not None and flaky.retry_penalty == flaky.total * 6 // 10


def test_requested_execution_is_a_deadline_for_scheduling() -> None:
    late = at(2026, 3, 2, 18)
    d = decide(late, amount=80_000 * CNY, requested_execution="2026-03-02")
    assert (d.channel, d.reason) == (None, "TM01")
    d = decide(late, amount=80_000 * CNY, requested_execution="2026-03-03")
    assert (d.channel, d.business_date) == ("HVPS", date(2026, 3, 3))
    assert decide(requested_execution="tomorrow").reason == "DT01"


# --- rules, fallback, determinism ---------------------------------------------------------


def with_rules(**changes: Any) -> Router:
    return Router(msgspec.structs.replace(CAT, rules=msgspec.structs.replace(CAT.rules,
                                                                             **changes)))


def test_whitelisted_creditor_bank_goes_by_its_channel_when_it_can() -> None:
    router = with_rules(whitelist=(WhitelistRoute(channel="IBPS", creditor_agent="103100000026"),))
    d = decide(amount=30_000 * CNY, router=router)
    assert (d.channel, d.rule) == ("IBPS", "whitelist")
    d = decide(amount=80_000 * CNY, router=router)  # over the IBPS cap: the next rule decides
    assert (d.channel, d.rule) == ("HVPS", "product")


def test_product_routes_restrict_the_channels() -> None:
    assert decide(amount=100 * CNY, product="CARD").channel == "UnionPay"
    d = decide(amount=30_000 * CNY, product="SALARY", state=RoutingState(
        unavailable=frozenset({"BEPS"})))
    assert (d.channel, cand(d, "IBPS")) == ("HVPS", (True, "AG01"))
    assert decide(amount=100 * CNY, product="NEW").rule == "optimised"
    d = decide(router=with_rules(products={"CT": ()}))
    assert (d.channel, d.reason) == (None, "AG01")


def test_fallback_gives_the_next_best_and_never_after_unknown() -> None:
    o = order(amount=30_000 * CNY)
    first = ROUTER.decide(o, WORKDAY)
    nxt = ROUTER.fallback(o, WORKDAY, None, tried=[first.channel or ""], last_status="REJECTED")
    assert (first.channel, nxt.channel) == ("BEPS", "IBPS")
    assert cand(nxt, "BEPS") == (True, "AG01")
    again = ROUTER.fallback(o, WORKDAY, None, tried=["BEPS", "IBPS"], last_status="REJECTED")
    assert again.channel == "HVPS"
    with pytest.raises(FallbackForbidden):
        ROUTER.fallback(o, WORKDAY, None, tried=["BEPS"], last_status="UNKNOWN")
    pinned = msgspec.structs.replace(o, designated_channel="BEPS")
    assert ROUTER.fallback(pinned, WORKDAY, None, tried=["BEPS"],
                           last_status="REJECTED").channel is None


def test_ties_break_by_catalogue_order() -> None:
    ibps = CAT.channels["IBPS"]
    for names in (("B_IBPS", "A_IBPS"), ("A_IBPS", "B_IBPS")):
        tie = msgspec.structs.replace(CAT, channels=dict.fromkeys(names, ibps),
                                      rules=msgspec.structs.replace(CAT.rules, products={}))
        d = Router(tie).decide(order(amount=100 * CNY), WORKDAY)
        assert d.channel == names[0]  # same fee and latency: the first listed wins
        assert cand(d, names[1]) == (True, None)


def test_decision_is_json_with_candidates_and_cost() -> None:
    d = decide(amount=30_000 * CNY)
    doc = msgspec.json.decode(msgspec.json.encode(d.explain()))
    assert doc["channel"] == "BEPS" and len(doc["candidates"]) == len(CAT.channels)
    assert doc["cost"]["fee"] == doc["cost"]["fee_net"] + doc["cost"]["vat"] == d.fee
    assert d.summary().startswith("routed to BEPS")
    assert all(isinstance(line, str) for line in d.explanation)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ROUTER.decide(order(), datetime(2026, 3, 2, 10))


def test_non_positive_and_huge_amounts_are_rejected() -> None:
    assert decide(amount=0).reason == "AM01"
    assert decide(amount=10**16).reason == "AM02"


def test_cut_off_to_the_microsecond_with_a_warm_cache() -> None:
    router = Router(CAT)  # one router: the first call fills its per-minute calendar cache
    last = datetime(2026, 3, 2, 17, 14, 59, 999_999, tzinfo=SH)
    for when in (at(2026, 3, 2, 17, 14), last):
        d = decide(when, router=router, amount=80_000 * CNY, designated_channel="HVPS")
        assert (d.channel, d.scheduled_for) == ("HVPS", None)
    d = decide(at(2026, 3, 2, 17, 15), router=router, amount=80_000 * CNY,
               designated_channel="HVPS")
    assert (d.channel, d.reason) == (None, "TM01")
    d = decide(datetime(2026, 3, 2, 20, 29, 59, 500_000, tzinfo=SH), router=router,
               amount=80_000 * CNY)
    assert d.scheduled_for == datetime(2026, 3, 2, 20, 30, tzinfo=SH)
    assert Router(CAT).decide(order(amount=80_000 * CNY), last) == router.decide(
        order(amount=80_000 * CNY), last)
