"""The fast ``Router.decide`` decides and explains exactly as the router before it did.

``tests/route_oracle.py`` is the previous router, frozen. On random catalogues, orders,
clocks (leaning on the instants calendars turn) and states, both must give the same decision
and, line for line, the same ``payswitch route --explain`` document, also after the decision
has been through its stored encoding. One router of each kind serves many decisions, so the
new router's cached windows are tested warm, on clocks before, inside and after earlier ones.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.catalogue import Catalogue
from routing.decision import RouteDecision
from routing.router import Router
from routing.state import RoutingState
from switch.order import Order, Party
from tests import route_oracle
from tests.orders import order as make_order
from tests.route_strategies import (
    CAT,
    CHANNELS,
    SH,
    catalogues,
    clocks,
    orders,
    states,
    turning_clocks,
)

SHIPPED = (Router(CAT), route_oracle.Router(CAT))  # warm across every example of the module


def oracle_doc(old: route_oracle.RouteDecision, now: datetime) -> dict[str, Any]:
    """What ``payswitch route --explain`` printed before: the old CLI's document."""
    doc: dict[str, Any] = msgspec.to_builtins(old)
    doc["reason_code"] = doc.pop("reason")
    doc["at"] = now.isoformat()
    return doc


def assert_same(new: RouteDecision, old: route_oracle.RouteDecision, now: datetime) -> None:
    expected = msgspec.json.encode(oracle_doc(old, now))
    got = msgspec.json.encode(new.explain())
    assert msgspec.json.decode(got) == msgspec.json.decode(expected)
    assert got == expected  # the same keys in the same order too: the same JSON text
    assert (new.channel, new.fee, new.reason, new.scheduled_for, new.business_date,
            new.rule) == (old.channel, old.fee, old.reason, old.scheduled_for,
                          old.business_date, old.rule)
    assert new.summary() == old.summary()
    assert msgspec.to_builtins(new.candidates) == msgspec.to_builtins(old.candidates)
    assert msgspec.to_builtins(new.cost) == msgspec.to_builtins(old.cost)
    stored = RouteDecision.decode(new.encode())
    assert stored == new
    assert msgspec.json.encode(stored.explain()) == expected


def both(routers: tuple[Router, route_oracle.Router], order: Order, now: datetime,
         state: RoutingState, tried: frozenset[str]) -> None:
    new, old = routers
    if not tried:
        assert_same(new.decide(order, now, state), old.decide(order, now, state), now)
        return
    assert_same(new.fallback(order, now, state, tried, "REJECTED"),
                old.fallback(order, now, state, tried, "REJECTED"), now)


tried_sets = st.frozensets(st.sampled_from([*CHANNELS, "TELEX"]), max_size=3)


@settings(max_examples=400, deadline=None)
@given(order=orders, now=clocks, tried=tried_sets, data=st.data())
def test_property_shipped_catalogue_decides_as_before(order: Order, now: datetime,
                                                      tried: frozenset[str],
                                                      data: st.DataObject) -> None:
    state = data.draw(states(now))
    both(SHIPPED, order, now, state, tried if data.draw(st.booleans()) else frozenset())


steps = st.one_of(st.integers(-7_200, 7_200).map(lambda s: timedelta(seconds=s)),
                  st.integers(-90_000, 90_000).map(lambda s: timedelta(seconds=s)),
                  st.sampled_from([timedelta(microseconds=1), timedelta(microseconds=-1)]))


@settings(max_examples=80, deadline=None)
@given(cat=catalogues(), start=turning_clocks,
       walk=st.lists(st.tuples(steps, orders, tried_sets), min_size=1, max_size=15),
       data=st.data())
def test_property_random_catalogues_decide_as_before(
        cat: Catalogue, start: datetime, walk: list[tuple[timedelta, Order, frozenset[str]]],
        data: st.DataObject) -> None:
    routers = (Router(cat), route_oracle.Router(cat))
    now = start
    for step, order, tried in walk:
        now += step
        both(routers, order, now, data.draw(states(now)), tried)


@settings(max_examples=60, deadline=None)
@given(order=orders, start=turning_clocks, walk=st.lists(steps, min_size=1, max_size=40))
def test_property_a_clock_walking_back_and_forth_decides_as_before(
        order: Order, start: datetime, walk: list[timedelta]) -> None:
    routers = (Router(CAT), route_oracle.Router(CAT))  # cold, then warmed by the walk itself
    now = start
    for step in walk:
        now += step
        for currency in ("CNY", "USD"):  # windows are kept per currency
            both(routers, msgspec.structs.replace(order, currency=currency), now,
                 RoutingState(), frozenset())


def test_windows_kept_across_midnight_still_read_that_day_as_a_holiday() -> None:
    # SWIFT's USD answer holds from the 17:30 CET cut-off to midnight in Paris (06:00 the next
    # morning in Shanghai), but 1 May in Shanghai is a holiday: the per-item limit changes.
    swift = CAT.channels["SWIFT"]
    cat = msgspec.structs.replace(CAT.only(["SWIFT"]), channels={"SWIFT": msgspec.structs.replace(
        swift, max_amount=10**9, holiday_max_amount=10**6)})
    routers = (Router(cat), route_oracle.Router(cat))
    creditor = Party(account="GB29NWBK60161331926819", name="Acme Ltd", agent="NWBKGB2LXXX",
                     country="GB")
    order = make_order(currency="USD", amount=2 * 10**6, creditor=creditor)
    eve = datetime(2026, 4, 30, 23, 59, 59, tzinfo=SH)
    for now in (eve, eve + timedelta(seconds=2)):
        both(routers, order, now, RoutingState(), frozenset())
    assert [routers[0].decide(order, now).reason
            for now in (eve, eve + timedelta(seconds=2))] == [None, "AM02"]


@pytest.mark.parametrize("channels", [[c] for c in CHANNELS] + [CHANNELS])
def test_a_clock_sweeping_a_holiday_eve_decides_as_before(channels: list[str]) -> None:
    # Friday 13 February to Monday 16 February 2026: a make-up Saturday, then the Spring
    # Festival; every 17 minutes forwards, then backwards over cached windows.
    cat = CAT.only(channels)
    routers = (Router(cat), route_oracle.Router(cat))
    creditor = Party(account="GB29NWBK60161331926819", name="Acme Ltd", agent="NWBKGB2LXXX",
                     country="GB", lei="5493001KJTIIGC8Y1R12")
    domestic = make_order(amount=8_000_000)
    abroad = make_order(currency="USD", amount=8_000_000, creditor=creditor)
    start = datetime(2026, 2, 13, 0, 0, 7, tzinfo=SH)
    sweep = [start + timedelta(minutes=17 * k) for k in range(4 * 24 * 60 // 17)]
    for now in [*sweep, *reversed(sweep)]:
        for order in (domestic, abroad):
            both(routers, order, now, RoutingState(), frozenset())
