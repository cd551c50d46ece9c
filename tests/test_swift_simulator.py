"""The SWIFT simulator alone, driven by a raw framed client in both formats: covers held until
they arrive, refusals of what it cannot read, its checks, its calendar and its configuration."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest

from messages.channel_framing import LinkReader, encode
from messages.iso20022 import (
    Agent,
    AppHeader,
    BankTransfer,
    CreditTransfer,
    Pacs002,
    Pacs008,
    Pacs009,
    PartyAccount,
    StatusRequest,
    UnderlyingCustomerTransfer,
    build_business_message,
    build_pacs008,
    build_pacs009,
    build_pacs028,
    message_name,
    parse_business_message,
    parse_pacs002,
)
from messages.mt import MT103, MT199, MT202, MT202COV, Envelope, Party, build_mt, parse_mt
from simulators import simulator_class
from simulators.books import ItemState
from simulators.link import admin_request
from simulators.swift import SwiftConfig, SwiftSimulator
from switch.clock import VirtualClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 10:00 in Paris: before every cut-off
DAY = date(2026, 3, 2)
US = "PYSWCNSHXXX"
BOFA = "BOFAUS3NXXX"
CHASE = "CHASUS33XXX"
UETR = "6f0c1f8e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"


def business_message(sender: str, receiver: str, document: bytes) -> bytes:
    """``document`` with a CBPR+ AppHdr, as a bank puts it on the link."""
    name = message_name(document)
    header = AppHeader(sender=Agent(bic=sender), receiver=Agent(bic=receiver),
                       biz_msg_id="B" + name[:4], msg_def_id=name,
                       biz_service="swift.cbprplus.02", created_at=T0)
    return build_business_message(header, document)


class RawClient:
    """A bank's side of the link without the adapter: frames out, frames in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.link = reader, writer, LinkReader()
        self.pending: list[bytes] = []

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, *messages: bytes) -> None:
        self.writer.write(b"".join(encode(m) for m in messages))
        await self.writer.drain()

    async def recv(self, timeout: float = 2.0) -> bytes:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("closed by the simulator")
            self.pending.extend(self.link.feed(data))
        return self.pending.pop(0)

    async def quiet(self, wait: float = 0.2) -> bool:
        """True when nothing arrives within ``wait`` seconds."""
        if self.pending:
            return False
        try:
            data = await asyncio.wait_for(self.reader.read(65536), wait)
        except TimeoutError:
            return True
        self.pending.extend(self.link.feed(data))
        return False

    async def closed(self, timeout: float = 2.0) -> bool:
        return await asyncio.wait_for(self.reader.read(65536), timeout) == b""

    def close(self) -> None:
        self.writer.close()


def customer_mx(e2e: str = "E2E-1", *, amount: int = 1_000_00, currency: str = "USD",
                uetr: str = UETR, creditor_bank: str = BOFA) -> bytes:
    tx = CreditTransfer(
        end_to_end_id=e2e, tx_id="TX" + e2e, instr_id="REF" + e2e, uetr=uetr, amount=amount,
        currency=currency, settlement_date=DAY,
        debtor=PartyAccount("Zhang San", account="6217000000000001", country="CN"),
        debtor_agent=Agent(bic=US), creditor=PartyAccount("John Doe", account="US0001"),
        creditor_agent=Agent(bic=creditor_bank), charge_bearer="DEBT")
    doc = Pacs008(msg_id="M" + e2e, created_at=T0, transactions=(tx,), settlement_method="COVE",
                  instructing_agent=Agent(bic=US), instructed_agent=Agent(bic=creditor_bank))
    return business_message(US, creditor_bank, build_pacs008(doc))


def cover_mx(e2e: str = "E2E-1", *, amount: int = 1_000_00, underlying: bool = True) -> bytes:
    tx = BankTransfer(
        end_to_end_id=e2e, tx_id="C" + e2e, uetr=UETR, amount=amount, currency="USD",
        settlement_date=DAY, debtor=Agent(bic=US), creditor=Agent(bic=BOFA),
        instructing_agent=Agent(bic=US), instructed_agent=Agent(bic=CHASE),
        underlying=UnderlyingCustomerTransfer(
            debtor=PartyAccount("Zhang San"), debtor_agent=Agent(bic=US),
            creditor_agent=Agent(bic=BOFA), creditor=PartyAccount("John Doe"))
        if underlying else None)
    doc = Pacs009(msg_id="V" + e2e, created_at=T0, transactions=(tx,), settlement_method="INDA")
    return business_message(US, CHASE, build_pacs009(doc))


def _envelope(receiver: str) -> Envelope:
    return Envelope(sender=US[:8] + "X" + US[8:], receiver=receiver[:8] + "X" + receiver[8:])


def customer_mt(ref: str = "REF-1", amount: int = 1_000_00) -> bytes:
    msg = MT103(envelope=_envelope(BOFA), uetr=UETR, sender_ref=ref, bank_operation_code="CRED",
                value_date=DAY, currency="USD", amount=amount,
                ordering_customer=Party(option="K", account="6217000000000001",
                                        lines=("ZHANG SAN",)),
                beneficiary=Party(account="US0001", lines=("JOHN DOE",)), charges="OUR")
    return build_mt(msg).encode("ascii")


def cover_mt(ref: str = "COV-1", related: str = "REF-1", amount: int = 1_000_00) -> bytes:
    msg = MT202COV(envelope=_envelope(CHASE), uetr=UETR, sender_ref=ref, related_ref=related,
                   value_date=DAY, currency="USD", amount=amount,
                   beneficiary_institution=Party(option="A", bic=BOFA),
                   underlying_ordering_customer=Party(option="K", lines=("ZHANG SAN",)),
                   underlying_beneficiary=Party(lines=("JOHN DOE",)))
    return build_mt(msg).encode("ascii")


def mx_status(message: bytes) -> tuple[str, Pacs002]:
    header, document = parse_business_message(message)
    return header.sender.bic or "", parse_pacs002(document)


def mt_status(message: bytes) -> tuple[str | None, tuple[str, ...]]:
    msg = parse_mt(message.decode("ascii"))
    assert isinstance(msg, MT199)
    return msg.related_ref, msg.narrative


@pytest.fixture
async def sim() -> AsyncIterator[SwiftSimulator]:
    s = SwiftSimulator(SwiftConfig(participants={US: 10**12}), VirtualClock(T0))
    await s.start()
    yield s
    await s.stop()


async def connect(s: SwiftSimulator) -> RawClient:
    assert s.port is not None
    return await RawClient.connect(s.port)


async def test_mx_transfer_is_held_g004_until_its_cover_arrives(sim: SwiftSimulator) -> None:
    c = await connect(sim)
    await c.send(customer_mx())
    tracker, reply = mx_status(await c.recv())
    assert tracker == "TRCKCHZZXXX" and reply.orgnl_msg_id == "ME2E-1"
    (st,) = reply.transactions
    assert (st.orgnl_end_to_end_id, st.orgnl_uetr, st.status, st.reason) == (
        "E2E-1", UETR, "ACSP", "G000")
    (update,) = mx_status(await c.recv())[1].transactions
    assert (update.status, update.reason) == ("ACSP", "G004")
    assert isinstance(sim.clock, VirtualClock)
    sim.clock.advance(timedelta(hours=6))  # a working day without its cover: still held
    assert await c.quiet()
    assert sim.balances()[US] == 10**12 and sim.items()["E2E-1"].state is ItemState.RECEIVED
    await c.send(cover_mx())
    (credited,) = mx_status(await c.recv())[1].transactions
    assert (credited.status, credited.accepted_at) == ("ACCC", T0 + timedelta(hours=6))
    assert (sim.balances()[US], sim.balances()[BOFA]) == (10**12 - 1_000_00, 1_000_00)
    await c.send(cover_mx())  # the cover again: its money does not move twice
    assert await c.quiet() and sim.balances()[BOFA] == 1_000_00
    c.close()


async def test_mt_transfer_is_held_g004_until_its_cover_arrives(sim: SwiftSimulator) -> None:
    c = await connect(sim)
    await c.send(customer_mt())
    assert mt_status(await c.recv()) == ("REF-1", ("//ACSP/G000",))
    assert mt_status(await c.recv()) == ("REF-1", ("//ACSP/G004",))
    assert await c.quiet()
    await c.send(cover_mt())
    related, narrative = mt_status(await c.recv())
    assert related == "REF-1" and narrative == ("//2603020900+0000", "//ACCC")
    item = sim.items()["REF-1"]  # an MT103 is known by its field 20
    assert (item.state, item.uetr, item.msg_name) == (ItemState.SETTLED, UETR, "MT103")
    c.close()


async def test_a_cover_ahead_of_its_transfer_is_kept_for_it(sim: SwiftSimulator) -> None:
    c = await connect(sim)
    await c.send(cover_mx(), customer_mx())
    assert mx_status(await c.recv())[1].transactions[0].reason == "G000"
    assert mx_status(await c.recv())[1].transactions[0].status == "ACCC"
    c.close()


async def test_a_cover_for_another_amount_does_not_credit(sim: SwiftSimulator) -> None:
    c = await connect(sim)
    await c.send(customer_mx(), cover_mx(amount=999_00))
    statuses = [mx_status(await c.recv())[1].transactions[0] for _ in range(3)]
    assert [(s.status, s.reason) for s in statuses] == [
        ("ACSP", "G000"), ("ACSP", "G004"), ("RJCT", "NARR")]
    assert statuses[-1].additional_info == "cover of 99900 USD does not match"
    assert sim.balances()[US] == 10**12
    c.close()


async def test_inquiry_finds_an_mt103_by_its_uetr(sim: SwiftSimulator) -> None:
    c = await connect(sim)
    await c.send(customer_mt(), cover_mt())
    for _ in range(3):
        await c.recv()
    ask = StatusRequest("Q1", T0, ("E2E-THE-SWITCH-KNOWS", "NEVER-SENT"),
                        orgnl_uetrs=(UETR, "00000000-0000-4000-8000-000000000000"))
    await c.send(business_message(US, "TRCKCHZZXXX", build_pacs028(ask)))
    found, missing = mx_status(await c.recv())[1].transactions
    assert (found.orgnl_end_to_end_id, found.orgnl_uetr, found.status) == ("REF-1", UETR, "ACCC")
    assert (missing.status, missing.reason, missing.additional_info) == (
        "RJCT", "NARR", "NOT_FOUND")
    c.close()


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"currency": "SGD"}, "AM03"),
    ({"creditor_bank": "1234US33XXX"}, "RC01"),  # a valid BICFI, but no BIC a bank has
])
async def test_network_checks(sim: SwiftSimulator, kwargs: dict[str, object],
                              reason: str) -> None:
    c = await connect(sim)
    await c.send(customer_mx(**kwargs))  # type: ignore[arg-type]
    (st,) = mx_status(await c.recv())[1].transactions
    assert (st.status, st.reason) == ("RJCT", reason)
    c.close()


async def test_a_uetr_is_one_payment(sim: SwiftSimulator) -> None:
    c = await connect(sim)
    await c.send(customer_mx("E2E-1"), customer_mx("E2E-2"))
    await c.recv()
    await c.recv()
    (st,) = mx_status(await c.recv())[1].transactions
    assert (st.orgnl_end_to_end_id, st.status, st.reason) == ("E2E-2", "RJCT", "AM05")
    assert list(sim.items()) == ["E2E-1"]
    c.close()


async def test_unreadable_messages_are_refused_ff01_or_the_link_closes(
        sim: SwiftSimulator) -> None:
    c = await connect(sim)
    await c.send(_bare())  # a Document without its AppHdr
    report = parse_pacs002(await c.recv())  # a link-level refusal: a bare pacs.002
    assert (report.orgnl_msg_id, report.group_status) == ("BARE-1", "RJCT")
    assert (report.transactions[0].reason, report.transactions[0].additional_info) == (
        "FF01", "MX_MISSING_ELEMENT")
    await c.send(cover_mx(underlying=False))  # a pacs.009 that covers nothing
    assert parse_pacs002(await c.recv()).transactions[0].additional_info == "MX_WRONG_MESSAGE"
    broken = customer_mt().replace(b":71A:OUR", b":71A:XYZ")
    await c.send(broken)
    related, narrative = mt_status(await c.recv())
    assert related == "REF-1" and narrative == ("//RJCT/FF01", "MT.BAD.FIELD")  # X set: no _
    plain = build_mt(MT202(envelope=_envelope(CHASE), uetr=UETR, sender_ref="B-1",
                           related_ref="R-1", value_date=DAY, currency="USD", amount=1,
                           beneficiary_institution=Party(option="A", bic=BOFA)))
    await c.send(plain.encode("ascii"))
    assert mt_status(await c.recv())[1] == ("//RJCT/FF01", "MT.UNSUPPORTED.TYPE")
    await c.send(b"{1:nonsense")  # no sender to answer: the link closes
    assert await c.closed()
    assert sim.items() == {}


def _bare() -> bytes:
    tx = CreditTransfer(
        end_to_end_id="E", tx_id="T", uetr=UETR, amount=1, currency="USD", settlement_date=DAY,
        debtor=PartyAccount("A"), debtor_agent=Agent(bic=US), creditor=PartyAccount("B"),
        creditor_agent=Agent(bic=BOFA))
    return build_pacs008(Pacs008(msg_id="BARE-1", created_at=T0, transactions=(tx,)))


async def test_holidays_and_weekends_move_value_dates() -> None:
    sim = SwiftSimulator(SwiftConfig(holidays=(date(2026, 3, 3),)), VirtualClock(T0))
    late = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 18:00 CET, after the USD cut-off
    assert sim.value_date("USD") == DAY
    assert sim.value_date("USD", at=late) == date(2026, 3, 4)  # Tuesday is a holiday
    assert sim.value_date("JPY") == date(2026, 3, 4)  # D+1 over the holiday
    assert sim.value_date("USD", requested=date(2026, 3, 7)) == date(2026, 3, 9)  # a Saturday
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    assert sim.value_date("EUR", at=saturday) == date(2026, 3, 9)


@pytest.mark.parametrize(("changes", "message"), [
    ({"correspondents": {"USD": "not a bic"}}, "is not a BIC"),
    ({"cover_currencies": ("CHF",)}, "CHF has no correspondent"),
    ({"cutoffs": {"USD": "25:00"}}, "cutoffs.USD"),
    ({"nostros": {"OTHRCNSHXXX": {"USD": 1}}}, "not a participant"),
    ({"participants": {"PYSWCNSH": 1}}, "11-character BIC"),
    ({"currency": "CHF"}, "no correspondent"),
    ({"statement_page_lines": 0}, "statement_page_lines"),
])
def test_configuration_errors_name_the_key(changes: dict[str, object], message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=message):
        msgspec.convert(changes, SwiftConfig)


def test_nostros_open_each_currency_with_its_own_figure() -> None:
    cfg = msgspec.convert({"participants": {US: 100}, "nostros": {US: {"JPY": 7, "USD": 9}}},
                          SwiftConfig)
    sim = SwiftSimulator(cfg, VirtualClock(T0))
    assert [sim.books.balance(US, c) for c in ("USD", "EUR", "JPY")] == [9, 100, 7]
    assert simulator_class("swift") is SwiftSimulator


async def test_runs_standalone_from_the_command_line() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "switch.cli", "simulate", "SWIFT", "--port", "0", "--seed", "3",
        stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("LISTENING 127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        books = await admin_request("127.0.0.1", port, {"op": "books"})
        assert books["ok"] and books["balances"] == {US: 10**13}
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 30) == 0
