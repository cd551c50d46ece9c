"""What routing reads besides the order and the time: caps used, positions, channel health.

The router never changes it; the store consumes and releases caps atomically with the decision
(``CapLedger`` computes the new figures), accounting supplies positions, the adapters feed the
circuit breakers and success windows.

>>> from datetime import date
>>> day = date(2026, 3, 2)
>>> s = CapLedger.consume(RoutingState(), "IBPS", "6217000000000001", day, 30_000)
>>> s.channel_used[("IBPS", day)], s.debtor_used[("IBPS", "6217000000000001", day)]
(30000, 30000)
>>> CapLedger.release(s, "IBPS", "6217000000000001", day, 30_000).channel_used
{('IBPS', datetime.date(2026, 3, 2)): 0}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date

__all__ = ["CapLedger", "RoutingState"]


@dataclass(frozen=True, slots=True)
class RoutingState:
    """Inputs of one decision. Missing entries mean: nothing used, no position limit, circuit
    closed, success rate 100 %.

    Caps are keyed by business date: a payment scheduled for a later business day counts
    against that day's caps, which the decision names in ``RouteDecision.business_date``.
    """

    channel_used: Mapping[tuple[str, date], int] = field(default_factory=dict)
    debtor_used: Mapping[tuple[str, str, date], int] = field(default_factory=dict)
    # (channel, currency) -> available liquidity on the channel's settlement account, minor
    # units; the shape of ``AccountingWorker.positions`` (SWIFT holds one per currency)
    positions: Mapping[tuple[str, str], int] = field(default_factory=dict)
    unavailable: frozenset[str] = frozenset()  # circuit open: breaker.allows(now) is False
    success_ppm: Mapping[str, int] = field(default_factory=dict)  # rolling success rate


class CapLedger:
    """Pure arithmetic on the caps of ``RoutingState``; the store applies the same deltas."""

    @staticmethod
    def consume(state: RoutingState, channel: str, debtor_account: str, business_date: date,
                amount: int) -> RoutingState:
        """The state after a payment of ``amount`` is routed to ``channel`` for that day."""
        return CapLedger._add(state, channel, debtor_account, business_date, amount)

    @staticmethod
    def release(state: RoutingState, channel: str, debtor_account: str, business_date: date,
                amount: int) -> RoutingState:
        """The state after a routed payment is rejected by the channel or cancelled."""
        return CapLedger._add(state, channel, debtor_account, business_date, -amount)

    @staticmethod
    def _add(state: RoutingState, channel: str, debtor_account: str, business_date: date,
             delta: int) -> RoutingState:
        ckey = (channel, business_date)
        dkey = (channel, debtor_account, business_date)
        channel_used = dict(state.channel_used)
        debtor_used = dict(state.debtor_used)
        # never below zero: a release can only give back what was consumed
        channel_used[ckey] = max(0, channel_used.get(ckey, 0) + delta)
        debtor_used[dkey] = max(0, debtor_used.get(dkey, 0) + delta)
        return replace(state, channel_used=channel_used, debtor_used=debtor_used)
