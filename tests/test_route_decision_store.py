"""A payment's routing decision is stored with the move that carries it out, on both stores,
and read back as ``payswitch route --explain`` prints it; older databases migrate to it."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
import pytest

from routing import Router
from routing.cli import explain_main
from routing.decision import RouteDecision
from switch.order import Payment
from switch.store import IntakeError, NewPayment, Store, Transition, WriteBatch, open_store
from switch.store import postgres as pg_store
from switch.store import sqlite as sqlite_store
from tests.conftest import Rig
from tests.orders import order

SH = ZoneInfo("Asia/Shanghai")
ROUTER = Router.from_toml()
EVENING = datetime(2026, 3, 2, 18, 0, tzinfo=SH)  # HVPS shut until 20:30
NIGHT = datetime(2026, 3, 2, 21, 0, tzinfo=SH)  # HVPS open for Tuesday's business day
T0 = "2026-03-02T09:00:00+00:00"
INTEGRITY = (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)


def payment(**changes: Any) -> Payment:
    pid = uuid.uuid4().hex
    return Payment(payment_id=pid, client_id="CORE-1", order=order(**changes), state="ACCEPTED",
                   end_to_end_id=pid, uetr=str(uuid.uuid4()), created_at=T0, updated_at=T0)


def carry(p: Payment, src: str, dst: str, decision: RouteDecision | None = None,
          **kw: Any) -> Transition:
    """The move a decision makes, with the decision's figures as the engine writes them."""
    if decision is not None and decision.channel is not None:
        kw.setdefault("channel", decision.channel)
        kw.setdefault("fee", decision.fee)
    return Transition(payment_id=p.payment_id, from_state=src, to_state=dst, at=T0,
                      cause=f"route: {decision.head}" if decision else f"{src}->{dst}",
                      route_decision=None if decision is None else decision.encode(), **kw)


async def accept(store: Store, *ps: Payment) -> None:
    await store.commit(WriteBatch(accepts=[NewPayment(p) for p in ps]))


def cli_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str], p: Payment,
                at: datetime) -> dict[str, Any]:
    path = tmp_path / f"{p.payment_id}.json"
    path.write_bytes(msgspec.json.encode(p.order))
    explain_main(["--explain", str(path), "--at", at.isoformat()])
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    return doc


async def test_a_routed_payment_reads_back_what_route_explain_prints(
        store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = payment(amount=8_000_000)
    await accept(store, p)
    decision = ROUTER.decide(p.order, EVENING)
    assert await store.route_decision(p.payment_id) is None  # accepted, not routed yet
    assert (await store.commit(WriteBatch(transitions=[
        carry(p, "ACCEPTED", "ROUTED", decision)]))).applied == [True]
    got = await store.route_decision(p.payment_id)
    assert got == cli_explain(tmp_path, capsys, p, EVENING) == decision.explain()
    assert (got["channel"], got["scheduled_for"], got["reason_code"], got["fee"]) == (
        "HVPS", "2026-03-02T20:30:00+08:00", None, 500)
    assert [c["channel"] for c in got["candidates"]] == ROUTER.names
    assert got["candidates"][1]["reason"] == "AM02"  # BEPS: above its per-item maximum
    assert got["cost"]["fee"] == got["cost"]["fee_net"] + got["cost"]["vat"] == 500
    history = await store.history(p.payment_id)
    assert history[-1].cause == "route: " + got["explanation"][0]
    assert await store.route_decision("no-such-payment") is None


async def test_the_latest_decision_is_read_and_rejections_are_kept_too(
        store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = payment(amount=8_000_000)
    pinned = payment(amount=8_000_000, designated_channel="HVPS")
    await accept(store, p, pinned)
    first = ROUTER.decide(p.order, EVENING)
    second = ROUTER.decide(p.order, NIGHT)
    refusal = ROUTER.decide(pinned.order, EVENING)
    assert (first.scheduled_for is not None, second.scheduled_for, refusal.reason) == (
        True, None, "TM01")
    await store.commit(WriteBatch(transitions=[
        carry(p, "ACCEPTED", "ROUTED", first), carry(p, "ROUTED", "SCHEDULED"),
        carry(pinned, "ACCEPTED", "REJECTED", refusal, reason=refusal.reason)]))
    await store.commit(WriteBatch(transitions=[
        carry(p, "SCHEDULED", "ROUTED", second), carry(p, "ROUTED", "SUBMITTED")]))
    assert await store.route_decision(p.payment_id) == cli_explain(tmp_path, capsys, p, NIGHT)
    rejected = await store.route_decision(pinned.payment_id)
    assert rejected == cli_explain(tmp_path, capsys, pinned, EVENING)
    assert (rejected["channel"], rejected["reason_code"]) == (None, "TM01")


async def test_a_decision_is_kept_only_with_a_move_that_applies(store: Store) -> None:
    p = payment(amount=8_000_000)
    await accept(store, p)
    stale = carry(p, "SUBMITTED", "ROUTED", ROUTER.decide(p.order, NIGHT))
    assert (await store.commit(WriteBatch(transitions=[stale]))).applied == [False]
    assert await store.route_decision(p.payment_id) is None
    # and with nothing at all when its transaction fails after the move was written
    batch = WriteBatch(transitions=[carry(p, "ACCEPTED", "ROUTED", ROUTER.decide(p.order, NIGHT))],
                       intake_errors=[IntakeError("CORE-1", "FF01", None, b"", T0)])  # type: ignore[arg-type]
    with pytest.raises(INTEGRITY):
        await store.commit(batch)
    assert await store.route_decision(p.payment_id) is None
    assert (await store.payment(p.payment_id) or p).state == "ACCEPTED"


async def test_a_version_1_database_migrates_and_keeps_its_history(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = sqlite_store if store_url.startswith("sqlite") else pg_store
    old = open_store(store_url)
    with monkeypatch.context() as patch:  # the schema as version 1 left it
        patch.setattr(module, "MIGRATIONS", module.MIGRATIONS[:1])
        await old.open()
    await old.close()
    p = payment(amount=8_000_000)
    await _write_v1_payment(store_url, p)  # as a version 1 switch wrote it
    new = open_store(store_url)
    await new.open()
    try:
        assert await new.schema_version() == module.MIGRATIONS[-1][0]  # the newest
        assert await new.payment(p.payment_id) == p
        assert [h.cause for h in await new.history(p.payment_id)] == ["intake"]
        assert await new.route_decision(p.payment_id) is None
        decision = ROUTER.decide(p.order, NIGHT)
        await new.commit(WriteBatch(transitions=[carry(p, "ACCEPTED", "ROUTED", decision)]))
        assert await new.route_decision(p.payment_id) == decision.explain()
        assert [h.cause for h in await new.history(p.payment_id)] == [
            "intake", "route: " + decision.head]
    finally:
        await new.close()


async def _write_v1_payment(url: str, p: Payment) -> None:
    history = (p.payment_id, None, p.state, p.created_at, "intake", None)
    columns = "payment_id, from_state, to_state, at, cause, reason"
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.removeprefix("sqlite://"))
        with db:
            db.execute(f"INSERT INTO payments ({sqlite_store._PAYMENT_COLS}) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", sqlite_store._payment_row(p))
            db.execute(f"INSERT INTO payment_history ({columns}) VALUES (?,?,?,?,?,?)", history)
        db.close()
        return
    con = await asyncpg.connect(url)
    try:
        row = sqlite_store._payment_row(p)  # the same columns in the same order
        await con.execute(f"INSERT INTO payments ({pg_store._PAYMENT_COLS}) VALUES "
                          f"({', '.join(f'${i + 1}' for i in range(len(row)))})", *row)
        await con.execute(f"INSERT INTO payment_history ({columns}) "
                          "VALUES ($1, $2, $3, $4, $5, $6)", *history)
    finally:
        await con.close()


def test_the_stored_record_is_compact_and_versioned() -> None:
    decision = ROUTER.decide(order(amount=8_000_000), EVENING)
    blob = decision.encode()
    doc = msgspec.json.encode(decision.explain())
    assert len(blob) * 3 < len(doc)  # far smaller than the explanation it renders
    assert msgspec.msgpack.decode(blob)[0] == 1  # the layout version leads the record
    with pytest.raises(msgspec.ValidationError):
        RouteDecision.decode(msgspec.msgpack.encode([2, *msgspec.msgpack.decode(blob)[1:]]))


async def test_the_switch_stores_each_routing_decision_with_its_payment(rig: Rig) -> None:
    async with await rig.client() as c:
        small, large = order(amount=30_000), order(amount=6_000_000)  # over IBPS's 50,000 CNY
        acks = [await c.submit(o) for o in (small, large)]
        finals = [await c.wait_final(o.client_order_id, 10) for o in (small, large)]
    assert [(f.state, f.reason) for f in finals] == [("SETTLED", None), ("REJECTED", "AM02")]
    store = rig.app.store
    routed = await store.payment(acks[0].payment_id or "")
    assert routed is not None
    doc = await store.route_decision(routed.payment_id)
    assert doc is not None
    assert (doc["channel"], doc["fee"], doc["business_date"], doc["reason_code"]) == (
        "IBPS", routed.fee, routed.business_date, None)
    assert [(c["channel"], c["text"]) for c in doc["candidates"]] == [("IBPS", "chosen")]
    history = await store.history(routed.payment_id)
    assert history[1].to_state == "ROUTED"
    assert history[1].cause == "route: " + doc["explanation"][0]
    rejected = await store.route_decision(acks[1].payment_id or "")
    assert rejected is not None
    assert (rejected["channel"], rejected["reason_code"]) == (None, "AM02")
    assert rejected["candidates"][0]["text"] == \
        "amount 6000000 above the per-item maximum 5000000"
    assert (await store.history(acks[1].payment_id or ""))[-1].cause == \
        "route: " + rejected["explanation"][0]
