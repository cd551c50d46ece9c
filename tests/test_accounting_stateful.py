"""Random event sequences against the ledger on both stores, checked against DESIGN.md invariant 4.

A hypothesis state machine accepts, settles (fully or partly, alone or in batches), rejects,
expires and returns payments, charges fees, funds customers and the channel position, reverses
entries, replays old outbox pages and crashes the worker between reading the outbox and
committing. After every step: every entry balances per currency and phase, the trial balance
nets to zero per currency, kept balances equal their postings, no account breaks its
constraint, holds match a model, and replays changed nothing.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from accounting.core import Balance, Leg, available
from accounting.ledger import Ledger, open_ledger
from accounting.worker import AccountingWorker
from switch.clock import VirtualClock
from switch.store import OutboxEvent
from tests.test_accounting_support import T, assert_books_sound, strict_books

PG_DSN = os.environ.get("PAYSWITCH_TEST_PG_DSN")
DEBTORS = ["6217000000000001", "6217000000000002", "6217000000000003"]
CURRENCIES = ["CNY", "USD"]
LIMIT = 50_000  # the IBPS position cap (CNY)


class _Crash(Exception):
    pass


class MemoryOutbox:
    """The switch's outbox as the worker sees it (`outbox_after` is the whole contract)."""

    url = "memory://outbox"

    def __init__(self) -> None:
        self.events: list[OutboxEvent] = []

    def add(self, kind: str, payment_id: str, body: dict[str, Any]) -> OutboxEvent:
        ev = OutboxEvent(len(self.events) + 1, payment_id, kind, body, T)
        self.events.append(ev)
        return ev

    async def outbox_after(self, event_id: int, limit: int) -> Sequence[OutboxEvent]:
        return self.events[event_id:event_id + limit]

    async def outbox_count_after(self, event_id: int, cap: int) -> int:
        return min(cap, max(0, len(self.events) - event_id))


class Payment:
    def __init__(self, pid: str, debtor: str, currency: str, amount: int) -> None:
        self.pid, self.debtor, self.currency, self.amount = pid, debtor, currency, amount
        self.channel = "IBPS" if currency == "CNY" else "SWIFT"
        self.state = "new"  # accept not posted yet


class LedgerMachine(RuleBasedStateMachine):
    backend = "sqlite"
    payments = Bundle("payments")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._schema: str | None = None
        if self.backend == "sqlite":
            self._tmp = tempfile.TemporaryDirectory()
            url = f"sqlite://{Path(self._tmp.name) / 'ledger.db'}"
        else:
            assert PG_DSN is not None
            self._schema = f"t_{uuid.uuid4().hex[:12]}"
            self.run(self._pg(f"CREATE SCHEMA {self._schema}"))
            sep = "&" if "?" in PG_DSN else "?"
            url = f"{PG_DSN}{sep}search_path={self._schema}"
        self.books = strict_books(clearing_limit=LIMIT)
        self.ledger: Ledger = open_ledger(url, self.books)
        self.run(self.ledger.open())
        self.outbox = MemoryOutbox()
        clock = VirtualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        self.worker = AccountingWorker(self.outbox, clock, self.ledger, batch=7)
        self.n = 0
        self.adjustments: list[tuple[str, list[Leg]]] = []
        self._settled: list[Payment] = []
        for debtor in DEBTORS[:2]:  # the third debtor starts without funds: holds are refused
            for currency in CURRENCIES:
                self.fund(debtor, currency, 40_000)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def _pg(self, sql: str) -> None:
        assert PG_DSN is not None
        con = await asyncpg.connect(PG_DSN)
        try:
            await con.execute(sql)
        finally:
            await con.close()

    def teardown(self) -> None:
        self.run(self.ledger.close())
        if self._schema is not None:
            self.run(self._pg(f"DROP SCHEMA {self._schema} CASCADE"))
        if self._tmp is not None:
            self._tmp.cleanup()
        self.loop.close()

    def _body(self, p: Payment, amount: int, **extra: Any) -> dict[str, Any]:
        return {"amount": amount, "currency": p.currency, "debtor_account": p.debtor,
                "product": "CT", "channel": p.channel, **extra}

    # -- events -----------------------------------------------------------------------------
    @rule(target=payments, debtor=st.sampled_from(DEBTORS), currency=st.sampled_from(CURRENCIES),
          amount=st.integers(1, 20_000))
    def accept(self, debtor: str, currency: str, amount: int) -> Payment:
        self.n += 1
        p = Payment(f"p{self.n}", debtor, currency, amount)
        self.outbox.add("payment.accepted", p.pid, self._body(p, amount))
        return p

    @rule(target=payments, debtor=st.sampled_from(DEBTORS[:2]),
          amounts=st.lists(st.integers(1, 4_000), min_size=2, max_size=4))
    def accept_several(self, debtor: str, amounts: list[int]) -> MultipleResults[Payment]:
        # small payments of funded debtors: what micro-payment batches are made of
        return multiple(*(self.accept(debtor, "CNY", amount) for amount in amounts))

    @rule(p=consumes(payments), part=st.sampled_from([1, 1, 2, 3]), fee=st.integers(0, 60))
    def settle(self, p: Payment, part: int, fee: int) -> None:
        # part > 1: a partial batch settles only part of what was held
        self.outbox.add("payment.settled", p.pid, self._body(p, p.amount // part, fee=fee))
        p.state = "settled"
        self._settled.append(p)

    @rule(p=consumes(payments), kind=st.sampled_from(["payment.rejected", "payment.expired",
                                                      "payment.cancelled"]))
    def release(self, p: Payment, kind: str) -> None:
        self.outbox.add(kind, p.pid, self._body(p, p.amount))

    @rule(a=consumes(payments), b=consumes(payments), cut=st.integers(0, 3),
          fee=st.integers(0, 90))
    def settle_batch(self, a: Payment, b: Payment, cut: int, fee: int) -> None:
        # one channel payment for both; b may settle less than held; the fee is allocated
        members = [{"payment_id": p.pid, "amount": amount, "debtor_account": p.debtor}
                   for p, amount in ((a, a.amount), (b, b.amount - b.amount * cut // 4))]
        self.n += 1
        self.outbox.add("batch.settled", f"b{self.n}", {
            "currency": a.currency, "channel": a.channel, "product": "CT", "fee": fee,
            "members": members})
        for p in (a, b):
            p.state = "settled"
            self._settled.append(p)

    @rule(amount=st.integers(1, 30_000), direction=st.sampled_from(["in", "out"]))
    def fund_position(self, amount: int, direction: str) -> None:
        # treasury tops the IBPS position up or sweeps it (the sweep may pass its limit)
        self.n += 1
        self.outbox.add("position.funded", f"tr{self.n}", {"currency": "CNY",
                                                           "channel": "IBPS",
                                                           direction: amount})

    @rule(p=payments)
    def settle_twice_or_early(self, p: Payment) -> None:
        # a duplicate settlement under a new event id, or one before the accept was posted
        self.outbox.add("payment.settled", p.pid, self._body(p, p.amount))

    @rule(data=st.data(), kind=st.sampled_from(["payment.settled", "payment.rejected"]))
    def settled_payment_settles_or_fails_again(self, data: st.DataObject, kind: str) -> None:
        # a channel that reports twice: the hold is gone, the books must not move twice
        if self._settled:
            p = data.draw(st.sampled_from(self._settled))
            self.outbox.add(kind, p.pid, self._body(p, p.amount))

    @rule(data=st.data())
    def returned(self, data: st.DataObject) -> None:
        if self._settled:
            p = data.draw(st.sampled_from(self._settled))
            self.outbox.add("payment.returned", p.pid, self._body(p, p.amount // 2))

    @rule(debtor=st.sampled_from(DEBTORS), fee=st.integers(1, 99))
    def fee_charged(self, debtor: str, fee: int) -> None:
        self.n += 1
        self.outbox.add("fee.charged", f"f{self.n}", {"amount": 0, "fee": fee, "currency": "CNY",
                                                      "debtor_account": debtor, "product": "CT",
                                                      "channel": "IBPS"})

    @rule(debtor=st.sampled_from(DEBTORS), currency=st.sampled_from(CURRENCIES),
          amount=st.integers(1, 30_000))
    def fund(self, debtor: str, currency: str, amount: int) -> None:
        self.n += 1
        legs = [Leg("suspense", f"customer:{debtor}", currency, amount)]
        key = f"fund-{self.n}"
        r = self.run(self.ledger.adjust(key, legs, operator="ops", reason="deposit", at=T))
        assert r.status == "posted"
        self.adjustments.append((key, legs))

    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        rows = self.run(self.ledger._fetch(
            "SELECT entry_id FROM acct_entries WHERE status = 'posted' ORDER BY entry_id"))
        if not rows:
            return
        entry_id = data.draw(st.sampled_from([r[0] for r in rows]))
        self.n += 1
        r = self.run(self.ledger.reverse(f"rev-{self.n}", entry_id, operator="ops",
                                         reason="test", at=T))
        assert r.status in ("posted", "rejected")

    # -- the worker -------------------------------------------------------------------------
    @rule()
    def drain(self) -> None:
        self.run(self.worker.post_available())
        assert self.run(self.worker.lag()) == 0

    @rule()
    def crash_between_read_and_commit(self) -> None:
        before = self.run(self.ledger.balances())
        cursor = self.run(self.ledger.cursor(self.worker.consumer))

        def boom() -> None:
            raise _Crash

        self.ledger._before_commit = boom  # type: ignore[method-assign]
        try:
            if len(self.outbox.events) > cursor:
                with pytest.raises(_Crash):
                    self.run(self.worker.post_available())
        finally:
            del self.ledger._before_commit
        # nothing of the failed page is visible, and the cursor did not move: the restarted
        # worker (the next drain) reads the same page again
        assert self.run(self.ledger.cursor(self.worker.consumer)) == cursor
        assert self.run(self.ledger.balances()) == before

    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        """Rewind: post an already-posted page again, and an adjustment again."""
        self.run(self.worker.post_available())
        if not self.outbox.events:
            return
        start = data.draw(st.integers(0, len(self.outbox.events) - 1))
        page = self.outbox.events[start:start + 10]
        before = self.run(self.ledger.balances())
        results = self.run(self.ledger.post_events(page, T))
        assert all(r.status in ("exists", "no_entry") for r in results), results
        if self.adjustments:
            key, legs = data.draw(st.sampled_from(self.adjustments))
            again = self.run(self.ledger.adjust(key, legs, operator="ops", reason="deposit",
                                                at=T))
            assert again.status == "exists"
        assert self.run(self.ledger.balances()) == before

    # -- invariants ---------------------------------------------------------------------------
    @invariant()
    def books_are_sound(self) -> None:
        self.run(assert_books_sound(self.ledger))
        unbalanced = self.run(self.ledger._fetch(
            "SELECT p.entry_id, a.currency, p.phase FROM acct_postings p "
            "JOIN acct_accounts a ON a.account_id = p.account_id "
            "GROUP BY p.entry_id, a.currency, p.phase HAVING sum(p.debit) <> sum(p.credit)"))
        assert unbalanced == []
        for b in self.run(self.ledger.balances()):
            self._within_constraint(b)

    @invariant()
    def pending_balances_are_the_open_holds(self) -> None:
        debits: dict[tuple[str, str], int] = defaultdict(int)
        credits: dict[tuple[str, str], int] = defaultdict(int)
        for debit, credit, currency, amount in self.run(self.ledger._fetch(
                "SELECT h.debit_account, h.credit_account, h.currency, h.amount "
                "FROM acct_holds h LEFT JOIN acct_hold_closures c USING (payment_id) "
                "WHERE c.payment_id IS NULL")):
            debits[(debit, currency)] += amount
            credits[(credit, currency)] += amount
        for b in self.run(self.ledger.balances()):
            assert b.debits_pending == debits[(b.account, b.currency)], b
            assert b.credits_pending == credits[(b.account, b.currency)], b

    def _within_constraint(self, b: Balance) -> None:
        acc = self.books.account(b.account)
        assert acc is not None
        if acc.constraint == "non_negative":
            assert available(acc, b) >= 0, b
        elif acc.constraint == "upper_limit":
            assert acc.limit is not None
            exposure = b.credits_posted + b.credits_pending - b.debits_posted
            assert exposure <= acc.limit, b


def _run(backend: str, examples: int) -> None:
    machine = type(f"LedgerMachine_{backend}", (LedgerMachine,), {"backend": backend})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=examples, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))


def test_ledger_state_machine_sqlite() -> None:
    _run("sqlite", 40)


@pytest.mark.postgres
def test_ledger_state_machine_postgres() -> None:
    if PG_DSN is None:
        pytest.skip("PAYSWITCH_TEST_PG_DSN not set: PostgreSQL backend not tested here")
    _run("postgres", 25)
