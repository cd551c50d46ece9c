"""Overload: a slow store or a silent channel slows intake instead of growing the switch.

A stalled store fills the writer's backlog: sessions that keep to their window wait for their
acks, one that ignores it gets WINDOW_EXCEEDED, and once the backlog holds `max_pending_writes`
every further SUBMIT is answered RETRY_LATER at once. A black-holed channel (simulators/proxy.py)
keeps its payments unfinished: beyond `max_live_payments` new orders get RETRY_LATER. In both
cases nothing acknowledged is lost and a refused order resent later is accepted once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from adapters.base import ChannelStatus, Outcome
from adapters.ibps import IbpsLinkConfig
from simulators.ibps import IbpsConfig, IbpsSimulator
from simulators.proxy import Fault, FaultProxy
from switch import protocol as proto
from switch.app import SwitchApp
from switch.client import SwitchClient, SwitchError
from switch.clock import SystemClock
from switch.store import BatchResult, WriteBatch
from tests.conftest import CLIENT_ID, CLIENT_SECRET, switch_config
from tests.orders import order

WINDOW = 8
MAX_PENDING = 10


class StalledStore:
    """Holds every commit of the real store at a gate until the test opens it."""

    def __init__(self, app: SwitchApp) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.peak_intake = 0
        self.held = 0  # commits that have reached the gate
        self._app = app
        self._commit = app.store.commit
        app.store.commit = self.commit  # type: ignore[method-assign]

    async def commit(self, batch: WriteBatch) -> BatchResult:
        self.peak_intake = max(self.peak_intake, self._app.engine.intake_waiting)
        self.held += 1
        await self.gate.wait()
        return await self._commit(batch)


@pytest.fixture
async def stalled(tmp_path: Path) -> AsyncIterator[tuple[SwitchApp, StalledStore, int]]:
    sim = IbpsSimulator(IbpsConfig(), SystemClock(), seed=5)
    sim_port = await sim.start()
    app = SwitchApp(switch_config(sim_port, window=WINDOW, max_pending_writes=MAX_PENDING),
                    store_url=f"sqlite://{tmp_path / 'stalled.db'}")
    store = StalledStore(app)
    port = await app.start(port=0)
    try:
        yield app, store, port
    finally:
        store.gate.set()
        await app.stop()
        await sim.stop()


async def _outcomes(futures: list[asyncio.Future[proto.Ack]]) -> list[str]:
    """ACK state, or the error code, of each SUBMIT."""
    out = []
    for result in await asyncio.gather(*futures, return_exceptions=True):
        if isinstance(result, SwitchError):
            out.append(result.code)
        else:
            assert isinstance(result, proto.Ack), result
            out.append("ACK")
    return out


async def test_stalled_store_fills_windows_then_intake_is_refused_retry_later(
    stalled: tuple[SwitchApp, StalledStore, int],
) -> None:
    app, store, port = stalled
    clients = [await SwitchClient.connect("127.0.0.1", port, CLIENT_ID, CLIENT_SECRET)
               for _ in range(3)]
    try:
        store.gate.clear()
        orders = [[order() for _ in range(WINDOW)] for _ in clients]
        futures = [c.submit_nowait(o) for c, batch in zip(clients, orders, strict=True)
                   for o in batch]
        # one SUBMIT beyond its window, from a session that ignores it
        beyond = clients[0].submit_nowait(order())
        with pytest.raises(SwitchError) as err:
            await asyncio.wait_for(beyond, 5)
        assert err.value.code == "WINDOW_EXCEEDED"
        await asyncio.sleep(0.3)  # every SUBMIT has reached the switch; the store still holds
        assert app.engine.intake_waiting <= MAX_PENDING  # the backlog stopped at its bound
        store.gate.set()
        outcomes = await _outcomes(futures)
        refused = [o for o, code in zip([o for b in orders for o in b], outcomes, strict=True)
                   if code == "RETRY_LATER"]
        assert set(outcomes) == {"ACK", "RETRY_LATER"}, outcomes
        # at most what the stalled turn took (a backlog's worth) plus a full backlog got in
        assert outcomes.count("ACK") <= 2 * MAX_PENDING
        assert store.peak_intake <= MAX_PENDING
        for o, code in zip([o for b in orders for o in b], outcomes, strict=True):
            stored = await app.store.payment_by_client_key(CLIENT_ID, o.client_order_id)
            assert (stored is not None) == (code == "ACK")  # acked means stored; refused: not
        # resent once the store keeps up: accepted, each once
        acks = [await clients[1].submit(o) for o in refused]
        assert all(not a.duplicate and a.state == "ACCEPTED" for a in acks)
        finals = [await clients[1].wait_final(o.client_order_id, timeout=10) for o in refused]
        assert {f.state for f in finals} == {"SETTLED"}
    finally:
        for c in clients:
            await c.close()


async def test_a_window_keeping_client_only_slows_down(
    stalled: tuple[SwitchApp, StalledStore, int],
) -> None:
    app, store, port = stalled
    async with await SwitchClient.connect("127.0.0.1", port, CLIENT_ID, CLIENT_SECRET) as c:
        store.gate.clear()
        orders = [order() for _ in range(3 * WINDOW)]
        submits = [asyncio.ensure_future(c.submit(o)) for o in orders]  # waits for the window
        await asyncio.sleep(0.3)
        assert not any(s.done() for s in submits)
        assert app.engine.intake_waiting <= WINDOW  # the window held it back at the client
        store.gate.set()
        acks = await asyncio.gather(*submits)
    assert [a.state for a in acks] == ["ACCEPTED"] * len(orders)


async def test_the_engines_own_work_does_not_refuse_a_window_keeping_client(
    stalled: tuple[SwitchApp, StalledStore, int],
) -> None:
    # Routing what was just acknowledged and the channels' statuses wait for the writer too;
    # they once counted as overload, and a client keeping to its window got RETRY_LATER while
    # its last acks were being routed (a flaky test in a busy run).
    app, store, port = stalled
    async with await SwitchClient.connect("127.0.0.1", port, CLIENT_ID, CLIENT_SECRET) as c:
        store.gate.clear()
        first = asyncio.ensure_future(c.submit(order()))
        async with asyncio.timeout(5):
            while not store.held:
                await asyncio.sleep(0.01)  # until the writer holds the first order at the gate
        adapter = app.engine.adapters["IBPS"]
        for i in range(2 * MAX_PENDING):
            adapter.on_status(ChannelStatus(f"P-NOT-OURS-{i}", f"E2E-{i}", Outcome.SETTLED))
        assert app.engine.backlog >= 2 * MAX_PENDING
        orders = [order() for _ in range(WINDOW - 1)]
        submits = [asyncio.ensure_future(c.submit(o)) for o in orders]
        await asyncio.sleep(0.3)
        assert app.engine.intake_waiting == WINDOW - 1
        store.gate.set()
        acks = await asyncio.gather(first, *submits)
    assert [a.state for a in acks] == ["ACCEPTED"] * WINDOW


async def test_black_holed_channel_caps_unfinished_payments(tmp_path: Path) -> None:
    sim = IbpsSimulator(IbpsConfig(), SystemClock(), seed=6)
    proxy = FaultProxy("127.0.0.1", await sim.start())
    proxy_port = await proxy.start()
    config = msgspec.structs.replace(
        switch_config(proxy_port, max_live_payments=4),
        channels={"ibps": IbpsLinkConfig(port=proxy_port, reply_timeout_s=0.3,
                                         silent_link_s=0.5)})
    app = SwitchApp(config, store_url=f"sqlite://{tmp_path / 'silent.db'}")
    app.engine.inquiry_delay_s = 0.1
    app.engine.inquiry_backoff_cap_s = 0.3
    port = await app.start(port=0)
    peak = 0
    try:
        async with await SwitchClient.connect("127.0.0.1", port, CLIENT_ID, CLIENT_SECRET) as c:
            proxy.inject(Fault.BLACKHOLE)
            orders = [order() for _ in range(10)]
            outcomes = []
            for o in orders:
                outcomes.append((await _outcomes([c.submit_nowait(o)]))[0])
                peak = max(peak, app.engine.live_count)
            assert outcomes[:4] == ["ACK"] * 4
            assert outcomes[4:] == ["RETRY_LATER"] * 6
            await asyncio.sleep(0.8)  # deadlines pass: UNKNOWN, inquiries into the void
            peak = max(peak, app.engine.live_count)
            assert not any(c.statuses[o.client_order_id].final for o in orders[:4])
            proxy.heal()
            for o in orders[:4]:
                assert (await c.wait_final(o.client_order_id, timeout=15)).state == "SETTLED"
            later = [await c.submit(o) for o in orders[4:]]  # room again: accepted
            assert all(a.state == "ACCEPTED" and not a.duplicate for a in later)
            for o in orders[4:]:
                assert (await c.wait_final(o.client_order_id, timeout=15)).state == "SETTLED"
        assert peak <= 4
        assert sim.duplicates() == 0
        assert app.engine.live_count == 0
    finally:
        await app.stop()
        await proxy.stop()
        await sim.stop()
