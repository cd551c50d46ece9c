"""HVPS simulator: CNAPS2's high-value real-time gross settlement, as the switch sees it.

Business day D (a statutory working day) takes customer credits from 20:30 on the calendar
day before D until the customer cut-off, 17:15 on D; anything outside is refused TM01
(`simulators.windowed`). Each pacs.008 transaction is checked (AM03 currency, RC01 debtor agent
not a participant or creditor agent not a 12-digit CNAPS code, AC04/AC06 closed/blocked creditor
account) and settled gross, item by item, against the sending bank's settlement account. There
is no amount cap.

A sender short of funds does not get AM04: its item waits in the sender's queue, answered
pacs.002 PDNG with the native queued status PR12 in Rsn/Prtry. The queue is first in, first
out: a new item waits behind the queued ones even when it alone could be paid. Whenever the
sender's balance rises (admin ``fund``, a credit from another participant, a return) the queue
settles from its head while the money lasts, each item reported by an unsolicited pacs.002
ACSC. From 17:15 to 17:30 banks can still raise funds (the clearing window); at 17:30 every item
still queued goes back unsettled, pacs.002 RJCT with native PR32 (expired: returned at window
close, which adapters map to AM04), and the day closes with its camt.053 statements.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping
from datetime import date
from typing import Any

import msgspec

from messages.iso20022 import TxStatus
from simulators.books import ItemState, SimItem
from simulators.faults import FaultPlan
from simulators.mx import CNAPS_CODE, NOT_FOUND
from simulators.windowed import WindowConfig, WindowedSimulator
from switch.clock import Clock

__all__ = ["EXPIRED", "NOT_FOUND", "QUEUED", "HvpsConfig", "HvpsSimulator"]

# CNAPS2 processing statuses the simulator states natively (CHANNELS.md, HVPS).
QUEUED = "PR12"  # queued for settlement: the sender is short of funds
EXPIRED = "PR32"  # still queued at window close: returned unsettled


class HvpsConfig(WindowConfig, frozen=True, forbid_unknown_fields=True):
    """The channel's rules (CHANNELS.md, HVPS); the calendar is China's 2026 one by default."""

    opens: str = "20:30"  # on the calendar day before the business day
    cutoff: str = "17:15"  # customer credits
    day_switch: str = "17:30"  # end of the clearing window: queued items go back


class HvpsSimulator(WindowedSimulator):
    name = "HVPS"
    Config = HvpsConfig
    config: HvpsConfig

    def __init__(self, config: HvpsConfig, clock: Clock, seed: int = 0,
                 faults: FaultPlan | None = None) -> None:
        super().__init__(config, clock, seed, faults)
        self._queues: dict[str, deque[SimItem]] = defaultdict(deque)  # sender -> FIFO

    def check(self, item: SimItem) -> str | None:
        if CNAPS_CODE.fullmatch(item.creditor_agent) is None:
            return "RC01"
        return super().check(item)

    def accept(self, item: SimItem) -> None:
        """Settle now, or queue behind the sender's earlier items / until it has the money."""
        queue = self._queues[item.debtor_agent]
        if queue or self.books.balance(item.debtor_agent, item.currency) < item.amount:
            item.state, item.business_date = ItemState.QUEUED, self.business_date()
            item.detail = "queued for settlement: insufficient funds"
            queue.append(item)
            return
        self._settle(item)

    def _settle(self, item: SimItem) -> None:
        item.detail = None
        self.books.settle(item, self.business_date(), self.now())
        self.release(item.creditor_agent)  # the receiver's own queue may now move

    def release(self, participant: str) -> list[str]:
        """Settle ``participant``'s queue from its head while its balance covers the next item;
        end-to-end ids of the items settled (each sender is told)."""
        queue = self._queues.get(participant)
        settled: list[str] = []
        while queue and self.books.balance(participant, queue[0].currency) >= queue[0].amount:
            item = queue.popleft()
            self._settle(item)
            self.notify_status(item)
            settled.append(item.end_to_end_id)
        return settled

    def status_of(self, item: SimItem) -> TxStatus:
        status = super().status_of(item)
        if item.state is ItemState.QUEUED:
            return msgspec.structs.replace(status, reason_proprietary=QUEUED)
        return status

    def return_item(self, item: SimItem, reason: str) -> None:
        super().return_item(item, reason)
        self.release(item.debtor_agent)  # the money back may pay what the sender has queued

    def close_day(self, day: date) -> list[str]:
        """Window close: every item still queued for ``day`` goes back unsettled (PR32)."""
        returned: list[str] = []
        for queue in self._queues.values():
            keep: deque[SimItem] = deque()
            for item in queue:
                if item.business_date is not None and item.business_date > day:
                    keep.append(item)
                    continue
                self.books.reject(item, EXPIRED, self.now())
                item.detail = "returned at window close: insufficient funds"
                self.notify_status(item)
                returned.append(item.end_to_end_id)
            queue.clear()
            queue.extend(keep)
        return returned

    def queued(self, participant: str | None = None) -> list[SimItem]:
        """Items waiting for funds, in queue order (of one sender, or of all)."""
        if participant is not None:
            return list(self._queues.get(participant, ()))
        return [item for queue in self._queues.values() for item in queue]

    # -- admin -------------------------------------------------------------------------------

    def admin(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Besides the common operations: ``fund`` also settles the participant's queue
        (``settled``: what it released); ``queue`` {participant?} lists the items waiting."""
        op = request["op"]
        if op == "queue":
            who = request.get("participant")
            return {"queue": [{"end_to_end_id": i.end_to_end_id, "sender": i.debtor_agent,
                               "amount": i.amount, "business_date": str(i.business_date)}
                              for i in self.queued(str(who) if who else None)]}
        answer = super().admin(request)
        if op == "fund":
            participant = str(request["participant"])
            answer["settled"] = self.release(participant)
            answer["balance"] = self.books.balance(participant)
        return answer
