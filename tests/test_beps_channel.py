"""BEPS adapter against the real BEPS simulator over loopback TCP, on one virtual clock:
packages, sessions, rejects, timeouts, lost and doubled answers, reconnects, statements."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest

from adapters import adapter_class
from adapters.base import ChannelError, ChannelStatus, Outcome
from adapters.beps import BepsAdapter, BepsLinkConfig
from messages.errors import MessageError
from messages.iso20022 import TxStatus, parse_camt053, parse_pacs002, parse_pacs008
from routing import load_catalogue
from simulators.beps import BepsConfig, BepsSimulator
from simulators.faults import FaultPlan, FaultRule
from switch.clock import VirtualClock
from switch.config import BankConfig
from switch.order import Order, Party, Payment
from tests.xsd_oracle import assert_valid

SH = ZoneInfo("Asia/Shanghai")
US = "102100099996"
THEM = "103100000026"
POOR = "104100000004"
SILENT = "313100000013"
CLOSED = "6222000000000404"
WAIT = timedelta(seconds=2)  # the package wait of these tests
REPLY = 5.0  # the reply timeout of these tests


def local(y: int, mo: int, d: int, h: int, mi: int, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=SH)


T0 = local(2026, 3, 2, 10, 5)  # a working Monday; sessions at 10:30, 11:00, ...
SESSION = local(2026, 3, 2, 10, 30)


def payment(n: int, amount: int = 10_000, *, debtor_bank: str = US, creditor_bank: str = THEM,
            creditor_account: str = "6222000000000001", currency: str = "CNY",
            remittance: str | None = None, name: str = "Li Si") -> Payment:
    order = Order(client_order_id=f"C{n}", amount=amount, currency=currency,
                  debtor=Party(account="6217000000000001", name="Zhang San", agent=debtor_bank),
                  creditor=Party(account=creditor_account, name=name, agent=creditor_bank),
                  remittance_info=remittance)
    return Payment(payment_id=f"P{n:08d}", client_id="c", order=order, state="ROUTED",
                   end_to_end_id=f"E{n:08d}", uetr=f"00000000-0000-4000-8000-{n:012d}",
                   created_at="", updated_at="")


@dataclass
class Pair:
    """Simulator and adapter on one virtual clock."""

    sim: BepsSimulator
    adapter: BepsAdapter
    clock: VirtualClock
    seen: list[ChannelStatus] = field(default_factory=list)

    async def submit(self, *ps: Payment, wait: bool = True) -> None:
        """Hand ``ps`` to the adapter and let their package leave (after the package wait)."""
        tasks = [asyncio.create_task(self.adapter.submit(p)) for p in ps]
        await asyncio.sleep(0)  # every submit joins the open package
        if wait:
            self.clock.advance(WAIT)
        await asyncio.gather(*tasks)
        await self.until(lambda: all(p.end_to_end_id in self.sim.books.items for p in ps))

    def of(self, p: Payment) -> list[tuple[Outcome, str | None]]:
        return [(s.outcome, s.reason) for s in self.seen if s.payment_id == p.payment_id]

    async def until(self, cond: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, f"timed out; seen {self.seen[-5:]}"
            await asyncio.sleep(0.002)

    async def said(self, p: Payment, n: int) -> list[tuple[Outcome, str | None]]:
        await self.until(lambda: len(self.of(p)) >= n)
        return self.of(p)

    async def quiet(self, wait: float = 0.15) -> None:
        """Let anything in flight land: no new status for ``wait`` seconds."""
        n = -1
        while n != len(self.seen):
            n = len(self.seen)
            await asyncio.sleep(wait)

    def packages(self) -> list[list[str]]:
        """The end-to-end ids of every pacs.008 the channel received, in order."""
        assert self.sim.server.traffic is not None
        return [[t.end_to_end_id for t in parse_pacs008(frame).transactions]
                for way, frame in self.sim.server.traffic
                if way == "in" and b"FIToFICstmrCdtTrf" in frame]


def sim_config(**changes: object) -> BepsConfig:
    base = BepsConfig(participants={US: 10**13, POOR: 5_000}, closed_accounts=(CLOSED,),
                      silent_banks=(SILENT,))
    return msgspec.structs.replace(base, **changes)


async def make_pair(*, faults: FaultPlan | None = None, seed: int = 0,
                    config: BepsConfig | None = None, start: datetime = T0,
                    sender: str = US, **link: object) -> Pair:
    clock = VirtualClock(start)
    sim = BepsSimulator(config or sim_config(), clock, seed=seed, faults=faults)
    sim.server.traffic = []
    port = await sim.start()
    cfg = BepsLinkConfig(port=port, reply_timeout_s=REPLY, package_wait_s=WAIT.total_seconds(),
                         **link)  # type: ignore[arg-type]
    adapter = BepsAdapter.from_config(cfg, clock=clock, bank=BankConfig(cnaps_code=sender))
    adapter._msg_prefix = "PFIXEDPREFIX0"  # our message ids are random per process
    pair = Pair(sim, adapter, clock)
    adapter.on_status = pair.seen.append
    await adapter.start()
    return pair


async def dispose(pair: Pair) -> None:
    await pair.adapter.close()
    await pair.sim.stop()


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    p = await make_pair()
    yield p
    await dispose(p)


async def test_payments_go_in_one_package_and_settle_at_the_session(pair: Pair) -> None:
    ps = [payment(1, 1_000), payment(2, 2_000), payment(3, 3_000)]
    await pair.submit(*ps)
    assert pair.packages() == [[p.end_to_end_id for p in ps]]
    for p in ps:
        assert await pair.said(p, 1) == [(Outcome.PENDING, None)]
    pair.clock.set(SESSION - timedelta(seconds=1))
    await pair.quiet()
    assert len(pair.seen) == 3
    pair.clock.set(SESSION)
    for p in ps:
        assert await pair.said(p, 2) == [(Outcome.PENDING, None), (Outcome.SETTLED, None)]
    assert {s.detail for s in pair.seen[3:]} == {"session S202603021030"}
    bal = pair.sim.balances()
    assert (bal[US], bal[THEM]) == (10**13 - 6_000, 6_000)
    assert pair.sim.duplicates() == 0
    assert adapter_class("beps") is BepsAdapter


async def test_packages_close_by_size_without_waiting() -> None:
    pair = await make_pair(package_max_items=4)
    try:
        ps = [payment(10 + i) for i in range(10)]
        tasks = [asyncio.create_task(pair.adapter.submit(p)) for p in ps]
        await pair.until(lambda: sum(t.done() for t in tasks) == 8)
        await pair.until(lambda: len(pair.sim.books.items) == 8)
        await pair.quiet()
        assert not any(t.done() for t in tasks[8:])  # the third package is still open
        pair.clock.advance(WAIT - timedelta(milliseconds=1))
        await pair.quiet()
        assert len(pair.sim.books.items) == 8
        pair.clock.advance(timedelta(milliseconds=1))
        await asyncio.gather(*tasks)
        await pair.until(lambda: len(pair.sim.books.items) == 10)
        e2e = [p.end_to_end_id for p in ps]
        assert pair.packages() == [e2e[:4], e2e[4:8], e2e[8:]]
    finally:
        await dispose(pair)


async def test_package_wait_runs_from_its_first_payment(pair: Pair) -> None:
    first = asyncio.create_task(pair.adapter.submit(payment(20)))
    await asyncio.sleep(0)
    pair.clock.advance(timedelta(milliseconds=1_500))
    second = asyncio.create_task(pair.adapter.submit(payment(21)))
    await asyncio.sleep(0)
    pair.clock.advance(timedelta(milliseconds=500))  # 2 s after the first: the package goes
    await asyncio.gather(first, second)
    await pair.submit(payment(22))
    assert pair.packages() == [["E00000020", "E00000021"], ["E00000022"]]


@pytest.mark.parametrize(("pay", "reason"), [
    (payment(30, 5_000_001), "AM02"),
    (payment(31, creditor_bank="10310000002"), "RC01"),
    (payment(32, currency="USD"), "AM03"),
])
async def test_rejected_in_the_acknowledgement_with_the_iso_reason(
        pair: Pair, pay: Payment, reason: str) -> None:
    ok = payment(39)
    await pair.submit(pay, ok)
    assert await pair.said(pay, 1) == [(Outcome.REJECTED, reason)]
    assert await pair.said(ok, 1) == [(Outcome.PENDING, None)]
    pair.clock.set(SESSION)
    assert await pair.said(ok, 2) == [(Outcome.PENDING, None), (Outcome.SETTLED, None)]
    assert pair.of(pay) == [(Outcome.REJECTED, reason)]
    assert pair.sim.balances()[THEM] == 10_000


async def test_receiving_bank_refusal_comes_with_the_session(pair: Pair) -> None:
    p = payment(40, creditor_account=CLOSED)
    await pair.submit(p)
    assert await pair.said(p, 1) == [(Outcome.PENDING, None)]
    pair.clock.set(SESSION)
    assert await pair.said(p, 2) == [(Outcome.PENDING, None), (Outcome.REJECTED, "AC04")]
    assert pair.sim.balances()[US] == 10**13


async def test_silent_receiving_bank_pending_through_every_session_then_ab05(
        pair: Pair) -> None:
    p = payment(41, creditor_bank=SILENT)
    await pair.submit(p)
    at = SESSION
    while at < local(2026, 3, 3, 16, 0):  # sessions until Tuesday 16:00: never UNKNOWN
        pair.clock.set(at)
        at += timedelta(minutes=30)
    await pair.quiet()
    assert pair.of(p) == [(Outcome.PENDING, None)]
    pair.clock.set(local(2026, 3, 3, 16, 0))  # the end of business day T+1
    assert await pair.said(p, 2) == [(Outcome.PENDING, None), (Outcome.REJECTED, "AB05")]
    (last,) = [s for s in pair.seen if s.outcome is Outcome.REJECTED]
    assert last.detail == "PR32 session S202603031600"  # the native code, mapped


@pytest.mark.parametrize(("code", "reason_map", "expected"), [
    ("PR09", {}, "MS03"),  # the adapter's own table
    ("PR09", {"PR09": "AG01"}, "AG01"),  # the configured table wins
    ("PX77", {}, "NARR"),  # unmapped: NARR, the code kept in the detail
    ("AB06", {}, "AB06"),  # an ISO code goes through as it is
])
async def test_reject_codes_iso_and_native_mapped_through_the_config_table(
        code: str, reason_map: dict[str, str], expected: str) -> None:
    plan = FaultPlan(rules={"pacs.008": FaultRule(reject=1.0, reject_code=code)})
    pair = await make_pair(faults=plan, reason_map=reason_map)
    try:
        p = payment(42)
        await pair.submit(p)
        assert await pair.said(p, 1) == [(Outcome.REJECTED, expected)]
        if expected != code:
            assert pair.seen[0].detail == code
        assert pair.sim.books.items[p.end_to_end_id].reason == code
    finally:
        await dispose(pair)


async def test_short_sender_loses_its_newest_payment_am04() -> None:
    pair = await make_pair(sender=POOR)
    try:
        first = payment(50, 3_000, debtor_bank=POOR)
        second = payment(51, 4_000, debtor_bank=POOR)  # 7,000 against a balance of 5,000
        await pair.submit(first, second)
        pair.clock.set(SESSION)
        assert (await pair.said(first, 2))[-1] == (Outcome.SETTLED, None)
        assert (await pair.said(second, 2))[-1] == (Outcome.REJECTED, "AM04")
        assert pair.sim.balances()[POOR] == 2_000
    finally:
        await dispose(pair)


async def test_lost_acknowledgement_is_unknown_then_inquiry_then_settled() -> None:
    pair = await make_pair(faults=FaultPlan(rules={"pacs.008": FaultRule(drop=1.0)}))
    try:
        p = payment(60)
        await pair.submit(p)
        pair.clock.advance(timedelta(seconds=REPLY) - timedelta(milliseconds=1))
        await pair.quiet()
        assert pair.of(p) == []
        pair.clock.advance(timedelta(milliseconds=1))
        assert await pair.said(p, 1) == [(Outcome.UNKNOWN, None)]
        await pair.adapter.inquire(p)
        assert await pair.said(p, 2) == [(Outcome.UNKNOWN, None), (Outcome.PENDING, None)]
        pair.clock.set(SESSION)
        assert await pair.said(p, 3) == [(Outcome.UNKNOWN, None), (Outcome.PENDING, None),
                                         (Outcome.SETTLED, None)]
        assert pair.sim.received_count(p.end_to_end_id) == 1
    finally:
        await dispose(pair)


async def test_lost_receipt_waits_for_the_pending_deadline_then_inquiry_settles() -> None:
    pair = await make_pair(faults=FaultPlan(rules={"receipt": FaultRule(drop=1.0)}))
    try:
        p = payment(61)
        await pair.submit(p)
        await pair.said(p, 1)
        pair.clock.set(SESSION)  # it settles in the channel; the receipt is lost
        await pair.until(lambda: pair.sim.books.items[p.end_to_end_id].channel_ref is not None)
        # T+1 ends Tuesday 16:00; one more session; the reply timeout for the receipt
        deadline = local(2026, 3, 3, 16, 30) + timedelta(seconds=REPLY)
        pair.clock.set(deadline - timedelta(seconds=1))
        await pair.quiet()
        assert pair.of(p) == [(Outcome.PENDING, None)]
        pair.clock.set(deadline)
        assert await pair.said(p, 2) == [(Outcome.PENDING, None), (Outcome.UNKNOWN, None)]
        await pair.adapter.inquire(p)
        assert (await pair.said(p, 3))[-1] == (Outcome.SETTLED, None)
    finally:
        await dispose(pair)


@pytest.mark.parametrize(("now", "last"), [
    (T0, local(2026, 3, 3, 16, 30)),  # Monday: the end of Tuesday, plus a session
    (local(2026, 3, 6, 16, 0), local(2026, 3, 10, 16, 30)),  # Friday after the switch: Monday's
    (local(2026, 9, 30, 15, 0), local(2026, 10, 8, 16, 30)),  # across National Day
    (local(2026, 2, 14, 16, 0), local(2026, 2, 25, 16, 30)),  # across Spring Festival
])
def test_pending_deadline_is_the_receipt_deadline_plus_a_session(
        now: datetime, last: datetime) -> None:
    adapter = BepsAdapter("127.0.0.1", 1, clock=VirtualClock(now), sender_bank=US,
                          reply_timeout=REPLY)
    acknowledged = TxStatus("E1", "ACTC")
    assert adapter.pending_timeout(acknowledged) == (last - now).total_seconds() + REPLY
    fixed = BepsAdapter("127.0.0.1", 1, clock=VirtualClock(now), sender_bank=US,
                        pending_timeout=600.0)
    assert fixed.pending_timeout(acknowledged) == 600.0


async def test_doubled_answers_have_no_double_effect() -> None:
    plan = FaultPlan(rules={"pacs.008": FaultRule(duplicate=1.0),
                            "receipt": FaultRule(duplicate=1.0)})
    pair = await make_pair(faults=plan)
    try:
        p = payment(70, 777)
        await pair.submit(p)
        pair.clock.set(SESSION)
        await pair.until(lambda: (Outcome.SETTLED, None) in pair.of(p))
        await pair.quiet()
        assert pair.of(p) == [(Outcome.PENDING, None), (Outcome.PENDING, None),
                              (Outcome.SETTLED, None)]
        assert pair.sim.balances()[THEM] == 777
        assert pair.sim.received_count(p.end_to_end_id) == 1
    finally:
        await dispose(pair)


async def test_line_dropped_with_the_package_then_reconnect_and_inquiry() -> None:
    pair = await make_pair(faults=FaultPlan(rules={"pacs.008": FaultRule(close=1.0)}))
    try:
        ps = [payment(80), payment(81)]
        await pair.submit(*ps)
        for p in ps:
            assert await pair.said(p, 1) == [(Outcome.UNKNOWN, None)]
        await pair.until(lambda: pair.adapter.connected)
        for p in ps:
            await pair.adapter.inquire(p)  # the channel took the package before the line went
            assert await pair.said(p, 2) == [(Outcome.UNKNOWN, None), (Outcome.PENDING, None)]
        pair.clock.set(SESSION)
        for p in ps:
            assert (await pair.said(p, 3))[-1] == (Outcome.SETTLED, None)
    finally:
        await dispose(pair)


async def test_receipts_of_a_session_missed_while_away_arrive_after_reconnect(
        pair: Pair) -> None:
    p = payment(82)
    await pair.submit(p)
    await pair.said(p, 1)
    for link in list(pair.sim.server.links):
        link.abort()
    assert await pair.said(p, 2) == [(Outcome.PENDING, None), (Outcome.UNKNOWN, None)]
    await pair.until(lambda: not pair.sim.server.links or pair.adapter.connected)
    pair.clock.set(SESSION)  # settled and held: the channel does not know the new line yet
    await pair.until(lambda: pair.adapter.connected)
    assert pair.sim.server.traffic is not None
    before = len(pair.sim.server.traffic)
    await pair.adapter.inquire(p)
    assert await pair.said(p, 3) == [(Outcome.PENDING, None), (Outcome.UNKNOWN, None),
                                     (Outcome.SETTLED, None)]
    await pair.quiet()
    assert len(pair.of(p)) == 3  # the inquiry's answer finds it final already
    after = [(way, parse_pacs002(frame).orgnl_msg_id[:2])
             for way, frame in pair.sim.server.traffic[before:] if way == "out"]
    assert after == [("out", "PT"), ("out", "PQ")]  # the held receipt first, then the answer
    assert pair.sim.balances()[THEM] == 10_000


async def test_a_package_refused_whole_rejects_every_payment_in_it(pair: Pair) -> None:
    ps = [payment(90), payment(91)]
    await pair.adapter._send_message(
        ps, "PTFIXEDPKG", b"<Document><FIToFICstmrCdtTrf><GrpHdr><MsgId>PTFIXEDPKG</MsgId>")
    for p in ps:
        assert await pair.said(p, 1) == [(Outcome.REJECTED, "FF01")]
    assert pair.sim.books.items == {}


async def test_a_payment_the_format_cannot_carry_does_not_sink_its_package(
        pair: Pair) -> None:
    good, bad = payment(92), payment(93, creditor_account="6" * 40)  # over 34 characters
    results = await asyncio.gather(pair.submit(good), pair.adapter.submit(bad),
                                   return_exceptions=True)
    assert results[0] is None and isinstance(results[1], MessageError)
    assert pair.packages() == [[good.end_to_end_id]]
    assert await pair.said(good, 1) == [(Outcome.PENDING, None)]


async def test_a_package_over_the_centres_limit_is_split() -> None:
    pair = await make_pair(package_max_items=1_000)
    try:
        text = "汇款附言" * 35  # 140 characters of 3 bytes
        ps = [payment(1_000 + i, remittance=text, name="李" * 140) for i in range(800)]
        await pair.submit(*ps)
        sizes = [len(pkg) for pkg in pair.packages()]
        assert sizes == [400, 400]
        await pair.until(lambda: len(pair.seen) == 800)
        assert {s.outcome for s in pair.seen} == {Outcome.PENDING}
    finally:
        await dispose(pair)


async def test_a_package_that_cannot_leave_fails_its_payments_and_sends_nothing() -> None:
    pair = await make_pair()
    try:
        await pair.adapter.inquire(payment(94))  # the line is in use (a stop drops it then)
        assert await pair.said(payment(94), 1) == [(Outcome.NOT_FOUND, None)]
        tasks = [asyncio.create_task(pair.adapter.submit(payment(95 + i))) for i in range(3)]
        await asyncio.sleep(0)
        await pair.sim.stop()
        await pair.until(lambda: not pair.adapter.connected)
        pair.clock.advance(WAIT)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, ChannelError) for r in results)
        with pytest.raises(ChannelError):
            await pair.adapter.submit(payment(99))
        assert pair.sim.books.items == {}
    finally:
        await pair.adapter.close()


async def test_statement_of_the_day_is_a_valid_camt053_with_sessions(pair: Pair) -> None:
    await pair.submit(payment(100, 1_000), payment(101, 2_000))
    pair.clock.set(SESSION)
    await pair.submit(payment(102, 500))
    pair.clock.set(SESSION + timedelta(minutes=30))
    await pair.until(lambda: len(pair.seen) == 6)
    stmt = await pair.adapter.fetch_statement(date(2026, 3, 2))
    assert (stmt.channel, stmt.format) == ("BEPS", "camt.053.001.08")
    assert_valid(stmt.data, "camt.053.001.08")
    (s,) = parse_camt053(stmt.data).statements
    assert s.account == US and s.balanced()
    booked = [(e.transactions[0].end_to_end_id, e.signed_amount(), e.servicer_ref)
              for e in s.entries if e.status == "BOOK"]
    assert booked == [("E00000100", -1_000, "S202603021030"),
                      ("E00000101", -2_000, "S202603021030"),
                      ("E00000102", -500, "S202603021100")]
    nets = [(e.reference, e.signed_amount()) for e in s.entries if e.status == "INFO"]
    assert nets == [("S202603021030", -3_000), ("S202603021100", -500)]


async def _traffic(seed: int) -> list[tuple[str, bytes]]:
    plan = FaultPlan.from_json(
        b'{"rules": {"pacs.008": {"reject": 0.2, "reject_code": "PR09", "duplicate": 0.2},'
        b' "receipt": {"duplicate": 0.3, "delay": 0.3, "delay_ms": 500}},'
        b' "latency": {"median_ms": 5, "p99_ms": 50}}')
    pair = await make_pair(faults=plan, seed=seed, package_max_items=3)
    try:
        for i in range(4):
            await pair.submit(*(payment(200 + 3 * i + k, 100 + k) for k in range(3)),
                              wait=False)
        pair.clock.advance(timedelta(seconds=1))  # replies delayed by latency go out
        pair.clock.set(SESSION + timedelta(seconds=1))  # the session, and delayed receipts
        await pair.until(lambda: len({s.payment_id for s in pair.seen
                                      if s.outcome is not Outcome.PENDING}) == 12)
        await pair.quiet()
        assert pair.sim.server.traffic is not None
        return list(pair.sim.server.traffic)
    finally:
        await dispose(pair)


async def test_same_seed_plan_and_input_give_byte_identical_traffic() -> None:
    first, second, other = await _traffic(9), await _traffic(9), await _traffic(10)
    assert first == second
    assert first != other
    assert len([t for t in first if t[0] == "in"]) == 4


def test_configuration_defaults_agree_with_the_catalogue_and_nonsense_is_refused() -> None:
    spec = load_catalogue().channels["BEPS"]
    cfg = BepsLinkConfig(port=1)
    assert (cfg.session_minutes, cfg.day_switch) == (spec.net_session_minutes,
                                                     spec.calendar.day_switch)
    for bad in ({"package_max_items": 0}, {"package_wait_s": -1}, {"day_switch": "4pm"},
                {"session_minutes": 0}, {"packages": 3}):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert({"port": 1, **bad}, BepsLinkConfig)
