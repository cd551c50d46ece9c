"""Session rules over real sockets: timeouts, overload, group commit, status pushes."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from fastpath.framescan import FrameScanner
from switch import protocol as proto
from switch.client import SwitchClient, SwitchError
from switch.store import BatchResult, WriteBatch
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
async def test_client_that_stops_answering_is_closed_after_three_heartbeats(rig: Rig) -> None:
    frames: list[tuple[int, bytes]] = []
    loop = asyncio.get_running_loop()
    closed = loop.create_future()

    class Deaf(asyncio.Protocol):
        """Authenticates, then never says another word."""

        def __init__(self) -> None:
            self.scanner = FrameScanner()

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            for _, ftype, payload in self.scanner.feed(data):
                frames.append((ftype, payload))
                if ftype == proto.FrameType.HELLO:
                    hello = msgspec.msgpack.decode(payload, type=proto.Hello)
                    mac = proto.auth_mac(CLIENT_SECRET.encode(), hello.nonce, CLIENT_ID)
                    self.transport.write(  # type: ignore[attr-defined]
                        proto.encode(proto.Auth(client_id=CLIENT_ID, mac=mac)))

        def connection_lost(self, exc: Exception | None) -> None:
            closed.set_result(True)

    await loop.create_connection(Deaf, "127.0.0.1", rig.port)
    await asyncio.wait_for(closed, 8)
    types = [t for t, _ in frames]
    assert types[:2] == [proto.FrameType.HELLO, proto.FrameType.AUTH_OK]
    assert types.count(proto.FrameType.HEARTBEAT) >= 2  # the switch asked before giving up
    last = msgspec.msgpack.decode(frames[-1][1], type=proto.Error)
    assert (last.code, last.fatal) == ("IDLE_TIMEOUT", True)


@pytest.mark.server(heartbeat_s=1)
async def test_quiet_client_that_answers_heartbeats_stays_connected(rig: Rig) -> None:
    async with await rig.client() as c:
        await asyncio.sleep(4.5)  # sends nothing of its own; only answers the switch
        assert not c.closed and c.errors == []
        await c.heartbeat()


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


async def test_one_order_the_store_refuses_does_not_sink_its_batch(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_commit = rig.app.store.commit

    async def commit_refusing_poison(batch: WriteBatch) -> BatchResult:
        if any(n.payment.order.client_order_id == "POISON-1" for n in batch.accepts):
            raise RuntimeError("store refuses this row")  # as a constraint violation would
        return await real_commit(batch)

    monkeypatch.setattr(rig.app.store, "commit", commit_refusing_poison)
    orders = [order() for _ in range(30)] + [order(client_order_id="POISON-1")]
    async with await rig.client() as c:
        results = await asyncio.gather(*(c.submit(o) for o in orders), return_exceptions=True)
    refused = [r for r in results if isinstance(r, SwitchError)]
    assert [r.code for r in refused] == ["RETRY_LATER"]
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 30


async def test_tests_run_on_uvloop_as_production_does() -> None:
    assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")
