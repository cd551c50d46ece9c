"""The BEPS simulator alone over a real loopback socket, driven by a raw framed client on a
virtual clock: package checks, the 16:00 business day, caps, the receiving bank and its
deadline, netting sessions, short senders, the statement, admin and configuration."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest

from messages.channel_framing import LinkReader, encode
from messages.iso20022 import (
    Agent,
    CreditTransfer,
    Pacs002,
    Pacs008,
    PartyAccount,
    StatusRequest,
    build_pacs008,
    build_pacs028,
    parse_camt053,
    parse_pacs002,
)
from routing import load_catalogue
from simulators import simulator_class
from simulators.beps import EXPIRED, BepsConfig, BepsSimulator
from simulators.books import ItemState
from simulators.faults import FaultPlan, StatementFaults
from simulators.link import admin_request
from switch.clock import VirtualClock
from tests.xsd_oracle import assert_valid

SH = ZoneInfo("Asia/Shanghai")
A = "102100099996"  # a rich participant (the switch's bank by default)
P = "104100000004"  # poor participants
Q = "105100000005"
B = "103100000026"  # a receiving bank that is no sending participant
CLOSED, BLOCKED = "6222000000000404", "6222000000000406"
SILENT, SLOW = "313100000013", "314100000014"


def local(y: int, mo: int, d: int, h: int, mi: int, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=SH)


MONDAY = local(2026, 3, 2, 10, 5)  # a working day; the next session is 10:30


def tx(e2e: str, amount: int = 10_000, *, debtor_agent: str = A, creditor_agent: str = B,
       creditor_account: str = "6222000000000001", currency: str = "CNY") -> CreditTransfer:
    return CreditTransfer(
        end_to_end_id=e2e, tx_id="TX" + e2e, uetr="6f0c1f8e-3a4b-4c5d-8e9f-0a1b2c3d4e5f",
        amount=amount, currency=currency, settlement_date=date(2026, 3, 2),
        debtor=PartyAccount("Zhang San", account="6222000000009999"),
        debtor_agent=Agent(member_id=debtor_agent, clearing_system="CNAPS"),
        creditor=PartyAccount("Li Si", account=creditor_account),
        creditor_agent=Agent(member_id=creditor_agent, clearing_system="CNAPS"))


def package(msg_id: str, *txs: CreditTransfer) -> bytes:
    sender = txs[0].debtor_agent
    return encode(build_pacs008(Pacs008(msg_id=msg_id, created_at=MONDAY, transactions=txs,
                                        instructing_agent=sender)))


def inquiry(*e2e: str) -> bytes:
    return encode(build_pacs028(StatusRequest("Q" + e2e[0], MONDAY, tuple(e2e))))


def statuses(report: Pacs002) -> list[tuple[str, str, str | None]]:
    return [(t.orgnl_end_to_end_id, t.status, t.reason or t.reason_proprietary)
            for t in report.transactions]


class Client:
    """A participant's raw framed connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.link = reader, writer, LinkReader()
        self.pending: list[bytes] = []

    async def send(self, *frames: bytes) -> None:
        self.writer.write(b"".join(frames))
        await self.writer.drain()

    async def recv(self, timeout: float = 2.0) -> Pacs002:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(1 << 16), timeout)
            if not data:
                raise ConnectionError("closed by the simulator")
            self.pending.extend(self.link.feed(data))
        return parse_pacs002(self.pending.pop(0))

    async def silent(self, wait: float = 0.15) -> bool:
        """Nothing arrives within ``wait`` seconds of loop time."""
        try:
            await self.recv(wait)
        except TimeoutError:
            return True
        return False

    def close(self) -> None:
        self.writer.close()


class Channel:
    def __init__(self, sim: BepsSimulator, clock: VirtualClock, client: Client) -> None:
        self.sim, self.clock, self.client = sim, clock, client

    def at(self, when: datetime) -> None:
        self.clock.set(when)

    async def ack(self, frame: bytes) -> list[tuple[str, str, str | None]]:
        await self.client.send(frame)
        return statuses(await self.client.recv())


def config(**changes: object) -> BepsConfig:
    base = BepsConfig(participants={A: 10**13, P: 5_000, Q: 0},
                      closed_accounts=(CLOSED,), blocked_accounts=(BLOCKED,),
                      silent_banks=(SILENT,), bank_reply_s={SLOW: 3 * 3600})
    return msgspec.structs.replace(base, **changes)


async def open_channel(start: datetime = MONDAY, cfg: BepsConfig | None = None,
                       faults: FaultPlan | None = None, seed: int = 0) -> Channel:
    clock = VirtualClock(start)
    sim = BepsSimulator(cfg or config(), clock, seed=seed, faults=faults)
    port = await sim.start()
    client = Client(*await asyncio.open_connection("127.0.0.1", port))
    return Channel(sim, clock, client)


@pytest.fixture
async def ch() -> AsyncIterator[Channel]:
    c = await open_channel()
    yield c
    c.client.close()
    await c.sim.stop()


async def test_package_acknowledged_at_once_then_netted_at_the_session(ch: Channel) -> None:
    acks = await ch.ack(package("PKG1", tx("E1", 1_000), tx("E2", 2_500), tx("E3", 40)))
    assert acks == [("E1", "ACTC", None), ("E2", "ACTC", None), ("E3", "ACTC", None)]
    assert ch.sim.balances()[A] == 10**13  # nothing moves before the session
    ch.at(local(2026, 3, 2, 10, 29, 59))
    assert await ch.client.silent()
    ch.at(local(2026, 3, 2, 10, 30))
    receipt = await ch.client.recv()
    assert receipt.orgnl_msg_id == "PKG1"
    assert statuses(receipt) == [("E1", "ACSC", None), ("E2", "ACSC", None),
                                 ("E3", "ACSC", None)]
    assert {t.accepted_at for t in receipt.transactions} == {local(2026, 3, 2, 10, 30)}
    assert {t.additional_info for t in receipt.transactions} == {"session S202603021030"}
    assert (ch.sim.balances()[A], ch.sim.balances()[B]) == (10**13 - 3_540, 3_540)
    (session,) = ch.sim.books.sessions.values()
    assert (session.id, session.business_date, session.items, session.packages) == (
        "S202603021030", date(2026, 3, 2), ("E1", "E2", "E3"), ("PKG1",))
    assert session.positions == {A: -3_540, B: 3_540}
    item = ch.sim.items()["E2"]
    assert (item.state, item.msg_id, item.channel_ref, item.business_date) == (
        ItemState.SETTLED, "PKG1", "S202603021030", date(2026, 3, 2))
    ch.at(local(2026, 3, 2, 12, 0))  # later sessions have nothing to say
    assert await ch.client.silent()


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"currency": "USD"}, "AM03"),
    ({"amount": 5_000_001}, "AM02"),
    ({"debtor_agent": "999999999999"}, "RC01"),
    ({"creditor_agent": "10310000002"}, "RC01"),
])
async def test_item_failing_checks_is_rejected_in_the_acknowledgement(
        ch: Channel, kwargs: dict[str, object], reason: str) -> None:
    acks = await ch.ack(package("PKG", tx("OK1"), tx("BAD", **kwargs), tx("OK2")))  # type: ignore[arg-type]
    assert acks == [("OK1", "ACTC", None), ("BAD", "RJCT", reason), ("OK2", "ACTC", None)]
    ch.at(local(2026, 3, 2, 10, 30))
    assert statuses(await ch.client.recv()) == [("OK1", "ACSC", None), ("OK2", "ACSC", None)]
    assert ch.sim.items()["BAD"].state is ItemState.REJECTED


async def test_resend_is_not_booked_twice_and_other_content_is_am05(ch: Channel) -> None:
    assert await ch.ack(package("PKG1", tx("D1", 700))) == [("D1", "ACTC", None)]
    assert await ch.ack(package("PKG2", tx("D1", 700), tx("D1", 701))) == [
        ("D1", "ACTC", None), ("D1", "RJCT", "AM05")]
    ch.at(local(2026, 3, 2, 10, 30))
    receipt = await ch.client.recv()
    assert (receipt.orgnl_msg_id, statuses(receipt)) == ("PKG1", [("D1", "ACSC", None)])
    assert await ch.ack(package("PKG3", tx("D1", 700))) == [("D1", "ACSC", None)]
    assert ch.sim.received_count("D1") == 4 and ch.sim.balances()[B] == 700


async def test_inquiry_before_and_after_the_session(ch: Channel) -> None:
    await ch.ack(package("PKG1", tx("I1")))
    await ch.client.send(inquiry("I1", "NEVER"))
    rep = await ch.client.recv()
    assert [(t.orgnl_end_to_end_id, t.status, t.reason, t.additional_info)
            for t in rep.transactions] == [("I1", "ACTC", None, None),
                                           ("NEVER", "RJCT", "NARR", "NOT_FOUND")]
    ch.at(local(2026, 3, 2, 10, 30))
    await ch.client.recv()  # the receipt
    await ch.client.send(inquiry("I1"))
    assert statuses(await ch.client.recv()) == [("I1", "ACSC", None)]


async def test_receiving_bank_refuses_closed_and_blocked_accounts_at_the_session(
        ch: Channel) -> None:
    acks = await ch.ack(package("PKG1", tx("R1", creditor_account=CLOSED), tx("R2"),
                                tx("R3", creditor_account=BLOCKED)))
    assert [s for _, s, _ in acks] == ["ACTC"] * 3  # the centre cannot know the accounts
    ch.at(local(2026, 3, 2, 10, 30))
    assert statuses(await ch.client.recv()) == [
        ("R1", "RJCT", "AC04"), ("R2", "ACSC", None), ("R3", "RJCT", "AC06")]
    assert ch.sim.balances()[B] == 10_000


async def test_slow_receiving_bank_waits_for_a_later_session(ch: Channel) -> None:
    await ch.ack(package("PKG1", tx("S1", creditor_agent=SLOW), tx("S2")))
    ch.at(local(2026, 3, 2, 10, 30))
    assert statuses(await ch.client.recv()) == [("S2", "ACSC", None)]
    ch.at(local(2026, 3, 2, 13, 0))  # the bank answers at 13:05
    assert await ch.client.silent()
    ch.at(local(2026, 3, 2, 13, 30))
    receipt = await ch.client.recv()
    assert (receipt.orgnl_msg_id, statuses(receipt)) == ("PKG1", [("S1", "ACSC", None)])
    assert ch.sim.items()["S1"].channel_ref == "S202603021330"


@pytest.mark.parametrize(("sent", "expires"), [
    (MONDAY, local(2026, 3, 3, 16, 0)),  # T Monday: the end of Tuesday's business day
    (local(2026, 3, 6, 17, 0), local(2026, 3, 10, 16, 0)),  # Friday 17:00 is Monday's
    (local(2026, 9, 30, 15, 0), local(2026, 10, 8, 16, 0)),  # T+1 skips National Day week
])
async def test_unanswered_item_expires_at_the_end_of_t_plus_one(
        sent: datetime, expires: datetime) -> None:
    ch = await open_channel(sent)
    try:
        await ch.ack(package("PKG1", tx("X1", creditor_agent=SILENT)))
        ch.at(expires - timedelta(minutes=30))
        assert await ch.client.silent()
        assert ch.sim.items()["X1"].state is ItemState.RECEIVED
        ch.at(expires)
        receipt = await ch.client.recv()
        (st,) = receipt.transactions
        assert (st.status, st.reason, st.reason_proprietary) == ("RJCT", None, EXPIRED)
        assert ch.sim.balances()[A] == 10**13
    finally:
        ch.client.close()
        await ch.sim.stop()


async def test_business_day_switches_at_16_00() -> None:
    ch = await open_channel(local(2026, 3, 2, 15, 59, 59))
    try:
        await ch.ack(package("PKG1", tx("BEFORE", 100)))
        ch.at(local(2026, 3, 2, 16, 0))  # the last session of Monday's business day
        assert statuses(await ch.client.recv()) == [("BEFORE", "ACSC", None)]
        await ch.ack(package("PKG2", tx("AFTER", 200)))  # at 16:00:00: Tuesday's
        ch.at(local(2026, 3, 2, 16, 30))
        assert statuses(await ch.client.recv()) == [("AFTER", "ACSC", None)]
        items = ch.sim.items()
        assert (items["BEFORE"].business_date, items["AFTER"].business_date) == (
            date(2026, 3, 2), date(2026, 3, 3))
        assert [s.id for s in ch.sim.books.sessions.values()] == [
            "S202603021600", "S202603031630"]
        monday = ch.sim.books.statement(A, date(2026, 3, 2))
        tuesday = ch.sim.books.statement(A, date(2026, 3, 3))
        assert [ln.end_to_end_id for ln in monday.lines] == ["BEFORE"]
        assert [ln.end_to_end_id for ln in tuesday.lines] == ["AFTER"]
        assert tuesday.opening == monday.closing == 10**13 - 100
    finally:
        ch.client.close()
        await ch.sim.stop()


async def test_a_late_running_session_leaves_the_next_business_days_items() -> None:
    ch = await open_channel(local(2026, 3, 2, 16, 0))  # the 16:00 timer has not run yet
    try:
        await ch.ack(package("PKG1", tx("NEXT", 100)))  # at 16:00:00: Tuesday's
        assert ch.sim.run_session(local(2026, 3, 2, 16, 0)) is None  # Monday's last session
        assert ch.sim.items()["NEXT"].state is ItemState.RECEIVED
        ch.at(local(2026, 3, 2, 16, 30))
        assert statuses(await ch.client.recv()) == [("NEXT", "ACSC", None)]
        assert list(ch.sim.books.sessions) == ["S202603031630"]
    finally:
        ch.client.close()
        await ch.sim.stop()


@pytest.mark.parametrize(("when", "day"), [
    (local(2026, 3, 6, 16, 0), date(2026, 3, 9)),  # Friday after the switch: Monday
    (local(2026, 3, 7, 11, 0), date(2026, 3, 9)),  # Saturday: Monday
    (local(2026, 3, 8, 16, 30), date(2026, 3, 9)),  # Sunday after the switch: Monday
    (local(2026, 4, 3, 16, 0), date(2026, 4, 7)),  # before Qingming (Apr 4-6)
    (local(2026, 2, 13, 16, 0), date(2026, 2, 14)),  # Friday -> make-up Saturday
    (local(2026, 2, 14, 16, 0), date(2026, 2, 24)),  # make-up Saturday -> after Spring Festival
])
def test_business_day_rolls_to_the_next_working_day(when: datetime, day: date) -> None:
    sim = BepsSimulator(config(), VirtualClock(when))
    assert sim.business_date() == day
    assert sim.business_date(when - timedelta(seconds=1)) <= day


@pytest.mark.parametrize(("when", "amount", "status"), [
    (local(2026, 3, 7, 11, 0), 100_000_000, "ACTC"),  # a Saturday: 1,000,000 CNY
    (local(2026, 3, 7, 11, 0), 100_000_001, "RJCT"),
    (local(2026, 10, 2, 11, 0), 6_000_000, "ACTC"),  # National Day
    (local(2026, 2, 28, 11, 0), 5_000_001, "RJCT"),  # a make-up Saturday works: 50,000 CNY
    (local(2026, 3, 6, 17, 0), 5_000_001, "RJCT"),  # Friday evening: Monday's, but a workday
    (MONDAY, 5_000_000, "ACTC"),  # the cap is inclusive
])
async def test_holiday_cap_follows_the_calendar_day_of_arrival(
        when: datetime, amount: int, status: str) -> None:
    ch = await open_channel(when)
    try:
        ((_, got, reason),) = await ch.ack(package("PKG1", tx("H1", amount)))
        assert (got, reason) == (status, "AM02" if status == "RJCT" else None)
    finally:
        ch.client.close()
        await ch.sim.stop()


async def test_short_sender_loses_its_newest_items_and_keeps_the_rest(ch: Channel) -> None:
    # P holds 5,000; it sends 9,000 and receives 1,500 in one session: 2,500 short.
    assert [s for _, s, _ in await ch.ack(package(
        "PKGP", tx("P1", 3_000, debtor_agent=P, creditor_agent=A),
        tx("P2", 2_000, debtor_agent=P, creditor_agent=A),
        tx("P3", 4_000, debtor_agent=P, creditor_agent=A)))] == ["ACTC"] * 3
    await ch.ack(package("PKGA", tx("A1", 1_500, creditor_agent=P)))
    ch.at(local(2026, 3, 2, 10, 30))
    receipts = {r.orgnl_msg_id: statuses(r) for r in
                [await ch.client.recv(), await ch.client.recv()]}
    assert receipts == {
        "PKGP": [("P1", "ACSC", None), ("P2", "ACSC", None), ("P3", "RJCT", "AM04")],
        "PKGA": [("A1", "ACSC", None)],
    }
    assert ch.sim.balances()[P] == 5_000 - 5_000 + 1_500
    (session,) = ch.sim.books.sessions.values()
    assert session.positions == {P: -3_500, A: 3_500}  # net: 5,000 out, 1,500 in
    assert session.items == ("P1", "P2", "A1")


async def test_a_dropped_item_can_leave_its_receiver_short_in_turn() -> None:
    # Q (0) pays A only with what P (0) pays it; P has nothing, so both fall.
    ch = await open_channel(cfg=config(participants={A: 10**13, P: 0, Q: 0}))
    try:
        await ch.ack(package("PKGQ", tx("Q1", 5_000, debtor_agent=Q, creditor_agent=A)))
        await ch.ack(package("PKGP", tx("P1", 5_000, debtor_agent=P, creditor_agent=Q)))
        await ch.ack(package("PKGA", tx("A1", 700, creditor_agent=B)))
        ch.at(local(2026, 3, 2, 10, 30))
        got = {r.orgnl_msg_id: statuses(r) for r in [await ch.client.recv() for _ in range(3)]}
        assert got == {"PKGQ": [("Q1", "RJCT", "AM04")], "PKGP": [("P1", "RJCT", "AM04")],
                       "PKGA": [("A1", "ACSC", None)]}
        assert (ch.sim.balances()[P], ch.sim.balances()[Q]) == (0, 0)
        assert [s.items for s in ch.sim.books.sessions.values()] == [("A1",)]
    finally:
        ch.client.close()
        await ch.sim.stop()


async def test_credits_in_the_same_session_cover_a_sender(ch: Channel) -> None:
    # Q holds nothing but receives 5,000 from A in the session it sends 4,000.
    await ch.ack(package("PKGQ", tx("Q1", 4_000, debtor_agent=Q, creditor_agent=B)))
    await ch.ack(package("PKGA", tx("A1", 5_000, creditor_agent=Q)))
    ch.at(local(2026, 3, 2, 10, 30))
    got = [statuses(await ch.client.recv()) for _ in range(2)]
    assert got == [[("Q1", "ACSC", None)], [("A1", "ACSC", None)]]
    assert ch.sim.balances()[Q] == 1_000


async def test_receipts_wait_for_an_absent_sender(ch: Channel) -> None:
    await ch.ack(package("PKG1", tx("W1")))
    ch.client.close()
    for _ in range(200):  # until the simulator has seen the line go
        if not ch.sim.server.links:
            break
        await asyncio.sleep(0.01)
    ch.at(local(2026, 3, 2, 10, 30))
    assert ch.sim.items()["W1"].state is ItemState.SETTLED
    assert ch.sim.port is not None
    back = Client(*await asyncio.open_connection("127.0.0.1", ch.sim.port))
    try:
        await back.send(inquiry("W1"))
        first, second = await back.recv(), await back.recv()
        assert (first.orgnl_msg_id, statuses(first)) == ("PKG1", [("W1", "ACSC", None)])
        assert statuses(second) == [("W1", "ACSC", None)]
    finally:
        back.close()


async def test_statement_lists_items_and_shows_each_sessions_net(ch: Channel) -> None:
    await ch.ack(package("PKG1", tx("E1", 1_000), tx("E2", 2_000)))
    await ch.ack(package("PKG2", tx("E3", 300, debtor_agent=P, creditor_agent=A)))
    ch.at(local(2026, 3, 2, 10, 30))
    await ch.ack(package("PKG3", tx("E4", 500)))
    ch.at(local(2026, 3, 2, 11, 0))
    assert ch.sim.port is not None
    answer = await admin_request("127.0.0.1", ch.sim.port,
                                 {"op": "statement", "date": "2026-03-02"})
    assert (answer["participant"], answer["format"]) == (A, "camt.053.001.08")
    data = answer["data"].encode()
    assert_valid(data, "camt.053.001.08")
    (s,) = parse_camt053(data).statements
    assert s.balanced()  # the INFO net entries are not a second booking
    assert {b.type: b.signed_amount() for b in s.balances} == {
        "OPBD": 10**13, "CLBD": 10**13 - 3_500 + 300}
    got = [(e.status, e.reference, e.signed_amount(), e.servicer_ref,
            e.transactions[0].msg_id if e.transactions else None) for e in s.entries]
    assert got == [
        ("BOOK", "E1", -1_000, "S202603021030", "PKG1"),
        ("BOOK", "E2", -2_000, "S202603021030", "PKG1"),
        ("BOOK", "E3", 300, "S202603021030", "PKG2"),
        ("INFO", "S202603021030", -2_700, "S202603021030", None),
        ("BOOK", "E4", -500, "S202603021100", "PKG3"),
        ("INFO", "S202603021100", -500, "S202603021100", None),
    ]
    assert [e.bank_tx_code.proprietary for e in s.entries if e.bank_tx_code] == [
        "SETTLE", "SETTLE", "SETTLE", "NETTING", "SETTLE", "NETTING"]
    assert [e.transactions[0].servicer_ref for e in s.entries if e.status == "BOOK"] == [
        "S202603021030"] * 3 + ["S202603021100"]


async def test_statement_faults_keep_the_statement_consistent_with_itself() -> None:
    plan = FaultPlan(statement=StatementFaults(omit=0.3, amount=0.3, amount_delta=7, extra=1))
    ch = await open_channel(faults=plan, seed=4)
    try:
        await ch.ack(package("PKG1", *(tx(f"F{i:02d}", 1_000 + i) for i in range(20))))
        ch.at(local(2026, 3, 2, 10, 30))
        await ch.client.recv()
        _, data = ch.sim.statement_document(A, date(2026, 3, 2))
        assert_valid(data, "camt.053.001.08")
        (s,) = parse_camt053(data).statements
        assert s.balanced()
        injected = {d.end_to_end_id: d for d in ch.sim.books.injected(A)}
        assert {d.kind for d in injected.values()} == {"omitted", "amount", "extra"}
        (net,) = [e for e in s.entries if e.status == "INFO"]
        booked_in_session = [e for e in s.entries
                             if e.status == "BOOK" and e.servicer_ref == "S202603021030"]
        assert net.signed_amount() == sum(e.signed_amount() for e in booked_in_session)
        assert not any(e.reference in injected and injected[e.reference].kind == "omitted"
                       for e in s.entries)
    finally:
        ch.client.close()
        await ch.sim.stop()


async def test_admin_sessions_and_day_switch(ch: Channel) -> None:
    await ch.ack(package("PKG1", tx("E1", 1_000)))
    ch.at(local(2026, 3, 2, 10, 30))
    await ch.client.recv()
    await ch.ack(package("PKG2", tx("E2", 50), tx("E3", 70, creditor_agent=SILENT)))
    ch.at(local(2026, 3, 2, 11, 0))
    await ch.client.recv()
    assert ch.sim.port is not None
    got = await admin_request("127.0.0.1", ch.sim.port, {"op": "sessions", "date": "2026-03-02"})
    assert got["ok"] and [(s["id"], s["items"], s["packages"], s["positions"])
                          for s in got["sessions"]] == [
        ("S202603021030", ["E1"], ["PKG1"], {A: -1_000, B: 1_000}),
        ("S202603021100", ["E2"], ["PKG2"], {A: -50, B: 50})]
    closing = await admin_request("127.0.0.1", ch.sim.port,
                                  {"op": "day_switch", "date": "2026-03-02"})
    assert closing == {"ok": True, "business_date": "2026-03-02",
                       "sessions": ["S202603021030", "S202603021100"],
                       "net": {A: -1_050, B: 1_050}, "waiting": 1}
    other = await admin_request("127.0.0.1", ch.sim.port, {"op": "sessions", "date": "2026-03-03"})
    assert other == {"ok": True, "sessions": []}


def test_defaults_agree_with_the_routing_catalogue() -> None:
    cat = load_catalogue()
    spec = cat.channels["BEPS"]
    cfg = BepsConfig()
    assert (cfg.per_item_cap, cfg.holiday_cap, cfg.session_minutes, cfg.day_switch) == (
        spec.max_amount, spec.holiday_max_amount, spec.net_session_minutes,
        spec.calendar.day_switch)
    assert spec.calendar.roll_to_working_day
    assert (cfg.holidays, cfg.makeup_days) == (cat.calendar.holidays, cat.calendar.makeup_days)
    assert simulator_class("beps") is BepsSimulator


@pytest.mark.parametrize("bad", [
    b'session_minutes = 7', b'day_switch = "25:00"', b'receipt_deadline_days = -1',
    b'bank_reply_s = {"313100000013" = -5}', b'sesion_minutes = 30'])
def test_bad_configuration_is_refused(bad: bytes) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.toml.decode(bad, type=BepsConfig)


async def test_payswitch_simulate_beps_runs_standalone() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "switch.cli", "simulate", "BEPS", "--port", "0",
        stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("LISTENING 127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        books = await admin_request("127.0.0.1", port, {"op": "books"})
        assert books["ok"] and books["balances"] == {A: 10**13}
    finally:
        proc.terminate()
        await proc.wait()

