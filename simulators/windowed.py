"""ISO 20022 channels that keep business days on China's working-day calendar (HVPS, CIPS).

Business day D is a statutory working day. It takes new items from ``opens`` on the calendar
day before D until ``cutoff`` on D (HVPS 20:30 to 17:15, CIPS 08:30 to 20:30; outside, or on a
day already closed: TM01) and closes at ``day_switch`` on D (HVPS 17:30, after its clearing
window; CIPS 20:30). At the day switch the channel does its end-of-day work (`close_day`) and
fixes each participant's camt.053 for D; a later request gets the very same document. Money a
participant moves after the switch belongs to the next working day. The switch runs on the
injected clock, so a test advancing a `VirtualClock` through a week sees every close in order.

>>> from datetime import UTC, datetime
>>> from switch.clock import VirtualClock
>>> from simulators.hvps import HvpsSimulator
>>> sim = HvpsSimulator(HvpsSimulator.Config(), VirtualClock(datetime(2026, 4, 30, 13, tzinfo=UTC)))
>>> sim.business_date().isoformat(), sim.taking_items()  # 21:00 before a five-day holiday
('2026-05-06', False)
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from routing.calendar import WorkingCalendar, parse_hhmm
from simulators.base import SimConfig
from simulators.books import SimItem
from simulators.faults import FaultPlan
from simulators.mx import MxSimulator
from switch.clock import Clock, Timer

__all__ = ["CHINA_HOLIDAYS_2026", "CHINA_MAKEUP_DAYS_2026", "WindowConfig", "WindowedSimulator"]

# China's 2026 working-day calendar (State Council notice of 4 November 2025; CHANNELS.md).
# Later years are published each November and go in configuration, not here.
CHINA_HOLIDAYS_2026: tuple[date, ...] = (
    *(date(2026, 1, d) for d in (1, 2, 3)),
    *(date(2026, 2, d) for d in range(15, 24)),
    *(date(2026, 4, d) for d in (4, 5, 6)),
    *(date(2026, 5, d) for d in range(1, 6)),
    *(date(2026, 6, d) for d in (19, 20, 21)),
    *(date(2026, 9, d) for d in (25, 26, 27)),
    *(date(2026, 10, d) for d in range(1, 8)),
)
CHINA_MAKEUP_DAYS_2026: tuple[date, ...] = (
    date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20),
    date(2026, 10, 10),
)


class WindowConfig(SimConfig, frozen=True, forbid_unknown_fields=True):
    """A channel's business-day window; times are HH:MM in the channel's time zone."""

    holidays: tuple[date, ...] = CHINA_HOLIDAYS_2026
    makeup_days: tuple[date, ...] = CHINA_MAKEUP_DAYS_2026
    opens: str = "00:00"  # on the calendar day before the business day
    cutoff: str = "24:00"  # on the business day: the first moment no new item is taken
    day_switch: str = "24:00"  # on the business day: the day closes (at or after cutoff)

    def __post_init__(self) -> None:
        for key in ("opens", "cutoff", "day_switch"):
            try:
                parse_hhmm(getattr(self, key))
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        if parse_hhmm(self.day_switch) < parse_hhmm(self.cutoff):
            raise ValueError("day_switch must not come before cutoff")


class WindowedSimulator(MxSimulator):
    Config = WindowConfig
    config: WindowConfig

    def __init__(self, config: WindowConfig, clock: Clock, seed: int = 0,
                 faults: FaultPlan | None = None) -> None:
        super().__init__(config, clock, seed, faults)
        self.calendar = WorkingCalendar(config.holidays, config.makeup_days)
        self._opens = parse_hhmm(config.opens)
        self._cutoff = parse_hhmm(config.cutoff)
        self._switch = parse_hhmm(config.day_switch)
        self._closed: dict[date, dict[str, Any]] = {}  # business day -> what its switch did
        self._statements: dict[tuple[str, date], tuple[str, bytes]] = {}
        self._timer: Timer | None = None

    # -- the calendar ------------------------------------------------------------------------

    def business_date(self, at: datetime | None = None) -> date:
        """The business day ``at`` (default: now) belongs to: from one day switch to the next,
        on working days."""
        local = (at or self.clock.now()).astimezone(self.tz)
        day = local.date()
        if local.hour * 60 + local.minute >= self._switch:
            day += timedelta(days=1)
        return self.calendar.next_working(day)

    def local_time(self, day: date, minutes: int) -> datetime:
        """``minutes`` after midnight of calendar day ``day``, in the channel's time zone."""
        return datetime.combine(day, time(), tzinfo=self.tz) + timedelta(minutes=minutes)

    def taking_items(self, at: datetime | None = None) -> bool:
        """Whether a new item arriving at ``at`` (default: now) is inside its day's window."""
        at = at or self.clock.now()
        day = self.business_date(at)
        return (day not in self._closed
                and self.local_time(day - timedelta(days=1), self._opens) <= at
                < self.local_time(day, self._cutoff))

    def check(self, item: SimItem) -> str | None:
        if not self.taking_items(item.received_at):
            return "TM01"
        return super().check(item)

    # -- the day switch ----------------------------------------------------------------------

    def on_started(self) -> None:
        self._arm_day_switch()

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await super().stop()

    def _arm_day_switch(self) -> None:
        now = self.clock.now()
        day = self.business_date(now)
        due = self.local_time(day, self._switch)
        self._timer = self.clock.call_later((due - now).total_seconds(), self._switch_due, day)

    def _switch_due(self, day: date) -> None:
        self.day_switch(day)
        self._arm_day_switch()

    def day_switch(self, day: date) -> dict[str, Any]:
        """Close business day ``day`` (once; again, the same answer): end-of-day work, then
        every participant's statement is fixed."""
        done = self._closed.get(day)
        if done is not None:
            return done
        returned = self.close_day(day)
        for participant in sorted(self.books.participants):
            self._statements[(participant, day)] = super().statement_document(participant, day)
        done = self._closed[day] = {"business_date": day.isoformat(), "returned": returned,
                                    "statements": sorted(self.books.participants)}
        return done

    def close_day(self, day: date) -> list[str]:
        """The channel's end-of-day work for ``day``: end-to-end ids of the items it sent back."""
        return []

    def statement_document(self, participant: str, day: date) -> tuple[str, bytes]:
        kept = self._statements.get((participant, day))
        if kept is not None:
            return kept
        statement = super().statement_document(participant, day)
        if day in self._closed:  # nothing moves on a closed day: its statement is final
            self._statements[(participant, day)] = statement
        return statement

    def closed_days(self) -> list[date]:
        return sorted(self._closed)
