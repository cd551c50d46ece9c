"""An order no channel can take now but one can later is SCHEDULED, then sent at the window."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from routing import Router, load_catalogue
from routing.calendar import ChannelCalendar
from simulators.ibps import IbpsConfig, IbpsSimulator
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import SystemClock, VirtualClock
from tests.conftest import CLIENT_ID, CLIENT_SECRET, switch_config
from tests.orders import order

# Monday 2 March 2026 is a working day; 08:29:59.5 in Shanghai is half a second before 08:30.
BEFORE_OPENING = datetime(2026, 3, 2, 0, 29, 59, 500_000, tzinfo=UTC)


async def wait_for_state(client: SwitchClient, client_order_id: str, state: str) -> None:
    """Until the client has heard the order reach ``state`` (bounded)."""
    for _ in range(200):
        status = client.statuses.get(client_order_id)
        if status is not None and status.state == state:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{client_order_id} not {state}: {client.statuses.get(client_order_id)}")


def _ibps_with_a_window() -> Router:
    """IBPS as if it kept HVPS-like hours: 08:30-17:15 on working days."""
    catalogue = load_catalogue().only(["IBPS"])
    ibps = msgspec.structs.replace(
        catalogue.channels["IBPS"], calendar=ChannelCalendar(kind="window", opens="08:30",
                                                             cutoff="17:15"))
    return Router(msgspec.structs.replace(catalogue, channels={"IBPS": ibps}))


async def test_order_before_the_window_is_scheduled_then_settles_when_it_opens(
    tmp_path: Path,
) -> None:
    sim = IbpsSimulator(IbpsConfig(), SystemClock())
    clock = VirtualClock(BEFORE_OPENING)
    app = SwitchApp(switch_config(await sim.start()), store_url=f"sqlite://{tmp_path / 's.db'}",
                    clock=clock)
    app.engine.router = _ibps_with_a_window()
    port = await app.start(port=0)
    try:
        async with await SwitchClient.connect("127.0.0.1", port, CLIENT_ID, CLIENT_SECRET) as c:
            o = order()
            ack = await c.submit(o)
            await wait_for_state(c, o.client_order_id, "SCHEDULED")
            await asyncio.sleep(0.7)  # the timer fires, but the (virtual) window is still shut
            assert c.statuses[o.client_order_id].state == "SCHEDULED"
            clock.advance(timedelta(seconds=1))  # 08:30:00.5: IBPS is open
            final = await c.wait_final(o.client_order_id, timeout=10)
        assert final.state == "SETTLED"
        history = await app.store.history(ack.payment_id or "")
        assert [h.to_state for h in history] == [
            "ACCEPTED", "ROUTED", "SCHEDULED", "ROUTED", "SUBMITTED", "SETTLED"]
        assert "scheduled for 2026-03-02T08:30:00+08:00" in history[2].cause
    finally:
        await app.stop()
        await sim.stop()
