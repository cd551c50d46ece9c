"""HVPS: the simulator and the adapter over loopback TCP on one virtual clock.

Gross settlement, reject families (ISO codes, native PRxx codes through the adapter's table),
timeouts resolved by inquiry, lost / late / doubled replies, a dropped line, the business-day
window, the funds queue and its return at window close, the end-of-day camt.053, replayable
traffic, and an order through the whole switch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from accounting.poster import check_ledger
from adapters import adapter_class
from adapters.base import ChannelStatus, Outcome
from adapters.hvps import HVPS_REASONS, HvpsAdapter, HvpsLinkConfig
from messages.iso20022 import TxStatus, parse_camt053
from routing import load_catalogue
from simulators import simulator_class
from simulators.books import ItemState
from simulators.faults import FaultPlan, FaultRule, Latency
from simulators.hvps import EXPIRED, QUEUED, HvpsConfig, HvpsSimulator
from simulators.link import admin_request
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import VirtualClock
from switch.config import BankConfig, ClientConfig, ServerConfig, SwitchConfig, parse_config
from switch.order import Party, Payment
from tests.channel_pair import Pair, assert_traffic_valid, order, payment
from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.xsd_oracle import assert_valid

SH = ZoneInfo("Asia/Shanghai")
US = "102100099996"  # the switch's bank (BankConfig default)
THEM = "103100000026"
CLOSED = "6222000000000404"
BLOCKED = "6222000000000406"
DEBTOR = Party(account="6217000000000001", name="Zhang San", agent=US)
CREDITOR = Party(account="6222000000000001", name="Li Si", agent=THEM)
MONDAY = date(2026, 3, 2)
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)


def sh(y: int, m: int, d: int, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=SH)


def pay(n: int, amount: int = 10_000_000, creditor: Party = CREDITOR, **extra: Any) -> Payment:
    return payment(n, order(n, amount, DEBTOR, creditor, **extra))


async def hvps_pair(at: datetime = MONDAY_10, *, config: HvpsConfig | None = None,
                    faults: FaultPlan | None = None, seed: int = 0, sender: str = US,
                    **link: object) -> Pair:
    """Simulator and adapter on one virtual clock; the adapter built from its config."""
    clock = VirtualClock(at.astimezone(UTC))
    sim = HvpsSimulator(config or HvpsConfig(participants={US: 10**13},
                                              closed_accounts=(CLOSED,),
                                              blocked_accounts=(BLOCKED,)),
                        clock, seed=seed, faults=faults)
    sim.server.traffic = []
    port = await sim.start()
    cfg = HvpsLinkConfig(port=port, **{"reply_timeout_s": 5.0, **link})  # type: ignore[arg-type]
    adapter = HvpsAdapter.from_config(cfg, clock=clock, bank=BankConfig(cnaps_code=sender))
    adapter._link.backoff, adapter._link.backoff_cap = 0.02, 0.1
    pair = Pair(sim, adapter, clock)
    adapter.on_status = pair.seen.append
    await adapter.start()
    return pair


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    p = await hvps_pair()
    yield p
    await p.close()


# -- registry, configuration, catalogue --------------------------------------------------


def test_registered_and_consistent_with_the_routing_catalogue() -> None:
    assert simulator_class("HVPS") is HvpsSimulator
    assert adapter_class("hvps") is HvpsAdapter and HvpsAdapter.channel == "HVPS"
    catalogue = load_catalogue()
    spec, cfg = catalogue.channels["HVPS"].calendar, HvpsConfig()
    assert (spec.kind, spec.opens, spec.opens_previous_day, spec.cutoff) == (
        "window", cfg.opens, True, cfg.cutoff)
    assert (cfg.holidays, cfg.makeup_days) == (catalogue.calendar.holidays,
                                              catalogue.calendar.makeup_days)
    assert catalogue.timezone == HvpsSimulator.timezone


def test_switch_configuration_reads_channels_hvps() -> None:
    cfg = parse_config({"channels": {"hvps": {"port": 7601, "reason_map": {"PR09": "AG01"},
                                              "window_close": "17:45"}}})
    link = cfg.channels["hvps"]
    assert isinstance(link, HvpsLinkConfig)
    assert (link.reason_map, link.window_close, link.reply_timeout_s) == (
        {"PR09": "AG01"}, "17:45", 20.0)
    assert HvpsLinkConfig(port=1).reason_map == dict(HVPS_REASONS)
    with pytest.raises(ValueError):
        HvpsLinkConfig(port=1, window_close="half past five")
    with pytest.raises(ValueError, match="day_switch"):
        HvpsConfig(cutoff="17:45")


# -- settlement and rejects --------------------------------------------------------------


async def test_settles_gross_on_the_business_day(pair: Pair) -> None:
    p = pay(1, 123_456_789)  # no amount cap: 1.23 million CNY
    await pair.adapter.submit(p)
    assert await pair.final(p) == [(Outcome.SETTLED, None)]
    assert pair.sim.balances() == {US: 10**13 - 123_456_789, THEM: 123_456_789}
    item = pair.sim.items()[p.end_to_end_id]
    assert (item.state, item.business_date) == (ItemState.SETTLED, MONDAY)


@pytest.mark.parametrize(("p", "reason"), [
    (pay(2, creditor=Party(account="6222000000000001", name="Li Si", agent="ICBKCNBJXXX")),
     "RC01"),
    (pay(3, creditor=Party(account=CLOSED, name="Li Si", agent=THEM)), "AC04"),
    (pay(4, creditor=Party(account=BLOCKED, name="Li Si", agent=THEM)), "AC06"),
    (pay(5, currency="USD"), "AM03"),
])
async def test_rejects_carry_the_iso_reason(pair: Pair, p: Payment, reason: str) -> None:
    await pair.adapter.submit(p)
    assert await pair.final(p) == [(Outcome.REJECTED, reason)]
    assert pair.sim.balances()[US] == 10**13


@pytest.mark.parametrize(("native", "reason_map", "expected"), [
    ("PR09", None, "NARR"),  # the default table: rejected, the reason in words
    ("PR09", {"PR09": "AG01"}, "AG01"),  # the operator's table wins
    ("PR32", None, "AM04"),
    ("PR77", None, "NARR"),  # a code no table knows is not guessed at
])
async def test_native_codes_map_through_the_reason_table(
        native: str, reason_map: dict[str, str] | None, expected: str) -> None:
    link = {"reason_map": reason_map} if reason_map else {}
    pair = await hvps_pair(faults=FaultPlan(rules={"pacs.008": FaultRule(
        reject=1.0, reject_code=native)}), **link)
    try:
        p = pay(6)
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(Outcome.REJECTED, expected)]
        assert pair.detail(p) == [native]  # the channel's own code stays in the detail
        assert pair.sim.items()[p.end_to_end_id].reason == native
    finally:
        await pair.close()


# -- timeouts, lost and doubled replies, the line ----------------------------------------


async def test_dropped_reply_is_unknown_then_inquiry_finds_it_settled() -> None:
    pair = await hvps_pair(faults=FaultPlan(rules={"pacs.008": FaultRule(drop=1.0)}))
    try:
        p = pay(7)
        await pair.adapter.submit(p)
        await pair.until(lambda: p.end_to_end_id in pair.sim.items())
        await pair.set(pair.clock.now() + timedelta(seconds=4.999))
        assert pair.of(p) == []  # the reply deadline is 5 s of the injected clock
        await pair.set(pair.clock.now() + timedelta(milliseconds=1))
        assert pair.of(p) == [(Outcome.UNKNOWN, None)]
        await pair.adapter.inquire(p)
        assert await pair.final(p, 2) == [(Outcome.UNKNOWN, None), (Outcome.SETTLED, None)]
        assert pair.sim.received_count(p.end_to_end_id) == 1  # asked about, never sent again
        assert pair.sim.items()[p.end_to_end_id].state is ItemState.SETTLED
    finally:
        await pair.close()


async def test_late_reply_resolves_unknown() -> None:
    pair = await hvps_pair(faults=FaultPlan(rules={"pacs.008": FaultRule(delay=1.0,
                                                                          delay_ms=8_000)}))
    try:
        p = pay(8)
        await pair.adapter.submit(p)
        await pair.until(lambda: p.end_to_end_id in pair.sim.items())
        await pair.set(pair.clock.now() + timedelta(seconds=5))
        assert pair.of(p) == [(Outcome.UNKNOWN, None)]
        pair.clock.advance(timedelta(seconds=3))
        assert await pair.final(p, 2) == [(Outcome.UNKNOWN, None), (Outcome.SETTLED, None)]
    finally:
        await pair.close()


async def test_inquiry_of_a_payment_never_sent_is_not_found(pair: Pair) -> None:
    p = pay(9)
    await pair.adapter.inquire(p)
    assert await pair.final(p) == [(Outcome.NOT_FOUND, None)]


async def test_duplicate_reply_has_one_effect() -> None:
    pair = await hvps_pair(faults=FaultPlan(rules={"pacs.008": FaultRule(duplicate=1.0)}))
    try:
        p = pay(10, 5_000)
        await pair.adapter.submit(p)
        await pair.final(p)
        await pair.quiet()
        assert pair.of(p) == [(Outcome.SETTLED, None)]
        assert pair.sim.balances()[THEM] == 5_000
        assert [way for way, _ in pair.sim.server.traffic] == ["in", "out", "out"]
    finally:
        await pair.close()


@pytest.mark.parametrize("fault", [FaultRule(close=1.0), FaultRule(partial=1.0)])
async def test_line_dropped_before_or_mid_reply_reconnects_and_inquiry_settles(
        fault: FaultRule) -> None:
    pair = await hvps_pair(faults=FaultPlan(rules={"pacs.008": fault}))
    try:
        p = pay(11)
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(Outcome.UNKNOWN, None)]
        await pair.until(lambda: pair.adapter.connected, timeout=3.0)
        await pair.adapter.inquire(p)
        assert await pair.final(p, 2) == [(Outcome.UNKNOWN, None), (Outcome.SETTLED, None)]
        assert pair.sim.received_count(p.end_to_end_id) == 1
    finally:
        await pair.close()


# -- the business-day window -------------------------------------------------------------


@pytest.mark.parametrize(("at", "business_day"), [
    (sh(2026, 3, 2, 17, 14, 59), MONDAY),  # a second before the customer cut-off
    (sh(2026, 3, 2, 17, 15), None),  # the cut-off
    (sh(2026, 3, 2, 18, 0), None),  # after the window closed, before tomorrow's opens
    (sh(2026, 3, 1, 20, 29, 59), None),  # Sunday, half a minute before Monday opens
    (sh(2026, 3, 1, 20, 30), MONDAY),  # Monday's day opens the evening before
    (sh(2026, 3, 7, 10, 0), None),  # Saturday
    (sh(2026, 5, 4, 12, 0), None),  # Labour Day holiday
    (sh(2026, 5, 5, 20, 30), date(2026, 5, 6)),  # the evening before the first working day
    (sh(2026, 5, 9, 10, 0), date(2026, 5, 9)),  # a make-up Saturday is a working day
    (sh(2026, 5, 8, 21, 0), date(2026, 5, 9)),  # ... and opens the evening before
])
async def test_window_and_working_days(at: datetime, business_day: date | None) -> None:
    pair = await hvps_pair(at)
    try:
        p = pay(20)
        await pair.adapter.submit(p)
        if business_day is None:
            assert await pair.final(p) == [(Outcome.REJECTED, "TM01")]
        else:
            assert await pair.final(p) == [(Outcome.SETTLED, None)]
            assert pair.sim.items()[p.end_to_end_id].business_date == business_day
    finally:
        await pair.close()


async def test_day_switch_closes_each_working_day_on_the_clock() -> None:
    pair = await hvps_pair(sh(2026, 4, 30, 10, 0))  # Thursday before the May holiday
    try:
        await pair.set(sh(2026, 5, 11, 12, 0))
        assert pair.sim.closed_days() == [date(2026, 4, 30), date(2026, 5, 6), date(2026, 5, 7),
                                          date(2026, 5, 8), date(2026, 5, 9)]
        again = await pair.admin(op="day_switch", date="2026-05-08")
        assert again["business_date"] == "2026-05-08" and again["returned"] == []
        p = pay(21)
        await pair.adapter.submit(p)  # Monday 11 May is still open
        assert await pair.final(p) == [(Outcome.SETTLED, None)]
        closed = await pair.admin(op="day_switch")  # an operator closes today early ...
        assert closed["business_date"] == "2026-05-11"
        q = pay(22)
        await pair.adapter.submit(q)
        assert await pair.final(q) == [(Outcome.REJECTED, "TM01")]  # ... and it stays shut
    finally:
        await pair.close()


# -- the queue, the clearing window and the window close ---------------------------------


async def test_a_day_of_cut_offs_queue_funds_and_window_close() -> None:
    pair = await hvps_pair(sh(2026, 3, 2, 16, 0), config=HvpsConfig(participants={US: 5_000}),
                           pending_timeout_s=5.0)
    try:
        p1, p2, p3, p4 = pay(31, 4_000), pay(32, 3_000), pay(33, 500), pay(34, 100)
        await pair.adapter.submit(p1)
        assert await pair.final(p1) == [(Outcome.SETTLED, None)]
        await pair.adapter.submit(p2)
        assert await pair.final(p2) == [(Outcome.PENDING, None)]
        assert pair.detail(p2) == ["queued for settlement: insufficient funds"]
        await pair.adapter.submit(p3)  # 1,000 left would pay it, but the queue is FIFO
        assert await pair.final(p3) == [(Outcome.PENDING, None)]
        assert [i.end_to_end_id for i in pair.sim.queued(US)] == [p2.end_to_end_id,
                                                                  p3.end_to_end_id]
        await pair.set(sh(2026, 3, 2, 17, 15))  # customer cut-off
        await pair.adapter.submit(p4)
        assert await pair.final(p4) == [(Outcome.REJECTED, "TM01")]
        await pair.set(sh(2026, 3, 2, 17, 20))  # the clearing window: the bank raises funds
        funded = await pair.admin(op="fund", participant=US, amount=2_000)
        assert (funded["settled"], funded["balance"]) == ([p2.end_to_end_id], 0)
        assert await pair.final(p2, 2) == [(Outcome.PENDING, None), (Outcome.SETTLED, None)]
        queue = await pair.admin(op="queue")
        assert [q["end_to_end_id"] for q in queue["queue"]] == [p3.end_to_end_id]
        await pair.set(sh(2026, 3, 2, 17, 29, 59))
        assert pair.of(p3) == [(Outcome.PENDING, None)]  # far past 5 s, still not UNKNOWN
        await pair.set(sh(2026, 3, 2, 17, 30))  # window close
        assert await pair.final(p3, 2) == [(Outcome.PENDING, None), (Outcome.REJECTED, "AM04")]
        assert pair.detail(p3)[-1] == f"{EXPIRED} returned at window close: insufficient funds"
        item = pair.sim.items()[p3.end_to_end_id]
        assert (item.state, item.reason) == (ItemState.REJECTED, EXPIRED)
        assert pair.sim.balances() == {US: 0, THEM: 7_000}
        assert pair.sim.queued() == []
        assert pair.sim.closed_days() == [MONDAY]

        stmt = await pair.adapter.fetch_statement(MONDAY)
        assert stmt.format == "camt.053.001.08"
        assert_valid(stmt.data, "camt.053.001.08")
        (s,) = parse_camt053(stmt.data).statements
        assert s.account == US and s.balanced()
        assert {b.type: b.signed_amount() for b in s.balances} == {"OPBD": 5_000, "CLBD": 0}
        assert [e.signed_amount() for e in s.entries] == [-4_000, 2_000, -3_000]  # 2,000 funds
        assert [s.entries[i].transactions[0].end_to_end_id for i in (0, 2)] == [
            p1.end_to_end_id, p2.end_to_end_id]
        assert s.created_at == sh(2026, 3, 2, 17, 30)  # made at the day switch ...
        assert (await pair.adapter.fetch_statement(MONDAY)).data == stmt.data  # ... and kept

        assert assert_traffic_valid(pair.sim.server.traffic) == {"pacs.008.001.08",
                                                                 "pacs.002.001.10"}
        queued_reply = next(d for k, d in pair.sim.server.traffic
                            if k == "out" and b"<TxSts>PDNG</TxSts>" in d)
        assert f"<Prtry>{QUEUED}</Prtry>".encode() in queued_reply
    finally:
        await pair.close()


async def test_credit_from_another_bank_and_a_return_release_queues() -> None:
    pair = await hvps_pair(config=HvpsConfig(participants={US: 1_000, THEM: 0}))
    them = HvpsAdapter("127.0.0.1", pair.port, clock=pair.clock, sender_bank=THEM,
                       reply_timeout=5.0)
    theirs: list[ChannelStatus] = []
    them.on_status = theirs.append
    await them.start()
    try:
        back = payment(40, order(40, 300, Party(account="6222000000000777", name="Wang Wu",
                                                agent=THEM), DEBTOR))
        await them.submit(back)
        await pair.until(lambda: [s.outcome for s in theirs] == [Outcome.PENDING])
        p = pay(41, 1_000)  # all US has: THEM's queued item is paid from it at once
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(Outcome.SETTLED, None)]
        await pair.until(lambda: [s.outcome for s in theirs] == [Outcome.PENDING,
                                                                  Outcome.SETTLED])
        assert pair.sim.balances() == {US: 300, THEM: 700}
        q = pay(42, 1_000)  # 300 is not enough: queued
        await pair.adapter.submit(q)
        assert await pair.final(q) == [(Outcome.PENDING, None)]
        await pair.admin(op="fund", participant=THEM, amount=300)  # so it can pay back
        answer = await pair.admin(op="return", end_to_end_id=p.end_to_end_id, reason="AC04")
        assert answer["state"] == "RETURNED"  # 1,000 comes back and pays the queued 1,000
        await pair.until(lambda: len(pair.of(p)) == 2 and len(pair.of(q)) == 2)
        assert pair.of(p)[-1] == (Outcome.RETURNED, "AC04")
        assert pair.of(q)[-1] == (Outcome.SETTLED, None)
        assert pair.sim.balances() == {US: 300, THEM: 1_000}
        assert_traffic_valid(pair.sim.server.traffic)
        assert any(d.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:'
                                b'iso:std:iso:20022:tech:xsd:pacs.004')
                   for _, d in pair.sim.server.traffic)
    finally:
        await them.close()
        await pair.close()


async def test_pending_deadline_is_the_window_close_plus_the_pending_timeout(pair: Pair) -> None:
    queued = TxStatus("E", "PDNG", reason_proprietary=QUEUED)
    # 10:00 on Monday: the window closes at 17:30, then the usual pending timeout (5 s)
    assert pair.adapter.pending_timeout(queued) == 7.5 * 3600 + 5.0
    assert pair.adapter.pending_timeout(TxStatus("E", "ACTC")) == 5.0
    pair.clock.set(sh(2026, 3, 2, 21, 0))  # the evening before Tuesday's day
    assert pair.adapter.pending_timeout(queued) == 20.5 * 3600 + 5.0


# -- replay ------------------------------------------------------------------------------


async def test_same_seed_plan_and_input_give_byte_identical_traffic() -> None:
    plan = FaultPlan(rules={"pacs.008": FaultRule(duplicate=0.2, garbage=0.1, reject=0.1,
                                                  reject_code="PR09")},
                     latency=Latency(median_ms=5, p99_ms=50))

    async def run(seed: int) -> list[tuple[str, bytes]]:
        pair = await hvps_pair(sh(2026, 3, 2, 16, 0), faults=plan, seed=seed,
                               config=HvpsConfig(participants={US: 40_000}))
        pair.adapter._msg_prefix = "PFIXEDPREFIX0"  # our message ids are random per process
        try:
            ps = [pay(100 + i, 1_000 + i) for i in range(60)]
            for p in ps:
                await pair.adapter.submit(p)
            await pair.until(lambda: len(pair.sim.items()) == len(ps))
            await pair.set(sh(2026, 3, 2, 16, 1))  # every delayed reply goes out
            await pair.admin(op="fund", participant=US, amount=2_000)
            await pair.set(sh(2026, 3, 2, 17, 30))  # the rest go back at window close
            return list(pair.sim.server.traffic)
        finally:
            await pair.close()

    first, second, other = await run(9), await run(9), await run(10)
    assert first == second
    assert first != other
    assert len([t for t in first if t[0] == "in"]) == 60
    assert any(b"<Prtry>PR32</Prtry>" in d for _, d in first)  # the window close is in it


# -- through the whole switch ------------------------------------------------------------


async def test_through_the_switch_settles_queues_and_returns_at_window_close(
        store_url: str) -> None:
    clock = VirtualClock(sh(2026, 3, 2, 10, 0).astimezone(UTC))
    sim = HvpsSimulator(HvpsConfig(participants={US: 20_000_000}), clock)
    sim_port = await sim.start()
    config = SwitchConfig(server=ServerConfig(port=0),
                          clients={CLIENT_ID: ClientConfig(secret=CLIENT_SECRET)},
                          channels={"hvps": HvpsLinkConfig(port=sim_port, reply_timeout_s=5)})
    app = SwitchApp(config, store_url=store_url, clock=clock)
    port = await app.start(port=0)
    try:
        async with await SwitchClient.connect("127.0.0.1", port, CLIENT_ID, CLIENT_SECRET) as c:
            big = order(1, 10_000_000, DEBTOR, CREDITOR, designated_channel="HVPS")
            await c.submit(big)
            assert (await c.wait_final(big.client_order_id, timeout=10)).state == "SETTLED"
            short = order(2, 15_000_000, DEBTOR, CREDITOR, designated_channel="HVPS")
            late = order(3, 12_000_000, DEBTOR, CREDITOR, designated_channel="HVPS")
            await c.submit(short)
            await c.submit(late)
            for _ in range(500):
                if len(sim.queued(US)) == 2 and c.statuses[late.client_order_id].state \
                        == "SUBMITTED":
                    break
                await asyncio.sleep(0.01)
            assert [i.amount for i in sim.queued(US)] == [15_000_000, 12_000_000]
            assert c.statuses[short.client_order_id].state == "SUBMITTED"  # waiting, not lost
            await admin_request("127.0.0.1", sim_port, {"op": "fund", "participant": US,
                                                        "amount": 5_000_000})
            assert (await c.wait_final(short.client_order_id, timeout=10)).state == "SETTLED"
            clock.set(sh(2026, 3, 2, 17, 30).astimezone(UTC))
            final = await c.wait_final(late.client_order_id, timeout=10)
            assert (final.state, final.reason) == ("REJECTED", "AM04")
        await app.poster.post_available()
        assert (await check_ledger(app.poster.ledger)).balanced
        payments = [await app.store.payment_by_client_key(CLIENT_ID, o.client_order_id)
                    for o in (big, short, late)]
        assert [p.channel for p in payments if p is not None] == ["HVPS"] * 3
        assert sim.balances()[THEM] == 25_000_000
    finally:
        await app.stop()
        await sim.stop()
