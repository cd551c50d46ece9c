"""The operations day from the command line: `payswitch recon ...`, `positions`, `orders ...`,
`report daily`.

Tables for people, `--json` (one document) or `--csv` for machines. Exit codes: 0 done and
clean, 3 reconciliation found breaks still open, 1 an error (store, channel, refusal), 2 bad
arguments or an unreadable statement, in which case nothing was written.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import msgspec

from accounting.statements import ChannelStatement, StatementError, read_statement

__all__ = ["add_commands"]


class UsageError(Exception):
    """Bad arguments: exit 2, nothing written."""


# -- shared ------------------------------------------------------------------------------------
def _run(body: Callable[[], Awaitable[int]]) -> int:
    from switch.errors import ConfigError
    from switch.store import StoreError

    async def main() -> int:
        return await body()

    try:
        import uvloop

        return int(uvloop.run(main()))
    except UsageError as exc:
        print(f"payswitch: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"payswitch: configuration error: {exc}", file=sys.stderr)
        return 2
    except (StoreError, OSError) as exc:
        print(f"payswitch: store error: {exc}", file=sys.stderr)
        return 1


def _store_url(args: argparse.Namespace) -> str:
    if args.store:
        return str(args.store)
    if getattr(args, "config", None):
        from switch.config import load_config

        url = load_config(args.config).store.url
        if url:
            return url
    from switch.config import default_store_url

    return default_store_url()


def _channel(name: str) -> tuple[str, str]:
    """(configuration key, catalogue name) of a channel given either way, any case."""
    from adapters import ADAPTERS, adapter_class

    for key in ADAPTERS:
        channel = str(adapter_class(key).channel)
        if name.lower() in (key, channel.lower()):
            return key, channel
    raise UsageError(f"--channel {name!r} is not a channel (one of: "
                     f"{', '.join(str(adapter_class(k).channel) for k in ADAPTERS)})")


def _date(text: str, flag: str = "--date") -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not a date (YYYY-MM-DD)") from None


def _json(out: TextIO, value: Any) -> None:
    out.write(msgspec.json.encode(value).decode() + "\n")


def _csv(out: TextIO, columns: list[str], rows: Sequence[Sequence[Any]]) -> None:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(columns)
    w.writerows(rows)


def _table(out: TextIO, title: str, columns: list[str], rows: Sequence[Sequence[Any]],
           *, right_from: int = 99) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for i, c in enumerate(columns):
        table.add_column(c, justify="right" if i >= right_from else "left")
    for r in rows:
        table.add_row(*("" if v is None else f"{v:,}" if isinstance(v, int) and
                        not isinstance(v, bool) else str(v) for v in r))
    Console(file=out, width=200).print(table)


def _output(args: argparse.Namespace, columns: list[str], rows: Sequence[Sequence[Any]],
            title: str, document: Any, *, right_from: int = 99) -> None:
    if args.json:
        _json(sys.stdout, document)
    elif args.csv:
        _csv(sys.stdout, columns, rows)
    else:
        _table(sys.stdout, title, columns, rows, right_from=right_from)


# -- recon -------------------------------------------------------------------------------------
_BREAK_COLUMNS = ["break", "channel", "date", "kind", "reference", "currency", "stated",
                  "expected", "payment", "state", "status", "suggested", "action", "operator"]


def _break_row(b: Any) -> list[Any]:
    return [b.break_id, b.channel, b.business_date, b.kind, b.reference, b.currency, b.stated,
            b.expected, b.payment_id, b.state, b.status, b.suggested, b.action, b.operator]


async def _statement(args: argparse.Namespace, key: str, day: date) -> ChannelStatement:
    """The statement from --statement FILE, or fetched from the channel (--from / --config)."""
    started = time.perf_counter()
    if args.statement:
        try:
            data = Path(args.statement).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read statement {args.statement}: {exc.strerror}") \
                from None
    else:
        data = await _fetch(args, key, day)
    try:
        statement = read_statement(data)
    except StatementError as exc:
        raise UsageError(f"unreadable statement: {exc}") from None
    args.read_seconds = time.perf_counter() - started
    if statement.business_date != day:
        raise UsageError(f"the statement is for {statement.business_date}, not {day}")
    return statement


async def _fetch(args: argparse.Namespace, key: str, day: date) -> bytes:
    from adapters import ChannelError, adapter_class
    from switch.clock import SystemClock
    from switch.config import BankConfig, load_config

    cls = adapter_class(key)
    raw: dict[str, Any] = {}
    bank: Any = BankConfig()
    if args.config:
        config = load_config(args.config)
        raw, bank = dict(config.channels.get(key) or {}), config.bank
    if args.source:
        host, _, port = args.source.rpartition(":")
        if not port.isdigit():
            raise UsageError(f"--from {args.source!r}: HOST:PORT of the channel")
        raw.update(host=host or "127.0.0.1", port=int(port))
    if not args.config and not args.source:
        raise UsageError("no statement: give --statement FILE, or --from HOST:PORT / "
                         "--config FILE to fetch it from the channel")
    adapter = cls.from_config(msgspec.convert(raw, cls.Config), clock=SystemClock(), bank=bank)
    try:
        return bytes((await adapter.fetch_statement(day)).data)
    except (ChannelError, OSError, TimeoutError) as exc:
        raise ChannelUnavailable(f"cannot fetch the {cls.channel} statement: {exc}") from None


class ChannelUnavailable(Exception):
    """The channel's statement service did not answer: exit 1."""


def cmd_recon_run(args: argparse.Namespace) -> int:
    from accounting.recon_store import open_recon_store
    from switch.clock import SystemClock
    from switch.reconcile import run_recon

    async def go() -> int:
        if args.json and args.csv:
            raise UsageError("--json and --csv exclude each other")
        key, channel = _channel(args.channel)
        day = _date(args.date)
        url = _store_url(args)
        try:
            statement = await _statement(args, key, day)
        except ChannelUnavailable as exc:
            print(f"payswitch: {exc}", file=sys.stderr)
            return 1
        recon = open_recon_store(url)
        await recon.open()
        try:
            with _progress(len(statement.items), f"reconciling {channel} {day}") as tick:
                report = await run_recon(recon, channel, statement, SystemClock(), tick=tick,
                                         read_seconds=args.read_seconds)
        finally:
            await recon.close()
        _print_run(args, report)
        return report.exit_code

    return _run(go)


class _NoProgress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _progress(total: int, what: str) -> Any:
    """A progress bar on a terminal (stderr), nothing otherwise."""
    if not sys.stderr.isatty():
        return _NoProgress()
    import contextlib

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    @contextlib.contextmanager
    def bar() -> Any:
        with Progress("[bold]{task.description}", BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=Console(file=sys.stderr)) as p:
            task = p.add_task(what, total=total)
            yield lambda n: p.advance(task, n)

    return bar()


def _print_run(args: argparse.Namespace, report: Any) -> None:
    open_ids = {b.break_id for b in report.open_breaks}
    found = {b.key for b in report.found}
    rows = [_break_row(b) for b in report.breaks if (b.kind, b.reference, b.currency) in found]
    if args.json:
        _json(sys.stdout, {
            "run_id": report.run_id, "channel": report.channel, "date": report.business_date,
            "format": report.statement_format, "items": report.items,
            "matched": report.matched, "breaks": [b for b in report.breaks
                                                  if (b.kind, b.reference, b.currency) in found],
            "open": len(open_ids), "balances": report.balances, "seconds": report.seconds,
            "exit_code": report.exit_code})
        return
    if args.csv:
        _csv(sys.stdout, _BREAK_COLUMNS, rows)
        return
    _table(sys.stdout, f"Reconciliation {report.channel} {report.business_date} "
                       f"(run {report.run_id}, {report.statement_format})", _BREAK_COLUMNS, rows)
    print(f"items {report.items:,}  matched {report.matched:,}  breaks {len(rows):,}  "
          f"open {len(open_ids):,}")
    for ccy, b in report.balances.items():
        closing = (f"statement closing {b['statement_closing']:,} / ledger closing "
                   f"{b['ledger_closing']:,}  " if b["statement_closing"] is not None else "")
        print(f"{ccy}: {closing}movement statement {b['statement_movement']:,} / ledger "
              f"{b['ledger_movement']:,}")
    print("clean" if not open_ids else
          "open breaks: payswitch recon resolve BREAK --action SUGGESTED --reason ... "
          "--operator ...")


def cmd_recon_breaks(args: argparse.Namespace) -> int:
    from accounting.recon_store import open_recon_store

    async def go() -> int:
        if args.json and args.csv:
            raise UsageError("--json and --csv exclude each other")
        channel = _channel(args.channel)[1] if args.channel else None
        day = _date(args.date).isoformat() if args.date else None
        recon = open_recon_store(_store_url(args))
        await recon.open()
        try:
            rows = await recon.breaks(channel=channel, day=day,
                                      status="open" if args.open else None)
        finally:
            await recon.close()
        _output(args, _BREAK_COLUMNS, [_break_row(b) for b in rows],
                "Open breaks" if args.open else "Breaks", rows)
        return 0

    return _run(go)


def cmd_recon_resolve(args: argparse.Namespace) -> int:
    from accounting.cli import _books
    from accounting.ledger import open_ledger
    from accounting.recon import ACTIONS
    from accounting.recon_store import open_recon_store
    from switch.clock import SystemClock
    from switch.reconcile import ResolveError, resolve_break
    from switch.store import open_store

    async def go() -> int:
        if args.action not in ACTIONS:
            raise UsageError(f"--action {args.action!r}: one of {', '.join(ACTIONS)}")
        if not args.operator.strip() or not args.reason.strip():
            raise UsageError("--operator and --reason must not be blank")
        url = _store_url(args)
        recon = open_recon_store(url)
        store = open_store(url)
        ledger = open_ledger(url, _books(args.books))
        await recon.open()
        await store.open()
        await ledger.open()
        try:
            done = await resolve_break(recon, store, ledger, SystemClock(), args.break_id,
                                       args.action, operator=args.operator, reason=args.reason)
        except ResolveError as exc:
            print(f"payswitch: {exc}", file=sys.stderr)
            return exc.exit_code
        finally:
            await ledger.close()
            await store.close()
            await recon.close()
        if args.json:
            _json(sys.stdout, done)
        else:
            print(f"break {done['break_id']} resolved: " + ", ".join(
                f"{k} {v}" for k, v in done.items() if k not in ("break_id", "status") and v))
        return 0

    return _run(go)


def add_commands(sub: Any) -> None:
    """Mount `recon`, `positions`, `orders` and `report` on the switch's subparsers."""
    def common(p: argparse.ArgumentParser, *, csv_too: bool = True) -> None:
        p.add_argument("--store", help="store URL (default: --config's, else the embedded one)")
        p.add_argument("--config", help="the switch's TOML configuration")
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")
        if csv_too:
            p.add_argument("--csv", action="store_true", help="print CSV instead of a table")

    recon = sub.add_parser("recon", help="reconcile channel statements; list and resolve breaks")
    rsub = recon.add_subparsers(dest="recon_command", required=True)
    run = rsub.add_parser("run", help="match a channel's statement for a day (exit 3: breaks)")
    run.add_argument("--channel", required=True, help="IBPS, HVPS, BEPS, UnionPay, CIPS, SWIFT")
    run.add_argument("--date", required=True, help="the business day, YYYY-MM-DD")
    run.add_argument("--statement", help="statement file (camt.053, MT950, UnionPay "
                                         "settlement); default: fetch it from the channel")
    run.add_argument("--from", dest="source", metavar="HOST:PORT",
                     help="the channel's address to fetch the statement from")
    common(run)
    run.set_defaults(func=cmd_recon_run)

    brk = rsub.add_parser("breaks", help="the breaks found, with suggested actions")
    brk.add_argument("--open", action="store_true", help="only those still open")
    brk.add_argument("--channel")
    brk.add_argument("--date")
    common(brk)
    brk.set_defaults(func=cmd_recon_breaks)

    res = rsub.add_parser("resolve", help="clear a break: book it with operator and reason")
    res.add_argument("break_id", type=int, metavar="BREAK")
    res.add_argument("--action", required=True,
                     help="settle-from-statement | reverse | make-up | credit-adjustment | "
                          "return-to-originator")
    res.add_argument("--reason", required=True)
    res.add_argument("--operator", required=True)
    res.add_argument("--books", help="books TOML (default: accounting/books.toml)")
    common(res, csv_too=False)
    res.set_defaults(func=cmd_recon_resolve)
