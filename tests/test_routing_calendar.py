"""Working days, windows, the BEPS business-day switch, CIPS 5x24+4 and SWIFT cut-offs."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.calendar import (
    Availability,
    ChannelCalendar,
    WorkingCalendar,
    availability,
    availability_until,
    parse_hhmm,
)
from routing.catalogue import load_catalogue
from tests.route_strategies import clocks

SH = ZoneInfo("Asia/Shanghai")
CAT = load_catalogue()
WORK = WorkingCalendar(CAT.calendar.holidays, CAT.calendar.makeup_days)


def when(channel: str, y: int, m: int, d: int, hh: int, mm: int = 0,
         currency: str = "CNY") -> Availability:
    a = availability(CAT.channels[channel].calendar, WORK, datetime(y, m, d, hh, mm, tzinfo=SH),
                     currency)
    assert a is not None
    return a


def t(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


@pytest.mark.parametrize(("day", "working"), [
    (date(2026, 1, 1), False), (date(2026, 1, 4), True),  # Sunday make-up day
    (date(2026, 2, 14), True), (date(2026, 2, 15), False), (date(2026, 2, 23), False),
    (date(2026, 2, 24), True), (date(2026, 2, 28), True), (date(2026, 3, 1), False),
    (date(2026, 4, 6), False), (date(2026, 5, 9), True), (date(2026, 6, 19), False),
    (date(2026, 9, 20), True), (date(2026, 9, 25), False), (date(2026, 10, 7), False),
    (date(2026, 10, 10), True), (date(2026, 10, 11), False), (date(2026, 3, 2), True),
])
def test_2026_working_days(day: date, working: bool) -> None:
    assert WORK.is_working(day) is working


def test_2026_has_248_working_days() -> None:
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    weekdays = sum(d.weekday() < 5 for d in days)
    holidays_on_weekdays = sum(d.weekday() < 5 for d in CAT.calendar.holidays)
    assert sum(map(WORK.is_working, days)) == weekdays - holidays_on_weekdays + 6 == 248


def test_next_working_day_skips_the_spring_festival() -> None:
    assert WORK.next_working(date(2026, 2, 15)) == date(2026, 2, 24)
    assert WORK.next_working(date(2026, 2, 13)) == date(2026, 2, 13)


# --- BEPS: 7x24, business day switches at 16:00 ------------------------------------------


@pytest.mark.parametrize(("now", "business_day"), [
    (t(2026, 3, 2, 15, 59), date(2026, 3, 2)),
    (t(2026, 3, 2, 16, 0), date(2026, 3, 3)),
    (t(2026, 3, 6, 16, 0), date(2026, 3, 9)),  # Friday after the switch: Monday
    (t(2026, 2, 13, 16, 0), date(2026, 2, 14)),  # make-up Saturday
    (t(2026, 4, 30, 16, 30), date(2026, 5, 6)),  # into the May holiday: first working day
    (t(2026, 5, 2, 10, 0), date(2026, 5, 6)),
    (t(2026, 3, 7, 12, 0), date(2026, 3, 9)),  # an ordinary Saturday
])
def test_beps_business_day_switch(now: datetime, business_day: date) -> None:
    a = availability(CAT.channels["BEPS"].calendar, WORK, now, "CNY")
    assert a == Availability(now, business_day)  # always open


def test_ibps_is_real_time_on_the_calendar_date() -> None:
    assert when("IBPS", 2026, 5, 2, 23, 59) == Availability(t(2026, 5, 2, 23, 59), date(2026, 5, 2))


def test_unionpay_settlement_day_switches_at_23() -> None:
    assert when("UnionPay", 2026, 3, 2, 22, 59).business_date == date(2026, 3, 2)
    assert when("UnionPay", 2026, 3, 2, 23, 0).business_date == date(2026, 3, 3)


# --- HVPS: 20:30 the evening before to the 17:15 cut-off -----------------------------------


@pytest.mark.parametrize(("now", "opens", "business_day"), [
    (t(2026, 3, 2, 17, 14), t(2026, 3, 2, 17, 14), date(2026, 3, 2)),
    (t(2026, 3, 2, 17, 15), t(2026, 3, 2, 20, 30), date(2026, 3, 3)),
    (t(2026, 3, 2, 20, 30), t(2026, 3, 2, 20, 30), date(2026, 3, 3)),
    (t(2026, 3, 2, 0, 10), t(2026, 3, 2, 0, 10), date(2026, 3, 2)),
    (t(2026, 3, 7, 10, 0), t(2026, 3, 8, 20, 30), date(2026, 3, 9)),
    (t(2026, 2, 27, 21, 0), t(2026, 2, 27, 21, 0), date(2026, 2, 28)),  # make-up Saturday
])
def test_hvps_window(now: datetime, opens: datetime, business_day: date) -> None:
    a = availability(CAT.channels["HVPS"].calendar, WORK, now, "CNY")
    assert a == Availability(opens, business_day)


# --- CIPS 5x24+4: business day D runs 08:30 on D-1 to 20:30 on D ---------------------------


@pytest.mark.parametrize(("now", "opens", "business_day"), [
    (t(2026, 3, 2, 10, 0), t(2026, 3, 2, 10, 0), date(2026, 3, 2)),
    (t(2026, 3, 2, 21, 0), t(2026, 3, 2, 21, 0), date(2026, 3, 3)),  # into Tuesday's day
    (t(2026, 3, 6, 20, 29), t(2026, 3, 6, 20, 29), date(2026, 3, 6)),
    (t(2026, 3, 6, 20, 30), t(2026, 3, 8, 8, 30), date(2026, 3, 9)),  # Friday close
    (t(2026, 3, 7, 12, 0), t(2026, 3, 8, 8, 30), date(2026, 3, 9)),
    (t(2026, 3, 8, 8, 30), t(2026, 3, 8, 8, 30), date(2026, 3, 9)),  # Sunday morning opening
    (t(2026, 9, 24, 21, 0), t(2026, 9, 27, 8, 30), date(2026, 9, 28)),  # holiday Friday
    (t(2026, 9, 19, 9, 0), t(2026, 9, 19, 9, 0), date(2026, 9, 20)),  # make-up Sunday
])
def test_cips_5x24_plus_4(now: datetime, opens: datetime, business_day: date) -> None:
    a = availability(CAT.channels["CIPS"].calendar, WORK, now, "CNY")
    assert a == Availability(opens, business_day)


def test_cips_is_open_all_week_but_the_weekend_gap() -> None:
    start = t(2026, 3, 2, 0, 0)  # an ordinary week, Monday 00:00 to Sunday 24:00
    steps = [start + timedelta(minutes=30 * h) for h in range(7 * 24 * 2)]
    closed = [s for s in steps if when("CIPS", s.year, s.month, s.day, s.hour, s.minute)
              .opens_at != s]
    # Friday 20:30 to Sunday 08:30 is the only gap: 36 hours (CHANNELS.md's windows)
    assert len(closed) == 36 * 2
    assert closed[0] == t(2026, 3, 6, 20, 30) and closed[-1] == t(2026, 3, 8, 8, 0)


# --- SWIFT: weekdays in CET, value-date cut-offs per currency -------------------------------


@pytest.mark.parametrize(("now", "currency", "value"), [
    (t(2026, 3, 2, 23, 0), "USD", date(2026, 3, 2)),  # 16:00 CET
    (t(2026, 3, 3, 0, 45), "USD", date(2026, 3, 3)),  # 17:45 CET Monday: next day
    (t(2026, 3, 2, 23, 0), "EUR", date(2026, 3, 3)),  # after 15:45 CET
    (t(2026, 3, 2, 22, 0), "EUR", date(2026, 3, 2)),  # 15:00 CET
    (t(2026, 3, 2, 23, 0), "JPY", date(2026, 3, 3)),  # before 16:30, value D+1
    (t(2026, 3, 2, 23, 45), "JPY", date(2026, 3, 4)),  # after 16:30: D+2
    (t(2026, 3, 2, 13, 0), "CNY", date(2026, 3, 2)),  # 06:00 CET, before the 06:45 CNH cut-off
    (t(2026, 3, 2, 14, 0), "CNY", date(2026, 3, 3)),
    (t(2026, 3, 6, 23, 0), "JPY", date(2026, 3, 9)),  # Friday D+1 is Monday
    (t(2026, 7, 1, 23, 20), "USD", date(2026, 7, 1)),  # summer: CEST, 17:20
    (t(2026, 7, 1, 23, 40), "USD", date(2026, 7, 2)),
])
def test_swift_cutoffs(now: datetime, currency: str, value: date) -> None:
    a = availability(CAT.channels["SWIFT"].calendar, WORK, now, currency)
    assert a == Availability(now, value)


def test_swift_is_closed_at_the_weekend_in_cet() -> None:
    a = when("SWIFT", 2026, 3, 7, 10, currency="USD")  # Saturday 03:00 CET
    assert a == Availability(t(2026, 3, 9, 7, 0), date(2026, 3, 9))  # Monday 00:00 CET
    # Monday 06:59 Shanghai is still Sunday in Paris
    assert when("SWIFT", 2026, 3, 9, 6, 59, currency="USD").opens_at == t(2026, 3, 9, 7, 0)


def test_swift_without_a_cutoff_for_the_currency_is_never_open() -> None:
    assert availability(CAT.channels["SWIFT"].calendar, WORK, t(2026, 3, 2, 10), "CHF") is None


def test_window_calendar_without_working_days_has_no_window() -> None:
    none = WorkingCalendar(holidays=[date(2026, 1, 1) + timedelta(days=i) for i in range(800)],
                           makeup_days=[])
    spec = ChannelCalendar(kind="window", cutoff="17:00")
    assert availability(spec, none, t(2026, 1, 1, 9), "CNY") is None
    with pytest.raises(ValueError, match="no working day"):
        none.next_working(date(2026, 1, 1))


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="zoneinfo"):
        availability(CAT.channels["HVPS"].calendar, WORK, datetime(2026, 3, 2), "CNY")


@pytest.mark.parametrize("bad", ["7:00", "24:01", "12:60", "noon", "12-30", ""])
def test_parse_hhmm_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_hhmm(bad)


# --- how long an answer holds (what the router's cached windows rest on) --------------------

CALENDARS = [
    *(spec.calendar for spec in CAT.channels.values()),
    ChannelCalendar(kind="window", opens="09:00", cutoff="17:00"),
    ChannelCalendar(kind="window", opens="20:00", cutoff="17:00"),  # opens after the cut-off
    ChannelCalendar(kind="window", opens="00:00", cutoff="24:00"),
    ChannelCalendar(kind="continuous", day_switch="24:00"),
    ChannelCalendar(kind="continuous", day_switch="00:01", roll_to_working_day=True),
    ChannelCalendar(kind="cutoffs", cutoffs={"CNY": "24:00", "USD": "00:00"},
                    value_days={"USD": 2}, holidays=(date(2026, 3, 3), date(2026, 12, 25))),
    ChannelCalendar(kind="cutoffs", timezone="America/New_York", cutoffs={"CNY": "17:00"}),
]


def shape(a: Availability | None, at: datetime) -> tuple[object, ...] | None:
    """What a span shares: business date, and open now or the fixed time it opens."""
    return None if a is None else (a.business_date, a.opens_at == at or a.opens_at)


@settings(max_examples=400, deadline=None)
@given(spec=st.sampled_from(CALENDARS), start=clocks, currency=st.sampled_from(["CNY", "USD"]),
       share=st.floats(0, 1, exclude_max=True), minute=st.booleans())
def test_property_an_answer_holds_until_its_until(spec: ChannelCalendar, start: datetime,
                                                  currency: str, share: float,
                                                  minute: bool) -> None:
    now = start.astimezone(SH)
    if minute:  # as the router asks: at the start of the minute
        now = now.replace(second=0, microsecond=0)
    a, until = availability_until(spec, WORK, now, currency)
    assert a == availability(spec, WORK, now, currency)
    assert until > now and until.tzinfo is SH
    last = until - timedelta(microseconds=1)
    for t in (min(now + (until - now) * share, last), last):  # inside the span, the end too
        b, b_until = availability_until(spec, WORK, t, currency)
        assert (shape(b, t), b_until) == (shape(a, now), until)
    after = availability(spec, WORK, until, currency)  # on ``until`` itself it may change
    assert after is None or a is None or after.opens_at >= until


def test_hvps_answer_changes_when_its_window_opens_then_at_the_cutoff() -> None:
    hvps = CAT.channels["HVPS"].calendar
    a, until = availability_until(hvps, WORK, t(2026, 3, 2, 18), "CNY")
    assert (a, until) == (Availability(t(2026, 3, 2, 20, 30), date(2026, 3, 3)),
                          t(2026, 3, 2, 20, 30))
    a, until = availability_until(hvps, WORK, t(2026, 3, 2, 21), "CNY")
    assert (a, until) == (Availability(t(2026, 3, 2, 21), date(2026, 3, 3)),
                          t(2026, 3, 3, 17, 15))
