"""The IBPS simulator alone, driven over a real loopback socket by a tiny raw framed client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

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
    parse_pacs002,
)
from simulators.books import ItemState
from simulators.faults import FaultAction, FaultDice, FaultPlan, FaultRule
from simulators.ibps import IbpsConfig, IbpsSimulator
from switch.clock import VirtualClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BANK_A = "102100099996"  # the default participant
BANK_B = "103100000026"
POOR = "104100000004"


def credit(
    e2e: str,
    amount: int = 10_000,
    *,
    currency: str = "CNY",
    debtor_agent: str = BANK_A,
    creditor_agent: str = BANK_B,
    creditor_account: str = "6222000000000001",
    msg_id: str | None = None,
) -> bytes:
    tx = CreditTransfer(
        end_to_end_id=e2e,
        tx_id="TX" + e2e,
        uetr="6f0c1f8e-3a4b-4c5d-8e9f-0a1b2c3d4e5f",
        amount=amount,
        currency=currency,
        settlement_date=date(2026, 3, 2),
        debtor=PartyAccount("Zhang San", account="6222000000009999", country="CN"),
        debtor_agent=Agent(member_id=debtor_agent, clearing_system="CNAPS"),
        creditor=PartyAccount("Li Si", account=creditor_account, country="CN"),
        creditor_agent=Agent(member_id=creditor_agent, clearing_system="CNAPS"),
    )
    doc = Pacs008(msg_id=msg_id or "M" + e2e, created_at=T0, transactions=(tx,))
    return encode(build_pacs008(doc))


def inquiry(*e2e: str) -> bytes:
    return encode(build_pacs028(StatusRequest("Q" + e2e[0], T0, tuple(e2e))))


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.link = reader, writer, LinkReader()
        self.pending: list[bytes] = []

    async def send(self, *frames: bytes) -> None:
        self.writer.write(b"".join(frames))
        await self.writer.drain()

    async def recv(self, timeout: float = 2.0) -> Pacs002:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("closed by the simulator")
            self.pending.extend(self.link.feed(data))
        return parse_pacs002(self.pending.pop(0))

    async def closed(self, timeout: float = 2.0) -> bool:
        return await asyncio.wait_for(self.reader.read(65536), timeout) == b""

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
def config() -> IbpsConfig:
    return IbpsConfig(
        participants={BANK_A: 10**13, POOR: 5_000},
        closed_accounts=("6222000000000404",),
        blocked_accounts=("6222000000000406",),
    )


async def _running(
    config: IbpsConfig, faults: FaultPlan | None = None, seed: int = 0
) -> tuple[IbpsSimulator, int]:
    sim = IbpsSimulator(config, VirtualClock(T0), seed=seed, faults=faults)
    return sim, await sim.start()


@pytest.fixture
async def sim(config: IbpsConfig) -> AsyncIterator[tuple[IbpsSimulator, int]]:
    s, port = await _running(config)
    yield s, port
    await s.stop()


async def connect(port: int) -> RawClient:
    return RawClient(*await asyncio.open_connection("127.0.0.1", port))


async def test_settles_gross_and_moves_balances(sim: tuple[IbpsSimulator, int]) -> None:
    s, port = sim
    c = await connect(port)
    await c.send(credit("E1", 12_345))
    rep = await c.recv()
    assert rep.orgnl_msg_id == "ME1"
    (st,) = rep.transactions
    assert (st.orgnl_end_to_end_id, st.status, st.reason) == ("E1", "ACSC", None)
    assert st.accepted_at == T0
    assert s.balances()[BANK_A] == 10**13 - 12_345
    assert s.balances()[BANK_B] == 12_345  # a non-participant receiver gets an entry at 0
    item = s.items()["E1"]
    assert (item.state, item.amount, item.debtor_agent, item.creditor_agent) == (
        ItemState.SETTLED,
        12_345,
        BANK_A,
        BANK_B,
    )
    c.close()


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"currency": "USD"}, "AM03"),
        ({"amount": 5_000_001}, "AM02"),
        ({"debtor_agent": "999999999999"}, "RC01"),
        ({"creditor_agent": "10310000002"}, "RC01"),
        ({"creditor_account": "6222000000000404"}, "AC04"),
        ({"creditor_account": "6222000000000406"}, "AC06"),
        ({"debtor_agent": POOR, "amount": 5_001}, "AM04"),
    ],
)
async def test_rejects_with_iso_reason(
    sim: tuple[IbpsSimulator, int], kwargs: dict[str, object], reason: str
) -> None:
    s, port = sim
    before = s.balances()
    c = await connect(port)
    await c.send(credit("R1", **kwargs))  # type: ignore[arg-type]
    (st,) = (await c.recv()).transactions
    assert (st.status, st.reason) == ("RJCT", reason)
    assert s.balances() == before
    assert s.items()["R1"].state is ItemState.REJECTED
    c.close()


async def test_cap_is_inclusive_and_poor_bank_can_spend_what_it_has(
    sim: tuple[IbpsSimulator, int],
) -> None:
    s, port = sim
    c = await connect(port)
    await c.send(credit("C1", 5_000_000), credit("C2", 5_000, debtor_agent=POOR))
    assert [t.status for t in (await c.recv()).transactions] == ["ACSC"]
    assert [t.status for t in (await c.recv()).transactions] == ["ACSC"]
    assert s.balances()[POOR] == 0
    c.close()


async def test_resend_not_booked_twice_and_changed_content_is_am05(
    sim: tuple[IbpsSimulator, int],
) -> None:
    s, port = sim
    c = await connect(port)
    await c.send(credit("D1", 700), credit("D1", 700, msg_id="MD1-again"), credit("D1", 701))
    replies = [(await c.recv()).transactions[0] for _ in range(3)]
    assert [(r.status, r.reason) for r in replies] == [
        ("ACSC", None),
        ("ACSC", None),
        ("RJCT", "AM05"),
    ]
    assert s.received_count("D1") == 3
    assert s.balances()[BANK_B] == 700
    assert s.items()["D1"].amount == 700
    c.close()


async def test_inquiry_found_and_not_found(sim: tuple[IbpsSimulator, int]) -> None:
    _, port = sim
    c = await connect(port)
    await c.send(credit("I1"), credit("I2", currency="EUR"), inquiry("I1", "I2", "NEVER"))
    await c.recv()
    await c.recv()
    rep = await c.recv()
    assert rep.orgnl_msg_id == "QI1"
    got = [(t.orgnl_end_to_end_id, t.status, t.reason, t.additional_info) for t in rep.transactions]
    assert got == [
        ("I1", "ACSC", None, None),
        ("I2", "RJCT", "AM03", None),
        ("NEVER", "RJCT", "NARR", "NOT_FOUND"),
    ]
    c.close()


async def test_garbage_with_msg_id_gets_ff01_and_without_closes(
    sim: tuple[IbpsSimulator, int],
) -> None:
    s, port = sim
    c = await connect(port)
    await c.send(encode(b"<Document><FIToFICstmrCdtTrf><GrpHdr><MsgId>BAD1</MsgId><oops"))
    rep = await c.recv()
    assert rep.orgnl_msg_id == "BAD1"
    (st,) = rep.transactions
    assert (st.status, st.reason) == ("RJCT", "FF01")
    await c.send(encode(b"\x00\xffnot xml at all"))
    assert await c.closed()
    # the server survived: a new connection still settles
    c2 = await connect(port)
    await c2.send(credit("AFTER"))
    assert (await c2.recv()).transactions[0].status == "ACSC"
    assert s.received_count("AFTER") == 1
    c2.close()


async def test_hostile_entity_document_is_refused_not_expanded(
    sim: tuple[IbpsSimulator, int],
) -> None:
    _, port = sim
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<Document><FIToFICstmrCdtTrf><GrpHdr><MsgId>BOMB</MsgId></GrpHdr>&b;"
        b"</FIToFICstmrCdtTrf></Document>"
    )
    c = await connect(port)
    await c.send(encode(bomb))
    (st,) = (await c.recv()).transactions
    assert (st.status, st.reason) == ("RJCT", "FF01")
    c.close()


async def test_fault_drop_books_but_never_replies(config: IbpsConfig) -> None:
    plan = FaultPlan(rules={"pacs.008": FaultRule(drop=1.0)})
    s, port = await _running(config, plan)
    c = await connect(port)
    await c.send(credit("F1"), inquiry("F1"))
    rep = await c.recv()  # only the inquiry answer comes back
    assert rep.orgnl_msg_id == "QF1"
    assert rep.transactions[0].status == "ACSC"
    assert s.items()["F1"].state is ItemState.SETTLED
    c.close()
    await s.stop()


async def test_fault_reject_close_and_delay(config: IbpsConfig) -> None:
    rej = FaultPlan(rules={"pacs.008": FaultRule(reject=1.0, reject_code="AB05")})
    s, port = await _running(config, rej)
    c = await connect(port)
    await c.send(credit("X1"))
    assert (await c.recv()).transactions[0].reason == "AB05"
    assert s.balances()[BANK_A] == 10**13
    c.close()
    await s.stop()

    close = FaultPlan(rules={"pacs.008": FaultRule(close=1.0)})
    s, port = await _running(config, close)
    c = await connect(port)
    await c.send(credit("X2"))
    assert await c.closed()
    assert s.items()["X2"].state is ItemState.SETTLED  # booked, then the line dropped
    await s.stop()

    # A delayed reply waits on the simulator's clock, not the wall clock (invariant 6).
    delay = FaultPlan(rules={"*": FaultRule(delay=1.0, delay_ms=150)})
    clock = VirtualClock(T0)
    s = IbpsSimulator(config, clock, faults=delay)
    c = await connect(await s.start())
    await c.send(credit("X3"))
    with pytest.raises(TimeoutError):
        await c.recv(timeout=0.3)
    clock.advance(timedelta(milliseconds=149))
    with pytest.raises(TimeoutError):
        await c.recv(timeout=0.1)
    clock.advance(timedelta(milliseconds=1))
    assert (await c.recv()).transactions[0].status == "ACSC"
    c.close()
    await s.stop()


def test_fault_dice_replays_from_seed() -> None:
    plan = FaultPlan(
        rules={"pacs.008": FaultRule(drop=0.1, delay=0.1, delay_ms=5, reject=0.1, close=0.1,
                                     duplicate=0.1, garbage=0.1, partial=0.1, refuse=0.1)}
    )
    kinds = ["pacs.008", "pacs.028"] * 200

    def run(seed: int) -> list[FaultAction]:
        dice = FaultDice(plan, seed)
        return [dice.decide(k).action for k in kinds]

    assert run(3) == run(3)
    assert run(3) != run(4)
    assert set(run(3)[::2]) == set(FaultAction)
    assert set(run(3)[1::2]) == {FaultAction.NONE}


def test_fault_plan_loads_from_toml_and_json_and_refuses_nonsense(tmp_path: object) -> None:
    toml = b'[rules."pacs.008"]\ndrop = 0.25\ndelay = 0.5\ndelay_ms = 40\n'
    plan = FaultPlan.from_toml(toml)
    assert plan.rule_for("pacs.008") == FaultRule(drop=0.25, delay=0.5, delay_ms=40)
    assert plan.rule_for("pacs.028") is None
    assert FaultPlan.from_json(msgspec.json.encode(plan)) == plan
    with pytest.raises(msgspec.ValidationError):
        FaultPlan.from_json(b'{"rules": {"pacs.008": {"drop": 0.8, "close": 0.8}}}')
    with pytest.raises(msgspec.ValidationError):
        FaultPlan.from_json(b'{"rules": {"pacs.028": {"reject": 0.5}}}')
    with pytest.raises(msgspec.ValidationError):
        FaultPlan.from_json(b'{"rules": {"pacs.008": {"dorp": 0.5}}}')
