"""Reconciliation throughput: a day's statement of N items (UnionPay settlement file, the
busiest channel's format) matched against N settled payments and their ledger postings, beside
a baseline of reading the same statement alone, in the same run.

    python -m bench.recon [--items 1000000] [--store sqlite|postgresql] [--cli] [--json]

Setup (not timed): N payments written through the store as settled, each with its accept and
settlement events, the outbox posted by the accounting worker (holds, settlement, fees), and the
statement file built by the settlement codec. Timed: ``read_only`` reads the file and parses it
(`accounting.statements.read_statement`); ``matched`` is a whole `recon run` as the CLI does it
in process (read, the day's payments, matching, the clearing account's figure, the run and its
breaks stored). With ``--cli`` the real command runs once more in a subprocess, start-up
included. The run must come out clean (every item matched, no break), or the figures are void.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import uvloop

from accounting.ledger import open_ledger
from accounting.recon_store import open_recon_store
from accounting.statements import read_statement
from accounting.worker import AccountingWorker
from messages.iso8583.settlement import SettlementFile, SettlementLine, build_settlement_file
from switch.clock import VirtualClock, iso
from switch.order import Order, Party, Payment
from switch.reconcile import run_recon
from switch.store import Event, NewPayment, WriteBatch, open_store

DAY = date(2026, 3, 2)
CHANNEL = "UnionPay"
INSTITUTION = "48020000"
_PAGE = 20_000


def _payment(i: int, at: str) -> tuple[Payment, SettlementLine]:
    e2e = f"{i:032x}"
    amount = 100 + (i * 7919) % 2_000_000
    order = Order(client_order_id=f"R-{i:08d}", amount=amount, currency="CNY", product="CARD",
                  debtor=Party(account=f"6217{i:015d}", name="C", agent="102100099996"),
                  creditor=Party(account=f"6222{i:012d}", name="M", agent="103100000026"))
    p = Payment(payment_id=e2e, client_id="BENCH", order=order, state="SETTLED", channel=CHANNEL,
                fee=10, business_date=DAY.isoformat(), end_to_end_id=e2e,
                uetr=f"{i:08x}-0000-4000-8000-000000000000", created_at=at, updated_at=at)
    line = SettlementLine(txn_code="0200", dc="D", acquirer_id=INSTITUTION,
                          sender_id=INSTITUTION, stan=f"{i % 1_000_000:06d}",
                          transmission_time="0302100000", account=f"6222{i:012d}",
                          amount=amount, currency="CNY", retrieval_ref=f"{i:012d}",
                          order_id=e2e)
    return p, line


def _events(p: Payment) -> tuple[Event, ...]:
    o = p.order
    body = {"amount": o.amount, "currency": o.currency, "debtor_account": o.debtor.account,
            "creditor_account": o.creditor.account, "product": o.product}
    return (Event("payment.accepted", body),
            Event("payment.settled", {**body, "channel": CHANNEL, "fee": p.fee}))


async def _setup(url: str, items: int, statement: Path) -> float:
    """The day's payments, their books and the statement; returns the seconds it took."""
    started = time.perf_counter()
    at = iso(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    store = open_store(url)
    await store.open()
    ledger = open_ledger(url)
    await ledger.open()
    lines: list[SettlementLine] = []
    try:
        for first in range(0, items, _PAGE):
            batch = WriteBatch()
            for i in range(first, min(first + _PAGE, items)):
                p, line = _payment(i, at)
                batch.accepts.append(NewPayment(p, _events(p)))
                lines.append(line)
            await store.commit(batch)
        clock = VirtualClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
        await AccountingWorker(store, clock, ledger, batch=_PAGE).post_available()
    finally:
        await ledger.close()
        await store.close()
    statement.write_bytes(build_settlement_file(SettlementFile(
        settlement_date=DAY, institution=INSTITUTION,
        created_at=datetime(2026, 3, 2, 15, tzinfo=UTC), lines=tuple(lines))))
    return time.perf_counter() - started


async def _recon(url: str, statement: Path) -> tuple[float, dict[str, Any]]:
    recon = open_recon_store(url)
    await recon.open()
    try:
        started = time.perf_counter()
        report = await run_recon(recon, CHANNEL, DAY,
                                 lambda: read_statement(statement.read_bytes()),
                                 VirtualClock(datetime.now(UTC)))
        seconds = time.perf_counter() - started
    finally:
        await recon.close()
    return seconds, {"items": report.items, "matched": report.matched,
                     "breaks": len(report.found), "phases_s": report.seconds}


def _read_only(statement: Path) -> tuple[float, int]:
    started = time.perf_counter()
    n = len(read_statement(statement.read_bytes()).items)
    return time.perf_counter() - started, n


def _cli(url: str, statement: Path) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "switch.cli", "recon", "run", "--channel", CHANNEL, "--date",
         DAY.isoformat(), "--statement", str(statement), "--store", url, "--json"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()},
        timeout=600)
    return time.perf_counter() - started, proc.returncode


async def _pg_schema() -> tuple[str, str]:
    import asyncpg

    dsn = os.environ.get("PAYSWITCH_TEST_PG_DSN", "postgresql://root@127.0.0.1:5432/test")
    schema = f"bench_recon_{os.getpid()}"
    con = await asyncpg.connect(dsn)
    try:
        await con.execute(f"CREATE SCHEMA {schema}")
    finally:
        await con.close()
    sep = "&" if "?" in dsn else "?"
    return dsn, f"{dsn}{sep}search_path={schema}"


async def _drop(dsn: str, url: str) -> None:
    import asyncpg

    con = await asyncpg.connect(dsn)
    try:
        await con.execute(f"DROP SCHEMA {url.rsplit('=', 1)[1]} CASCADE")
    finally:
        await con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.recon", description=__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--cli", action="store_true", help="also time the real command")
    parser.add_argument("--keep", metavar="DIR",
                        help="keep the SQLite day and statement in DIR and reuse them next time "
                             "(the setup of a million items takes minutes)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="payswitch-recon-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        statement = work / f"unionpay-{args.items}.txt"
        dsn = None
        if args.store == "postgresql":
            dsn, url = uvloop.run(_pg_schema())
        else:
            url = f"sqlite://{(work / f'recon-{args.items}.db').resolve()}"
        try:
            setup = 0.0
            if dsn is not None or not (args.keep and statement.exists()):
                setup = uvloop.run(_setup(url, args.items, statement))
            read_s, read_n = _read_only(statement)
            matched_s, run = uvloop.run(_recon(url, statement))
            cli = _cli(url, statement) if args.cli else None
        finally:
            if dsn is not None:
                uvloop.run(_drop(dsn, url))
        clean = run["matched"] == run["items"] == read_n == args.items and not run["breaks"]
        out: dict[str, Any] = {
            "items": args.items, "store": args.store,
            "matched_items_per_s": round(args.items / matched_s, 1),
            "read_only_items_per_s": round(read_n / read_s, 1),
            "matched_seconds": round(matched_s, 3), "read_only_seconds": round(read_s, 3),
            "ratio_to_read_only": round(read_s / matched_s, 3),
            "clean": clean, "run": run, "setup_seconds": round(setup, 1),
            "statement_bytes": statement.stat().st_size,
        }
        if cli is not None:
            out["cli_seconds"], out["cli_exit_code"] = round(cli[0], 3), cli[1]
            out["cli_items_per_s"] = round(args.items / cli[0], 1)
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key:>24}: {value}")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
