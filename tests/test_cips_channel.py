"""CIPS: the simulator and the adapter over loopback TCP on one virtual clock.

Business messages (head.001 + Document) both ways, the switch as an indirect participant behind
its direct participant, LEI checks, the 5x24+4 business day, reject families, timeouts resolved
by inquiry, lost / doubled replies, a dropped line, returns, the end-of-day camt.053, replayable
traffic, and an order through the whole switch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from accounting.poster import check_ledger
from adapters import adapter_class
from adapters.base import Outcome
from adapters.cips import CipsAdapter, CipsLinkConfig
from messages.iso20022 import (
    Agent,
    AppHeader,
    build_business_message,
    build_pacs008,
    parse_business_message,
    parse_camt053,
    parse_pacs002,
    parse_pacs008,
)
from messages.iso20022.lei import with_check_digits
from routing import load_catalogue
from simulators import simulator_class
from simulators.books import ItemState
from simulators.cips import CipsConfig, CipsSimulator
from simulators.faults import FaultPlan, FaultRule, Latency
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import VirtualClock
from switch.config import BankConfig, ClientConfig, ServerConfig, SwitchConfig, parse_config
from switch.order import Party, Payment
from tests.channel_pair import Pair, RawLink, assert_traffic_valid, order, payment
from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.xsd_oracle import assert_valid

SH = ZoneInfo("Asia/Shanghai")
DIRECT = "ICBKCNBJXXX"  # the direct participant the switch reaches CIPS through
CIPS = "CIPSCNSHXXX"
BANK = BankConfig()  # PYSWCNSHXXX, LEI 549300PAYSWITCH0CB33
THEIRS = "HSBCHKHHXXX"
THEIR_LEI = with_check_digits("2138009ZQ4PHXK2LRB")
WRONG_CHECK_DIGITS = THEIR_LEI[:18] + ("03" if THEIR_LEI[18:] != "03" else "04")
CLOSED = "HK0000000000404"
DEBTOR = Party(account="6217000000000001", name="Zhang San", agent=BANK.bic)
CREDITOR = Party(account="HK0000000000001", name="Chan Tai Man", agent=THEIRS, country="HK",
                 lei=THEIR_LEI)
MONDAY = date(2026, 3, 2)
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)


def sh(y: int, m: int, d: int, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=SH)


def pay(n: int, amount: int = 1_000_000, creditor: Party = CREDITOR, **extra: Any) -> Payment:
    return payment(n, order(n, amount, DEBTOR, creditor, **extra))


def with_lei(lei: str | None) -> Party:
    return Party(account=CREDITOR.account, name=CREDITOR.name, agent=THEIRS, country="HK",
                 lei=lei)


async def cips_pair(at: datetime = MONDAY_10, *, config: CipsConfig | None = None,
                    faults: FaultPlan | None = None, seed: int = 0, bank: BankConfig = BANK,
                    **link: Any) -> Pair:
    clock = VirtualClock(at.astimezone(UTC))
    sim = CipsSimulator(config or CipsConfig(closed_accounts=(CLOSED,)), clock, seed=seed,
                        faults=faults)
    sim.server.traffic = []
    port = await sim.start()
    cfg = CipsLinkConfig(port=port, **{"reply_timeout_s": 5.0, **link})
    adapter = CipsAdapter.from_config(cfg, clock=clock, bank=bank)
    adapter._link.backoff, adapter._link.backoff_cap = 0.02, 0.1
    pair = Pair(sim, adapter, clock)
    adapter.on_status = pair.seen.append
    await adapter.start()
    return pair


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    p = await cips_pair()
    yield p
    await p.close()


# -- registry, configuration, catalogue --------------------------------------------------


def test_registered_and_consistent_with_the_routing_catalogue() -> None:
    assert simulator_class("cips") is CipsSimulator
    assert adapter_class("cips") is CipsAdapter and CipsAdapter.channel == "CIPS"
    catalogue = load_catalogue()
    spec, cfg = catalogue.channels["CIPS"], CipsConfig()
    assert (spec.calendar.kind, spec.calendar.opens, spec.calendar.opens_previous_day,
            spec.calendar.cutoff) == ("window", cfg.opens, True, cfg.cutoff)
    assert spec.requires_lei and cfg.require_lei and spec.agent_scheme == "BIC"
    assert (cfg.holidays, cfg.makeup_days) == (catalogue.calendar.holidays,
                                              catalogue.calendar.makeup_days)
    assert CipsConfig().indirect == {BANK.bic: DIRECT}  # the switch's default bank, behind ICBC


def test_switch_configuration_reads_channels_cips() -> None:
    cfg = parse_config({"channels": {"cips": {"port": 7605, "direct_participant": "BKCHCNBJXXX"}}})
    link = cfg.channels["cips"]
    assert isinstance(link, CipsLinkConfig)
    assert (link.direct_participant, link.operator_bic, link.reply_timeout_s) == (
        "BKCHCNBJXXX", CIPS, 60.0)


# -- settlement, envelopes, LEIs ---------------------------------------------------------


async def test_settles_on_the_direct_participants_account_in_business_messages(
        pair: Pair) -> None:
    p = payment(1, order(1, 2_500_000, DEBTOR, CREDITOR, charge_bearer="DEBT"), MONDAY)
    await pair.adapter.submit(p)
    assert await pair.final(p) == [(Outcome.SETTLED, None)]
    assert pair.sim.balances() == {DIRECT: 10**13 - 2_500_000, THEIRS: 2_500_000}
    item = pair.sim.items()[p.end_to_end_id]
    assert (item.state, item.debtor_agent, item.debtor_bank, item.business_date) == (
        ItemState.SETTLED, DIRECT, BANK.bic, MONDAY)

    (sent, answer) = [d for _, d in pair.sim.server.traffic]
    header, document = parse_business_message(sent)
    assert (header.sender.bic, header.receiver.bic, header.msg_def_id) == (
        DIRECT, CIPS, "pacs.008.001.08")
    doc = parse_pacs008(document)
    assert header.biz_msg_id == doc.msg_id
    assert doc.instructing_agent is not None and doc.instructing_agent.bic == DIRECT
    (tx,) = doc.transactions
    assert (tx.debtor_agent.bic, tx.debtor_agent.lei) == (BANK.bic, BANK.lei)
    assert (tx.creditor_agent.bic, tx.creditor_agent.lei) == (THEIRS, THEIR_LEI)
    assert (tx.charge_bearer, tx.settlement_date) == ("DEBT", MONDAY)
    reply_header, reply = parse_business_message(answer)
    assert (reply_header.sender.bic, reply_header.receiver.bic) == (CIPS, DIRECT)
    assert reply_header.biz_msg_id == parse_pacs002(reply).msg_id
    assert assert_traffic_valid(pair.sim.server.traffic) == {
        "head.001.001.02", "pacs.008.001.08", "pacs.002.001.10"}


@pytest.mark.parametrize(("bank", "creditor", "reason"), [
    (BANK, with_lei(None), "RC04"),  # the creditor agent's LEI is missing
    (BANK, with_lei(WRONG_CHECK_DIGITS), "RC04"),
    (BankConfig(lei=None), CREDITOR, "RC03"),  # ours is missing
    (BankConfig(lei="549300PAYSWITCH0CB34"), CREDITOR, "RC03"),  # ours has wrong check digits
])
async def test_missing_or_invalid_agent_lei_is_rejected(
        bank: BankConfig, creditor: Party, reason: str) -> None:
    pair = await cips_pair(bank=bank)
    try:
        p = pay(2, creditor=creditor)
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(Outcome.REJECTED, reason)]
        assert pair.sim.balances()[DIRECT] == 10**13
        assert_traffic_valid(pair.sim.server.traffic)
    finally:
        await pair.close()


async def test_lei_not_required_by_configuration() -> None:
    pair = await cips_pair(config=CipsConfig(require_lei=False))
    try:
        p = pay(3, creditor=with_lei(None))
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(Outcome.SETTLED, None)]
    finally:
        await pair.close()


def _business_message(document: bytes) -> bytes:
    header = AppHeader(sender=Agent(bic=DIRECT), receiver=Agent(bic=CIPS), biz_msg_id="B1",
                       msg_def_id="pacs.008.001.08", created_at=MONDAY_10)
    return build_business_message(header, document)


async def test_lei_outside_the_iso17442_layout_fails_the_schema_ff01(pair: Pair) -> None:
    good = build_pacs008(pair.adapter.pacs008(pay(4), "MBADLEI"))
    bad = good.replace(THEIR_LEI.encode(), b"NOT-AN-LEI")
    raw = await RawLink.open(pair.port)
    try:
        await raw.send(_business_message(good.replace(b"MBADLEI", b"MGOOD").replace(
            b"E2E00000004", b"E2E00000005")))
        header, reply = parse_business_message(await raw.recv())
        assert parse_pacs002(reply).transactions[0].status == "ACSC"
        await raw.send(_business_message(bad))
        header, reply = parse_business_message(await raw.recv())
        assert header.receiver.bic == DIRECT
        report = parse_pacs002(reply)
        assert (report.orgnl_msg_id, report.group_status) == ("MBADLEI", "RJCT")
        (st,) = report.transactions
        assert (st.status, st.reason, st.additional_info) == ("RJCT", "FF01", "MX_BAD_VALUE")
        assert "E2E00000004" not in pair.sim.items()
        await raw.send(good.replace(b"MBADLEI", b"MBARE"))  # no header at all
        header, reply = parse_business_message(await raw.recv())
        report = parse_pacs002(reply)
        assert (report.orgnl_msg_id, report.transactions[0].reason) == ("MBARE", "FF01")
    finally:
        raw.close()


async def test_a_message_not_addressed_to_cips_is_refused_and_nothing_booked() -> None:
    pair = await cips_pair(operator_bic="NOTCCNSHXXX")
    try:
        p = pay(5)
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(Outcome.UNKNOWN, None)]  # it hung up: nobody to answer
        assert pair.sim.items() == {}
        await pair.until(lambda: pair.adapter.connected)
    finally:
        await pair.close()


# -- reject families ---------------------------------------------------------------------


@pytest.mark.parametrize(("p", "bank", "config", "reason"), [
    (pay(10, currency="USD"), BANK, None, "AM03"),
    (pay(11, creditor=Party(account=CLOSED, name="Chan", agent=THEIRS, country="HK",
                            lei=THEIR_LEI)), BANK, None, "AC04"),
    (pay(12), BankConfig(bic="OTHRCNSHXXX"), None, "RC01"),  # not an indirect participant
    (pay(13), BANK, CipsConfig(participants={"BKCHCNBJXXX": 10**9}), "RC01"),  # nor ours direct
    (pay(14, 2_000), BANK, CipsConfig(participants={DIRECT: 1_999}), "AM04"),
])
async def test_rejects_carry_the_iso_reason(p: Payment, bank: BankConfig,
                                            config: CipsConfig | None, reason: str) -> None:
    pair = await cips_pair(bank=bank, config=config)
    try:
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(Outcome.REJECTED, reason)]
    finally:
        await pair.close()


async def test_native_code_maps_through_the_configured_table() -> None:
    pair = await cips_pair(faults=FaultPlan(rules={"pacs.008": FaultRule(
        reject=1.0, reject_code="C0301")}), reason_map={"C0301": "AG01"})
    try:
        p = pay(15)
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(Outcome.REJECTED, "AG01")]
        assert pair.detail(p) == ["C0301"]
    finally:
        await pair.close()


# -- the 5x24+4 business day -------------------------------------------------------------


@pytest.mark.parametrize(("at", "business_day"), [
    (sh(2026, 3, 1, 8, 29, 59), None),  # Sunday: Monday's day opens at 08:30 ...
    (sh(2026, 3, 1, 8, 30), MONDAY),  # ... the day before
    (sh(2026, 3, 2, 20, 29, 59), MONDAY),
    (sh(2026, 3, 2, 20, 30), date(2026, 3, 3)),  # Monday's day is over; Tuesday's is open
    (sh(2026, 3, 6, 20, 29, 59), date(2026, 3, 6)),  # Friday
    (sh(2026, 3, 6, 20, 30), None),  # ... then nothing until Sunday 08:30
    (sh(2026, 3, 7, 12, 0), None),  # Saturday
    (sh(2026, 4, 6, 8, 29), None),  # Qingming holiday: Tuesday 7 April opens on the 6th ...
    (sh(2026, 4, 6, 8, 30), date(2026, 4, 7)),
    (sh(2026, 2, 13, 21, 0), date(2026, 2, 14)),  # a make-up Saturday is a business day
    (sh(2026, 2, 14, 20, 30), None),  # then Spring Festival: 24 February opens on the 23rd
])
async def test_business_day_boundaries(at: datetime, business_day: date | None) -> None:
    pair = await cips_pair(at)
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


# -- timeouts, lost and doubled replies, the line ----------------------------------------


async def test_dropped_reply_is_unknown_then_inquiry_finds_it_settled() -> None:
    pair = await cips_pair(faults=FaultPlan(rules={"pacs.008": FaultRule(drop=1.0)}))
    try:
        p = pay(30)
        await pair.adapter.submit(p)
        await pair.until(lambda: p.end_to_end_id in pair.sim.items())
        await pair.set(pair.clock.now() + timedelta(seconds=4.999))
        assert pair.of(p) == []
        await pair.set(pair.clock.now() + timedelta(milliseconds=1))
        assert pair.of(p) == [(Outcome.UNKNOWN, None)]
        await pair.adapter.inquire(p)
        assert await pair.final(p, 2) == [(Outcome.UNKNOWN, None), (Outcome.SETTLED, None)]
        assert pair.sim.received_count(p.end_to_end_id) == 1
        inquiry = parse_business_message(pair.sim.server.traffic[-2][1])[0]
        assert (inquiry.msg_def_id, inquiry.sender.bic) == ("pacs.028.001.03", DIRECT)
    finally:
        await pair.close()


async def test_inquiry_of_a_payment_never_sent_is_not_found(pair: Pair) -> None:
    p = pay(31)
    await pair.adapter.inquire(p)
    assert await pair.final(p) == [(Outcome.NOT_FOUND, None)]


async def test_duplicate_reply_has_one_effect() -> None:
    pair = await cips_pair(faults=FaultPlan(rules={"pacs.008": FaultRule(duplicate=1.0)}))
    try:
        p = pay(32, 7_000)
        await pair.adapter.submit(p)
        await pair.final(p)
        await pair.quiet()
        assert pair.of(p) == [(Outcome.SETTLED, None)]
        assert pair.sim.balances()[THEIRS] == 7_000
        assert [way for way, _ in pair.sim.server.traffic] == ["in", "out", "out"]
    finally:
        await pair.close()


@pytest.mark.parametrize("fault", [FaultRule(close=1.0), FaultRule(partial=1.0)])
async def test_line_dropped_before_or_mid_reply_reconnects_and_inquiry_settles(
        fault: FaultRule) -> None:
    pair = await cips_pair(faults=FaultPlan(rules={"pacs.008": fault}))
    try:
        p = pay(33)
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(Outcome.UNKNOWN, None)]
        await pair.until(lambda: pair.adapter.connected, timeout=3.0)
        await pair.adapter.inquire(p)
        assert await pair.final(p, 2) == [(Outcome.UNKNOWN, None), (Outcome.SETTLED, None)]
        assert pair.sim.received_count(p.end_to_end_id) == 1
    finally:
        await pair.close()


# -- returns and the statement -----------------------------------------------------------


async def test_return_and_the_statement_fixed_at_the_day_switch(pair: Pair) -> None:
    p, q = pay(40, 3_000_000), pay(41, 400_000)
    for x in (p, q):
        await pair.adapter.submit(x)
        assert await pair.final(x) == [(Outcome.SETTLED, None)]
    answer = await pair.admin(op="return", end_to_end_id=q.end_to_end_id, reason="AC03")
    assert answer["state"] == "RETURNED"
    assert await pair.final(q, 2) == [(Outcome.SETTLED, None), (Outcome.RETURNED, "AC03")]
    returned = parse_business_message(pair.sim.server.traffic[-1][1])[0]
    assert (returned.msg_def_id, returned.receiver.bic) == ("pacs.004.001.09", DIRECT)

    await pair.set(sh(2026, 3, 2, 20, 30))  # the day switch
    assert pair.sim.closed_days() == [MONDAY]
    stmt = await pair.adapter.fetch_statement(MONDAY)
    assert (stmt.channel, stmt.format) == ("CIPS", "camt.053.001.08")
    assert_valid(stmt.data, "camt.053.001.08")
    (s,) = parse_camt053(stmt.data).statements
    assert s.account == DIRECT and s.balanced()
    assert [(e.signed_amount(), e.transactions[0].end_to_end_id) for e in s.entries] == [
        (-3_000_000, p.end_to_end_id), (-400_000, q.end_to_end_id), (400_000, q.end_to_end_id)]
    assert s.created_at == sh(2026, 3, 2, 20, 30)
    assert (await pair.adapter.fetch_statement(MONDAY)).data == stmt.data
    assert assert_traffic_valid(pair.sim.server.traffic) >= {"pacs.004.001.09"}


# -- replay ------------------------------------------------------------------------------


async def test_same_seed_plan_and_input_give_byte_identical_traffic() -> None:
    plan = FaultPlan(rules={"pacs.008": FaultRule(duplicate=0.2, garbage=0.1, reject=0.1,
                                                  reject_code="AB05")},
                     latency=Latency(median_ms=5, p99_ms=50))

    async def run(seed: int) -> list[tuple[str, bytes]]:
        pair = await cips_pair(faults=plan, seed=seed)
        pair.adapter._msg_prefix = "PFIXEDPREFIX0"  # our message ids are random per process
        try:
            ps = [pay(100 + i, 1_000 + i, creditor=CREDITOR if i % 7 else with_lei(None))
                  for i in range(50)]
            for p in ps:
                await pair.adapter.submit(p)
            await pair.until(lambda: len(pair.sim.items()) == len(ps))
            await pair.set(pair.clock.now() + timedelta(minutes=1))
            return list(pair.sim.server.traffic)
        finally:
            await pair.close()

    first, second, other = await run(9), await run(9), await run(10)
    assert first == second
    assert first != other
    assert len([t for t in first if t[0] == "in"]) == 50
    assert any(b"<Cd>RC04</Cd>" in d for _, d in first)


# -- through the whole switch ------------------------------------------------------------


async def test_through_the_switch_cross_border_cny_settles_by_cips(store_url: str) -> None:
    clock = VirtualClock(MONDAY_10.astimezone(UTC))
    sim = CipsSimulator(CipsConfig(), clock)
    sim.server.traffic = []
    sim_port = await sim.start()
    config = SwitchConfig(server=ServerConfig(port=0),
                          clients={CLIENT_ID: ClientConfig(secret=CLIENT_SECRET)},
                          channels={"cips": CipsLinkConfig(port=sim_port, reply_timeout_s=5)})
    app = SwitchApp(config, store_url=store_url, clock=clock)
    port = await app.start(port=0)
    try:
        async with await SwitchClient.connect("127.0.0.1", port, CLIENT_ID, CLIENT_SECRET) as c:
            o = order(1, 50_000_000, DEBTOR, CREDITOR, designated_channel="CIPS")
            ack = await c.submit(o)
            assert (await c.wait_final(o.client_order_id, timeout=10)).state == "SETTLED"
        await app.poster.post_available()
        assert (await check_ledger(app.poster.ledger)).balanced
        stored = await app.store.payment(ack.payment_id or "")
        assert stored is not None and stored.channel == "CIPS"
        item = sim.items()[stored.end_to_end_id]
        assert (item.state, item.amount, item.debtor_agent) == (ItemState.SETTLED, 50_000_000,
                                                                DIRECT)
        sent = parse_pacs008(parse_business_message(sim.server.traffic[0][1])[1])
        assert sent.transactions[0].settlement_date == MONDAY  # the business day routed for
        assert etree.fromstring(sim.server.traffic[0][1])[0].tag.endswith("AppHdr")
    finally:
        await app.stop()
        await sim.stop()
