"""The operations day from the command line: `payswitch recon ...`, `positions`, `orders ...`,
`report daily`.

Tables for people, `--json` (one document) or `--csv` for machines. Exit codes: 0 done and
clean, 3 reconciliation found breaks still open, 1 an error (store, channel, refusal), 2 bad
arguments or an unreadable statement, in which case nothing was written.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sqlite3
import sys
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
    except (StoreError, OSError, sqlite3.Error) as exc:
        print(f"payswitch: store error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        import asyncpg

        if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
            print(f"payswitch: store error: {exc}", file=sys.stderr)
            return 1
        raise


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


async def _statement_bytes(args: argparse.Namespace, key: str, day: date) -> bytes:
    """The statement from --statement FILE, or fetched from the channel (--from / --config)."""
    if not args.statement:
        return await _fetch(args, key, day)
    try:
        return Path(args.statement).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read statement {args.statement}: {exc.strerror}") from None


def _parse(data: bytes, day: date) -> ChannelStatement:
    try:
        statement = read_statement(data)
    except StatementError as exc:
        raise UsageError(f"unreadable statement: {exc}") from None
    if statement.business_date != day:
        raise UsageError(f"the statement is for {statement.business_date}, not {day}")
    return statement


async def _fetch(args: argparse.Namespace, key: str, day: date) -> bytes:
    from adapters import ChannelError, adapter_class
    from switch.clock import SystemClock
    from switch.config import BankConfig, load_config

    cls = adapter_class(key)
    link: Any = None
    bank: Any = BankConfig()
    if args.config:
        config = load_config(args.config)  # its channels come as each adapter's Config
        link, bank = config.channels.get(key), config.bank
    if args.source:
        host, _, port = args.source.rpartition(":")
        if not port.isdigit():
            raise UsageError(f"--from {args.source!r}: HOST:PORT of the channel")
        address = {"host": host or "127.0.0.1", "port": int(port)}
        link = (msgspec.structs.replace(link, **address) if link is not None
                else msgspec.convert(address, cls.Config))
    if link is None:
        raise UsageError("no statement: give --statement FILE, or --from HOST:PORT / "
                         f"--config FILE with [channels.{key}] to fetch it from the channel")
    adapter = cls.from_config(link, clock=SystemClock(), bank=bank)
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
            data = await _statement_bytes(args, key, day)
        except ChannelUnavailable as exc:
            print(f"payswitch: {exc}", file=sys.stderr)
            return 1
        recon = open_recon_store(url)
        await recon.open()
        try:
            with _Bar(f"reconciling {channel} {day}") as bar:
                report = await run_recon(recon, channel, day,
                                         lambda: bar.read(_parse(data, day)), SystemClock(),
                                         tick=bar.tick)
        finally:
            await recon.close()
        _print_run(args, report)
        return report.exit_code

    return _run(go)


class _Bar:
    """A progress bar of statement items matched, on a terminal (stderr) only."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Bar:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self._progress = Progress("[bold]{task.description}", BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(),
                                      console=Console(file=sys.stderr))
            self._progress.__enter__()
            self._task = self._progress.add_task(self.what, total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)

    def read(self, statement: ChannelStatement) -> ChannelStatement:
        if self._progress is not None:
            self._progress.update(self._task, total=len(statement.items))
        return statement

    def tick(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)


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
    print(f"Reconciliation {report.channel} {report.business_date} (run {report.run_id}, "
          f"{report.statement_format})")
    if rows:
        _table(sys.stdout, "Breaks", _BREAK_COLUMNS, rows)
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


_RUN_COLUMNS = ["run", "channel", "date", "at", "format", "items", "matched", "breaks", "open",
                "exit"]


def cmd_recon_runs(args: argparse.Namespace) -> int:
    from accounting.recon_store import open_recon_store

    async def go() -> int:
        if args.json and args.csv:
            raise UsageError("--json and --csv exclude each other")
        channel = _channel(args.channel)[1] if args.channel else None
        recon = open_recon_store(_store_url(args))
        await recon.open()
        try:
            runs = await recon.runs(channel, limit=args.limit)
        finally:
            await recon.close()
        _output(args, _RUN_COLUMNS, [[r.run_id, r.channel, r.business_date, r.at,
                                      r.statement_format, r.items, r.matched, r.breaks_found,
                                      r.open_breaks, r.exit_code] for r in runs],
                "Reconciliation runs", runs, right_from=5)
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


# -- positions ---------------------------------------------------------------------------------
_POSITION_COLUMNS = ["channel", "currency", "balance", "pending dr", "pending cr", "available",
                     "limit", "alert below", "alert above", "alert"]


def cmd_positions(args: argparse.Namespace) -> int:
    from accounting.cli import _books
    from accounting.ledger import open_ledger

    async def go() -> int:
        if args.json and args.csv:
            raise UsageError("--json and --csv exclude each other")
        if args.interval <= 0 or (args.count is not None and args.count <= 0):
            raise UsageError("--interval and --count must be positive")
        url = _store_url(args)
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite://")).exists():
            raise FileNotFoundError(f"no store at {url.removeprefix('sqlite://')}")
        ledger = open_ledger(url, _books(args.books))
        await ledger.open()
        try:
            shown = 0
            while True:
                positions = await ledger.position_report()
                alerts = await ledger.alerts(after=max(0, await ledger.last_alert_id() - 5))
                _print_positions(args, positions, alerts)
                shown += 1
                if not args.watch or (args.count is not None and shown >= args.count):
                    return 0
                await asyncio.sleep(args.interval)
        finally:
            await ledger.close()

    return _run(go)


def _print_positions(args: argparse.Namespace, positions: list[Any], alerts: list[Any]) -> None:
    rows = [[p.channel, p.currency, p.balance, p.pending_debits, p.pending_credits,
             p.available, p.limit, p.alert_below, p.alert_above, p.alert or "ok"]
            for p in positions]
    if args.json:
        _json(sys.stdout, {"positions": positions, "recent_alerts": alerts})
    elif args.csv:
        _csv(sys.stdout, _POSITION_COLUMNS, rows)
    else:
        if args.watch and sys.stdout.isatty():
            print("\x1b[2J\x1b[H", end="")  # a fresh screen per refresh
        _table(sys.stdout, "Positions (clearing accounts)", _POSITION_COLUMNS, rows,
               right_from=2)
        for a in alerts:
            print(f"alert: {a.account} {a.currency} went {a.threshold} {a.limit:,}: "
                  f"{a.value:,} (entry {a.entry_id}, {a.at})")
    sys.stdout.flush()


# -- orders ------------------------------------------------------------------------------------
_ORDER_COLUMNS = ["payment", "client", "client order", "state", "reason", "channel", "amount",
                  "currency", "fee", "day", "end-to-end id", "created"]


def _order_cells(o: Any) -> list[Any]:
    return [o.payment_id, o.client_id, o.client_order_id, o.state, o.reason, o.channel,
            o.amount, o.currency, o.fee, o.business_date, o.end_to_end_id, o.created_at]


async def _reader(args: argparse.Namespace) -> Any:
    from accounting.recon_store import open_recon_store

    db = open_recon_store(_store_url(args))
    await db.open()
    return db


def cmd_orders_list(args: argparse.Namespace) -> int:
    from switch.ops_views import list_orders

    async def go() -> int:
        if args.json and args.csv:
            raise UsageError("--json and --csv exclude each other")
        if args.limit <= 0:
            raise UsageError("--limit must be positive")
        channel = _channel(args.channel)[1] if args.channel else None
        day = _date(args.date).isoformat() if args.date else None
        db = await _reader(args)
        try:
            rows = await list_orders(db, state=args.state.upper() if args.state else None,
                                     channel=channel, client=args.client, day=day,
                                     limit=args.limit)
        finally:
            await db.close()
        _output(args, _ORDER_COLUMNS, [_order_cells(o) for o in rows], "Orders", rows)
        return 0

    return _run(go)


def cmd_orders_search(args: argparse.Namespace) -> int:
    from switch.ops_views import find_orders

    async def go() -> int:
        if args.json and args.csv:
            raise UsageError("--json and --csv exclude each other")
        if not args.term.strip():
            raise UsageError("search for a non-blank identifier or account")
        db = await _reader(args)
        try:
            rows = await find_orders(db, args.term.strip(), limit=args.limit)
        finally:
            await db.close()
        _output(args, _ORDER_COLUMNS, [_order_cells(o) for o in rows],
                f"Orders matching {args.term}", rows)
        return 0 if rows else 1

    return _run(go)


def cmd_orders_show(args: argparse.Namespace) -> int:
    from accounting.cli import _books
    from accounting.ledger import open_ledger
    from switch.ops_views import find_orders
    from switch.store import open_store

    async def go() -> int:
        db = await _reader(args)
        try:
            found = await find_orders(db, args.id.strip(), limit=2)
        finally:
            await db.close()
        if not found:
            print(f"payswitch: no order {args.id!r}", file=sys.stderr)
            return 1
        if len(found) > 1:
            print(f"payswitch: {args.id!r} names {len(found)} orders; show one by its payment "
                  f"id: {', '.join(o.payment_id for o in found)}", file=sys.stderr)
            return 2
        o = found[0]
        url = _store_url(args)
        store, ledger = open_store(url), open_ledger(url, _books(args.books))
        await store.open()
        await ledger.open()
        try:
            payment = await store.payment(o.payment_id)
            story = {
                "order": o, "detail": payment.order if payment else None,
                "history": await store.history(o.payment_id),
                "route": await store.route_decision(o.payment_id),
                "messages": [{"channel": m.channel, "direction": m.direction, "at": m.at,
                              "kind": m.kind, "bytes": len(m.data),
                              "text": m.data.decode("utf-8", "replace")}
                             for m in await store.messages(o.payment_id)],
                "ledger": await ledger.entries_for_payment(o.payment_id),
            }
        finally:
            await ledger.close()
            await store.close()
        if args.json:
            _json(sys.stdout, story)
        else:
            _print_story(story)
        return 0

    return _run(go)


def _print_story(story: dict[str, Any]) -> None:
    o = story["order"]
    _table(sys.stdout, f"Order {o.payment_id}", ["field", "value"],
           [[k, v] for k, v in msgspec.structs.asdict(o).items()])
    detail = story["detail"]
    if detail is not None:
        print(f"debtor {detail.debtor.account} ({detail.debtor.name}, {detail.debtor.agent}) -> "
              f"creditor {detail.creditor.account} ({detail.creditor.name}, "
              f"{detail.creditor.agent}); product {detail.product}, urgency {detail.urgency}")
    _table(sys.stdout, "State history", ["at", "from", "to", "cause", "reason"],
           [[h.at, h.from_state, h.to_state, h.cause, h.reason] for h in story["history"]])
    route = story["route"]
    if route:
        print(f"route: {route.get('channel')} ({route.get('reason_code') or 'chosen'}); "
              f"scheduled for {route.get('scheduled_for') or 'now'}")
        for c in route.get("candidates") or ():
            fee = f", fee {c['fee']:,}" if c.get("fee") is not None else ""
            print(f"  {c.get('channel')}: {c.get('text')}{fee}")
    _table(sys.stdout, "Messages exchanged", ["at", "channel", "direction", "kind", "bytes"],
           [[m["at"], m["channel"], m["direction"], m["kind"], m["bytes"]]
            for m in story["messages"]])
    rows: list[list[Any]] = []
    for e in story["ledger"]:
        who = f" by {e.operator}: {e.reason}" if e.operator else ""
        for acct, ccy, phase, dr, cr in e.postings:
            rows.append([f"{e.entry_id} {e.event_type}{who}", f"{acct} [{phase}]", ccy, dr, cr])
    _table(sys.stdout, "Ledger entries", ["entry", "account [phase]", "currency", "debit",
                                          "credit"], rows, right_from=3)


# -- report ------------------------------------------------------------------------------------
_REPORT_COLUMNS = ["date", "channel", "currency", "orders", "amount", "settled",
                   "settled_amount", "rejected", "returned", "pending", "success_rate", "fees",
                   "vat", "avg_settle_s", "p99_settle_s"]


def cmd_report_daily(args: argparse.Namespace) -> int:
    from switch.ops_views import daily_report

    async def go() -> int:
        if args.json and args.csv:
            raise UsageError("--json and --csv exclude each other")
        first, last = _date(args.first, "--from"), _date(args.last, "--to")
        if last < first:
            raise UsageError(f"--to {last} is before --from {first}")
        chart = Path(args.chart) if args.chart else None
        if chart is not None and chart.suffix.lower() not in (".html", ".htm", ".svg"):
            raise UsageError(f"--chart {chart.name}: an .html page or an .svg image")
        db = await _reader(args)
        try:
            rows = await daily_report(db, first.isoformat(), last.isoformat())
        finally:
            await db.close()
        _output(args, _REPORT_COLUMNS, [[r[c] for c in _REPORT_COLUMNS] for r in rows],
                f"Daily report {first} to {last}", rows, right_from=3)
        if chart is not None:
            from switch.ops_chart import report_html, report_svg

            chart.write_text(report_html(rows, first.isoformat(), last.isoformat())
                             if chart.suffix.lower() != ".svg"
                             else report_svg(rows, "orders", f"Orders {first} to {last}"),
                             encoding="utf-8")
            print(f"chart written to {chart}", file=sys.stderr)
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

    runs = rsub.add_parser("runs", help="the runs so far, newest first")
    runs.add_argument("--channel")
    runs.add_argument("--limit", type=int, default=20)
    common(runs)
    runs.set_defaults(func=cmd_recon_runs)

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

    pos = sub.add_parser("positions", help="per channel: clearing balance, pending, available, "
                                           "thresholds, alerts")
    pos.add_argument("--watch", action="store_true", help="refresh until interrupted")
    pos.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes")
    pos.add_argument("--count", type=int, help="with --watch: stop after this many")
    pos.add_argument("--books", help="books TOML (default: accounting/books.toml)")
    common(pos)
    pos.set_defaults(func=cmd_positions)

    orders = sub.add_parser("orders", help="payment orders: list, search, show")
    osub = orders.add_subparsers(dest="orders_command", required=True)
    lst = osub.add_parser("list", help="orders, newest first, by state/channel/client/day")
    lst.add_argument("--state")
    lst.add_argument("--channel")
    lst.add_argument("--client")
    lst.add_argument("--date", help="business day, YYYY-MM-DD")
    lst.add_argument("--limit", type=int, default=50)
    common(lst)
    lst.set_defaults(func=cmd_orders_list)
    srch = osub.add_parser("search", help="by payment id, client order id, end-to-end id, "
                                          "UETR, or debtor/creditor account")
    srch.add_argument("term")
    srch.add_argument("--limit", type=int, default=50)
    common(srch)
    srch.set_defaults(func=cmd_orders_search)
    show = osub.add_parser("show", help="state history, routing, messages, ledger entries")
    show.add_argument("id", help="payment id (or any identifier naming one order)")
    show.add_argument("--books", help="books TOML (default: accounting/books.toml)")
    common(show, csv_too=False)
    show.set_defaults(func=cmd_orders_show)

    report = sub.add_parser("report", help="reports")
    repsub = report.add_subparsers(dest="report_command", required=True)
    daily = repsub.add_parser("daily", help="per channel and day: volume, amount, success "
                                            "rate, fees, VAT, time to settle")
    daily.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
    daily.add_argument("--to", dest="last", required=True, help="last day, YYYY-MM-DD")
    daily.add_argument("--chart", help="also write a chart: FILE.html (or .svg)")
    common(daily)
    daily.set_defaults(func=cmd_report_daily)
