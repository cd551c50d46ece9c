"""Micro-payment batching through the whole switch, on a virtual clock: one channel payment
per payee and window, members keeping their own states and books (issue #7)."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import pytest

from accounting.poster import check_ledger
from adapters.beps import BepsLinkConfig
from messages.iso20022 import parse_pacs008
from simulators.beps import BepsConfig, BepsSimulator
from simulators.faults import FaultPlan, FaultRule
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import VirtualClock
from switch.config import ClientConfig, ServerConfig, StoreConfig, SwitchConfig
from switch.order import Order, Party
from switch.store import open_store
from tests.conftest import CLIENT_ID, CLIENT_SECRET

ROOT = Path(__file__).resolve().parents[1]
SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 2, 10, 0, 30, tzinfo=SH)  # windows of 10 minutes: 10:00, 10:10 ...
PAYEES = [Party(account=f"6222000000100{i:03d}", name=f"商户{i}", agent="103100000026")
          for i in range(7)]


class Rig:
    def __init__(self, app: SwitchApp, beps: BepsSimulator, clock: VirtualClock) -> None:
        self.app, self.beps, self.clock = app, beps, clock

    async def advance_to(self, when: datetime, step: timedelta = timedelta(seconds=30)) -> None:
        """Move the clock in steps, letting the switch and the channel work between them."""
        while self.clock.now() < when:
            self.clock.advance(min(step, when - self.clock.now()))
            await asyncio.sleep(0.05)


@pytest.fixture
async def rig(store_url: str) -> AsyncIterator[Rig]:
    clock = VirtualClock(START)
    beps = BepsSimulator(BepsConfig(), clock, seed=4)
    config = SwitchConfig(
        server=ServerConfig(port=0, window=2000), store=StoreConfig(),
        clients={CLIENT_ID: ClientConfig(secret=CLIENT_SECRET)},
        channels={"beps": BepsLinkConfig(port=await beps.start(), reply_timeout_s=10,
                                         package_wait_s=1.0)})
    app = SwitchApp(config, store_url=store_url, clock=clock)
    await app.start(port=0)
    try:
        yield Rig(app, beps, clock)
    finally:
        await app.stop()
        await beps.stop()


def micro(n: int, seed: int, run: str) -> list[Order]:
    rng = random.Random(seed)
    return [Order(client_order_id=f"{run}-{i:06d}", amount=rng.randint(100, 4_000),
                  currency="CNY", product="T0SETTLE",
                  debtor=Party(account=f"6217{rng.randrange(10**14, 10**15)}", name="客户",
                               agent="102100099996"),
                  creditor=rng.choice(PAYEES), remittance_info=f"order {i}")
            for i in range(n)]


async def _submit_all(client: SwitchClient, orders: list[Order]) -> None:
    acks = await asyncio.gather(*(client.submit(o) for o in orders))
    assert {a.state for a in acks} == {"QUEUED_FOR_BATCH"}
    assert all(a.expected_at is not None and a.fee == 0 for a in acks)


async def test_micro_payments_make_one_batch_per_payee_and_window(rig: Rig) -> None:
    orders = micro(20_000, seed=1, run="M")
    windows = [orders[:7000], orders[7000:14000], orders[14000:]]
    store = rig.app.store
    async with await SwitchClient.connect("127.0.0.1", rig.app.port or 0, CLIENT_ID,
                                          CLIENT_SECRET) as client:
        for i, part in enumerate(windows):
            await _submit_all(client, part)
            # past this window's close (10:10, 10:20, 10:30) and a netting session after it
            await rig.advance_to(START.replace(minute=10 * (i + 1), second=0)
                                 + timedelta(minutes=1))
        # the last window closes at 10:30, just after that session: the 11:00 one settles it
        await rig.advance_to(START.replace(hour=11, minute=1, second=0))
        finals = [await client.wait_final(o.client_order_id, timeout=60) for o in orders]
    assert Counter(f.state for f in finals) == {"SETTLED": 20_000}
    batches = await store.batches()
    # exactly one batch per payee per window, all settled
    assert len(batches) == 21
    assert Counter((b.payee_account, b.window_key) for b in batches) == {
        (p.account, w): 1 for p in PAYEES for w in
        ("2026-03-02T10:00", "2026-03-02T10:10", "2026-03-02T10:20")}
    assert {b.state for b in batches} == {"SETTLED"}
    members_total = 0
    for b in batches:
        members = await store.batch_members(b.batch_id)
        assert len(members) == b.members and sum(a for _, a in members) == b.total
        members_total += len(members)
        item = rig.beps.books.items[b.end_to_end_id]  # one channel item per batch
        assert item.amount == b.total and item.creditor_account == b.payee_account
    assert members_total == 20_000
    assert len(rig.beps.books.items) == 21  # no member reached the channel on its own
    # the member's fee is its share of its batch's one fee; shares add up to the batch fee
    fees: Counter[str] = Counter()
    for f in finals:
        fees[f.channel or ""] += f.fee
    assert sum(fees.values()) == sum(b.fee for b in batches)
    assert all(b.fee_alone > b.fee for b in batches)
    await rig.app.poster.post_available()
    assert (await check_ledger(rig.app.poster.ledger)).balanced
    balances = {b.account: b.net for b in await rig.app.poster.ledger.balances()}
    assert -balances["clearing:BEPS"] == sum(b.total for b in batches)
    assert -balances["clearing:BEPS"] == rig.beps.settled_by_currency()["CNY"]


async def test_a_batch_payment_names_the_batch_for_the_payee(rig: Rig) -> None:
    orders = micro(30, seed=2, run="R")
    async with await SwitchClient.connect("127.0.0.1", rig.app.port or 0, CLIENT_ID,
                                          CLIENT_SECRET) as client:
        await _submit_all(client, orders)
        await rig.advance_to(START.replace(minute=31, second=0))  # window 10:10, session 10:30
        for o in orders:
            await client.wait_final(o.client_order_id, timeout=30)
    batches = await rig.app.store.batches()
    assert len(batches) == len({o.creditor.account for o in orders})
    for b in batches:
        # one package may carry several batches' payments (BEPS packs what leaves together)
        (kept,) = [m for m in await rig.app.store.messages(b.batch_id) if m.direction == "out"]
        (tx,) = [t for t in parse_pacs008(kept.data).transactions
                 if t.end_to_end_id == b.end_to_end_id]
        assert tx.amount == b.total
        assert tx.remittance_info is not None and b.batch_id in tx.remittance_info
        assert tx.creditor.account == b.payee_account


async def test_a_resent_order_joins_no_batch_twice(rig: Rig) -> None:
    (order,) = micro(1, seed=3, run="D")
    async with await SwitchClient.connect("127.0.0.1", rig.app.port or 0, CLIENT_ID,
                                          CLIENT_SECRET) as client:
        first = await client.submit(order)
        again = await client.submit(order)
        assert again.duplicate and again.payment_id == first.payment_id
        await rig.advance_to(START.replace(minute=31, second=0))  # window 10:10, session 10:30
        assert (await client.wait_final(order.client_order_id, 30)).state == "SETTLED"
    (batch,) = await rig.app.store.batches()
    assert await rig.app.store.batch_members(batch.batch_id) == [
        (first.payment_id, order.amount)]


async def test_the_history_of_a_member(rig: Rig, tmp_path: Path) -> None:
    (order,) = micro(1, seed=5, run="H")
    async with await SwitchClient.connect("127.0.0.1", rig.app.port or 0, CLIENT_ID,
                                          CLIENT_SECRET) as client:
        ack = await client.submit(order)
        assert ack.expected_at == "2026-03-02T02:10:00.000+00:00"  # 10:10 in Shanghai
        await rig.advance_to(START.replace(minute=31, second=0))  # window 10:10, session 10:30
        await client.wait_final(order.client_order_id, 30)
    history = await rig.app.store.history(ack.payment_id or "")
    assert [h.to_state for h in history] == [
        "ACCEPTED", "ROUTED", "QUEUED_FOR_BATCH", "BATCHED", "SUBMITTED", "SETTLED"]
    assert "batching profile T0-merchant-settlement" in history[1].cause


async def test_a_crash_between_closing_and_sending_loses_no_member_and_sends_none_twice(
        tmp_path: Path) -> None:
    """SIGKILL right after a batch closes (members frozen, its payment ROUTED, nothing sent):
    the restarted switch sends each batch once, and every member settles with it."""
    from importlib import resources

    from bench.crash import SwitchProcess
    from switch.clock import ShiftedClock

    # business time ten times faster: one-minute windows and sessions take six seconds. From
    # 10:00:00 the window closes (and the switch dies) 6 s from now: a start on a busy machine
    # (up to 1.6 s seen) and the 300 acks come first; from 10:00:50 it closed 1 s from now,
    # sometimes while the acks were still coming back.
    clock = ShiftedClock(START.replace(second=0), anchor=time.time(), speed=10)
    beps = BepsSimulator(BepsConfig(session_minutes=1), clock, seed=6)
    catalogue = resources.files("routing").joinpath("channels.toml").read_text(encoding="utf-8")
    (tmp_path / "channels.toml").write_text(
        catalogue.replace("every_minutes = 10", "every_minutes = 1"), encoding="utf-8")
    config = tmp_path / "switch.toml"
    config.write_text(
        f'[server]\nport = 0\n\n[clients.{CLIENT_ID}]\nsecret = "{CLIENT_SECRET}"\n\n'
        f'[routing]\ncatalogue = "{tmp_path / "channels.toml"}"\n\n'
        f"[channels.beps]\nport = {await beps.start()}\nreply_timeout_s = 20.0\n"
        f"package_wait_s = 1.0\n", encoding="utf-8")
    beps.server.traffic = []
    switch = SwitchProcess(config, f"sqlite://{tmp_path / 'crash.db'}", clock=clock.spec())
    orders = micro(300, seed=7, run="K")
    try:
        port = await switch.start(crash_at="batch:1")
        async with await SwitchClient.connect("127.0.0.1", port, CLIENT_ID,
                                              CLIENT_SECRET) as client:
            await _submit_all(client, orders)  # acknowledged QUEUED_FOR_BATCH: durable
        await asyncio.wait_for(switch.died(), 60)  # the window closes at 10:01: the crash
        assert not beps.books.items  # closed, not sent
        port = await switch.start()
        async with await SwitchClient.connect("127.0.0.1", port, CLIENT_ID,
                                              CLIENT_SECRET) as client:
            finals = [await client.wait_final(o.client_order_id, timeout=60) for o in orders]
    finally:
        await switch.stop()
        await beps.stop()
    assert Counter(f.state for f in finals) == {"SETTLED": 300}
    store = open_store(f"sqlite://{tmp_path / 'crash.db'}")
    await store.open()
    try:
        batches = await store.batches()
        assert {b.state for b in batches} == {"SETTLED"}
        assert sum(b.members for b in batches) == 300  # every member kept its batch
        for b in batches:
            assert beps.received_count(b.end_to_end_id) == 1  # each batch reached BEPS once
        assert len(beps.books.items) == len(batches)  # and no member on its own
    finally:
        await store.close()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "switch.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


async def _settled_batch(rig: Rig, n: int, seed: int) -> tuple[list[Order], list[str]]:
    """n orders to one payee, settled in one batch; their payment ids."""
    orders = [msgspec.structs.replace(o, creditor=PAYEES[0]) for o in micro(n, seed, f"P{seed}")]
    async with await SwitchClient.connect("127.0.0.1", rig.app.port or 0, CLIENT_ID,
                                          CLIENT_SECRET) as client:
        acks = [await client.submit(o) for o in orders]
        await rig.advance_to(START.replace(minute=31, second=0))
        for o in orders:
            assert (await client.wait_final(o.client_order_id, 30)).state == "SETTLED"
    return orders, [a.payment_id or "" for a in acks]


async def test_a_partial_return_reverses_exactly_the_named_members(rig: Rig) -> None:
    orders, pids = await _settled_batch(rig, 10, seed=8)
    store = rig.app.store
    (batch,) = await store.batches()
    await rig.app.poster.post_available()
    before = {b.account: b.net for b in await rig.app.poster.ledger.balances()}
    returned = pids[2:5]
    url = store.url
    bad = await asyncio.to_thread(_cli, "batches", "return", batch.batch_id, "--members",
                                  returned[0] + ",nope", "--reason", "AC04", "--operator",
                                  "ops.li", "--store", url)
    assert bad.returncode == 1 and "not members" in bad.stderr
    assert {(await store.payment(p)).state for p in pids} == {"SETTLED"}  # type: ignore[union-attr]
    usage = await asyncio.to_thread(_cli, "batches", "return", batch.batch_id, "--members",
                                    returned[0], "--reason", "closed", "--operator", "x",
                                    "--store", url)
    assert usage.returncode == 2  # the reason must be an ISO code: nothing changed
    done = await asyncio.to_thread(_cli, "batches", "return", batch.batch_id, "--members",
                                   ",".join(returned), "--reason", "AC04", "--operator",
                                   "ops.li", "--store", url)
    assert done.returncode == 0, done.stderr
    states = {p: (await store.payment(p)).state for p in pids}  # type: ignore[union-attr]
    assert {p for p, s in states.items() if s == "RETURNED"} == set(returned)
    assert {s for p, s in states.items() if p not in returned} == {"SETTLED"}
    history = await store.history(returned[0])
    assert "partial return of batch" in history[-1].cause and "ops.li" in history[-1].cause
    await rig.app.poster.post_available()
    after = {b.account: b.net for b in await rig.app.poster.ledger.balances()}
    for o, p in zip(orders, pids, strict=True):
        account = f"customer:{o.debtor.account}"
        credited = before.get(account, 0) - after.get(account, 0)  # net is debits - credits
        assert credited == (o.amount if p in returned else 0)  # exactly those, to the fen
    assert (await check_ledger(rig.app.poster.ledger)).balanced


async def test_the_channel_returns_a_whole_batch(rig: Rig) -> None:
    _, pids = await _settled_batch(rig, 6, seed=9)
    (batch,) = await rig.app.store.batches()
    assert rig.beps.port is not None
    from simulators.link import admin_request

    answer = await admin_request("127.0.0.1", rig.beps.port, {
        "op": "return", "end_to_end_id": batch.end_to_end_id, "reason": "AC04"})
    assert answer == {"ok": True, "state": "RETURNED"}
    for _ in range(300):
        states = {(await rig.app.store.payment(p)).state for p in pids}  # type: ignore[union-attr]
        if states == {"RETURNED"}:
            break
        await asyncio.sleep(0.02)
    assert states == {"RETURNED"}
    assert (await rig.app.store.batch(batch.batch_id)).state == "RETURNED"  # type: ignore[union-attr]
    await rig.app.poster.post_available()
    balances = {b.account: b.net for b in await rig.app.poster.ledger.balances()}
    assert balances.get("clearing:BEPS", 0) == 0  # out with the batch, back with the return
    assert (await check_ledger(rig.app.poster.ledger)).balanced


async def test_a_lost_batch_reply_is_inquired_and_an_operator_can_push_it(
        store_url: str) -> None:
    clock = VirtualClock(START)
    # the package carrying the batch is booked, its acknowledgement lost
    beps = BepsSimulator(BepsConfig(), clock, seed=4,
                         faults=FaultPlan(rules={"pacs.008": FaultRule(drop=1.0)}))
    config = SwitchConfig(
        server=ServerConfig(port=0), store=StoreConfig(),
        clients={CLIENT_ID: ClientConfig(secret=CLIENT_SECRET)},
        channels={"beps": BepsLinkConfig(port=await beps.start(), reply_timeout_s=10,
                                         pending_timeout_s=60, package_wait_s=1.0)})
    app = SwitchApp(config, store_url=store_url, clock=clock)
    await app.start(port=0)
    rig = Rig(app, beps, clock)
    try:
        orders = [msgspec.structs.replace(o, creditor=PAYEES[1]) for o in micro(5, 10, "U")]
        async with await SwitchClient.connect("127.0.0.1", app.port or 0, CLIENT_ID,
                                              CLIENT_SECRET) as client:
            for o in orders:
                await client.submit(o)
            await rig.advance_to(START.replace(minute=10, second=30))  # closed and sent
            (batch,) = await app.store.batches()
            for _ in range(300):  # no answer: the batch and its members are UNKNOWN
                b = await app.store.batch(batch.batch_id)
                if b is not None and b.state == "UNKNOWN":
                    break
                clock.advance(timedelta(seconds=5))
                await asyncio.sleep(0.02)
            assert b is not None and b.state == "UNKNOWN"
            states = {client.statuses[o.client_order_id].state for o in orders}
            assert states == {"UNKNOWN"}
            # an operator pushes it on: the switch inquires (same ids; BEPS holds it)
            done = await asyncio.to_thread(_cli, "batches", "retry", batch.batch_id,
                                           "--store", app.store.url)
            assert done.returncode == 0, done.stderr
            for _ in range(200):
                if not (await app.store.batch(batch.batch_id)).retry:  # type: ignore[union-attr]
                    break
                await asyncio.sleep(0.05)
            await rig.advance_to(START.replace(minute=31, second=0))  # the session settles it
            finals = [await client.wait_final(o.client_order_id, 60) for o in orders]
        assert {f.state for f in finals} == {"SETTLED"}
        assert beps.received_count(batch.end_to_end_id) == 1  # never resent: inquired
        inquiries = [m for m in await app.store.messages(batch.batch_id)
                     if m.kind.startswith("pacs.028")]
        assert inquiries
    finally:
        await app.stop()
        await beps.stop()


def test_the_batching_benchmark_runs_and_reports_its_baseline() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.batching", "--members", "2000",
                           "--json"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert figures["members"] == 2000
    assert figures["members_batched_per_s"] > 0 and figures["plain_insert_rows_per_s"] > 0
