"""The accounting worker over the switch's real outbox on both stores: order, restarts, lag."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from accounting.ledger import open_ledger
from accounting.worker import AccountingWorker
from switch.clock import VirtualClock
from switch.order import Party, Payment
from switch.store import Event, NewPayment, Store, Transition, WriteBatch
from tests.conftest import CLOSED_ACCOUNT, Rig
from tests.orders import order
from tests.test_accounting_support import assert_books_sound, by_account

T0 = "2026-03-02T09:00:00+00:00"
CLOCK = VirtualClock(datetime(2026, 3, 2, 9, 5, tzinfo=UTC))
DEBTOR = "customer:6217000000000001"


def _payment(amount: int) -> Payment:
    pid = uuid.uuid4().hex
    return Payment(payment_id=pid, client_id="CORE-1", order=order(amount=amount),
                   state="ACCEPTED", end_to_end_id=pid, uetr=str(uuid.uuid4()), created_at=T0,
                   updated_at=T0)


def _ev(kind: str, p: Payment, **extra: Any) -> Event:
    # the body switch.engine._event writes today
    return Event(kind, {"amount": p.order.amount, "currency": p.order.currency,
                        "debtor_account": p.order.debtor.account,
                        "creditor_account": p.order.creditor.account,
                        "product": p.order.product, **extra})


async def _flow(store: Store, amounts: list[int], *, reject_last: bool = False) -> None:
    ps = [_payment(a) for a in amounts]
    await store.commit(WriteBatch(accepts=[NewPayment(p, (_ev("payment.accepted", p),))
                                           for p in ps]))
    moves = []
    for p in ps:
        moves += [
            Transition(payment_id=p.payment_id, from_state="ACCEPTED", to_state="ROUTED", at=T0,
                       cause="route", channel="IBPS", fee=30),
            Transition(payment_id=p.payment_id, from_state="ROUTED", to_state="SUBMITTED",
                       at=T0, cause="submit",
                       events=(_ev("payment.submitted", p, channel="IBPS"),)),
        ]
    await store.commit(WriteBatch(transitions=moves))
    finals = []
    for i, p in enumerate(ps):
        if reject_last and i == len(ps) - 1:
            finals.append(Transition(payment_id=p.payment_id, from_state="SUBMITTED",
                                     to_state="REJECTED", at=T0, cause="rejected",
                                     events=(_ev("payment.rejected", p, channel="IBPS"),)))
        else:
            finals.append(Transition(payment_id=p.payment_id, from_state="SUBMITTED",
                                     to_state="SETTLED", at=T0, cause="settled",
                                     events=(_ev("payment.settled", p, channel="IBPS",
                                                 fee=30),)))
    await store.commit(WriteBatch(transitions=finals))


class _Crash(Exception):
    pass


async def test_worker_posts_the_outbox_once_across_a_crash_and_a_restart(store: Store) -> None:
    await _flow(store, [1_000, 250_000, 7], reject_last=True)
    worker = AccountingWorker(store, CLOCK, batch=2)  # small pages: the cursor moves between
    await worker.open()
    try:
        assert await worker.lag() == 9

        def crash() -> None:
            raise _Crash

        # the first page commits, the second crashes before its commit
        pages = 0

        def crash_on_second() -> None:
            nonlocal pages
            pages += 1
            if pages == 2:
                crash()

        worker.ledger._before_commit = crash_on_second  # type: ignore[method-assign]
        with pytest.raises(_Crash):
            await worker.post_available()
        del worker.ledger._before_commit
        # a run's first page is a quarter page (here one event), and it committed
        assert await worker.ledger.cursor(worker.consumer) == 1
        assert await worker.lag() == 8
    finally:
        await worker.stop()
    # a new process: a fresh worker on the same database resumes from the committed cursor
    restarted = AccountingWorker(store, CLOCK, batch=2)
    try:
        assert await restarted.post_available() == 8
        assert await restarted.lag() == 0
        assert await restarted.post_available() == 0
        b = by_account(await restarted.ledger.balances())
        assert b[DEBTOR].debits_posted == 1_000 + 250_000 + 60
        assert (b[DEBTOR].debits_pending, b["in-transit"].credits_pending) == (0, 0)
        assert b["clearing:IBPS"].credits_posted == 251_000  # what the channel settled
        assert b["fee-income:IBPS"].credits_posted + b["vat-payable"].credits_posted == 60
        assert await assert_books_sound(restarted.ledger) == {"CNY": (251_060, 251_060)}
        assert restarted.conflicts == []
        # the position the router reads without I/O: the IBPS settlement account paid out
        assert restarted.available_position("IBPS", "CNY") == -251_000
        assert restarted.available_position("IBPS", "USD") is None
        assert await restarted.ledger.positions() == {("IBPS", "CNY"): -251_000}
    finally:
        await restarted.stop()


async def test_a_separate_ledger_url_and_a_rewound_cursor_change_nothing(
    store: Store, store_url: str
) -> None:
    await _flow(store, [500, 600])
    ledger = open_ledger(store_url)
    await ledger.open()
    try:
        worker = AccountingWorker(store, CLOCK, ledger, consumer="ops-replica")
        assert await worker.post_available() == 6
        booked = await ledger.balances()
        await ledger._execute_script("UPDATE acct_cursor SET last_event_id = 0")
        assert await worker.lag() == 6
        assert await worker.post_available() == 6  # read again, posted nothing new
        assert await ledger.balances() == booked
        await assert_books_sound(ledger)
    finally:
        await ledger.close()


async def test_the_engines_own_events_post_and_balance_end_to_end(rig: Rig) -> None:
    """A real switch settles and rejects payments; the worker beside it books them."""
    async with await rig.client() as c:
        ok = order(amount=50_000)
        closed = order(amount=700, creditor=Party(account=CLOSED_ACCOUNT, name="x",
                                                  agent="103100000026"))
        for o in (ok, closed):
            await c.submit(o)
        final_ok = await c.wait_final(ok.client_order_id, timeout=10)
        final_closed = await c.wait_final(closed.client_order_id, timeout=10)
    assert (final_ok.state, final_closed.state) == ("SETTLED", "REJECTED")
    worker = AccountingWorker(rig.app.store, CLOCK)
    try:
        await worker.post_available()
        assert await worker.lag() == 0
        b = by_account(await worker.ledger.balances())
        assert b[DEBTOR].debits_posted == 50_000 + final_ok.fee
        assert b[DEBTOR].debits_pending == 0  # the rejected payment's hold was released
        assert b["clearing:IBPS"].credits_posted == 50_000
        assert b["in-transit"].credits_pending == 0
        assert worker.conflicts == []
        await assert_books_sound(worker.ledger)
    finally:
        await worker.stop()


async def test_one_task_at_a_time_and_a_cancelled_stop_leaves_none_behind(store: Store) -> None:
    # A second start orphaned the first task, which went on posting after the ledger closed
    # (a cluster's lease started the books while the app was starting them too).
    worker = AccountingWorker(store, CLOCK)
    worker.start(partitions=[])
    with pytest.raises(RuntimeError, match="already running"):
        worker.start()
    # a lease change cancelled while it stops the worker: the caller stops, the task is
    # still the worker's until it has ended, and the last stop waits for it
    changing = asyncio.ensure_future(worker.stop(close=False))
    await asyncio.sleep(0)
    changing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await changing
    await worker.stop()
    assert not worker.running
    worker.start()
    assert worker.running
    await worker.stop()


@pytest.mark.postgres
async def test_a_worker_stopped_while_it_opens_the_ledger_leaves_nothing_open() -> None:
    """A switch stopped right after its start stops the books while they open the ledger. The
    ledger's pool was then left open, a cancelled query holding its table's lock: the schema
    could not be dropped after such a test, and CI's run never ended."""
    from accounting.ledger import _MIGRATION_LOCK, LedgerStoreError
    from switch.store import open_store
    from tests.conftest import PG_DSN, _drop_schema, _pg_schema_url

    if PG_DSN is None:
        pytest.skip("PAYSWITCH_TEST_PG_DSN not set: PostgreSQL backend not tested here")
    import asyncpg

    schema, url = await _pg_schema_url()
    store = open_store(url)
    await store.open()
    migrating = await asyncpg.connect(PG_DSN)  # another process migrating: open() waits
    try:
        await migrating.execute("BEGIN")
        await migrating.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        worker = AccountingWorker(store, CLOCK)
        worker.start()
        for _ in range(200):  # until the ledger's pool is up and waiting on the lock
            await asyncio.sleep(0.01)
            try:
                worker.ledger.pool  # noqa: B018
                break
            except LedgerStoreError:
                continue
        await worker.stop()
        assert not worker.running
        with pytest.raises(LedgerStoreError):
            worker.ledger.pool  # noqa: B018  # closed, though it never finished opening
    finally:
        await migrating.close()
        await store.close()
        await _drop_schema(schema)
