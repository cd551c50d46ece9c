"""A switch whose channel is down keeps every order and sends each once the channel is back."""

from __future__ import annotations

import asyncio
from pathlib import Path

from simulators.ibps import IbpsConfig, IbpsSimulator
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import SystemClock
from tests.conftest import CLIENT_ID, CLIENT_SECRET, switch_config
from tests.orders import order


async def test_orders_wait_for_a_channel_that_starts_late_and_then_settle_once(
    tmp_path: Path,
) -> None:
    probe = IbpsSimulator(IbpsConfig(), SystemClock())
    port = await probe.start()  # learn a free port, then leave it closed for now
    await probe.stop()
    app = SwitchApp(switch_config(port), store_url=f"sqlite://{tmp_path / 'outage.db'}")
    app.engine.retry_delay_s = 0.1
    switch_port = await app.start(port=0)
    sim = IbpsSimulator(IbpsConfig(), SystemClock(), seed=9)
    try:
        async with await SwitchClient.connect("127.0.0.1", switch_port, CLIENT_ID,
                                              CLIENT_SECRET) as c:
            orders = [order() for _ in range(5)]
            acks = await asyncio.gather(*(c.submit(o) for o in orders))
            assert all(a.state == "ACCEPTED" for a in acks)
            await asyncio.sleep(0.5)
            assert not any(s.final for s in c.statuses.values())  # nowhere to send them yet
            await sim.start(port=port)
            finals = [await c.wait_final(o.client_order_id, timeout=15) for o in orders]
        assert [f.state for f in finals] == ["SETTLED"] * 5
        for ack in acks:
            payment = await app.store.payment(ack.payment_id or "")
            assert payment is not None and sim.received_count(payment.end_to_end_id) == 1
            states = [h.to_state for h in await app.store.history(payment.payment_id)]
            # Held ROUTED through the outage with no churn of failed attempts in its history.
            assert states == ["ACCEPTED", "ROUTED", "SUBMITTED", "SETTLED"]
    finally:
        await app.stop()
        await sim.stop()
