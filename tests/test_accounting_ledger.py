"""The ledger on both stores: holds, posting, idempotency, constraints, corrections, queries."""

from __future__ import annotations

import ctypes
import ctypes.util
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from accounting import core
from accounting.config import Books, load_books
from accounting.core import Leg
from accounting.errors import Code, LedgerStoreError
from accounting.ledger import (
    POSTGRES_MIGRATIONS,
    SCHEMA_VERSION,
    SQLITE_MIGRATIONS,
    Ledger,
    SqliteLedger,
    _pg_sql,
    open_ledger,
)
from accounting.poster import check_ledger
from tests.test_accounting_support import (
    Events,
    T,
    assert_books_sound,
    by_account,
    funding,
    strict_books,
)

DEBTOR = "6217000000000001"
CUSTOMER = f"customer:{DEBTOR}"


async def _open(url: str, books: Books | None = None) -> Ledger:
    ledger = open_ledger(url, books)
    await ledger.open()
    return ledger


@pytest.fixture
async def ledger(store_url: str) -> AsyncIterator[Ledger]:
    led = await _open(store_url)
    try:
        yield led
    finally:
        await led.close()


@pytest.fixture
async def strict(store_url: str) -> AsyncIterator[Ledger]:
    led = await _open(store_url, strict_books(clearing_limit=10_000))
    try:
        yield led
    finally:
        await led.close()


async def test_accept_then_settle_with_fee_books_hold_principal_and_vat(ledger: Ledger) -> None:
    ev = Events()
    accepted = await ledger.post_events([ev.make("payment.accepted", "p1", 10_000)], T)
    assert [r.status for r in accepted] == ["posted"]
    held = await ledger.balance(CUSTOMER, "CNY")
    assert (held.debits_posted, held.debits_pending) == (0, 10_000)  # held, not moved
    submitted = await ledger.post_events([ev.make("payment.submitted", "p1", 10_000)], T)
    assert submitted[0].status == "no_entry"
    settled = await ledger.post_events(
        [ev.make("payment.settled", "p1", 10_000, fee=30)], T)
    assert settled[0].status == "posted"
    b = by_account(await ledger.balances())
    assert (b[CUSTOMER].debits_posted, b[CUSTOMER].debits_pending) == (10_030, 0)
    assert b["clearing:IBPS"].credits_posted == 10_000
    assert b["fee-income:IBPS"].credits_posted == 28  # 30 incl. 6% VAT: 1.698 -> 2 VAT
    assert b["vat-payable"].credits_posted == 2
    assert b["in-transit"].net == 0 and b["in-transit"].credits_pending == 0
    assert await assert_books_sound(ledger) == {"CNY": (10_030, 10_030)}
    entries = await ledger.entries_for_payment("p1")
    assert [e.event_type for e in entries] == ["payment.accepted", "payment.settled"]
    assert all(e.status == "posted" for e in entries)


async def test_replay_returns_the_original_and_changes_nothing(ledger: Ledger) -> None:
    ev = Events()
    batch = [ev.make("payment.accepted", "p1", 500), ev.make("payment.settled", "p1", 500,
                                                              fee=10)]
    first = await ledger.post_events(batch, T)
    before = await ledger.balances()
    again = await ledger.post_events(batch, T)
    assert [r.status for r in again] == ["exists", "exists"]
    assert [r.entry_id for r in again] == [r.entry_id for r in first]
    assert [r.code for r in again] == [Code.OK, Code.OK]
    assert await ledger.balances() == before


async def test_same_id_different_content_is_a_conflict_with_a_stable_code(ledger: Ledger) -> None:
    ev = Events()
    original = ev.make("payment.accepted", "p1", 500)
    await ledger.post_events([original], T)
    before = await ledger.balances()
    tampered = original.__class__(original.event_id, "p1", "payment.accepted",
                                  {**original.body, "amount": 501}, T)
    other_type = original.__class__(original.event_id, "p1", "payment.rejected",
                                    original.body, T)
    other_debtor = original.__class__(original.event_id, "p1", "payment.accepted",
                                      {**original.body, "debtor_account": "X"}, T)
    results = await ledger.post_events([tampered, other_type, other_debtor], T)
    assert [(r.status, r.code) for r in results] == [
        ("conflict", Code.EXISTS_WITH_DIFFERENT_AMOUNT),
        ("conflict", Code.EXISTS_WITH_DIFFERENT_EVENT_TYPE),
        ("conflict", Code.EXISTS_WITH_DIFFERENT_CONTENT)]
    assert await ledger.balances() == before


async def test_partial_settlement_posts_part_and_releases_the_rest(ledger: Ledger) -> None:
    ev = Events()
    await ledger.post_events([ev.make("payment.accepted", "p1", 1_000)], T)
    r = await ledger.post_events([ev.make("payment.settled", "p1", 600)], T)
    assert r[0].status == "posted"
    c = await ledger.balance(CUSTOMER, "CNY")
    assert (c.debits_posted, c.debits_pending) == (600, 0)
    assert (await ledger.balance("clearing:IBPS", "CNY")).credits_posted == 600
    await assert_books_sound(ledger)


async def test_holds_cannot_be_posted_or_voided_twice(ledger: Ledger) -> None:
    ev = Events()
    await ledger.post_events([ev.make("payment.accepted", "p1", 100),
                              ev.make("payment.accepted", "p2", 100)], T)
    results = await ledger.post_events([
        ev.make("payment.settled", "p1", 100),
        ev.make("payment.settled", "p1", 100),  # a second settlement under another event id
        ev.make("payment.rejected", "p1", 100),
        ev.make("payment.rejected", "p2", 100),
        ev.make("payment.settled", "p2", 100),
        ev.make("payment.settled", "p3", 100),  # never accepted
        ev.make("payment.accepted", "p4", 100),
        ev.make("payment.settled", "p4", 101),  # more than was held
    ], T)
    assert [(r.status, r.code) for r in results] == [
        ("posted", Code.OK),
        ("rejected", Code.PENDING_TRANSFER_ALREADY_POSTED),
        ("rejected", Code.PENDING_TRANSFER_ALREADY_POSTED),
        ("posted", Code.OK),
        ("rejected", Code.PENDING_TRANSFER_ALREADY_VOIDED),
        ("rejected", Code.PENDING_TRANSFER_NOT_FOUND),
        ("posted", Code.OK),
        ("rejected", Code.EXCEEDS_PENDING_TRANSFER_AMOUNT)]
    c = await ledger.balance(CUSTOMER, "CNY")
    assert (c.debits_posted, c.debits_pending) == (100, 100)  # p1 posted, p4 still held
    # a rejected event keeps its result: replaying it answers the same code
    again = await ledger.post_events([ev.make("payment.settled", "p3", 100)], T)
    assert again[0].code == Code.PENDING_TRANSFER_NOT_FOUND
    await assert_books_sound(ledger)


async def test_available_balance_and_non_negative_customers(strict: Ledger) -> None:
    ev = Events()
    over = await strict.post_events([ev.make("payment.accepted", "p1", 100)], T)
    assert (over[0].status, over[0].code) == ("rejected", Code.EXCEEDS_CREDITS)
    funded = await strict.adjust("fund-1", funding(DEBTOR, 1_000), operator="ops-1",
                                 reason="opening balance", at=T)
    assert funded.status == "posted"
    results = await strict.post_events([
        ev.make("payment.accepted", "p2", 700),
        ev.make("payment.accepted", "p3", 400),  # 1000 - 700 held leaves 300 available
        ev.make("payment.accepted", "p4", 300),
    ], T)
    assert [r.code for r in results] == [Code.OK, Code.EXCEEDS_CREDITS, Code.OK]
    c = await strict.balance(CUSTOMER, "CNY")
    assert c.credits_posted - c.debits_posted - c.debits_pending == 0
    assert await strict.available_balance(CUSTOMER, "CNY") == 0
    assert await strict.available_balance("nowhere", "CNY") is None
    # a release makes room again
    await strict.post_events([ev.make("payment.rejected", "p2", 700)], T)
    assert await strict.available_balance(CUSTOMER, "CNY") == 700
    r = await strict.post_events([ev.make("payment.accepted", "p5", 700)], T)
    assert r[0].code == Code.OK
    await assert_books_sound(strict)


async def test_position_limit_alerts_and_available_position(strict: Ledger) -> None:
    await strict.adjust("fund", funding(DEBTOR, 100_000), operator="ops", reason="fund", at=T)
    assert await strict.available_position("IBPS", "CNY") == 10_000
    ev = Events()
    for i, amount in enumerate([7_000, 2_000, 1_500]):
        await strict.post_events([ev.make("payment.accepted", f"p{i}", amount)], T)
    results = await strict.post_events([ev.make("payment.settled", f"p{i}", amount)
                                        for i, amount in enumerate([7_000, 2_000, 1_500])], T)
    assert [r.code for r in results] == [Code.OK, Code.OK, Code.EXCEEDS_LIMIT]
    assert await strict.available_position("IBPS", "CNY") == 1_000
    assert await strict.positions() == {("IBPS", "CNY"): 1_000}
    # the alert fired once, when the position crossed 80% of its limit, not on every payment
    alerts = await strict.alerts()
    assert [(a.account, a.threshold, a.limit, a.value) for a in alerts] == [
        ("clearing:IBPS", "above", 8_000, 9_000)]
    assert alerts[0].entry_id == results[1].entry_id and alerts[0].at == T
    assert await strict.alerts(after=alerts[0].alert_id or 0) == []
    assert await strict.available_position("NOPE", "CNY") is not None  # family: free, no limit
    await assert_books_sound(strict)


async def test_reversal_and_adjustments_are_new_linked_entries(ledger: Ledger) -> None:
    ev = Events()
    await ledger.post_events([ev.make("payment.accepted", "p1", 1_000)], T)
    settled = await ledger.post_events([ev.make("payment.settled", "p1", 1_000, fee=30)], T)
    booked = await ledger.balances()
    entry_id = settled[0].entry_id
    assert entry_id is not None
    rev = await ledger.reverse("rev-1", entry_id, operator="ops-7", reason="duplicate at bank",
                               at=T)
    assert rev.status == "posted"
    after = by_account(await ledger.balances())
    assert after[CUSTOMER].net == 0 and after["clearing:IBPS"].net == 0
    assert after["vat-payable"].net == 0
    view = await ledger.entry(rev.entry_id or 0)
    assert view is not None
    assert (view.link_entry_id, view.link_kind, view.operator, view.reason) == (
        entry_id, "reversal", "ops-7", "duplicate at bank")
    assert view.payment_id == "p1"
    # the original is untouched, a second reversal is refused, replaying the first is a no-op
    original = await ledger.entry(entry_id)
    assert original is not None and original.status == "posted"
    twice = await ledger.reverse("rev-2", entry_id, operator="ops-7", reason="again", at=T)
    assert twice.code == Code.ALREADY_REVERSED
    replay = await ledger.reverse("rev-1", entry_id, operator="ops-7",
                                  reason="duplicate at bank", at=T)
    assert (replay.status, replay.entry_id) == ("exists", rev.entry_id)
    # a hold is released by voiding, not reversed
    hold_entry = (await ledger.entries_for_payment("p1"))[0]
    assert (await ledger.reverse("rev-3", hold_entry.entry_id, operator="o", reason="r",
                                 at=T)).code == Code.CANNOT_REVERSE_PENDING
    # make-up posting linked to the original, with operator and reason
    makeup = await ledger.adjust("mk-1", [Leg(CUSTOMER, "clearing:IBPS", "CNY", 1_000)],
                                 operator="ops-7", reason="re-book principal", at=T,
                                 kind="makeup", links_to=entry_id, payment_id="p1")
    assert makeup.status == "posted"
    views = await ledger.entries_for_payment("p1")
    assert [e.link_kind for e in views if e.status == "posted"] == [
        None, None, "reversal", "makeup"]
    assert [e.code for e in views if e.status == "rejected"] == ["already_reversed"]
    assert by_account(await ledger.balances())[CUSTOMER].net == 1_000
    assert booked != await ledger.balances()
    with pytest.raises(LedgerStoreError):
        await ledger.adjust("bad", [Leg(CUSTOMER, "suspense", "CNY", 0)], operator="o",
                            reason="r", at=T)
    with pytest.raises(LedgerStoreError):
        await ledger.adjust("anon", [Leg(CUSTOMER, "suspense", "CNY", 5)], operator="",
                            reason="r", at=T)
    await assert_books_sound(ledger)


async def test_unknown_accounts_and_currencies_are_rejected(ledger: Ledger) -> None:
    r = await ledger.adjust("x", [Leg("nowhere", "suspense", "CNY", 5)], operator="o",
                            reason="r", at=T)
    assert r.code == Code.ACCOUNT_NOT_FOUND
    usd = await ledger.adjust("y", [Leg("clearing:IBPS", "suspense", "USD", 5)], operator="o",
                              reason="r", at=T)
    assert usd.code == Code.CURRENCY_MISMATCH  # the IBPS position is kept in CNY only
    ev = Events()
    bad = await ledger.post_events([ev.make("payment.accepted", "p1", -5),
                                    ev.make("payment.teleported", "p1", 5),
                                    ev.make("payment.accepted", "p2", 5, debtor="")], T)
    assert [r.code for r in bad] == [Code.INVALID_AMOUNT, Code.NO_RULE, Code.ACCOUNT_NOT_FOUND]
    assert all(r.status == "rejected" for r in bad)
    assert await ledger.balances() == []
    await assert_books_sound(ledger)


async def test_trial_balance_per_currency_statement_and_snapshot(ledger: Ledger) -> None:
    ev = Events()
    await ledger.post_events([
        ev.make("payment.accepted", "p1", 1_000), ev.make("payment.settled", "p1", 1_000),
        ev.make("payment.accepted", "p2", 250, currency="USD", channel="SWIFT"),
        ev.make("payment.settled", "p2", 250, currency="USD", channel="SWIFT", fee=53),
        ev.make("payment.accepted", "p3", 40), ev.make("payment.settled", "p3", 40, fee=30),
        ev.make("fee.charged", "p3", 0, fee=9),
    ], T)
    totals = await assert_books_sound(ledger)
    assert totals == {"CNY": (1_000 + 40 + 30 + 9, 1_000 + 40 + 30 + 9),
                      "USD": (250 + 53, 250 + 53)}
    lines = await ledger.statement(CUSTOMER, "CNY")
    # a liability: debits reduce it, so the running balance goes down line by line
    assert [ln.balance for ln in lines] == [-1_000, -1_040, -1_068, -1_070, -1_078, -1_079]
    assert await ledger.snapshot("2026-03-02") == len(await ledger.balances())
    day = await ledger.snapshot_balances("2026-03-02")
    await ledger.post_events([ev.make("payment.accepted", "p4", 5)], T)
    assert await ledger.snapshot("2026-03-02") == len(day)  # taken once; later posts not in it
    assert await ledger.snapshot_balances("2026-03-02") == day
    assert day != await ledger.balances()


async def test_kept_balances_can_be_checked_and_rebuilt(ledger: Ledger, store_url: str) -> None:
    ev = Events()
    await ledger.post_events([ev.make("payment.accepted", "p1", 1_000),
                              ev.make("payment.settled", "p1", 1_000, fee=30)], T)
    good = await ledger.balances()
    await ledger._execute_script("UPDATE acct_balances SET debits_posted = debits_posted + 1 "
                                 "WHERE account_id = (SELECT min(account_id) FROM acct_accounts)")
    check = await check_ledger(ledger)
    assert not check.kept_match_postings and not check.balanced
    assert len(await ledger.balance_differences()) == 1
    assert await ledger.rebuild_balances() == 1
    assert await ledger.balances() == good
    assert (await check_ledger(ledger)).balanced
    # a hold whose kept pending column drifted is caught too
    await ledger.post_events([ev.make("payment.accepted", "p2", 7)], T)
    await ledger._execute_script("UPDATE acct_balances SET debits_pending = 0")
    pending = await check_ledger(ledger)
    assert not pending.pending_ok and not pending.balanced
    assert await ledger.rebuild_balances() >= 1
    await assert_books_sound(ledger)


async def test_schema_is_the_accounting_packages_own(ledger: Ledger, store_url: str) -> None:
    assert await ledger.schema_version() == SCHEMA_VERSION == 2
    # reopening migrates nothing and keeps the data
    ev = Events()
    await ledger.post_events([ev.make("payment.accepted", "p1", 3)], T)
    again = await _open(store_url, load_books())
    try:
        assert await again.schema_version() == SCHEMA_VERSION
        assert await again.balances() == await ledger.balances()
    finally:
        await again.close()


def test_unsupported_url_is_refused() -> None:
    with pytest.raises(LedgerStoreError):
        open_ledger("mysql://nope")


async def _v1_ledger(url: str) -> None:
    """A ledger as schema v1 left it: holds updated in place (a state column), no alerts table.
    Its rows are made by the engine and written in v1's shape."""
    ev = Events()
    books = load_books()
    plans = [core.plan_event(books, e.event_id, e.payment_id, e.type, e.body, T) for e in [
        ev.make("payment.accepted", "pending", 100), ev.make("payment.accepted", "posted", 200),
        ev.make("payment.accepted", "voided", 300), ev.make("payment.settled", "posted", 200),
        ev.make("payment.rejected", "voided", 300)]]
    w = core.apply(books, plans, core.Snapshot(1, {}, {}, {}, set(), {}, 1))
    closed = {pid: (entry_id, state) for pid, entry_id, state in w.closures}
    holds = [(*h, *reversed(closed.get(h[0], (None, "pending")))) for h in w.holds]
    statements: list[tuple[str, list[tuple[object, ...]]]] = [
        ("INSERT INTO acct_schema_version (version) VALUES (?)", [(1,)]),
        ("INSERT INTO acct_accounts (account_id, account, currency) VALUES (?,?,?)", w.accounts),
        ("INSERT INTO acct_entries VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", w.entries),
        ("INSERT INTO acct_postings VALUES (?,?,?,?,?,?)", w.postings),
        ("INSERT INTO acct_balances VALUES (?,?,?,?,?)", w.deltas()),
        ("INSERT INTO acct_holds VALUES (?,?,?,?,?,?,?,?)", holds)]
    if url.startswith("sqlite://"):
        db = sqlite3.connect(url.removeprefix("sqlite://"))
        db.execute("CREATE TABLE acct_schema_version (version INTEGER NOT NULL)")
        for sql in SQLITE_MIGRATIONS[0][1]:
            db.execute(sql)
        for sql, rows in statements:
            db.executemany(sql, rows)
        db.commit()
        db.close()
        return
    con = await asyncpg.connect(url)
    try:
        async with con.transaction():
            await con.execute("CREATE TABLE acct_schema_version (version INTEGER NOT NULL)")
            for sql in POSTGRES_MIGRATIONS[0][1]:
                await con.execute(sql)
            for sql, rows in statements:
                await con.executemany(_pg_sql(sql), rows)
    finally:
        await con.close()


async def test_a_v1_ledger_migrates_to_insert_only_holds(store_url: str) -> None:
    await _v1_ledger(store_url)
    ledger = await _open(store_url)
    try:
        assert await ledger.schema_version() == SCHEMA_VERSION
        ev = Events(start=100)
        results = await ledger.post_events([ev.make("payment.settled", "pending", 100),
                                            ev.make("payment.settled", "posted", 200),
                                            ev.make("payment.rejected", "voided", 300)], T)
        # the v1 states carried over: each hold is still closed at most once
        assert [r.code for r in results] == [Code.OK, Code.PENDING_TRANSFER_ALREADY_POSTED,
                                             Code.PENDING_TRANSFER_ALREADY_VOIDED]
        assert await ledger._fetch("SELECT payment_id, state FROM acct_hold_closures "
                                   "ORDER BY payment_id") == [
            ("pending", "posted"), ("posted", "posted"), ("voided", "voided")]
        c = await ledger.balance(CUSTOMER, "CNY")
        assert (c.debits_posted, c.debits_pending) == (300, 0)
        await assert_books_sound(ledger)
    finally:
        await ledger.close()


async def test_a_hold_cannot_be_closed_twice_even_by_a_direct_write(ledger: Ledger) -> None:
    ev = Events()
    await ledger.post_events([ev.make("payment.accepted", "p1", 100),
                              ev.make("payment.settled", "p1", 100)], T)
    # the closure's primary key stands behind the engine's check
    with pytest.raises((sqlite3.IntegrityError, asyncpg.UniqueViolationError)):
        await ledger._execute_script("INSERT INTO acct_hold_closures (payment_id, entry_id, "
                                     "state) VALUES ('p1', 99, 'voided')")


async def test_a_refused_entry_leaves_nothing_behind(strict: Ledger) -> None:
    """Its first legs were already written into the batch when a later one was refused."""
    fresh = "customer:6217000000000777"
    refused = await strict.adjust("half", [Leg("suspense", fresh, "CNY", 5),
                                           Leg("nowhere", "suspense", "CNY", 5)],
                                  operator="o", reason="r", at=T)
    assert refused.code == Code.ACCOUNT_NOT_FOUND
    overdrawn = await strict.adjust("over", [Leg("suspense", fresh, "CNY", 5),
                                             Leg(CUSTOMER, "suspense", "CNY", 5)],
                                    operator="o", reason="r", at=T)
    assert overdrawn.code == Code.EXCEEDS_CREDITS  # the debtor has no funds
    assert await strict.balances() == []
    assert await strict._fetch("SELECT count(*) FROM acct_accounts") == [(0,)]
    assert await strict._fetch("SELECT count(*) FROM acct_postings") == [(0,)]
    ok = await strict.adjust("ok", [Leg("suspense", fresh, "CNY", 5)], operator="o",
                             reason="r", at=T)
    assert ok.status == "posted"
    assert [b.account for b in await strict.balances()] == [fresh, "suspense"]
    await assert_books_sound(strict)


async def test_account_id_cache_stays_bounded_and_misses_read_the_store(ledger: Ledger) -> None:
    """Customer accounts come by the million: the ledger remembers a few ids, and one it has
    forgotten is read again, so a returning customer's balance keeps adding up."""
    ledger._account_ids.capacity = 4
    ev = Events()
    debtors = [f"62170000000001{i:02d}" for i in range(12)]
    for round_ in range(2):  # the second round finds every id forgotten but the last few
        for n, debtor in enumerate(debtors):
            pid = f"p{round_}-{n}"
            await ledger.post_events([ev.make("payment.accepted", pid, 100, debtor=debtor)], T)
            await ledger.post_events([ev.make("payment.settled", pid, 100, debtor=debtor)], T)
            assert len(ledger._account_ids) <= 4
    b = by_account(await ledger.balances())
    assert all(b[f"customer:{d}"].debits_posted == 200 for d in debtors)
    assert b["clearing:IBPS"].credits_posted == 200 * len(debtors)
    await assert_books_sound(ledger)


async def test_pages_of_every_size_do_not_grow_sqlites_memory(tmp_path: Path) -> None:
    # Each page looks up its accounts, holds and entries by lists of keys. As IN lists of ?
    # marks, every new length was a new prepared statement, 128 of them kept per connection:
    # the switch grew by tens of MiB over a day of pages of varying size.
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
    except OSError:
        pytest.skip("this Python's SQLite is not a shared library: its memory is not readable")
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    ledger = await _open(f"sqlite://{tmp_path}/books.db")
    try:
        ev = Events()

        async def page(n: int) -> None:
            base = ev.next_id
            events = [ev.make("payment.accepted", f"p{base + i}", 100,
                              debtor=f"62170000{base + i:08d}") for i in range(n)]
            assert {r.status for r in await ledger.post_events(events, T)} == {"posted"}

        # a page cache of ten pages, so what grows is not the cache filling
        assert isinstance(ledger, SqliteLedger)
        await ledger._run(lambda db: db.execute("PRAGMA cache_size = 10"))
        await page(300)
        before = lib.sqlite3_memory_used()
        for n in range(300, 340):  # forty lengths
            await page(n)
        grown = lib.sqlite3_memory_used() - before
        assert grown < 256 * 1024, f"SQLite's memory grew by {grown:,} bytes"
    finally:
        await ledger.close()
