"""The whole switch on SWIFT: orders from a core system go out through the SWIFT adapter (MX or
MT link) to the simulator, end SETTLED or RETURNED, and the ledger balances."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from accounting.poster import check_ledger
from adapters.swift import SwiftAdapter, SwiftLinkConfig
from simulators.faults import FaultPlan, FaultRule
from simulators.link import admin_request
from simulators.swift import SwiftConfig, SwiftSimulator
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import ShiftedClock
from switch.config import BankConfig, ClientConfig, ServerConfig, SwitchConfig, parse_config
from switch.errors import ConfigError
from switch.order import Party
from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.orders import order

US = "PYSWCNSHXXX"  # the bank's BIC in switch.config.BankConfig
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 10:00 in Paris: before every cut-off


def _creditor(bank: str, country: str) -> Party:
    return Party(account=f"{country}640000123456789", name="John Doe Imports", agent=bank,
                 country=country)


@pytest.mark.parametrize("fmt", ["mx", "mt"])
async def test_orders_on_swift_settle_and_a_return_comes_back(store_url: str, fmt: str) -> None:
    clock = ShiftedClock(MONDAY, anchor=time.time())  # a Monday morning, at the real pace
    sim = SwiftSimulator(SwiftConfig(), clock, seed=1)
    sim_port = await sim.start()
    config = SwitchConfig(
        server=ServerConfig(port=0), clients={CLIENT_ID: ClientConfig(secret=CLIENT_SECRET)},
        channels={"swift": SwiftLinkConfig(port=sim_port, format=fmt, reply_timeout_s=10)})
    app = SwitchApp(config, store_url=store_url, clock=clock)
    port = await app.start(port=0)
    try:
        async with await SwitchClient.connect("127.0.0.1", port, CLIENT_ID, CLIENT_SECRET) as c:
            usd = order(amount=2_500_00, currency="USD", designated_channel="SWIFT",
                        creditor=_creditor("BOFAUS3NXXX", "US"), charge_bearer="DEBT")
            gbp = order(amount=730_15, currency="GBP", creditor=_creditor("BARCGB22XXX", "GB"))
            acks = [await c.submit(o) for o in (usd, gbp)]
            finals = [await c.wait_final(o.client_order_id, timeout=20) for o in (usd, gbp)]
            assert [(f.state, f.reason) for f in finals] == [("SETTLED", None)] * 2
            assert [f.channel for f in finals] == ["SWIFT", "SWIFT"]
            c.statuses.pop(gbp.client_order_id)
            sent = await app.store.payment(acks[1].payment_id or "")
            assert sent is not None
            item = sim.by_uetr(sent.uetr)
            assert item is not None
            answer = await admin_request("127.0.0.1", sim_port, {
                "op": "return", "end_to_end_id": item.end_to_end_id, "reason": "AC04"})
            assert answer == {"ok": True, "state": "RETURNED"}
            for _ in range(500):
                status = c.statuses.get(gbp.client_order_id)
                if status is not None and status.state == "RETURNED":
                    break
                await asyncio.sleep(0.01)
            assert status is not None and (status.state, status.reason) == ("RETURNED", "AC04")
        assert sim.balances("USD")[US] == 10**13 - 2_500_00
        assert sim.balances("GBP")[US] == 10**13  # sent and returned
        assert sim.duplicates() == 0
        history = [h.to_state for h in await app.store.history(acks[0].payment_id or "")]
        assert history[-2:] == ["SUBMITTED", "SETTLED"]
        await app.poster.post_available()
        check = await check_ledger(app.poster.ledger)
        assert check.balanced, check.per_currency
        assert {"USD", "GBP"} <= set(check.per_currency)
        entries = await app.poster.ledger.entries_for_payment(acks[0].payment_id or "")
        assert {e.event_type for e in entries} >= {"payment.accepted", "payment.settled"}
        assert all(e.status == "posted" for e in entries)
    finally:
        await app.stop()
        await sim.stop()


@pytest.mark.parametrize("fmt", ["mx", "mt"])
async def test_a_dropped_reply_ends_settled_through_unknown_and_inquiry(store_url: str,
                                                                        fmt: str) -> None:
    clock = ShiftedClock(MONDAY, anchor=time.time())
    kind = "pacs.008" if fmt == "mx" else "MT103"
    sim = SwiftSimulator(SwiftConfig(), clock, faults=FaultPlan(rules={kind: FaultRule(drop=1)}))
    sim_port = await sim.start()
    config = SwitchConfig(
        server=ServerConfig(port=0), clients={CLIENT_ID: ClientConfig(secret=CLIENT_SECRET)},
        channels={"swift": SwiftLinkConfig(port=sim_port, format=fmt, reply_timeout_s=0.5)})
    app = SwitchApp(config, store_url=store_url, clock=clock)
    port = await app.start(port=0)
    try:
        async with await SwitchClient.connect("127.0.0.1", port, CLIENT_ID, CLIENT_SECRET) as c:
            eur = order(amount=99_00, currency="EUR", creditor=_creditor("DEUTDEFFXXX", "DE"))
            ack = await c.submit(eur)
            final = await c.wait_final(eur.client_order_id, timeout=20)
        assert (final.state, final.channel) == ("SETTLED", "SWIFT")
        history = [h.to_state for h in await app.store.history(ack.payment_id or "")]
        assert history[-3:] == ["SUBMITTED", "UNKNOWN", "SETTLED"]
        assert sim.balances("EUR")[US] == 10**13 - 99_00 and sim.duplicates() == 0
        await app.poster.post_available()
        assert (await check_ledger(app.poster.ledger)).balanced
    finally:
        await app.stop()
        await sim.stop()


def test_channels_swift_table_is_read_and_checked() -> None:
    cfg = parse_config({"channels": {"swift": {
        "port": 7601, "format": "mt", "cover_currencies": ["USD"],
        "reason_map": {"T99": "NARR"}}}})
    swift = cfg.channels["swift"]
    assert isinstance(swift, SwiftLinkConfig)
    assert (swift.format, swift.cover_currencies, swift.pending_timeout_s) == (
        "mt", ("USD",), 86_400.0)
    adapter = SwiftAdapter.from_config(swift, clock=ShiftedClock(MONDAY, anchor=0.0),
                                       bank=BankConfig())
    assert (adapter.participant, adapter.format) == (US, "mt")
    for table, key, text in [
        ({"port": 7601, "format": "xml"}, "channels.swift.format", "xml"),
        ({"port": 7601, "cover_currencies": ["CHF"]}, "channels.swift", "CHF"),
        ({"port": 7601, "correspondents": {"USD": "CHASE"}}, "channels.swift", "not a BIC"),
        ({"port": 7601, "timezone": "Mars/Olympus"}, "channels.swift", "time zone"),
        ({"port": 7601, "reply_timeout_s": 0}, "channels.swift.reply_timeout_s", "greater"),
    ]:
        with pytest.raises(ConfigError, match=text) as caught:
            parse_config({"channels": {"swift": table}})
        assert caught.value.key == key
