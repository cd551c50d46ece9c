"""Route savings: the engine's fees on the demo's orders next to "always HVPS" and "always IBPS".

    python -m bench.route_savings [--orders N] [--seed S] [--at ISO-8601] [--json]

The orders are ``bench.loadgen.order_mix(N, S)``, the demo's load (defaults 10,000 and seed 1,
as ``payswitch demo``). Each order goes through intake validation, as in the switch
(``switch.validation.validate_order``; a refused order is never routed), then ``Router.decide``
three times at the same instant: over the whole catalogue (the engine's choice), and designated
to HVPS and to IBPS (``msgspec.structs.replace(order, designated_channel=...)``). Nothing is
computed by hand: every fee is the ``RouteDecision.fee`` the router returns.

Like the engine (``switch/engine.py``), each decision starts from an empty ``RoutingState``:
caps are not consumed between orders. ``caps_exceeded`` counts the decisions that would have
gone over a channel or debtor daily cap had they been consumed in order; 0 means that makes no
difference on this mix.

Savings compare the orders BOTH strategies carry (routed or scheduled): always-IBPS rejects
the orders above its per-item cap, which the engine sends to HVPS; those are left out of the
comparison with IBPS, not counted as savings. Money is integer fen throughout.

``engine_decisions_per_s`` times the full-catalogue ``Router.decide`` calls of this run
(screening, calendars, kernel and explanation), with the kernel ``fastpath.route`` selected.

>>> from bench.loadgen import order_mix
>>> routes = route_orders(order_mix(20, 1), DEFAULT_AT)
>>> report = summarise(routes)
>>> e = report["engine"]
>>> e["routed"] + e["scheduled"] + e["rejected"] == report["orders"] == 20
True
>>> yuan(123_456), yuan(-5)
('1234.56', '-0.05')
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from bench.loadgen import CLOSED_ACCOUNTS, order_mix
from fastpath.route import IMPLEMENTATION
from routing.router import RouteDecision, Router
from switch.order import Order
from switch.validation import Invalid, validate_order

__all__ = [
    "DEFAULT_AT",
    "STRATEGIES",
    "OrderRoutes",
    "Routes",
    "compare",
    "main",
    "parse_at",
    "route_orders",
    "summarise",
    "tally",
    "yuan",
]

DEFAULT_AT = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a working Monday
STRATEGIES = ("engine", "always_hvps", "always_ibps")
DESIGNATED = {"always_hvps": "HVPS", "always_ibps": "IBPS"}
INTAKE = "intake"  # RouteDecision.rule of an order refused at intake, before any routing


class OrderRoutes(msgspec.Struct, frozen=True):
    """One order and the decision of each strategy for it (the same refusal if intake failed)."""

    order: Order
    engine: RouteDecision
    always_hvps: RouteDecision
    always_ibps: RouteDecision

    def decision(self, strategy: str) -> RouteDecision:
        decision: RouteDecision = getattr(self, strategy)
        return decision


class Routes(msgspec.Struct, frozen=True):
    """Per-order decisions of one run, the time it was decided at and the decisions' timing."""

    at: datetime
    rows: tuple[OrderRoutes, ...]
    seconds: dict[str, float]  # strategy -> seconds spent in Router.decide
    decided: dict[str, int]  # strategy -> Router.decide calls (orders past intake)
    router: Router


def carried(decision: RouteDecision) -> bool:
    """Routed now or scheduled for a later window: a channel takes it and charges the fee."""
    return decision.channel is not None


def route_orders(orders: Sequence[Order], at: datetime, router: Router | None = None) -> Routes:
    """Decide every order with each strategy at ``at``; the per-order decisions and timings."""
    router = router or Router.from_toml()
    refused: dict[int, RouteDecision] = {}
    valid: list[tuple[int, Order]] = []
    for i, order in enumerate(orders):
        try:
            validate_order(order)
        except Invalid as exc:
            refused[i] = RouteDecision.refused(exc.code, f"refused at intake: {exc}", INTAKE)
        else:
            valid.append((i, order))
    decisions: dict[str, dict[int, RouteDecision]] = {}
    seconds: dict[str, float] = {}
    for strategy in STRATEGIES:
        channel = DESIGNATED.get(strategy)
        batch = valid if channel is None else [
            (i, msgspec.structs.replace(o, designated_channel=channel)) for i, o in valid]
        decide = router.decide
        t0 = time.perf_counter()
        out = {i: decide(o, at) for i, o in batch}
        seconds[strategy] = time.perf_counter() - t0
        decisions[strategy] = out | refused
    rows = tuple(OrderRoutes(order, *(decisions[s][i] for s in STRATEGIES))
                 for i, order in enumerate(orders))
    return Routes(at=at, rows=rows, seconds=seconds,
                  decided={s: len(valid) for s in STRATEGIES}, router=router)


def yuan(fen: int) -> str:
    """Integer fen as a yuan string with two decimals, no float on the way."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def tally(decisions: Sequence[RouteDecision]) -> dict[str, Any]:
    """Counts, fees, channel mix and reject reasons of one strategy's decisions."""
    routed = sum(1 for d in decisions if carried(d) and d.scheduled_for is None)
    scheduled = sum(1 for d in decisions if carried(d) and d.scheduled_for is not None)
    fees = sum(d.fee for d in decisions if carried(d))
    by_channel = dict(Counter(d.channel for d in decisions if d.channel is not None)
                      .most_common())
    reasons = Counter(d.reason or "?" for d in decisions if not carried(d))
    return {
        "routed": routed,
        "scheduled": scheduled,
        "rejected": len(decisions) - routed - scheduled,
        "fees_fen": fees,
        "fees_yuan": yuan(fees),
        "by_channel": by_channel,
        "fees_by_channel_fen": {ch: sum(d.fee for d in decisions if d.channel == ch)
                                for ch in by_channel},
        "reject_reasons": dict(sorted(reasons.items())),
        "rejected_at_intake": sum(1 for d in decisions if d.rule == INTAKE),
    }


def compare(routes: Routes, other: str) -> dict[str, int]:
    """Engine against ``other`` over the orders both carry: counts and fees in fen."""
    both = [r for r in routes.rows if carried(r.engine) and carried(r.decision(other))]
    engine = sum(r.engine.fee for r in both)
    theirs = sum(r.decision(other).fee for r in both)
    return {"orders": len(both), "engine_fees_fen": engine, f"{other}_fees_fen": theirs,
            "saved_fen": theirs - engine}


def caps_exceeded(routes: Routes, strategy: str) -> int:
    """Decisions that would go over a daily cap if each carried order consumed its amount."""
    channels = routes.router.catalogue.channels
    used: Counter[tuple[str, date | None]] = Counter()
    debtor_used: Counter[tuple[str, str, date | None]] = Counter()
    over = 0
    for row in routes.rows:
        d = row.decision(strategy)
        if d.channel is None:
            continue
        spec = channels[d.channel]
        key = (d.channel, d.business_date)
        dkey = (d.channel, row.order.debtor.account, d.business_date)
        used[key] += row.order.amount
        debtor_used[dkey] += row.order.amount
        if ((spec.daily_cap is not None and used[key] > spec.daily_cap)
                or (spec.debtor_daily_cap is not None
                    and debtor_used[dkey] > spec.debtor_daily_cap)):
            over += 1
    return over


def summarise(routes: Routes) -> dict[str, Any]:
    """The report: one tally per strategy, the savings and the engine's decision rate."""
    report: dict[str, Any] = {
        "orders": len(routes.rows),
        "at": routes.at.isoformat(),
    }
    for strategy in STRATEGIES:
        report[strategy] = tally([r.decision(strategy) for r in routes.rows])
        report[strategy]["caps_exceeded"] = caps_exceeded(routes, strategy)
    for strategy, short in (("always_hvps", "hvps"), ("always_ibps", "ibps")):
        c = compare(routes, strategy)
        report[f"saved_vs_{short}_fen"] = c["saved_fen"]
        report[f"saved_vs_{short}_yuan"] = yuan(c["saved_fen"])
        report[f"compared_orders_vs_{short}"] = c["orders"]
        report[f"comparison_vs_{short}"] = c
    report["comparison_set"] = (
        "savings are over the orders carried (routed or scheduled) by BOTH the engine and the "
        "always-X strategy; orders either one rejects (intake refusals, IBPS per-item cap) are "
        "left out")
    report["closed_account_orders"] = sum(
        1 for r in routes.rows
        if r.order.creditor.account in CLOSED_ACCOUNTS and carried(r.engine))
    seconds = routes.seconds["engine"]
    decided = routes.decided["engine"]
    report["engine_decisions"] = decided
    report["engine_seconds"] = round(seconds, 6)
    report["engine_decisions_per_s"] = round(decided / seconds) if seconds > 0 else None
    report["kernel"] = IMPLEMENTATION
    return report


def parse_at(text: str, timezone: str = "Asia/Shanghai") -> datetime:
    """An ISO 8601 time; without an offset it is read in ``timezone`` (the catalogue's).

    >>> parse_at("2026-03-02T10:00").isoformat()
    '2026-03-02T10:00:00+08:00'
    """
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo(timezone))


def _print_table(report: dict[str, Any]) -> None:
    print(f"{report['orders']:,} demo orders (bench.loadgen.order_mix, seed "
          f"{report['seed']}) decided at {report['at']}, kernel {report['kernel']}")
    head = f"{'':<22}{'engine':>16}{'always HVPS':>16}{'always IBPS':>16}"
    print(head)
    rows = (("routed", "routed"), ("scheduled", "scheduled"), ("rejected", "rejected"),
            ("  of which at intake", "rejected_at_intake"), ("fees (fen)", "fees_fen"),
            ("fees (yuan)", "fees_yuan"), ("caps exceeded", "caps_exceeded"))
    for label, key in rows:
        cells = "".join(f"{report[s][key]:>16,}" if isinstance(report[s][key], int)
                        else f"{report[s][key]:>16}" for s in STRATEGIES)
        print(f"{label:<22}{cells}")
    for s in STRATEGIES:
        mix = ", ".join(f"{ch} {n:,} ({report[s]['fees_by_channel_fen'][ch]:,} fen)"
                        for ch, n in report[s]["by_channel"].items())
        why = ", ".join(f"{code} {n:,}" for code, n in report[s]["reject_reasons"].items())
        print(f"{s}: channels {mix or '-'}; rejected {why or '-'}")
    for short, name in (("hvps", "always HVPS"), ("ibps", "always IBPS")):
        c = report[f"comparison_vs_{short}"]
        print(f"saved vs {name}: {c['saved_fen']:,} fen ({yuan(c['saved_fen'])} yuan) over the "
              f"{c['orders']:,} orders both carry: engine {c['engine_fees_fen']:,} fen, "
              f"{name} {c[f'always_{short}_fees_fen']:,} fen")
    print(f"comparison set: {report['comparison_set']}")
    print(f"{report['closed_account_orders']:,} carried orders go to closed accounts: the "
          "receiving bank rejects them (AC04) after routing")
    print(f"engine: {report['engine_decisions']:,} decisions in {report['engine_seconds']:.3f} s"
          f" = {report['engine_decisions_per_s']:,} decisions/s (Router.decide, full catalogue)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.route_savings", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000, help="orders in the mix")
    parser.add_argument("--seed", type=int, default=1, help="seed of the mix")
    parser.add_argument("--at", metavar="ISO-8601", default=DEFAULT_AT.isoformat(),
                        help="decision time; without an offset, the catalogue's time zone "
                             "(default: %(default)s, a working Monday)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.orders < 0:
        parser.error("--orders must not be negative")
    router = Router.from_toml()
    try:
        at = parse_at(args.at, router.catalogue.timezone)
    except ValueError as exc:
        parser.error(f"--at {args.at!r}: {exc}")
    routes = route_orders(order_mix(args.orders, args.seed), at, router)
    report = summarise(routes)
    report["seed"] = args.seed
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        _print_table(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
