"""The SWIFT simulator and adapter on one virtual clock over loopback.

Shared by the SWIFT test files. Payments come from this bank (PYSWCNSHXXX) to beneficiaries
abroad; their end-to-end ids are 32 hex-like characters as the switch makes them, distinct in
their first 15 (which make field 20 of an MT103).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from adapters.base import ChannelStatus, Outcome
from adapters.swift import SwiftAdapter
from simulators.books import SimItem
from simulators.faults import FaultPlan
from simulators.swift import SwiftConfig, SwiftSimulator
from switch.clock import VirtualClock
from switch.order import Order, Party, Payment

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 10:00 in Paris: before every cut-off
DAY = date(2026, 3, 2)
US = "PYSWCNSHXXX"
POOR = "POORCNSHXXX"  # a participant with small nostros
BOFA = "BOFAUS3NXXX"
BARC = "BARCGB22XXX"
CLOSED = "GB29NWBK60161331926819"
BLOCKED = "GB94BARC10201530093459"


def payment(n: int, currency: str = "GBP", amount: int = 10_000, *, creditor_bank: str = BOFA,
            creditor_account: str = "US640000123456789", business_date: str | None = None,
            debtor_bank: str = US) -> Payment:
    order = Order(client_order_id=f"C{n}", amount=amount, currency=currency,
                  debtor=Party(account="6217000000000001", name="Zhang San Trading",
                               agent=debtor_bank),
                  creditor=Party(account=creditor_account, name="John Doe Imports",
                                 agent=creditor_bank, country="US"),
                  remittance_info=f"invoice {n}")
    e2e = f"{n:08d}e2e{n:021d}"
    return Payment(payment_id=f"{n:08d}pay{n:021d}", client_id="c", order=order, state="ROUTED",
                   end_to_end_id=e2e, uetr=f"{n:08x}-0000-4000-8000-{n:012d}",
                   business_date=business_date, created_at="", updated_at="")


@dataclass
class Pair:
    sim: SwiftSimulator
    adapter: SwiftAdapter
    port: int
    clock: VirtualClock
    seen: list[ChannelStatus] = field(default_factory=list)

    def item(self, p: Payment) -> SimItem:
        """The simulator's item of ``p``, found by its UETR."""
        item = self.sim.by_uetr(p.uetr)
        assert item is not None, f"the simulator never got {p.uetr}"
        return item

    def of(self, p: Payment) -> list[tuple[Outcome, str | None]]:
        return [(s.outcome, s.reason) for s in self.seen if s.payment_id == p.payment_id]

    def details(self, p: Payment) -> list[str | None]:
        return [s.detail for s in self.seen if s.payment_id == p.payment_id]

    async def until(self, cond: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, f"timed out; seen {self.seen[-6:]}"
            await asyncio.sleep(0.002)

    async def final(self, p: Payment, n: int = 1) -> list[tuple[Outcome, str | None]]:
        """What was said about ``p`` once its ``n``-th final (or UNKNOWN) word is in."""
        def done() -> bool:
            return sum(o is not Outcome.PENDING for o, _ in self.of(p)) >= n
        await self.until(done)
        return self.of(p)

    async def settle_down(self, quiet: float = 0.15) -> None:
        """Wait until no status has arrived for ``quiet`` seconds."""
        n = -1
        while n != len(self.seen):
            n = len(self.seen)
            await asyncio.sleep(quiet)


async def make_pair(fmt: str = "mx", *, config: SwiftConfig | None = None,
                    faults: FaultPlan | None = None, seed: int = 0, reply_timeout: float = 5.0,
                    pending_timeout: float = 259_200.0, sender: str = US,
                    start: datetime = T0, **adapter: object) -> Pair:
    cfg = config or SwiftConfig(participants={US: 10**12, POOR: 5_000},
                                closed_accounts=(CLOSED,), blocked_accounts=(BLOCKED,))
    clock = VirtualClock(start)
    sim = SwiftSimulator(cfg, clock, seed=seed, faults=faults)
    port = await sim.start()
    swift = SwiftAdapter("127.0.0.1", port, clock=clock, sender_bank=sender,
                         format=fmt,  # type: ignore[arg-type]
                         reply_timeout=reply_timeout, pending_timeout=pending_timeout,
                         reconnect_backoff=0.02, reconnect_backoff_cap=0.1,
                         **adapter)  # type: ignore[arg-type]
    pair = Pair(sim, swift, port, clock)
    swift.on_status = pair.seen.append
    await swift.start()
    return pair


async def dispose(pair: Pair) -> None:
    await pair.adapter.close()
    await pair.sim.stop()
