"""The message journal: every message across a channel boundary, kept with its payments."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from accounting.ledger import SqliteLedger
from adapters.base import MessageRecord
from adapters.beps import BepsLinkConfig
from adapters.ibps import IbpsLinkConfig
from messages.iso20022 import parse_pacs002, parse_pacs008
from simulators.beps import BepsConfig, BepsSimulator
from simulators.ibps import IbpsConfig, IbpsSimulator
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import VirtualClock
from switch.config import ClientConfig, ServerConfig, StoreConfig, SwitchConfig
from switch.store import open_store
from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.orders import order

SH = ZoneInfo("Asia/Shanghai")


async def test_messages_are_kept_with_their_payments(store_url: str) -> None:
    clock = VirtualClock(datetime(2026, 3, 2, 10, 5, tzinfo=SH))
    ibps = IbpsSimulator(IbpsConfig(), clock)
    beps = BepsSimulator(BepsConfig(), clock)
    config = SwitchConfig(
        server=ServerConfig(port=0), store=StoreConfig(),
        clients={CLIENT_ID: ClientConfig(secret=CLIENT_SECRET)},
        channels={"ibps": IbpsLinkConfig(port=await ibps.start(), reply_timeout_s=5),
                  "beps": BepsLinkConfig(port=await beps.start(), reply_timeout_s=5,
                                         package_wait_s=1.0)})
    app = SwitchApp(config, store_url=store_url, clock=clock)
    port = await app.start(port=0)
    try:
        urgent = order(amount=12_345, urgency="urgent")  # IBPS: one message each way
        packaged = [order(amount=1_000 + i, designated_channel="BEPS") for i in range(3)]
        async with await SwitchClient.connect("127.0.0.1", port, CLIENT_ID, CLIENT_SECRET) as c:
            acks = {o.client_order_id: await c.submit(o) for o in [urgent, *packaged]}
            assert (await c.wait_final(urgent.client_order_id, 10)).state == "SETTLED"
            while len(beps.books.items) < 3:
                clock.advance(timedelta(seconds=1))  # the package wait
                await asyncio.sleep(0.02)
            clock.set(datetime(2026, 3, 2, 10, 30, tzinfo=SH))  # the netting session
            for o in packaged:
                assert (await c.wait_final(o.client_order_id, 10)).state == "SETTLED"
        assert app.journal is not None
        await app.journal.flush()
        pid = acks[urgent.client_order_id].payment_id or ""
        kept = await app.store.messages(pid)
        assert [(m.channel, m.direction, m.kind) for m in kept] == [
            ("IBPS", "out", "pacs.008.001.08"), ("IBPS", "in", "pacs.002.001.10")]
        assert parse_pacs008(kept[0].data).transactions[0].end_to_end_id == pid
        assert parse_pacs002(kept[1].data).transactions[0].status == "ACSC"
        assert all(m.payment_ids == (pid,) and m.at.startswith("2026-03-02T02:05")
                   for m in kept)
        # a BEPS package is kept once, linked to every payment it carries and no other
        ids = sorted(acks[o.client_order_id].payment_id or "" for o in packaged)
        per_payment = [await app.store.messages(p) for p in ids]
        packages = {m.data: m.payment_ids for kept in per_payment for m in kept
                    if m.direction == "out"}
        for data, linked in packages.items():
            assert set(linked) == {tx.end_to_end_id for tx in parse_pacs008(data).transactions}
        assert max(len(linked) for linked in packages.values()) > 1  # packages, not items
        assert sorted(p for linked in packages.values() for p in linked) == ids
        for kept in per_payment:
            # out: its package; in: the acknowledgement (ACTC) and the receipt after the session
            assert kept[0].direction == "out"
            assert {m.kind for m in kept} == {"pacs.008.001.08", "pacs.002.001.10"}
            assert len([m for m in kept if m.direction == "in"]) >= 2
    finally:
        await app.stop()
        await ibps.stop()
        await beps.stop()


async def test_a_stopping_switch_writes_the_journal_while_the_books_hold_sqlite(
        tmp_path: Path) -> None:
    # The accounting worker catching up posts page after page, each holding SQLite's one write
    # lock; the journal's last write at stop waited out the busy timeout behind it and was lost.
    # Here the books' connection holds the lock for good: the switch must stop the books first.
    url = f"sqlite://{tmp_path}/switch.db"
    ibps = IbpsSimulator(IbpsConfig(), VirtualClock(datetime(2026, 3, 2, 10, 5, tzinfo=SH)))
    config = SwitchConfig(server=ServerConfig(port=0), store=StoreConfig(),
                          clients={CLIENT_ID: ClientConfig(secret=CLIENT_SECRET)},
                          channels={"ibps": IbpsLinkConfig(port=await ibps.start())})
    app = SwitchApp(config, store_url=url)
    await app.start(port=0)
    await ibps.stop()
    assert app.journal is not None
    await app.poster.open()
    ledger = app.poster.ledger
    assert isinstance(ledger, SqliteLedger)
    await ledger._run(lambda db: db.execute("BEGIN IMMEDIATE"))  # a page being written
    app.journal.record(MessageRecord("IBPS", "out", ("P-LAST",), b"0200 last words"))
    await app.stop()
    store = open_store(url)
    await store.open()
    try:
        assert [m.data for m in await store.messages("P-LAST")] == [b"0200 last words"]
    finally:
        await store.close()
