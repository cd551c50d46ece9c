"""The UnionPay simulator alone, over a real loopback socket, driven by a raw ISO 8583 client:
sign-on, echo, every field 39 it answers, duplicates, reversals, the day switch and its file."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import iso8583 as pyiso8583
import msgspec
import pytest

from messages.iso8583 import (
    UNIONPAY,
    FinancialRequest,
    Message,
    NetworkManagement,
    Reversal,
    decode,
    encode,
    hmac_sha256_mac,
    link,
)
from messages.iso8583.interop import from_pyiso8583, pyiso8583_spec
from messages.iso8583.settlement import parse_settlement_file
from simulators.books import ItemState
from simulators.faults import FaultPlan, FaultRule
from simulators.link import admin_request
from simulators.unionpay import UnionPayConfig, UnionPaySimulator
from switch.clock import VirtualClock

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
DAY = date(2026, 3, 2)
ACQ, POOR, ISSUER = "04290000", "04290099", "01030000"
PAN = "6222000000000009"  # Luhn-valid
MAC = hmac_sha256_mac(bytes.fromhex(UnionPayConfig().mac_key))


def request(n: int, **changes: object) -> FinancialRequest:
    req = FinancialRequest(
        pan=PAN, processing_code="260000", amount=10_000, currency="CNY",
        transmission_time="0302020000", stan=f"{n:06d}", acquirer_id=ACQ, forwarder_id=ACQ,
        retrieval_ref=f"RRN{n:09d}", terminal_id="TERM0001", merchant_id="MERCHANT0000001",
        other={48: f"E{n:08d}", 102: "6217000000000001"})
    return msgspec.structs.replace(req, **changes) if changes else req


def network(code: str, stan: str = "900001", acquirer: str = ACQ) -> NetworkManagement:
    return NetworkManagement(code=code, transmission_time="0302020000", stan=stan,
                             acquirer_id=acquirer)


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.frames = reader, writer, link.LinkReader()
        self.pending: list[bytes] = []

    async def send(self, msg: object, *, mac: bool = True) -> None:
        frame = encode(msg, UNIONPAY, mac=MAC if mac else None)  # type: ignore[arg-type]
        self.writer.write(link.encode(frame))
        await self.writer.drain()

    async def raw(self, timeout: float = 2.0) -> bytes:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("closed by the simulator")
            self.pending.extend(self.frames.feed(data))
        return self.pending.pop(0)

    async def recv(self, timeout: float = 2.0) -> Message:
        frame = await self.raw(timeout)
        # Answers to money messages carry a MAC the client can check; 0810s carry none.
        return decode(frame, UNIONPAY, mac=None if frame[:4] == b"0810" else MAC)

    async def ask(self, msg: object, **kw: bool) -> str:
        await self.send(msg, **kw)
        return str((await self.recv()).get(39))


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


async def running(clock: VirtualClock, faults: FaultPlan | None = None,
                  **config: object) -> UnionPaySimulator:
    cfg = UnionPayConfig(participants={ACQ: 10**12, POOR: 5_000},
                         closed_accounts=("6222000000000017",),
                         blocked_accounts=("6222000000000025",), **config)  # type: ignore[arg-type]
    sim = UnionPaySimulator(cfg, clock, seed=4, faults=faults)
    await sim.start()
    return sim


@pytest.fixture
async def sim(clock: VirtualClock) -> AsyncIterator[UnionPaySimulator]:
    s = await running(clock)
    yield s
    await s.stop()


async def connect(sim: UnionPaySimulator, *, sign_on: str | None = ACQ) -> RawClient:
    c = RawClient(*await asyncio.open_connection("127.0.0.1", sim.port))
    if sign_on is not None:
        assert await c.ask(network("001", acquirer=sign_on)) == "00"
    return c


async def test_nothing_before_sign_on_then_settles(sim: UnionPaySimulator) -> None:
    c = await connect(sim, sign_on=None)
    assert await c.ask(request(1)) == "91"
    assert await c.ask(network("301")) == "91"
    assert await c.ask(reversal(request(1))) == "91"
    assert sim.items() == {}
    assert await c.ask(network("001", acquirer="99999999")) == "05"  # not a participant
    assert await c.ask(network("001")) == "00"
    assert await c.ask(network("301", stan="900002")) == "00"
    await c.send(request(2))
    reply = await c.recv()
    assert reply.mti == "0210" and reply.get(39) == "00" and reply.get(37) == "RRN000000002"
    assert reply.get(11) == "000002" and reply.get(4) == "000000010000"
    assert sim.balances()[ACQ] == 10**12 - 10_000 and sim.balances()[ISSUER] == 10_000
    item = sim.items()["E00000002"]
    assert (item.state, item.business_date, item.creditor_account) == (
        ItemState.SETTLED, DAY, PAN)
    assert await c.ask(network("002", stan="900003")) == "00"  # sign-off ends the session
    assert await c.ask(request(3)) == "91"


@pytest.mark.parametrize(("changes", "code"), [
    ({"processing_code": "000000"}, "12"),
    ({"currency": "USD"}, "12"),
    ({"acquirer_id": POOR}, "12"),  # not the acquirer the link signed on as
    ({"amount": 0}, "13"),
    ({"amount": 5_000_001}, "61"),
    ({"pan": "6222000000000001"}, "14"),  # fails the Luhn check
    ({"pan": "4111111111111111"}, "14"),  # a BIN no issuer owns
    ({"pan": "6222000000000017"}, "14"),  # closed
    ({"pan": "6222000000000025"}, "05"),  # blocked
])
async def test_refusals_book_nothing(sim: UnionPaySimulator, changes: dict[str, object],
                                     code: str) -> None:
    c = await connect(sim)
    assert await c.ask(request(10, **changes)) == code
    assert sim.items()["E00000010"].state is ItemState.REJECTED
    assert sim.items()["E00000010"].reason == code
    assert sim.balances()[ACQ] == 10**12


async def test_insufficient_funds(sim: UnionPaySimulator) -> None:
    c = await connect(sim, sign_on=POOR)
    assert await c.ask(request(11, acquirer_id=POOR, amount=5_001)) == "51"
    assert await c.ask(request(12, acquirer_id=POOR, amount=5_000)) == "00"
    assert sim.balances()[POOR] == 0


async def test_mac_missing_or_wrong_is_a0(sim: UnionPaySimulator) -> None:
    c = await connect(sim)
    assert await c.ask(request(13), mac=False) == "A0"
    frame = encode(request(14), UNIONPAY, mac=MAC)
    tampered = frame[:-20] + b"9" + frame[-19:]  # one byte of the body changed under the MAC
    c.writer.write(link.encode(tampered))
    assert (await c.recv()).get(39) == "A0"
    assert sim.items() == {}


async def test_format_error_is_30_and_echoes_what_it_read(sim: UnionPaySimulator) -> None:
    c = await connect(sim)
    fields = {k: v for k, v in request(15).to_message().fields.items() if k != 41}
    await c.send(Message("0200", fields))
    reply = await c.recv()
    assert (reply.mti, reply.get(39), reply.get(11), reply.get(41)) == ("0210", "30", "000015",
                                                                        None)
    assert sim.items() == {}


async def test_unreadable_message_closes_the_line(sim: UnionPaySimulator) -> None:
    c = await connect(sim)
    c.writer.write(link.encode(b"0200garbage"))
    with pytest.raises(ConnectionError):
        await c.raw()


@pytest.mark.parametrize("changes", [
    {"retrieval_ref": "RRN000000099", "other": {48: "E00000099"}},  # same STAN and time
    {"stan": "000099", "other": {48: "E00000099"}},  # same RRN
    {"stan": "000099", "retrieval_ref": "RRN000000099"},  # same order id
])
async def test_duplicates_are_94_and_never_booked_twice(sim: UnionPaySimulator,
                                                        changes: dict[str, object]) -> None:
    c = await connect(sim)
    assert await c.ask(request(20)) == "00"
    assert await c.ask(request(20, **changes)) == "94"
    assert sim.balances()[ISSUER] == 10_000
    assert [i.state for i in sim.items().values()] == [ItemState.SETTLED]


def reversal(req: FinancialRequest, stan: str = "000500") -> Reversal:
    rev = req.reversal(stan=stan, transmission_time="0302020030")
    return msgspec.structs.replace(rev, other={60: "4021"})


async def test_reversal_unwinds_once(sim: UnionPaySimulator) -> None:
    c = await connect(sim)
    req = request(30)
    assert await c.ask(req) == "00"
    await c.send(reversal(req))
    reply = await c.recv()
    assert (reply.mti, reply.get(39), reply.get(90)) == ("0410", "00", reversal(req).original_data)
    assert sim.balances()[ACQ] == 10**12 and sim.balances()[ISSUER] == 0
    item = sim.items()["E00000030"]
    assert (item.state, item.reason) == (ItemState.REVERSED, "4021")
    assert await c.ask(reversal(req, stan="000501")) == "00"  # repeated: nothing moves again
    assert sim.balances()[ISSUER] == 0
    assert [m.kind for m in sim.books.movements] == ["settle", "settle", "reverse", "reverse"]


async def test_reversal_of_unknown_original_is_25_and_bars_it(sim: UnionPaySimulator) -> None:
    c = await connect(sim)
    req = request(31)
    assert await c.ask(reversal(req)) == "25"
    assert await c.ask(req) == "94"  # the original, arriving after all, is never booked
    assert sim.books.movements == [] and sim.items() == {}


async def test_reversal_naming_another_transmission_is_25(sim: UnionPaySimulator) -> None:
    c = await connect(sim)
    req = request(32)
    assert await c.ask(req) == "00"
    other = reversal(msgspec.structs.replace(req, stan="000777"))
    assert await c.ask(other) == "25"
    assert sim.items()["E00000032"].state is ItemState.SETTLED
    # without field 90 the reference alone finds it (a restarted acquirer knows no STAN)
    assert await c.ask(msgspec.structs.replace(other, original_data=None)) == "00"
    assert sim.items()["E00000032"].state is ItemState.REVERSED


async def test_reversal_of_a_declined_original_moves_nothing(sim: UnionPaySimulator) -> None:
    c = await connect(sim)
    req = request(33, amount=5_000_001)
    assert await c.ask(req) == "61"
    assert await c.ask(reversal(req)) == "00"
    assert sim.items()["E00000033"].state is ItemState.REJECTED
    assert sim.books.movements == []


async def test_day_switch_answers_90_and_writes_the_file(clock: VirtualClock) -> None:
    sim = await running(clock, day_switch_s=120.0)
    try:
        c = await connect(sim)
        assert await c.ask(request(40)) == "00"
        clock.set(datetime(2026, 3, 2, 14, 59, 59, tzinfo=UTC))  # 22:59:59 in Shanghai
        assert await c.ask(request(41)) == "00"
        assert sim.items()["E00000041"].business_date == DAY
        clock.set(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))  # 23:00: the switch begins
        assert await c.ask(request(42)) == "90"
        assert await c.ask(reversal(request(40))) == "90"
        assert await c.ask(network("301", stan="900009")) == "00"  # the line itself is fine
        assert "E00000042" not in sim.items()
        clock.advance(timedelta(seconds=119))
        assert await c.ask(request(43)) == "90"
        clock.advance(timedelta(seconds=1))  # 23:02: the new settlement date is open
        assert await c.ask(request(44)) == "00"
        assert sim.items()["E00000044"].business_date == DAY + timedelta(days=1)
        # the file of the closed date was written at the switch: the items of that date only
        answer = await admin_request("127.0.0.1", sim.port or 0, {
            "op": "statement", "date": DAY.isoformat(), "participant": ACQ})
        assert answer["format"] == "unionpay-settlement"
        f = parse_settlement_file(answer["data"].encode())
        assert (f.settlement_date, f.institution) == (DAY, ACQ)
        assert f.created_at == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
        assert [(ln.order_id, ln.dc, ln.amount, ln.stan) for ln in f.lines] == [
            ("E00000040", "D", 10_000, "000040"), ("E00000041", "D", 10_000, "000041")]
        issuer = parse_settlement_file(sim.statement_document(ISSUER, DAY)[1])
        assert [ln.signed_amount for ln in issuer.lines] == [10_000, 10_000]
        # a reversal of a closed date's item is booked, and filed, on the open date
        assert await c.ask(reversal(request(40))) == "00"
        nxt = parse_settlement_file(sim.statement_document(ACQ, DAY + timedelta(days=1))[1])
        assert [(ln.txn_code, ln.order_id, ln.signed_amount) for ln in nxt.lines] == [
            ("0200", "E00000044", -10_000), ("0400", "E00000040", 10_000)]
        assert parse_settlement_file(sim.statement_document(ACQ, DAY)[1]) == f  # closed: fixed
    finally:
        await sim.stop()


async def test_every_day_switch_fires_on_the_clock(clock: VirtualClock) -> None:
    sim = await running(clock)
    try:
        clock.advance(timedelta(days=3))
        assert sorted(sim.files) == [(inst, DAY + timedelta(days=n))
                                     for inst in (ACQ, POOR) for n in range(3)]
    finally:
        await sim.stop()


async def test_faults_are_native_codes(clock: VirtualClock) -> None:
    plan = FaultPlan(rules={"0800": FaultRule(refuse=1.0)})
    sim = await running(clock, plan)
    try:
        c = await connect(sim, sign_on=None)
        assert await c.ask(network("001")) == "05"  # sign-on refused
    finally:
        await sim.stop()
    sim = await running(clock, FaultPlan(rules={"0200": FaultRule(reject=1.0,
                                                                  reject_code="AM04")}))
    try:
        c = await connect(sim)
        assert await c.ask(request(50)) == "51"  # an ISO reason goes out as its field 39 code
    finally:
        await sim.stop()
    sim = await running(clock, FaultPlan(reject_accounts={PAN: "91"}))
    try:
        c = await connect(sim)
        assert await c.ask(request(51)) == "91"
    finally:
        await sim.stop()


async def test_pyiso8583_reads_what_the_simulator_writes(sim: UnionPaySimulator) -> None:
    c = await connect(sim)
    await c.send(request(60))
    frame = await c.raw()
    theirs, _ = pyiso8583.decode(frame, pyiso8583_spec(UNIONPAY))
    ours = decode(frame, UNIONPAY, mac=MAC)
    assert from_pyiso8583(theirs, UNIONPAY) == ours
    assert theirs["39"] == "00" and theirs["37"] == "RRN000000060"


async def test_runs_standalone_with_its_configuration_and_fault_plan(tmp_path: Path) -> None:
    (tmp_path / "up.toml").write_text('per_item_cap = 1000\n[participants]\n"04290000" = 5000\n')
    (tmp_path / "faults.json").write_text('{"reject_accounts": {"6222000000000033": "96"}}')
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from switch.cli import main; raise SystemExit(main())",
        "simulate", "unionpay", "--port", "0", "--seed", "3",
        "--config", str(tmp_path / "up.toml"), "--faults", str(tmp_path / "faults.json"),
        stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).resolve().parents[1])
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.startswith(b"LISTENING 127.0.0.1:")
        port = int(line.split(b":")[-1])
        c = RawClient(*await asyncio.open_connection("127.0.0.1", port))
        assert await c.ask(network("001")) == "00"
        assert await c.ask(request(70, amount=1_001)) == "61"
        assert await c.ask(request(71, pan="6222000000000033")) == "96"
        assert await c.ask(request(72, amount=1_000)) == "00"
        books = await admin_request("127.0.0.1", port, {"op": "books"})
        assert books["balances"] == {ACQ: 4_000, ISSUER: 1_000}
    finally:
        proc.terminate()
        assert await proc.wait() == 0
