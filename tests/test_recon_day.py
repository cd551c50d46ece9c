"""End to end: a chaos day, then `payswitch recon run` per channel finds exactly what the
simulators injected into their statements and what the dropped replies left UNKNOWN; resolving
every break with its suggested action leaves every channel clean and the books balanced."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.recon_day import DAY, Day, chaos_day, sim

ROOT = Path(__file__).resolve().parents[1]


def payswitch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "switch.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def recon(day: Day, key: str) -> tuple[int, dict[str, Any]]:
    proc = payswitch("recon", "run", "--channel", key, "--date", DAY.isoformat(),
                     "--from", f"127.0.0.1:{day.ports[key]}", "--store", day.store_url, "--json")
    assert proc.returncode in (0, 3), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


async def expected_breaks(day: Day, key: str) -> set[tuple[str, str]]:
    """What the channel's own record says reconciliation must find: each injected statement
    difference (as the switch's state lets it show) and each item the channel settled whose
    reply the switch never had."""
    from switch.store import open_store

    store = open_store(day.store_url)
    await store.open()
    try:
        waiting = {p.end_to_end_id for p in await store.payments_in_states(
            ["UNKNOWN", "SUBMITTED"]) if p.channel == day.channels[key]}
    finally:
        await store.close()
    items = {i["end_to_end_id"]: i for i in (await sim(day.ports[key], {"op": "items"}))["items"]}
    out: set[tuple[str, str]] = set()
    injected = (await sim(day.ports[key], {"op": "injected"}))["injected"]
    faulted = {d["end_to_end_id"]: d["kind"] for d in injected}
    for ref, kind in faulted.items():
        if kind == "extra":
            out.add(("long", ref))
        elif ref in waiting:  # the switch has no verdict: an omitted line shows nothing
            if kind == "amount":  # settled at another amount than the switch's
                out |= {("status", ref), ("amount", ref)}
        else:
            out.add(("short" if kind == "omitted" else "amount", ref))
    for ref in waiting:
        item = items.get(ref)
        if item and item["state"] == "SETTLED" and ref not in faulted:
            out.add(("status", ref))
    return out


def test_chaos_day_reconciles_to_exactly_the_injected_breaks(tmp_path: Path) -> None:
    asyncio.run(_chaos_day(f"sqlite://{tmp_path / 'day.db'}"))


async def _chaos_day(store_url: str) -> None:
    from accounting.ledger import open_ledger
    from accounting.recon_store import open_recon_store
    from switch.clock import SystemClock
    from switch.reconcile import resolve_break
    from switch.store import open_store

    async with chaos_day(store_url) as day:
        kinds_seen: set[str] = set()
        for key in day.ports:
            code, report = await asyncio.to_thread(recon, day, key)
            found = {(b["kind"], b["reference"]) for b in report["breaks"]}
            assert found == await expected_breaks(day, key), key
            assert code == (3 if found else 0)
            assert report["items"] > 0 and report["matched"] > 0, key
            kinds_seen |= {k for k, _ in found}
            again_code, again = await asyncio.to_thread(recon, day, key)  # idempotent
            assert again_code == code
            assert [b["break_id"] for b in again["breaks"]] == \
                [b["break_id"] for b in report["breaks"]]
        assert {"long", "short", "amount", "status"} <= kinds_seen

        recon_store, store = open_recon_store(store_url), open_store(store_url)
        ledger = open_ledger(store_url)
        for part in (recon_store, store, ledger):
            await part.open()
        try:
            for b in await recon_store.breaks(status="open"):
                await resolve_break(recon_store, store, ledger, SystemClock(), b.break_id,
                                    b.suggested, operator="ops-test", reason="chaos day")
            assert not await recon_store.breaks(status="open")
        finally:
            for part in (ledger, store, recon_store):
                await part.close()

        for key in day.ports:
            code, report = await asyncio.to_thread(recon, day, key)
            assert code == 0, (key, report["breaks"])
        tb = await asyncio.to_thread(payswitch, "ledger", "trial-balance", "--store", store_url,
                                     "--json")
        assert tb.returncode == 0, tb.stderr
        totals = json.loads(tb.stdout)["totals"]
        assert totals and all(t["debit"] == t["credit"] for t in totals.values())
