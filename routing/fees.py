"""Fee schedules: tiers of a fixed part plus basis points, a minimum and maximum, and VAT inside.

All amounts are integer minor units of the order's currency. Basis points and the VAT split round
half up (四舍五入): it is the rule of Chinese fee invoices and of the channels' own fee
statements, so the switch's figures match the statements it is reconciled against; banker's
rounding would leave one-fen breaks on every exact half.

>>> schedule = FeeSchedule(tiers=(FeeTier(fixed=0, bps=5),), min=10, max=2000, vat_bp=600)
>>> schedule.fee(3_000), schedule.fee(3_000_000), schedule.fee(900_000_000)
(10, 1500, 2000)
>>> split_vat(1500, 600)
(1415, 85)
"""

from __future__ import annotations

import msgspec

__all__ = ["FeeSchedule", "FeeTier", "half_up_div", "split_vat"]


class FeeTier(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Fee for amounts up to ``upto`` (inclusive; None: no upper bound): fixed + bps of amount."""

    fixed: int = 0
    bps: int = 0  # basis points of the amount, 0..10000
    upto: int | None = None


class FeeSchedule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Tiers ascending by ``upto``, the last without one; the fee includes VAT at ``vat_bp``."""

    tiers: tuple[FeeTier, ...]
    min: int = 0
    max: int | None = None
    vat_bp: int = 0  # VAT rate in basis points: 600 is 6 %

    def tier_for(self, amount: int) -> FeeTier:
        """The first tier whose ``upto`` covers the amount (the last one above them all)."""
        for tier in self.tiers:
            if tier.upto is None or amount <= tier.upto:
                return tier
        return self.tiers[-1]

    def fee(self, amount: int) -> int:
        """Fee for one item of ``amount`` minor units, VAT included.

        >>> FeeSchedule(tiers=(FeeTier(upto=100, fixed=3), FeeTier(fixed=7))).fee(101)
        7
        """
        tier = self.tier_for(amount)
        fee = tier.fixed + half_up_div(amount * tier.bps, 10_000)
        fee = max(fee, self.min)
        return fee if self.max is None else min(fee, self.max)

    def split(self, amount: int) -> tuple[int, int, int]:
        """(fee, net fee, VAT) for one item; net + VAT == fee exactly."""
        fee = self.fee(amount)
        return (fee, *split_vat(fee, self.vat_bp))


def half_up_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half up, for a non-negative numerator.

    >>> half_up_div(5, 10), half_up_div(4, 10), half_up_div(15, 10), half_up_div(25, 10)
    (1, 0, 2, 3)
    """
    if numerator < 0 or denominator <= 0:
        raise ValueError("half_up_div takes a non-negative numerator and a positive denominator")
    return (2 * numerator + denominator) // (2 * denominator)


def split_vat(gross: int, vat_bp: int) -> tuple[int, int]:
    """Split a VAT-inclusive fee into (net, VAT): net = gross / (1 + rate) half up, VAT = rest.

    The VAT is the remainder, not rounded separately, so the two always add up to the gross.

    >>> split_vat(106, 600), split_vat(0, 600), split_vat(100, 0)
    ((100, 6), (0, 0), (100, 0))
    """
    net = half_up_div(gross * 10_000, 10_000 + vat_bp)
    return net, gross - net
