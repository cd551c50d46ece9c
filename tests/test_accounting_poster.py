"""The ledger poster: balanced entries from the outbox, booked once, and a check that can fail."""

from __future__ import annotations

import sqlite3
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounting.poster import CONSUMER, LedgerPoster, check_ledger, entries_for
from switch.clock import VirtualClock
from switch.order import Payment
from switch.store import Event, NewPayment, OutboxEvent, Store, Transition, WriteBatch
from switch.store.postgres import PostgresStore
from switch.store.sqlite import SqliteStore
from tests.orders import order

T0 = "2026-03-02T09:00:00+00:00"
CLOCK = VirtualClock(datetime(2026, 3, 2, 9, 5, tzinfo=UTC))


def settled(amount: int, fee: int, currency: str = "CNY", event_id: int = 1) -> OutboxEvent:
    body = {"amount": amount, "currency": currency, "debtor_account": "6217000000000001",
            "creditor_account": "6222000000000009", "channel": "IBPS", "fee": fee}
    return OutboxEvent(event_id, "p1", "payment.settled", body, T0)


def per_currency(postings: Any) -> dict[str, tuple[int, int]]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for p in postings:
        sums[p.currency][0] += p.debit
        sums[p.currency][1] += p.credit
    return {c: (d, k) for c, (d, k) in sums.items()}


@given(st.integers(1, 10**17), st.integers(0, 10**6), st.sampled_from(["CNY", "USD", "JPY"]))
def test_settled_entry_balances_per_currency(amount: int, fee: int, currency: str) -> None:
    entry = entries_for(settled(amount, fee, currency, event_id=42), "t")
    assert entry is not None
    assert entry.event_id == 42
    assert per_currency(entry.postings) == {currency: (amount + fee, amount + fee)}
    assert all(p.debit >= 0 and p.credit >= 0 and (p.debit == 0) != (p.credit == 0)
               for p in entry.postings)
    assert len(entry.postings) == (4 if fee else 2)


def test_settled_entry_accounts() -> None:
    entry = entries_for(settled(1000, 30), "t")
    assert entry is not None
    assert [(p.account, p.debit, p.credit) for p in entry.postings] == [
        ("customer:6217000000000001", 1000, 0), ("clearing:IBPS", 0, 1000),
        ("customer:6217000000000001", 30, 0), ("fee-income:IBPS", 0, 30)]


@pytest.mark.parametrize("kind", ["payment.accepted", "payment.submitted", "payment.rejected",
                                  "something.else"])
def test_events_that_move_no_money_give_none(kind: str) -> None:
    ev = settled(1000, 30)
    assert entries_for(OutboxEvent(ev.event_id, ev.payment_id, kind, ev.body, T0), "t") is None


# -- on a real store ----------------------------------------------------------------------------
def _payment(amount: int) -> Payment:
    pid = uuid.uuid4().hex
    return Payment(payment_id=pid, client_id="CORE-1", order=order(amount=amount), state="ACCEPTED",
                   end_to_end_id=pid, uetr=str(uuid.uuid4()), created_at=T0, updated_at=T0)


def _ev(kind: str, p: Payment, **extra: Any) -> Event:
    return Event(kind, {"amount": p.order.amount, "currency": p.order.currency,
                        "debtor_account": p.order.debtor.account, **extra})


async def _flow(store: Store, amounts: list[int], fee: int = 30) -> list[Payment]:
    """Accept, route+submit and settle payments through store.commit, as the engine does."""
    ps = [_payment(a) for a in amounts]
    await store.commit(WriteBatch(accepts=[NewPayment(p, (_ev("payment.accepted", p),))
                                           for p in ps]))
    moves: list[Transition] = []
    for p in ps:
        moves += [
            Transition(payment_id=p.payment_id, from_state="ACCEPTED", to_state="ROUTED", at=T0,
                       cause="route", channel="IBPS", fee=fee),
            Transition(payment_id=p.payment_id, from_state="ROUTED", to_state="SUBMITTED", at=T0,
                       cause="submit", events=(_ev("payment.submitted", p, channel="IBPS"),)),
        ]
    await store.commit(WriteBatch(transitions=moves))
    await store.commit(WriteBatch(transitions=[
        Transition(payment_id=p.payment_id, from_state="SUBMITTED", to_state="SETTLED", at=T0,
                   cause="settled",
                   events=(_ev("payment.settled", p, channel="IBPS", fee=fee),))
        for p in ps]))
    return ps


async def test_poster_books_settled_events_once(store: Store) -> None:
    await _flow(store, [1000, 250_000])
    poster = LedgerPoster(store, CLOCK, batch=2)  # small pages: the cursor has to move between
    assert await poster.post_available() == 6  # accepted x2, submitted x2, settled x2
    assert await store.outbox_lag(CONSUMER) == 0
    booked = await store.balances()
    assert {(b.account, b.balance) for b in booked} == {
        ("customer:6217000000000001", 251_000 + 60), ("clearing:IBPS", -251_000),
        ("fee-income:IBPS", -60)}
    check = await check_ledger(store)
    assert check.balanced and check.kept_match_postings
    assert check.per_currency == {"CNY": (251_060, 251_060)}
    # a second run finds nothing new; rewinding the cursor and posting again changes nothing
    assert await poster.post_available() == 0
    await _rewind(store)
    assert await store.outbox_cursor(CONSUMER) == 0
    assert await poster.post_available() == 6
    assert await store.balances() == booked
    # more payments later: only the new ones are booked
    await _flow(store, [5])
    assert await poster.post_available() == 3
    assert (await check_ledger(store)).per_currency == {"CNY": (251_095, 251_095)}


async def test_corrupted_balance_fails_the_check(store: Store) -> None:
    await _flow(store, [1000])
    await LedgerPoster(store, CLOCK).post_available()
    assert (await check_ledger(store)).balanced
    await _sql(store, "UPDATE ledger_balances SET debit = debit + 1 "
                      "WHERE account = 'customer:6217000000000001'")
    check = await check_ledger(store)
    assert not check.balanced
    assert not check.kept_match_postings


async def test_unbalanced_postings_fail_the_check_even_when_kept_balances_match(
    store: Store,
) -> None:
    await _flow(store, [1000])
    await LedgerPoster(store, CLOCK).post_available()
    # both the kept balance and its postings lose a credit: they agree, the books do not balance
    await _sql(store, "UPDATE ledger_balances SET credit = credit - 1 "
                      "WHERE account = 'clearing:IBPS'")
    await _sql(store, "UPDATE ledger_postings SET credit = credit - 1 "
                      "WHERE account = 'clearing:IBPS'")
    check = await check_ledger(store)
    assert check.kept_match_postings
    assert not check.balanced


async def _rewind(store: Store) -> None:
    await _sql(store, "UPDATE outbox_consumers SET last_event_id = 0")


async def _sql(store: Store, sql: str) -> None:
    if isinstance(store, SqliteStore):
        def run(db: sqlite3.Connection) -> None:
            db.execute(sql)
        await store._run(run)
    else:
        assert isinstance(store, PostgresStore)
        await store.pool.execute(sql)
