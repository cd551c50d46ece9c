"""Daily caps in a running switch: consumed atomically with the route, given back on reject,
kept across a restart, and stored as exactly what routed-and-not-released payments hold."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest

from routing import Router, load_catalogue
from simulators.ibps import IbpsConfig, IbpsSimulator
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import SystemClock
from switch.order import Order, Party, Payment
from switch.states import State
from switch.store import NewPayment, WriteBatch
from tests.conftest import CLIENT_ID, CLIENT_SECRET, CLOSED_ACCOUNT, switch_config
from tests.orders import order

DEBTOR_CAP = 100_000  # 1,000 CNY per debtor account and day on IBPS
A = "6217000000000001"  # the debtor of tests.orders.order()
B = "6217000000000002"
# Payments that hold their caps: routed and neither rejected nor cancelled (settled keep them).
HOLDING = {s.value for s in State} - {"RECEIVED", "ACCEPTED", "REJECTED", "CANCELLED"}


def capped_router() -> Router:
    catalogue = load_catalogue().only(["IBPS"])
    ibps = msgspec.structs.replace(catalogue.channels["IBPS"], debtor_daily_cap=DEBTOR_CAP)
    return Router(msgspec.structs.replace(catalogue, channels={"IBPS": ibps}))


def from_(account: str, amount: int, **changes: object) -> Order:
    debtor = Party(account=account, name="张三", agent="102100099996")
    return order(debtor=debtor, amount=amount, **changes)


@dataclass
class Capped:
    """A switch whose only channel, IBPS, allows DEBTOR_CAP per debtor and day."""

    url: str
    sim_port: int
    app: SwitchApp | None = None
    port: int = 0

    async def start(self) -> SwitchApp:
        app = SwitchApp(switch_config(self.sim_port), store_url=self.url)
        app.engine.router = capped_router()
        self.port = await app.start(port=0)
        self.app = app
        return app

    async def stop(self) -> None:
        if self.app is not None:
            app, self.app = self.app, None
            await app.stop()

    async def client(self) -> SwitchClient:
        return await SwitchClient.connect("127.0.0.1", self.port, CLIENT_ID, CLIENT_SECRET)


@pytest.fixture
async def capped(store_url: str) -> AsyncIterator[Capped]:
    sim = IbpsSimulator(IbpsConfig(closed_accounts=(CLOSED_ACCOUNT,)), SystemClock(), seed=3)
    rig = Capped(store_url, await sim.start())
    await rig.start()
    try:
        yield rig
    finally:
        await rig.stop()
        await sim.stop()


async def run(c: SwitchClient, *orders: Order) -> list[tuple[str, str | None]]:
    """Submit one at a time, each to its final state: (state, reason) per order."""
    finals = []
    for o in orders:
        await c.submit(o)
        final = await c.wait_final(o.client_order_id, 10)
        finals.append((final.state, final.reason))
    return finals


async def payments(app: SwitchApp) -> list[Payment]:
    return await app.store.payments_in_states([s.value for s in State])


async def assert_caps_match_payments(app: SwitchApp) -> None:
    """route_caps = the sum of what routed and not released payments hold; the engine agrees."""
    expected: dict[tuple[str, str, str], int] = {}
    for p in await payments(app):
        if p.state in HOLDING and p.channel is not None and p.business_date is not None:
            for debtor in ("", p.order.debtor.account):
                key = (p.channel, p.business_date, debtor)
                expected[key] = expected.get(key, 0) + p.order.amount
    rows = await app.store.route_caps("0000-00-00")
    assert {(r.channel, r.business_date, r.debtor): r.used for r in rows if r.used} == expected
    engine = app.engine
    in_memory = {(c, d.isoformat(), ""): n for (c, d), n in engine.channel_used.items() if n}
    in_memory |= {(c, d.isoformat(), a): n for (c, a, d), n in engine.debtor_used.items() if n}
    assert in_memory == expected


async def test_debtor_beyond_its_cap_is_rejected_am14_while_another_passes(
    capped: Capped,
) -> None:
    async with await capped.client() as c:
        finals = await run(c, from_(A, 40_000), from_(A, 40_000), from_(A, 40_000),
                           from_(B, 40_000), from_(A, 20_000))
    assert finals == [("SETTLED", None), ("SETTLED", None), ("REJECTED", "AM14"),
                      ("SETTLED", None), ("SETTLED", None)]  # the last one fits exactly
    assert capped.app is not None
    rejected = [p for p in await payments(capped.app) if p.state == "REJECTED"]
    assert len(rejected) == 1 and rejected[0].business_date is None  # never held anything
    history = await capped.app.store.history(rejected[0].payment_id)
    assert "debtor's daily cap 100000" in history[-1].cause
    await assert_caps_match_payments(capped.app)


async def test_orders_routed_in_one_turn_see_each_others_consumption(capped: Capped) -> None:
    # Orders accepted before the start are routed by the recovery, all in one engine turn.
    await capped.stop()
    seed = SwitchApp(switch_config(capped.sim_port), store_url=capped.url)
    await seed.store.open()
    batch = []
    for i, o in enumerate((from_(A, 45_000), from_(A, 45_000), from_(A, 45_000),
                           from_(B, 45_000))):
        pid = uuid.uuid4().hex
        at = f"2026-01-01T00:00:0{i}+00:00"  # recovery routes them in this order
        batch.append(NewPayment(Payment(
            payment_id=pid, client_id=CLIENT_ID, order=o, state="ACCEPTED", end_to_end_id=pid,
            uetr=str(uuid.uuid4()), created_at=at, updated_at=at)))
    await seed.store.commit(WriteBatch(accepts=batch))
    await seed.store.close()
    app = await capped.start()
    for _ in range(200):
        done = [p for p in await payments(app) if p.state in ("SETTLED", "REJECTED")]
        if len(done) == 4:
            break
        await asyncio.sleep(0.05)
    by_id = {p.payment_id: p for p in await payments(app)}
    got = [(by_id[n.payment.payment_id].state, by_id[n.payment.payment_id].reason)
           for n in batch]
    assert got == [("SETTLED", None), ("SETTLED", None), ("REJECTED", "AM14"),
                   ("SETTLED", None)]
    # the four route decisions were written by one turn (one commit time)
    routed_at = {h.at for n in batch for h in await app.store.history(n.payment.payment_id)
                 if h.from_state == "ACCEPTED"}
    assert len(routed_at) == 1
    await assert_caps_match_payments(app)


async def test_a_channel_rejected_order_gives_its_consumption_back(capped: Capped) -> None:
    closed = Party(account=CLOSED_ACCOUNT, name="李四", agent="103100000026")
    async with await capped.client() as c:
        finals = await run(c, from_(A, 60_000, creditor=closed))
        assert finals == [("REJECTED", "AC04")]
        assert capped.app is not None
        await assert_caps_match_payments(capped.app)
        # Had the 60,000 stayed consumed, 60,000 + 90,000 would exceed the cap of 100,000.
        assert await run(c, from_(A, 90_000)) == [("SETTLED", None)]
        assert await run(c, from_(A, 20_000)) == [("REJECTED", "AM14")]
    rows = {(r.debtor, r.used) for r in await capped.app.store.route_caps("0000-00-00")}
    assert ("", 90_000) in rows and (A, 90_000) in rows
    await assert_caps_match_payments(capped.app)


async def test_consumption_survives_a_restart_on_the_same_store(capped: Capped) -> None:
    async with await capped.client() as c:
        assert await run(c, from_(A, 70_000), from_(B, 10_000)) == [("SETTLED", None)] * 2
    await capped.stop()
    app = await capped.start()
    assert capped.app is app
    tz = ZoneInfo(app.engine.router.catalogue.timezone)
    today = app.clock.now().astimezone(tz).date()
    assert app.engine.debtor_used[("IBPS", A, today)] == 70_000  # loaded at start
    async with await capped.client() as c:
        assert await run(c, from_(A, 40_000), from_(A, 30_000), from_(B, 90_000)) == [
            ("REJECTED", "AM14"), ("SETTLED", None), ("SETTLED", None)]
    await assert_caps_match_payments(app)
    # only business days from yesterday on are loaded
    assert await app.store.route_caps((today + timedelta(days=1)).isoformat()) == []


async def test_a_failed_commit_counts_nothing_and_the_retry_counts_once(
    capped: Capped, monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = capped.app
    assert app is not None
    real = app.store.commit
    failures: list[WriteBatch] = []

    async def flaky(batch: WriteBatch) -> object:
        if not failures and any(t.caps for t in batch.transitions):
            failures.append(batch)  # the route's transaction fails once; the turn is retried
            raise OSError("store unavailable")
        return await real(batch)

    monkeypatch.setattr(app.store, "commit", flaky)
    async with await capped.client() as c:
        assert await run(c, from_(A, 60_000)) == [("SETTLED", None)]
        assert len(failures) == 1
        await assert_caps_match_payments(app)
        # counted twice, the 60,000 would stand at 120,000 and this one would not fit
        assert await run(c, from_(A, 40_000)) == [("SETTLED", None)]
    await assert_caps_match_payments(app)


async def test_figures_of_days_before_yesterday_are_forgotten(capped: Capped) -> None:
    app = capped.app
    assert app is not None
    engine = app.engine
    today = app.clock.now().astimezone(ZoneInfo(engine.router.catalogue.timezone)).date()
    old, yesterday = today - timedelta(days=2), today - timedelta(days=1)
    engine.channel_used.update({("IBPS", old): 5, ("IBPS", yesterday): 6})
    engine.debtor_used.update({("IBPS", A, old): 5, ("IBPS", A, yesterday): 6})
    engine._caps_today = yesterday  # as if the process had run since yesterday
    async with await capped.client() as c:
        assert await run(c, from_(A, 1_000)) == [("SETTLED", None)]
    assert engine.channel_used == {("IBPS", yesterday): 6, ("IBPS", today): 1_000}
    assert engine.debtor_used == {("IBPS", A, yesterday): 6, ("IBPS", A, today): 1_000}
