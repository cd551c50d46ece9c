"""UnionPay through the whole switch: a core system's order designated to UnionPay, over the
binary protocol, the engine, the adapter and the simulator, on both store backends; the ledger
balances and says what the channel's books say."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from accounting.poster import check_ledger
from adapters.unionpay import UnionPayLinkConfig, retrieval_reference
from simulators.books import ItemState
from simulators.faults import FaultPlan, FaultRule
from simulators.unionpay import UnionPayConfig, UnionPaySimulator
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import Clock, SystemClock, VirtualClock
from tests.conftest import CLIENT_ID, CLIENT_SECRET, switch_config
from tests.orders import order

ACQ = "04290000"


@dataclass
class UnionPayRig:
    app: SwitchApp
    sim: UnionPaySimulator
    port: int


async def _rig(store_url: str, clock: Clock, faults: FaultPlan | None = None
               ) -> tuple[SwitchApp, UnionPaySimulator]:
    sim = UnionPaySimulator(UnionPayConfig(participants={ACQ: 10**10}), clock, seed=2,
                            faults=faults)
    sim_port = await sim.start()
    config = msgspec.structs.replace(switch_config(sim_port), channels={
        "unionpay": UnionPayLinkConfig(port=sim_port, reply_timeout_s=5.0, echo_interval_s=0)})
    return SwitchApp(config, store_url=store_url, clock=clock), sim


@pytest.fixture
async def rig(store_url: str) -> AsyncIterator[UnionPayRig]:
    app, sim = await _rig(store_url, SystemClock())
    port = await app.start(port=0)
    try:
        yield UnionPayRig(app, sim, port)
    finally:
        await app.stop()
        await sim.stop()


async def _books_settled(app: SwitchApp) -> dict[str, int]:
    await app.poster.post_available()
    check = await check_ledger(app.poster.ledger)
    assert check.balanced
    return {b.account: b.credits_posted - b.debits_posted
            for b in await app.poster.ledger.balances()}


async def test_designated_order_settles_and_the_ledger_matches_the_channel(rig: UnionPayRig
                                                                          ) -> None:
    async with await SwitchClient.connect("127.0.0.1", rig.port, CLIENT_ID, CLIENT_SECRET) as c:
        o = order(amount=25_000, designated_channel="UnionPay")
        ack = await c.submit(o)
        final = await c.wait_final(o.client_order_id, timeout=10)
    assert final.state == "SETTLED"
    payment = await rig.app.store.payment(ack.payment_id or "")
    assert payment is not None and payment.channel == "UnionPay"
    item = rig.sim.items()[payment.end_to_end_id]
    assert (item.state, item.amount, item.channel_ref) == (
        ItemState.SETTLED, 25_000, retrieval_reference(payment.end_to_end_id))
    books = await _books_settled(rig.app)
    # what the switch owes UnionPay is exactly what UnionPay took from our settlement account
    assert books["clearing:UnionPay"] == 10**10 - rig.sim.balances()[ACQ] == 25_000


async def test_unanswered_order_is_reversed_and_ends_rejected(store_url: str) -> None:
    clock = VirtualClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai
    app, sim = await _rig(store_url, clock, FaultPlan(rules={"0200": FaultRule(drop=1.0)}))
    port = await app.start(port=0)
    try:
        async with await SwitchClient.connect("127.0.0.1", port, CLIENT_ID, CLIENT_SECRET) as c:
            o = order(amount=4_200, designated_channel="UnionPay")
            ack = await c.submit(o)
            pid = ack.payment_id or ""
            for _ in range(500):
                p = await app.store.payment(pid)
                if p is not None and p.end_to_end_id in sim.items():
                    break
                await asyncio.sleep(0.01)
            assert sim.items()[p.end_to_end_id].state is ItemState.SETTLED  # reply lost
            clock.advance(timedelta(seconds=5))  # the reply deadline: UNKNOWN, then 0400
            final = await c.wait_final(o.client_order_id, timeout=10)
        assert (final.state, final.reason) == ("REJECTED", "AB05")
        history = await app.store.history(pid)
        assert [h.to_state for h in history][-3:] == ["SUBMITTED", "UNKNOWN", "REJECTED"]
        assert "did not move" in history[-1].cause
        assert sim.items()[p.end_to_end_id].state is ItemState.REVERSED
        assert sim.balances()[ACQ] == 10**10
        books = await _books_settled(app)
        assert books.get("clearing:UnionPay", 0) == 0  # nothing owed: the channel undid it
    finally:
        await app.stop()
        await sim.stop()
