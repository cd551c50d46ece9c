"""`payswitch ledger ...` and `payswitch accounting run`: the books from the command line.

The switch's CLI mounts these with `add_commands(sub)`; each `ledger_*`/`accounting_run` function
can also be called directly. Exit codes as the switch's: 0 success, 1 failure (not found, store
error), 2 bad configuration. `--json` prints machine-readable output instead of tables.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TextIO, TypeVar

import msgspec

from accounting.config import Books, load_books
from accounting.errors import AccountingError, BooksConfigError
from accounting.ledger import Ledger, open_ledger

T = TypeVar("T")


def _books(path: str | None) -> Books:
    return load_books(path) if path else load_books()


def _default_url() -> str:
    from switch.config import default_store_url

    return default_store_url()


def _run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency of the switch
        return asyncio.run(main())
    return uvloop.run(main())


def _with_ledger(url: str | None, books_path: str | None, out: TextIO | None,
                 body: Callable[[Ledger, TextIO], Awaitable[int]]) -> int:
    stream = out if out is not None else sys.stdout
    try:
        books = _books(books_path)
    except BooksConfigError as exc:
        print(f"payswitch: books configuration error: {exc}", file=sys.stderr)
        return 2

    async def go() -> int:
        ledger = open_ledger(url or _default_url(), books)
        await ledger.open()
        try:
            return await body(ledger, stream)
        finally:
            await ledger.close()

    try:
        return _run(go())
    except (AccountingError, OSError) as exc:
        print(f"payswitch: ledger error: {exc}", file=sys.stderr)
        return 1


def _json(out: TextIO, value: Any) -> None:
    out.write(msgspec.json.encode(value).decode() + "\n")


def _table(out: TextIO, title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for i, c in enumerate(columns):
        table.add_column(c, justify="right" if i >= 2 else "left")
    for r in rows:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in r))
    Console(file=out, width=160).print(table)


def ledger_trial_balance(url: str | None = None, *, as_json: bool = False,
                         books_path: str | None = None, out: TextIO | None = None) -> int:
    """`payswitch ledger trial-balance`: every account's balance by currency; exit 1 when a
    currency does not net to zero or kept balances differ from their postings."""

    async def body(ledger: Ledger, out: TextIO) -> int:
        rows = await ledger.trial_balance()
        diffs = await ledger.balance_differences()
        totals: dict[str, list[int]] = {}
        for r in rows:
            t = totals.setdefault(r.currency, [0, 0])
            t[0] += r.debit
            t[1] += r.credit
        balanced = not diffs and all(d == c for d, c in totals.values())
        if as_json:
            _json(out, {"balanced": balanced, "rows": rows,
                        "totals": {c: {"debit": d, "credit": k} for c, (d, k) in totals.items()},
                        "differences": len(diffs)})
        else:
            table = [[r.currency, r.account, r.debit, r.credit, r.pending_debits,
                      r.pending_credits] for r in rows]
            table += [[c, "TOTAL", d, k, "", ""] for c, (d, k) in sorted(totals.items())]
            _table(out, "Trial balance" + ("" if balanced else " (NOT BALANCED)"),
                   ["currency", "account", "debit", "credit", "pending dr", "pending cr"], table)
        return 0 if balanced else 1

    return _with_ledger(url, books_path, out, body)


def ledger_account(code: str, url: str | None = None, *, currency: str | None = None,
                   limit: int = 50, as_json: bool = False, books_path: str | None = None,
                   out: TextIO | None = None) -> int:
    """`payswitch ledger account CODE`: the account's statement with its running balance."""

    async def body(ledger: Ledger, out: TextIO) -> int:
        lines = await ledger.statement(code, currency, limit=limit)
        balances = [b for b in await ledger.balances()
                    if b.account == code and currency in (None, b.currency)]
        if not lines and not balances:
            print(f"payswitch: no postings on account {code!r}", file=sys.stderr)
            return 1
        if as_json:
            _json(out, {"account": code, "balances": balances, "lines": lines})
        else:
            _table(out, f"Account {code}", ["entry", "posted at", "debit", "credit", "balance"],
                   [[ln.entry_id, ln.posted_at, ln.debit, ln.credit, ln.balance]
                    for ln in lines])
        return 0

    return _with_ledger(url, books_path, out, body)


def ledger_payment(payment_id: str, url: str | None = None, *, as_json: bool = False,
                   books_path: str | None = None, out: TextIO | None = None) -> int:
    """`payswitch ledger payment ID`: the journal entries booked for one payment."""

    async def body(ledger: Ledger, out: TextIO) -> int:
        entries = await ledger.entries_for_payment(payment_id)
        if not entries:
            print(f"payswitch: no entries for payment {payment_id!r}", file=sys.stderr)
            return 1
        if as_json:
            _json(out, entries)
        else:
            rows: list[list[Any]] = []
            for e in entries:
                note = e.code if e.status == "rejected" else (e.link_kind or "")
                for acct, ccy, phase, dr, cr in e.postings or (("-", "", "", 0, 0),):
                    rows.append([f"{e.entry_id} {e.event_type} {note}".rstrip(),
                                 f"{acct} [{phase}]" if phase else acct, ccy, dr, cr])
            _table(out, f"Payment {payment_id}", ["entry", "account [phase]", "currency",
                                                  "debit", "credit"], rows)
        return 0

    return _with_ledger(url, books_path, out, body)


def accounting_run(store_url: str | None = None, *, ledger_url: str | None = None,
                   books_path: str | None = None, batch: int = 10_000, once: bool = False,
                   out: TextIO | None = None) -> int:
    """`payswitch accounting run`: the worker as its own process, until SIGINT/SIGTERM (or,
    with `once`, until the outbox is posted). Safe beside an in-process worker: posting is
    serialised in the database and idempotent per event."""
    from accounting.worker import AccountingWorker
    from switch.clock import SystemClock
    from switch.store import open_store

    stream = out if out is not None else sys.stdout
    try:
        books = _books(books_path)
    except BooksConfigError as exc:
        print(f"payswitch: books configuration error: {exc}", file=sys.stderr)
        return 2

    async def go() -> int:
        store = open_store(store_url or _default_url())
        await store.open()
        ledger = open_ledger(ledger_url or store.url, books)
        await ledger.open()
        worker = AccountingWorker(store, SystemClock(), ledger, batch=batch)
        try:
            if once:
                n = await worker.post_available()
                print(f"posted {n} events, lag {await worker.lag()}", file=stream, flush=True)
                return 0
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            worker.start()
            print(f"POSTING {store.url}", file=stream, flush=True)
            await stop.wait()
            return 0
        finally:
            await worker.stop()
            await ledger.close()
            await store.close()

    try:
        return _run(go())
    except (AccountingError, OSError) as exc:
        print(f"payswitch: accounting error: {exc}", file=sys.stderr)
        return 1


def add_commands(sub: Any) -> None:
    """Mount `ledger ...` and `accounting run` on the switch's argparse subparsers."""
    ledger = sub.add_parser("ledger", help="the books: trial balance, accounts, payments")
    lsub = ledger.add_subparsers(dest="ledger_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--store", help="ledger URL (default: the switch's store URL)")
        p.add_argument("--books", help="books TOML (default: accounting/books.toml)")
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    tb = lsub.add_parser("trial-balance", help="balances per account and currency")
    common(tb)
    tb.set_defaults(func=lambda a: ledger_trial_balance(a.store, as_json=a.json,
                                                        books_path=a.books))
    acc = lsub.add_parser("account", help="an account's statement with running balance")
    acc.add_argument("code")
    acc.add_argument("--currency")
    acc.add_argument("--limit", type=int, default=50)
    common(acc)
    acc.set_defaults(func=lambda a: ledger_account(a.code, a.store, currency=a.currency,
                                                   limit=a.limit, as_json=a.json,
                                                   books_path=a.books))
    pay = lsub.add_parser("payment", help="the entries booked for a payment")
    pay.add_argument("payment_id")
    common(pay)
    pay.set_defaults(func=lambda a: ledger_payment(a.payment_id, a.store, as_json=a.json,
                                                   books_path=a.books))

    acct = sub.add_parser("accounting", help="the accounting worker")
    asub = acct.add_subparsers(dest="accounting_command", required=True)
    run = asub.add_parser("run", help="post the outbox to the ledger as its own process")
    run.add_argument("--store", help="the switch's store URL (default: the switch's)")
    run.add_argument("--ledger", help="ledger URL (default: the store's database)")
    run.add_argument("--books", help="books TOML (default: accounting/books.toml)")
    run.add_argument("--batch", type=int, default=10_000, help="outbox events per transaction")
    run.add_argument("--once", action="store_true", help="post what is there, then exit")
    run.set_defaults(func=lambda a: accounting_run(a.store, ledger_url=a.ledger,
                                                   books_path=a.books, batch=a.batch,
                                                   once=a.once))


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (`python -m accounting.cli ...`) until the switch's CLI mounts it."""
    parser = argparse.ArgumentParser(prog="payswitch")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
