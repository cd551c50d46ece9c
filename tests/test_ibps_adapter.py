"""IBPS adapter against the real IBPS simulator over loopback TCP (no mocked sockets)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import uvloop

from adapters.base import ChannelError, ChannelStatus, Outcome
from adapters.ibps import IbpsAdapter
from simulators.faults import FaultPlan, FaultRule
from simulators.ibps import IbpsConfig, IbpsSimulator
from switch.clock import VirtualClock
from switch.order import Order, Party, Payment

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BANK_A = "102100099996"
BANK_B = "103100000026"
POOR = "104100000004"
CLOSED = "6222000000000404"


def payment(
    n: int,
    amount: int = 10_000,
    *,
    debtor_bank: str = BANK_A,
    creditor_account: str = "6222000000000001",
) -> Payment:
    order = Order(
        client_order_id=f"C{n}",
        amount=amount,
        currency="CNY",
        debtor=Party(account="6222000000009999", name="Zhang San", agent=debtor_bank),
        creditor=Party(account=creditor_account, name="Li Si", agent=BANK_B),
    )
    return Payment(
        payment_id=f"P{n:08d}",
        client_id="bank-a",
        order=order,
        state="ROUTED",
        end_to_end_id=f"E2E{n:08d}",
        uetr=f"00000000-0000-4000-8000-{n:012d}",
        created_at="2026-03-02T09:00:00.000+00:00",
        updated_at="2026-03-02T09:00:00.000+00:00",
    )


@dataclass
class Pair:
    """Simulator and adapter on one virtual clock: replies wait and deadlines fire only when
    the test advances it (invariant 6)."""

    sim: IbpsSimulator
    adapter: IbpsAdapter
    port: int
    clock: VirtualClock
    seen: list[ChannelStatus] = field(default_factory=list)

    async def settle_down(self, quiet: float = 0.2) -> None:
        """Wait until no status has arrived for ``quiet`` seconds (replies in flight landed)."""
        n = -1
        while n != len(self.seen):
            n = len(self.seen)
            await asyncio.sleep(quiet)

    def of(self, p: Payment) -> list[tuple[Outcome, str | None]]:
        return [(s.outcome, s.reason) for s in self.seen if s.payment_id == p.payment_id]

    async def until(self, cond: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, f"timed out; seen {self.seen[-5:]}"
            await asyncio.sleep(0.002)

    async def final(self, p: Payment, n: int = 1) -> list[tuple[Outcome, str | None]]:
        await self.until(lambda: len(self.of(p)) >= n)
        return self.of(p)


async def make_pair(
    *,
    faults: FaultPlan | None = None,
    seed: int = 0,
    reply_timeout: float = 5.0,
    config: IbpsConfig | None = None,
) -> Pair:
    cfg = config or IbpsConfig(
        participants={BANK_A: 10**13, POOR: 5_000}, closed_accounts=(CLOSED,)
    )
    clock = VirtualClock(T0)
    sim = IbpsSimulator(cfg, clock, seed=seed, faults=faults)
    port = await sim.start()
    adapter = IbpsAdapter(
        "127.0.0.1",
        port,
        clock=clock,
        sender_bank=BANK_A,
        reply_timeout=reply_timeout,
        reconnect_backoff=0.02,
        reconnect_backoff_cap=0.1,
    )
    pair = Pair(sim, adapter, port, clock)
    adapter.on_status = pair.seen.append
    await adapter.start()
    return pair


async def dispose(pair: Pair) -> None:
    await pair.adapter.close()
    await pair.sim.stop()


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    p = await make_pair()
    yield p
    await dispose(p)


async def test_settles_and_balances_move(pair: Pair) -> None:
    p = payment(1, 123_456)
    await pair.adapter.submit(p)
    assert await pair.final(p) == [(Outcome.SETTLED, None)]
    assert pair.seen[0].end_to_end_id == p.end_to_end_id
    bal = pair.sim.balances()
    assert (bal[BANK_A], bal[BANK_B]) == (10**13 - 123_456, 123_456)


@pytest.mark.parametrize(
    ("pay", "reason"),
    [
        (payment(2, 5_000_001), "AM02"),
        (payment(3, 5_001, debtor_bank=POOR), "AM04"),
        (payment(4, creditor_account=CLOSED), "AC04"),
    ],
)
async def test_rejections_carry_the_iso_reason(pair: Pair, pay: Payment, reason: str) -> None:
    await pair.adapter.submit(pay)
    assert await pair.final(pay) == [(Outcome.REJECTED, reason)]
    assert pair.sim.balances()[BANK_A] == 10**13


async def test_resend_is_not_booked_twice(pair: Pair) -> None:
    p = payment(5, 900)
    await pair.adapter.submit(p)
    await pair.final(p)
    await pair.adapter.submit(p)
    assert await pair.final(p, 2) == [(Outcome.SETTLED, None)] * 2
    assert pair.sim.received_count(p.end_to_end_id) == 2
    assert pair.sim.balances()[BANK_B] == 900


async def test_dropped_reply_is_unknown_then_inquiry_settles() -> None:
    pair = await make_pair(
        faults=FaultPlan(rules={"pacs.008": FaultRule(drop=1.0)}), reply_timeout=0.2
    )
    try:
        p = payment(6)
        await pair.adapter.submit(p)
        await pair.until(lambda: p.end_to_end_id in pair.sim.items())
        pair.clock.advance(timedelta(milliseconds=199))
        await pair.settle_down()
        assert pair.of(p) == []  # the deadline is 200 ms of the injected clock, not less
        pair.clock.advance(timedelta(milliseconds=1))
        assert await pair.final(p) == [(Outcome.UNKNOWN, None)]
        pair.clock.advance(timedelta(seconds=5))
        await pair.settle_down()
        assert len(pair.of(p)) == 1  # UNKNOWN is reported once, not once per tick
        await pair.adapter.inquire(p)
        assert await pair.final(p, 2) == [(Outcome.UNKNOWN, None), (Outcome.SETTLED, None)]
        assert pair.sim.received_count(p.end_to_end_id) == 1
    finally:
        await dispose(pair)


async def test_late_answer_resolves_unknown() -> None:
    pair = await make_pair(
        faults=FaultPlan(rules={"pacs.008": FaultRule(delay=1.0, delay_ms=300)}),
        reply_timeout=0.1,
    )
    try:
        p = payment(7)
        await pair.adapter.submit(p)
        await pair.until(lambda: p.end_to_end_id in pair.sim.items())
        pair.clock.advance(timedelta(milliseconds=100))  # the deadline passes
        assert await pair.final(p) == [(Outcome.UNKNOWN, None)]
        pair.clock.advance(timedelta(milliseconds=200))  # the late reply goes out
        assert await pair.final(p, 2) == [(Outcome.UNKNOWN, None), (Outcome.SETTLED, None)]
    finally:
        await dispose(pair)


async def test_inquiry_of_never_sent_payment_is_not_found(pair: Pair) -> None:
    p = payment(8)
    await pair.adapter.inquire(p)
    assert await pair.final(p) == [(Outcome.NOT_FOUND, None)]


async def test_simulator_stopped_mid_flight() -> None:
    pair = await make_pair(config=IbpsConfig(reply_delay_ms=5_000), reply_timeout=10.0)
    try:
        ps = [payment(100 + i) for i in range(5)]
        for p in ps:
            await pair.adapter.submit(p)
        await pair.until(lambda: len(pair.sim.items()) == 5)
        await pair.sim.stop()
        await pair.until(lambda: len(pair.seen) == 5)
        assert {(s.payment_id, s.outcome) for s in pair.seen} == {
            (p.payment_id, Outcome.UNKNOWN) for p in ps
        }
        with pytest.raises(ChannelError):
            await pair.adapter.submit(payment(200))
        await asyncio.sleep(0.15)  # reconnect attempts fail quietly meanwhile
        assert not pair.adapter.connected
        assert len(pair.seen) == 5
    finally:
        await dispose(pair)


async def test_reconnects_after_connection_loss() -> None:
    pair = await make_pair(faults=FaultPlan(rules={"pacs.008": FaultRule(close=1.0)}))
    try:
        p = payment(9)
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(Outcome.UNKNOWN, None)]
        await pair.until(lambda: pair.adapter.connected, timeout=2.0)
        await pair.adapter.inquire(p)  # the channel booked it before the line dropped
        assert await pair.final(p, 2) == [(Outcome.UNKNOWN, None), (Outcome.SETTLED, None)]
    finally:
        await dispose(pair)


async def test_submit_before_start_raises_and_sends_nothing() -> None:
    adapter = IbpsAdapter("127.0.0.1", 1, clock=VirtualClock(T0), sender_bank=BANK_A)
    with pytest.raises(ChannelError):
        await adapter.submit(payment(10))
    with pytest.raises(ChannelError):
        await adapter.start()  # nothing listens on port 1


async def _outcomes(seed: int) -> list[list[tuple[Outcome, str | None]]]:
    plan = FaultPlan(
        rules={
            "pacs.008": FaultRule(drop=0.2, reject=0.2, reject_code="AB05", delay=0.1, delay_ms=20)
        }
    )
    pair = await make_pair(faults=plan, seed=seed, reply_timeout=0.3)
    try:
        ps = [payment(300 + i, 1_000 + i) for i in range(60)]
        for p in ps:
            await pair.adapter.submit(p)
        await pair.until(lambda: len(pair.sim.items()) == len(ps))
        pair.clock.advance(timedelta(milliseconds=20))  # delayed replies go out
        await pair.settle_down()
        pair.clock.advance(timedelta(milliseconds=300))  # deadlines of dropped replies pass
        await pair.until(lambda: len(pair.seen) == len(ps))
        return [pair.of(p) for p in ps]  # per payment, in submission order
    finally:
        await dispose(pair)


async def test_same_seed_same_faults_same_input_same_outcomes() -> None:
    first, second, other = await asyncio.gather(_outcomes(11), _outcomes(11), _outcomes(12))
    assert first == second
    assert first != other
    assert {o for ((o, _),) in first} == {Outcome.SETTLED, Outcome.REJECTED, Outcome.UNKNOWN}


async def test_thousand_pipelined_payments_settle(pair: Pair) -> None:
    ps = [payment(1_000 + i, 100) for i in range(1_000)]
    await asyncio.gather(*(pair.adapter.submit(p) for p in ps))
    await pair.until(lambda: len(pair.seen) == len(ps), timeout=30.0)
    assert {s.outcome for s in pair.seen} == {Outcome.SETTLED}
    assert pair.sim.balances()[BANK_B] == 100 * 1_000


def test_runs_on_uvloop() -> None:
    """The switch runs on uvloop, whose transports are not asyncio.Transport subclasses."""

    async def scenario() -> list[tuple[Outcome, str | None]]:
        pair = await make_pair()
        try:
            p = payment(2_500)
            await pair.adapter.submit(p)
            return await pair.final(p)
        finally:
            await dispose(pair)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(scenario()) == [(Outcome.SETTLED, None)]
