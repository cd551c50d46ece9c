"""Liveness and readiness of a running switch, as operators and load balancers ask for them.

Live: the process answers and its payment engine is running. Ready: it can take money now:
the store answers, the accounting worker is not too far behind (outbox lag under the bound), and
for every currency the switch routes at least one channel is connected with its circuit closed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from switch.app import SwitchApp

__all__ = ["Check", "HealthReport", "check_health"]

_STORE_TIMEOUT_S = 2.0


class Check(msgspec.Struct, frozen=True):
    name: str
    ok: bool
    detail: str


class HealthReport(msgspec.Struct, frozen=True):
    live: bool
    ready: bool
    checks: tuple[Check, ...]
    figures: dict[str, Any]


async def check_health(app: SwitchApp) -> HealthReport:
    engine = app.engine
    running = engine.running
    checks = [Check("engine", running, "running" if running else "stopped")]
    durability: dict[str, str] = {}
    try:
        version = await asyncio.wait_for(app.store.schema_version(), _STORE_TIMEOUT_S)
        durability = await asyncio.wait_for(app.store.durability(), _STORE_TIMEOUT_S)
        checks.append(Check("store", True, f"schema version {version}"))
    except Exception as exc:  # any failure to answer is "not reachable"
        checks.append(Check("store", False, f"not reachable: {exc!r}"))
    bound = app.config.observability.outbox_lag_bound
    try:
        lag = await asyncio.wait_for(app.poster.lag(), _STORE_TIMEOUT_S)
        checks.append(Check("outbox_lag", lag <= bound, f"{lag} events behind (bound {bound})"))
    except Exception as exc:
        lag = -1
        checks.append(Check("outbox_lag", False, f"unknown: {exc!r}"))
    now = engine.clock.now()
    catalogue = engine.router.catalogue
    open_channels = {name for name, adapter in engine.adapters.items()
                     if adapter.connected and engine.breakers[name].allows(now)}
    for currency in sorted({c for spec in catalogue.channels.values() for c in spec.currencies}):
        serving = sorted(name for name, spec in catalogue.channels.items()
                         if currency in spec.currencies and name in open_channels)
        checks.append(Check(f"channels_{currency}", bool(serving),
                            ", ".join(serving) if serving else "no channel open"))
    pending: dict[str, int] = {}
    for p in engine.live_payments():
        pending[p.state] = pending.get(p.state, 0) + 1
    figures = {
        "outbox_lag": lag,
        "pending_by_state": dict(sorted(pending.items())),
        "sessions": sum(len(s) for s in app.server.sessions.values()),
        "channels": {name: {"connected": adapter.connected,
                            "circuit": engine.breakers[name].state(now)}
                     for name, adapter in sorted(engine.adapters.items())},
        "commits": engine.stats.commits,
        "durability": durability,
    }
    return HealthReport(live=running, ready=all(c.ok for c in checks), checks=tuple(checks),
                        figures=figures)
