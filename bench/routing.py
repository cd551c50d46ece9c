"""Routing throughput: the Cython route kernel next to its pure twin, same orders, same run.

    python -m bench.routing [--json] [--seconds 0.5] [--orders 5000]

``cython_decisions_per_s`` / ``pure_decisions_per_s``: the hot path alone, the constraint checks
and scoring of every channel in ``fastpath.route`` on inputs ``Router.kernel_inputs`` prepared
beforehand for random orders, clocks and states. ``router_*_decisions_per_s``: the whole
``Router.decide`` (screening, windows, state buffer, kernel, rules, the decision with its
record) on each kernel, best of several runs over the same orders, so the channels' windows
the router keeps per span of time are warm, as in the switch, whose clock moves on slowly.
``router_*_cold_decisions_per_s``: the first run on a new router, every order at a random
time of 2026, so nearly each one computes its windows. ``router_*_recorded_decisions_per_s``:
decide plus what the engine does with every decision it stores (the head line for the
payment's history and the encoded record), the rendering the explanation pays once.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import random
import sys
import time
from array import array
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from fastpath import _route_py
from routing.router import Router
from routing.state import RoutingState
from switch.order import Order, Party

KernelCase = tuple[tuple[int, ...], "array[int]"]
AGENTS = [("103100000026", "CN", None), ("313100000013", "CN", None),
          ("NWBKGB2LXXX", "GB", "5493001KJTIIGC8Y1R12"), ("CHASUS33XXX", "US", None)]


def random_orders(count: int = 5000, seed: int = 7) -> list[tuple[Order, datetime, RoutingState]]:
    """Orders over the amount range and currencies the catalogue serves, at random 2026 times."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    cases = []
    for i in range(count):
        agent, country, lei = rng.choice(AGENTS)
        currency = "CNY" if country == "CN" or rng.random() < 0.5 else rng.choice(["USD", "EUR"])
        order = Order(
            client_order_id=f"B{i}", amount=rng.choice([rng.randrange(1, 5_000_000),
                                                        rng.randrange(1, 500_000_000)]),
            currency=currency,
            debtor=Party(account=f"62170000{i % 500:08d}", name="A", agent="102100099996"),
            creditor=Party(account="6222000000000009", name="B", agent=agent, country=country,
                           lei=lei),
            urgency=rng.choice(["normal", "urgent"]))
        now = start + timedelta(seconds=rng.randrange(365 * 86_400))
        state = RoutingState(success_ppm={"BEPS": rng.randrange(900_000, 1_000_001)},
                             unavailable=frozenset(rng.sample(["IBPS", "CIPS"], rng.randrange(2))))
        cases.append((order, now, state))
    return cases


def kernel_cases(router: Router, orders: list[tuple[Order, datetime, RoutingState]]
                 ) -> list[KernelCase]:
    out = []
    for order, now, state in orders:
        inputs = router.kernel_inputs(order, now, state)
        if inputs is not None:
            out.append(inputs)
    return out


def run_kernel(table: Any, cases: list[KernelCase], out: array[int]) -> int:
    """Decide every case; return the sum of chosen index + 1, a checksum both twins must share."""
    decide = table.decide
    check = 0
    for args, state in cases:
        check += decide(*args, state, out)[0] + 1
    return check


def run_router(router: Router, orders: list[tuple[Order, datetime, RoutingState]]) -> int:
    return sum(router.decide(o, t, s).channel is not None for o, t, s in orders)


def run_recorded(router: Router, orders: list[tuple[Order, datetime, RoutingState]]) -> int:
    """Decide, then render the head line and encode the record, as the engine stores them."""
    check = 0
    for o, t, s in orders:
        decision = router.decide(o, t, s)
        check += len(decision.head) + len(decision.encode())
    return check


def cold(kernel: ModuleType, orders: list[tuple[Order, datetime, RoutingState]]) -> float:
    """Decisions per second of a new router's first run: windows computed, not kept."""
    router = Router.from_toml(kernel=kernel)
    t0 = time.perf_counter()
    run_router(router, orders)
    return len(orders) / (time.perf_counter() - t0)


def measure(run: Callable[[], int], count: int, seconds: float) -> tuple[float, int]:
    """Best-of-runs decisions per second within roughly ``seconds``; and the run's checksum."""
    best = float("inf")
    deadline = time.perf_counter() + seconds
    runs = 0
    check = -1
    while runs < 3 or time.perf_counter() < deadline:
        t0 = time.perf_counter()
        got = run()
        best = min(best, time.perf_counter() - t0)
        if check not in (-1, got):
            raise AssertionError("a rerun decided differently")
        check = got
        runs += 1
    return count / best, check


def implementations() -> dict[str, ModuleType | None]:
    try:
        compiled: ModuleType | None = importlib.import_module("fastpath._route")
    except ImportError:
        compiled = None
    return {"cython": compiled, "pure": _route_py}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.routing", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    parser.add_argument("--orders", type=int, default=5000, help="random orders per run")
    args = parser.parse_args(argv)

    orders = random_orders(args.orders)
    result: dict[str, Any] = {"benchmark": "routing", "python": sys.version.split()[0]}
    checks = {}
    for name, impl in implementations().items():
        if impl is None:
            for key in ("{}_decisions_per_s", "router_{}_decisions_per_s",
                        "router_{}_cold_decisions_per_s", "router_{}_recorded_decisions_per_s"):
                result[key.format(name)] = None
            continue
        router = Router.from_toml(kernel=impl)
        cases = kernel_cases(router, orders)
        out = array("q", bytes(8 * router.table.size * _route_py.OUT_FIELDS))
        rate, checks[name] = measure(functools.partial(run_kernel, router.table, cases, out),
                                     len(cases), args.seconds)
        result[f"{name}_decisions_per_s"] = rate
        result[f"router_{name}_cold_decisions_per_s"] = cold(impl, orders)
        result[f"router_{name}_decisions_per_s"] = measure(
            functools.partial(run_router, router, orders), len(orders), args.seconds)[0]
        result[f"router_{name}_recorded_decisions_per_s"] = measure(
            functools.partial(run_recorded, router, orders), len(orders), args.seconds)[0]
        result["kernel_cases"] = len(cases)
    if len(set(checks.values())) > 1:
        raise AssertionError(f"the twins chose different channels: checksums {checks}")
    c, p = result["cython_decisions_per_s"], result["pure_decisions_per_s"]
    result["speedup"] = c / p if c and p else None
    result["checksum"] = checks.get("pure")

    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    if c is None:
        print("fastpath._route is not built: pure twin only (python setup.py build_ext --inplace)")
    for key in ("cython_decisions_per_s", "pure_decisions_per_s",
                "router_cython_decisions_per_s", "router_pure_decisions_per_s",
                "router_cython_cold_decisions_per_s", "router_pure_cold_decisions_per_s",
                "router_cython_recorded_decisions_per_s", "router_pure_recorded_decisions_per_s"):
        if result[key] is not None:
            print(f"{key:<40} {result[key]:>14,.0f}")
    if result["speedup"] is not None:
        print(f"kernel speed-up cython/pure: {result['speedup']:.1f}x")
    r, p = result["router_cython_decisions_per_s"], result["router_pure_decisions_per_s"]
    if r is not None:
        print(f"Router.decide speed-up with the cython kernel: {r / p:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
