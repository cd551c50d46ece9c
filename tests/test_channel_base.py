"""What every simulator gets from `simulators.base`: statements from its books (with the
differences a fault plan injects, recorded), returns that reach the switch, funding, notices held
for an absent participant, and the admin session. Driven over real sockets with the IBPS
simulator, the smallest channel built on it."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest

from adapters.base import ChannelStatus, Outcome
from adapters.ibps import IbpsAdapter
from messages.iso20022 import parse_camt053
from simulators.books import ItemState
from simulators.faults import FaultPlan, StatementFaults
from simulators.ibps import IbpsConfig, IbpsSimulator
from simulators.link import admin_request
from switch.client import SwitchClient
from switch.clock import VirtualClock
from switch.order import Order, Party, Payment
from tests.conftest import CLIENT_ID, CLIENT_SECRET, Rig
from tests.orders import order
from tests.xsd_oracle import assert_valid

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a working Monday
DAY = date(2026, 3, 2)
US = "102100099996"
THEM = "103100000026"


def payment(n: int, amount: int) -> Payment:
    o = Order(client_order_id=f"C{n}", amount=amount, currency="CNY",
              debtor=Party(account="6217000000000001", name="Zhang San", agent=US),
              creditor=Party(account=f"62220000000{n:05d}", name="Li Si", agent=THEM))
    return Payment(payment_id=f"P{n:08d}", client_id="c", order=o, state="ROUTED",
                   end_to_end_id=f"E{n:08d}", uetr=f"00000000-0000-4000-8000-{n:012d}",
                   created_at="", updated_at="")


async def _settle(sim: IbpsSimulator, adapter: IbpsAdapter, seen: list[ChannelStatus],
                  amounts: list[int]) -> list[Payment]:
    ps = [payment(i, a) for i, a in enumerate(amounts, start=1)]
    for p in ps:
        await adapter.submit(p)
    for _ in range(500):
        if len(seen) == len(ps):
            break
        await asyncio.sleep(0.01)
    assert [s.outcome for s in seen] == [Outcome.SETTLED] * len(ps)
    return ps


async def _pair(faults: FaultPlan | None = None) -> tuple[IbpsSimulator, IbpsAdapter,
                                                          list[ChannelStatus]]:
    clock = VirtualClock(T0)
    sim = IbpsSimulator(IbpsConfig(participants={US: 1_000_000}), clock, seed=5, faults=faults)
    port = await sim.start()
    adapter = IbpsAdapter("127.0.0.1", port, clock=clock, sender_bank=US)
    seen: list[ChannelStatus] = []
    adapter.on_status = seen.append
    await adapter.start()
    return sim, adapter, seen


async def test_statement_is_a_valid_camt053_of_the_books() -> None:
    sim, adapter, seen = await _pair()
    try:
        await _settle(sim, adapter, seen, [100, 2_500, 40])
        stmt = await adapter.fetch_statement(DAY)
        assert (stmt.channel, stmt.format) == ("IBPS", "camt.053.001.08")
        assert_valid(stmt.data, "camt.053.001.08")
        (s,) = parse_camt053(stmt.data).statements
        assert s.account == US and s.balanced()
        assert {b.type: b.signed_amount() for b in s.balances} == {
            "OPBD": 1_000_000, "CLBD": 1_000_000 - 2_640}
        assert [(e.signed_amount(), e.transactions[0].end_to_end_id) for e in s.entries] == [
            (-100, "E00000001"), (-2_500, "E00000002"), (-40, "E00000003")]
        assert sim.books.injected() == []
    finally:
        await adapter.close()
        await sim.stop()


async def test_statement_faults_are_injected_deterministically_and_recorded() -> None:
    plan = FaultPlan(statement=StatementFaults(omit=0.3, amount=0.3, amount_delta=7, extra=2,
                                               extra_amount=999))
    sim, adapter, seen = await _pair(plan)
    try:
        amounts = [1_000 + i for i in range(30)]
        await _settle(sim, adapter, seen, amounts)
        (s,) = parse_camt053((await adapter.fetch_statement(DAY)).data).statements
        injected = {d.end_to_end_id: d for d in sim.books.injected(US)}
        kinds = {d.kind for d in injected.values()}
        assert kinds == {"omitted", "amount", "extra"}
        stated = {e.transactions[0].end_to_end_id: e.signed_amount() for e in s.entries}
        for i, amount in enumerate(amounts, start=1):
            e2e = f"E{i:08d}"
            diff = injected.get(e2e)
            if diff is None:
                assert stated[e2e] == -amount
            elif diff.kind == "omitted":
                assert e2e not in stated
            else:
                assert stated[e2e] == -amount - 7 == diff.stated_amount
        extras = [e2e for e2e, d in injected.items() if d.kind == "extra"]
        assert len(extras) == 2 and all(stated[e] == -999 for e in extras)
        assert s.balanced()  # the statement is the channel's truth, consistent with itself
        # the same seed gives the same statement differences
        again = IbpsSimulator(IbpsConfig(participants={US: 1_000_000}), VirtualClock(T0),
                              seed=5, faults=plan)
        for item in sim.books.items.values():
            fresh = msgspec.structs.replace(item, state=ItemState.RECEIVED)
            again.books.settle(again.books.receive(fresh), DAY, T0)
        again.books.statement(US, DAY)
        assert again.books.injected(US) == sim.books.injected(US)
    finally:
        await adapter.close()
        await sim.stop()


async def test_admin_session_books_fund_and_errors() -> None:
    sim, adapter, seen = await _pair()
    try:
        await _settle(sim, adapter, seen, [300])
        assert sim.port is not None
        books = await admin_request("127.0.0.1", sim.port, {"op": "books"})
        assert books["ok"] and books["items"] == {"SETTLED": 1} and books["duplicates"] == 0
        assert books["balances"][US] == 1_000_000 - 300
        funded = await admin_request("127.0.0.1", sim.port,
                                     {"op": "fund", "participant": US, "amount": 5_000})
        assert funded == {"ok": True, "balance": 1_004_700}
        bad = await admin_request("127.0.0.1", sim.port, {"op": "levitate"})
        assert (bad["ok"], bad["error"]) == (False, "ADMIN_BAD_REQUEST")
        missing = await admin_request("127.0.0.1", sim.port, {"op": "return"})
        assert (missing["ok"], missing["error"]) == (False, "ADMIN_BAD_REQUEST")
        # the channel link on the same port still works after admin sessions
        await adapter.inquire(payment(1, 300))
        for _ in range(300):
            if len(seen) == 2:
                break
            await asyncio.sleep(0.01)
        assert [s.outcome for s in seen] == [Outcome.SETTLED, Outcome.SETTLED]
    finally:
        await adapter.close()
        await sim.stop()


async def test_return_reaches_an_absent_sender_when_it_is_back() -> None:
    sim, adapter, seen = await _pair()
    try:
        (p,) = await _settle(sim, adapter, seen, [700])
        await adapter.close()
        sim.return_item(sim.books.items[p.end_to_end_id], "AC04")  # held: nobody to tell
        assert sim.balances()[US] == 1_000_000
        adapter2 = IbpsAdapter("127.0.0.1", sim.port or 0, clock=sim.clock, sender_bank=US)
        adapter2.on_status = seen.append
        await adapter2.start()
        await adapter2.inquire(p)  # back online, it asks what became of its payment
        for _ in range(300):
            if any(s.outcome is Outcome.RETURNED for s in seen):
                break
            await asyncio.sleep(0.01)
        (ret,) = [s for s in seen if s.outcome is Outcome.RETURNED]
        assert (ret.payment_id, ret.end_to_end_id, ret.reason) == (p.payment_id,
                                                                  p.end_to_end_id, "AC04")
        await adapter2.close()
    finally:
        await sim.stop()


async def test_return_through_the_switch_ends_returned_and_books_it_back(rig: Rig) -> None:
    async with await SwitchClient.connect("127.0.0.1", rig.port, CLIENT_ID, CLIENT_SECRET) as c:
        o = order(amount=4_321)
        ack = await c.submit(o)
        assert (await c.wait_final(o.client_order_id, timeout=10)).state == "SETTLED"
        c.statuses.pop(o.client_order_id)
        assert rig.sim.port is not None
        answer = await admin_request("127.0.0.1", rig.sim.port, {
            "op": "return", "end_to_end_id": ack.payment_id, "reason": "AC04"})
        assert answer == {"ok": True, "state": "RETURNED"}
        for _ in range(500):
            status = c.statuses.get(o.client_order_id)
            if status is not None and status.state == "RETURNED":
                break
            await asyncio.sleep(0.01)
        assert status is not None and (status.state, status.reason) == ("RETURNED", "AC04")
    history = await rig.app.store.history(ack.payment_id or "")
    assert [h.to_state for h in history][-2:] == ["SETTLED", "RETURNED"]
    await rig.app.poster.post_available()
    entries = await rig.app.poster.ledger.entries_for_payment(ack.payment_id or "")
    (ret,) = [e for e in entries if e.event_type == "payment.returned"]
    assert ret.status == "posted"
    # the principal comes back to the debtor's customer account
    assert ("customer:6217000000000001", "CNY", "P", 0, 4_321) in ret.postings


@pytest.mark.parametrize("first", [b"{", b"\x00"])
async def test_first_byte_picks_admin_or_channel(first: bytes) -> None:
    sim = IbpsSimulator(IbpsConfig(), VirtualClock(T0))
    port = await sim.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(first + b'"op": "books"}\n' if first == b"{" else first + b"\x00\x00\x03abc")
        await writer.drain()
        data = await asyncio.wait_for(reader.read(65536), 2)
        if first == b"{":
            assert data.startswith(b'{"ok": true')
        else:
            assert data == b""  # a channel frame that is not a document: the link closes
        writer.close()
    finally:
        await sim.stop()


async def test_same_seed_plan_and_input_give_byte_identical_traffic() -> None:
    plan = FaultPlan.from_json(
        b'{"rules": {"pacs.008": {"reject": 0.2, "reject_code": "AB05", "duplicate": 0.2,'
        b' "garbage": 0.1}}, "latency": {"median_ms": 5, "p99_ms": 50}}')

    async def run(seed: int) -> list[tuple[str, bytes]]:
        clock = VirtualClock(T0)
        sim = IbpsSimulator(IbpsConfig(participants={US: 1_000_000}), clock, seed=seed,
                            faults=plan)
        sim.server.traffic = []
        port = await sim.start()
        adapter = IbpsAdapter("127.0.0.1", port, clock=clock, sender_bank=US)
        adapter._msg_prefix = "PFIXEDPREFIX0"  # our message ids are random per process
        seen: list[ChannelStatus] = []
        adapter.on_status = seen.append
        await adapter.start()
        try:
            for i in range(1, 41):
                await adapter.submit(payment(i, 100 + i))
            for _ in range(500):
                if len(sim.books.items) == 40:
                    break
                await asyncio.sleep(0.01)
            clock.advance(timedelta_ms(60_000))  # every delayed reply goes out
            for _ in range(500):
                if len({s.end_to_end_id for s in seen}) == 40:
                    break
                await asyncio.sleep(0.01)
            return list(sim.server.traffic)
        finally:
            await adapter.close()
            await sim.stop()

    first, second, other = await run(9), await run(9), await run(10)
    assert first == second
    assert first != other
    assert len([t for t in first if t[0] == "in"]) == 40


def timedelta_ms(ms: int) -> timedelta:
    return timedelta(milliseconds=ms)
