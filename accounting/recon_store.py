"""Reconciliation runs and their breaks, kept in the ledger's database (SQLite or PostgreSQL),
and the reads a run needs there: the switch's payments of the day and the clearing account.

A break is identified by channel, business day, kind, reference and currency: a re-run finds
the same break again instead of adding one, leaves a resolved one resolved (unless its figures
changed), and marks an open one the switch has since explained (an UNKNOWN the inquiry
settled) as cleared. Corrections are keyed ``recon:<channel>:<day>:<break id>``, so resolving
twice books once, and the day's clearing figure finds them by that key.
"""

from __future__ import annotations

import asyncio
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from accounting.recon import Break, SwitchItem

__all__ = ["BreakRow", "ReconStore", "RunRow", "open_recon_store"]

_PENDING_STATES = ("SUBMITTED", "UNKNOWN")
# the switch's side of a channel's day: its payments of the day and those without a verdict
_OF_THE_DAY = (
    f"p.channel = ? AND (p.business_date = ? OR p.state IN ({', '.join('?' * len(_PENDING_STATES))}"
    ")) AND p.payment_id NOT IN (SELECT payment_id FROM batch_members)")
_BREAK_COLS = ("break_id, channel, business_date, kind, reference, currency, stated, expected, "
               "payment_id, state, suggested, detail, status, first_run, last_run, action, "
               "operator, reason, entry_id, resolved_at")
_RUN_COLS = ("run_id, channel, business_date, at, statement_format, items, matched, "
             "breaks_found, open_breaks, exit_code, figures")


def _ddl(serial: str, big: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS recon_runs (
            run_id {serial},
            channel TEXT NOT NULL,
            business_date TEXT NOT NULL,
            at TEXT NOT NULL,
            statement_format TEXT NOT NULL,
            items {big} NOT NULL,
            matched {big} NOT NULL,
            breaks_found {big} NOT NULL,
            open_breaks {big} NOT NULL,
            exit_code INTEGER NOT NULL,
            figures TEXT NOT NULL
        )""",
        f"""CREATE TABLE IF NOT EXISTS recon_breaks (
            break_id {serial},
            channel TEXT NOT NULL,
            business_date TEXT NOT NULL,
            kind TEXT NOT NULL,
            reference TEXT NOT NULL,
            currency TEXT NOT NULL,
            stated {big} NOT NULL,
            expected {big} NOT NULL,
            payment_id TEXT,
            state TEXT,
            suggested TEXT NOT NULL,
            detail TEXT NOT NULL,
            status TEXT NOT NULL,
            first_run {big} NOT NULL,
            last_run {big} NOT NULL,
            action TEXT,
            operator TEXT,
            reason TEXT,
            entry_id {big},
            resolved_at TEXT,
            UNIQUE (channel, business_date, kind, reference, currency)
        )""",
        "CREATE INDEX IF NOT EXISTS recon_breaks_status ON recon_breaks (status)",
    ]


class RunRow(msgspec.Struct, frozen=True):
    run_id: int
    channel: str
    business_date: str
    at: str
    statement_format: str
    items: int
    matched: int
    breaks_found: int
    open_breaks: int
    exit_code: int
    figures: dict[str, Any]


class BreakRow(msgspec.Struct, frozen=True):
    break_id: int
    channel: str
    business_date: str
    kind: str
    reference: str
    currency: str
    stated: int
    expected: int
    payment_id: str | None
    state: str | None
    suggested: str
    detail: str
    status: str  # open / resolved / cleared (the switch explained it since)
    first_run: int
    last_run: int
    action: str | None = None
    operator: str | None = None
    reason: str | None = None
    entry_id: int | None = None
    resolved_at: str | None = None

    def as_break(self) -> Break:
        return Break(self.kind, self.reference, self.currency, self.stated, self.expected,
                     payment_id=self.payment_id, state=self.state, suggested=self.suggested,
                     detail=self.detail)


def correction_key(channel: str, day: str, break_id: int) -> str:
    """The idempotency key of a break's correction in the ledger (``adj:`` + it is kept)."""
    return f"{correction_prefix(channel, day)}{break_id}"


def correction_prefix(channel: str, day: str) -> str:
    return f"recon:{channel}:{day}:"


def where_equal(**columns: str | None) -> tuple[str, list[str]]:
    """A ``WHERE`` clause (empty when nothing is asked) of the columns given a value, and its
    arguments: the filters of list commands.

    >>> where_equal(channel="IBPS", status=None)
    (' WHERE channel = ?', ['IBPS'])
    """
    asked = {col: value for col, value in columns.items() if value is not None}
    clause = " AND ".join(f"{col} = ?" for col in asked)
    return (f" WHERE {clause}" if clause else ""), list(asked.values())


class ReconStore(ABC):
    """The recon tables and the reads of switch and ledger tables a run needs."""

    url: str

    _schema_ready = False

    @abstractmethod
    async def open(self) -> None:
        """Connect. The recon tables are made when first used, so a command refused before
        that leaves the database as it was."""

    @abstractmethod
    async def _make_schema(self) -> None: ...

    async def _schema(self) -> None:
        if not self._schema_ready:
            await self._make_schema()
            self._schema_ready = True

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    async def write(self, steps: Sequence[tuple[str, Sequence[tuple[Any, ...]]]]) -> None:
        """Every (statement, rows) in one transaction."""

    @abstractmethod
    async def insert_run(self, run: RunRow) -> int: ...

    # -- what a run reads ---------------------------------------------------------------------
    async def switch_items(self, channel: str, day: str) -> dict[str, SwitchItem]:
        """The channel's payments and batches of business day ``day``, and those on it still
        waiting for a verdict whatever their day; a batch's members travel as the batch."""
        rows = await self.fetch(
            "SELECT end_to_end_id, payment_id, state, amount, currency, client_id "
            f"FROM payments p WHERE {_OF_THE_DAY}", channel, day, *_PENDING_STATES)
        return {r[0]: SwitchItem(r[0], r[1], r[2], int(r[3]), r[4], r[5] == "~batch")
                for r in rows}

    async def clearing_movement(self, channel: str, day: str) -> dict[str, int]:
        """Per currency, what the ledger posted to ``clearing:<channel>`` for the day's
        payments and batches (`switch_items`), and for the corrections of the day's breaks."""
        rows = await self.fetch(
            "SELECT a.currency, sum(p.debit - p.credit) FROM acct_accounts a "
            "JOIN acct_postings p ON p.account_id = a.account_id "
            "JOIN acct_entries e ON e.entry_id = p.entry_id "
            "WHERE a.account = ? AND p.phase = 'P' AND (e.adj_key LIKE ? OR ("
            "(e.adj_key IS NULL OR e.adj_key NOT LIKE 'adj:recon:%') AND e.payment_id IN ("
            f"SELECT payment_id FROM payments p WHERE {_OF_THE_DAY}))) GROUP BY a.currency",
            f"clearing:{channel}", f"adj:{correction_prefix(channel, day)}%", channel,
            day, *_PENDING_STATES)
        return {ccy: int(net) for ccy, net in rows}

    # -- runs and breaks ----------------------------------------------------------------------
    async def breaks(self, *, channel: str | None = None, day: str | None = None,
                     status: str | None = None) -> list[BreakRow]:
        await self._schema()
        where, args = where_equal(channel=channel, business_date=day, status=status)
        rows = await self.fetch(f"SELECT {_BREAK_COLS} FROM recon_breaks{where} "
                                "ORDER BY break_id", *args)
        return [BreakRow(*r) for r in rows]

    async def break_row(self, break_id: int) -> BreakRow | None:
        await self._schema()
        rows = await self.fetch(f"SELECT {_BREAK_COLS} FROM recon_breaks WHERE break_id = ?",
                                break_id)
        return BreakRow(*rows[0]) if rows else None

    async def runs(self, channel: str | None = None, limit: int = 20) -> list[RunRow]:
        await self._schema()
        sql = f"SELECT {_RUN_COLS} FROM recon_runs"
        args: list[Any] = []
        if channel is not None:
            sql += " WHERE channel = ?"
            args.append(channel)
        rows = await self.fetch(sql + " ORDER BY run_id DESC LIMIT ?", *args, limit)
        return [RunRow(r[0], r[1], r[2], r[3], r[4], int(r[5]), int(r[6]), int(r[7]),
                       int(r[8]), int(r[9]), msgspec.json.decode(r[10])) for r in rows]

    async def record_run(self, run: RunRow, found: list[Break]) -> tuple[int, list[BreakRow]]:
        """Keep the run and merge what it found into the day's breaks: the run's id and the
        day's breaks after it."""
        await self._schema()
        run_id = await self.insert_run(run)
        known = {(b.kind, b.reference, b.currency): b
                 for b in await self.breaks(channel=run.channel, day=run.business_date)}
        inserts, updates, refigured, cleared = [], [], [], []
        for b in found:
            old = known.pop(b.key, None)
            if old is None:
                inserts.append((run.channel, run.business_date, b.kind, b.reference, b.currency,
                                b.stated, b.expected, b.payment_id, b.state, b.suggested,
                                b.detail, "open", run_id, run_id))
            elif (old.stated, old.expected) == (b.stated, b.expected):
                # found again as it was: a resolved break stays resolved
                status = "resolved" if old.status == "resolved" else "open"
                updates.append((status, b.state, run_id, old.break_id))
            else:  # its figures moved: open again, the earlier resolution no longer covers it
                refigured.append((b.stated, b.expected, b.state, b.suggested, b.detail, run_id,
                                  old.break_id))
        for old in known.values():
            if old.status == "open":
                cleared.append((run_id, old.break_id))
        await self.write([
            ("INSERT INTO recon_breaks (channel, business_date, kind, reference, currency, "
             "stated, expected, payment_id, state, suggested, detail, status, first_run, "
             "last_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", inserts),
            ("UPDATE recon_breaks SET status = ?, state = ?, last_run = ? WHERE break_id = ?",
             updates),
            ("UPDATE recon_breaks SET status = 'open', stated = ?, expected = ?, state = ?, "
             "suggested = ?, detail = ?, last_run = ?, action = NULL, operator = NULL, "
             "reason = NULL, entry_id = NULL, resolved_at = NULL WHERE break_id = ?", refigured),
            ("UPDATE recon_breaks SET status = 'cleared', last_run = ? WHERE break_id = ?",
             cleared),
        ])
        return run_id, await self.breaks(channel=run.channel, day=run.business_date)

    async def mark_resolved(self, break_id: int, *, action: str, operator: str, reason: str,
                            entry_id: int | None, at: str) -> None:
        await self.write([(
            "UPDATE recon_breaks SET status = 'resolved', action = ?, operator = ?, reason = ?, "
            "entry_id = ?, resolved_at = ? WHERE break_id = ?",
            [(action, operator, reason, entry_id, at, break_id)])])

    async def finish_run(self, run_id: int, open_breaks: int, exit_code: int) -> None:
        await self.write([("UPDATE recon_runs SET open_breaks = ?, exit_code = ? "
                           "WHERE run_id = ?", [(open_breaks, exit_code, run_id)])])


class _SqliteRecon(ReconStore):
    def __init__(self, path: str) -> None:
        self.path = path
        self.url = f"sqlite://{path}"
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        assert self._db is not None, "recon store is not open"
        return self._db

    async def open(self) -> None:
        if not Path(self.path).exists():  # never make an empty database by a typo
            raise FileNotFoundError(f"no store at {self.path}")
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=5000")

    async def _make_schema(self) -> None:
        for sql in _ddl("INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER"):
            self.db.execute(sql)

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        # Each read on its own connection in a thread: a run's reads of the switch's and the
        # ledger's tables go on side by side (WAL readers do not block each other).
        return await asyncio.to_thread(self._read, sql, args)

    def _read(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(self.path)
        try:
            db.execute("PRAGMA busy_timeout=5000")
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    async def write(self, steps: Sequence[tuple[str, Sequence[tuple[Any, ...]]]]) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            for sql, rows in steps:
                if rows:
                    db.executemany(sql, rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def insert_run(self, run: RunRow) -> int:
        cur = self.db.execute(
            "INSERT INTO recon_runs (channel, business_date, at, statement_format, items, "
            "matched, breaks_found, open_breaks, exit_code, figures) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _run_values(run))
        return int(cur.lastrowid or 0)


class _PostgresRecon(ReconStore):
    def __init__(self, dsn: str) -> None:
        self.url = dsn
        self._pool: Any = None

    async def open(self) -> None:
        import asyncpg

        self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=3)

    async def _make_schema(self) -> None:
        async with self._pool.acquire() as con, con.transaction():
            await con.execute("SELECT pg_advisory_xact_lock(8808)")  # one migrator at a time
            for sql in _ddl("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "BIGINT"):
                await con.execute(sql)

    async def close(self) -> None:
        if self._pool is not None:
            from switch.store.postgres import close_pool

            pool, self._pool = self._pool, None
            await close_pool(pool, "reconciliation store")

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in await self._pool.fetch(_pg(sql), *args)]

    async def write(self, steps: Sequence[tuple[str, Sequence[tuple[Any, ...]]]]) -> None:
        async with self._pool.acquire() as con, con.transaction():
            for sql, rows in steps:
                if rows:
                    await con.executemany(_pg(sql), rows)

    async def insert_run(self, run: RunRow) -> int:
        return int(await self._pool.fetchval(
            _pg("INSERT INTO recon_runs (channel, business_date, at, statement_format, items, "
                "matched, breaks_found, open_breaks, exit_code, figures) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING run_id"), *_run_values(run)))


def _run_values(run: RunRow) -> tuple[Any, ...]:
    return (run.channel, run.business_date, run.at, run.statement_format, run.items,
            run.matched, run.breaks_found, run.open_breaks, run.exit_code,
            msgspec.json.encode(run.figures).decode())


def _pg(sql: str) -> str:
    """? placeholders as PostgreSQL's $n."""
    parts = sql.split("?")
    return "".join(p + (f"${i}" if i < len(parts) else "") for i, p in enumerate(parts, 1))


def open_recon_store(url: str) -> ReconStore:
    """The recon tables in the database of a store URL (unopened)."""
    if url.startswith("sqlite:///"):
        return _SqliteRecon(url.removeprefix("sqlite://"))
    if url.startswith(("postgresql://", "postgres://")):
        return _PostgresRecon(url)
    raise ValueError(f"unsupported store URL {url!r}: use sqlite:///PATH or postgresql://...")
