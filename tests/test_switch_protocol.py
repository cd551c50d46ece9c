"""The switch over real sockets: intake, idempotency, bad input, auth, end to end on both stores."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec
import pytest

from accounting.poster import check_ledger
from fastpath.framescan import FrameScanner, encode_frame
from simulators.ibps import IbpsConfig
from switch import protocol as proto
from switch.client import SwitchClient, SwitchError
from switch.order import Party
from tests.conftest import CLIENT_ID, CLIENT_SECRET, CLOSED_ACCOUNT, Rig
from tests.orders import order


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def _wait_posted(rig: Rig) -> None:
    for _ in range(400):
        if await rig.app.poster.lag() == 0:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the accounting worker did not drain the outbox")


async def test_order_settles_end_to_end_and_books_balance(rig: Rig) -> None:
    async with await rig.client() as c:
        o = order(amount=50_000)
        ack = await c.submit(o)
        assert ack.state == "ACCEPTED" and ack.payment_id and not ack.duplicate
        final = await c.wait_final(o.client_order_id, timeout=10)
    assert (final.state, final.channel, final.fee) == ("SETTLED", "IBPS", 30)
    history = await rig.app.store.history(ack.payment_id)
    assert [h.to_state for h in history] == ["ACCEPTED", "ROUTED", "SUBMITTED", "SETTLED"]
    await _wait_posted(rig)
    ledger = rig.app.poster.ledger
    balances = {b.account: b.net for b in await ledger.balances() if b.net}
    assert balances == {
        "customer:6217000000000001": 50_030,
        "clearing:IBPS": -50_000,
        "fee-income:IBPS": -28,  # the 0.30 fee less 6% VAT, rounded half up
        "vat-payable": -2,
    }
    assert (await check_ledger(ledger)).balanced
    assert rig.sim.balances()["103100000026"] == 50_000


async def test_order_submitted_twice_yields_one_payment(rig: Rig) -> None:
    o = order()
    async with await rig.client() as c:
        first, second = await asyncio.gather(c.submit(o), c.submit(o))  # same group commit
        third = await c.submit(o)
        await c.wait_final(o.client_order_id, timeout=10)
        fourth = await c.submit(o)  # after it settled: the original answer, now final
    assert first.payment_id == second.payment_id == third.payment_id == fourth.payment_id
    assert [first.duplicate, second.duplicate, third.duplicate] == [False, True, True]
    assert fourth.state == "SETTLED" and fourth.final and fourth.duplicate
    payment = await rig.app.store.payment(first.payment_id or "")
    assert payment is not None
    assert rig.sim.received_count(payment.end_to_end_id) == 1


async def test_resend_on_another_session_gets_the_original_answer(rig: Rig) -> None:
    o = order()
    async with await rig.client() as a:
        ack_a = await a.submit(o)
    async with await rig.client() as b:
        ack_b = await b.submit(o)
    assert ack_b.payment_id == ack_a.payment_id and ack_b.duplicate


async def test_same_key_different_order_is_a_conflict_and_the_original_stands(rig: Rig) -> None:
    o = order()
    async with await rig.client() as c:
        first = await c.submit(o)
        with pytest.raises(SwitchError) as conflict:
            await c.submit(msgspec.structs.replace(o, amount=o.amount + 1))
        assert conflict.value.code == "IDEMPOTENCY_CONFLICT"
        assert first.payment_id and first.payment_id in str(conflict.value)
        assert (await c.submit(o)).payment_id == first.payment_id  # the original still answers
    stored = await rig.app.store.payment(first.payment_id or "")
    assert stored is not None and stored.order.amount == o.amount


async def test_order_over_ibps_cap_is_rejected_am02_and_recorded(rig: Rig) -> None:
    o = order(amount=5_000_001)
    async with await rig.client() as c:
        ack = await c.submit(o)
        final = await c.wait_final(o.client_order_id, timeout=10)
    assert ack.state == "ACCEPTED"
    assert (final.state, final.reason) == ("REJECTED", "AM02")
    stored = await rig.app.store.payment_by_client_key(CLIENT_ID, o.client_order_id)
    assert stored is not None and (stored.state, stored.reason) == ("REJECTED", "AM02")
    assert [h.to_state for h in await rig.app.store.history(stored.payment_id)] == [
        "ACCEPTED", "REJECTED"]
    assert rig.sim.items() == {}  # never sent to the channel


async def test_cap_itself_is_allowed(rig: Rig) -> None:
    o = order(amount=5_000_000)
    async with await rig.client() as c:
        await c.submit(o)
        assert (await c.wait_final(o.client_order_id, timeout=10)).state == "SETTLED"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"amount": 0}, "AM01"),
        ({"amount": -5}, "AM12"),
        ({"currency": "XYZ"}, "AM03"),
        ({"debtor": Party(account="12 34", name="x", agent="102100099996")}, "AC02"),
        ({"creditor": Party(account="", name="x", agent="103100000026")}, "AC03"),
        ({"creditor": Party(account="1", name="x", agent="BANK")}, "RC01"),
        ({"requested_execution": "2026-13-01"}, "DT01"),
    ],
)
async def test_invalid_orders_are_recorded_rejected_with_iso_reason(
    rig: Rig, changes: dict[str, object], reason: str
) -> None:
    o = order(**changes)
    async with await rig.client() as c:
        ack = await c.submit(o)
        final = await c.wait_final(o.client_order_id, timeout=5)
    assert (ack.state, ack.reason, ack.final) == ("REJECTED", reason, True)
    assert final.state == "REJECTED"
    stored = await rig.app.store.payment_by_client_key(CLIENT_ID, o.client_order_id)
    assert stored is not None and (stored.state, stored.reason) == ("REJECTED", reason)


async def test_receiving_bank_reject_comes_back_as_ac04(rig: Rig) -> None:
    o = order(creditor=Party(account=CLOSED_ACCOUNT, name="王五", agent="103100000026"))
    async with await rig.client() as c:
        await c.submit(o)
        final = await c.wait_final(o.client_order_id, timeout=10)
    assert (final.state, final.reason) == ("REJECTED", "AC04")


async def test_malformed_frame_gets_error_and_session_survives(rig: Rig) -> None:
    async with await rig.client() as c:
        c.send_raw(encode_frame(proto.FrameType.SUBMIT, b"\xc1 not msgpack"))
        c.send_raw(encode_frame(0x55, b""))  # undefined frame type
        c.send_raw(encode_frame(proto.FrameType.HEARTBEAT, b"", version=9))  # unknown version
        await c.heartbeat()  # the session still answers
        o = order()
        ack = await c.submit(o)  # and still takes orders
        assert ack.state == "ACCEPTED"
        await _until(lambda: len(c.errors) == 3)
        # The bad SUBMIT is answered once its audit record is durable, so it may come last.
        codes = sorted((e.code, e.reason or "") for e in c.errors)
    assert codes == [("MALFORMED_PAYLOAD", "FF01"), ("UNKNOWN_FRAME_TYPE", ""),
                     ("UNSUPPORTED_VERSION", "")]
    assert not any(e.fatal for e in c.errors)
    recorded = await rig.app.store.intake_errors(CLIENT_ID)
    assert [(r.code, r.raw) for r in recorded] == [("FF01", b"\xc1 not msgpack")]


async def test_order_missing_required_field_is_answered_and_recorded(rig: Rig) -> None:
    raw = msgspec.msgpack.encode({"seq": 77, "order": {"client_order_id": "NOAMT-1",
                                                       "currency": "CNY"}})
    async with await rig.client() as c:
        c.send_raw(encode_frame(proto.FrameType.SUBMIT, raw))
        await _until(lambda: bool(c.errors))
        assert "NOAMT-1" not in c.statuses  # it never became a payment
        assert [(e.code, e.reason, e.seq) for e in c.errors] == [("MALFORMED_PAYLOAD", "FF01", 77)]
    recorded = await rig.app.store.intake_errors(CLIENT_ID)
    assert len(recorded) == 1 and recorded[0].seq == 77 and "amount" in recorded[0].detail


@pytest.mark.server(max_frame=4096)
async def test_oversized_frame_closes_session_and_loses_nothing(rig: Rig) -> None:
    c = await rig.client()
    orders = [order() for _ in range(20)]
    acks = await asyncio.gather(*(c.submit(o) for o in orders))
    assert all(a.state == "ACCEPTED" for a in acks)
    c.send_raw(encode_frame(proto.FrameType.SUBMIT, b"\x00" * 5000))
    await asyncio.wait_for(c.wait_closed(), 5)
    assert [(e.code, e.fatal) for e in c.errors] == [("FRAME_TOO_LARGE", True)]
    with pytest.raises(SwitchError):
        await c.submit(order())
    # Every order acknowledged before the bad frame is still carried to its end.
    async with await rig.client() as again:
        for o in orders:
            for _ in range(200):
                reply = await again.query(o.client_order_id)
                assert reply.found and reply.status is not None
                if reply.status.final:
                    break
                await asyncio.sleep(0.025)
            assert reply.status is not None and reply.status.state == "SETTLED"


async def test_unauthenticated_client_can_submit_nothing(rig: Rig) -> None:
    loop = asyncio.get_running_loop()
    received: list[tuple[int, bytes]] = []
    closed = loop.create_future()

    class Raw(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            received.extend((t, p) for _, t, p in FrameScanner().feed(data))

        def connection_lost(self, exc: Exception | None) -> None:
            closed.set_result(True)

    transport, _ = await loop.create_connection(Raw, "127.0.0.1", rig.port)
    o = order()
    transport.write(proto.encode(proto.Submit(seq=1, order=o)))
    await asyncio.wait_for(closed, 5)
    types = [t for t, _ in received]
    assert types == [proto.FrameType.HELLO, proto.FrameType.ERROR]
    err = msgspec.msgpack.decode(received[1][1], type=proto.Error)
    assert (err.code, err.fatal) == ("NOT_AUTHENTICATED", True)
    assert await rig.app.store.payment_by_client_key(CLIENT_ID, o.client_order_id) is None


async def test_wrong_secret_and_unknown_client_fail_auth(rig: Rig) -> None:
    with pytest.raises(SwitchError) as wrong:
        await SwitchClient.connect("127.0.0.1", rig.port, CLIENT_ID, "not-the-secret-at-all")
    with pytest.raises(SwitchError) as unknown:
        await SwitchClient.connect("127.0.0.1", rig.port, "NOBODY", CLIENT_SECRET)
    assert wrong.value.code == unknown.value.code == "AUTH_FAILED"


@pytest.mark.server(window=4)
async def test_window_is_enforced(rig: Rig) -> None:
    async with await rig.client() as c:
        assert c.session is not None and c.session.window == 4
        futures = [c.submit_nowait(order()) for _ in range(6)]  # ignores its window on purpose
        results = await asyncio.gather(*futures, return_exceptions=True)
    codes = [r.code if isinstance(r, SwitchError) else r.state for r in results]
    assert codes.count("ACCEPTED") == 4 and codes.count("WINDOW_EXCEEDED") == 2


async def test_status_query_and_unknown_order(rig: Rig) -> None:
    o = order()
    async with await rig.client() as c:
        await c.submit(o)
        await c.wait_final(o.client_order_id, timeout=10)
        found = await c.query(o.client_order_id)
        missing = await c.query("NO-SUCH-ORDER")
    assert found.found and found.status is not None and found.status.state == "SETTLED"
    assert not missing.found and missing.status is None


async def test_clients_see_only_their_own_orders(rig: Rig) -> None:
    o = order()
    async with await rig.client() as c:
        await c.submit(o)
    secret = rig.app.config.clients["OTHER-CORE"].secret
    async with await SwitchClient.connect("127.0.0.1", rig.port, "OTHER-CORE", secret) as other:
        assert not (await other.query(o.client_order_id)).found


async def test_many_pipelined_orders_all_reach_a_final_state_and_books_balance(rig: Rig) -> None:
    from bench.loadgen import drive, order_mix

    batch = order_mix(600, seed=11, run="E2E")
    async with await rig.client() as c:
        result = await drive(c, batch, window=200, final_timeout=60)
    assert result.errors == []
    assert len(result.finals) == 600
    states = {s.state for s in result.finals.values()}
    assert states <= {"SETTLED", "REJECTED"} and "SETTLED" in states
    await _wait_posted(rig)
    check = await check_ledger(rig.app.poster.ledger)
    assert check.balanced
    settled = sum(o.amount for o in batch
                  if result.finals[o.client_order_id].state == "SETTLED")
    balances = {b.account: b for b in await rig.app.poster.ledger.balances()}
    assert balances["clearing:IBPS"].credits_posted == settled  # the books equal the channel's
    assert balances["in-transit"].net == 0  # every hold was posted or released
    # Gross settlement moves money between participants; the channel creates none.
    assert sum(rig.sim.balances().values()) == sum(IbpsConfig().participants.values())


async def test_control_characters_in_text_are_refused_before_any_store_sees_them(
    rig: Rig,
) -> None:
    bad = msgspec.to_builtins(order(client_order_id="NUL-1"))
    bad["currency"] = "CN\x00"
    raw = msgspec.msgpack.encode({"seq": 5, "order": bad})
    async with await rig.client() as c:
        c.send_raw(encode_frame(proto.FrameType.SUBMIT, raw))
        await _until(lambda: bool(c.errors))
        assert [(e.code, e.reason, e.seq) for e in c.errors] == [("MALFORMED_PAYLOAD", "FF01", 5)]
        good = await c.submit(order())  # the session and the store carry on
        assert good.state == "ACCEPTED"
    recorded = await rig.app.store.intake_errors(CLIENT_ID)
    assert len(recorded) == 1 and "\x00" not in recorded[0].detail


async def test_error_replies_echo_only_integer_seqs(rig: Rig) -> None:
    raw = msgspec.msgpack.encode({"seq": True, "order": {"amount": 1}})
    async with await rig.client() as c:
        c.send_raw(encode_frame(proto.FrameType.SUBMIT, raw))
        await _until(lambda: bool(c.errors))
    assert [(e.code, e.seq) for e in c.errors] == [("MALFORMED_PAYLOAD", None)]


async def test_a_garbled_second_auth_does_not_end_a_logged_in_session(rig: Rig) -> None:
    async with await rig.client() as c:
        c.send_raw(encode_frame(proto.FrameType.AUTH, b"\xc1"))
        await c.heartbeat()
        assert [(e.code, e.fatal) for e in c.errors] == [("MALFORMED_PAYLOAD", False)]
        assert (await c.submit(order())).state == "ACCEPTED"
