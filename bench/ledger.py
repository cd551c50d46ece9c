"""Ledger posting throughput next to a raw baseline measured in the same run.

    python -m bench.ledger [--json] [--payments N] [--rounds R]

Each payment is an accept (a hold) and a settlement with a fee (release the hold, post it, pass the
principal to the channel, net fee and VAT): 2 outbox events, 2 journal entries and 12 postings. A
posting is one row of acct_postings: one side (debit or credit) of a leg, hold and release rows
included, so 12 postings are 6 double-entry legs. The figure is postings/s through the accounting
worker as the switch runs it (outbox pages of 10,000 events, rules, idempotency check, holds,
constraints, balances, cursor, one transaction per page); the baseline writes the very same posting
rows into an identically indexed table with no logic at all: COPY on PostgreSQL, executemany on
SQLite, in transactions of the same size. PostgreSQL comes from PAYSWITCH_TEST_PG_DSN, in a schema
created and dropped here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from accounting.ledger import Ledger, PostgresLedger, SqliteLedger
from accounting.worker import AccountingWorker
from switch.clock import VirtualClock
from switch.store import OutboxEvent

BATCH = 10_000  # events per transaction: a page the worker reads under load
CONSUMER = "bench"
_POSTING_COLS = ["entry_id", "seq", "account_id", "phase", "debit", "credit"]


def events(payments: int, start: int = 1) -> list[OutboxEvent]:
    """Accept then settle each payment, interleaved as the outbox would have them."""
    rng = random.Random(4)
    ids = [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(payments)]  # as the switch's
    out: list[OutboxEvent] = []
    eid = start
    window = 500  # settlements trail acceptances, as they do in the switch
    for i in range(payments + window):
        if i < payments:
            body = {"amount": 1000 + i % 977, "currency": "CNY",
                    "debtor_account": f"62170000{i % 5000:08d}", "product": "CT"}
            out.append(OutboxEvent(eid, ids[i], "payment.accepted", body, "t"))
            eid += 1
        j = i - window
        if j >= 0:
            body = {"amount": 1000 + j % 977, "currency": "CNY",
                    "debtor_account": f"62170000{j % 5000:08d}", "product": "CT",
                    "channel": ("IBPS", "BEPS", "HVPS")[j % 3], "fee": 30}
            out.append(OutboxEvent(eid, ids[j], "payment.settled", body, "t"))
            eid += 1
    return out


class _Outbox:
    """The outbox as the worker reads it, already filled: the switch's store is not measured."""

    url = "memory://bench"

    def __init__(self, evs: list[OutboxEvent]) -> None:
        self.events = evs

    async def outbox_after(self, event_id: int, limit: int) -> Sequence[OutboxEvent]:
        start = event_id - self.events[0].event_id + 1 if self.events else 0
        return self.events[max(start, 0):max(start, 0) + limit]

    async def outbox_count_after(self, event_id: int, cap: int) -> int:
        return min(cap, sum(e.event_id > event_id for e in self.events))


async def _post_all(ledger: Ledger, evs: list[OutboxEvent]) -> float:
    worker = AccountingWorker(_Outbox(evs), VirtualClock(datetime(2026, 3, 2, 9, tzinfo=UTC)),
                              ledger, batch=BATCH, consumer=CONSUMER)
    await worker.open()
    t0 = time.perf_counter()
    posted = await worker.post_available()
    elapsed = time.perf_counter() - t0
    assert posted == len(evs) and not worker.conflicts
    return elapsed


async def bench_postgres(dsn: str, payments: int) -> dict[str, float]:
    import asyncpg

    schema = f"bench_ledger_{uuid.uuid4().hex[:8]}"
    con = await asyncpg.connect(dsn)
    await con.execute(f"CREATE SCHEMA {schema}")
    try:
        sep = "&" if "?" in dsn else "?"
        url = f"{dsn}{sep}search_path={schema}"
        ledger = PostgresLedger(url)
        await ledger.open()
        try:
            evs = events(payments)
            elapsed = await _post_all(ledger, evs)
            rows = [tuple(r) for r in await ledger.pool.fetch(
                f"SELECT {', '.join(_POSTING_COLS)} FROM acct_postings ORDER BY entry_id, seq")]
            per_batch = max(1, len(rows) * BATCH // len(evs))
            async with ledger.pool.acquire() as c:
                await c.execute("CREATE TABLE raw_postings (LIKE acct_postings INCLUDING ALL)")
                t0 = time.perf_counter()
                for i in range(0, len(rows), per_batch):
                    async with c.transaction():
                        await c.copy_records_to_table("raw_postings",
                                                      records=rows[i:i + per_batch],
                                                      columns=_POSTING_COLS)
                raw = time.perf_counter() - t0
        finally:
            await ledger.close()
    finally:
        await con.execute(f"DROP SCHEMA {schema} CASCADE")
        await con.close()
    return {"pg_postings": len(rows), "pg_postings_per_s": len(rows) / elapsed,
            "pg_events_per_s": len(evs) / elapsed, "pg_raw_rows_per_s": len(rows) / raw}


async def bench_sqlite(payments: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.db"
        ledger = SqliteLedger(path)
        await ledger.open()
        try:
            evs = events(payments)
            elapsed = await _post_all(ledger, evs)
        finally:
            await ledger.close()
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        rows = db.execute(f"SELECT {', '.join(_POSTING_COLS)} FROM acct_postings "
                          "ORDER BY entry_id, seq").fetchall()
        ddl = db.execute("SELECT sql FROM sqlite_master WHERE tbl_name = 'acct_postings' "
                         "AND sql IS NOT NULL").fetchall()
        for (sql,) in ddl:  # the same table and indexes, under another name
            db.execute(sql.replace("acct_postings", "raw_postings"))
        per_batch = max(1, len(rows) * BATCH // len(evs))
        t0 = time.perf_counter()
        for i in range(0, len(rows), per_batch):
            db.execute("BEGIN")
            db.executemany("INSERT INTO raw_postings VALUES (?,?,?,?,?,?)",
                           rows[i:i + per_batch])
            db.execute("COMMIT")
        raw = time.perf_counter() - t0
        db.close()
    return {"sqlite_postings": len(rows), "sqlite_postings_per_s": len(rows) / elapsed,
            "sqlite_events_per_s": len(evs) / elapsed, "sqlite_raw_rows_per_s": len(rows) / raw}


async def run(payments: int, rounds: int = 1) -> dict[str, Any]:
    """Each round posts into a fresh ledger, then runs its raw baseline right after; every
    figure is the best of the rounds (the least disturbed, on a shared machine) and
    `rounds_*` keeps each round's."""
    out: dict[str, Any] = {"payments": payments, "events": 2 * payments, "batch_events": BATCH,
                           "rounds": rounds,
                           "posting": "one acct_postings row: one side of a leg, holds and "
                                      "releases included (12 per payment)"}
    dsn = os.environ.get("PAYSWITCH_TEST_PG_DSN")
    seen: list[dict[str, float]] = []
    for _ in range(rounds):
        figures = await bench_postgres(dsn, payments) if dsn else {}
        figures.update(await bench_sqlite(payments))
        seen.append(figures)
    for key in seen[0]:
        values = [f[key] for f in seen]
        out[key] = max(values)
        if key.endswith("_per_s") and rounds > 1:
            out[f"rounds_{key}"] = [round(v) for v in values]
    for store in ("pg", "sqlite") if dsn else ("sqlite",):
        ledger, raw = f"{store}_postings_per_s", f"{store}_raw_rows_per_s"
        out[f"{store}_vs_raw"] = out[ledger] / out[raw]
        if rounds > 1:
            out[f"rounds_{store}_vs_raw"] = [round(f[ledger] / f[raw], 3) for f in seen]
    return out


def _run(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency of the switch
        return asyncio.run(coro)
    return uvloop.run(coro)  # the loop the switch runs on


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ledger", description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--payments", type=int, default=30_000)
    ap.add_argument("--rounds", type=int, default=3, help="best of this many rounds")
    args = ap.parse_args(argv)
    result = _run(run(args.payments, args.rounds))
    if args.json:
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v
                          for k, v in result.items()}))
        return 0
    print(f"{result['payments']:,} payments, {result['events']:,} outbox events, best of "
          f"{result['rounds']} rounds; a posting is {result['posting']}")
    if "pg_postings_per_s" in result:
        print(f"PostgreSQL ledger  {result['pg_postings_per_s']:>10,.0f} postings/s "
              f"({result['pg_events_per_s']:,.0f} events/s)   "
              f"raw COPY {result['pg_raw_rows_per_s']:>10,.0f} rows/s   "
              f"{result['pg_vs_raw']:.0%} of raw")
    else:
        print("PostgreSQL: PAYSWITCH_TEST_PG_DSN not set, skipped", file=sys.stderr)
    print(f"SQLite ledger      {result['sqlite_postings_per_s']:>10,.0f} postings/s "
          f"({result['sqlite_events_per_s']:,.0f} events/s)   "
          f"raw executemany {result['sqlite_raw_rows_per_s']:>10,.0f} rows/s   "
          f"{result['sqlite_vs_raw']:.0%} of raw")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
