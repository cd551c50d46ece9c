"""The ledger: the accounting package's own tables, on SQLite or PostgreSQL, behind one interface.

The tables live in the same database as the switch's store but belong to this package (prefix
`acct_`, own `acct_schema_version`); the switch is reached only through its outbox. A batch of
events is posted in one transaction together with the consumer's cursor, so a restart between
reading the outbox and committing re-reads and re-posts nothing twice (keys are idempotent too).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import msgspec

from accounting import core
from accounting.config import ANY, Account, Books, load_books
from accounting.core import Alert, Balance, Existing, Hold, Leg, Plan, PostResult, Snapshot
from accounting.errors import Code, LedgerStoreError
from switch.store.postgres import close_pool
from switch.store.sqlite import connect, file_thread, json_list, release_file_thread

log = logging.getLogger("payswitch.accounting")
T = TypeVar("T")
POSITION_PREFIX = "clearing:"  # the chart's channel clearing accounts: the switch's positions


class OutboxEventLike(Protocol):
    """What the ledger reads of an outbox event (switch.store.OutboxEvent has these)."""

    @property
    def event_id(self) -> int: ...
    @property
    def payment_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def body(self) -> dict[str, Any]: ...


class EntryView(msgspec.Struct, frozen=True):
    entry_id: int
    key: str
    event_type: str
    payment_id: str | None
    posted_at: str
    memo: str
    status: str
    code: str
    link_entry_id: int | None
    link_kind: str | None
    operator: str | None
    reason: str | None
    postings: tuple[tuple[str, str, str, int, int], ...]  # account, currency, phase, debit, credit


class StatementLine(msgspec.Struct, frozen=True):
    entry_id: int
    posted_at: str
    memo: str
    debit: int
    credit: int
    balance: int  # running normal-side balance after this line (posted only)


class Position(msgspec.Struct, frozen=True):
    """A channel's clearing account as operations sees it."""

    channel: str
    account: str
    currency: str
    balance: int  # posted, on the account's normal side
    pending_debits: int
    pending_credits: int
    available: int  # what it can still pay out: its available balance, or room under its limit
    limit: int | None
    alert_below: int | None
    alert_above: int | None
    alert: str | None  # "below" / "above" while past that threshold


class TrialBalanceRow(msgspec.Struct, frozen=True):
    currency: str
    account: str
    debit: int  # posted debit balance (0 when the account has a credit balance)
    credit: int
    pending_debits: int
    pending_credits: int


_ENTRY_COLS = ("entry_id, event_id, adj_key, event_type, payment_id, posted_at, memo, digest, "
               "amount, status, code, link_entry_id, link_kind, operator, reason")
_ENTRY_COLUMNS = [c.strip() for c in _ENTRY_COLS.split(",")]
_POSTING_COLUMNS = ["entry_id", "seq", "account_id", "phase", "debit", "credit"]
_HOLD_COLS = "payment_id, entry_id, debit_account, credit_account, currency, amount"
_CLOSURE_COLS = "payment_id, entry_id, state"
_ALERT_COLS = "entry_id, account, currency, threshold, limit_value, value, posted_at"
# a hold with its state: pending until a closure row says posted or voided
_HOLDS_WITH_STATE = (
    "SELECT h.payment_id, h.entry_id, h.debit_account, h.credit_account, h.currency, h.amount, "
    "coalesce(c.state, 'pending'), c.entry_id FROM acct_holds h "
    "LEFT JOIN acct_hold_closures c ON c.payment_id = h.payment_id")
# the newest outbox event posted: ids above it cannot be replays, so nobody looks them up
_LAST_EVENT = ("SELECT event_id FROM acct_entries WHERE event_id IS NOT NULL "
               "ORDER BY event_id DESC LIMIT 1")
_AMOUNT_COLS = "debits_posted, credits_posted, debits_pending, credits_pending"
_BAL_COLS = f"account_id, {_AMOUNT_COLS}"
# balances with their account names, from acct_balances or acct_snapshots (alias b)
_NAMED = ("SELECT a.account, a.currency, b.debits_posted, b.credits_posted, b.debits_pending, "
          "b.credits_pending FROM {table} b JOIN acct_accounts a ON a.account_id = b.account_id")
# Rebuilding balances from postings: posted phases move the posted columns, holds (H) add to
# and releases (V) take from the pending ones.
_REBUILT = (
    "SELECT p.account_id, a.account, a.currency, "
    "sum(CASE WHEN p.phase = 'P' THEN p.debit ELSE 0 END) AS debits_posted, "
    "sum(CASE WHEN p.phase = 'P' THEN p.credit ELSE 0 END) AS credits_posted, "
    "sum(CASE WHEN p.phase = 'H' THEN p.debit WHEN p.phase = 'V' THEN -p.debit ELSE 0 END) "
    "AS debits_pending, "
    "sum(CASE WHEN p.phase = 'H' THEN p.credit WHEN p.phase = 'V' THEN -p.credit ELSE 0 END) "
    "AS credits_pending "
    "FROM acct_postings p JOIN acct_accounts a ON a.account_id = p.account_id "
    "GROUP BY p.account_id, a.account, a.currency"
)


def _ddl(big: str, text: str, pk: str, *, postings_tail: str = "\n        )",
         postings_by_entry: str | None = None, checks: bool = True,
         holds_tail: str = "", balances_tail: str = "") -> list[str]:
    """The v1 tables. `text` is the type of indexed text columns: on PostgreSQL "C" collation,
    so index comparisons are memcmp, not locale-aware (several times cheaper to maintain)."""
    phase_check, debit_check, credit_check = (
        (" CHECK (phase IN ('P', 'H', 'V'))", " CHECK (debit >= 0)", " CHECK (credit >= 0)")
        if checks else ("", "", ""))
    status_check = " CHECK (status IN ('posted', 'rejected'))" if checks else ""
    key_check = ",\n            CHECK ((event_id IS NULL) <> (adj_key IS NULL))" if checks else ""
    state_check = " CHECK (state IN ('pending', 'posted', 'voided'))" if checks else ""
    return [
        f"""CREATE TABLE acct_accounts (
            account_id {pk},
            account {text} NOT NULL,
            currency {text} NOT NULL,
            UNIQUE (account, currency)
        )""",
        f"""CREATE TABLE acct_entries (
            entry_id {pk},
            event_id {big},
            adj_key {text},
            event_type TEXT NOT NULL,
            payment_id {text},
            posted_at TEXT NOT NULL,
            memo TEXT NOT NULL,
            digest TEXT NOT NULL,
            amount {big} NOT NULL,
            status TEXT NOT NULL{status_check},
            code TEXT NOT NULL,
            link_entry_id {big},
            link_kind TEXT,
            operator TEXT,
            reason TEXT{key_check}
        )""",
        # partial: an index entry only where there is a key (adjustments have no event id)
        "CREATE UNIQUE INDEX acct_entries_event ON acct_entries (event_id) "
        "WHERE event_id IS NOT NULL",
        "CREATE UNIQUE INDEX acct_entries_adj_key ON acct_entries (adj_key) "
        "WHERE adj_key IS NOT NULL",
        "CREATE INDEX acct_entries_payment ON acct_entries (payment_id)",
        "CREATE INDEX acct_entries_link ON acct_entries (link_entry_id) "
        "WHERE link_entry_id IS NOT NULL",
        # No unique key on PostgreSQL: (entry_id, seq) is unique by construction and a second
        # btree on the hottest table would cost a third of the posting rate.
        f"""CREATE TABLE acct_postings (
            entry_id {big} NOT NULL,
            seq SMALLINT NOT NULL,
            account_id {big} NOT NULL,
            phase TEXT NOT NULL{phase_check},
            debit {big} NOT NULL{debit_check},
            credit {big} NOT NULL{credit_check}{postings_tail}""",
        "CREATE INDEX acct_postings_account ON acct_postings (account_id, entry_id)",
        *([postings_by_entry] if postings_by_entry else []),
        f"""CREATE TABLE acct_balances (
            account_id {pk},
            debits_posted {big} NOT NULL,
            credits_posted {big} NOT NULL,
            debits_pending {big} NOT NULL,
            credits_pending {big} NOT NULL
        ){balances_tail}""",
        f"""CREATE TABLE acct_holds (
            payment_id {text} PRIMARY KEY,
            entry_id {big} NOT NULL,
            debit_account TEXT NOT NULL,
            credit_account TEXT NOT NULL,
            currency TEXT NOT NULL,
            amount {big} NOT NULL,
            state TEXT NOT NULL{state_check},
            closed_entry_id {big}
        ){holds_tail}""",
        f"""CREATE TABLE acct_cursor (
            consumer TEXT PRIMARY KEY,
            last_event_id {big} NOT NULL
        )""",
        f"""CREATE TABLE acct_snapshots (
            day TEXT NOT NULL,
            account_id {big} NOT NULL,
            debits_posted {big} NOT NULL,
            credits_posted {big} NOT NULL,
            debits_pending {big} NOT NULL,
            credits_pending {big} NOT NULL,
            PRIMARY KEY (day, account_id)
        )""",
    ]


def _ddl_v2(big: str, text: str, identity: str, rowid: str) -> list[str]:
    """v2: holds become insert-only (a closure is its own row, and a primary key makes a second
    one impossible), and position alerts are recorded with the entry that raised them."""
    return [
        f"""CREATE TABLE acct_hold_closures (
            payment_id {text} PRIMARY KEY,
            entry_id {big} NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('posted', 'voided'))
        ){rowid}""",
        "INSERT INTO acct_hold_closures (payment_id, entry_id, state) "
        "SELECT payment_id, closed_entry_id, state FROM acct_holds WHERE state <> 'pending'",
        "ALTER TABLE acct_holds DROP COLUMN state",
        "ALTER TABLE acct_holds DROP COLUMN closed_entry_id",
        f"""CREATE TABLE acct_alerts (
            alert_id {identity},
            entry_id {big} NOT NULL,
            account TEXT NOT NULL,
            currency TEXT NOT NULL,
            threshold TEXT NOT NULL CHECK (threshold IN ('below', 'above')),
            limit_value {big} NOT NULL,
            value {big} NOT NULL,
            posted_at TEXT NOT NULL
        )""",
    ]


# Versioned migrations per dialect: append only, never edit a released one.
SQLITE_MIGRATIONS: list[tuple[int, list[str]]] = [
    # Clustered by (entry_id, seq): rows are appended in that order, and an entry's postings
    # are found without a second index.
    # No CHECKs: SQLite inserts at a third of the rate with them; the engine (accounting.core)
    # is the only writer and never writes a negative amount, another phase or state.
    (1, _ddl("INTEGER", "TEXT", "INTEGER PRIMARY KEY",
             postings_tail=",\n            PRIMARY KEY (entry_id, seq)\n        ) WITHOUT ROWID",
             checks=False, holds_tail=" WITHOUT ROWID")),
    (2, _ddl_v2("INTEGER", "TEXT", "INTEGER PRIMARY KEY", " WITHOUT ROWID")),
]
POSTGRES_MIGRATIONS: list[tuple[int, list[str]]] = [
    # entry ids only grow, so a BRIN index finds an entry's postings at almost no write cost
    (1, _ddl("BIGINT", 'TEXT COLLATE "C"', "BIGINT PRIMARY KEY",
             postings_by_entry="CREATE INDEX acct_postings_entry ON acct_postings "
                               "USING brin (entry_id) WITH (pages_per_range = 16)",
             # room in each page, so an update stays on its page (HOT, no index write)
             balances_tail=" WITH (fillfactor = 50)", holds_tail=" WITH (fillfactor = 50)")),
    (2, [*_ddl_v2("BIGINT", 'TEXT COLLATE "C"', "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                  ""),
         "ALTER TABLE acct_holds SET (fillfactor = 100)",  # no longer updated in place
         # payment ids are random: a hash index takes them at half a btree's cost, and a
         # payment's entries are only ever looked up by equality
         "DROP INDEX acct_entries_payment",
         "CREATE INDEX acct_entries_payment ON acct_entries USING hash (payment_id)"]),
]
SCHEMA_VERSION = 2


# the engine's state once a batch is applied: its snapshot, its writes, the newest event id
Applied = tuple[Snapshot, core.Writes, int]


class Posting:
    """A page being written (`Ledger.begin`); `await posting` gives its results."""

    def __init__(self, task: asyncio.Future[list[PostResult]],
                 applied: asyncio.Future[Applied | None]) -> None:
        self.task = task
        self.applied = applied  # set once the engine has applied the page (None: not shared)

    def __await__(self) -> Generator[Any, None, list[PostResult]]:
        return self.task.__await__()

    def cancel(self) -> None:
        self.task.cancel()


class Ahead:
    """A page applied ahead on the state its predecessor leaves (`Ledger.prepare`): written as
    it is only if, under the posting lock, no entry or account was added since and the watched
    balances it started from (constraints, alerts) are unchanged; else applied afresh."""

    def __init__(self, plans: list[Plan], snap: Snapshot, w: core.Writes,
                 heads: tuple[int, int], basis: dict[int, tuple[int, ...]],
                 last_event: int) -> None:
        self.plans, self.snap, self.w, self.heads = plans, snap, w, heads
        self.basis = basis  # account id -> the kept balance the engine started from
        self.last_event = last_event


def _settle(fut: asyncio.Future[Applied | None], value: Applied | None) -> None:
    if not fut.done():
        fut.set_result(value)


def _newest_event(plans: list[Plan], last_event: int) -> int:
    return max([last_event, *(p.event_id for p in plans if p.event_id is not None)])


class AccountIds(dict[tuple[str, str], int]):
    """(account, currency) -> account_id of committed accounts, at most ``capacity`` of them.

    Ids never change once given, so this is only a cache: a miss reads acct_accounts. Bounded
    because customer accounts come and go by the million; the oldest entry goes first.

    >>> ids = AccountIds(capacity=2)
    >>> ids[("a", "CNY")], ids[("b", "CNY")], ids[("c", "CNY")] = 1, 2, 3
    >>> sorted(ids)
    [('b', 'CNY'), ('c', 'CNY')]
    """

    def __init__(self, capacity: int = 50_000) -> None:
        super().__init__()
        self.capacity = capacity

    def __setitem__(self, key: tuple[str, str], value: int) -> None:
        if key not in self and len(self) >= self.capacity:
            del self[next(iter(self))]
        super().__setitem__(key, value)


class Ledger(ABC):
    """Posts events and corrections; answers balances, trial balance, statements, positions."""

    url: str

    def __init__(self, books: Books | None = None) -> None:
        self.books = books or load_books()
        self._account_ids = AccountIds()

    def _committed(self, w: core.Writes) -> None:
        for aid, acct, ccy in w.accounts:
            self._account_ids[(acct, ccy)] = aid
        for a in w.alerts:  # recorded in acct_alerts; subscribers hear of them from there
            log.warning("position %s %s went %s %d: now %d (entry %d)", a.account, a.currency,
                        a.threshold, a.limit, a.value, a.entry_id)

    # -- what a backend provides --------------------------------------------------------------
    @abstractmethod
    async def open(self) -> None:
        """Connect and bring the acct_ tables to the current version."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def schema_version(self) -> int: ...

    @abstractmethod
    async def _post(self, plans: list[Plan], consumer: str | None, upto: int | None, *,
                    ahead: Ahead | None = None,
                    applied: asyncio.Future[Applied | None] | None = None) -> core.Writes:
        """Load, apply and write the plans (and move the cursor) in one transaction; `applied`
        learns the engine's state once the plans are applied (for `prepare`), and `ahead` is
        this batch applied ahead of time, used if the ledger has not moved since."""

    @abstractmethod
    async def _fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Rows of a read-only query written with ? placeholders."""

    @abstractmethod
    async def _execute_all(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Statements written with ? placeholders, each with its arguments, in one transaction
        serialised with posting."""

    async def _execute_script(self, sql: str, *args: Any) -> None:
        """`; `-separated statements in one transaction; `args` go to those with placeholders."""
        await self._execute_all([(s, args if "?" in s else ()) for s in sql.split("; ")])

    def _before_commit(self) -> None:  # noqa: B027 - a hook, deliberately a no-op here
        """Called inside the posting transaction just before it commits (a fault-test hook)."""

    # -- posting -------------------------------------------------------------------------------
    async def post_events(self, events: Sequence[OutboxEventLike], posted_at: str, *,
                          consumer: str | None = None, upto: int | None = None
                          ) -> list[PostResult]:
        """Post events in order, each one entirely or not at all, in one transaction; with a
        consumer, its cursor moves to `upto` (default: the last event) in the same transaction."""
        if upto is None and events:
            upto = events[-1].event_id
        return await self.post_plans(self.plan(events, posted_at), consumer=consumer, upto=upto)

    def plan(self, events: Sequence[OutboxEventLike], posted_at: str) -> list[Plan]:
        """The events through the posting rules (no I/O: a caller may plan the next page
        while the previous one is being written)."""
        books = self.books
        with core.gc_paused():
            return [core.plan_event(books, e.event_id, e.payment_id, e.type, e.body, posted_at)
                    for e in events]

    async def post_plans(self, plans: list[Plan], *, consumer: str | None = None,
                         upto: int | None = None) -> list[PostResult]:
        """Post planned events as `post_events` does."""
        return await self.begin(plans, consumer=consumer, upto=upto)

    def begin(self, plans: list[Plan], *, consumer: str | None = None, upto: int | None = None,
              ahead: Ahead | None = None) -> Posting:
        """Start posting planned events (as `post_plans`) and return at once: await the
        Posting for the results. `ahead`: these plans as `prepare` applied them."""
        applied: asyncio.Future[Applied | None] = asyncio.get_running_loop().create_future()
        return Posting(asyncio.ensure_future(self._write(plans, consumer, upto, ahead, applied)),
                       applied)

    async def _write(self, plans: list[Plan], consumer: str | None, upto: int | None,
                     ahead: Ahead | None, applied: asyncio.Future[Applied | None]
                     ) -> list[PostResult]:
        try:
            with core.gc_paused():  # the batch's rows are freed before the collector sees them
                w = await self._post(plans, consumer, upto, ahead=ahead, applied=applied)
                return w.results
        finally:
            _settle(applied, None)

    async def prepare(self, plans: list[Plan], after: Posting) -> Ahead | None:
        """Apply the next page ahead, on the state the page `after` (still being written)
        leaves, so the engine's work overlaps the database's. None where a store does not:
        SQLite, whose writes are not the slow part."""
        return None

    async def adjust(self, key: str, legs: Sequence[Leg], *, operator: str, reason: str,
                     at: str, kind: str = "credit_adjustment", links_to: int | None = None,
                     payment_id: str | None = None) -> PostResult:
        """An operator's correction: a new balanced entry, optionally linked to the entry it
        corrects (kind: reversal, makeup, credit_adjustment). `key` makes it idempotent."""
        if not operator or not reason:
            raise LedgerStoreError(key, "an adjustment needs an operator and a reason")
        if not legs or any(type(g.amount) is not int or g.amount <= 0 for g in legs):
            raise LedgerStoreError(key, "an adjustment needs legs with positive integer amounts")
        amount = sum(g.amount for g in legs)
        plan = Plan(key=f"adj:{key}", event_type=f"adjustment.{kind}",
                    digest=core.digest_of(kind, links_to, payment_id,
                                          [msgspec.to_builtins(g) for g in legs]),
                    memo=f"{kind} by {operator}: {reason}", posted_at=at, amount=amount,
                    payment_id=payment_id, legs=list(legs), link_entry_id=links_to,
                    link_kind=kind if links_to is not None else None, operator=operator,
                    reason=reason)
        return (await self._post([plan], None, None)).results[0]

    async def reverse(self, key: str, entry_id: int, *, operator: str, reason: str,
                      at: str) -> PostResult:
        """Reverse a posted entry by a new entry with every posting swapped, linked to it."""
        entry = await self.entry(entry_id)
        if entry is None or entry.status != "posted":
            return PostResult(f"adj:{key}", "rejected", Code.ENTRY_NOT_FOUND)
        # Only what was posted is undone; a hold is released by voiding it, not by a reversal.
        ps = [p for p in entry.postings if p[2] == core.POSTED]
        if not ps:
            return PostResult(f"adj:{key}", "rejected", Code.CANNOT_REVERSE_PENDING)
        legs: list[Leg] = []
        # Debits and credits come in pairs in posting order (core._rows): swap each pair.
        for i in range(0, len(ps), 2):
            (dr_acct, ccy, _, dr, _), (cr_acct, _, _, _, _) = ps[i], ps[i + 1]
            legs.append(Leg(cr_acct, dr_acct, ccy, dr))
        return await self.adjust(key, legs, operator=operator, reason=reason, at=at,
                                 kind="reversal", links_to=entry_id,
                                 payment_id=entry.payment_id)

    # -- queries -------------------------------------------------------------------------------
    async def cursor(self, consumer: str) -> int:
        rows = await self._fetch("SELECT last_event_id FROM acct_cursor WHERE consumer = ?",
                                 consumer)
        return int(rows[0][0]) if rows else 0

    async def set_consumers(self, family: str, consumers: Sequence[str]) -> None:
        """Make `consumers` the cursors of `family` (the consumer itself and `family:...`).

        When the books' partitions change, every new cursor starts at the lowest of the old
        ones and the old ones go: below it every event was posted, and an event above it that
        a cursor had passed is found posted and answered as a replay (`acct_entries.event_id`
        is unique), so nothing is posted twice or skipped. Read before the write's lock: a
        cursor that moves meanwhile only moves up, so the start stays low enough; and the
        write, serialised with posting, cannot meet a cursor it has not deleted first."""
        rows = await self._fetch("SELECT consumer, last_event_id FROM acct_cursor")
        old = {c: int(e) for c, e in rows if c == family or c.startswith(f"{family}:")}
        if set(old) == set(consumers):
            return
        # Every cursor is written now, a new ledger's at 0: a consumer yet to post must not be
        # missing when the partitions change next, or it would start where the others are.
        start = min(old.values(), default=0)
        if old:
            log.warning("outbox consumers %s replace %s, from event %d on",
                        ", ".join(consumers), ", ".join(sorted(old)), start)
        await self._execute_all(
            [("DELETE FROM acct_cursor WHERE consumer = ?", (c,)) for c in {*old, *consumers}]
            + [("INSERT INTO acct_cursor (consumer, last_event_id) VALUES (?, ?)", (c, start))
               for c in consumers])

    async def balances(self) -> list[Balance]:
        rows = await self._fetch(_NAMED.format(table="acct_balances")
                                 + " ORDER BY a.account, a.currency")
        return [Balance(*r) for r in rows]

    async def balance(self, account: str, currency: str) -> Balance:
        rows = await self._fetch(_NAMED.format(table="acct_balances")
                                 + " WHERE a.account = ? AND a.currency = ?", account, currency)
        return Balance(*rows[0]) if rows else Balance(account, currency, 0, 0)

    async def posting_totals(self) -> list[Balance]:
        """Balances rebuilt from the postings themselves, to compare with the kept ones."""
        rows = await self._fetch(f"{_REBUILT} ORDER BY a.account, a.currency")
        return [Balance(r[1], r[2], *(int(v) for v in r[3:])) for r in rows]

    async def balance_differences(self) -> list[tuple[Balance | None, Balance | None]]:
        """(kept, rebuilt) pairs that disagree; empty when the kept balances are right."""
        kept = {(b.account, b.currency): b for b in await self.balances()}
        built = {(b.account, b.currency): b for b in await self.posting_totals()}
        return [(kept.get(k), built.get(k)) for k in sorted(kept.keys() | built.keys())
                if kept.get(k) != built.get(k)]

    async def rebuild_balances(self) -> int:
        """Replace the kept balances by the ones rebuilt from postings; returns rows changed."""
        diffs = await self.balance_differences()
        if diffs:
            await self._execute_script(
                f"DELETE FROM acct_balances; INSERT INTO acct_balances ({_BAL_COLS}) "
                f"SELECT account_id, {_AMOUNT_COLS} FROM ({_REBUILT}) r")
        return len(diffs)

    async def trial_balance(self) -> list[TrialBalanceRow]:
        """Every account's posted balance on its debit or credit side, by currency; the debit
        and credit columns of each currency sum to the same total."""
        out = []
        for b in await self.balances():
            net = b.net
            out.append(TrialBalanceRow(b.currency, b.account, max(net, 0), max(-net, 0),
                                       b.debits_pending, b.credits_pending))
        out.sort(key=lambda r: (r.currency, r.account))
        return out

    async def entry(self, entry_id: int) -> EntryView | None:
        views = await self._entries("entry_id = ?", entry_id)
        return views[0] if views else None

    async def entries_for_payment(self, payment_id: str) -> list[EntryView]:
        """The payment's own entries, and a batch's entry that posted or released its hold."""
        return await self._entries(
            "entry_id IN (SELECT entry_id FROM acct_entries WHERE payment_id = ? UNION "
            "SELECT entry_id FROM acct_hold_closures WHERE payment_id = ?)",
            payment_id, payment_id)

    async def _entries(self, where: str, *args: Any) -> list[EntryView]:
        rows = await self._fetch(
            "SELECT entry_id, event_id, adj_key, event_type, payment_id, posted_at, memo, status, "
            f"code, link_entry_id, link_kind, operator, reason FROM acct_entries WHERE {where} "
            "ORDER BY entry_id", *args)
        if not rows:
            return []
        ids = [r[0] for r in rows]
        marks = ",".join("?" * len(ids))
        postings: dict[int, list[tuple[str, str, str, int, int]]] = {}
        for p in await self._fetch(
                "SELECT p.entry_id, a.account, a.currency, p.phase, p.debit, p.credit "
                "FROM acct_postings p JOIN acct_accounts a ON a.account_id = p.account_id "
                f"WHERE p.entry_id IN ({marks}) ORDER BY p.entry_id, p.seq", *ids):
            postings.setdefault(p[0], []).append((p[1], p[2], p[3], int(p[4]), int(p[5])))
        return [EntryView(
            entry_id=r[0], key=f"ev:{r[1]}" if r[1] is not None else r[2], event_type=r[3],
            payment_id=r[4], posted_at=r[5], memo=r[6], status=r[7], code=r[8],
            link_entry_id=r[9], link_kind=r[10], operator=r[11], reason=r[12],
            postings=tuple(postings.get(r[0], ()))) for r in rows]

    async def statement(self, account: str, currency: str | None = None,
                        limit: int = 1000) -> list[StatementLine]:
        """An account's posted lines in order with the running balance on its normal side."""
        acc = self.books.account(account)
        sign = 1 if acc is None or acc.debit_normal else -1
        args: list[Any] = [account]
        where = "a.account = ? AND p.phase = 'P'"
        if currency is not None:
            where += " AND a.currency = ?"
            args.append(currency)
        rows = await self._fetch(
            "SELECT p.entry_id, e.posted_at, e.memo, p.debit, p.credit FROM acct_postings p "
            "JOIN acct_accounts a ON a.account_id = p.account_id "
            f"JOIN acct_entries e ON e.entry_id = p.entry_id WHERE {where} "
            "ORDER BY p.entry_id, p.seq", *args)
        out = []
        running = 0
        for entry_id, at, memo, dr, cr in rows:
            running += sign * (int(dr) - int(cr))
            out.append(StatementLine(entry_id, at, memo, int(dr), int(cr), running))
        return out[-limit:]

    async def snapshot(self, day: str) -> int:
        """Freeze today's balances as the end-of-day snapshot for `day` (once; idempotent)."""
        have = await self._fetch("SELECT count(*) FROM acct_snapshots WHERE day = ?", day)
        if int(have[0][0]):
            return int(have[0][0])
        await self._execute_script(
            f"INSERT INTO acct_snapshots (day, {_BAL_COLS}) SELECT ?, {_BAL_COLS} "
            "FROM acct_balances", day)
        return int((await self._fetch("SELECT count(*) FROM acct_snapshots WHERE day = ?",
                                      day))[0][0])

    async def snapshot_balances(self, day: str) -> list[Balance]:
        rows = await self._fetch(_NAMED.format(table="acct_snapshots")
                                 + " WHERE b.day = ? ORDER BY a.account, a.currency", day)
        return [Balance(*r) for r in rows]

    async def available_balance(self, account: str, currency: str) -> int | None:
        """The account's balance on its normal side less pending decreases (None: not in the
        chart). For a customer: what is left after the holds on it."""
        acc = self.books.account(account)
        return None if acc is None else core.available(acc, await self.balance(account,
                                                                                 currency))

    async def positions(self) -> dict[tuple[str, str], int]:
        """(channel, currency) -> available position of every channel clearing account."""
        return {(p.channel, p.currency): p.available for p in await self.position_report()}

    async def position_report(self) -> list[Position]:
        """Every channel clearing account: a configured one even before its first posting."""
        rows = await self._fetch(_NAMED.format(table="acct_balances")
                                 + f" WHERE a.account LIKE '{POSITION_PREFIX}%'")
        found = {(r[0], r[1]): Balance(*r) for r in rows}
        for a in self.books.accounts:
            if a.code.startswith(POSITION_PREFIX) and not a.is_family and a.currency != ANY:
                found.setdefault((a.code, a.currency), Balance(a.code, a.currency, 0, 0))
        out = []
        for (account, currency), b in sorted(found.items()):
            acc = self.books.account(account)
            if acc is None:
                continue
            out.append(Position(
                channel=account.removeprefix(POSITION_PREFIX), account=account,
                currency=currency, balance=b.net if acc.debit_normal else -b.net,
                pending_debits=b.debits_pending, pending_credits=b.credits_pending,
                available=_position(acc, b), limit=acc.limit, alert_below=acc.alert_below,
                alert_above=acc.alert_above, alert=core.alert_state(acc, b)))
        return out

    async def available_position(self, channel: str, currency: str) -> int | None:
        """What the channel's clearing account can still pay out: for an upper-limit position
        the room under the limit, otherwise its available balance. None: no such account."""
        b = await self.balance(f"{POSITION_PREFIX}{channel}", currency)
        acc = self.books.account(b.account)
        return None if acc is None else _position(acc, b)

    async def alerts(self, after: int = 0, limit: int = 1000) -> list[Alert]:
        """Recorded threshold crossings with an id above `after`, oldest first."""
        rows = await self._fetch(
            "SELECT account, currency, threshold, limit_value, value, entry_id, posted_at, "
            "alert_id FROM acct_alerts WHERE alert_id > ? ORDER BY alert_id LIMIT ?",
            after, limit)
        return [Alert(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5]), r[6], int(r[7]))
                for r in rows]

    async def last_alert_id(self) -> int:
        rows = await self._fetch("SELECT coalesce(max(alert_id), 0) FROM acct_alerts")
        return int(rows[0][0])


def _position(acc: Account, b: Balance) -> int:
    if acc.constraint == "upper_limit":
        assert acc.limit is not None
        vec = (b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending)
        return acc.limit - core._exposure(acc, vec)
    return core.available(acc, b)


# -- SQLite -------------------------------------------------------------------------------------
class SqliteLedger(Ledger):
    def __init__(self, path: str | Path, books: Books | None = None, *,
                 synchronous: str = "FULL") -> None:
        super().__init__(books)
        self.path = Path(path).resolve()
        self.url = f"sqlite://{self.path}"
        self._synchronous = synchronous
        self._db: sqlite3.Connection | None = None
        self._thread = file_thread(self.path, self)

    async def _run(self, fn: Callable[[sqlite3.Connection], T], kind: str = "books_query") -> T:
        db = self._db
        if db is None:
            raise LedgerStoreError(self.url, "ledger is not open")
        return await self._thread.run(kind, fn, db)

    async def open(self) -> None:
        def _open() -> sqlite3.Connection:
            db = connect(self.path, self._synchronous)
            _sqlite_migrate(db)
            return db

        self._db = await self._thread.run("open", _open)

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await self._thread.run("close", db.close)
        release_file_thread(self.path, self)

    async def schema_version(self) -> int:
        return await self._run(_sqlite_version)

    async def _fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return await self._run(lambda db: db.execute(sql, args).fetchall())

    async def _execute_all(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        def run(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                for stmt, args in statements:
                    db.execute(stmt, tuple(args))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        await self._run(run, "books_write")

    async def _post(self, plans: list[Plan], consumer: str | None, upto: int | None, *,
                    ahead: Ahead | None = None,
                    applied: asyncio.Future[Applied | None] | None = None) -> core.Writes:
        return await self._run(lambda db: self._post_sync(db, plans, consumer, upto),
                               "books_post")

    def _post_sync(self, db: sqlite3.Connection, plans: list[Plan], consumer: str | None,
                   upto: int | None) -> core.Writes:
        db.execute("BEGIN IMMEDIATE")  # one writer at a time: the snapshot stays true
        try:
            snap = _sqlite_snapshot(db, self.books, plans, self._account_ids)
            w = core.apply(self.books, plans, snap)
            if w.accounts:
                db.executemany("INSERT INTO acct_accounts (account_id, account, currency) "
                               "VALUES (?,?,?)", w.accounts)
            if w.entries:
                db.executemany(f"INSERT INTO acct_entries ({_ENTRY_COLS}) "
                               "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", w.entries)
            if w.postings:
                db.executemany("INSERT INTO acct_postings (entry_id, seq, account_id, phase, "
                               "debit, credit) VALUES (?,?,?,?,?,?)", w.postings)
            deltas = w.deltas()
            if deltas:
                db.executemany(
                    f"INSERT INTO acct_balances ({_BAL_COLS}) VALUES (?,?,?,?,?) "
                    "ON CONFLICT (account_id) DO UPDATE SET "
                    "debits_posted = debits_posted + excluded.debits_posted, "
                    "credits_posted = credits_posted + excluded.credits_posted, "
                    "debits_pending = debits_pending + excluded.debits_pending, "
                    "credits_pending = credits_pending + excluded.credits_pending", deltas)
            if w.holds:
                db.executemany(f"INSERT INTO acct_holds ({_HOLD_COLS}) VALUES (?,?,?,?,?,?)",
                               w.holds)
            if w.closures:
                db.executemany(f"INSERT INTO acct_hold_closures ({_CLOSURE_COLS}) "
                               "VALUES (?,?,?)", w.closures)
            if w.alerts:
                db.executemany(f"INSERT INTO acct_alerts ({_ALERT_COLS}) VALUES (?,?,?,?,?,?,?)",
                               [_alert_row(a) for a in w.alerts])
            if consumer is not None and upto is not None:
                db.execute("INSERT INTO acct_cursor (consumer, last_event_id) VALUES (?, ?) "
                           "ON CONFLICT (consumer) DO UPDATE SET last_event_id = "
                           "max(last_event_id, excluded.last_event_id)", (consumer, upto))
            self._before_commit()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._committed(w)
        return w


def _alert_row(a: Alert) -> tuple[Any, ...]:
    return (a.entry_id, a.account, a.currency, a.threshold, a.limit, a.value, a.at)


def _sqlite_in(db: sqlite3.Connection, sql: str, items: list[Any]) -> list[tuple[Any, ...]]:
    """Run ``sql`` with its ``IN (?)`` standing for all of ``items``: one statement whatever
    the count (see `json_list`)."""
    if not items:
        return []
    return db.execute(sql.replace("(?)", "(SELECT value FROM json_each(?))"),
                      (json_list(items),)).fetchall()


def _wanted(plans: list[Plan], last_event: int
            ) -> tuple[list[int], list[str], list[str], list[int]]:
    """Event ids that may have been posted before, adjustment keys, payment ids with hold
    work, and entries to be reversed."""
    event_ids = [p.event_id for p in plans if p.event_id is not None and p.event_id <= last_event]
    adj_keys = [p.key for p in plans if p.event_id is None]
    pids = list(core.wanted_holds(plans))
    links = [p.link_entry_id for p in plans
             if p.link_kind == "reversal" and p.link_entry_id is not None]
    return event_ids, adj_keys, pids, links


def _existing(rows: list[Any]) -> dict[str, Existing]:
    return {(f"ev:{r[0]}" if r[0] is not None else r[1]): Existing(*r[2:]) for r in rows}


_EXISTING_COLS = "event_id, adj_key, entry_id, digest, event_type, amount, status, code"


def _sqlite_snapshot(db: sqlite3.Connection, books: Books, plans: list[Plan],
                     cache: dict[tuple[str, str], int]) -> Snapshot:
    next_id = int(db.execute("SELECT coalesce(max(entry_id), 0) + 1 "
                             "FROM acct_entries").fetchone()[0])
    last_event = db.execute(_LAST_EVENT).fetchone()
    event_ids, adj_keys, pids, links = _wanted(plans, last_event[0] if last_event else 0)
    entries = _existing(
        _sqlite_in(db, f"SELECT {_EXISTING_COLS} FROM acct_entries WHERE event_id IN (?)",
                   event_ids)
        + _sqlite_in(db, f"SELECT {_EXISTING_COLS} FROM acct_entries WHERE adj_key IN (?)",
                     adj_keys))
    holds = {r[0]: Hold(*r) for r in _sqlite_in(
        db, f"{_HOLDS_WITH_STATE} WHERE h.payment_id IN (?)", pids)}
    reversed_ids = {r[0] for r in _sqlite_in(
        db, "SELECT link_entry_id FROM acct_entries WHERE link_kind = 'reversal' "
            "AND status = 'posted' AND link_entry_id IN (?)", links)}
    wanted = core.accounts_of(plans, holds)
    ids = {k: cache[k] for k in wanted if k in cache}
    missing = sorted({a for a, c in wanted if (a, c) not in ids})
    for aid, acct, ccy in _sqlite_in(
            db, "SELECT account_id, account, currency FROM acct_accounts WHERE account IN (?)",
            missing):
        if (acct, ccy) in wanted:
            ids[(acct, ccy)] = aid
    by_id = {aid: k for k, aid in ids.items() if core.watched(books, *k)}
    balances = {by_id[r[0]]: list(r[1:]) for r in _sqlite_in(
        db, f"SELECT {_BAL_COLS} FROM acct_balances WHERE account_id IN (?)", list(by_id))}
    next_aid = int(db.execute("SELECT coalesce(max(account_id), 0) + 1 "
                              "FROM acct_accounts").fetchone()[0])
    return Snapshot(next_id, entries, holds, balances, reversed_ids, ids, next_aid)


def _sqlite_version(db: sqlite3.Connection) -> int:
    db.execute("CREATE TABLE IF NOT EXISTS acct_schema_version (version INTEGER NOT NULL)")
    return int(db.execute("SELECT max(version) FROM acct_schema_version").fetchone()[0] or 0)


def _sqlite_migrate(db: sqlite3.Connection) -> None:
    for version, statements in SQLITE_MIGRATIONS:
        if version <= _sqlite_version(db):
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            if version <= _sqlite_version(db):  # migrated by another process meanwhile
                db.execute("COMMIT")
                continue
            for sql in statements:
                db.execute(sql)
            db.execute("INSERT INTO acct_schema_version (version) VALUES (?)", (version,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


# -- PostgreSQL ---------------------------------------------------------------------------------
# Fixed numbers, the same in every process: one serialises migrations, one posting batches
# (the snapshot a batch is applied to must not change under it).
_MIGRATION_LOCK = 7_400_101
_POSTING_LOCK = 7_400_102
_QMARK = re.compile(r"\?")


def _pg_sql(sql: str) -> str:
    n = iter(range(1, 10_000))
    return _QMARK.sub(lambda _: f"${next(n)}", sql)


class PostgresLedger(Ledger):
    def __init__(self, dsn: str, books: Books | None = None, *, min_size: int = 1,
                 max_size: int = 4) -> None:
        super().__init__(books)
        self.url = dsn
        self._dsn = dsn
        self._min, self._max = max(min_size, 2), max(max_size, 2)  # posting uses two
        self._post_lock = asyncio.Lock()
        self._pool: Any = None
        self.ahead_prepared = self.ahead_used = 0  # pages applied ahead, and written as such

    @property
    def pool(self) -> Any:
        if self._pool is None:
            raise LedgerStoreError(self.url, "ledger is not open")
        return self._pool

    async def open(self) -> None:
        import asyncpg

        self._pool = await asyncpg.create_pool(self._dsn, min_size=self._min,
                                               max_size=self._max, command_timeout=60,
                                               reset=_keep_session)
        async with self.pool.acquire() as con, con.transaction():
            await con.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await con.execute("CREATE TABLE IF NOT EXISTS acct_schema_version "
                              "(version INTEGER NOT NULL)")
            current = await con.fetchval("SELECT coalesce(max(version), 0) "
                                         "FROM acct_schema_version")
            for version, statements in POSTGRES_MIGRATIONS:
                if version <= current:
                    continue
                for sql in statements:
                    await con.execute(sql)
                await con.execute("INSERT INTO acct_schema_version (version) VALUES ($1)",
                                  version)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await close_pool(pool, "ledger")

    async def schema_version(self) -> int:
        return int(await self.pool.fetchval("SELECT coalesce(max(version), 0) "
                                            "FROM acct_schema_version"))

    async def _fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in await self.pool.fetch(_pg_sql(sql), *args)]

    async def _execute_all(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        async with self.pool.acquire() as con, con.transaction():
            await con.execute("SELECT pg_advisory_xact_lock($1)", _POSTING_LOCK)
            for stmt, args in statements:
                await con.execute(_pg_sql(stmt), *args)

    async def prepare(self, plans: list[Plan], after: Posting) -> Ahead | None:
        if not plans:
            return None
        state = await asyncio.shield(after.applied)
        if state is None:
            return None
        before, before_w, last_event = state
        snap = core.carried(before, before_w)
        heads = (snap.next_entry_id, snap.next_account_id)
        # Committed state for the rest: what the page being written changes is in `snap`.
        async with self.pool.acquire() as con:
            await _pg_load(con, self.books, plans, self._account_ids, snap, last_event)
        basis = {snap.account_ids[k]: tuple(b) for k, b in snap.balances.items()
                 if k in snap.account_ids}
        w = core.Writes()
        for i in range(0, len(plans), _AHEAD_SLICE):
            if i:
                await asyncio.sleep(0)  # the page being written gets the loop between slices
            with core.gc_paused():
                core.apply(self.books, plans[i:i + _AHEAD_SLICE], snap, w)
        self.ahead_prepared += 1
        return Ahead(plans, snap, w, heads, basis, _newest_event(plans, last_event))

    async def _post(self, plans: list[Plan], consumer: str | None, upto: int | None, *,
                    ahead: Ahead | None = None,
                    applied: asyncio.Future[Applied | None] | None = None) -> core.Writes:
        # One poster per process at a time; across processes the advisory lock below.
        async with self._post_lock, self.pool.acquire() as con, con.transaction():
            await con.execute("SELECT pg_advisory_xact_lock($1)", _POSTING_LOCK)
            next_entry, next_account, last_event = await con.fetchrow(_PG_HEADS)
            if ahead is not None and await _still_holds(con, ahead, plans, next_entry,
                                                        next_account):
                snap, w = ahead.snap, ahead.w
                if applied is not None:
                    _settle(applied, (snap, w, ahead.last_event))
                await con.copy_records_to_table("acct_postings", columns=_POSTING_COLUMNS,
                                                records=w.postings)
                self.ahead_used += 1
            else:
                snap = Snapshot(next_entry, {}, {}, {}, set(), {}, next_account)
                await _pg_load(con, self.books, plans, self._account_ids, snap, last_event)
                w = core.Writes()
                await con.copy_records_to_table("acct_postings", columns=_POSTING_COLUMNS,
                                                records=_applied(self.books, plans, snap, w))
                if applied is not None:
                    _settle(applied, (snap, w, _newest_event(plans, last_event)))
            await _pg_copy(con, w)
            deltas = w.deltas()  # by account id: one lock order for every batch
            if deltas:
                await con.execute(
                    f"INSERT INTO acct_balances ({_BAL_COLS}) SELECT * FROM unnest("
                    "$1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], "
                    "$5::bigint[]) ON CONFLICT (account_id) DO UPDATE SET "
                    "debits_posted = acct_balances.debits_posted + excluded.debits_posted, "
                    "credits_posted = acct_balances.credits_posted + excluded.credits_posted, "
                    "debits_pending = acct_balances.debits_pending + excluded.debits_pending, "
                    "credits_pending = acct_balances.credits_pending + excluded.credits_pending",
                    *(list(c) for c in zip(*deltas, strict=True)))
            if consumer is not None and upto is not None:
                await con.execute(
                    "INSERT INTO acct_cursor (consumer, last_event_id) VALUES ($1, $2) "
                    "ON CONFLICT (consumer) DO UPDATE SET last_event_id = "
                    "greatest(acct_cursor.last_event_id, excluded.last_event_id)",
                    consumer, upto)
            self._before_commit()
        self._committed(w)
        return w


async def _still_holds(con: Any, ahead: Ahead, plans: list[Plan], next_entry: int,
                       next_account: int) -> bool:
    """Whether a page applied ahead may be written as it is (see `Ahead`)."""
    if plans is not ahead.plans or (next_entry, next_account) != ahead.heads:
        return False
    if not ahead.basis:
        return True
    now = {r[0]: tuple(r[1:]) for r in await con.fetch(
        f"SELECT {_BAL_COLS} FROM acct_balances WHERE account_id = ANY($1::bigint[])",
        list(ahead.basis))}
    return all(now.get(aid, _ZERO) == b for aid, b in ahead.basis.items())


async def _keep_session(con: Any) -> None:
    """What the pool does to a connection given back, beyond rolling back an open transaction
    (asyncpg always does that): nothing. The ledger leaves no session state behind (its advisory
    locks end with their transaction; no LISTEN, SET or cursors), and the default reset is one
    more round trip on every release, the posting transaction's included."""


_PG_HEADS = ("SELECT (SELECT coalesce(max(entry_id), 0) + 1 FROM acct_entries), "
             "(SELECT coalesce(max(account_id), 0) + 1 FROM acct_accounts), "
             f"coalesce(({_LAST_EVENT}), 0)")
_APPLY_SLICE = 1000  # plans applied per step while their postings stream to the server
# Plans applied ahead per step. Each statement of the page being written waits for the slice
# in progress to end before the next is sent, a dozen times a page: short slices keep the
# server busy (1000 plans, ~6 ms a slice, made the writes ~10% longer than 100 plans do).
_AHEAD_SLICE = 100
_ZERO = (0, 0, 0, 0)


async def _applied(books: Books, plans: list[Plan], snap: Snapshot, w: core.Writes
                   ) -> AsyncIterator[core.PostingRow]:
    """The batch's postings as the engine makes them: COPY sends each slice while the server
    is still inserting and indexing the one before, so Python and PostgreSQL work at once."""
    for i in range(0, len(plans), _APPLY_SLICE):
        start = len(w.postings)
        core.apply(books, plans[i:i + _APPLY_SLICE], snap, w)
        for row in w.postings[start:]:
            yield row


async def _pg_copy(con: Any, w: core.Writes) -> None:
    # COPY for the bulk rows: the fastest way in (DESIGN.md performance facts). Holds and
    # their closures are insert-only, so they are bulk rows too.
    if w.accounts:
        await con.copy_records_to_table("acct_accounts", records=w.accounts,
                                        columns=["account_id", "account", "currency"])
    if w.entries:
        await con.copy_records_to_table("acct_entries", records=w.entries,
                                        columns=_ENTRY_COLUMNS)
    if w.holds:
        await con.copy_records_to_table("acct_holds", records=w.holds,
                                        columns=_HOLD_COLS.split(", "))
    if w.closures:
        await con.copy_records_to_table("acct_hold_closures", records=w.closures,
                                        columns=_CLOSURE_COLS.split(", "))
    if w.alerts:
        await con.executemany(f"INSERT INTO acct_alerts ({_ALERT_COLS}) "
                              "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                              [_alert_row(a) for a in w.alerts])


async def _pg_load(con: Any, books: Books, plans: list[Plan],
                   cache: dict[tuple[str, str], int], snap: Snapshot, last_event: int) -> None:
    """Add to `snap` what these plans touch and it does not hold yet."""
    event_ids, adj_keys, pids, links = _wanted(plans, last_event)
    entries = snap.entries
    event_ids = [e for e in event_ids if f"ev:{e}" not in entries]
    adj_keys = [k for k in adj_keys if k not in entries]
    rows = []
    if event_ids:
        rows += await con.fetch(f"SELECT {_EXISTING_COLS} FROM acct_entries "
                                "WHERE event_id = ANY($1::bigint[])", event_ids)
    if adj_keys:
        rows += await con.fetch(f"SELECT {_EXISTING_COLS} FROM acct_entries "
                                "WHERE adj_key = ANY($1::text[])", adj_keys)
    entries.update(_existing(rows))
    pids = [p for p in pids if p not in snap.holds]
    if pids:
        snap.holds.update({r[0]: Hold(*r) for r in await con.fetch(
            f"{_HOLDS_WITH_STATE} WHERE h.payment_id = ANY($1::text[])", pids)})
    if links:
        snap.reversed_ids.update(r[0] for r in await con.fetch(
            "SELECT link_entry_id FROM acct_entries WHERE link_kind = 'reversal' "
            "AND status = 'posted' AND link_entry_id = ANY($1::bigint[])", links))
    ids, balances = snap.account_ids, snap.balances
    by_id: dict[int, tuple[str, str]] = {}  # watched accounts whose balance is to be read
    unknown: set[tuple[str, str]] = set()  # not in the cache: read from acct_accounts
    # One pass: every account of a page is looked at, and most pages only meet cached ones.
    for k in core.accounts_of(plans, snap.holds):
        if k in ids:
            continue
        aid = cache.get(k)
        if aid is None:
            unknown.add(k)
            continue
        ids[k] = aid
        if k not in balances and core.watched(books, *k):
            by_id[aid] = k
    if unknown:
        for aid, acct, ccy in await con.fetch(
                "SELECT account_id, account, currency FROM acct_accounts "
                "WHERE account = ANY($1::text[])", list({a for a, _ in unknown})):
            k = (acct, ccy)
            if k in unknown:
                ids[k] = cache[k] = aid  # ids never change once given
                if k not in balances and core.watched(books, *k):
                    by_id[aid] = k
    if by_id:
        snap.balances.update({by_id[r[0]]: list(r[1:]) for r in await con.fetch(
            f"SELECT {_BAL_COLS} FROM acct_balances WHERE account_id = ANY($1::bigint[])",
            list(by_id))})


def open_ledger(url: str, books: Books | None = None) -> Ledger:
    """A ledger for a URL, like the switch's store: `sqlite:///abs/path.db` or
    `postgresql://...`. Returned unopened; `await ledger.open()` connects and migrates."""
    if url.startswith("sqlite:///"):
        return SqliteLedger(url.removeprefix("sqlite://"), books)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresLedger(url, books)
    raise LedgerStoreError(url, "unsupported ledger URL: use sqlite:///PATH or postgresql://...")
