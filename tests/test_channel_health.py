"""Channel health in the engine: technical refusals open the circuit; a fallback channel takes
over after a definitive technical refusal, with the payment's ids unchanged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.ibps import IbpsAdapter
from routing import Router, load_catalogue
from simulators.faults import FaultPlan, FaultRule
from simulators.ibps import IbpsConfig, IbpsSimulator
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import SystemClock
from tests.conftest import CLIENT_ID, CLIENT_SECRET, switch_config
from tests.orders import order

BROKEN = FaultPlan(rules={"pacs.008": FaultRule(reject=1.0, reject_code="MS03")})


@pytest.fixture
async def broken_ibps() -> AsyncIterator[IbpsSimulator]:
    sim = IbpsSimulator(IbpsConfig(), SystemClock(), faults=BROKEN)
    await sim.start()
    yield sim
    await sim.stop()


def _port(sim: IbpsSimulator) -> int:
    assert sim.port is not None
    return sim.port


async def test_technical_refusals_open_the_circuit_and_stop_sending(
    tmp_path: Path, broken_ibps: IbpsSimulator
) -> None:
    app = SwitchApp(switch_config(_port(broken_ibps)), store_url=f"sqlite://{tmp_path / 'h.db'}")
    port = await app.start(port=0)
    try:
        async with await SwitchClient.connect("127.0.0.1", port, CLIENT_ID, CLIENT_SECRET) as c:
            first = [order() for _ in range(5)]
            for o in first:  # one at a time, so each failure is counted before the next send
                await c.submit(o)
                assert (await c.wait_final(o.client_order_id, 10)).reason == "MS03"
            later = order()
            ack = await c.submit(later)
            for _ in range(500):
                status = c.statuses.get(later.client_order_id)
                if status is not None and status.state == "SCHEDULED":
                    break
                await asyncio.sleep(0.01)
        # Five consecutive technical refusals open IBPS's circuit: the sixth is not sent. No
        # other channel can take it, so it waits for the circuit's probe instead of failing.
        assert (status.state, status.reason, status.final) == ("SCHEDULED", "AB07", False)
        assert len(broken_ibps.items()) == 5
        breaker = app.engine.breakers["IBPS"]
        assert breaker.state(app.clock.now()) == "open"
        assert app.engine.success["IBPS"].ppm() == 0
        (waiting,) = [h for h in await app.store.history(ack.payment_id or "")
                      if h.to_state == "SCHEDULED"]
        assert breaker.opened_at is not None
        reopens = (breaker.opened_at + breaker.cool_down).isoformat()
        assert f"waiting until {reopens} for a circuit to close" in waiting.cause
    finally:
        await app.stop()


async def test_fallback_channel_takes_a_technically_refused_payment_with_the_same_ids(
    tmp_path: Path, broken_ibps: IbpsSimulator
) -> None:
    healthy = IbpsSimulator(IbpsConfig(), SystemClock())
    healthy_port = await healthy.start()
    app = SwitchApp(switch_config(_port(broken_ibps)), store_url=f"sqlite://{tmp_path / 'f.db'}")
    # A second real adapter over a real socket, offered to the router as UnionPay (the next
    # cheapest domestic channel in the catalogue); only its name is borrowed.
    second = IbpsAdapter("127.0.0.1", healthy_port, clock=app.clock, sender_bank="102100099996")
    app.engine.adapters["UnionPay"] = second
    second.on_status = app.engine._channel_said
    app.engine.breakers["UnionPay"] = type(app.engine.breakers["IBPS"])()
    app.engine.success["UnionPay"] = type(app.engine.success["IBPS"])()
    app.engine.router = Router(load_catalogue().only(["IBPS", "UnionPay"]))
    port = await app.start(port=0)
    try:
        async with await SwitchClient.connect("127.0.0.1", port, CLIENT_ID, CLIENT_SECRET) as c:
            # 0.80 by IBPS, 2.50 by UnionPay: IBPS goes first (a product the catalogue does
            # not restrict, since a plain CT does not go to UnionPay)
            o = order(amount=500_000, product="P2P")
            ack = await c.submit(o)
            final = await c.wait_final(o.client_order_id, 10)
        assert (final.state, final.channel) == ("SETTLED", "UnionPay")
        payment = await app.store.payment(ack.payment_id or "")
        assert payment is not None
        # The first channel refused it, the second settled it: each saw it once, same ids.
        assert broken_ibps.received_count(payment.end_to_end_id) == 1
        assert healthy.received_count(payment.end_to_end_id) == 1
        history = await app.store.history(payment.payment_id)
        assert [h.to_state for h in history] == [
            "ACCEPTED", "ROUTED", "SUBMITTED", "ROUTED", "SUBMITTED", "SETTLED"]
        assert "fallback" in history[3].cause and "MS03" in history[3].cause
        # the fallback's decision is the one kept with the payment: IBPS already tried
        decision = await app.store.route_decision(payment.payment_id)
        assert decision is not None
        assert (decision["channel"], decision["fee"]) == ("UnionPay", payment.fee)
        assert [(c["channel"], c["reason"], c["text"]) for c in decision["candidates"]] == [
            ("IBPS", "AG01", "already tried"), ("UnionPay", None, "chosen")]
        assert history[3].cause.endswith("fallback: " + decision["explanation"][0])
    finally:
        await app.stop()
        await healthy.stop()
        await asyncio.sleep(0)
