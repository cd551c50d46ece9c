"""Route kernel: the Cython module and its pure twin decide identically (STYLE.md item 1)."""

from __future__ import annotations

import os
import subprocess
import sys
from array import array
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastpath._route_py as pure_impl
from routing.catalogue import Catalogue
from routing.fees import FeeSchedule, FeeTier
from routing.router import Router
from switch.order import Order
from tests.route_strategies import catalogues, clocks, orders, states
from tests.twins import twins

ROOT = Path(__file__).resolve().parent.parent

cython_impl, _pure, IMPLS, _CYTHON_MISSING = twins("route")
needs_cython = pytest.mark.skipif(cython_impl is None, reason=_CYTHON_MISSING)

P = pure_impl
ROW = (1, 1, 0, 1, 5_000_000, -1, -1, -1, 10)  # domestic, CNAPS, no LEI, 1..50,000 CNY
SCHED = [(0, -1, ((100_000, 30, 0), (-1, 200, 0)))]


@pytest.fixture(params=IMPLS)
def impl(request: pytest.FixtureRequest) -> ModuleType:
    module: ModuleType = request.param
    return module


def buffers(n: int, **per_channel: list[int]) -> tuple[array[int], array[int]]:
    fields = ["wait", "used", "debtor_used", "position", "available", "ppm"]
    defaults = {"wait": 0, "used": 0, "debtor_used": 0, "position": -1, "available": 1,
                "ppm": 1_000_000}
    st_ = array("q")
    for i in range(n):
        st_.extend(per_channel.get(f, [defaults[f]] * n)[i] for f in fields)
    return st_, array("q", bytes(8 * n * P.OUT_FIELDS))


def run(impl: ModuleType, table: Any, amount: int = 30_000, **kw: Any) -> tuple[tuple[int, int],
                                                                                 list[int]]:
    n = table.size
    per = {k: kw.pop(k) for k in list(kw) if k in
           ("wait", "used", "debtor_used", "position", "available", "ppm")}
    st_, out = buffers(n, **per)
    args = dict(currency=0, cross_border=0, agent_schemes=1, has_lei=0, urgent=0, holiday=0,
                designated=-1, whitelist=-1, allowed=(1 << n) - 1)
    args.update(kw)
    got = table.decide(amount, args["currency"], args["cross_border"], args["agent_schemes"],
                       args["has_lei"], args["urgent"], args["holiday"], args["designated"],
                       args["whitelist"], args["allowed"], st_, out)
    return got, list(out)


def two(impl: ModuleType, second: tuple[int, ...] = ROW) -> Any:
    return impl.RouteTable([ROW, second], [0, 0], SCHED, 1, (100, 10_000))


@pytest.mark.parametrize(("kw", "code"), [
    ({"currency": 1}, P.CURRENCY),
    ({"cross_border": 1}, P.SCOPE),
    ({"agent_schemes": 2}, P.AGENT),
    ({"amount": 0}, P.AMOUNT_MIN),
    ({"amount": 5_000_001}, P.AMOUNT_MAX),
    ({"wait": [-1, -1]}, P.CLOSED),
    ({"position": [29_999, 29_999]}, P.POSITION),
    ({"available": [0, 0]}, P.CIRCUIT),
])
def test_each_check_rejects(impl: ModuleType, kw: dict[str, Any], code: int) -> None:
    got, out = run(impl, two(impl), **kw)
    assert got == (-1, P.RULE_NONE)
    assert out[0] == out[3] == code


def test_caps_and_lei(impl: ModuleType) -> None:
    capped = impl.RouteTable([(1, 1, 1, 1, -1, -1, 100_000, 50_000, 0)], [0], SCHED, 1, (0, 0))
    assert run(impl, capped, has_lei=1)[0] == (0, P.RULE_MASK)
    assert run(impl, capped)[1][0] == P.LEI
    assert run(impl, capped, has_lei=1, used=[70_001])[1][0] == P.CHANNEL_CAP
    assert run(impl, capped, has_lei=1, used=[70_000])[0] == (0, P.RULE_MASK)
    assert run(impl, capped, has_lei=1, debtor_used=[20_001])[1][0] == P.DEBTOR_CAP


def test_holiday_limit(impl: ModuleType) -> None:
    table = impl.RouteTable([(1, 1, 0, 1, 100, 1000, -1, -1, 0)], [0], SCHED, 1, (0, 0))
    assert run(impl, table, amount=500)[1][0] == P.AMOUNT_MAX
    assert run(impl, table, amount=500, holiday=1)[0] == (0, P.RULE_MASK)


def test_open_now_beats_cheaper_later_and_cost_breaks_the_rest(impl: ModuleType) -> None:
    table = impl.RouteTable([ROW, ROW], [0, 1], SCHED * 2, 1, (0, 0))
    assert run(impl, table, wait=[60, 0])[0] == (1, P.RULE_MASK)
    assert run(impl, table, wait=[60, 30])[0] == (1, P.RULE_MASK)  # the earliest window
    assert run(impl, table)[0] == (0, P.RULE_MASK)  # tie: first listed
    cheap = impl.RouteTable([ROW, ROW], [0, 1], [SCHED[0], (0, -1, ((-1, 199, 0),))], 1, (0, 0))
    assert run(impl, cheap, amount=200_000)[0] == (1, P.RULE_MASK)  # 199 against 200
    assert run(impl, cheap, amount=200_000, ppm=[1_000_000, 990_000])[0] == (0, P.RULE_MASK)


def test_rule_precedence(impl: ModuleType) -> None:
    table = two(impl)
    assert run(impl, table, designated=1)[0] == (1, P.RULE_DESIGNATED)
    assert run(impl, table, designated=1, wait=[0, 5])[0] == (-1, P.RULE_DESIGNATED)
    assert run(impl, table, designated=1, wait=[0, 5])[1][3] == P.CLOSED
    assert run(impl, table, whitelist=1)[0] == (1, P.RULE_WHITELIST)
    assert run(impl, table, whitelist=1, available=[1, 0])[0] == (0, P.RULE_MASK)
    assert run(impl, table, allowed=0b10)[0] == (1, P.RULE_MASK)
    assert run(impl, table, allowed=0)[0] == (-1, P.RULE_NONE)


def test_fee_and_score(impl: ModuleType) -> None:
    table = impl.RouteTable([ROW], [0], [(10, 2000, ((-1, 0, 5),))], 1, (100, 10_000))
    got, out = run(impl, table, amount=3_000_000, urgent=1, ppm=[500_000])
    assert got == (0, P.RULE_MASK)
    assert out == [P.OK, 1500, (1500 * 10**6 + 10_000 * 10) * 10**6 // 500_000]
    assert table.fee(0, 21_000) == 11 and table.fee(0, 1) == 10
    with pytest.raises(IndexError):
        table.fee(1, 5)
    with pytest.raises(ValueError):
        table.fee(0, -1)  # C and Python divide negatives differently: refused on both


def test_scores_saturate(impl: ModuleType) -> None:
    table = impl.RouteTable([(*ROW[:4], -1, -1, -1, -1, 30 * 86400)], [0],
                            [(0, -1, ((-1, 10**15, 10_000),))], 1, (10**12, 10**12))
    _, out = run(impl, table, amount=P.MAX_AMOUNT, ppm=[1])
    assert out[2] == P.SCORE_CAP and out[1] == 2 * 10**15


@pytest.mark.parametrize("bad", [
    dict(channels=[]), dict(fee_index=[0]), dict(channels=[ROW[:-1], ROW]),
    dict(fee_index=[0, 5]), dict(schedules=[(0, -1, ())]), dict(n_currencies=0),
])
def test_table_construction_errors(impl: ModuleType, bad: dict[str, Any]) -> None:
    args: dict[str, Any] = dict(channels=[ROW, ROW], fee_index=[0, 0], schedules=SCHED,
                                n_currencies=1, delay_cost=(0, 0))
    args.update(bad)
    with pytest.raises(ValueError):
        impl.RouteTable(**args)


def test_short_buffers_are_refused(impl: ModuleType) -> None:
    with pytest.raises(ValueError, match="too short"):
        two(impl).decide(1, 0, 0, 1, 0, 0, 0, -1, -1, 3, array("q", [0] * 6), array("q", [0] * 6))


@needs_cython
def test_compiled_kernel_wants_int64_arrays() -> None:
    assert cython_impl is not None
    table = two(cython_impl)
    with pytest.raises(TypeError):
        table.decide(1, 0, 0, 1, 0, 0, 0, -1, -1, 3, array("i", [0] * 12), array("q", [0] * 6))


# --- the twins agree on random tables, orders and states ------------------------------------

amounts = st.one_of(st.integers(1, 10_000_000), st.integers(1, P.MAX_AMOUNT))
limit = st.one_of(st.just(-1), st.integers(0, 10**13))


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[tuple[int, ...]], list[int], list[Any], int,
                                     tuple[int, int]]:
    n = draw(st.integers(1, 8))
    ncur = draw(st.integers(1, 4))
    n_sched = draw(st.integers(1, 6))
    schedules = []
    for _ in range(n_sched):
        bounds = sorted(draw(st.sets(st.integers(1, 10**12), max_size=3)))
        tiers = [(u, draw(st.integers(0, 10**6)), draw(st.integers(0, 10_000))) for u in bounds]
        tiers.append((-1, draw(st.integers(0, 10**6)), draw(st.integers(0, 10_000))))
        lo = draw(st.integers(0, 10**4))
        hi = draw(st.one_of(st.just(-1), st.integers(lo, 10**9)))
        schedules.append((lo, hi, tuple(tiers)))
    row = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(0, 1),
                    st.integers(1, 10**6), limit, limit, limit, limit,
                    st.integers(0, 30 * 86_400))
    rows = draw(st.lists(row, min_size=n, max_size=n))
    fee_index = draw(st.lists(st.integers(-1, n_sched - 1), min_size=n * ncur,
                              max_size=n * ncur))
    delay = (draw(st.integers(0, 10**12)), draw(st.integers(0, 10**12)))
    return rows, fee_index, schedules, ncur, delay


@needs_cython
@settings(max_examples=200, deadline=None)
@given(spec=tables(), data=st.data())
def test_property_twins_agree_on_random_tables(spec: Any, data: st.DataObject) -> None:
    assert cython_impl is not None
    rows, fee_index, schedules, ncur, delay = spec
    n = len(rows)
    slots = st.tuples(st.one_of(st.just(0), st.just(-1), st.integers(0, 10**6)),
                      st.integers(0, 2**62), st.integers(0, 2**62),
                      st.one_of(st.just(-1), st.integers(0, 10**16)),
                      st.integers(0, 1), st.integers(0, 1_000_000))
    state = array("q", [v for row in data.draw(st.lists(slots, min_size=n, max_size=n))
                        for v in row])
    args = (data.draw(amounts), data.draw(st.integers(-1, ncur)), data.draw(st.integers(0, 1)),
            data.draw(st.integers(0, 3)), data.draw(st.integers(0, 1)),
            data.draw(st.integers(0, 1)), data.draw(st.integers(0, 1)),
            data.draw(st.integers(-1, n)), data.draw(st.integers(-1, n)),
            data.draw(st.integers(0, 2**64 - 1)))
    results = []
    for impl in (cython_impl, pure_impl):
        out = array("q", bytes(8 * n * P.OUT_FIELDS))
        table = impl.RouteTable(rows, fee_index, schedules, ncur, delay)
        results.append((table.decide(*args, state, out), list(out)))
    assert results[0] == results[1]


@needs_cython
@settings(max_examples=300, deadline=None)
@given(amount=amounts, schedule=st.integers(0, 0), bps=st.integers(0, 10_000),
       fixed=st.integers(0, 10**6), lo=st.integers(0, 10**4),
       hi=st.one_of(st.none(), st.integers(10**4, 10**9)), upto=st.integers(1, 10**12))
def test_property_kernel_fee_matches_fee_schedule(amount: int, schedule: int, bps: int,
                                                  fixed: int, lo: int, hi: int | None,
                                                  upto: int) -> None:
    assert cython_impl is not None
    fs = FeeSchedule(tiers=(FeeTier(upto=upto, fixed=fixed, bps=bps), FeeTier(fixed=1, bps=bps)),
                     min=lo, max=hi)
    packed = [(lo, -1 if hi is None else hi, ((upto, fixed, bps), (-1, 1, bps)))]
    for impl in (cython_impl, pure_impl):
        table = impl.RouteTable([ROW], [0], packed, 1, (0, 0))
        assert table.fee(schedule, amount) == fs.fee(amount)


# --- the whole router on both kernels: random orders, catalogues and clocks -----------------


@needs_cython
@settings(max_examples=150, deadline=None)
@given(cat=catalogues(), order=orders, now=clocks, data=st.data())
def test_property_router_decides_identically_on_both_kernels(
        cat: Catalogue, order: Order, now: datetime, data: st.DataObject) -> None:
    state = data.draw(states(now))
    compiled = Router(cat, kernel=cython_impl).decide(order, now, state)
    pure = Router(cat, kernel=pure_impl).decide(order, now, state)
    assert compiled == pure
    # and reproducibly: the same inputs give the same decision
    assert Router(cat, kernel=pure_impl).decide(order, now, state) == pure


# --- selector -------------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "expected"), [("1", "pure"), ("", None)])
def test_selector_honours_payswitch_pure(env: str, expected: str | None) -> None:
    if expected is None:
        expected = "pure" if cython_impl is None else "cython"
    code = ("import fastpath.route as f, fastpath._route_py as p; "
            "print(f.IMPLEMENTATION, f.RouteTable is p.RouteTable)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PAYSWITCH_PURE": env}, check=True).stdout.split()
    assert out == [expected, str(expected == "pure")]
