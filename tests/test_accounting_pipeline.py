"""Posting pages in a pipeline: the next page read, planned and applied ahead while the previous
one is written must book exactly what posting page after page books, and an ahead page is
thrown away whenever the ledger moved under it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest

from accounting.config import Books
from accounting.core import Leg, Plan
from accounting.errors import Code
from accounting.ledger import Ahead, Ledger, PostgresLedger, Posting, open_ledger
from accounting.worker import AccountingWorker
from switch.clock import VirtualClock
from switch.store import OutboxEvent
from tests.conftest import PG_DSN, _drop_schema, _pg_schema_url
from tests.test_accounting_support import (
    Events,
    T,
    assert_books_sound,
    funding,
    strict_books,
)

CLOCK = VirtualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
DEBTOR = "6217000000000001"


class Outbox:
    url = "memory://outbox"

    def __init__(self, events: list[OutboxEvent], fail_on_read: int | None = None) -> None:
        self.events = events
        self.fail_on_read = fail_on_read  # this read fails (a store outage)
        self.reads = 0
        self.served = 0  # the last event id handed out

    async def outbox_after(self, event_id: int, limit: int) -> Sequence[OutboxEvent]:
        self.reads += 1
        if self.reads == self.fail_on_read:
            raise OSError("outbox unreachable")
        page = [e for e in self.events if e.event_id > event_id][:limit]
        self.served = page[-1].event_id if page else self.served
        return page

    async def outbox_count_after(self, event_id: int, cap: int) -> int:
        return min(cap, sum(e.event_id > event_id for e in self.events))


def _traffic(n: int) -> list[OutboxEvent]:
    """Accepts, settlements (some partial, some twice), rejections, returns, fees."""
    ev = Events()
    out = []
    for i in range(n):
        debtor = f"62170000000000{i % 7:02d}"
        out.append(ev.make("payment.accepted", f"p{i}", 100 + i, debtor=debtor))
        if i >= 3:
            j = i - 3
            d = f"62170000000000{j % 7:02d}"
            if j % 5 == 0:
                out.append(ev.make("payment.rejected", f"p{j}", 100 + j, debtor=d))
            else:
                out.append(ev.make("payment.settled", f"p{j}", 100 + j - j % 3, debtor=d,
                                   fee=j % 4 * 7))
            if j % 11 == 0:
                out.append(ev.make("payment.settled", f"p{j}", 100 + j, debtor=d))
            if j % 13 == 1:
                out.append(ev.make("payment.returned", f"p{j}", 50, debtor=d))
    return out


async def _open(url: str, books: Books | None = None) -> Ledger:
    ledger = open_ledger(url, books)
    await ledger.open()
    return ledger


async def _books_of(ledger: Ledger) -> tuple[object, ...]:
    return (await ledger.balances(),
            await ledger._fetch("SELECT entry_id, event_id, status, code FROM acct_entries "
                                "ORDER BY entry_id"),
            await ledger._fetch("SELECT entry_id, seq, account_id, phase, debit, credit "
                                "FROM acct_postings ORDER BY entry_id, seq"),
            await ledger._fetch("SELECT payment_id, entry_id, state FROM acct_hold_closures "
                                "ORDER BY payment_id"))


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """PostgreSQL only: SQLite applies nothing ahead (its writes are not the slow part)."""
    if PG_DSN is None:
        pytest.skip("PAYSWITCH_TEST_PG_DSN not set: PostgreSQL backend not tested here")
    schema, url = await _pg_schema_url()
    try:
        yield url
    finally:
        await _drop_schema(schema)


@pytest.fixture
async def two(store_url: str) -> AsyncIterator[tuple[Ledger, Ledger]]:
    """Two ledgers in two databases (schemas) of the same backend."""
    second = store_url.replace("switch.db", "second.db")
    schema = None
    if second == store_url:  # PostgreSQL: a second throw-away schema
        schema, second = await _pg_schema_url()
    a, b = await _open(store_url), await _open(second)
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()
        if schema is not None:
            await _drop_schema(schema)


async def test_the_pipeline_books_what_page_by_page_posting_books(
        two: tuple[Ledger, Ledger]) -> None:
    piped, plain = two
    events = _traffic(120)
    worker = AccountingWorker(Outbox(events), CLOCK, piped, batch=17)
    assert await worker.post_available() == len(events)
    for i in range(0, len(events), 17):
        await plain.post_events(events[i:i + 17], T, consumer="plain")
    assert await _books_of(piped) == await _books_of(plain)
    await assert_books_sound(piped)
    if isinstance(piped, PostgresLedger):  # the pages after the first were applied ahead
        assert piped.ahead_used == piped.ahead_prepared == -(-len(events) // 17) - 1


async def _two_pages(ledger: Ledger, first: list[OutboxEvent], second: list[OutboxEvent]
                     ) -> tuple[list[Plan], Posting, Ahead | None]:
    """Begin writing the first page and apply the second ahead on it, as the worker does."""
    posting = ledger.begin(ledger.plan(first, T), upto=first[-1].event_id)
    plans = ledger.plan(second, T)
    return plans, posting, await ledger.prepare(plans, after=posting)


@pytest.mark.postgres
async def test_a_page_applied_ahead_is_dropped_when_another_writer_posted(pg_url: str) -> None:
    ledger = await _open(pg_url)
    try:
        ev = Events()
        plans, posting, ahead = await _two_pages(
            ledger, [ev.make("payment.accepted", "p1", 100)],
            [ev.make("payment.settled", "p1", 100)])
        assert ahead is not None
        await posting
        # an operator's entry lands between the two pages
        await ledger.adjust("fix", [Leg("suspense", f"customer:{DEBTOR}", "CNY", 5)],
                            operator="ops", reason="r", at=T)
        results = await ledger.begin(plans, ahead=ahead)
        assert [r.code for r in results] == [Code.OK]
        assert [r.entry_id for r in results] == [3]  # numbered after the adjustment
        assert isinstance(ledger, PostgresLedger) and ledger.ahead_used == 0
        await assert_books_sound(ledger)
    finally:
        await ledger.close()


@pytest.mark.postgres
async def test_a_page_applied_ahead_is_dropped_when_a_watched_balance_moved(pg_url: str
                                                                           ) -> None:
    ledger = await _open(pg_url, strict_books())  # customers may not overdraw
    try:
        await ledger.adjust("fund", funding(DEBTOR, 1_000), operator="ops", reason="r", at=T)
        ev = Events()
        plans, posting, ahead = await _two_pages(
            ledger, [ev.make("payment.accepted", "p1", 600)],
            [ev.make("payment.accepted", "p2", 300)])
        assert ahead is not None  # ahead, 300 fits: 1000 - 600 held
        await posting
        # the kept balance is repaired to 800 between the pages (no entry is written)
        await ledger._execute_script("UPDATE acct_balances SET credits_posted = 800 WHERE "
                                     "account_id = (SELECT account_id FROM acct_accounts "
                                     f"WHERE account = 'customer:{DEBTOR}')")
        results = await ledger.begin(plans, ahead=ahead)
        assert [r.code for r in results] == [Code.EXCEEDS_CREDITS]  # 800 - 600 < 300
        assert isinstance(ledger, PostgresLedger) and ledger.ahead_used == 0
    finally:
        await ledger.close()


class _Crash(Exception):
    pass


async def test_a_page_applied_on_a_page_that_failed_is_not_used(store_url: str) -> None:
    ledger = await _open(store_url)
    try:
        ev = Events()

        def crash() -> None:
            raise _Crash

        ledger._before_commit = crash  # type: ignore[method-assign]
        plans, posting, ahead = await _two_pages(
            ledger, [ev.make("payment.accepted", "p1", 100)],
            [ev.make("payment.settled", "p1", 100)])
        with pytest.raises(_Crash):
            await posting
        del ledger._before_commit
        results = await ledger.begin(plans, ahead=ahead)
        # the accept never committed, so there is no hold to settle
        assert [(r.status, r.code) for r in results] == [
            ("rejected", Code.PENDING_TRANSFER_NOT_FOUND)]
        assert await ledger.balances() == []
    finally:
        await ledger.close()


async def test_an_outbox_failure_lets_the_page_being_written_commit(store_url: str) -> None:
    ledger = await _open(store_url)
    try:
        events = _traffic(30)
        outbox = Outbox(events, fail_on_read=3)
        worker = AccountingWorker(outbox, CLOCK, ledger, batch=10)
        with pytest.raises(OSError, match="outbox unreachable"):
            await worker.post_available()
        # the third read failed while the second page was being written: that page committed
        # with its cursor (the first one before it)
        assert outbox.served > 0
        assert await ledger.cursor(worker.consumer) == outbox.served
        posted = len([e for e in events if e.event_id <= outbox.served])
        outbox.fail_on_read = None
        assert await worker.post_available() == len(events) - posted
        await assert_books_sound(ledger)
    finally:
        await ledger.close()
