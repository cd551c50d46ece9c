"""BEPS through the whole switch: orders in, a package, a netting session, receipts, the
payments' final states and a balanced ledger, on one virtual clock and both stores."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from accounting.poster import check_ledger
from adapters.beps import BepsLinkConfig
from adapters.ibps import IbpsLinkConfig
from simulators.beps import BepsConfig, BepsSimulator
from simulators.ibps import IbpsConfig, IbpsSimulator
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import VirtualClock
from switch.config import ClientConfig, ServerConfig, StoreConfig, SwitchConfig
from switch.order import Party
from tests.conftest import CLIENT_ID, CLIENT_SECRET, CLOSED_ACCOUNT
from tests.orders import order

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 2, 10, 5, tzinfo=SH)  # a working Monday; a session at 10:30


async def test_orders_settle_through_a_beps_session_and_the_ledger_balances(
        store_url: str) -> None:
    clock = VirtualClock(START)
    beps = BepsSimulator(BepsConfig(closed_accounts=(CLOSED_ACCOUNT,)), clock, seed=1)
    ibps = IbpsSimulator(IbpsConfig(), clock)
    config = SwitchConfig(
        server=ServerConfig(port=0), store=StoreConfig(),
        clients={CLIENT_ID: ClientConfig(secret=CLIENT_SECRET)},
        channels={"beps": BepsLinkConfig(port=await beps.start(), reply_timeout_s=5,
                                         package_wait_s=1.0),
                  "ibps": IbpsLinkConfig(port=await ibps.start(), reply_timeout_s=5)})
    app = SwitchApp(config, store_url=store_url, clock=clock)
    port = await app.start(port=0)
    try:
        designated = order(amount=12_345, designated_channel="BEPS")
        salary = order(amount=800_000, product="SALARY")  # only BEPS or HVPS; HVPS is absent
        refused = order(amount=5_000, designated_channel="BEPS",
                        creditor=Party(account=CLOSED_ACCOUNT, name="李四", agent="103100000026"))
        orders = [designated, salary, refused]
        async with await SwitchClient.connect("127.0.0.1", port, CLIENT_ID, CLIENT_SECRET) as c:
            acks = [await c.submit(o) for o in orders]
            for _ in range(500):  # all three handed to the adapter, one package still open
                if all(getattr(c.statuses.get(o.client_order_id), "state", "") == "SUBMITTED"
                       for o in orders):
                    break
                await asyncio.sleep(0.01)
            assert not beps.books.items
            clock.advance(timedelta(seconds=1))  # the package wait
            for _ in range(500):
                if len(beps.books.items) == 3:
                    break
                await asyncio.sleep(0.01)
            assert {i.msg_id for i in beps.books.items.values()} == {
                beps.books.items[acks[0].payment_id or ""].msg_id}  # one package
            await asyncio.sleep(0.2)
            assert all(c.statuses[o.client_order_id].state == "SUBMITTED" for o in orders)
            clock.set(datetime(2026, 3, 2, 10, 30, tzinfo=SH))  # the netting session
            finals = [await c.wait_final(o.client_order_id, timeout=10) for o in orders]
        assert [(f.state, f.channel, f.reason) for f in finals] == [
            ("SETTLED", "BEPS", None), ("SETTLED", "BEPS", None), ("REJECTED", "BEPS", "AC04")]
        assert [f.fee for f in finals[:2]] == [20, 50]  # 0.20 and 0.50 CNY (catalogue tiers)
        history = await app.store.history(acks[0].payment_id or "")
        assert [h.to_state for h in history] == ["ACCEPTED", "ROUTED", "SUBMITTED", "SETTLED"]
        (session,) = beps.books.sessions.values()
        assert session.positions == {"102100099996": -812_345, "103100000026": 812_345}
        payment = await app.store.payment(acks[1].payment_id or "")
        assert payment is not None and payment.business_date == "2026-03-02"
        assert beps.books.items[payment.end_to_end_id].business_date == date(2026, 3, 2)
        await app.poster.post_available()
        ledger = app.poster.ledger
        assert (await check_ledger(ledger)).balanced
        balances = {b.account: b.net for b in await ledger.balances() if b.net}
        assert balances["clearing:BEPS"] == -812_345  # what the channel's books moved
        assert ibps.books.items == {}
    finally:
        await app.stop()
        await beps.stop()
        await ibps.stop()


async def test_an_unknown_item_waiting_for_its_session_is_inquired_with_backoff(
        tmp_path: object) -> None:
    """After a lost line a BEPS item is UNKNOWN; the channel answers PENDING until the session.
    The switch asks again less and less often, not once a second for half an hour."""
    clock = VirtualClock(datetime(2026, 3, 2, 10, 0, 30, tzinfo=SH))  # session at 10:30
    beps = BepsSimulator(BepsConfig(), clock, seed=1)
    beps.server.traffic = []
    config = SwitchConfig(
        server=ServerConfig(port=0), store=StoreConfig(),
        clients={CLIENT_ID: ClientConfig(secret=CLIENT_SECRET)},
        channels={"beps": BepsLinkConfig(port=await beps.start(), reply_timeout_s=5,
                                         package_wait_s=1.0)})
    app = SwitchApp(config, store_url=f"sqlite://{tmp_path}/b.db", clock=clock)
    port = await app.start(port=0)
    try:
        o = order(amount=12_345, designated_channel="BEPS")
        async with await SwitchClient.connect("127.0.0.1", port, CLIENT_ID, CLIENT_SECRET) as c:
            await c.submit(o)
            while not beps.books.items:
                clock.advance(timedelta(seconds=1))  # the package wait
                await asyncio.sleep(0.02)
            for _ in range(300):  # the package receipt (ACTC) has come back
                if any(kind == "out" for kind, _ in beps.server.traffic):
                    break
                await asyncio.sleep(0.01)
            for link in list(beps.server.links):
                link.abort()  # the line drops: the adapter reports the item UNKNOWN
            for _ in range(300):
                status = c.statuses.get(o.client_order_id)
                if status is not None and status.state == "UNKNOWN":
                    break
                await asyncio.sleep(0.01)
            assert c.statuses[o.client_order_id].state == "UNKNOWN"
            while clock.now() < datetime(2026, 3, 2, 10, 29, 59, tzinfo=SH):
                clock.advance(timedelta(seconds=1))
                if clock.now().second == 0:
                    await asyncio.sleep(0.02)  # let inquiries and answers cross the link
            await asyncio.sleep(0.2)
            inquiries = [m for kind, m in beps.server.traffic
                         if kind == "in" and b"FIToFIPmtStsReq" in m]
            # ~29 minutes at 1, 2, 4 ... seconds, capped at 300: about a dozen, never 1,700
            assert 5 <= len(inquiries) <= 16, len(inquiries)
            clock.set(datetime(2026, 3, 2, 10, 30, tzinfo=SH))  # the session settles it
            for _ in range(30):
                clock.advance(timedelta(seconds=60))
                await asyncio.sleep(0.05)
                status = c.statuses.get(o.client_order_id)
                if status is not None and status.final:
                    break
            assert (await c.wait_final(o.client_order_id, timeout=10)).state == "SETTLED"
    finally:
        await app.stop()
        await beps.stop()
