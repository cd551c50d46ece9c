"""The store contract on both backends (SQLite always, PostgreSQL with PAYSWITCH_TEST_PG_DSN)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounting.ledger import open_ledger
from switch.order import Payment
from switch.store import (
    CapDelta,
    CapRow,
    Event,
    HistoryRow,
    IntakeError,
    NewPayment,
    PositionClaim,
    Store,
    SummaryRow,
    Transition,
    WriteBatch,
    open_store,
)
from switch.store import postgres as pg_store
from switch.store import sqlite as sqlite_store
from switch.store.base import encode_body
from tests.conftest import PG_DSN
from tests.orders import order

T0 = "2026-03-02T09:00:00+00:00"
T1 = "2026-03-02T09:00:01+00:00"
T2 = "2026-03-02T09:00:02+00:00"
# A store rejects a batch with its driver's integrity error (it does not wrap them in StoreError).
INTEGRITY = (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)


def payment(client_id: str = "CORE-1", state: str = "ACCEPTED", **changes: Any) -> Payment:
    pid = uuid.uuid4().hex
    return Payment(
        payment_id=pid, client_id=client_id, order=order(**changes), state=state,
        end_to_end_id=pid, uetr=str(uuid.uuid4()), created_at=T0, updated_at=T0,
    )


def accepted(p: Payment) -> NewPayment:
    return NewPayment(p, (Event("payment.accepted", {"amount": p.order.amount}),))


def move(p: Payment, src: str, dst: str, at: str = T1, **kw: Any) -> Transition:
    return Transition(payment_id=p.payment_id, from_state=src, to_state=dst, at=at,
                      cause=f"{src}->{dst}", **kw)


async def accept(store: Store, *payments: Payment) -> list[tuple[Payment, bool]]:
    return (await store.commit(WriteBatch(accepts=[accepted(p) for p in payments]))).accepted


async def outbox(store: Store) -> list[tuple[str, str, dict[str, Any]]]:
    return [(e.payment_id, e.type, e.body) for e in await store.outbox_after(0, 10_000)]


def migrations(url: str) -> list[tuple[int, list[str]]]:
    return sqlite_store.MIGRATIONS if url.startswith("sqlite") else pg_store.MIGRATIONS


# -- migrations -------------------------------------------------------------------------------
async def test_migrations_are_versioned_and_reopening_keeps_version_and_data(
    store_url: str,
) -> None:
    versions = [v for v, _ in migrations(store_url)]
    assert versions == sorted(set(versions)) and versions[0] == 1  # append-only, numbered
    first = open_store(store_url)
    await first.open()
    try:
        assert await first.schema_version() == versions[-1]
        p = payment()
        await accept(first, p)
    finally:
        await first.close()
    again = open_store(store_url)
    await again.open()  # migrating an up-to-date schema is a no-op, not an error
    try:
        assert await again.schema_version() == versions[-1]
        assert await again.payment(p.payment_id) == p
    finally:
        await again.close()


async def test_concurrent_first_opens_of_a_new_sqlite_file_all_succeed(tmp_path: Path) -> None:
    # Turning WAL on skips SQLite's busy handler: of six opens of a new file (store and books)
    # about one round in fourteen had one fail at once with "database is locked".
    for i in range(30):
        url = f"sqlite://{tmp_path}/new{i}.db"
        opened = [open_store(url) for _ in range(3)] + [open_ledger(url) for _ in range(3)]
        results = await asyncio.gather(*(s.open() for s in opened), return_exceptions=True)
        for s in opened:
            await s.close()
        assert [r for r in results if isinstance(r, BaseException)] == [], f"round {i}"


async def test_the_store_and_the_books_of_one_sqlite_file_run_on_one_thread(
        tmp_path: Path) -> None:
    # SQLite has one writer per file; two connections of one process meeting at its lock wait
    # in the busy handler's sleeps (up to 100 ms each). On one thread a group commit behind a
    # ledger page waits only for the page.
    url = f"sqlite://{tmp_path}/one.db"
    store, books = open_store(url), open_ledger(url)
    other = open_store(f"sqlite://{tmp_path}/other.db")
    await store.open()
    await books.open()
    await other.open()
    threads = [await s._run(lambda db: threading.get_ident())  # type: ignore[attr-defined]
               for s in (store, books, other)]
    assert threads[0] == threads[1] != threads[2]
    await store.close()  # the books still use the thread
    assert isinstance(await books.balances(), list)
    await books.close()
    await other.close()
    assert not {(tmp_path / n).resolve() for n in ("one.db", "other.db")} & set(
        sqlite_store._FILE_THREADS)


async def test_the_sqlite_thread_counts_what_each_kind_of_job_costs(tmp_path: Path) -> None:
    # That one thread is the embedded store's ceiling: its load by kind of job is what shows
    # an operator the writer is saturated, and by whom.
    url = f"sqlite://{tmp_path}/load.db"
    store, books = open_store(url), open_ledger(url)
    await store.open()
    await books.open()
    try:
        thread = store._thread  # type: ignore[attr-defined]
        # held long enough that a busy machine waking this task late still queues the commit
        # behind it (at 50 ms, 1 run in 200 beside two spinning processes did not)
        held = asyncio.ensure_future(thread.run("hold", time.sleep, 0.5))
        await asyncio.sleep(0.01)  # the hold has the thread: the commit queues behind it
        await store.commit(WriteBatch())
        await held
        await books.balances()
        load = store.thread_load()
        assert {"open", "hold", "commit", "books_query"} <= load.keys()
        assert load["commit"].jobs == 1 and load["hold"].jobs == 1
        assert load["commit"].waited_s >= 0.03  # behind the hold
        assert load["hold"].busy_s >= 0.05
        assert load["open"].jobs == 2  # the store's connection and the books'
        assert load["books_query"].jobs >= 1
        before = load["commit"].jobs
        await store.commit(WriteBatch())
        assert store.thread_load()["commit"].jobs == before + 1  # a copy, not the live figures
        assert load["commit"].jobs == before
    finally:
        await store.close()
        await books.close()


async def test_concurrent_first_opens_migrate_once(store_url: str) -> None:
    stores = [open_store(store_url) for _ in range(6)]
    results = await asyncio.gather(*(s.open() for s in stores), return_exceptions=True)
    try:
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert {await s.schema_version() for s in stores} == {migrations(store_url)[-1][0]}
    finally:
        for s, r in zip(stores, results, strict=True):
            if not isinstance(r, BaseException):
                await s.close()


# -- acceptance and idempotency -----------------------------------------------------------------
async def test_accept_creates_payment_history_and_events(store: Store) -> None:
    p = payment()
    assert await accept(store, p) == [(p, True)]
    assert await store.payment(p.payment_id) == p
    assert await store.payment_by_client_key("CORE-1", p.order.client_order_id) == p
    assert await store.history(p.payment_id) == [
        HistoryRow(p.payment_id, None, "ACCEPTED", T0, "intake", None)
    ]
    assert await outbox(store) == [(p.payment_id, "payment.accepted", {"amount": 12_345})]


async def test_resend_in_later_batch_returns_original(store: Store) -> None:
    p = payment()
    await accept(store, p)
    resent = payment(client_order_id=p.order.client_order_id, amount=999)
    [(got, created)] = await accept(store, resent)
    assert (got, created) == (p, False)
    assert await store.payment(resent.payment_id) is None
    assert len(await store.history(p.payment_id)) == 1
    assert len(await outbox(store)) == 1  # the resend's events are not written


async def test_same_key_twice_in_one_batch_creates_once(store: Store) -> None:
    p = payment()
    twin = payment(client_order_id=p.order.client_order_id, amount=777)
    result = await accept(store, p, twin)
    assert result == [(p, True), (p, False)]
    assert await store.payments_in_states(["ACCEPTED"]) == [p]
    assert await store.payment(twin.payment_id) is None
    assert [e[0] for e in await outbox(store)] == [p.payment_id]


async def test_same_payment_object_twice_in_one_batch_creates_once(store: Store) -> None:
    p = payment()
    assert await accept(store, p, p) == [(p, True), (p, False)]
    assert len(await store.history(p.payment_id)) == 1
    assert len(await outbox(store)) == 1


async def test_same_order_id_under_other_client_is_another_payment(store: Store) -> None:
    a = payment("CORE-A")
    b = payment("CORE-B", client_order_id=a.order.client_order_id)
    assert await accept(store, a, b) == [(a, True), (b, True)]
    assert await store.payment_by_client_key("CORE-A", a.order.client_order_id) == a
    assert await store.payment_by_client_key("CORE-B", a.order.client_order_id) == b
    assert await store.payment_by_client_key("CORE-C", a.order.client_order_id) is None


# -- transitions --------------------------------------------------------------------------------
async def test_stale_transition_is_not_applied(store: Store) -> None:
    p = payment()
    await accept(store, p)
    ev = (Event("payment.settled", {"x": 1}),)
    result = await store.commit(WriteBatch(transitions=[
        move(p, "SUBMITTED", "SETTLED", events=ev),
    ]))
    assert result.applied == [False]
    assert await store.payment(p.payment_id) == p
    assert len(await store.history(p.payment_id)) == 1
    assert [e[1] for e in await outbox(store)] == ["payment.accepted"]


async def test_transition_on_missing_payment_is_not_applied(store: Store) -> None:
    ghost = payment()
    result = await store.commit(WriteBatch(transitions=[move(ghost, "ACCEPTED", "ROUTED")]))
    assert result.applied == [False]
    assert await store.history(ghost.payment_id) == []


async def test_two_moves_of_one_payment_in_one_batch_apply_in_order(store: Store) -> None:
    p, other = payment(), payment()
    await accept(store, p, other)
    result = await store.commit(WriteBatch(transitions=[
        move(p, "ACCEPTED", "ROUTED", channel="IBPS", fee=30),
        move(other, "ACCEPTED", "REJECTED", reason="AM02"),
        move(p, "ROUTED", "SUBMITTED", at=T2, events=(Event("payment.submitted", {"n": 1}),)),
    ]))
    assert result.applied == [True, True, True]
    got = await store.payment(p.payment_id)
    assert got is not None
    assert (got.state, got.channel, got.fee, got.updated_at) == ("SUBMITTED", "IBPS", 30, T2)
    assert [(h.from_state, h.to_state, h.at, h.cause) for h in await store.history(p.payment_id)] \
        == [(None, "ACCEPTED", T0, "intake"), ("ACCEPTED", "ROUTED", T1, "ACCEPTED->ROUTED"),
            ("ROUTED", "SUBMITTED", T2, "ROUTED->SUBMITTED")]
    rejected = await store.payment(other.payment_id)
    assert rejected is not None and (rejected.state, rejected.reason) == ("REJECTED", "AM02")


async def test_moves_in_the_wrong_order_apply_only_where_the_state_fits(store: Store) -> None:
    p = payment()
    await accept(store, p)
    result = await store.commit(WriteBatch(transitions=[
        move(p, "ROUTED", "SUBMITTED"), move(p, "ACCEPTED", "ROUTED"),
    ]))
    assert result.applied == [False, True]
    got = await store.payment(p.payment_id)
    assert got is not None and got.state == "ROUTED"


async def test_accept_and_move_in_one_batch(store: Store) -> None:
    p = payment()
    result = await store.commit(WriteBatch(
        accepts=[accepted(p)], transitions=[move(p, "ACCEPTED", "ROUTED", channel="IBPS")],
    ))
    assert result.applied == [True]
    assert [h.to_state for h in await store.history(p.payment_id)] == ["ACCEPTED", "ROUTED"]


# -- atomicity ----------------------------------------------------------------------------------
@pytest.mark.parametrize("poison", ["duplicate end_to_end_id", "intake error without detail"])
async def test_failed_batch_leaves_nothing_behind(store: Store, poison: str) -> None:
    old = payment()
    await accept(store, old)
    before = (await outbox(store), await store.history(old.payment_id))
    fresh = payment()
    batch = WriteBatch(
        accepts=[accepted(fresh)],
        transitions=[move(old, "ACCEPTED", "ROUTED", events=(Event("x", {}),)),
                     move(fresh, "ACCEPTED", "ROUTED")],
        intake_errors=[IntakeError("CORE-1", "FF01", "bad", b"\x00", T1)],
    )
    if poison == "duplicate end_to_end_id":
        clash = msgspec.structs.replace(payment(), end_to_end_id=old.end_to_end_id)
        batch.accepts.append(accepted(clash))
    else:  # the last statement of the transaction fails, after all the others ran
        batch.intake_errors.append(IntakeError("CORE-1", "FF01", None, b"", T1))  # type: ignore[arg-type]
    with pytest.raises(INTEGRITY):
        await store.commit(batch)
    assert await store.payment(fresh.payment_id) is None
    assert await store.payment(old.payment_id) == old
    assert (await outbox(store), await store.history(old.payment_id)) == before
    assert await store.history(fresh.payment_id) == []
    assert await store.intake_errors("CORE-1") == []
    # and the store still works afterwards
    assert (await store.commit(WriteBatch(transitions=[move(old, "ACCEPTED", "ROUTED")]))).applied \
        == [True]


# -- daily route caps ---------------------------------------------------------------------------
DAY = "2026-03-02"
DEBTOR = "6217000000000001"  # the debtor of tests.orders.order()


def take(p: Payment, channel: str = "IBPS", day: str = DAY) -> CapDelta:
    return CapDelta(channel, day, p.order.debtor.account, p.order.amount)


def give(p: Payment, channel: str = "IBPS", day: str = DAY) -> CapDelta:
    return CapDelta(channel, day, p.order.debtor.account, -p.order.amount)


async def caps(store: Store, since: str = "0000-00-00") -> dict[tuple[str, str, str], int]:
    return {(r.channel, r.business_date, r.debtor): r.used for r in await store.route_caps(since)}


async def test_caps_are_consumed_with_the_move_and_released_on_reject(store: Store) -> None:
    a, b = payment(amount=300), payment(amount=50)
    other = payment(amount=7, debtor=msgspec.structs.replace(a.order.debtor, account="62170009"))
    await accept(store, a, b, other)
    result = await store.commit(WriteBatch(transitions=[
        move(a, "ACCEPTED", "ROUTED", channel="IBPS", business_date=DAY, caps=(take(a),)),
        move(b, "ACCEPTED", "ROUTED", channel="IBPS", business_date=DAY, caps=(take(b),)),
        move(other, "ACCEPTED", "ROUTED", channel="IBPS", business_date=DAY,
             caps=(take(other),)),
    ]))
    assert result.applied == [True, True, True]
    assert await caps(store) == {("IBPS", DAY, ""): 357, ("IBPS", DAY, DEBTOR): 350,
                                 ("IBPS", DAY, "62170009"): 7}
    got = await store.payment(a.payment_id)
    assert got is not None and (got.channel, got.business_date) == ("IBPS", DAY)
    # a later move without a business date keeps the stored one
    await store.commit(WriteBatch(transitions=[move(a, "ROUTED", "SUBMITTED", at=T2)]))
    got = await store.payment(a.payment_id)
    assert got is not None and got.business_date == DAY
    await store.commit(WriteBatch(transitions=[
        move(a, "SUBMITTED", "REJECTED", at=T2, reason="AC04", caps=(give(a),)),
    ]))
    assert await caps(store) == {("IBPS", DAY, ""): 57, ("IBPS", DAY, DEBTOR): 50,
                                 ("IBPS", DAY, "62170009"): 7}
    assert [r.used for r in await store.route_caps(DAY)] == [57, 50, 7]
    assert await store.route_caps("2026-03-03") == []
    assert await store.route_caps("2026-03-01") == [
        CapRow("IBPS", DAY, "", 57), CapRow("IBPS", DAY, DEBTOR, 50),
        CapRow("IBPS", DAY, "62170009", 7)]


async def test_stale_transition_applies_no_cap_delta(store: Store) -> None:
    p, q = payment(amount=400), payment(amount=25)
    await accept(store, p, q)
    await store.commit(WriteBatch(transitions=[
        move(p, "ACCEPTED", "ROUTED", channel="IBPS", business_date=DAY, caps=(take(p),)),
    ]))
    result = await store.commit(WriteBatch(transitions=[
        # stale: p is ROUTED, not ACCEPTED; neither its consumption nor its release counts
        move(p, "ACCEPTED", "ROUTED", channel="IBPS", business_date=DAY, caps=(take(p),)),
        move(p, "SUBMITTED", "REJECTED", caps=(give(p),)),
        move(q, "ACCEPTED", "ROUTED", channel="HVPS", business_date="2026-03-03",
             caps=(take(q, "HVPS", "2026-03-03"),)),
    ]))
    assert result.applied == [False, False, True]
    assert await caps(store) == {("IBPS", DAY, ""): 400, ("IBPS", DAY, DEBTOR): 400,
                                 ("HVPS", "2026-03-03", ""): 25,
                                 ("HVPS", "2026-03-03", DEBTOR): 25}
    ghost = payment(amount=9)  # never stored: its move does not apply, nor do its caps
    result = await store.commit(WriteBatch(transitions=[
        move(ghost, "ACCEPTED", "ROUTED", caps=(take(ghost),))]))
    assert result.applied == [False]
    assert (await caps(store))[("IBPS", DAY, "")] == 400


async def test_caps_of_several_moves_of_one_payment_in_one_batch_add_up(store: Store) -> None:
    # ROUTED on IBPS, refused, moved to UnionPay (the caps move with it), then SETTLED: the
    # PostgreSQL backend applies these in rounds, the caps once at the end, per key.
    p, q = payment(amount=1000), payment(amount=1)
    await accept(store, p, q)
    result = await store.commit(WriteBatch(transitions=[
        move(p, "ACCEPTED", "ROUTED", channel="IBPS", business_date=DAY, caps=(take(p),)),
        move(q, "ACCEPTED", "ROUTED", channel="IBPS", business_date=DAY, caps=(take(q),)),
        move(p, "ROUTED", "SUBMITTED"),
        move(p, "SUBMITTED", "ROUTED", channel="UnionPay", business_date="2026-03-03",
             caps=(give(p), take(p, "UnionPay", "2026-03-03"))),
        move(p, "ROUTED", "SUBMITTED"),
        move(p, "SUBMITTED", "SETTLED"),
    ]))
    assert result.applied == [True] * 6
    rows = await caps(store)
    assert {k: v for k, v in rows.items() if v} == {
        ("IBPS", DAY, ""): 1, ("IBPS", DAY, DEBTOR): 1,
        ("UnionPay", "2026-03-03", ""): 1000, ("UnionPay", "2026-03-03", DEBTOR): 1000}
    got = await store.payment(p.payment_id)
    assert got is not None
    assert (got.state, got.channel, got.business_date) == ("SETTLED", "UnionPay", "2026-03-03")


async def test_failed_batch_leaves_caps_unchanged(store: Store) -> None:
    old = payment(amount=500)
    await accept(store, old)
    await store.commit(WriteBatch(transitions=[
        move(old, "ACCEPTED", "ROUTED", channel="IBPS", business_date=DAY, caps=(take(old),)),
    ]))
    before = await caps(store)
    fresh = payment(amount=70)
    batch = WriteBatch(
        accepts=[accepted(fresh)],
        transitions=[move(old, "ROUTED", "REJECTED", caps=(give(old),)),
                     move(fresh, "ACCEPTED", "ROUTED", channel="IBPS", business_date=DAY,
                          caps=(take(fresh),))],
        # the last statement of the transaction fails, after the caps were written
        intake_errors=[IntakeError("CORE-1", "FF01", None, b"", T1)],  # type: ignore[arg-type]
    )
    with pytest.raises(INTEGRITY):
        await store.commit(batch)
    assert await caps(store) == before == {("IBPS", DAY, ""): 500, ("IBPS", DAY, DEBTOR): 500}
    got = await store.payment(old.payment_id)
    assert got is not None and got.state == "ROUTED"


# -- position reservations ----------------------------------------------------------------------
def claim(p: Payment, available: int, as_of: int = 0, channel: str = "IBPS") -> PositionClaim:
    return PositionClaim(channel, p.order.currency, p.order.amount, available, as_of)


def routed(p: Payment, available: int, as_of: int = 0, channel: str = "IBPS",
           src: str = "ACCEPTED") -> Transition:
    return move(p, src, "ROUTED", channel=channel, position=claim(p, available, as_of, channel))


async def test_claims_are_granted_in_order_until_the_position_is_used(store: Store) -> None:
    a, b, c = payment(amount=600), payment(amount=500), payment(amount=400)
    await accept(store, a, b, c)
    # a fits, b would not beside it, c does
    result = await store.commit(WriteBatch(transitions=[
        routed(a, 1000), routed(b, 1000), routed(c, 1000)]))
    assert result.applied == [True, False, True]
    assert await store.position_reserved(0) == {("IBPS", "CNY"): 1000}
    assert (await store.payment(b.payment_id)).state == "ACCEPTED"  # type: ignore[union-attr]
    # a later turn, another process: the same books figure, but the position is taken
    d = payment(amount=1)
    await accept(store, d)
    assert (await store.commit(WriteBatch(transitions=[routed(d, 1000)]))).applied == [False]
    assert (await store.commit(WriteBatch(transitions=[routed(d, 1001)]))).applied == [True]


async def test_a_rejected_payment_gives_its_reservation_back(store: Store) -> None:
    a, b = payment(amount=700), payment(amount=700)
    await accept(store, a, b)
    assert (await store.commit(WriteBatch(transitions=[routed(a, 1000)]))).applied == [True]
    assert (await store.commit(WriteBatch(transitions=[routed(b, 1000)]))).applied == [False]
    await store.commit(WriteBatch(transitions=[
        move(a, "ROUTED", "SUBMITTED"), move(a, "SUBMITTED", "REJECTED", reason="AC04")]))
    assert await store.position_reserved(0) == {}
    assert (await store.commit(WriteBatch(transitions=[routed(b, 1000)]))).applied == [True]


async def test_a_settled_reservation_counts_until_the_books_have_posted_it(store: Store) -> None:
    a = payment(amount=700)
    await accept(store, a)
    await store.commit(WriteBatch(transitions=[routed(a, 1000)]))
    await store.commit(WriteBatch(transitions=[
        move(a, "ROUTED", "SUBMITTED"),
        move(a, "SUBMITTED", "SETTLED", events=(Event("payment.settled", {"amount": 700}),))]))
    settled_at = max(e.event_id for e in await store.outbox_after(0, 100))
    # books posted up to before the settlement: still reserved; up to it: the books show it
    assert await store.position_reserved(settled_at - 1) == {("IBPS", "CNY"): 700}
    assert await store.position_reserved(settled_at) == {}
    b = payment(amount=400)
    await accept(store, b)
    # a snapshot from before the settlement was posted: the books say 1000, 700 of it spent
    assert (await store.commit(WriteBatch(transitions=[
        routed(b, 1000, as_of=settled_at - 1)]))).applied == [False]
    # one after it: the books say 300 and nothing else is held
    assert (await store.commit(WriteBatch(transitions=[
        routed(b, 300, as_of=settled_at)]))).applied == [False]
    assert (await store.commit(WriteBatch(transitions=[
        routed(b, 400, as_of=settled_at)]))).applied == [True]
    # the settled row is forgotten now: a snapshot older than that is refused as stale, as
    # it would count the 700 as still in the books
    c = payment(amount=1)
    await accept(store, c)
    assert (await store.commit(WriteBatch(transitions=[
        routed(c, 10_000, as_of=settled_at - 1)]))).applied == [False]
    assert (await store.commit(WriteBatch(transitions=[
        routed(c, 401, as_of=settled_at)]))).applied == [True]


async def test_a_reroute_moves_the_reservation_to_the_new_channel(store: Store) -> None:
    a = payment(amount=700)
    await accept(store, a)
    # in one batch: routed to IBPS, refused there technically, rerouted to HVPS
    result = await store.commit(WriteBatch(transitions=[
        routed(a, 1000), move(a, "ROUTED", "SUBMITTED"),
        routed(a, 700, channel="HVPS", src="SUBMITTED")]))
    assert result.applied == [True, True, True]
    assert await store.position_reserved(0) == {("HVPS", "CNY"): 700}
    # and off to a channel whose position nobody checks: nothing held any more
    await store.commit(WriteBatch(transitions=[
        move(a, "ROUTED", "SUBMITTED"),
        move(a, "SUBMITTED", "ROUTED", channel="CIPS")]))
    assert await store.position_reserved(0) == {}


# -- history, outbox, intake errors, summary ----------------------------------------------------
async def test_outbox_bodies_round_trip_in_order(store: Store) -> None:
    p = payment()
    body = {"amount": 10**17, "currency": "CNY", "name": "李四",
            "nested": {"list": [1, None, True]}, "neg": -5, "raw": "x" * 1000}
    await store.commit(WriteBatch(accepts=[NewPayment(p, (Event("a", body), Event("b", {})))]))
    await store.commit(WriteBatch(transitions=[
        move(p, "ACCEPTED", "ROUTED", events=(Event("c", {"k": 1}),)),
        move(p, "ROUTED", "SUBMITTED", at=T2, events=(Event("d", {"k": 2}), Event("e", {}))),
    ]))
    events = await store.outbox_after(0, 100)
    assert [(e.type, e.body, e.created_at) for e in events] == [
        ("a", body, T0), ("b", {}, T0), ("c", {"k": 1}, T1), ("d", {"k": 2}, T2), ("e", {}, T2),
    ]
    ids = [e.event_id for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [e.type for e in await store.outbox_after(ids[1], 2)] == ["c", "d"]
    assert await store.outbox_after(ids[-1], 10) == []
    assert [await store.outbox_count_after(ids[1], cap) for cap in (10, 2)] == [3, 2]
    assert await store.outbox_count_after(ids[-1], 10) == 0


@pytest.mark.postgres
async def test_a_pool_with_a_connection_never_given_back_still_closes() -> None:
    """`Pool.close` waits for every connection to come back; one held for good (a task that
    missed its cancellation) must not keep a stopping switch waiting for good."""
    if PG_DSN is None:
        pytest.skip("PAYSWITCH_TEST_PG_DSN not set: PostgreSQL backend not tested here")
    pool = await asyncpg.create_pool(PG_DSN, min_size=1, max_size=2)
    held = await pool.acquire()
    await held.execute("BEGIN")
    pid = await held.fetchval("SELECT pg_backend_pid()")
    await held.execute("SELECT 1")  # inside the open transaction
    await asyncio.wait_for(pg_store.close_pool(pool, "test", timeout_s=0.5), 10)
    probe = await asyncpg.connect(PG_DSN)
    try:  # the server has let the dropped backend go, and rolled its transaction back
        for _ in range(100):
            if not await probe.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"backend {pid} still there after its pool closed")
    finally:
        await probe.close()


@pytest.mark.postgres
async def test_outbox_reader_waits_for_a_lower_id_still_being_committed() -> None:
    """Two writers: the one that drew the lower event id commits last. A reader must not pass
    the higher id before the lower one is visible, or the books would never post it."""
    if PG_DSN is None:
        pytest.skip("PAYSWITCH_TEST_PG_DSN not set: PostgreSQL backend not tested here")
    from tests.conftest import _drop_schema, _pg_schema_url

    schema, url = await _pg_schema_url()
    store = open_store(url)
    await store.open()
    slow = await asyncpg.connect(url)
    try:
        p, q = payment(), payment()
        await accept(store, p)
        first = await store.outbox_after(0, 10)
        tx = slow.transaction()
        await tx.start()  # draws the next event id and holds it, uncommitted
        await pg_store._insert_outbox(slow, [(p.payment_id, "late", encode_body({}), T1)])
        await accept(store, q)  # a higher id, committed first
        assert await store.outbox_after(first[-1].event_id, 10) == []
        # lag counts what is committed, the held-back event included: it is waiting
        assert await store.outbox_count_after(first[-1].event_id, 10) == 1
        await tx.commit()
        assert [e.type for e in await store.outbox_after(first[-1].event_id, 10)] == [
            "late", "payment.accepted"]
        # a rolled-back id is a gap the reader passes once its holder has ended
        tx = slow.transaction()
        await tx.start()
        await pg_store._insert_outbox(slow, [(p.payment_id, "never", encode_body({}), T1)])
        r = payment()
        await accept(store, r)
        events = await store.outbox_after(0, 10)
        assert events[-1].payment_id == q.payment_id
        await tx.rollback()
        assert (await store.outbox_after(0, 10))[-1].payment_id == r.payment_id
    finally:
        await slow.close()
        await store.close()
        await _drop_schema(schema)


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres", None])  # another database, then this one
async def test_outbox_reader_does_not_wait_for_a_transaction_that_writes_no_event(
        database: str | None) -> None:
    """A long transaction that holds no event id (an operator's open session, a report) must
    not stall the books, in another database of the server or in this one."""
    if PG_DSN is None:
        pytest.skip("PAYSWITCH_TEST_PG_DSN not set: PostgreSQL backend not tested here")
    from tests.conftest import _drop_schema, _pg_schema_url

    schema, url = await _pg_schema_url()
    store = open_store(url)
    await store.open()
    elsewhere = await (asyncpg.connect(PG_DSN, database=database) if database
                       else asyncpg.connect(url))
    try:
        tx = elsewhere.transaction()
        await tx.start()
        await elsewhere.fetchval("SELECT pg_current_xact_id()")  # an xid, held open
        p = payment()
        await accept(store, p)
        assert [e.payment_id for e in await store.outbox_after(0, 10)] == [p.payment_id]
        await tx.rollback()
    finally:
        await elsewhere.close()
        await store.close()
        await _drop_schema(schema)


async def test_history_records_reasons_and_causes(store: Store) -> None:
    p = payment(state="REJECTED")
    p = msgspec.structs.replace(p, reason="AM01")
    await accept(store, p)
    q = payment()
    await accept(store, q)
    await store.commit(WriteBatch(transitions=[
        move(q, "ACCEPTED", "ROUTED"), move(q, "ROUTED", "SUBMITTED", at=T2),
    ]))
    await store.commit(WriteBatch(transitions=[
        Transition(payment_id=q.payment_id, from_state="SUBMITTED", to_state="UNKNOWN", at=T2,
                   cause="no answer from IBPS in time", reason="AB05"),
    ]))
    assert await store.history(p.payment_id) == [
        HistoryRow(p.payment_id, None, "REJECTED", T0, "intake", "AM01")]
    assert [(h.to_state, h.cause, h.reason) for h in await store.history(q.payment_id)] == [
        ("ACCEPTED", "intake", None), ("ROUTED", "ACCEPTED->ROUTED", None),
        ("SUBMITTED", "ROUTED->SUBMITTED", None),
        ("UNKNOWN", "no answer from IBPS in time", "AB05")]
    got = await store.payment(q.payment_id)
    assert got is not None and (got.state, got.reason) == ("UNKNOWN", "AB05")


async def test_intake_errors_are_kept_per_client_in_order(store: Store) -> None:
    errs = [IntakeError("CORE-1", "MALFORMED_PAYLOAD", "bad msgpack", b"\xc1\x00\xff", T0, seq=7),
            IntakeError("CORE-2", "FF01", "other client", b"", T1),
            IntakeError("CORE-1", "FF01", "no seq", b"x", T2)]
    await store.commit(WriteBatch(intake_errors=errs))
    assert await store.intake_errors("CORE-1") == [errs[0], errs[2]]
    assert await store.intake_errors("CORE-2") == [errs[1]]
    assert await store.intake_errors("NOBODY") == []


async def test_summary_groups_by_state_channel_currency(store: Store) -> None:
    a, b, c = payment(amount=100), payment(amount=250), payment(amount=7, currency="USD")
    r = msgspec.structs.replace(payment(amount=1), state="REJECTED", reason="AM03")
    await accept(store, a, b, c, r)
    await store.commit(WriteBatch(transitions=[
        move(a, "ACCEPTED", "ROUTED", channel="IBPS", fee=30),
        move(b, "ACCEPTED", "ROUTED", channel="IBPS", fee=80),
    ]))
    assert await store.summary() == [
        SummaryRow("ACCEPTED", None, "USD", 1, 7, 0),
        SummaryRow("REJECTED", None, "CNY", 1, 1, 0),
        SummaryRow("ROUTED", "IBPS", "CNY", 2, 350, 110),
    ]


async def test_payments_in_states(store: Store) -> None:
    a, b = payment(), payment()
    await accept(store, a, b)
    await store.commit(WriteBatch(transitions=[move(b, "ACCEPTED", "ROUTED")]))
    assert [p.payment_id for p in await store.payments_in_states(["ACCEPTED"])] == [a.payment_id]
    assert {p.payment_id for p in await store.payments_in_states(["ACCEPTED", "ROUTED"])} == {
        a.payment_id, b.payment_id}
    assert await store.payments_in_states(["SETTLED"]) == []


# -- property: idempotency under random resends ------------------------------------------------
keys = st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(["o1", "o2", "o3", "o4"]))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batches=st.lists(st.lists(keys, min_size=1, max_size=6), min_size=1, max_size=4))
async def test_random_resends_make_one_payment_per_key(
    store: Store, batches: list[list[tuple[str, str]]]
) -> None:
    run = uuid.uuid4().hex[:8]  # the store outlives one example: keep each example's keys apart
    seen: dict[tuple[str, str], set[str]] = {}
    created: dict[tuple[str, str], int] = {}
    for keys_in_batch in batches:
        ps = [payment(f"{run}-{c}", client_order_id=o) for c, o in keys_in_batch]
        for key, (p, new) in zip(keys_in_batch, await accept(store, *ps), strict=True):
            seen.setdefault(key, set()).add(p.payment_id)
            created[key] = created.get(key, 0) + new
    assert all(len(ids) == 1 for ids in seen.values())
    assert set(created.values()) == {1}
    mine = [p for p in await store.payments_in_states(["ACCEPTED"])
            if p.client_id.startswith(run)]
    assert len(mine) == len(seen)
    for (c, o), ids in seen.items():
        stored = await store.payment_by_client_key(f"{run}-{c}", o)
        assert stored is not None and {stored.payment_id} == ids


async def test_default_durability_survives_power_loss(store: Store) -> None:
    """An ACK promises the order survives a power cut, not just a crash (issue #10, point 7)."""
    settings = await store.durability()
    if store.url.startswith("sqlite"):
        assert settings == {"synchronous": "FULL", "journal_mode": "wal"}
    else:
        assert settings["synchronous_commit"] == "on"
        assert settings["fsync"] == "on"


@pytest.mark.postgres
async def test_postgres_commit_mode_is_ours_not_the_servers() -> None:
    """Even a role or database configured with synchronous_commit=off gets 'on' from the
    store's own sessions."""
    if PG_DSN is None:
        pytest.skip("PAYSWITCH_TEST_PG_DSN not set: PostgreSQL backend not tested here")
    sep = "&" if "?" in PG_DSN else "?"
    relaxed = f"{PG_DSN}{sep}options=-c%20synchronous_commit%3Doff"
    con = await asyncpg.connect(relaxed)
    try:
        assert await con.fetchval("SHOW synchronous_commit") == "off"  # the relaxed default
    finally:
        await con.close()
    store = open_store(relaxed)
    await store.open()
    try:
        assert (await store.durability())["synchronous_commit"] == "on"
    finally:
        await store.close()
