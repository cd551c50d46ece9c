"""Position alerts: a subscriber hears of each threshold crossing once, whoever posted it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest

from accounting.core import Alert, Leg
from accounting.ledger import Ledger, open_ledger
from accounting.worker import AccountingWorker
from switch.clock import VirtualClock
from switch.store import OutboxEvent
from tests.test_accounting_support import Events, T, assert_books_sound, strict_books

CLOCK = VirtualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
LOW = 10_000  # the IBPS position alerts below this


class Outbox:
    url = "memory://outbox"

    def __init__(self) -> None:
        self.events: list[OutboxEvent] = []
        self.ev = Events()

    def add(self, kind: str, payment_id: str, amount: int, **extra: object) -> None:
        self.events.append(self.ev.make(kind, payment_id, amount, **extra))

    def pay(self, payment_id: str, amount: int) -> None:
        self.add("payment.accepted", payment_id, amount)
        self.add("payment.settled", payment_id, amount)

    async def outbox_after(self, event_id: int, limit: int) -> Sequence[OutboxEvent]:
        return [e for e in self.events if e.event_id > event_id][:limit]

    async def outbox_count_after(self, event_id: int, cap: int) -> int:
        return min(cap, sum(e.event_id > event_id for e in self.events))


@pytest.fixture
async def ledger(store_url: str) -> AsyncIterator[Ledger]:
    led = open_ledger(store_url, strict_books(customer_limit=False, alert_below=LOW))
    await led.open()
    try:
        yield led
    finally:
        await led.close()


def _seen(alerts: list[Alert]) -> list[tuple[str, str, int, int]]:
    return [(a.account, a.threshold, a.limit, a.value) for a in alerts]


async def test_each_crossing_is_delivered_once_not_on_every_page(ledger: Ledger) -> None:
    outbox = Outbox()
    worker = AccountingWorker(outbox, CLOCK, ledger, batch=3)  # many small pages
    heard: list[Alert] = []
    worker.subscribe_alerts(heard.append)
    outbox.add("position.funded", "TR-1", 0, channel="IBPS", **{"in": 14_000})
    for i in range(6):  # 14,000 -> 2,000 in steps of 2,000: below 10,000 after the third
        outbox.pay(f"p{i}", 2_000)
    await worker.post_available()
    assert _seen(heard) == [("clearing:IBPS", "below", LOW, 8_000)]
    first = heard[0]
    entry = await ledger.entry(first.entry_id)
    assert entry is not None and entry.payment_id == "p2" and first.at == entry.posted_at
    # staying below over more pages raises nothing; topping up above and falling again does
    outbox.pay("p6", 500)
    await worker.post_available()
    outbox.add("position.funded", "TR-2", 0, channel="IBPS", **{"in": 20_000})
    outbox.pay("p7", 15_000)
    await worker.post_available()
    assert _seen(heard) == [("clearing:IBPS", "below", LOW, 8_000),
                            ("clearing:IBPS", "below", LOW, 6_500)]
    assert heard[0].alert_id is not None and heard[1].alert_id is not None
    assert heard[1].alert_id > heard[0].alert_id
    assert worker.available_position("IBPS", "CNY") == 6_500
    await assert_books_sound(ledger)


async def test_crossings_by_other_writers_are_delivered_and_history_is_not(
        ledger: Ledger) -> None:
    # a crossing from before the worker opened is history, not news
    await ledger.adjust("old", [Leg("clearing:IBPS", "treasury", "CNY", 50_000)],
                        operator="ops", reason="opening", at=T)
    await ledger.adjust("drop", [Leg("treasury", "clearing:IBPS", "CNY", 45_000)],
                        operator="ops", reason="sweep", at=T)
    assert len(await ledger.alerts()) == 1
    worker = AccountingWorker(Outbox(), CLOCK, ledger)
    heard: list[Alert] = []
    worker.subscribe_alerts(heard.append)
    await worker.refresh()
    assert heard == []
    # an operator's adjustment (not the worker's page) crosses again after a top-up
    await ledger.adjust("up", [Leg("clearing:IBPS", "treasury", "CNY", 10_000)],
                        operator="ops", reason="top up", at=T)
    await ledger.adjust("down", [Leg("treasury", "clearing:IBPS", "CNY", 7_000)],
                        operator="ops", reason="sweep", at=T)
    await worker.refresh()
    await worker.refresh()  # read twice, delivered once
    assert _seen(heard) == [("clearing:IBPS", "below", LOW, 8_000)]
    assert worker.positions == {("IBPS", "CNY"): 8_000}


async def test_the_idle_worker_delivers_others_crossings(ledger: Ledger) -> None:
    worker = AccountingWorker(Outbox(), CLOCK, ledger, idle_s=0.01, refresh_s=0.01)
    delivered = asyncio.Event()
    heard: list[Alert] = []

    async def push(alert: Alert) -> None:  # an awaitable callback is awaited
        heard.append(alert)
        delivered.set()

    worker.subscribe_alerts(push)
    await worker.open()
    worker.start()
    try:
        await ledger.adjust("up", [Leg("clearing:IBPS", "treasury", "CNY", 20_000)],
                            operator="ops", reason="top up", at=T)
        await ledger.adjust("down", [Leg("treasury", "clearing:IBPS", "CNY", 15_000)],
                            operator="ops", reason="sweep", at=T)
        await asyncio.wait_for(delivered.wait(), timeout=30)
    finally:
        await worker.stop()
    assert _seen(heard) == [("clearing:IBPS", "below", LOW, 5_000)]


async def test_a_failing_subscriber_stops_nothing_and_unsubscribing_works(
        ledger: Ledger) -> None:
    outbox = Outbox()
    worker = AccountingWorker(outbox, CLOCK, ledger)
    good: list[Alert] = []

    def broken(alert: Alert) -> None:
        raise RuntimeError("operator console gone")

    worker.subscribe_alerts(broken)
    unsubscribe = worker.subscribe_alerts(good.append)
    outbox.add("position.funded", "TR-1", 0, channel="IBPS", **{"in": 12_000})
    outbox.pay("p1", 3_000)
    assert await worker.post_available() == 3
    assert len(good) == 1  # the broken subscriber did not keep the good one from hearing
    unsubscribe()
    unsubscribe()  # twice is harmless
    outbox.add("position.funded", "TR-2", 0, channel="IBPS", **{"in": 10_000})
    outbox.pay("p2", 11_000)
    assert await worker.post_available() == 3
    assert len(good) == 1
    assert len(await ledger.alerts()) == 2  # recorded either way
    await assert_books_sound(ledger)


class _Crash(Exception):
    pass


async def test_a_page_that_does_not_commit_alerts_nobody(ledger: Ledger) -> None:
    outbox = Outbox()
    worker = AccountingWorker(outbox, CLOCK, ledger)
    heard: list[Alert] = []
    worker.subscribe_alerts(heard.append)
    outbox.add("position.funded", "TR-1", 0, channel="IBPS", **{"in": 12_000})
    outbox.pay("p1", 5_000)

    def crash() -> None:
        raise _Crash

    ledger._before_commit = crash  # type: ignore[method-assign]
    with pytest.raises(_Crash):
        await worker.post_available()
    del ledger._before_commit
    assert heard == [] and await ledger.alerts() == []
    await worker.post_available()  # the restarted page crosses, once
    assert _seen(heard) == [("clearing:IBPS", "below", LOW, 7_000)]
