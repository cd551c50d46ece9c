"""The minimal ledger poster: reads the outbox, books balanced double entries, moves its cursor.

It runs beside the transaction path and never inside it (DESIGN.md): a slow ledger delays the
books, never a payment. The full rule-driven engine replaces `entries_for`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

from switch.clock import Clock, iso
from switch.store import AccountBalance, JournalEntry, OutboxEvent, Posting, Store

log = logging.getLogger("payswitch.accounting")

CONSUMER = "ledger"


def customer_account(account: str) -> str:
    return f"customer:{account}"


def clearing_account(channel: str) -> str:
    return f"clearing:{channel}"


def fee_income_account(channel: str) -> str:
    return f"fee-income:{channel}"


def entries_for(event: OutboxEvent, posted_at: str) -> JournalEntry | None:
    """The journal entry an event books, or None for events that move no money yet.

    >>> e = OutboxEvent(7, "p1", "payment.settled", {"amount": 100, "currency": "CNY",
    ...     "debtor_account": "6222", "channel": "IBPS", "fee": 30}, "t")
    >>> for p in entries_for(e, "t").postings: print(p.account, p.debit, p.credit)
    customer:6222 100 0
    clearing:IBPS 0 100
    customer:6222 30 0
    fee-income:IBPS 0 30
    """
    if event.type != "payment.settled":
        return None  # holds on acceptance come with the full accounting engine
    body = event.body
    ccy, amount, fee = body["currency"], int(body["amount"]), int(body.get("fee", 0))
    debtor, channel = customer_account(body["debtor_account"]), body["channel"]
    postings = [
        Posting(debtor, ccy, debit=amount),
        Posting(clearing_account(channel), ccy, credit=amount),
    ]
    if fee:
        postings += [Posting(debtor, ccy, debit=fee),
                     Posting(fee_income_account(channel), ccy, credit=fee)]
    memo = f"{event.type} {event.payment_id}"
    return JournalEntry(event.event_id, posted_at, memo, tuple(postings))


class LedgerPoster:
    def __init__(self, store: Store, clock: Clock, *, batch: int = 5000, idle_s: float = 0.05):
        self.store = store
        self.clock = clock
        self.batch = batch
        self.idle_s = idle_s
        self._task: asyncio.Task[None] | None = None

    async def post_available(self) -> int:
        """Book everything in the outbox now; returns how many events were read."""
        total = 0
        cursor = await self.store.outbox_cursor(CONSUMER)
        while True:
            events = await self.store.outbox_after(cursor, self.batch)
            if not events:
                return total
            now = iso(self.clock.now())
            entries = [e for e in (entries_for(ev, now) for ev in events) if e is not None]
            cursor = events[-1].event_id
            await self.store.post_journal(CONSUMER, entries, cursor)
            total += len(events)

    async def run(self) -> None:
        while True:
            try:
                if not await self.post_available():
                    await asyncio.sleep(self.idle_s)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("posting failed; retrying")
                await asyncio.sleep(1.0)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="ledger-poster")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class LedgerCheck:
    """The ledger's health: every currency balances, and kept balances equal their postings."""

    def __init__(self, balances: list[AccountBalance], totals: list[AccountBalance]) -> None:
        debit: dict[str, int] = defaultdict(int)
        credit: dict[str, int] = defaultdict(int)
        for b in balances:
            debit[b.currency] += b.debit
            credit[b.currency] += b.credit
        self.per_currency = {c: (debit[c], credit[c]) for c in sorted(debit.keys() | credit.keys())}
        self.kept_match_postings = sorted(
            (b.account, b.currency, b.debit, b.credit) for b in balances
        ) == sorted((t.account, t.currency, t.debit, t.credit) for t in totals)
        self.balanced = self.kept_match_postings and all(
            d == c for d, c in self.per_currency.values()
        )


async def check_ledger(store: Store) -> LedgerCheck:
    return LedgerCheck(await store.balances(), await store.posting_totals())
