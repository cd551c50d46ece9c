"""Channel links through a fault-injecting proxy (simulators/proxy.py).

First the proxy itself, against a loopback echo server: each fault does what it says. Then the
whole switch (server, engine, adapter) against the IBPS and UnionPay simulators with the proxy
in between: for every fault the adapter recovers (reconnects, or times out to UNKNOWN and
inquires), the simulator's books hold each payment once, and every order ends final.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from adapters.ibps import IbpsLinkConfig
from adapters.unionpay import UnionPayLinkConfig
from simulators.base import ChannelSimulator
from simulators.ibps import IbpsConfig, IbpsSimulator
from simulators.proxy import Direction, Fault, FaultProxy
from simulators.unionpay import UnionPayConfig, UnionPaySimulator
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import SystemClock
from switch.states import TERMINAL
from tests.conftest import CLIENT_ID, CLIENT_SECRET, switch_config
from tests.orders import order

ACQ = "04290000"
REPLY_TIMEOUT_S = 0.4


# -- the proxy on its own -----------------------------------------------------------------------


class _Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[attr-defined]


@pytest.fixture
async def echo_proxy() -> AsyncIterator[FaultProxy]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Echo, "127.0.0.1", 0)
    proxy = FaultProxy("127.0.0.1", server.sockets[0].getsockname()[1])
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()
        server.close()
        await server.wait_closed()


async def _open(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    assert proxy.port is not None
    return await asyncio.open_connection("127.0.0.1", proxy.port)


async def _read_exactly(reader: asyncio.StreamReader, n: int, timeout: float = 2.0) -> bytes:
    return await asyncio.wait_for(reader.readexactly(n), timeout)


async def test_proxy_relays_faithfully_until_told_otherwise(echo_proxy: FaultProxy) -> None:
    reader, writer = await _open(echo_proxy)
    writer.write(b"hello")
    assert await _read_exactly(reader, 5) == b"hello"
    writer.close()


async def test_latency_holds_every_chunk_and_keeps_order(echo_proxy: FaultProxy) -> None:
    reader, writer = await _open(echo_proxy)
    echo_proxy.inject(Fault.LATENCY, latency_s=0.15, direction=Direction.UP)
    started = time.monotonic()
    for chunk in (b"a", b"b", b"c"):
        writer.write(chunk)
        await writer.drain()
    assert await _read_exactly(reader, 3) == b"abc"
    assert time.monotonic() - started >= 0.14  # uvloop keeps time in whole milliseconds
    writer.close()


async def test_split_delivers_the_bytes_in_pieces(echo_proxy: FaultProxy) -> None:
    reader, writer = await _open(echo_proxy)
    echo_proxy.inject(Fault.SPLIT, piece=2, direction=Direction.DOWN)
    writer.write(b"0123456789")
    assert await _read_exactly(reader, 10) == b"0123456789"
    writer.close()


async def test_partial_cuts_a_chunk_and_closes(echo_proxy: FaultProxy) -> None:
    reader, writer = await _open(echo_proxy)
    echo_proxy.inject(Fault.PARTIAL, direction=Direction.DOWN, count=1)
    writer.write(b"0123456789")
    assert await asyncio.wait_for(reader.read(), 2.0) == b"01234"  # then EOF
    assert echo_proxy.stats.cut == 1 and echo_proxy.fault is Fault.PASS  # one shot, healed
    writer.close()


async def test_reset_hits_open_and_new_connections(echo_proxy: FaultProxy) -> None:
    reader, writer = await _open(echo_proxy)
    writer.write(b"x")
    assert await _read_exactly(reader, 1) == b"x"
    echo_proxy.inject(Fault.RESET)
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(), 2.0)
    reader2, _ = await _open(echo_proxy)
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader2.read(), 2.0)
    assert echo_proxy.stats.resets == 2


async def test_black_hole_reads_and_never_answers_even_after_healing(
    echo_proxy: FaultProxy,
) -> None:
    reader, writer = await _open(echo_proxy)
    echo_proxy.inject(Fault.BLACKHOLE)
    writer.write(b"into the void")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.3)
    echo_proxy.heal()
    writer.write(b"still there?")
    with pytest.raises(TimeoutError):  # a swallowed connection stays dead
        await asyncio.wait_for(reader.read(1), 0.3)
    assert echo_proxy.stats.swallowed == len(b"into the void") + len(b"still there?")
    fresh_reader, fresh_writer = await _open(echo_proxy)  # a new connection passes
    fresh_writer.write(b"ok")
    assert await _read_exactly(fresh_reader, 2) == b"ok"
    writer.close()
    fresh_writer.close()


async def test_control_requests_switch_faults(echo_proxy: FaultProxy) -> None:
    answer = echo_proxy.control({"op": "inject", "fault": "latency", "latency_s": 0.05})
    assert answer["fault"] == "latency"
    assert echo_proxy.control({"op": "heal"})["fault"] == "pass"
    with pytest.raises(ValueError):
        echo_proxy.control({"op": "inject", "fault": "teleport"})


# -- the switch's channel links through the proxy --------------------------------------------


@dataclass
class Channel:
    """How to stand up one channel's simulator and the switch's link config for it."""

    name: str
    simulator: Callable[[], ChannelSimulator]
    link: Callable[[int], Any]
    designated: str | None


CHANNELS = {
    "ibps": Channel(
        "IBPS", lambda: IbpsSimulator(IbpsConfig(), SystemClock(), seed=11),
        lambda port: IbpsLinkConfig(port=port, reply_timeout_s=REPLY_TIMEOUT_S,
                                    silent_link_s=0.5), None),
    "unionpay": Channel(
        "UnionPay",
        lambda: UnionPaySimulator(UnionPayConfig(participants={ACQ: 10**10}), SystemClock(),
                                  seed=12),
        # the echo test is what finds a black-holed line when nothing else is in flight
        lambda port: UnionPayLinkConfig(port=port, reply_timeout_s=REPLY_TIMEOUT_S,
                                        echo_interval_s=0.3),
        "UnionPay"),
}


@dataclass
class ProxiedRig:
    app: SwitchApp
    sim: ChannelSimulator
    proxy: FaultProxy
    port: int
    channel: Channel


@pytest.fixture(params=sorted(CHANNELS))
async def proxied(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[ProxiedRig]:
    channel = CHANNELS[request.param]
    sim = channel.simulator()
    sim_port = await sim.start()
    proxy = FaultProxy("127.0.0.1", sim_port)
    proxy_port = await proxy.start()
    config = msgspec.structs.replace(switch_config(proxy_port),
                                     channels={request.param: channel.link(proxy_port)})
    app = SwitchApp(config, store_url=f"sqlite://{tmp_path / 'proxied.db'}")
    app.engine.retry_delay_s = 0.1
    app.engine.inquiry_delay_s = 0.1
    app.engine.inquiry_backoff_cap_s = 0.5
    for adapter in app.engine.adapters.values():
        adapter._link.backoff_cap = 0.2  # type: ignore[attr-defined]
    port = await app.start(port=0)
    try:
        yield ProxiedRig(app, sim, proxy, port, channel)
    finally:
        await app.stop()
        await proxy.stop()
        await sim.stop()


async def _run_through(rig: ProxiedRig, fault: Fault, *, n: int = 6, hold_s: float = 1.0,
                       **options: Any) -> list[str]:
    """Submit ``n`` orders with ``fault`` in force for ``hold_s`` seconds, heal, and check
    every order ends final with its payment once in the channel's books. The final states."""
    async with await SwitchClient.connect("127.0.0.1", rig.port, CLIENT_ID, CLIENT_SECRET) as c:
        warm = order(designated_channel=rig.channel.designated)
        await c.submit(warm)
        assert (await c.wait_final(warm.client_order_id, timeout=10)).state == "SETTLED"
        rig.proxy.inject(fault, **options)
        orders = [order(amount=10_000 + i, designated_channel=rig.channel.designated)
                  for i in range(n)]
        acks = [await c.submit(o) for o in orders]
        assert all(a.state == "ACCEPTED" for a in acks)
        await asyncio.sleep(hold_s)
        rig.proxy.heal()
        finals = [await c.wait_final(o.client_order_id, timeout=20) for o in orders]
    assert all(f.final for f in finals)
    for ack in acks:
        payment = await rig.app.store.payment(ack.payment_id or "")
        assert payment is not None and payment.state in TERMINAL
        # invariant 2: the channel holds it at most once, under the one end-to-end id
        assert rig.sim.received_count(payment.end_to_end_id) <= 1
        if payment.state == "SETTLED":
            assert rig.sim.received_count(payment.end_to_end_id) == 1
    assert rig.sim.duplicates() == 0
    return [f.state for f in finals]


async def test_latency_slows_but_loses_nothing(proxied: ProxiedRig) -> None:
    # below the reply deadline: every answer arrives, late
    states = await _run_through(proxied, Fault.LATENCY, latency_s=REPLY_TIMEOUT_S / 4)
    assert states == ["SETTLED"] * 6


async def test_split_writes_are_reassembled(proxied: ProxiedRig) -> None:
    states = await _run_through(proxied, Fault.SPLIT, piece=7, hold_s=0.5)
    assert states == ["SETTLED"] * 6


async def test_reset_links_reconnect_and_every_order_ends_once(proxied: ProxiedRig) -> None:
    states = await _run_through(proxied, Fault.RESET)
    assert proxied.proxy.stats.resets >= 2  # the open link, and reconnects refused
    assert set(states) <= {"SETTLED", "REJECTED"}
    if proxied.channel.name == "IBPS":  # nothing reached the channel: sent once it is back
        assert states == ["SETTLED"] * 6


async def test_replies_cut_mid_message_resolve_by_inquiry(proxied: ProxiedRig) -> None:
    # Replies cut in half then the line closed: the channel booked what the switch sent, the
    # switch did not hear it, reconnects, and its inquiry (IBPS) or reversal (UnionPay) decides.
    states = await _run_through(proxied, Fault.PARTIAL, direction=Direction.DOWN, count=3)
    assert proxied.proxy.stats.cut == 3
    assert set(states) <= {"SETTLED", "REJECTED"}
    rejected = [s for s in states if s == "REJECTED"]
    if proxied.channel.name == "IBPS":
        assert not rejected  # an inquiry finds what the channel booked
    history_causes = [h.cause for p in await proxied.app.store.payments_in_states(
        ["SETTLED", "REJECTED"]) for h in await proxied.app.store.history(p.payment_id)]
    assert any("UNKNOWN" in c or "no answer" in c or "connection lost" in c
               for c in history_causes)


async def test_requests_cut_mid_message_are_resent_under_the_same_ids(
    proxied: ProxiedRig,
) -> None:
    states = await _run_through(proxied, Fault.PARTIAL, direction=Direction.UP, count=2)
    assert proxied.proxy.stats.cut == 2
    assert set(states) <= {"SETTLED", "REJECTED"}


async def test_black_hole_times_out_to_unknown_then_inquiry_settles_once(
    proxied: ProxiedRig,
) -> None:
    states = await _run_through(proxied, Fault.BLACKHOLE, hold_s=1.5)
    assert proxied.proxy.stats.swallowed > 0
    assert set(states) <= {"SETTLED", "REJECTED"}
    if proxied.channel.name == "IBPS":
        assert states == ["SETTLED"] * 6  # NOT_FOUND by inquiry, then resent: settled once
    unknown = 0
    for p in await proxied.app.store.payments_in_states(["SETTLED", "REJECTED"]):
        unknown += "UNKNOWN" in [h.to_state for h in await proxied.app.store.history(
            p.payment_id)]
    assert unknown >= 1  # the swallowed submissions went UNKNOWN, never FAILED
