"""Ledger micro-benchmarks: ``pytest bench/test_ledger_bench.py``.

The posting engine without I/O (rules + apply) next to the same work through SQLite, so the
report shows what the store costs; `python -m bench.ledger` gives the PostgreSQL figures and the
raw COPY / executemany baselines.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from accounting import core
from accounting.config import load_books
from accounting.ledger import SqliteLedger
from bench.ledger import events, run

BOOKS = load_books()
EVENTS = events(2_000)


def _plan_and_apply() -> int:
    plans = [core.plan_event(BOOKS, e.event_id, e.payment_id, e.type, e.body, "t")
             for e in EVENTS]
    snap = core.Snapshot(1, {}, {}, {}, set(), {}, 1)
    return len(core.apply(BOOKS, plans, snap).postings)


def test_engine_without_io(benchmark: BenchmarkFixture) -> None:
    benchmark.group = "ledger-2000-payments"
    postings = benchmark(_plan_and_apply)
    benchmark.extra_info["postings"] = postings
    assert postings == 2_000 * 12


def test_engine_on_sqlite(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    benchmark.group = "ledger-2000-payments"
    n = iter(range(1_000_000))

    def post() -> int:
        async def go() -> int:
            ledger = SqliteLedger(tmp_path / f"l{next(n)}.db", BOOKS)
            await ledger.open()
            try:
                total = 0
                for i in range(0, len(EVENTS), 2_000):
                    total += len(await ledger.post_events(EVENTS[i:i + 2_000], "t"))
                return total
            finally:
                await ledger.close()

        return asyncio.run(go())

    assert benchmark.pedantic(post, rounds=3, iterations=1) == len(EVENTS)


def test_bench_ledger_reports_every_figure() -> None:
    figures = asyncio.run(run(300))
    keys = {"sqlite_postings_per_s", "sqlite_raw_rows_per_s"}
    if os.environ.get("PAYSWITCH_TEST_PG_DSN"):
        keys |= {"pg_postings_per_s", "pg_raw_rows_per_s"}
    assert keys <= figures.keys()
    assert all(figures[k] > 0 for k in keys)
    if "pg_postings" in figures:
        assert figures["pg_postings"] == figures["sqlite_postings"] == 300 * 12


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(pytest.main([__file__]))
