"""Hypothesis strategies for routing: random catalogues, orders, clocks and routing states.

Clocks lean on the instants where calendars turn (cut-offs, day switches, window openings,
midnights in Shanghai and in Paris, to the microsecond either side), where a cached window
would most easily be wrong.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec
from hypothesis import strategies as st

from routing.catalogue import Catalogue, WhitelistRoute, load_catalogue
from routing.state import RoutingState
from switch.order import Order, Party

SH = ZoneInfo("Asia/Shanghai")
CAT = load_catalogue()
CHANNELS = list(CAT.channels)
AGENTS = ["103100000026", "102100099996", "NWBKGB2LXXX", "CHASUS33XXX", "XYZ", "SANCXXKPXXX"]
COUNTRIES = ["CN", "CN", "GB", "US"]
DEBTORS = ["6217000000000001", "6217000000000002"]
CREDITORS = ["6222000000000009", "6222000000000010", "6222000000000666"]
NAMES = ["B", "Blocked  Trading CO"]
# Local (Shanghai) times where some channel's answer changes: HVPS 17:15 / 20:30, CIPS 08:30 /
# 20:30, BEPS 16:00, UnionPay 23:00, midnight, and SWIFT's CET cut-offs and midnight in winter
# (+7 h) and summer (+6 h).
TURNS = ["00:00", "08:30", "16:00", "17:15", "20:30", "23:00", "07:00", "06:00", "00:30",
         "22:45", "23:30", "13:45", "23:30", "21:45", "22:30", "12:45", "10:00"]
NUDGES = [timedelta(0), timedelta(microseconds=-1), timedelta(microseconds=1),
          timedelta(seconds=59, microseconds=999_999), timedelta(seconds=-1)]


@st.composite
def catalogues(draw: st.DrawFn) -> Catalogue:
    """The shipped catalogue with random fees, latencies, limits, caps and whitelist routes."""
    channels = {}
    for name, spec in CAT.channels.items():
        fees = {}
        for cur, fs in spec.fees.items():
            tiers = tuple(msgspec.structs.replace(t, fixed=draw(st.integers(0, 40_000)),
                                                  bps=draw(st.sampled_from([0, 0, 1, 5, 30])))
                          for t in fs.tiers)
            fees[cur] = msgspec.structs.replace(fs, tiers=tiers,
                                                vat_bp=draw(st.sampled_from([0, 600, 1300])))
        channels[name] = msgspec.structs.replace(
            spec, fees=fees, latency_s=draw(st.integers(0, 20_000)),
            max_amount=draw(st.one_of(st.none(), st.integers(1, 10**9))),
            holiday_max_amount=draw(st.one_of(st.none(), st.integers(1, 10**9))),
            daily_cap=draw(st.one_of(st.none(), st.integers(0, 10**9))),
            debtor_daily_cap=draw(st.one_of(st.none(), st.integers(0, 10**9))))
    delay = msgspec.structs.replace(CAT.cost_of_delay, normal=draw(st.integers(0, 10**4)),
                                    urgent=draw(st.integers(0, 10**7)))
    whitelist = tuple(draw(st.lists(st.one_of(
        st.builds(lambda c, a: WhitelistRoute(channel=c, creditor_account=a),
                  st.sampled_from(CHANNELS), st.sampled_from(CREDITORS)),
        st.builds(lambda c, a: WhitelistRoute(channel=c, creditor_agent=a),
                  st.sampled_from(CHANNELS), st.sampled_from(AGENTS))), max_size=2)))
    rules = msgspec.structs.replace(CAT.rules, whitelist=whitelist)
    cat = msgspec.structs.replace(CAT, channels=channels, cost_of_delay=delay, rules=rules)
    # a few channels alone, so no other channel's calendar hides how one changes
    keep = draw(st.one_of(st.just(CHANNELS), st.sampled_from(CHANNELS).map(lambda c: [c]),
                          st.sets(st.sampled_from(CHANNELS), min_size=1)))
    return cat.only(keep)


orders = st.builds(
    lambda amount, cur, debtor, creditor, name, agent, country, lei, urgency, product,
    designated, when: Order(
        client_order_id="H", amount=amount, currency=cur,
        debtor=Party(account=debtor, name="A", agent="102100099996"),
        creditor=Party(account=creditor, name=name, agent=agent, country=country, lei=lei),
        urgency=urgency, product=product, designated_channel=designated,
        requested_execution=when),
    st.one_of(st.integers(1, 3 * 10**8), st.integers(-5, 0), st.integers(1, 2 * 10**15)),
    st.sampled_from(["CNY", "CNY", "USD", "EUR", "JPY", "CHF"]),
    st.sampled_from(DEBTORS), st.sampled_from(CREDITORS), st.sampled_from(NAMES),
    st.sampled_from(AGENTS), st.sampled_from(COUNTRIES), st.sampled_from([None, "LEI1"]),
    st.sampled_from(["normal", "urgent"]), st.sampled_from(["CT", "SALARY", "XB", "OTHER"]),
    st.one_of(st.none(), st.none(), st.sampled_from([*CHANNELS, "TELEX"])),
    st.one_of(st.none(), st.none(), st.sampled_from(
        ["2026-02-13", "2026-02-24", "2026-03-02", "2026-10-08", "2026-03-03T09:00", "soon"])))

# Days that matter, drawn often so that decisions share days (and cached windows): a working
# Monday and Friday, make-up weekend days, the eves and days of holidays, Paris's DST changes.
DAYS = [date(2026, 3, 2), date(2026, 3, 6), date(2026, 1, 4), date(2026, 2, 14),
        date(2026, 2, 13), date(2026, 2, 18), date(2026, 9, 19), date(2026, 9, 30),
        date(2026, 10, 3), date(2026, 5, 1), date(2026, 3, 28), date(2026, 3, 29),
        date(2026, 10, 24), date(2026, 10, 25), date(2026, 12, 31)]
turning_clocks = st.builds(
    lambda day, hhmm, nudge, utc: _turn(day, hhmm, nudge, utc),
    st.one_of(st.sampled_from(DAYS),
              st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 30))),
    st.sampled_from(TURNS), st.sampled_from(NUDGES), st.booleans())
clocks = st.one_of(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31),
                 timezones=st.just(UTC)),
    turning_clocks)


def _turn(day: date, hhmm: str, nudge: timedelta, utc: bool) -> datetime:
    hh, mm = map(int, hhmm.split(":"))
    at = datetime.combine(day, time(hh, mm), tzinfo=SH) + nudge
    return at.astimezone(UTC) if utc else at


@st.composite
def states(draw: st.DrawFn, around: datetime) -> RoutingState:
    """Caps used on the business days near ``around``, positions, health and success rates."""
    local = around.astimezone(SH).date()
    days = [local + timedelta(days=k) for k in range(-1, 9)]
    figures = st.one_of(st.integers(0, 10**9), st.integers(-10, 0), st.integers(0, 2**63 - 1))
    used = draw(st.dictionaries(st.tuples(st.sampled_from(CHANNELS), st.sampled_from(days)),
                                figures, max_size=12))
    debtor_used = draw(st.dictionaries(
        st.tuples(st.sampled_from(CHANNELS), st.sampled_from(DEBTORS), st.sampled_from(days)),
        figures, max_size=12))
    positions = draw(st.dictionaries(
        st.tuples(st.sampled_from(CHANNELS), st.sampled_from(["CNY", "USD", "EUR"])),
        st.one_of(st.integers(-10**6, 10**10), st.integers(0, 2**63 - 1)), max_size=6))
    return RoutingState(
        channel_used=used, debtor_used=debtor_used, positions=positions,
        unavailable=frozenset(draw(st.sets(st.sampled_from([*CHANNELS, "TELEX"]),
                                           max_size=2))),
        success_ppm=draw(st.dictionaries(st.sampled_from(CHANNELS),
                                          st.integers(0, 1_000_000), max_size=6)))
