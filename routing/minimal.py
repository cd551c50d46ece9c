"""The first router: IBPS when the order fits it, a reasoned rejection when nothing fits.

The full router (catalogue, calendars, limits, costs) replaces this; the decision type stays.
"""

from __future__ import annotations

import re
from datetime import datetime

import msgspec

from switch.order import Order

_CNAPS = re.compile(r"\d{12}")


class RouteDecision(msgspec.Struct, frozen=True):
    """Where a payment goes and why; `channel` None means rejected with `reason`."""

    channel: str | None
    fee: int  # minor units, charged to the debtor
    reason: str | None  # ISO 20022 reason code when rejected
    explanation: tuple[str, ...]


class IbpsRule(msgspec.Struct, frozen=True):
    per_item_cap: int = 5_000_000  # 50,000.00 CNY in fen (CHANNELS.md)
    currency: str = "CNY"
    # (amount up to, fee) in fen, ascending; CHANNELS.md gives 0.30-2.00 CNY per item.
    fee_tiers: tuple[tuple[int, int], ...] = ((100_000, 30), (1_000_000, 80), (5_000_000, 200))


class MinimalRouter:
    def __init__(self, ibps: IbpsRule | None = None) -> None:
        self.ibps = ibps or IbpsRule()

    def decide(self, order: Order, now: datetime) -> RouteDecision:
        """Pure: the same order at the same time always gets the same decision."""
        rule = self.ibps
        if order.designated_channel not in (None, "IBPS"):
            return _reject("AG01", f"designated channel {order.designated_channel} is not offered")
        if order.currency != rule.currency:
            return _reject("AM03", f"IBPS settles {rule.currency} only, not {order.currency}")
        if _CNAPS.fullmatch(order.creditor.agent) is None:
            return _reject("RC01", f"creditor agent {order.creditor.agent} is not a CNAPS bank")
        if order.amount > rule.per_item_cap:
            return _reject("AM02", f"amount {order.amount} above the IBPS cap {rule.per_item_cap}")
        fee = next((f for upto, f in rule.fee_tiers if order.amount <= upto), rule.fee_tiers[-1][1])
        return RouteDecision(
            channel="IBPS",
            fee=fee,
            reason=None,
            explanation=(
                f"IBPS: {order.currency}, within cap, open 7x24 at {now:%H:%M}", f"fee {fee}"
            ),
        )


def _reject(reason: str, why: str) -> RouteDecision:
    return RouteDecision(channel=None, fee=0, reason=reason, explanation=(why,))
