"""SWIFT adapter against the SWIFT simulator over loopback, on MX and on MT links, one virtual
clock: gpi status updates, covers, value dates, rejects, timeouts, faults and returns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest

from adapters.base import Outcome
from messages.errors import MessageError
from simulators.books import ItemState
from simulators.faults import FaultPlan, FaultRule
from simulators.swift import SwiftConfig
from tests.swift_pair import (
    BARC,
    BLOCKED,
    BOFA,
    CLOSED,
    DAY,
    POOR,
    US,
    Pair,
    dispose,
    make_pair,
    payment,
)

PENDING, SETTLED = Outcome.PENDING, Outcome.SETTLED
FORMATS = ["mx", "mt"]
CUSTOMER = {"mx": "pacs.008", "mt": "MT103"}  # the fault plan's kind of a customer transfer


@pytest.fixture(params=FORMATS)
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    p = await make_pair(request.param)
    yield p
    await dispose(p)


async def test_serial_transfer_is_sent_on_then_credited(pair: Pair) -> None:
    p = payment(1, "GBP", 123_45)
    await pair.adapter.submit(p)
    assert await pair.final(p) == [(PENDING, None), (SETTLED, None)]
    assert pair.details(p)[0] == "G000 sent on to a gpi bank"
    assert pair.sim.balances("GBP")[US] == 10**12 - 123_45
    assert pair.sim.balances("GBP")[BOFA] == 123_45
    item = pair.item(p)
    assert (item.state, item.business_date, item.uetr) == (ItemState.SETTLED, DAY, p.uetr)
    assert pair.sim.balances("USD")[US] == 10**12  # only the GBP nostro moved


@pytest.mark.parametrize("fmt", FORMATS)
async def test_gpi_updates_follow_the_transfer_through_documents_and_value_date(fmt: str) -> None:
    # JPY is valued D+1; the beneficiary's bank also wants documents for an hour.
    cfg = SwiftConfig(participants={US: 10**12}, documents_accounts=("JP0012345",),
                      documents_delay_s=3_600, non_gpi_banks=("MHCBJPJT",))
    pair = await make_pair(fmt, config=cfg)
    try:
        p = payment(2, "JPY", 500_000, creditor_bank="MHCBJPJTXXX",
                    creditor_account="JP0012345")
        await pair.adapter.submit(p)
        await pair.until(lambda: len(pair.of(p)) == 2)
        pair.clock.advance(timedelta(minutes=59))
        await pair.settle_down()
        assert len(pair.of(p)) == 2  # still waiting for its documents
        pair.clock.advance(timedelta(minutes=1))
        await pair.until(lambda: len(pair.of(p)) == 3)
        assert pair.sim.balances("JPY")[US] == 10**12  # not credited before its value date
        pair.clock.set(datetime(2026, 3, 2, 23, 0, tzinfo=UTC))  # Tuesday 00:00 in Paris
        assert await pair.final(p) == [(PENDING, None)] * 3 + [(SETTLED, None)]
        assert pair.details(p) == ["G001 sent on to a bank outside gpi",
                                   "G003 pending documents",
                                   "G002 credit may not be same day", None]
        item = pair.item(p)
        assert item.business_date == date(2026, 3, 3)
    finally:
        await dispose(pair)


async def test_cover_payment_waits_for_its_cover_and_both_leave_together(pair: Pair) -> None:
    pair.sim.server.traffic = []
    p = payment(3, "USD", 250_000_00)
    await pair.adapter.submit(p)
    assert await pair.final(p) == [(PENDING, None), (PENDING, None), (SETTLED, None)]
    assert pair.details(p)[:2] == ["G000 sent on to a gpi bank", "G004 pending cover funds"]
    inbound = [m for d, m in pair.sim.server.traffic if d == "in"]
    assert len(inbound) == 2  # the transfer to the beneficiary's bank, its cover behind it
    if pair.adapter.format == "mx":
        assert b"pacs.008.001.08" in inbound[0] and b"<BICFI>BOFAUS3NXXX</BICFI></FinInstnId>" \
            b"</FIId></To>" in inbound[0] and b"<SttlmMtd>COVE</SttlmMtd>" in inbound[0]
        assert b"pacs.009.001.08" in inbound[1] and b"CHASUS33XXX" in inbound[1]
        assert b"<UndrlygCstmrCdtTrf>" in inbound[1]
    else:
        assert inbound[0].startswith(b"{1:F01PYSWCNSHXXXX") and b"{2:I103BOFAUS3NXXXX}" in \
            inbound[0]
        assert b"{2:I202CHASUS33XXXX}" in inbound[1] and b"{119:COV}" in inbound[1]
        assert b":21:00000003e2e0000+" in inbound[1]  # the cover names the transfer's field 20
    assert all(p.uetr.encode() in m for m in inbound)
    assert pair.sim.balances("USD")[BOFA] == 250_000_00


async def test_serial_currency_goes_to_the_correspondent_without_a_cover(pair: Pair) -> None:
    pair.sim.server.traffic = []
    p = payment(4, "HKD", 88_00, creditor_bank="DBSSHKHHXXX", business_date="2026-03-03")
    await pair.adapter.submit(p)
    await pair.until(lambda: len(pair.of(p)) == 2)
    (inbound,) = [m for d, m in pair.sim.server.traffic if d == "in"]
    if pair.adapter.format == "mx":
        assert b"<SttlmMtd>INDA</SttlmMtd>" in inbound
        assert b"<To><FIId><FinInstnId><BICFI>HSBCHKHHXXX</BICFI>" in inbound
        assert b"<CdtrAgt><FinInstnId><BICFI>DBSSHKHHXXX</BICFI>" in inbound
    else:
        assert b"{2:I103HSBCHKHHXXXX}" in inbound and b":57A:DBSSHKHHXXX" in inbound
    assert pair.details(p) == ["G000 sent on to a gpi bank", "G002 credit may not be same day"]


@pytest.mark.parametrize(("creditor_account", "reason"), [(CLOSED, "AC04"), (BLOCKED, "AC06")])
async def test_creditor_account_rejects(pair: Pair, creditor_account: str, reason: str) -> None:
    p = payment(5, "GBP", creditor_account=creditor_account, creditor_bank=BARC)
    await pair.adapter.submit(p)
    assert await pair.final(p) == [(Outcome.REJECTED, reason)]
    assert pair.sim.balances("GBP")[US] == 10**12


@pytest.mark.parametrize("fmt", FORMATS)
async def test_short_nostro_is_rejected_am04_when_it_comes_to_the_credit(fmt: str) -> None:
    pair = await make_pair(fmt, sender=POOR)
    try:
        ok, short = payment(6, "GBP", 3_000, debtor_bank=POOR), payment(7, "GBP", 3_000,
                                                                        debtor_bank=POOR)
        await pair.adapter.submit(ok)
        await pair.adapter.submit(short)
        assert await pair.final(ok) == [(PENDING, None), (SETTLED, None)]
        assert await pair.final(short) == [(PENDING, None), (Outcome.REJECTED, "AM04")]
        assert pair.sim.balances("GBP")[POOR] == 2_000
    finally:
        await dispose(pair)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_network_rejects_currency_and_unknown_sender(fmt: str) -> None:
    chf = {"CHF": "UBSWCHZHXXX", "GBP": "BARCGB22XXX"}
    pair = await make_pair(fmt, correspondents=chf)
    stranger = await make_pair(fmt, sender="NOBKCNSHXXX")
    try:
        p = payment(8, "CHF")
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(Outcome.REJECTED, "AM03")]
        q = payment(9, "GBP", debtor_bank="NOBKCNSHXXX")
        await stranger.adapter.submit(q)
        assert await stranger.final(q) == [(Outcome.REJECTED, "RC01")]
    finally:
        await dispose(pair)
        await dispose(stranger)


async def test_a_payment_the_link_cannot_carry_is_refused_before_sending(pair: Pair) -> None:
    pair.sim.server.traffic = []
    with pytest.raises(MessageError):  # the engine rejects it FF01: nothing left the switch
        await pair.adapter.submit(payment(10, "GBP", creditor_bank="313100000013"))
    with pytest.raises(MessageError, match="SWIFT_NO_CORRESPONDENT"):
        await pair.adapter.submit(payment(11, "SGD"))
    await asyncio.sleep(0.05)
    assert pair.sim.server.traffic == []


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("code", "reason", "detail"),
                         [("T27", "RC01", "T27"), ("X99", "NARR", "X99"), ("RR04", "RR04", None)])
async def test_reject_codes_native_ones_through_the_table(fmt: str, code: str, reason: str,
                                                          detail: str | None) -> None:
    plan = FaultPlan(rules={CUSTOMER[fmt]: FaultRule(reject=1.0, reject_code=code)})
    pair = await make_pair(fmt, faults=plan)
    try:
        p = payment(12)
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(Outcome.REJECTED, reason)]
        assert pair.details(p) == [detail]
        assert pair.item(p).state is ItemState.REJECTED
    finally:
        await dispose(pair)


async def test_same_ids_other_content_is_am05(pair: Pair) -> None:
    p = payment(13, "GBP", 1_000)
    await pair.adapter.submit(p)
    await pair.final(p)
    changed = payment(13, "GBP", 2_000)
    await pair.adapter.submit(changed)
    assert await pair.final(changed, 2) == [(PENDING, None), (SETTLED, None),
                                            (Outcome.REJECTED, "AM05")]
    assert pair.sim.balances("GBP")[BOFA] == 1_000


async def test_resend_is_answered_with_its_status_and_not_booked_again(pair: Pair) -> None:
    p = payment(14, "GBP", 900)
    await pair.adapter.submit(p)
    await pair.final(p)
    await pair.adapter.submit(p)
    assert await pair.final(p, 2) == [(PENDING, None), (SETTLED, None), (SETTLED, None)]
    assert pair.sim.received_count(pair.item(p).end_to_end_id) == 2
    assert pair.sim.duplicates() == 1 and pair.sim.balances("GBP")[BOFA] == 900


@pytest.mark.parametrize("fmt", FORMATS)
async def test_late_reply_unknown_then_inquiry_then_final(fmt: str) -> None:
    plan = FaultPlan(rules={CUSTOMER[fmt]: FaultRule(delay=1.0, delay_ms=30_000)})
    pair = await make_pair(fmt, faults=plan, reply_timeout=5.0)
    try:
        p = payment(15)
        await pair.adapter.submit(p)
        await pair.until(lambda: len(pair.sim.items()) == 1)
        pair.clock.advance(timedelta(seconds=4.999))
        await pair.settle_down()
        assert pair.of(p) == []  # the deadline is 5 s of the injected clock, not less
        pair.clock.advance(timedelta(milliseconds=1))
        assert await pair.final(p) == [(Outcome.UNKNOWN, None)]
        await pair.adapter.inquire(p)  # the tracker knows it: sent on, not yet credited
        await pair.until(lambda: len(pair.of(p)) == 2)
        assert pair.of(p)[1] == (PENDING, None)
        pair.clock.advance(timedelta(seconds=25))  # the late reply, and the transfer behind it
        assert (await pair.final(p, 2))[-1] == (SETTLED, None)
        assert {o for o, _ in pair.of(p)} == {Outcome.UNKNOWN, PENDING, SETTLED}
    finally:
        await dispose(pair)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_dropped_reply_and_updates_the_inquiry_finds_it_credited(fmt: str) -> None:
    plan = FaultPlan(rules={CUSTOMER[fmt]: FaultRule(drop=1.0)})
    pair = await make_pair(fmt, faults=plan, reply_timeout=5.0)
    try:
        p = payment(16)
        await pair.adapter.submit(p)
        await pair.until(lambda: len(pair.sim.items()) == 1)
        item = pair.item(p)
        assert item.state is ItemState.SETTLED  # credited in the channel; nobody told us
        pair.clock.advance(timedelta(seconds=5))
        assert await pair.final(p) == [(Outcome.UNKNOWN, None)]
        pair.clock.advance(timedelta(hours=1))
        await pair.settle_down()
        assert len(pair.of(p)) == 1  # UNKNOWN is said once, and no update comes
        await pair.adapter.inquire(p)
        assert await pair.final(p, 2) == [(Outcome.UNKNOWN, None), (SETTLED, None)]
        assert pair.sim.received_count(item.end_to_end_id) == 1
    finally:
        await dispose(pair)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_duplicate_replies_have_no_double_effect(fmt: str) -> None:
    plan = FaultPlan(rules={CUSTOMER[fmt]: FaultRule(duplicate=1.0)})
    pair = await make_pair(fmt, faults=plan)
    try:
        p = payment(17, "USD", 5_000)  # a cover payment: three updates, each twice
        await pair.adapter.submit(p)
        await pair.final(p)
        await pair.settle_down()
        assert pair.of(p).count((SETTLED, None)) == 1  # the second ACCC finds it final
        assert pair.of(p)[-1] == (SETTLED, None)
        assert pair.sim.balances("USD")[BOFA] == 5_000 and pair.sim.duplicates() == 0
    finally:
        await dispose(pair)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("fault", ["close", "partial"])
async def test_disconnect_then_reconnect_and_inquire(fmt: str, fault: str) -> None:
    plan = FaultPlan(rules={CUSTOMER[fmt]: FaultRule(**{fault: 1.0})})  # type: ignore[arg-type]
    pair = await make_pair(fmt, faults=plan)
    try:
        p = payment(18)
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(Outcome.UNKNOWN, None)]
        await pair.until(lambda: pair.adapter.connected, timeout=3.0)
        await pair.adapter.inquire(p)  # the channel took it before the line dropped
        assert (await pair.final(p, 2))[-1] == (SETTLED, None)
        assert len(pair.sim.items()) == 1
    finally:
        await dispose(pair)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("at", "currency", "value"), [
    (datetime(2026, 3, 2, 16, 45, tzinfo=UTC), "GBP", date(2026, 3, 3)),  # 17:45 CET > 17:30
    (datetime(2026, 3, 6, 16, 45, tzinfo=UTC), "GBP", date(2026, 3, 9)),  # Friday -> Monday
    (datetime(2026, 3, 2, 5, 0, tzinfo=UTC), "CNY", date(2026, 3, 2)),  # 06:00 CET < 06:45
    (datetime(2026, 3, 2, 6, 0, tzinfo=UTC), "CNY", date(2026, 3, 3)),
])
async def test_after_the_cutoff_the_value_date_rolls_not_a_reject(
        fmt: str, at: datetime, currency: str, value: date) -> None:
    pair = await make_pair(fmt, start=at)
    try:
        p = payment(20, currency, 7_000, creditor_bank="BKCHHKHHXXX")
        await pair.adapter.submit(p)
        await pair.until(lambda: len(pair.of(p)) >= 2)
        same_day = value == at.date()
        assert pair.of(p)[-1] == ((SETTLED, None) if same_day else (PENDING, None))
        if not same_day:
            assert pair.details(p)[-1] == "G002 credit may not be same day"
            pair.clock.set(datetime.combine(value, datetime.min.time(), UTC))
            assert (await pair.final(p))[-1] == (SETTLED, None)
        item = pair.item(p)
        assert item.business_date == value and pair.sim.value_date(currency, at=at) == value
    finally:
        await dispose(pair)


async def test_returns_reach_the_sender_in_its_format(pair: Pair) -> None:
    p = payment(21, "GBP", 4_321)
    await pair.adapter.submit(p)
    await pair.final(p)
    pair.sim.return_item(pair.item(p), "AC04")
    await pair.until(lambda: any(s.outcome is Outcome.RETURNED for s in pair.seen))
    (ret,) = [s for s in pair.seen if s.outcome is Outcome.RETURNED]
    assert (ret.payment_id, ret.end_to_end_id, ret.reason) == (p.payment_id, p.end_to_end_id,
                                                              "AC04")
    assert ret.detail == "returned 4321 GBP"
    assert pair.sim.balances("GBP")[US] == 10**12 and pair.sim.balances("GBP")[BOFA] == 0


async def test_inquiry_of_a_payment_never_sent_is_not_found(pair: Pair) -> None:
    p = payment(22)
    await pair.adapter.inquire(p)
    assert await pair.final(p) == [(Outcome.NOT_FOUND, None)]


async def test_refused_cover_rejects_its_transfer() -> None:
    plan = FaultPlan(rules={"pacs.009": FaultRule(reject=1.0, reject_code="AM04")})
    pair = await make_pair("mx", faults=plan)
    try:
        p = payment(23, "EUR", 1_000)
        await pair.adapter.submit(p)
        assert await pair.final(p) == [(PENDING, None), (PENDING, None),
                                       (Outcome.REJECTED, "AM04")]
        assert pair.details(p)[-1] == "cover refused"
        assert pair.sim.balances("EUR")[US] == 10**12
    finally:
        await dispose(pair)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_lost_cover_times_out_ab05_and_books_nothing(fmt: str) -> None:
    # the link goes down before the cover is read: the transfer waits for it, then gives up
    cfg = SwiftConfig(participants={US: 10**12}, cover_timeout_s=7_200)
    kind = "pacs.009" if fmt == "mx" else "MT202"
    pair = await make_pair(fmt, config=cfg, faults=FaultPlan(rules={kind: FaultRule(refuse=1.0)}))
    try:
        p = payment(24, "EUR", 1_000)
        await pair.adapter.submit(p)
        await pair.until(lambda: (Outcome.UNKNOWN, None) in pair.of(p))
        await pair.until(lambda: pair.adapter.connected, timeout=3.0)
        await pair.adapter.inquire(p)
        await pair.until(lambda: pair.of(p)[-1] == (PENDING, None))
        assert pair.details(p)[-1] == "G004 pending cover funds"
        pair.clock.advance(timedelta(seconds=7_199))
        await pair.settle_down()
        assert pair.of(p)[-1] == (PENDING, None)
        pair.clock.advance(timedelta(seconds=1))
        assert (await pair.final(p, 2))[-1] == (Outcome.REJECTED, "AB05")
        assert pair.sim.balances("EUR")[US] == 10**12
    finally:
        await dispose(pair)


async def test_same_seed_plan_and_input_give_byte_identical_traffic() -> None:
    plan = FaultPlan.from_json(
        b'{"rules": {"pacs.008": {"reject": 0.15, "reject_code": "T27", "duplicate": 0.2,'
        b' "garbage": 0.1, "drop": 0.1}, "MT103": {"reject": 0.2, "reject_code": "AC01",'
        b' "duplicate": 0.2}}, "latency": {"median_ms": 5, "p99_ms": 50}}')

    async def run(seed: int, fmt: str) -> list[tuple[str, bytes]]:
        pair = await make_pair(fmt, faults=plan, seed=seed)
        pair.adapter._msg_prefix = "PFIXEDPREFIX0"  # our message ids are random per process
        pair.sim.server.traffic = []
        try:
            ps = [payment(100 + i, ("GBP", "USD", "JPY")[i % 3], 1_000 + i) for i in range(30)]
            for p in ps:
                await pair.adapter.submit(p)
            covers = sum(p.order.currency == "USD" for p in ps)
            traffic = pair.sim.server.traffic
            # every transfer and cover in before the clock moves (traffic would differ if not)
            await pair.until(lambda: [d for d, _ in traffic].count("in") == len(ps) + covers)
            pair.clock.advance(timedelta(seconds=1))  # delayed replies and their transfers
            pair.clock.set(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))  # JPY's value date
            await pair.settle_down()
            return list(traffic)
        finally:
            await dispose(pair)

    for fmt in FORMATS:
        first, second, other = await run(9, fmt), await run(9, fmt), await run(10, fmt)
        assert first == second
        assert first != other
        assert len([t for t in first if t[0] == "in"]) == 30 + 10  # USD ones have covers


async def test_many_pipelined_payments_settle(pair: Pair) -> None:
    ps = [payment(200 + i, ("GBP", "USD", "EUR")[i % 3], 100) for i in range(300)]
    await asyncio.gather(*(pair.adapter.submit(p) for p in ps))
    await pair.until(lambda: len([s for s in pair.seen if s.outcome is SETTLED]) == 300,
                     timeout=60)
    assert sum(pair.sim.balances(c)[BOFA] for c in ("GBP", "USD", "EUR")) == 30_000
    assert len(pair.sim.items()) == 300 and pair.sim.duplicates() == 0


@pytest.mark.parametrize(("bearer", "chrgbr", "field_71a"), [
    ("DEBT", "DEBT", "OUR"), ("CRED", "CRED", "BEN"), ("SHAR", "SHAR", "SHA"),
    ("SLEV", "SHAR", "SHA"),  # CBPR+ has no SLEV: the charges are shared
])
async def test_charge_bearer_travels_as_chrgbr_or_71a(pair: Pair, bearer: str, chrgbr: str,
                                                      field_71a: str) -> None:
    pair.sim.server.traffic = []
    p = payment(40, "GBP")
    p.order = msgspec.structs.replace(p.order, charge_bearer=bearer)
    await pair.adapter.submit(p)
    await pair.final(p)
    (sent,) = [m for d, m in pair.sim.server.traffic if d == "in"]
    if pair.adapter.format == "mx":
        assert f"<ChrgBr>{chrgbr}</ChrgBr>".encode() in sent
    else:
        assert f":71A:{field_71a}\r\n".encode() in sent
