"""`payswitch ledger ...` and `payswitch accounting run`: the books from the command line.

The switch's CLI mounts these with `add_commands(sub)`; each `ledger_*`/`accounting_run` function
can also be called directly. Exit codes as the switch's: 0 success, 1 failure (not found, refused,
store error), 2 bad arguments or configuration (nothing is written). `--json` prints
machine-readable output instead of tables. Amounts are integer minor units (fen for CNY).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TextIO, TypeVar

import msgspec

from accounting.config import ANY, Books, load_books
from accounting.core import Leg, PostResult, digest_of
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
                if e.operator:
                    note += f" by {e.operator}: {e.reason}"
                for acct, ccy, phase, dr, cr in e.postings or (("-", "", "", 0, 0),):
                    rows.append([f"{e.entry_id} {e.event_type} {note}".rstrip(),
                                 f"{acct} [{phase}]" if phase else acct, ccy, dr, cr])
            _table(out, f"Payment {payment_id}", ["entry", "account [phase]", "currency",
                                                  "debit", "credit"], rows)
        return 0

    return _with_ledger(url, books_path, out, body)


def ledger_positions(url: str | None = None, *, as_json: bool = False,
                     books_path: str | None = None, out: TextIO | None = None) -> int:
    """`payswitch ledger positions`: each channel clearing account's balance, pending,
    available position, thresholds and whether it is past one now."""

    async def body(ledger: Ledger, out: TextIO) -> int:
        positions = await ledger.position_report()
        if as_json:
            _json(out, positions)
        else:
            _table(out, "Positions", ["channel", "currency", "balance", "pending dr",
                                      "pending cr", "available", "limit", "alert below",
                                      "alert above", "alert"],
                   [[p.channel, p.currency, p.balance, p.pending_debits, p.pending_credits,
                     p.available, _blank(p.limit), _blank(p.alert_below),
                     _blank(p.alert_above), p.alert or "ok"] for p in positions])
        return 0

    return _with_ledger(url, books_path, out, body)


def _blank(v: int | None) -> int | str:
    return "" if v is None else v


KINDS = {"reverse": "reversal", "makeup": "makeup", "credit": "credit_adjustment"}


def ledger_adjust(kind: str, url: str | None = None, *, operator: str, reason: str,
                  entry_id: int | None = None, legs: list[tuple[str, str, int]] | None = None,
                  currency: str | None = None, links_to: int | None = None,
                  payment_id: str | None = None, key: str | None = None, as_json: bool = False,
                  books_path: str | None = None, out: TextIO | None = None) -> int:
    """`payswitch ledger adjust reverse|makeup|credit`: an operator's correction, recorded as
    a new entry with operator and reason (linked to the entry it corrects). Idempotent by
    `key`, by default derived from what it books, so running a command twice books once.
    Exit 1 when the ledger refuses it (the refusal is recorded too), 2 on bad arguments."""
    from switch.clock import SystemClock, iso

    stream = out if out is not None else sys.stdout
    try:
        books = _books(books_path)
    except BooksConfigError as exc:
        print(f"payswitch: books configuration error: {exc}", file=sys.stderr)
        return 2
    problem = _check_adjustment(books, kind, operator, reason, entry_id, legs, currency,
                                links_to)
    if problem:
        print(f"payswitch: bad argument: {problem}", file=sys.stderr)
        return 2
    ledger_legs = [Leg(dr, cr, currency or "", amount) for dr, cr, amount in legs or ()]
    if key is None:
        key = (f"reverse:{entry_id}" if kind == "reverse" else
               f"{kind}:" + digest_of(kind, links_to, payment_id,
                                      [list(g) for g in legs or ()], currency)[:20])
    at = iso(SystemClock().now())

    async def body(ledger: Ledger, _out: TextIO) -> int:
        if kind == "reverse":
            assert entry_id is not None
            r = await ledger.reverse(key, entry_id, operator=operator, reason=reason, at=at)
        else:
            r = await ledger.adjust(key, ledger_legs, operator=operator, reason=reason, at=at,
                                    kind=KINDS[kind], links_to=links_to, payment_id=payment_id)
        return _report_adjustment(r, key, as_json, stream)

    return _with_ledger(url, books_path, out, body)


def _check_adjustment(books: Books, kind: str, operator: str, reason: str,
                      entry_id: int | None, legs: list[tuple[str, str, int]] | None,
                      currency: str | None, links_to: int | None) -> str | None:
    """What is wrong with an adjustment's arguments, before anything is written."""
    from messages.currency import is_known

    if not operator.strip() or not reason.strip():
        return "--operator and --reason must not be blank"
    if kind == "reverse":
        return None if entry_id is not None and entry_id > 0 else "ENTRY_ID must be positive"
    if kind == "makeup" and links_to is None:
        return "a make-up posting names the entry it makes up for (--links-to)"
    if currency is None or not is_known(currency):
        return f"--currency {currency!r} is not an ISO 4217 currency with a minor unit"
    if not legs:
        return "at least one --leg DEBIT CREDIT AMOUNT"
    for debit, credit, amount in legs:
        if type(amount) is not int or amount <= 0:
            return f"--leg {debit} {credit} {amount}: the amount must be a positive integer " \
                   "in minor units"
        if debit == credit:
            return f"--leg {debit} {credit}: debits and credits the same account"
        for code in (debit, credit):
            acc = books.account(code)
            if acc is None:
                return f"account {code!r} is not in the chart of accounts"
            if acc.currency not in (ANY, currency):
                return f"account {code!r} is kept in {acc.currency}, not {currency}"
    return None


def _report_adjustment(r: PostResult, key: str, as_json: bool, out: TextIO) -> int:
    ok = r.status in ("posted", "exists")
    if as_json:
        _json(out, {"key": key, "status": r.status, "code": r.code, "entry_id": r.entry_id})
    elif r.status == "posted":
        print(f"posted entry {r.entry_id} (key {key})", file=out)
    elif r.status == "exists":
        print(f"already posted as entry {r.entry_id} (key {key}): nothing changed", file=out)
    if not ok and not as_json:
        where = f"entry {r.entry_id}, " if r.entry_id is not None else ""
        print(f"payswitch: adjustment refused: {r.code} ({where}key {key})", file=sys.stderr)
    return 0 if ok else 1


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
    ledger = sub.add_parser("ledger", help="the books: trial balance, accounts, payments, "
                                           "positions, adjustments")
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

    pos = lsub.add_parser("positions", help="the channel positions: balance, pending, "
                                            "available, thresholds, alert state")
    common(pos)
    pos.set_defaults(func=lambda a: ledger_positions(a.store, as_json=a.json,
                                                     books_path=a.books))
    _add_adjust(lsub, common)

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


def _add_adjust(lsub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    adjust = lsub.add_parser("adjust", help="an operator's correction, recorded with operator "
                                            "and reason: reverse | makeup | credit")
    kinds = adjust.add_subparsers(dest="adjust_kind", required=True)
    helps = {"reverse": "reverse a posted entry: a new entry with every posting swapped",
             "makeup": "a make-up posting for an entry (booked short, or reversed by mistake)",
             "credit": "a credit adjustment: book legs, optionally linked to an entry"}
    for kind, text in helps.items():
        p = kinds.add_parser(kind, help=text)
        if kind == "reverse":
            p.add_argument("entry_id", type=int, help="the entry to reverse")
        else:
            p.add_argument("--leg", nargs=3, action="append", required=True, type=str,
                           metavar=("DEBIT", "CREDIT", "AMOUNT"),
                           help="debit account, credit account, amount in minor units "
                                "(repeat for more legs)")
            p.add_argument("--currency", required=True, help="ISO 4217 code of every leg")
            p.add_argument("--links-to", type=int, metavar="ENTRY_ID",
                           required=kind == "makeup", help="the entry this corrects")
            p.add_argument("--payment", help="the payment it belongs to")
        p.add_argument("--operator", required=True, help="who makes the correction")
        p.add_argument("--reason", required=True, help="why (kept with the entry)")
        p.add_argument("--key", help="idempotency key (default: derived from what it books)")
        common(p)
        p.set_defaults(func=_adjust_from_args)


def _adjust_from_args(a: argparse.Namespace) -> int:
    legs: list[tuple[str, str, int]] = []
    for debit, credit, amount in getattr(a, "leg", None) or ():
        if not amount.isdigit():  # no sign, no decimals: minor units (checked again later)
            print(f"payswitch: bad argument: --leg {debit} {credit} {amount}: the amount must "
                  "be a positive integer in minor units", file=sys.stderr)
            return 2
        legs.append((debit, credit, int(amount)))
    return ledger_adjust(a.adjust_kind, a.store, operator=a.operator, reason=a.reason,
                         entry_id=getattr(a, "entry_id", None), legs=legs,
                         currency=getattr(a, "currency", None),
                         links_to=getattr(a, "links_to", None),
                         payment_id=getattr(a, "payment", None), key=a.key, as_json=a.json,
                         books_path=a.books)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (`python -m accounting.cli ...`) until the switch's CLI mounts it."""
    parser = argparse.ArgumentParser(prog="payswitch")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
