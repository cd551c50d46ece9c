"""`payswitch demo`: the IBPS simulator, the switch and a load of orders, ending in a summary."""

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
from pathlib import Path

from accounting.poster import check_ledger
from adapters.ibps import IbpsLinkConfig
from bench.loadgen import CLOSED_ACCOUNTS, LoadResult, drive, order_mix, percentile
from switch.app import SwitchApp
from switch.client import SwitchClient
from switch.config import ClientConfig, ServerConfig, SwitchConfig, default_store_url
from switch.order import Order
from switch.store import redacted

DEMO_CLIENT = "DEMO-CORE"


@contextlib.asynccontextmanager
async def simulator_process(seed: int) -> AsyncIterator[int]:
    """An IBPS simulator in a child process (the switch's other core); yields its port."""
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(f"closed_accounts = {json.dumps(list(CLOSED_ACCOUNTS))}\n")
        config_path = f.name
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "switch.cli", "simulate", "IBPS", "--port", "0",
        "--seed", str(seed), "--config", config_path,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"simulator did not start: {line!r}")
        yield int(line.rsplit(":", 1)[1])
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
        os.unlink(config_path)


def demo_store_url() -> str:
    """A fresh demo.db beside the default store, so each demo starts from empty books."""
    path = Path(default_store_url().removeprefix("sqlite://")).with_name("demo.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite://{path}"


async def run_demo(
    *, orders: int, seed: int, store_url: str | None, as_json: bool, window: int
) -> int:
    secret = secrets.token_hex(16)
    async with simulator_process(seed) as sim_port:
        config = SwitchConfig(
            server=ServerConfig(port=0, window=window),
            clients={DEMO_CLIENT: ClientConfig(secret=secret)},
            channels={"ibps": IbpsLinkConfig(port=sim_port, reply_timeout_s=20)},
        )
        app = SwitchApp(config, store_url=store_url or demo_store_url())
        port = await app.start(port=0)
        try:
            client = await SwitchClient.connect("127.0.0.1", port, DEMO_CLIENT, secret)
            run_id = f"R{int(time.time())}"
            batch = order_mix(orders, seed, run=run_id)
            result = await _drive_with_progress(client, batch, window, quiet=as_json)
            await client.close()
            books = await _ledger_settled(app)
            amounts = {o.client_order_id: o.amount for o in batch}
            summary = _summary(result, amounts, books, redacted(app.store.url))
        finally:
            await app.stop()
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        _print_table(summary)
    ok = summary["final"] == orders and summary["ledger_balanced"]
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
    fee_income = -sum(b.net for b in balances if b.account.startswith("fee-income:"))
    vat = -sum(b.net for b in balances if b.account == "vat-payable")
    return {
        "ledger_balanced": check.balanced,
        "trial_balance": {ccy: {"debits": d, "credits": c}
                          for ccy, (d, c) in check.per_currency.items()},
        "fee_income_net_fen": fee_income,
        "vat_payable_fen": vat,
        "outbox_lag": await app.poster.lag(),
    }


def _summary(
    result: LoadResult, amounts: dict[str, int], books: dict[str, object], store: str
) -> dict[str, object]:
    orders = len(amounts)
    finals = result.finals.values()
    by_state = Counter(s.state for s in finals)
    by_channel = Counter(s.channel or "none" for s in finals)
    reasons = Counter(s.reason for s in finals if s.reason)
    settled = [s for s in finals if s.state == "SETTLED"]
    return {
        "orders": orders,
        "acknowledged": len(result.acks),
        "final": len(result.finals),
        "by_state": dict(sorted(by_state.items())),
        "by_channel": dict(sorted(by_channel.items())),
        "reject_reasons": dict(sorted(reasons.items())),
        "settled_amount_fen": sum(amounts[s.client_order_id] for s in settled),
        "fees_fen": sum(s.fee for s in settled),
        **books,
        "errors": result.errors[:10],
        "seconds": round(result.seconds, 3),
        "orders_per_s": round(orders / result.seconds, 1) if result.seconds else 0.0,
        "ack_p50_ms": round(percentile(result.ack_latency_ms, 50), 3),
        "ack_p99_ms": round(percentile(result.ack_latency_ms, 99), 3),
        "store": store,
    }


def _print_table(summary: dict[str, object]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="payswitch demo", show_header=True, header_style="bold")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in ("orders", "acknowledged", "final"):
        table.add_row(key, f"{summary[key]:,}")
    for key in ("by_state", "by_channel", "reject_reasons"):
        for name, count in summary[key].items():  # type: ignore[attr-defined]
            table.add_row(f"{key.replace('_', ' ')}: {name}", f"{count:,}")
    table.add_row("settled amount (CNY)", _yuan(summary["settled_amount_fen"]))  # type: ignore[arg-type]
    table.add_row("fees charged (CNY)", _yuan(summary["fees_fen"]))  # type: ignore[arg-type]
    table.add_row("  ledger: fee income, net (CNY)",
                  _yuan(summary["fee_income_net_fen"]))  # type: ignore[arg-type]
    table.add_row("  ledger: VAT payable (CNY)",
                  _yuan(summary["vat_payable_fen"]))  # type: ignore[arg-type]
    for ccy, sides in summary["trial_balance"].items():  # type: ignore[attr-defined]
        table.add_row(f"trial balance {ccy}: debits = credits",
                      f"{_yuan(sides['debits'])} = {_yuan(sides['credits'])}")
    table.add_row("ledger balanced", "yes" if summary["ledger_balanced"] else "NO")
    table.add_row("orders/s", f"{summary['orders_per_s']:,}")
    latency = f"{summary['ack_p50_ms']} / {summary['ack_p99_ms']}"
    table.add_row("ack latency p50 / p99 (ms)", latency)
    table.add_row("store", str(summary["store"]))
    console.print(table)
    for err in summary["errors"]:  # type: ignore[attr-defined]
        console.print(f"[red]error[/red] {err}")


def _yuan(fen: int) -> str:
    """Fen as yuan for people to read.

    >>> _yuan(123456)
    '1,234.56'
    """
    return f"{fen // 100:,}.{fen % 100:02d}"
