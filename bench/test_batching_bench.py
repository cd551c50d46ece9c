"""Batching micro-benchmark: ``pytest bench/test_batching_bench.py``.

A BEPS package (one pacs.008 carrying 500 transactions, as `adapters.beps` sends them) against
its baseline, the same 500 transactions each in a pacs.008 of its own, in the same run.
"""

from __future__ import annotations

import msgspec
from pytest_benchmark.fixture import BenchmarkFixture

from bench.messages import sample_pacs008
from messages.iso20022 import build_pacs008

ITEMS = 500
SINGLE = sample_pacs008()
TRANSACTIONS = tuple(
    msgspec.structs.replace(SINGLE.transactions[0], end_to_end_id=f"E2E{i:08d}",
                            tx_id=f"TX{i:08d}")
    for i in range(ITEMS))


def _package() -> int:
    return len(build_pacs008(msgspec.structs.replace(SINGLE, transactions=TRANSACTIONS)))


def _one_by_one() -> int:
    return sum(len(build_pacs008(msgspec.structs.replace(SINGLE, transactions=(tx,))))
               for tx in TRANSACTIONS)


def test_beps_package(benchmark: BenchmarkFixture) -> None:
    benchmark.group = "batching-500-items"
    benchmark.extra_info["items"] = ITEMS
    assert benchmark(_package) > 0


def test_items_one_by_one(benchmark: BenchmarkFixture) -> None:
    benchmark.group = "batching-500-items"
    benchmark.extra_info["items"] = ITEMS
    assert benchmark(_one_by_one) > 0
