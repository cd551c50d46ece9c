"""Working days, windows, business-day switches and cut-offs: when a channel can take an order.

Three shapes of operating calendar cover the channels (``ChannelCalendar.kind``):

- ``window``: business day D (a working day) accepts from ``opens`` (on D-1 when
  ``opens_previous_day``) until ``cutoff`` on D. HVPS: 20:30 the evening before to 17:15;
  CIPS 5x24+4: 08:30 the day before to 20:30.
- ``continuous``: open 7x24; an order at or after ``day_switch`` belongs to the next calendar
  day, rolled to the next working day when ``roll_to_working_day`` (BEPS: 16:00, rolled).
- ``cutoffs``: open on weekdays in ``timezone``; value today before the currency's cut-off,
  else the next weekday, plus ``value_days`` (SWIFT with its correspondents' cut-offs).

>>> from zoneinfo import ZoneInfo
>>> cal = WorkingCalendar(holidays=[date(2026, 5, 1)], makeup_days=[date(2026, 5, 9)])
>>> cal.is_working(date(2026, 5, 1)), cal.is_working(date(2026, 5, 9))
(False, True)
>>> hvps = ChannelCalendar(kind="window", opens="20:30", opens_previous_day=True, cutoff="17:15")
>>> at = datetime(2026, 4, 30, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
>>> a = availability(hvps, cal, at, "CNY")
>>> a.opens_at.isoformat(), a.business_date.isoformat()
('2026-05-03T20:30:00+08:00', '2026-05-04')
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

__all__ = [
    "Availability",
    "ChannelCalendar",
    "WorkingCalendar",
    "availability",
    "availability_until",
    "parse_hhmm",
]

_DAY = timedelta(days=1)
_HORIZON_DAYS = 400  # a calendar with no working day in a year and more is a configuration error


class ChannelCalendar(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A channel's operating calendar; which fields matter depends on ``kind``."""

    kind: Literal["window", "continuous", "cutoffs"]
    opens: str = "00:00"  # window: HH:MM
    opens_previous_day: bool = False  # window
    cutoff: str = "24:00"  # window: HH:MM, exclusive
    day_switch: str = "00:00"  # continuous: HH:MM; 00:00 means the calendar date
    roll_to_working_day: bool = False  # continuous
    timezone: str | None = None  # cutoffs: where the cut-offs are read (None: the catalogue's)
    cutoffs: dict[str, str] = msgspec.field(default_factory=dict)  # cutoffs: currency -> HH:MM
    value_days: dict[str, int] = msgspec.field(default_factory=dict)  # cutoffs: currency -> days
    holidays: tuple[date, ...] = ()  # cutoffs: network holidays besides weekends


class Availability(msgspec.Struct, frozen=True):
    """The earliest moment a channel takes an order, and the business (value) date it gets."""

    opens_at: datetime  # the asked time itself when the channel is open now
    business_date: date


class WorkingCalendar:
    """Statutory working days: weekdays minus holidays, plus make-up (调休) weekend days."""

    def __init__(self, holidays: Iterable[date], makeup_days: Iterable[date]) -> None:
        self.holidays = frozenset(holidays)
        self.makeup_days = frozenset(makeup_days)

    def is_working(self, day: date) -> bool:
        if day in self.makeup_days:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def next_working(self, day: date) -> date:
        """``day`` itself when it is a working day, else the first working day after it."""
        for _ in range(_HORIZON_DAYS):
            if self.is_working(day):
                return day
            day += _DAY
        raise ValueError(f"no working day within {_HORIZON_DAYS} days of {day}")


@functools.lru_cache(maxsize=256)  # the catalogue's handful of times, parsed on every decision
def parse_hhmm(text: str) -> int:
    """Minutes after midnight of an ``HH:MM`` time; ``24:00`` is the end of the day.

    >>> parse_hhmm("17:15"), parse_hhmm("24:00")
    (1035, 1440)
    """
    hh, sep, mm = text.partition(":")
    if not (sep and len(hh) == 2 and len(mm) == 2 and hh.isdigit() and mm.isdigit()):
        raise ValueError(f"{text!r} is not HH:MM")
    minutes = int(hh) * 60 + int(mm)
    if int(mm) > 59 or minutes > 24 * 60:
        raise ValueError(f"{text!r} is not a time of day")
    return minutes


def _at(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz) + timedelta(minutes=minutes)


def _minutes(ts: datetime) -> int:
    return ts.hour * 60 + ts.minute


def availability(spec: ChannelCalendar, calendar: WorkingCalendar, now: datetime,
                 currency: str) -> Availability | None:
    """When the channel takes an order in ``currency`` asked at ``now`` (aware, local time).

    None when the channel has no cut-off for the currency or no window within the horizon.
    """
    return availability_until(spec, calendar, now, currency)[0]


def availability_until(spec: ChannelCalendar, calendar: WorkingCalendar, now: datetime,
                       currency: str) -> tuple[Availability | None, datetime]:
    """``availability`` and the instant (local time) before which the answer stays the same.

    Asked again at any ``t`` with ``now <= t < until``, the answer is the same business date,
    the same opening time, or open-now again; and so is ``until``, so the spans never overlap.

    >>> from zoneinfo import ZoneInfo
    >>> hvps = ChannelCalendar(kind="window", opens="20:30", opens_previous_day=True,
    ...                        cutoff="17:15")
    >>> at = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    >>> a, until = availability_until(hvps, WorkingCalendar((), ()), at, "CNY")
    >>> a.opens_at == at, until.isoformat()
    (True, '2026-03-02T17:15:00+08:00')
    """
    tz = now.tzinfo
    if not isinstance(tz, ZoneInfo):
        raise ValueError("availability needs a zoneinfo-aware local time")
    if spec.kind == "window":
        return _window(spec, calendar, now, tz)
    if spec.kind == "continuous":
        return _continuous(spec, calendar, now, tz)
    return _cutoffs(spec, now, currency, tz)


def _window(spec: ChannelCalendar, calendar: WorkingCalendar, now: datetime,
            tz: ZoneInfo) -> tuple[Availability | None, datetime]:
    opens, cutoff = parse_hhmm(spec.opens), parse_hhmm(spec.cutoff)
    lead = _DAY if spec.opens_previous_day else timedelta()
    day = now.date()
    # windows of successive working days start and end in order, so the first working day
    # whose cut-off is still ahead holds the earliest moment the channel takes the order
    for _ in range(_HORIZON_DAYS):
        closes = _at(day, cutoff, tz)
        if calendar.is_working(day) and now < closes:
            opens_at = _at(day - lead, opens, tz)
            return (Availability(max(now, opens_at), day),
                    opens_at if now < opens_at < closes else closes)
        day += _DAY
    return None, _at(now.date() + _DAY, 0, tz)  # the horizon moves on at midnight


def _continuous(spec: ChannelCalendar, calendar: WorkingCalendar, now: datetime,
                tz: ZoneInfo) -> tuple[Availability, datetime]:
    switch = parse_hhmm(spec.day_switch)
    day = now.date()
    if switch and _minutes(now) >= switch:
        day += _DAY
        until = _at(now.date() + _DAY, 0, tz)
    else:
        until = _at(now.date(), switch, tz) if switch else _at(now.date() + _DAY, 0, tz)
    if spec.roll_to_working_day:
        day = calendar.next_working(day)
    return Availability(now, day), until


def _cutoffs(spec: ChannelCalendar, now: datetime, currency: str,
             home: ZoneInfo) -> tuple[Availability | None, datetime]:
    cutoff_text = spec.cutoffs.get(currency)
    if cutoff_text is None:
        return None, _at(now.date() + _DAY, 0, home)
    cutoff = parse_hhmm(cutoff_text)
    tz = ZoneInfo(spec.timezone) if spec.timezone else home
    local = now.astimezone(tz)
    day = local.date()
    holidays = frozenset(spec.holidays)

    def open_day(d: date) -> bool:
        return d.weekday() < 5 and d not in holidays

    def next_open(d: date) -> date:
        for _ in range(_HORIZON_DAYS):
            if open_day(d):
                return d
            d += _DAY
        raise ValueError(f"no network day within {_HORIZON_DAYS} days of {d}")

    until = _at(day + _DAY, 0, tz)  # the network's midnight
    if open_day(day):
        opens_at = now
        if _minutes(local) < cutoff:
            value = day
            until = _at(day, cutoff, tz)
        else:
            value = next_open(day + _DAY)
    else:
        value = next_open(day)
        opens_at = _at(value, 0, tz).astimezone(home)
    for _ in range(spec.value_days.get(currency, 0)):
        value = next_open(value + _DAY)
    return Availability(opens_at, value), until.astimezone(home)
