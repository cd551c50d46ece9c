"""Batching benchmark: members batched per second (close + total + persist) beside a plain
insert of the same number of rows, in the same run, on the embedded SQLite store.

    python -m bench.batching [--members N] [--payees P] [--json]

The engine runs in-process on a virtual clock with a real SQLite store: N micro-payment orders
are accepted and queued into P payees' batches (the intake figure), then every batch closes in
the engine's turns (members BATCHED, totals fixed, batch rows and the batches' own payments
written: the batching figure). The baseline writes N rows of the same width with one
executemany into a fresh table of the same database, the floor any batching must pay.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sqlite3
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import uvloop

from adapters.ibps import IbpsAdapter
from routing import Router, load_catalogue
from switch.batching import BatchDesk
from switch.clock import VirtualClock
from switch.engine import PaymentEngine, _CloseBatch
from switch.order import Order, Party
from switch.store import open_store

START = datetime(2026, 3, 2, 10, 0, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


def _orders(n: int, payees: int, seed: int = 1) -> list[Order]:
    rng = random.Random(seed)
    merchants = [Party(account=f"62220000009{i:05d}", name=f"M{i}", agent="103100000026")
                 for i in range(payees)]
    return [Order(client_order_id=f"B-{i:07d}", amount=rng.randint(100, 2_000), currency="CNY",
                  product="T0SETTLE", creditor=merchants[i % payees],
                  debtor=Party(account=f"6217{rng.randrange(10**14, 10**15)}", name="C",
                               agent="102100099996"))
            for i in range(n)]


async def run(members: int, payees: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="payswitch-batching-") as tmp:
        store = open_store(f"sqlite://{tmp}/b.db")
        await store.open()
        clock = VirtualClock(START)
        cat = load_catalogue().only(["IBPS"])
        # one window for the whole run, batches large enough for every member
        profile = msgspec.structs.replace(
            load_catalogue().batching[0], channel="IBPS", every_minutes=60,
            close_amount=5_000_000, max_members=members)
        cat = msgspec.structs.replace(cat, batching=(profile,))
        adapter = IbpsAdapter("127.0.0.1", 1, clock=clock, sender_bank="102100099996")
        engine = PaymentEngine(store=store, clock=clock, router=Router(cat),
                               adapters={"IBPS": adapter}, batch_max=5000,
                               batching=BatchDesk(cat, Party(account="", name="Bank",
                                                             agent="102100099996")))
        await engine.start()
        orders = _orders(members, payees)
        started = time.perf_counter()
        futures = [engine.submit("BENCH", o) for o in orders]
        await asyncio.gather(*futures)
        intake_s = time.perf_counter() - started
        desk = engine.batching
        assert desk is not None
        batch_ids = list(desk.by_id)
        # a batch that reached its amount or count threshold closed during intake already
        closing = members - sum(b.members for b in await store.batches(
            ["CLOSED", "SUBMITTED", "ROUTED"]))
        before = engine.stats.transitions
        started = time.perf_counter()
        for bid in batch_ids:
            engine._put(_CloseBatch(bid))
        deadline = started + 600
        while engine.stats.transitions - before < closing:  # every member BATCHED, durable
            if time.perf_counter() > deadline:
                raise SystemExit(f"bench.batching: {closing} members not batched in 600 s")
            await asyncio.sleep(0.001)
        close_s = time.perf_counter() - started
        await engine.stop()
        closed = await store.batches(["CLOSED", "SUBMITTED", "ROUTED"])
        assert sum(b.members for b in closed) == members, "every member in a closed batch"
        await store.close()
        baseline = _plain_insert(Path(tmp) / "b.db", members)
    return {
        "members": members,
        "payees": payees,
        "members_batched_per_s": round(closing / close_s, 1),
        "intake_queued_per_s": round(members / intake_s, 1),
        "plain_insert_rows_per_s": round(baseline, 1),
        "batched_vs_plain": round(closing / close_s / baseline, 3),
    }


def _plain_insert(path: Path, n: int) -> float:
    """The same number of rows, history-row wide, in one executemany (synchronous=FULL)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE plain (id INTEGER PRIMARY KEY, payment_id TEXT, from_state TEXT, "
               "to_state TEXT, at TEXT, cause TEXT)")
    rows = [(f"{i:032x}", "QUEUED_FOR_BATCH", "BATCHED", "2026-03-02T02:10:00.000+00:00",
             "batch closed: members, total") for i in range(n)]
    started = time.perf_counter()
    db.execute("BEGIN")
    db.executemany("INSERT INTO plain (payment_id, from_state, to_state, at, cause) "
                   "VALUES (?,?,?,?,?)", rows)
    db.execute("COMMIT")
    seconds = time.perf_counter() - started
    db.close()
    return n / seconds


async def main(args: argparse.Namespace) -> int:
    logging.getLogger("payswitch").setLevel(logging.ERROR)  # no channel is meant to answer here
    figures = await run(args.members, args.payees)
    if args.json:
        print(json.dumps(figures))
    else:
        rows = (("members batched (close+total+persist)", "members_batched_per_s"),
                ("orders accepted and queued", "intake_queued_per_s"),
                ("baseline: plain insert of the rows", "plain_insert_rows_per_s"))
        print(f"{'':38}{'per s':>14}")
        for label, key in rows:
            print(f"{label:38}{figures[key]:>14,}")
        print(members_line(figures))
    return 0


def members_line(f: dict[str, float]) -> str:
    return (f"{int(f['members']):,} members to {int(f['payees'])} payees, SQLite store; "
            f"batching runs at {f['batched_vs_plain']:.1%} of the plain insert rate")


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.batching", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--payees", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    sys.exit(uvloop.run(main(parser.parse_args())))


if __name__ == "__main__":
    cli()
