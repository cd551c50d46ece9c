"""Routing micro-benchmarks: ``pytest bench/test_routing_bench.py``.

The route kernel runs on the Cython module and on the pure twin over the same prepared orders,
and the whole ``Router.decide`` runs on each, so the report shows all four side by side.
"""

from __future__ import annotations

from array import array
from types import ModuleType

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench.routing import implementations, kernel_cases, random_orders, run_kernel, run_router
from fastpath._route_py import OUT_FIELDS
from routing.router import Router

IMPLS = [
    pytest.param(impl, id=name,
                 marks=pytest.mark.skipif(impl is None, reason="fastpath._route not built"))
    for name, impl in implementations().items()
]
ORDERS = random_orders(1000)
PURE = Router.from_toml(kernel=implementations()["pure"])
CASES = kernel_cases(PURE, ORDERS)
CHECKSUM = run_kernel(PURE.table, CASES, array("q", bytes(8 * PURE.table.size * OUT_FIELDS)))


@pytest.mark.parametrize("impl", IMPLS)
def test_route_kernel(benchmark: BenchmarkFixture, impl: ModuleType) -> None:
    router = Router.from_toml(kernel=impl)
    out = array("q", bytes(8 * router.table.size * OUT_FIELDS))
    benchmark.group = "routing-kernel"
    benchmark.extra_info["decisions"] = len(CASES)
    assert benchmark(run_kernel, router.table, CASES, out) == CHECKSUM


@pytest.mark.parametrize("impl", IMPLS)
def test_router_decide(benchmark: BenchmarkFixture, impl: ModuleType) -> None:
    router = Router.from_toml(kernel=impl)
    benchmark.group = "routing-router"
    benchmark.extra_info["decisions"] = len(ORDERS)
    assert benchmark.pedantic(run_router, (router, ORDERS), rounds=3) == len(ORDERS)
