"""The operations commands as an operator runs them: real subprocesses against a real store
(SQLite and PostgreSQL), a real IBPS simulator's statement, output and exit codes."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from accounting.ledger import open_ledger
from simulators.link import admin_request
from switch.store import open_store
from tests.conftest import CLOSED_ACCOUNT, Rig
from tests.orders import order

ROOT = Path(__file__).resolve().parents[1]


def payswitch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "switch.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


async def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(payswitch, *args)


async def _day(rig: Rig) -> tuple[str, list[str]]:
    """Four payments settled and one rejected; their business day and the settled ids."""
    client = await rig.client()
    try:
        orders = [order(amount=10_000 + i) for i in range(4)]
        orders.append(order(creditor=orders[0].creditor.__class__(
            account=CLOSED_ACCOUNT, name="x", agent="103100000026")))
        for o in orders:
            await client.submit(o)
        finals = [await client.wait_final(o.client_order_id) for o in orders]
    finally:
        await client.close()
    assert [f.state for f in finals] == ["SETTLED"] * 4 + ["REJECTED"]
    while await rig.app.poster.lag():
        await asyncio.sleep(0.02)
    settled = [await rig.app.store.payment_by_client_key("CORE-TEST", o.client_order_id)
               for o in orders[:4]]
    day = settled[0].business_date if settled[0] else None
    assert day is not None
    return day, [p.payment_id for p in settled if p]


async def _statement(rig: Rig, day: str, path: Path) -> bytes:
    answer = await admin_request("127.0.0.1", rig.sim.port or 0,
                                 {"op": "statement", "date": day})
    data = answer["data"].encode()
    path.write_bytes(data)
    return data


async def _facts(url: str) -> tuple[Any, ...]:
    """What a command must not change when it refuses: runs, breaks, entries, states."""
    store = open_store(url)
    await store.open()
    ledger = open_ledger(url)
    await ledger.open()
    try:
        tables = await ledger._fetch(
            "SELECT count(*) FROM acct_entries")
        try:
            recon = await ledger._fetch(
                "SELECT (SELECT count(*) FROM recon_runs), (SELECT count(*) FROM recon_breaks "
                "WHERE status = 'open')")
        except Exception:  # the recon tables are made by the first run
            recon = [("none",)]
        states = sorted((s.state, s.count) for s in await store.summary())
    finally:
        await ledger.close()
        await store.close()
    return tuple(tables), tuple(recon), tuple(states)


async def test_recon_cli_run_breaks_resolve(rig: Rig, store_url: str, tmp_path: Path) -> None:
    day, settled = await _day(rig)
    stmt = tmp_path / "ibps.xml"
    data = await _statement(rig, day, stmt)

    # bad arguments and unreadable statements: exit 2, a clear message, nothing written
    before = await _facts(store_url)
    (tmp_path / "junk.xml").write_bytes(b"<Document><oops")
    (tmp_path / "empty.txt").write_bytes(b"")
    refused = [
        (("--channel", "NOPE", "--date", day, "--statement", str(stmt)), "not a channel"),
        (("--channel", "IBPS", "--date", "02/03/2026", "--statement", str(stmt)),
         "not a date"),
        (("--channel", "IBPS", "--date", day, "--statement", str(tmp_path / "missing.xml")),
         "cannot read statement"),
        (("--channel", "IBPS", "--date", day, "--statement", str(tmp_path / "junk.xml")),
         "unreadable statement"),
        (("--channel", "IBPS", "--date", day, "--statement", str(tmp_path / "empty.txt")),
         "unreadable statement"),
        (("--channel", "IBPS", "--date", "2020-01-01", "--statement", str(stmt)),
         "the statement is for"),
        (("--channel", "IBPS", "--date", day), "no statement"),
    ]
    for args, message in refused:
        proc = await cli("recon", "run", *args, "--store", store_url)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr
    assert (await _facts(store_url)) == before

    # the statement as the channel wrote it: clean
    proc = await cli("recon", "run", "--channel", "ibps", "--date", day, "--statement",
                     str(stmt), "--store", store_url, "--json")
    assert proc.returncode == 0, proc.stderr
    clean = json.loads(proc.stdout)
    assert (clean["items"], clean["matched"], clean["breaks"]) == (4, 4, [])
    assert clean["balances"]["CNY"]["statement_closing"] == \
        clean["balances"]["CNY"]["ledger_closing"]

    # the same statement with one payment's line gone: one short break, suggested action shown
    e2e = (await rig.app.store.payment(settled[1])).end_to_end_id  # type: ignore[union-attr]
    start = data.index(f"<EndToEndId>{e2e}</EndToEndId>".encode())
    entry = data.rindex(b"<Ntry>", 0, start), data.index(b"</Ntry>", start) + len(b"</Ntry>")
    tampered = tmp_path / "short.xml"
    tampered.write_bytes(data[:entry[0]] + data[entry[1]:])
    proc = await cli("recon", "run", "--channel", "IBPS", "--date", day, "--statement",
                     str(tampered), "--store", store_url)
    assert proc.returncode == 3, proc.stderr
    assert "short" in proc.stdout and "credit-adjustment" in proc.stdout
    proc = await cli("recon", "breaks", "--open", "--store", store_url, "--csv")
    assert proc.returncode == 0
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [(r["kind"], r["payment"], r["suggested"]) for r in rows] == \
        [("short", settled[1], "credit-adjustment")]
    break_id = rows[0]["break"]

    before = await _facts(store_url)
    for args, code, message in [
        (("--action", "settle-from-statement"), 2, "does not clear a short break"),
        (("--action", "bogus"), 2, "--action 'bogus'"),
        (("--action", "credit-adjustment", "--reason", " "), 2, "must not be blank"),
    ]:
        extra = ("--reason", "r") if "--reason" not in args else ()
        proc = await cli("recon", "resolve", break_id, *args, *extra, "--operator", "ann",
                         "--store", store_url)
        assert proc.returncode == code and message in proc.stderr, proc.stderr
    proc = await cli("recon", "resolve", "999999", "--action", "reverse", "--reason", "r",
                     "--operator", "ann", "--store", store_url)
    assert proc.returncode == 2 and "no break 999999" in proc.stderr
    assert (await _facts(store_url)) == before

    proc = await cli("recon", "resolve", break_id, "--action", "reverse", "--reason",
                     "the channel never debited us", "--operator", "ann", "--store",
                     store_url, "--json")
    assert proc.returncode == 0, proc.stderr
    done = json.loads(proc.stdout)
    assert done["action"] == "reverse" and done["entry_id"]
    # the reversal is in the books with who and why; the payment is RETURNED
    shown = await cli("ledger", "payment", settled[1], "--store", store_url, "--json")
    entries = json.loads(shown.stdout)
    assert any(e["operator"] == "ann" and e["link_kind"] == "reversal" for e in entries)
    assert (await rig.app.store.payment(settled[1])).state == "RETURNED"  # type: ignore
    again = await cli("recon", "resolve", break_id, "--action", "reverse", "--reason", "x",
                      "--operator", "ann", "--store", store_url)
    assert again.returncode == 0 and "nothing changed" in again.stdout

    proc = await cli("recon", "run", "--channel", "IBPS", "--date", day, "--statement",
                     str(tampered), "--store", store_url, "--json")
    assert proc.returncode == 0, proc.stdout
    assert json.loads(proc.stdout)["matched"] == 3
    tb = await cli("ledger", "trial-balance", "--store", store_url)
    assert tb.returncode == 0, tb.stdout
    runs = json.loads((await cli("recon", "runs", "--channel", "ibps", "--store", store_url,
                                 "--json")).stdout)
    assert [(r["items"], r["breaks_found"], r["open_breaks"], r["exit_code"]) for r in runs] == \
        [(3, 0, 0, 0), (3, 1, 1, 3), (4, 0, 0, 0)]


async def test_recon_fetches_from_the_channel_and_reports_unreachable(
        rig: Rig, store_url: str, tmp_path: Path) -> None:
    day, _ = await _day(rig)
    proc = await cli("recon", "run", "--channel", "IBPS", "--date", day, "--from",
                     f"127.0.0.1:{rig.sim.port}", "--store", store_url)
    assert proc.returncode == 0, proc.stderr
    assert "clean" in proc.stdout and "matched 4" in proc.stdout
    # the switch's own configuration says where the channel and the store are
    config = tmp_path / "switch.toml"
    config.write_text(f'[store]\nurl = "{store_url}"\n[channels.ibps]\nhost = "127.0.0.1"\n'
                      f"port = {rig.sim.port}\n", encoding="utf-8")
    proc = await cli("recon", "run", "--channel", "IBPS", "--date", day, "--config",
                     str(config), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["matched"] == 4
    dead = await cli("recon", "run", "--channel", "IBPS", "--date", day, "--from",
                     "127.0.0.1:1", "--store", store_url)
    assert dead.returncode == 1 and "cannot fetch the IBPS statement" in dead.stderr


@pytest.mark.parametrize("flags", [("--json", "--csv")])
def test_json_and_csv_exclude_each_other(flags: tuple[str, ...], tmp_path: Path) -> None:
    proc = payswitch("recon", "breaks", *flags, "--store", f"sqlite://{tmp_path / 'x.db'}")
    assert proc.returncode == 2 and "exclude each other" in proc.stderr
    assert not (tmp_path / "x.db").exists()


async def test_positions_orders_and_daily_report(rig: Rig, store_url: str,
                                                 tmp_path: Path) -> None:
    day, settled = await _day(rig)
    store = rig.app.store
    payments = [await store.payment(pid) for pid in settled]
    out = sum(p.order.amount for p in payments if p)

    proc = await cli("positions", "--store", store_url, "--json")
    assert proc.returncode == 0, proc.stderr
    ibps = [p for p in json.loads(proc.stdout)["positions"] if p["channel"] == "IBPS"]
    assert [(p["currency"], p["balance"], p["alert"]) for p in ibps] == [("CNY", -out, None)]
    watch = await cli("positions", "--watch", "--interval", "0.05", "--count", "3", "--store",
                      store_url, "--json")
    assert watch.returncode == 0 and len(watch.stdout.strip().splitlines()) == 3
    table = await cli("positions", "--store", store_url)
    assert "IBPS" in table.stdout and f"{-out:,}" in table.stdout

    listed = await cli("orders", "list", "--state", "settled", "--channel", "ibps", "--store",
                       store_url, "--json")
    assert sorted(o["payment_id"] for o in json.loads(listed.stdout)) == sorted(settled)
    csv_out = await cli("orders", "list", "--limit", "2", "--store", store_url, "--csv")
    assert len(list(csv.DictReader(io.StringIO(csv_out.stdout)))) == 2
    first = payments[0]
    assert first is not None
    for term in (first.order.client_order_id, first.end_to_end_id, first.uetr):
        found = await cli("orders", "search", term, "--store", store_url, "--json")
        assert [o["payment_id"] for o in json.loads(found.stdout)] == [first.payment_id]
    by_account = await cli("orders", "search", CLOSED_ACCOUNT, "--store", store_url, "--json")
    assert [o["state"] for o in json.loads(by_account.stdout)] == ["REJECTED"]
    by_debtor = await cli("orders", "search", first.order.debtor.account, "--store", store_url,
                          "--json")
    assert len(json.loads(by_debtor.stdout)) == 5  # the tests' orders share one debtor
    nothing = await cli("orders", "search", "NO-SUCH-ORDER-1", "--store", store_url)
    assert nothing.returncode == 1

    shown = await cli("orders", "show", first.payment_id, "--store", store_url, "--json")
    assert shown.returncode == 0, shown.stderr
    story = json.loads(shown.stdout)
    assert [h["to_state"] for h in story["history"]][-1] == "SETTLED"
    assert story["route"]["channel"] == "IBPS"
    assert {m["direction"] for m in story["messages"]} == {"out", "in"}
    assert {e["event_type"] for e in story["ledger"]} == {"payment.accepted", "payment.settled"}
    text = await cli("orders", "show", first.order.client_order_id, "--store", store_url)
    assert text.returncode == 0 and "State history" in text.stdout and "clearing:IBPS" in \
        text.stdout
    assert (await cli("orders", "show", "NO-SUCH", "--store", store_url)).returncode == 1

    chart = tmp_path / "day.html"
    rep = await cli("report", "daily", "--from", day, "--to", day, "--store", store_url,
                    "--json", "--chart", str(chart))
    assert rep.returncode == 0, rep.stderr
    (row,) = json.loads(rep.stdout)
    assert (row["channel"], row["orders"], row["settled"], row["rejected"]) == ("IBPS", 5, 4, 1)
    assert row["success_rate"] == 0.8 and row["settled_amount"] == out
    assert row["fees"] == sum(p.fee for p in payments if p) and 0 < row["vat"] < row["fees"]
    assert 0 <= row["avg_settle_s"] <= row["p99_settle_s"]
    assert chart.read_text().count("<svg") == 4
    for args, message in [(("--from", day, "--to", "2000-01-01"), "before --from"),
                          (("--from", day, "--to", day, "--chart", "x.png"), ".html page"),
                          (("--from", "yesterday", "--to", day), "not a date")]:
        bad = await cli("report", "daily", *args, "--store", store_url)
        assert bad.returncode == 2 and message in bad.stderr


def test_a_missing_store_is_an_error_not_a_new_file(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'nothing.db'}"
    for args in (("orders", "list"), ("positions",), ("recon", "breaks"),
                 ("report", "daily", "--from", "2026-03-02", "--to", "2026-03-02")):
        proc = payswitch(*args, "--store", url)
        assert proc.returncode == 1 and "no store" in proc.stderr, (args, proc.stderr)
    assert not (tmp_path / "nothing.db").exists()


async def test_a_batch_the_channel_settled_is_settled_from_the_statement(
        store_url: str, tmp_path: Path) -> None:
    """A batch whose reply was lost (UNKNOWN, members UNKNOWN with it) that the channel's
    statement shows settled: settle-from-statement settles the batch and every member with its
    share of the fee, and the books post the batch once; the channel then reconciles."""
    from datetime import UTC, date, datetime

    import msgspec

    from accounting.worker import AccountingWorker
    from messages.iso20022.camt053 import (
        Balance,
        Camt053,
        Entry,
        EntryTransaction,
        Statement,
        build_camt053,
    )
    from switch.clock import SystemClock
    from switch.order import Payment
    from switch.store import BatchJoin, BatchRow, Event, NewPayment, Transition, WriteBatch

    day, at = "2026-03-02", "2026-03-02T02:00:00.000+00:00"
    members = [order(amount=a, product="T0SETTLE") for a in (1_000, 2_000, 3_000)]
    payee = members[0].creditor
    bid, total, fee = "b" * 32, 6_000, 30
    store = open_store(store_url)
    await store.open()
    try:
        first = WriteBatch()
        for i, o in enumerate(members):
            p = Payment(payment_id=f"m{i}" * 16, client_id="CORE-TEST", order=o,
                        state="QUEUED_FOR_BATCH", channel="IBPS", business_date=day,
                        end_to_end_id=f"m{i}" * 16, uetr=f"0000000{i}-0000-4000-8000-0000000000"
                                                         "00", created_at=at, updated_at=at)
            first.accepts.append(NewPayment(p, (Event("payment.accepted", {
                "amount": o.amount, "currency": "CNY", "debtor_account": o.debtor.account,
                "product": o.product}),)))
        first.batches.append(BatchRow(
            batch_id=bid, profile="T0-merchant-settlement", channel="IBPS", currency="CNY",
            payee=msgspec.msgpack.encode(payee), payee_account=payee.account, window_key="w1",
            seq=1, state="UNKNOWN", opened_at=at, closes_at=at, end_to_end_id=bid,
            uetr="bbbbbbbb-0000-4000-8000-000000000000", members=3, total=total, fee=fee,
            fee_alone=90, business_date=day))
        first.joins.extend(BatchJoin(bid, f"m{i}" * 16, o.amount)
                           for i, o in enumerate(members))
        first.accepts.append(NewPayment(Payment(
            payment_id=bid, client_id="~batch", order=order(amount=total, creditor=payee,
                                                            product="BATCH"),
            state="UNKNOWN", channel="IBPS", fee=fee, business_date=day, end_to_end_id=bid,
            uetr="bbbbbbbb-0000-4000-8000-000000000000", created_at=at, updated_at=at)))
        await store.commit(first)
        await store.commit(WriteBatch(transitions=[
            Transition(payment_id=f"m{i}" * 16, from_state="QUEUED_FOR_BATCH",
                       to_state="UNKNOWN", at=at, cause="batch lost its reply")
            for i in range(3)]))
        ledger = open_ledger(store_url)
        await ledger.open()
        try:
            await AccountingWorker(store, SystemClock(), ledger).post_available()
        finally:
            await ledger.close()
    finally:
        await store.close()

    statement = tmp_path / "ibps.xml"
    statement.write_bytes(build_camt053(Camt053(
        msg_id="S", created_at=datetime(2026, 3, 2, 15, tzinfo=UTC), statements=(Statement(
            id="S1", account="102100099996", balances=(
                Balance("OPBD", 10**9, "CNY", "CRDT", date(2026, 3, 2)),
                Balance("CLBD", 10**9 - total, "CNY", "CRDT", date(2026, 3, 2))),
            entries=(Entry(total, "CNY", "DBIT", booking_date=date(2026, 3, 2),
                           transactions=(EntryTransaction(end_to_end_id=bid),)),)),))))
    run = ("recon", "run", "--channel", "IBPS", "--date", day, "--statement", str(statement),
           "--store", store_url, "--json")
    proc = await cli(*run)
    assert proc.returncode == 3, proc.stderr
    (brk,) = json.loads(proc.stdout)["breaks"]
    assert (brk["kind"], brk["payment_id"], brk["suggested"]) == \
        ("status", bid, "settle-from-statement")
    done = await cli("recon", "resolve", str(brk["break_id"]), "--action",
                     "settle-from-statement", "--operator", "ann", "--reason", "on statement",
                     "--store", store_url)
    assert done.returncode == 0, done.stderr

    store = open_store(store_url)
    await store.open()
    try:
        settled = [await store.payment(f"m{i}" * 16) for i in range(3)]
        assert [(p.state, p.fee) for p in settled if p] == \
            [("SETTLED", 5), ("SETTLED", 10), ("SETTLED", 15)]
        assert (await store.batch(bid)).state == "SETTLED"  # type: ignore[union-attr]
        history = await store.history(bid)
        assert "recon settle-from-statement by ann" in history[-1].cause
    finally:
        await store.close()
    again = await cli(*run)
    assert again.returncode == 0, again.stdout
    figures = json.loads(again.stdout)["balances"]["CNY"]
    assert figures["ledger_movement"] == figures["statement_movement"] == -total
    tb = await cli("ledger", "trial-balance", "--store", store_url)
    assert tb.returncode == 0, tb.stdout
