"""UnionPay adapter against the real UnionPay simulator over loopback TCP, on one VirtualClock:
replies wait and deadlines fire only when the test advances it (no sleep asserts a timing)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import iso8583 as pyiso8583
import msgspec
import pytest

from adapters import adapter_class
from adapters.base import ChannelError, ChannelStatus, Outcome
from adapters.unionpay import UnionPayAdapter, UnionPayLinkConfig, retrieval_reference
from messages.iso8583 import UNIONPAY, Message, decode
from messages.iso8583.interop import from_pyiso8583, pyiso8583_spec
from messages.iso8583.settlement import parse_settlement_file
from simulators import simulator_class
from simulators.books import ItemState
from simulators.faults import FaultDice, FaultPlan, FaultRule, StatementFaults
from simulators.unionpay import UnionPayConfig, UnionPaySimulator
from switch.clock import VirtualClock
from switch.config import parse_config
from switch.errors import ConfigError
from switch.order import Order, Party, Payment

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
DAY = date(2026, 3, 2)
ACQ, ISSUER = "04290000", "01030000"
CARD = "6222000000000009"  # Luhn-valid
BLOCKED, CLOSED = "6222000000000025", "6222000000000017"


def payment(n: int, amount: int = 10_000, *, creditor: str = CARD) -> Payment:
    order = Order(client_order_id=f"C{n}", amount=amount, currency="CNY",
                  debtor=Party(account="6217000000000001", name="Zhang San", agent="102100099996"),
                  creditor=Party(account=creditor, name="Li Si", agent="103100000026"))
    return Payment(payment_id=f"P{n:08d}", client_id="bank-a", order=order, state="ROUTED",
                   end_to_end_id=f"E2E{n:08d}", uetr=f"00000000-0000-4000-8000-{n:012d}",
                   created_at="2026-03-02T02:00:00.000+00:00",
                   updated_at="2026-03-02T02:00:00.000+00:00")


@dataclass
class Pair:
    sim: UnionPaySimulator
    adapter: UnionPayAdapter
    clock: VirtualClock
    seen: list[ChannelStatus] = field(default_factory=list)

    def of(self, p: Payment) -> list[tuple[Outcome, str | None]]:
        return [(s.outcome, s.reason) for s in self.seen if s.payment_id == p.payment_id]

    async def until(self, cond: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, f"timed out; seen {self.seen[-5:]}"
            await asyncio.sleep(0.002)

    async def final(self, p: Payment, n: int = 1) -> list[tuple[Outcome, str | None]]:
        await self.until(lambda: len(self.of(p)) >= n)
        return self.of(p)

    async def quiet(self, pause: float = 0.1) -> None:
        """Wait until neither side has sent anything for ``pause`` seconds."""
        traffic = self.sim.server.traffic or []
        n = -1
        while n != len(traffic) + len(self.seen):
            n = len(traffic) + len(self.seen)
            await asyncio.sleep(pause)

    def wire(self, mti: str | None = None) -> list[tuple[str, Message]]:
        """The channel traffic so far, decoded: (in/out, message)."""
        out = []
        for way, frame in self.sim.server.traffic or []:
            try:
                msg = decode(frame, UNIONPAY)
            except Exception:  # the garbage fault's frame
                continue
            if mti is None or msg.mti == mti:
                out.append((way, msg))
        return out


async def make_pair(*, faults: FaultPlan | None = None, seed: int = 0,
                    sim_config: UnionPayConfig | None = None, **link: object) -> Pair:
    clock = VirtualClock(T0)
    cfg = sim_config or UnionPayConfig(participants={ACQ: 10**12},
                                       closed_accounts=(CLOSED,), blocked_accounts=(BLOCKED,))
    sim = UnionPaySimulator(cfg, clock, seed=seed, faults=faults)
    sim.server.traffic = []
    port = await sim.start()
    options: dict[str, object] = {"echo_interval_s": 0.0, **link}
    adapter = UnionPayAdapter(UnionPayLinkConfig(port=port, **options),  # type: ignore[arg-type]
                              clock=clock, stan_start=1, reconnect_backoff=0.01,
                              reconnect_backoff_cap=0.05)
    pair = Pair(sim, adapter, clock)
    adapter.on_status = pair.seen.append
    starting = asyncio.get_running_loop().create_task(adapter.start())
    while not starting.done():
        await asyncio.sleep(0.005)
        if faults is not None and faults.latency is not None:
            clock.advance(timedelta(milliseconds=100))  # the 0810 waits on the channel's clock
    with contextlib.suppress(ChannelError):  # a refused sign-on: it keeps trying meanwhile
        await starting
    return pair


async def dispose(pair: Pair) -> None:
    await pair.adapter.close()
    await pair.sim.stop()


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    p = await make_pair()
    yield p
    await dispose(p)


def test_registries_name_the_channel() -> None:
    assert adapter_class("unionpay") is UnionPayAdapter
    assert UnionPayAdapter.channel == "UnionPay" == simulator_class("UnionPay").name
    cfg = msgspec.convert({"port": 7500, "reason_map": {"05": "AC06"}}, UnionPayLinkConfig)
    assert (cfg.reply_timeout_s, cfg.reason_map) == (30.0, {"05": "AC06"})
    for bad in ({"mac_key": "00" * 8}, {"terminal_id": "T1"}, {"acquirer_id": "0429-000"},
                {"processing_code": "26000"}):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert({"port": 7500, **bad}, UnionPayLinkConfig)
    assert parse_config({"channels": {"unionpay": {"port": 7500}}}).channels["unionpay"].port \
        == 7500
    with pytest.raises(ConfigError, match=r"channels\.unionpay.*terminal_id"):
        parse_config({"channels": {"unionpay": {"port": 7500, "terminal_id": "T1"}}})


async def test_settles_with_the_documented_field_mapping(pair: Pair) -> None:
    p = payment(1, 123_456)
    await pair.adapter.submit(p)
    assert await pair.final(p) == [(Outcome.SETTLED, None)]
    assert pair.seen[0].channel_ref == retrieval_reference(p.end_to_end_id)
    assert pair.sim.balances() == {ACQ: 10**12 - 123_456, ISSUER: 123_456}
    (_, sign_on), (_, request) = [(w, m) for w, m in pair.wire() if w == "in"]
    assert (sign_on.mti, sign_on.get(70), sign_on.get(32)) == ("0800", "001", ACQ)
    assert {n: request.get(n) for n in (2, 3, 4, 11, 32, 33, 37, 48, 49, 102)} == {
        2: CARD, 3: "260000", 4: "000000123456", 11: "000002", 32: ACQ, 33: ACQ,
        37: retrieval_reference(p.end_to_end_id), 48: p.end_to_end_id, 49: "156",
        102: "6217000000000001"}
    assert request.get(7) == "0302020000" and isinstance(request.get(128), bytes)
    # pyiso8583, an ISO 8583 codec we did not write, reads our 0200 the same way
    frame = next(f for w, f in pair.sim.server.traffic or [] if w == "in" and f[:4] == b"0200")
    theirs, _ = pyiso8583.decode(frame, pyiso8583_spec(UNIONPAY))
    assert from_pyiso8583(theirs, UNIONPAY) == request


@pytest.mark.parametrize(("pay", "reason", "code"), [
    (payment(2, 5_000_001), "AM02", "61"),
    (payment(3, 0), "AM12", "13"),
    (payment(4, creditor="6222000000000001"), "AC01", "14"),  # fails the Luhn check
    (payment(5, creditor=CLOSED), "AC01", "14"),
    (payment(6, creditor=BLOCKED), "AG01", "05"),
    (payment(7, 2_000_000), "AM04", "51"),  # the acquirer's settlement account is short
])
async def test_reject_families_carry_the_mapped_reason(pay: Payment, reason: str,
                                                       code: str) -> None:
    pair = await make_pair(sim_config=UnionPayConfig(
        participants={ACQ: 1_000_000}, closed_accounts=(CLOSED,), blocked_accounts=(BLOCKED,)))
    try:
        await pair.adapter.submit(pay)
        assert await pair.final(pay) == [(Outcome.REJECTED, reason)]
        assert pair.seen[0].detail is not None and pair.seen[0].detail.startswith(code)
        assert pair.sim.balances() == {ACQ: 1_000_000}
    finally:
        await dispose(pair)


@pytest.mark.parametrize(("code", "reason"), [
    ("91", "AB06"), ("96", "MS03"), ("A0", "MS03"), ("90", "TM01"), ("94", "AM05"),
    ("12", "AG01"), ("30", "FF01"),
])
async def test_native_codes_map_through_the_table(code: str, reason: str) -> None:
    pair = await make_pair(faults=FaultPlan(rules={"0200": FaultRule(reject=1.0,
                                                                     reject_code=code)}))
    try:
        p = payment(10)
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(Outcome.REJECTED, reason)]
        assert pair.sim.books.movements == []
    finally:
        await dispose(pair)


async def test_reason_table_in_configuration_overrides() -> None:
    pair = await make_pair(reason_map={"05": "AC06", "Q1": "RR04"},
                           faults=FaultPlan(reject_accounts={"6222000000000033": "Q1"}))
    try:
        p, q = payment(11, creditor=BLOCKED), payment(12, creditor="6222000000000033")
        await pair.adapter.submit(p)
        await pair.adapter.submit(q)
        assert await pair.final(p) == [(Outcome.REJECTED, "AC06")]
        assert await pair.final(q) == [(Outcome.REJECTED, "RR04")]  # a code only config knows
    finally:
        await dispose(pair)


async def test_dropped_reply_is_unknown_then_reversed_never_failed() -> None:
    pair = await make_pair(faults=FaultPlan(rules={"0200": FaultRule(drop=1.0)}),
                           reply_timeout_s=30.0)
    try:
        p = payment(20)
        await pair.adapter.submit(p)
        await pair.adapter.submit(p)  # while it is under way, never a second 0200
        await pair.until(lambda: p.end_to_end_id in pair.sim.items())
        assert pair.sim.items()[p.end_to_end_id].state is ItemState.SETTLED  # money moved
        pair.clock.advance(timedelta(seconds=29.999))
        await pair.quiet()
        assert pair.of(p) == []  # the deadline is 30 s of the injected clock, not less
        pair.clock.advance(timedelta(milliseconds=1))
        assert await pair.final(p, 2) == [(Outcome.UNKNOWN, None), (Outcome.REJECTED, "AB05")]
        unknown, rejected = pair.seen
        assert "reversing" in (unknown.detail or "")
        assert "reversed (0410 00)" in (rejected.detail or "")
        assert "did not move" in (rejected.detail or "")
        item = pair.sim.items()[p.end_to_end_id]
        assert (item.state, item.reason) == (ItemState.REVERSED, "4021")
        assert pair.sim.balances() == {ACQ: 10**12, ISSUER: 0}
        # the 0400 went out at once, naming the 0200 it reverses
        ins = [m for w, m in pair.wire() if w == "in"]
        assert [m.mti for m in ins] == ["0800", "0200", "0400"]
        request, reversal = ins[1], ins[2]
        assert reversal.get(37) == request.get(37) and reversal.get(60) == "4021"
        assert reversal.get(90) == ("0200" + str(request.get(11)) + str(request.get(7))
                                    + ACQ.rjust(11, "0") + ACQ.rjust(11, "0"))
        await pair.adapter.inquire(p)  # the switch asks: the payment is final here already
        await pair.quiet()
        assert len(pair.wire("0400")) == 2  # one more 0400 in, and its 0410 out
        assert pair.sim.balances()[ISSUER] == 0
    finally:
        await dispose(pair)


async def test_inquiry_while_the_reversal_is_out_sends_nothing_more() -> None:
    plan = FaultPlan(rules={"0200": FaultRule(drop=1.0), "0400": FaultRule(delay=1.0,
                                                                           delay_ms=5_000)})
    pair = await make_pair(faults=plan, reply_timeout_s=30.0)
    try:
        p = payment(21)
        await pair.adapter.submit(p)
        await pair.until(lambda: p.end_to_end_id in pair.sim.items())
        pair.clock.advance(timedelta(seconds=30))
        assert await pair.final(p) == [(Outcome.UNKNOWN, None)]
        await pair.until(lambda: len(pair.wire("0400")) == 1)
        await pair.adapter.inquire(p)  # what the engine does a second after UNKNOWN
        await pair.quiet()
        assert len(pair.wire("0400")) == 1
        pair.clock.advance(timedelta(seconds=5))  # the delayed 0410 goes out
        assert await pair.final(p, 2) == [(Outcome.UNKNOWN, None), (Outcome.REJECTED, "AB05")]
    finally:
        await dispose(pair)


async def test_late_reply_during_the_reversal_is_ignored(caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    plan = FaultPlan(rules={"0200": FaultRule(delay=1.0, delay_ms=40_000),
                            "0400": FaultRule(delay=1.0, delay_ms=20_000)})
    pair = await make_pair(faults=plan, reply_timeout_s=30.0)
    try:
        p = payment(22)
        await pair.adapter.submit(p)
        await pair.until(lambda: p.end_to_end_id in pair.sim.items())
        pair.clock.advance(timedelta(seconds=30))  # no 0210: UNKNOWN, and the 0400 goes out
        assert await pair.final(p) == [(Outcome.UNKNOWN, None)]
        await pair.until(lambda: len(pair.wire("0400")) == 1)
        with caplog.at_level(logging.WARNING, logger="payswitch.adapters"):
            pair.clock.advance(timedelta(seconds=10))  # the 0210 00 arrives, 40 s late
            await pair.until(lambda: any("late 0210 00" in r.getMessage()
                                         for r in caplog.records))
        assert pair.of(p) == [(Outcome.UNKNOWN, None)]  # not SETTLED: it is being reversed
        pair.clock.advance(timedelta(seconds=10))  # the 0410 00
        assert await pair.final(p, 2) == [(Outcome.UNKNOWN, None), (Outcome.REJECTED, "AB05")]
        assert pair.sim.items()[p.end_to_end_id].state is ItemState.REVERSED
        assert pair.sim.balances()[ISSUER] == 0
    finally:
        await dispose(pair)


async def test_68_counts_as_no_answer_and_is_reversed() -> None:
    pair = await make_pair(faults=FaultPlan(rules={"0200": FaultRule(reject=1.0,
                                                                     reject_code="68")}))
    try:
        p = payment(23)
        await pair.adapter.submit(p)
        assert await pair.final(p, 2) == [(Outcome.UNKNOWN, None), (Outcome.REJECTED, "AB05")]
        assert "answered 68" in (pair.seen[0].detail or "")
    finally:
        await dispose(pair)


async def test_unanswered_reversal_is_repeated_on_the_next_inquiry() -> None:
    plan = FaultPlan(rules={"0200": FaultRule(drop=1.0), "0400": FaultRule(drop=1.0)})
    pair = await make_pair(faults=plan, reply_timeout_s=30.0)
    try:
        p = payment(24)
        await pair.adapter.submit(p)
        await pair.until(lambda: p.end_to_end_id in pair.sim.items())
        pair.clock.advance(timedelta(seconds=30))  # no 0210: UNKNOWN, 0400 at once
        await pair.until(lambda: len(pair.wire("0400")) == 1)
        pair.clock.advance(timedelta(seconds=30))  # no 0410 either
        assert await pair.final(p, 2) == [(Outcome.UNKNOWN, None), (Outcome.PENDING, None)]
        assert pair.sim.items()[p.end_to_end_id].state is ItemState.REVERSED  # done, unsaid
        pair.sim.dice = FaultDice(FaultPlan(), 0)  # the channel answers again
        await pair.adapter.inquire(p)
        assert await pair.final(p, 3) == [
            (Outcome.UNKNOWN, None), (Outcome.PENDING, None), (Outcome.REJECTED, "AB05")]
        stans = [m.get(11) for w, m in pair.wire("0400") if w == "in"]
        assert len(stans) == 2 and stans[0] != stans[1]  # a new STAN, the same RRN
        assert pair.sim.balances()[ISSUER] == 0
    finally:
        await dispose(pair)


async def test_a_restarted_adapter_reverses_by_rrn() -> None:
    pair = await make_pair(faults=FaultPlan(rules={"0200": FaultRule(drop=1.0)}))
    try:
        p, never = payment(25), payment(26)
        await pair.adapter.submit(p)
        await pair.until(lambda: p.end_to_end_id in pair.sim.items())
        await pair.adapter.close()  # the switch dies with the 0200 unanswered
        fresh = UnionPayAdapter(pair.adapter.config, clock=pair.clock)  # random STAN start
        seen: list[ChannelStatus] = []
        fresh.on_status = seen.append
        await fresh.start()
        try:
            await fresh.inquire(p)  # recovery asks about the payment left SUBMITTED
            await fresh.inquire(never)  # ... and one whose 0200 never left
            await pair.until(lambda: len(seen) == 4)
        finally:
            await fresh.close()
        by = {(s.payment_id, s.outcome): s for s in seen}
        assert set(by) == {(p.payment_id, Outcome.UNKNOWN), (p.payment_id, Outcome.REJECTED),
                           (never.payment_id, Outcome.UNKNOWN),
                           (never.payment_id, Outcome.REJECTED)}
        assert "0410 00" in (by[(p.payment_id, Outcome.REJECTED)].detail or "")
        assert "0410 25" in (by[(never.payment_id, Outcome.REJECTED)].detail or "")
        assert pair.sim.items()[p.end_to_end_id].state is ItemState.REVERSED
        assert never.end_to_end_id not in pair.sim.items()
        reversals = [m for w, m in pair.wire("0400") if w == "in"]
        assert [m.get(90) for m in reversals] == [None, None]  # the STAN died with the process
    finally:
        await pair.sim.stop()


async def test_duplicate_reply_has_no_double_effect() -> None:
    pair = await make_pair(faults=FaultPlan(rules={"0200": FaultRule(duplicate=1.0)}))
    try:
        p = payment(27)
        await pair.adapter.submit(p)
        await pair.until(lambda: len(pair.wire("0210")) == 2)  # the reply, twice
        await pair.quiet()
        assert pair.of(p) == [(Outcome.SETTLED, None)]
        assert pair.sim.balances()[ISSUER] == 10_000
        assert pair.sim.duplicates() == 0
    finally:
        await dispose(pair)


async def test_garbage_before_the_reply_is_skipped() -> None:
    pair = await make_pair(faults=FaultPlan(rules={"0200": FaultRule(garbage=1.0)}))
    try:
        p = payment(28)
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(Outcome.SETTLED, None)]
    finally:
        await dispose(pair)


@pytest.mark.parametrize("fault", ["close", "partial"])
async def test_line_lost_reconnects_signs_on_and_reverses_first(fault: str) -> None:
    pair = await make_pair(faults=FaultPlan(rules={"0200": FaultRule(**{fault: 1.0})}))
    try:
        p = payment(29)
        await pair.adapter.submit(p)
        assert await pair.final(p, 2) == [(Outcome.UNKNOWN, None), (Outcome.REJECTED, "AB05")]
        assert "line was lost" in (pair.seen[0].detail or "")
        assert pair.sim.items()[p.end_to_end_id].state is ItemState.REVERSED
        ins = [m for w, m in pair.wire() if w == "in"]
        # after the second sign-on the channel's reversal comes before anything else
        assert [(m.mti, m.get(70)) for m in ins] == [
            ("0800", "001"), ("0200", None), ("0800", "001"), ("0400", None)]
        pair.sim.dice = FaultDice(FaultPlan(), 0)
        q = payment(30)
        await pair.until(lambda: pair.adapter.connected)
        await pair.adapter.submit(q)
        assert await pair.final(q) == [(Outcome.SETTLED, None)]
    finally:
        await dispose(pair)


async def test_sign_on_refused_then_accepted() -> None:
    pair = await make_pair(faults=FaultPlan(rules={"0800": FaultRule(refuse=0.5)}), seed=1)
    try:
        with pytest.raises(ChannelError):
            await pair.adapter.submit(payment(31))  # not signed on: nothing sent
        await pair.until(lambda: pair.adapter.connected)
        answers = [(w, m.get(70), m.get(39)) for w, m in pair.wire("0810")]
        assert answers == [("out", "001", "05"), ("out", "001", "00")]
        p = payment(32)
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(Outcome.SETTLED, None)]
    finally:
        await dispose(pair)


async def test_echo_tests_the_line_and_a_dead_one_is_dropped() -> None:
    pair = await make_pair(echo_interval_s=0.2, sign_on_timeout_s=1.0)
    try:
        await pair.until(lambda: len([1 for w, m in pair.wire("0810")
                                      if m.get(70) == "301" and m.get(39) == "00"]) >= 2)
        pair.sim.dice = FaultDice(FaultPlan(rules={"0800": FaultRule(drop=1.0)}), 0)
        await pair.until(lambda: not pair.adapter.connected)  # the echo went unanswered
        with pytest.raises(ChannelError):
            await pair.adapter.submit(payment(33))
        pair.sim.dice = FaultDice(FaultPlan(), 0)
        await pair.until(lambda: pair.adapter.connected)
        sign_ons = [m for w, m in pair.wire("0800") if m.get(70) == "001"]
        assert len(sign_ons) >= 2
        p = payment(34)
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(Outcome.SETTLED, None)]
    finally:
        await dispose(pair)


async def test_day_switch_answers_90_and_the_reversal_waits_it_out() -> None:
    pair = await make_pair(faults=FaultPlan(rules={"0200": FaultRule(drop=1.0)}),
                           reply_timeout_s=30.0)
    try:
        pair.clock.set(datetime(2026, 3, 2, 14, 59, 45, tzinfo=UTC))  # 22:59:45 in Shanghai
        p = payment(35)
        await pair.adapter.submit(p)  # settled, its reply lost
        await pair.until(lambda: p.end_to_end_id in pair.sim.items())
        pair.sim.dice = FaultDice(FaultPlan(), 0)
        pair.clock.advance(timedelta(seconds=15))  # 23:00:00: the day switch begins
        q = payment(36)
        await pair.adapter.submit(q)
        assert await pair.final(q) == [(Outcome.REJECTED, "TM01")]
        assert q.end_to_end_id not in pair.sim.items()
        pair.clock.advance(timedelta(seconds=15))  # p's deadline, inside the switch
        assert await pair.final(p, 2) == [(Outcome.UNKNOWN, None), (Outcome.PENDING, None)]
        assert "90" in (pair.seen[-1].detail or "")
        pair.clock.advance(timedelta(seconds=45))  # 23:01: the switch (60 s) is over
        await pair.adapter.inquire(p)
        assert await pair.final(p, 3) == [
            (Outcome.UNKNOWN, None), (Outcome.PENDING, None), (Outcome.REJECTED, "AB05")]
        # settled on the closed date, reversed on the new one: both files say so
        closed = parse_settlement_file((await pair.adapter.fetch_statement(DAY)).data)
        opened = parse_settlement_file(
            (await pair.adapter.fetch_statement(DAY + timedelta(days=1))).data)
        rrn = retrieval_reference(p.end_to_end_id)
        assert [(ln.txn_code, ln.retrieval_ref, ln.signed_amount) for ln in closed.lines] == [
            ("0200", rrn, -10_000)]
        assert [(ln.txn_code, ln.retrieval_ref, ln.signed_amount) for ln in opened.lines] == [
            ("0400", rrn, 10_000)]
    finally:
        await dispose(pair)


async def test_settlement_file_states_what_was_replied_and_the_injected_differences() -> None:
    plan = FaultPlan(statement=StatementFaults(omit=0.2, amount=0.2, amount_delta=3, extra=1,
                                               extra_amount=777))
    pair = await make_pair(faults=plan, seed=6)
    try:
        ps = [payment(40 + i, 1_000 + i) for i in range(20)] + [payment(60, 5_000_001)]
        for p in ps:
            await pair.adapter.submit(p)
        await pair.until(lambda: len(pair.seen) == len(ps))
        pair.clock.set(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))  # the day switch closes DAY
        stmt = await pair.adapter.fetch_statement(DAY)
        assert (stmt.channel, stmt.format, stmt.business_date) == (
            "UnionPay", "unionpay-settlement", DAY)
        f = parse_settlement_file(stmt.data)
        assert (f.institution, f.settlement_date) == (ACQ, DAY)
        stated = {ln.order_id: ln for ln in f.lines}
        injected = {d.end_to_end_id: d for d in pair.sim.books.injected(ACQ)}
        assert {d.kind for d in injected.values()} == {"omitted", "amount", "extra"}
        for s in pair.seen:
            diff = injected.get(s.end_to_end_id)
            if s.outcome is Outcome.REJECTED:
                assert s.end_to_end_id not in stated  # refused items move no money
            elif diff is None:
                ln = stated[s.end_to_end_id]
                assert (ln.dc, ln.retrieval_ref, ln.account) == ("D", s.channel_ref, CARD)
            elif diff.kind == "omitted":
                assert s.end_to_end_id not in stated
            else:
                assert stated[s.end_to_end_id].signed_amount == diff.stated_amount
        (extra,) = [e for e, d in injected.items() if d.kind == "extra"]
        assert stated[extra].amount == 777
        assert await pair.adapter.fetch_statement(DAY) == stmt  # the closed date's file is fixed
    finally:
        await dispose(pair)


async def test_same_seed_plan_and_input_give_byte_identical_traffic() -> None:
    plan = FaultPlan.from_json(
        b'{"rules": {"0200": {"reject": 0.2, "reject_code": "51", "duplicate": 0.2,'
        b' "garbage": 0.1, "drop": 0.1}, "0400": {"delay": 0.5, "delay_ms": 100}},'
        b' "latency": {"median_ms": 5, "p99_ms": 50}}')

    async def run(seed: int) -> list[tuple[str, bytes]]:
        pair = await make_pair(faults=plan, seed=seed, reply_timeout_s=1.0)
        try:
            ps = [payment(100 + i, 100 + i) for i in range(40)]
            for p in ps:
                await pair.adapter.submit(p)
            await pair.until(lambda: len(pair.sim.items()) == len(ps))
            for _ in range(4):  # replies, deadlines, reversals and their delayed answers
                pair.clock.advance(timedelta(seconds=1))
                await pair.quiet(0.05)
            await pair.until(lambda: len({s.payment_id for s in pair.seen
                                          if s.outcome is not Outcome.UNKNOWN}) == len(ps))
            return list(pair.sim.server.traffic or [])
        finally:
            await dispose(pair)

    first, second, other = await run(9), await run(9), await run(10)
    assert first == second
    assert first != other
    assert len([t for t in first if t[0] == "in" and t[1][:4] == b"0200"]) == 40
    assert any(t[1][:4] == b"0400" for t in first)  # the plan made some reversals


async def test_submit_before_start_raises_and_sends_nothing() -> None:
    adapter = UnionPayAdapter(UnionPayLinkConfig(port=1), clock=VirtualClock(T0))
    with pytest.raises(ChannelError):
        await adapter.submit(payment(70))
    with pytest.raises(ChannelError):
        await adapter.start()  # nothing listens on port 1
    await adapter.close()


async def test_unwritable_order_is_a_message_error_and_nothing_is_sent(pair: Pair) -> None:
    from messages.iso8583 import Iso8583Error

    with pytest.raises(Iso8583Error):
        await pair.adapter.submit(payment(71, creditor="LI-SI-ACCOUNT"))
    await pair.quiet()
    assert pair.wire("0200") == [] and pair.seen == []
