"""Frame scanner micro-benchmarks: ``pytest bench/test_framescan_bench.py``.

Each workload runs on the Cython module and on the pure twin, so the report shows both.
"""

from __future__ import annotations

from types import ModuleType

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench.fastpath import Workload, implementations, scan_all, small_frames, split_frames

IMPLS = [
    pytest.param(impl, id=name,
                 marks=pytest.mark.skipif(impl is None, reason="fastpath._framescan not built"))
    for name, impl in implementations().items()
]
WORKLOADS = {"small": small_frames(), "split": split_frames()}


@pytest.mark.parametrize("work", list(WORKLOADS.values()), ids=list(WORKLOADS))
@pytest.mark.parametrize("impl", IMPLS)
def test_scan(benchmark: BenchmarkFixture, impl: ModuleType, work: Workload) -> None:
    benchmark.group = f"framescan-{work.name}"
    benchmark.extra_info["frames"] = work.frames
    assert benchmark(scan_all, impl, work) == work.frames
