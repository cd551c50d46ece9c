"""Outbox consumers partitioned by currency (issue #11): the consumers together book what one
consumer books, two of them post at once from two processes' pools without posting an event
twice, and a change of the partitions neither skips an event nor posts one twice."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from accounting.config import Books, parse_books
from accounting.errors import BooksConfigError, Code
from accounting.ledger import Ledger
from accounting.worker import AccountingWorker
from switch.clock import VirtualClock
from switch.store import OutboxEvent
from tests.conftest import PG_DSN, _drop_schema, _pg_schema_url
from tests.test_accounting_pipeline import Outbox, _open
from tests.test_accounting_support import RAW, Events, assert_books_sound

CLOCK = VirtualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
CURRENCIES = ("CNY", "USD", "CNY", "EUR")  # CNY half the traffic, as at a city bank
CHANNEL = {"CNY": "IBPS", "USD": "CIPS", "EUR": "SWIFT"}


def books(*partitions: list[str]) -> Books:
    raw = copy.deepcopy(RAW)
    raw["partitions"] = [list(p) for p in partitions]
    return parse_books(raw)


def _traffic(n: int) -> list[OutboxEvent]:
    """Accepts and, three later, their settlements, rejections, returns, in four currencies
    interleaved, and one event naming no currency (booked as rejected by `other`)."""
    ev = Events()
    out = []
    for i in range(n):
        ccy = CURRENCIES[i % len(CURRENCIES)]
        debtor = f"62170000000000{i % 7:02d}"
        out.append(ev.make("payment.accepted", f"p{i}", 100 + i, debtor=debtor, currency=ccy,
                           channel=CHANNEL[ccy]))
        if i >= 3:
            j = i - 3
            d, c = f"62170000000000{j % 7:02d}", CURRENCIES[j % len(CURRENCIES)]
            where = {"debtor": d, "currency": c, "channel": CHANNEL[c]}
            if j % 5 == 0:
                out.append(ev.make("payment.rejected", f"p{j}", 100 + j, **where))
            else:
                out.append(ev.make("payment.settled", f"p{j}", 100 + j, fee=j % 4 * 7, **where))
            if j % 13 == 1:
                out.append(ev.make("payment.returned", f"p{j}", 50, **where))
        if i == n // 2:
            stray = ev.make("payment.accepted", "stray", 5)
            del stray.body["currency"]
            out.append(stray)
    return out


async def _booked(ledger: Ledger) -> tuple[object, ...]:
    """What the books hold, whatever order the partitions posted in (entry ids differ)."""
    return (await ledger.balances(),
            await ledger._fetch("SELECT event_id, status, code, amount FROM acct_entries "
                                "ORDER BY event_id"),
            await ledger._fetch("SELECT e.event_id, a.account, a.currency, p.phase, p.debit, "
                                "p.credit FROM acct_postings p JOIN acct_entries e ON "
                                "e.entry_id = p.entry_id JOIN acct_accounts a ON "
                                "a.account_id = p.account_id ORDER BY e.event_id, p.seq"),
            await ledger._fetch("SELECT payment_id, state FROM acct_hold_closures "
                                "ORDER BY payment_id"))


@pytest.fixture
async def reference(store_url: str) -> AsyncIterator[Ledger]:
    """The traffic booked by one consumer, in a database of its own on the same backend."""
    schema = None
    url = store_url.replace("switch.db", "reference.db")
    if url == store_url:
        schema, url = await _pg_schema_url()
    ledger = await _open(url, books())
    try:
        await AccountingWorker(Outbox(_traffic(200)), CLOCK, ledger, batch=50).post_available()
        yield ledger
    finally:
        await ledger.close()
        if schema is not None:
            await _drop_schema(schema)


def test_the_books_name_their_partitions_and_who_owns_what() -> None:
    assert [p.consumer for p in books().partitions("accounting")] == ["accounting"]
    parts = books(["CNY"], ["USD", "EUR"]).partitions("accounting")
    assert [p.consumer for p in parts] == ["accounting:CNY", "accounting:EUR+USD",
                                           "accounting:other"]
    owners: dict[Any, list[str]] = {c: [p.consumer for p in parts if p.owns(c)]
                                    for c in ("CNY", "USD", "EUR", "JPY", None, 7)}
    assert owners == {"CNY": ["accounting:CNY"], "USD": ["accounting:EUR+USD"],
                      "EUR": ["accounting:EUR+USD"], "JPY": ["accounting:other"],
                      None: ["accounting:other"], 7: ["accounting:other"]}


@pytest.mark.parametrize(("partitions", "message"), [
    ([["CNY"], ["USD", "CNY"]], "CNY is in two partitions"),
    ([[]], "at least one currency"),
    ([["cny"]], "'cny' is not an ISO 4217 code"),
])
def test_partitions_that_could_post_out_of_order_are_refused(
        partitions: list[list[str]], message: str) -> None:
    with pytest.raises(BooksConfigError, match=message) as caught:
        books(*partitions)
    assert caught.value.where.startswith("partitions[")


async def test_partitioned_consumers_book_what_one_consumer_books(
        store_url: str, reference: Ledger) -> None:
    ledger = await _open(store_url, books(["CNY"], ["USD"]))
    try:
        events = _traffic(200)
        worker = AccountingWorker(Outbox(events), CLOCK, ledger, batch=50)
        assert len(worker.partitions) == 3
        # each partition reads the whole outbox and posts its own share of it
        assert await worker.post_available() == len(events)
        assert await worker.lag() == 0
        assert [await ledger.cursor(p.consumer) for p in worker.partitions] == [
            events[-1].event_id] * 3
        assert await _booked(ledger) == await _booked(reference)
        stray = await ledger._fetch("SELECT status, code FROM acct_entries WHERE "
                                    "payment_id = 'stray'")
        assert stray == [("rejected", Code.MISSING_FIELD.value)]
        await assert_books_sound(ledger)
    finally:
        await ledger.close()


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)  # SQLite: one process
async def test_two_processes_post_their_partitions_at_once(
        store_url: str, reference: Ledger) -> None:
    b = books(["CNY"])
    first, second = await _open(store_url, b), await _open(store_url, b)  # two pools
    try:
        events = _traffic(200)
        cny = AccountingWorker(Outbox(events), CLOCK, first, batch=20)
        rest = AccountingWorker(Outbox(events), CLOCK, second, batch=20)
        cny.posting, rest.posting = ["accounting:CNY"], ["accounting:other"]
        assert await asyncio.gather(cny.post_available(), rest.post_available()) == [
            len(events), len(events)]
        assert await cny.lag() == 0
        entries = await first._fetch("SELECT count(*), count(DISTINCT event_id) "
                                     "FROM acct_entries")
        assert entries == [(len(events), len(events))]  # each event once, none left out
        assert await _booked(first) == await _booked(reference)
        await assert_books_sound(first)
    finally:
        await first.close()
        await second.close()


async def test_changing_the_partitions_skips_nothing_and_posts_nothing_twice(
        store_url: str, reference: Ledger) -> None:
    events = _traffic(200)
    outbox = Outbox(events)
    third, two_thirds = len(events) // 3, len(events) * 2 // 3
    # Split by currency, and only CNY posted for a while: the cursors are far apart.
    ledger = await _open(store_url, books(["CNY"]))
    try:
        split = AccountingWorker(outbox, CLOCK, ledger, batch=50)
        split.posting = ["accounting:CNY"]
        outbox.events = events[:third]
        await split.post_available()
        assert await ledger.cursor("accounting:CNY") == events[third - 1].event_id
        assert await ledger.cursor("accounting:other") == 0
    finally:
        await ledger.close()
    # Back to one consumer: it starts from the lower cursor and finds CNY already posted.
    outbox.events = events[:two_thirds]
    ledger = await _open(store_url, books())
    try:
        whole = AccountingWorker(outbox, CLOCK, ledger, batch=50)
        assert await whole.post_available() == two_thirds
        assert await ledger._fetch("SELECT consumer FROM acct_cursor") == [("accounting",)]
    finally:
        await ledger.close()
    # Split again, differently: both new consumers start where the one consumer stopped.
    outbox.events = events
    ledger = await _open(store_url, books(["USD"], ["EUR"]))
    try:
        again = AccountingWorker(outbox, CLOCK, ledger, batch=50)
        await again.open()
        where = events[two_thirds - 1].event_id
        assert {p.consumer: await ledger.cursor(p.consumer) for p in again.partitions} == {
            "accounting:USD": where, "accounting:EUR": where, "accounting:other": where}
        assert await again.post_available() == len(events) - two_thirds
        entries = await ledger._fetch("SELECT count(*), count(DISTINCT event_id) "
                                      "FROM acct_entries")
        assert entries == [(len(events), len(events))]
        assert await _booked(ledger) == await _booked(reference)
    finally:
        await ledger.close()


@pytest.mark.postgres
async def test_two_os_processes_post_their_partitions_into_one_ledger() -> None:
    """`bench.ledger --partitions` as a check: two processes, one partition each, at once;
    it asserts each event booked once and the ledger balanced."""
    if PG_DSN is None:
        pytest.skip("PAYSWITCH_TEST_PG_DSN not set: PostgreSQL backend not tested here")
    from bench.ledger import bench_partitions

    figures = await bench_partitions(PG_DSN, 500)
    assert figures["pg_two_partitions_events_per_s"] > 0
    assert figures["pg_one_consumer_events_per_s"] > 0
