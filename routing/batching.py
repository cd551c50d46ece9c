"""Micro-payment batching profiles: which orders merge into one channel payment, and when.

A profile names the orders that qualify (products, business types, payee accounts, currency, an
amount ceiling per order), the channel the merged payment takes, and when a batch closes: at the
end of its window (every ``every_minutes`` from local midnight, or at given clock times), when it
holds ``close_count`` members, or before its total would pass ``close_amount`` (which keeps a
batch within the channel's per-item limit). One batch per payee and window; a batch that fills
up early is followed by the next one in the same window.

Pure decisions on injected time (routing does no I/O): `profile_for` and `window`.

>>> from datetime import datetime
>>> from zoneinfo import ZoneInfo
>>> p = BatchingProfile(name="T0", products=("T0SETTLE",), max_amount=100_000, channel="BEPS",
...                     every_minutes=10)
>>> w = p.window(datetime(2026, 3, 2, 10, 17, tzinfo=ZoneInfo("Asia/Shanghai")))
>>> w.key, w.closes_at.isoformat()
('2026-03-02T10:10', '2026-03-02T10:20:00+08:00')
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import msgspec

from routing.calendar import parse_hhmm
from switch.order import Order

__all__ = ["BatchWindow", "BatchingProfile", "profile_for"]

_DAY = 24 * 60


class BatchWindow(msgspec.Struct, frozen=True):
    key: str  # the window's local opening time, e.g. 2026-03-02T10:10
    opens_at: datetime
    closes_at: datetime


class BatchingProfile(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: str
    channel: str
    max_amount: int  # orders above this are sent on their own
    products: tuple[str, ...] = ()  # empty: any product
    business_types: tuple[str, ...] = ()  # empty: any business type
    payees: tuple[str, ...] = ()  # creditor accounts; empty: any payee
    currency: str = "CNY"
    every_minutes: int | None = None  # windows from local midnight
    at: tuple[str, ...] = ()  # or: windows close at these local times (HH:MM)
    close_count: int | None = None  # close early with this many members
    close_amount: int | None = None  # close before the total would pass this (minor units)
    max_members: int = 5000
    on_reject: str = "reroute"  # a rejected batch: members routed on their own, or "reject"

    def __post_init__(self) -> None:
        if self.max_amount < 1 or self.max_members < 1:
            raise ValueError("max_amount and max_members must be at least 1")
        if (self.every_minutes is None) == (not self.at):
            raise ValueError("give exactly one of every_minutes and at")
        if self.every_minutes is not None and not 1 <= self.every_minutes <= _DAY:
            raise ValueError("every_minutes must be 1-1440")
        for t in self.at:
            parse_hhmm(t)
        if self.close_count is not None and self.close_count < 1:
            raise ValueError("close_count must be at least 1")
        if self.close_amount is not None and self.close_amount < self.max_amount:
            raise ValueError("close_amount must be at least max_amount (one member must fit)")
        if self.on_reject not in ("reroute", "reject"):
            raise ValueError("on_reject must be reroute or reject")

    def takes(self, order: Order) -> bool:
        return (order.currency == self.currency and 0 < order.amount <= self.max_amount
                and (not self.products or order.product in self.products)
                and (not self.business_types or order.business_type in self.business_types)
                and (not self.payees or order.creditor.account in self.payees)
                and order.designated_channel in (None, self.channel))

    def window(self, local: datetime) -> BatchWindow:
        """The window ``local`` (timezone-aware, the catalogue's local time) falls in."""
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        minute = local.hour * 60 + local.minute
        if self.every_minutes is not None:
            start = minute - minute % self.every_minutes
            opens = midnight + timedelta(minutes=start)
            closes = min(opens + timedelta(minutes=self.every_minutes),
                         midnight + timedelta(days=1))
        else:
            ends = sorted(parse_hhmm(t) for t in self.at)
            later = [e for e in ends if e > minute]
            end = later[0] if later else ends[0] + _DAY
            earlier = [e for e in ends if e <= minute]
            start = earlier[-1] if earlier else ends[-1] - _DAY
            opens = midnight + timedelta(minutes=start)
            closes = midnight + timedelta(minutes=end)
        # A wall-clock key: the same window in every process and after every restart.
        return BatchWindow(opens.strftime("%Y-%m-%dT%H:%M"), opens, closes)


def profile_for(profiles: Iterable[BatchingProfile], order: Order) -> BatchingProfile | None:
    """The first profile that takes the order (profiles are tried in catalogue order)."""
    for profile in profiles:
        if profile.takes(order):
            return profile
    return None
