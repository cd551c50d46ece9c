"""Reconciliation micro-benchmark: ``pytest bench/test_recon_bench.py``.

A 20,000-item UnionPay settlement file read and matched against the day's payments (in
memory: the statement reader and `accounting.recon.match`), beside its baseline, reading the
same file alone, in the same run. `python -m bench.recon` is the whole run on a million items
with the store and the ledger.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from pytest_benchmark.fixture import BenchmarkFixture

from accounting.recon import SwitchItem, match
from accounting.statements import read_statement
from messages.iso8583.settlement import SettlementFile, SettlementLine, build_settlement_file

ITEMS = 20_000
_LINES = tuple(SettlementLine(
    txn_code="0200", dc="D", acquirer_id="48020000", sender_id="48020000",
    stan=f"{i % 1_000_000:06d}", transmission_time="0302100000", account=f"6222{i:012d}",
    amount=100 + i, currency="CNY", retrieval_ref=f"{i:012d}", order_id=f"{i:032x}")
    for i in range(ITEMS))
DATA = build_settlement_file(SettlementFile(
    settlement_date=date(2026, 3, 2), institution="48020000",
    created_at=datetime(2026, 3, 2, 15, tzinfo=UTC), lines=_LINES))
SWITCH = {ln.order_id: SwitchItem(ln.order_id, ln.order_id, "SETTLED", ln.amount, "CNY")
          for ln in _LINES}


def _read_and_match() -> int:
    found = match(read_statement(DATA).items, SWITCH)
    assert not found.breaks
    return found.matched


def test_read_only(benchmark: BenchmarkFixture) -> None:
    benchmark.group = "recon-20000-items"
    benchmark.extra_info["items"] = ITEMS
    assert benchmark(lambda: len(read_statement(DATA).items)) == ITEMS


def test_read_and_match(benchmark: BenchmarkFixture) -> None:
    benchmark.group = "recon-20000-items"
    benchmark.extra_info["items"] = ITEMS
    assert benchmark(_read_and_match) == ITEMS
