"""Positions: treasury funds a channel's settlement account, the router reads the available
position, and a threshold crossing reaches operators as an ALERT frame (issues #3 and #4)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from importlib import resources
from pathlib import Path

import msgspec

from simulators.ibps import IbpsConfig, IbpsSimulator
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import Clock, SystemClock, VirtualClock
from switch.config import AccountingConfig, ClientConfig, RoutingConfig
from tests.conftest import CLIENT_ID, CLIENT_SECRET, switch_config
from tests.orders import order
from tests.test_scheduling import BEFORE_OPENING, _ibps_with_a_window, wait_for_state

ROOT = Path(__file__).resolve().parents[1]
OPERATOR = "TREASURY-DESK"
OPERATOR_SECRET = "operator-secret-" + "o" * 12


def _fund(store_url: str, amount: int, *, ref: str, direction: str = "fund"
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "switch.cli", "treasury", direction, "--channel", "IBPS",
         "--amount", str(amount), "--currency", "CNY", "--operator", "treasury.wang",
         "--reason", "morning funding", "--ref", ref, "--store", store_url],
        capture_output=True, text=True, timeout=120, cwd=ROOT)


async def _position_is(app: SwitchApp, amount: int) -> None:
    """The running accounting worker has booked up to ``amount`` (bounded wait)."""
    for _ in range(500):
        if app.poster.positions.get(("IBPS", "CNY")) == amount:
            return
        await asyncio.sleep(0.01)
    assert app.poster.positions.get(("IBPS", "CNY")) == amount


async def test_routing_reads_the_funded_position_and_operators_get_alerts(
        tmp_path: Path) -> None:
    books = resources.files("accounting").joinpath("books.toml").read_text(encoding="utf-8")
    # treasury wants to hear when IBPS's position falls under 30.00 CNY
    books = books.replace("alert_below = -5_000_000_000_00", "alert_below = 3_000")
    (tmp_path / "books.toml").write_text(books, encoding="utf-8")
    sim = IbpsSimulator(IbpsConfig(), SystemClock())
    config = msgspec.structs.replace(
        switch_config(await sim.start()),
        routing=RoutingConfig(positions=("IBPS",)),
        accounting=AccountingConfig(books=str(tmp_path / "books.toml")))
    config = msgspec.structs.replace(config, clients={
        **config.clients, OPERATOR: ClientConfig(OPERATOR_SECRET, alerts=True)})
    store_url = f"sqlite://{tmp_path / 'p.db'}"
    app = SwitchApp(config, store_url=store_url)
    await app.start(port=0)
    try:
        # funded 100.00 CNY, twice under one reference: booked once
        first = await asyncio.to_thread(_fund, store_url, 10_000, ref="T-1")
        again = await asyncio.to_thread(_fund, store_url, 10_000, ref="T-1")
        assert first.returncode == 0, first.stderr
        assert again.returncode == 1 and "already recorded" in again.stderr
        bad = await asyncio.to_thread(_fund, store_url, -5, ref="T-2")
        assert bad.returncode == 2
        await _position_is(app, 10_000)
        async with await SwitchClient.connect("127.0.0.1", app.port or 0, OPERATOR,
                                              OPERATOR_SECRET) as desk, \
                await SwitchClient.connect("127.0.0.1", app.port or 0, CLIENT_ID,
                                           CLIENT_SECRET) as core:
            fits = order(amount=8_000, urgency="urgent")
            await core.submit(fits)
            assert (await core.wait_final(fits.client_order_id, 10)).state == "SETTLED"
            await _position_is(app, 2_000)  # the settlement booked: 20.00 CNY left
            for _ in range(200):  # ... under the 30.00 threshold: the desk hears of it
                if desk.alerts:
                    break
                await asyncio.sleep(0.01)
            (alert,) = desk.alerts
            assert (alert.account, alert.threshold, alert.limit, alert.value) == (
                "clearing:IBPS", "below", 3_000, 2_000)
            assert core.alerts == []  # only operator consoles receive alerts
            too_big = order(amount=2_001, urgency="urgent")
            ack = await core.submit(too_big)
            final = await core.wait_final(too_big.client_order_id, 10)
            assert (final.state, final.reason) == ("REJECTED", "AM04")
            decision = await app.store.route_decision(ack.payment_id or "")
            assert decision is not None
            (ibps,) = [c for c in decision["candidates"] if c["channel"] == "IBPS"]
            assert ibps["reason"] == "AM04" and "position 2000" in ibps["text"]
            just = order(amount=2_000, urgency="urgent")  # exactly what is left: it goes
            await core.submit(just)
            assert (await core.wait_final(just.client_order_id, 10)).state == "SETTLED"
    finally:
        await app.stop()
        await sim.stop()


@contextlib.asynccontextmanager
async def _funded_ibps(tmp_path: Path, sim: IbpsSimulator, amount: int,
                       clock: Clock | None = None) -> AsyncIterator[SwitchApp]:
    """A switch whose routing checks IBPS's position, funded with ``amount`` and booked."""
    config = msgspec.structs.replace(
        switch_config(await sim.start()), routing=RoutingConfig(positions=("IBPS",)))
    store_url = f"sqlite://{tmp_path / 'p.db'}"
    app = SwitchApp(config, store_url=store_url, clock=clock)
    await app.start(port=0)
    try:
        funded = await asyncio.to_thread(_fund, store_url, amount, ref="T-1")
        assert funded.returncode == 0, funded.stderr
        await _position_is(app, amount)
        yield app
    finally:
        await app.stop()
        await sim.stop()


async def test_payments_in_flight_hold_the_position_they_were_routed_against(
        tmp_path: Path) -> None:
    # The channel takes half a second to settle: while the first payment is in flight, the
    # books still show the whole position. Its reservation keeps the second from spending
    # the same money (before reservations, both went and the position went negative).
    sim = IbpsSimulator(IbpsConfig(reply_delay_ms=500), SystemClock())
    async with _funded_ibps(tmp_path, sim, 10_000) as app, \
            await SwitchClient.connect("127.0.0.1", app.port or 0, CLIENT_ID,
                                       CLIENT_SECRET) as core:
        orders = [order(amount=6_000, urgency="urgent") for _ in range(2)]
        await asyncio.gather(*(core.submit(o) for o in orders))
        finals = [await core.wait_final(o.client_order_id, 10) for o in orders]
        assert sorted((f.state, f.reason) for f in finals) == [
            ("REJECTED", "AM04"), ("SETTLED", None)]
        await _position_is(app, 4_000)
        # once the books show the settlement, nothing is held beside them
        assert await app.store.position_reserved(app.poster.positions_as_of) == {}
        rest = order(amount=4_000, urgency="urgent")
        await core.submit(rest)
        assert (await core.wait_final(rest.client_order_id, 10)).state == "SETTLED"


async def test_a_scheduled_payment_does_not_compete_with_its_own_reservation(
        tmp_path: Path) -> None:
    # Routed before the window opens, it reserves 80.00 of the 100.00 and waits; at the window
    # it is decided again, as if it did not hold them (else it would see 20.00 and be refused).
    clock = VirtualClock(BEFORE_OPENING)
    sim = IbpsSimulator(IbpsConfig(), SystemClock())
    async with _funded_ibps(tmp_path, sim, 10_000, clock) as app, \
            await SwitchClient.connect("127.0.0.1", app.port or 0, CLIENT_ID,
                                       CLIENT_SECRET) as core:
        app.engine.router = _ibps_with_a_window()
        o = order(amount=8_000)
        await core.submit(o)
        await wait_for_state(core, o.client_order_id, "SCHEDULED")
        assert await app.store.position_reserved(0) == {("IBPS", "CNY"): 8_000}
        clock.advance(timedelta(seconds=1))  # 08:30:00.5: IBPS is open
        final = await core.wait_final(o.client_order_id, timeout=10)
        assert (final.state, final.reason) == ("SETTLED", None)
