"""Session rules over real sockets: timeouts, overload, group commit, status pushes."""

from __future__ import annotations

import asyncio

import pytest

from switch.client import SwitchClient, SwitchError
from tests.conftest import CLIENT_ID, CLIENT_SECRET, Rig
from tests.orders import order


@pytest.mark.server(auth_timeout_s=0.3)
async def test_client_that_never_authenticates_is_closed(rig: Rig) -> None:
    loop = asyncio.get_running_loop()
    closed = loop.create_future()
    data: list[bytes] = []

    class Silent(asyncio.Protocol):
        def data_received(self, chunk: bytes) -> None:
            data.append(chunk)

        def connection_lost(self, exc: Exception | None) -> None:
            closed.set_result(True)

    await loop.create_connection(Silent, "127.0.0.1", rig.port)
    await asyncio.wait_for(closed, 5)
    assert b"AUTH_TIMEOUT" in b"".join(data)


@pytest.mark.server(heartbeat_s=1)
async def test_silent_session_is_closed_after_three_heartbeats(rig: Rig) -> None:
    c = await rig.client()
    await asyncio.wait_for(c.wait_closed(), 8)
    assert [(e.code, e.fatal) for e in c.errors] == [("IDLE_TIMEOUT", True)]


@pytest.mark.server(heartbeat_s=1)
async def test_heartbeats_keep_a_session_alive(rig: Rig) -> None:
    async with await rig.client() as c:
        for _ in range(8):
            await c.heartbeat()
            await asyncio.sleep(0.5)
        assert not c.closed and c.errors == []


@pytest.mark.server(max_pending_writes=0)
async def test_saturated_switch_answers_retry_later_and_stores_nothing(rig: Rig) -> None:
    o = order()
    async with await rig.client() as c:
        with pytest.raises(SwitchError) as err:
            await c.submit(o)
        assert err.value.code == "RETRY_LATER"
        await c.heartbeat()  # not fatal
    assert await rig.app.store.payment_by_client_key(CLIENT_ID, o.client_order_id) is None


async def test_concurrent_orders_share_store_transactions(rig: Rig) -> None:
    async with await rig.client() as c:
        orders = [order() for _ in range(500)]
        acks = await asyncio.gather(*(c.submit(o) for o in orders))
    assert all(a.state == "ACCEPTED" for a in acks)
    stats = rig.app.engine.stats
    assert stats.accepts == 500
    assert stats.commits < 250  # group commit: many orders per transaction


async def test_status_pushes_reach_every_session_of_the_client(rig: Rig) -> None:
    watcher = await SwitchClient.connect("127.0.0.1", rig.port, CLIENT_ID, CLIENT_SECRET)
    o = order()
    async with await rig.client() as c:
        await c.submit(o)
        await c.wait_final(o.client_order_id, timeout=10)
    final = await watcher.wait_final(o.client_order_id, timeout=10)
    assert final.state == "SETTLED"
    await watcher.close()


async def test_switch_stop_tells_sessions_it_is_shutting_down(rig: Rig) -> None:
    c = await rig.client()
    await rig.app.server.stop()
    await asyncio.wait_for(c.wait_closed(), 5)
    assert [e.code for e in c.errors] == ["SHUTTING_DOWN"]
