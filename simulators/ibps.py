"""IBPS simulator: the online real-time channel ("Super Online Banking") as the switch sees it.

7x24 real time (CHANNELS.md, IBPS): each pacs.008 transaction is checked (AM03 currency, AM02
above the per-item cap, RC01 debtor agent not a participant or creditor agent not a 12-digit
CNAPS code, AC04/AC06 closed/blocked creditor account, AM04 sender short of funds) and settled
gross at once: the sending participant is debited, the receiving bank credited, and the pacs.002
ACSC carries AccptncDtTm from the injected clock. Everything else (resends, inquiry, returns,
statements, faults) is `simulators.mx.MxSimulator`.
"""

from __future__ import annotations

from simulators.base import SimConfig
from simulators.books import SimItem
from simulators.mx import CNAPS_CODE, NOT_FOUND, MxSimulator

__all__ = ["NOT_FOUND", "IbpsConfig", "IbpsSimulator"]


class IbpsConfig(SimConfig, frozen=True, forbid_unknown_fields=True):
    """The channel's rules (CHANNELS.md, IBPS); amounts in fen."""

    per_item_cap: int = 5_000_000  # 50,000 CNY


class IbpsSimulator(MxSimulator):
    name = "IBPS"
    Config = IbpsConfig
    config: IbpsConfig

    def check(self, item: SimItem) -> str | None:
        if item.currency != self.config.currency:
            return "AM03"
        if item.amount > self.config.per_item_cap:
            return "AM02"
        if CNAPS_CODE.fullmatch(item.creditor_agent) is None:
            return "RC01"
        return super().check(item)
