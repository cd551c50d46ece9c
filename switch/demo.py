"""`payswitch demo`: six channel simulators, the switch and a day's mix of orders, then a summary.

The simulators run in one child process (the switch's other core), the switch and the load in
this one. Both read one business clock: a working Monday at 10:00 in Shanghai, moving at wall
speed from the moment the demo starts, so every channel is open whatever day it is run on.
With ``--faults chaos`` every simulator misbehaves (simulators/chaos.toml); the demo still ends
with every order final, nothing settled twice and the ledger equal to each channel's books.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from accounting.poster import check_ledger
from adapters import adapter_class
from bench.loadgen import CLOSED_ACCOUNTS, LoadResult, channel_mix, drive, percentile
from routing import load_catalogue
from routing.catalogue import Catalogue
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.clock import ShiftedClock
from switch.config import ClientConfig, ServerConfig, SwitchConfig, default_store_url
from switch.order import Order
from switch.store import redacted

DEMO_CLIENT = "DEMO-CORE"
# A working Monday (China's 2026 calendar), mid-morning: HVPS, CIPS and SWIFT are open; BEPS
# nets every minute on the minute, so its first session comes 20 s into the run.
DEMO_DAY = datetime(2026, 3, 2, 10, 0, 40, tzinfo=ZoneInfo("Asia/Shanghai"))
# The simulators as the demo wants them: closed creditor accounts, a netting session every
# minute instead of every 30 (a demo should not wait half an hour), instant gpi hops.
_FARM_CONFIG = f"""
[ibps]
closed_accounts = {json.dumps(list(CLOSED_ACCOUNTS))}
[hvps]
closed_accounts = {json.dumps(list(CLOSED_ACCOUNTS))}
[beps]
closed_accounts = {json.dumps(list(CLOSED_ACCOUNTS))}
session_minutes = 1
"""
# Channel links: deadlines short enough for a demo, long enough for a loaded laptop.
_LINKS: dict[str, dict[str, Any]] = {
    "ibps": {"reply_timeout_s": 5.0}, "hvps": {"reply_timeout_s": 5.0},
    # a receipt lost in its session (every minute here) is inquired, not awaited until T+1
    "beps": {"reply_timeout_s": 5.0, "package_wait_s": 0.5, "pending_timeout_s": 75.0},
    "unionpay": {"reply_timeout_s": 5.0}, "cips": {"reply_timeout_s": 5.0},
    "swift": {"reply_timeout_s": 5.0},
}


@contextlib.asynccontextmanager
async def simulator_farm(seed: int, faults: str | None, clock: ShiftedClock
                         ) -> AsyncIterator[dict[str, int]]:
    """Every channel simulator in one child process; yields channel key -> port."""
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(_FARM_CONFIG)
        config_path = f.name
    args = ["-m", "switch.cli", "simulate", "all", "--seed", str(seed), "--config", config_path,
            "--clock", clock.spec()]
    if faults:
        args += ["--faults", faults]
    proc = await asyncio.create_subprocess_exec(sys.executable, *args,
                                                stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        ports: dict[str, int] = {}
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            if line.startswith("READY"):
                break
            if not line.startswith("LISTENING "):
                raise RuntimeError(f"simulators did not start: {line!r}")
            _, key, address = line.split()
            ports[key] = int(address.rsplit(":", 1)[1])
        yield ports
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
        os.unlink(config_path)


def _demo_catalogue() -> Catalogue:
    """The shipped catalogue, with merchant settlement batched every minute by IBPS (a demo
    should not wait for a ten-minute window and a netting session after it)."""
    cat = load_catalogue()
    profiles = tuple(msgspec.structs.replace(p, every_minutes=1, channel="IBPS")
                     if p.name == "T0-merchant-settlement" else p for p in cat.batching)
    return msgspec.structs.replace(cat, batching=profiles)


def demo_store_url() -> str:
    """A fresh demo.db beside the default store, so each demo starts from empty books."""
    path = Path(default_store_url().removeprefix("sqlite://")).with_name("demo.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite://{path}"


async def run_demo(
    *, orders: int, seed: int, store_url: str | None, as_json: bool, window: int,
    faults: str | None = None,
) -> int:
    secret = secrets.token_hex(16)
    clock = ShiftedClock(DEMO_DAY, anchor=time.time())
    async with simulator_farm(seed, faults, clock) as ports:
        channels = {key: adapter_class(key).Config(port=port, **_LINKS.get(key, {}))
                    for key, port in ports.items()}
        config = SwitchConfig(server=ServerConfig(port=0, window=window),
                              clients={DEMO_CLIENT: ClientConfig(secret=secret)},
                              channels=channels)
        app = SwitchApp(config, store_url=store_url or demo_store_url(), clock=clock,
                        catalogue=_demo_catalogue())
        port = await app.start(port=0)
        try:
            client = await SwitchClient.connect("127.0.0.1", port, DEMO_CLIENT, secret)
            run_id = f"R{int(time.time())}"
            batch = channel_mix(orders, seed, run=run_id)
            result = await _drive_with_progress(client, batch, window, quiet=as_json)
            await client.close()
            books = await _ledger_settled(app)
            channel_books = await _channel_books(app, ports)
            summary = _summary(result, batch, books, channel_books, redacted(app.store.url),
                               faults)
            summary.update(await _batches(app))
        finally:
            await app.stop()
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        _print_table(summary)
    ok = (summary["final"] == orders and summary["ledger_balanced"]
          and summary["books_match_channels"] and summary["channel_duplicates"] == 0)
    return 0 if ok else 1


async def _drive_with_progress(
    client: SwitchClient, batch: list[Order], window: int, *, quiet: bool
) -> LoadResult:
    if quiet:
        return await drive(client, batch, window=window)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress("[bold]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=False) as progress:
        acked = progress.add_task("acknowledged", total=len(batch))
        final = progress.add_task("final", total=len(batch))

        async def watch() -> None:
            while True:
                progress.update(acked, completed=client.acks_received)
                progress.update(final, completed=client.finals_received)
                await asyncio.sleep(0.1)

        watcher = asyncio.get_running_loop().create_task(watch())
        try:
            result = await drive(client, batch, window=window)
        finally:
            watcher.cancel()
        progress.update(acked, completed=len(result.acks))
        progress.update(final, completed=len(result.finals))
    return result


async def _ledger_settled(app: SwitchApp) -> dict[str, object]:
    """Wait (bounded) until the books hold the whole outbox; then what they say."""
    deadline = time.monotonic() + 60
    while await app.poster.lag() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    ledger = app.poster.ledger
    check = await check_ledger(ledger)
    balances = await ledger.balances()
    fee_income = {ccy: -sum(b.net for b in balances
                            if b.account.startswith("fee-income:") and b.currency == ccy)
                  for ccy in sorted({b.currency for b in balances})}
    vat = {ccy: -sum(b.net for b in balances if b.account == "vat-payable" and b.currency == ccy)
           for ccy in sorted({b.currency for b in balances})}
    clearing: dict[str, dict[str, int]] = {}
    for b in balances:
        if b.account.startswith("clearing:") and b.net:
            clearing.setdefault(b.account.removeprefix("clearing:"), {})[b.currency] = -b.net
    return {
        "ledger_balanced": check.balanced,
        "trial_balance": {ccy: {"debits": d, "credits": c}
                          for ccy, (d, c) in check.per_currency.items()},
        "fee_income_net": {c: v for c, v in fee_income.items() if v},
        "vat_payable": {c: v for c, v in vat.items() if v},
        "ledger_outflow": clearing,
        "outbox_lag": await app.poster.lag(),
    }


async def _channel_books(app: SwitchApp, ports: dict[str, int]) -> dict[str, dict[str, Any]]:
    """What each simulator's own books say settled, and how often an item arrived twice."""
    from simulators.link import admin_request

    out = {}
    for key, port in ports.items():
        books = await admin_request("127.0.0.1", port, {"op": "books"})
        channel = adapter_class(key).channel
        out[channel] = {"settled": books["settled_by_currency"],
                        "duplicates": books["duplicates"]}
    return out


async def _batches(app: SwitchApp) -> dict[str, int]:
    """What batching did: batches settled, their members, the fees saved by sending each
    batch as one payment (from the fee schedules: members alone minus the batch's one fee)."""
    settled = await app.store.batches(["SETTLED"])
    return {"batches": len(settled), "batched_members": sum(b.members for b in settled),
            "batching_fee_saved": sum(b.fee_alone - b.fee for b in settled)}


def _summary(result: LoadResult, batch: list[Order], books: dict[str, Any],
             channel_books: dict[str, dict[str, Any]], store: str,
             faults: str | None) -> dict[str, Any]:
    orders = len(batch)
    amounts = {o.client_order_id: (o.amount, o.currency) for o in batch}
    finals = result.finals.values()
    by_state = Counter(s.state for s in finals)
    by_channel = Counter(s.channel or "none" for s in finals)
    reasons = Counter(s.reason for s in finals if s.reason)
    settled: dict[str, int] = {}
    fees: dict[str, int] = {}
    for s in finals:
        if s.state == "SETTLED":
            amount, ccy = amounts[s.client_order_id]
            settled[ccy] = settled.get(ccy, 0) + amount
            fees[ccy] = fees.get(ccy, 0) + s.fee
    outflow = books["ledger_outflow"]
    per_channel = {
        channel: {"channel_settled": cb["settled"], "ledger_outflow": outflow.get(channel, {}),
                  "equal": {c: v for c, v in cb["settled"].items() if v}
                  == outflow.get(channel, {}),
                  "duplicates": cb["duplicates"]}
        for channel, cb in sorted(channel_books.items())}
    return {
        "orders": orders,
        "acknowledged": len(result.acks),
        "final": len(result.finals),
        "faults": faults or "none",
        "by_state": dict(sorted(by_state.items())),
        "by_channel": dict(sorted(by_channel.items())),
        "reject_reasons": dict(sorted(reasons.items())),
        "settled_amount": dict(sorted(settled.items())),
        "fees": dict(sorted(fees.items())),
        **books,
        "channels": per_channel,
        "books_match_channels": all(c["equal"] for c in per_channel.values()),
        "channel_duplicates": sum(c["duplicates"] for c in per_channel.values()),
        "errors": result.errors[:10],
        "seconds": round(result.seconds, 3),
        "ack_seconds": round(result.ack_seconds, 3),
        # intake: orders durably accepted and acknowledged per second of the sending phase
        "orders_per_s": round(len(result.acks) / result.ack_seconds, 1)
        if result.ack_seconds else 0.0,
        "ack_p50_ms": round(percentile(result.ack_latency_ms, 50), 3),
        "ack_p99_ms": round(percentile(result.ack_latency_ms, 99), 3),
        "store": store,
    }


def _print_table(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"payswitch demo (faults: {summary['faults']})", show_header=True,
                  header_style="bold")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in ("orders", "acknowledged", "final"):
        table.add_row(key, f"{summary[key]:,}")
    for key in ("by_state", "by_channel", "reject_reasons"):
        for name, count in summary[key].items():
            table.add_row(f"{key.replace('_', ' ')}: {name}", f"{count:,}")
    for ccy, amount in summary["settled_amount"].items():
        table.add_row(f"settled amount ({ccy})", _major(amount))
    for ccy, amount in summary["fees"].items():
        table.add_row(f"fees charged ({ccy})", _major(amount))
        table.add_row(f"  ledger: fee income, net ({ccy})",
                      _major(summary["fee_income_net"].get(ccy, 0)))
        table.add_row(f"  ledger: VAT payable ({ccy})", _major(summary["vat_payable"].get(ccy, 0)))
    for ccy, sides in summary["trial_balance"].items():
        table.add_row(f"trial balance {ccy}: debits = credits",
                      f"{_major(sides['debits'])} = {_major(sides['credits'])}")
    table.add_row("ledger balanced", "yes" if summary["ledger_balanced"] else "NO")
    for channel, figures in summary["channels"].items():
        money = ", ".join(f"{c} {_major(v)}" for c, v in figures["channel_settled"].items() if v)
        verdict = "= ledger" if figures["equal"] else "[red]!= ledger[/red]"
        table.add_row(f"{channel} books: settled", f"{money or '0'} {verdict}")
    table.add_row("items that reached a channel twice", str(summary["channel_duplicates"]))
    table.add_row("batches settled / members", f"{summary['batches']:,} / "
                  f"{summary['batched_members']:,}")
    table.add_row("fee saved by batching (CNY)", _major(summary["batching_fee_saved"]))
    table.add_row("orders acknowledged/s", f"{summary['orders_per_s']:,}")
    table.add_row("seconds until every order was final", f"{summary['seconds']:,}")
    latency = f"{summary['ack_p50_ms']} / {summary['ack_p99_ms']}"
    table.add_row("ack latency p50 / p99 (ms)", latency)
    table.add_row("store", str(summary["store"]))
    console.print(table)
    for err in summary["errors"]:
        console.print(f"[red]error[/red] {err}")


def _major(minor: int) -> str:
    """Minor units as major units for people to read (every demo currency has two decimals).

    >>> _major(123456), _major(-5)
    ('1,234.56', '-0.05')
    """
    sign, minor = ("-", -minor) if minor < 0 else ("", minor)
    return f"{sign}{minor // 100:,}.{minor % 100:02d}"
