"""The embedded store: one SQLite file in WAL mode, driven from one dedicated thread.

sqlite3 blocks, so every call runs on a single worker thread; while one group commit runs there,
the next batch gathers on the event loop, which is what makes group commit happen by itself.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from routing.decision import explain_record
from switch.order import Payment
from switch.store.base import (
    BatchResult,
    BatchRow,
    CapRow,
    HistoryRow,
    IntakeError,
    JournalEntry,
    NewPayment,
    OutboxEvent,
    Store,
    StoreError,
    SummaryRow,
    ThreadLoad,
    Transition,
    WriteBatch,
    batch_of,
    batch_row,
    cap_totals,
    decode_body,
    decode_order,
    encode_body,
    encode_order,
    position_refusals,
    position_writes,
)

T = TypeVar("T")

# One batch per payee, window and sequence: two processes cannot open the same one twice.
_BATCH_TABLE = """
    batch_id TEXT PRIMARY KEY, profile TEXT NOT NULL, channel TEXT NOT NULL,
    currency TEXT NOT NULL, payee BLOB NOT NULL, payee_account TEXT NOT NULL,
    window_key TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL,
    opened_at TEXT NOT NULL, closes_at TEXT NOT NULL, end_to_end_id TEXT NOT NULL UNIQUE,
    uetr TEXT NOT NULL UNIQUE, members INTEGER NOT NULL, total INTEGER NOT NULL,
    fee INTEGER NOT NULL, fee_alone INTEGER NOT NULL, business_date TEXT, closed_at TEXT,
    submitted_at TEXT, finished_at TEXT, reason TEXT, retry INTEGER NOT NULL,
    UNIQUE (profile, payee_account, currency, window_key, seq)"""
_BATCH_COLS = ("batch_id, profile, channel, currency, payee, payee_account, window_key, seq, "
               "state, opened_at, closes_at, end_to_end_id, uetr, members, total, fee, "
               "fee_alone, business_date, closed_at, submitted_at, finished_at, reason, retry")
_BATCH_UPDATE = ", ".join(
    f"{c} = excluded.{c}" for c in _BATCH_COLS.replace(" ", "").split(",")
    if c not in ("batch_id", "profile", "channel", "currency", "payee", "payee_account",
                 "window_key", "seq", "opened_at", "end_to_end_id", "uetr"))

# Versioned migrations: (version, statements). Append only; never edit a released one.
MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            """CREATE TABLE payments (
                payment_id TEXT PRIMARY KEY,
                client_id TEXT NOT NULL,
                client_order_id TEXT NOT NULL,
                state TEXT NOT NULL,
                reason TEXT,
                channel TEXT,
                fee INTEGER NOT NULL DEFAULT 0,
                business_date TEXT,
                amount INTEGER NOT NULL,
                currency TEXT NOT NULL,
                end_to_end_id TEXT NOT NULL UNIQUE,
                uetr TEXT NOT NULL UNIQUE,
                order_blob BLOB NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                UNIQUE (client_id, client_order_id)
            )""",
            "CREATE INDEX payments_state ON payments (state)",
            """CREATE TABLE payment_history (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                payment_id TEXT NOT NULL REFERENCES payments (payment_id),
                from_state TEXT,
                to_state TEXT NOT NULL,
                at TEXT NOT NULL,
                cause TEXT NOT NULL,
                reason TEXT
            )""",
            "CREATE INDEX payment_history_payment ON payment_history (payment_id)",
            """CREATE TABLE outbox (
                event_id INTEGER PRIMARY KEY AUTOINCREMENT,
                payment_id TEXT NOT NULL,
                event_type TEXT NOT NULL,
                body BLOB NOT NULL,
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE intake_errors (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                client_id TEXT NOT NULL,
                seq INTEGER,
                code TEXT NOT NULL,
                detail TEXT NOT NULL,
                raw BLOB NOT NULL,
                at TEXT NOT NULL
            )""",
            # Daily caps used per channel and business day: debtor '' is the channel-wide row.
            """CREATE TABLE route_caps (
                channel TEXT NOT NULL,
                business_date TEXT NOT NULL,
                debtor TEXT NOT NULL DEFAULT '',
                used INTEGER NOT NULL,
                PRIMARY KEY (channel, business_date, debtor)
            )""",
        ],
    ),
    # The routing decision (routing.decision.DecisionRecord, MessagePack) on the history row
    # of the transition that carried it out.
    (2, ["ALTER TABLE payment_history ADD COLUMN route_decision BLOB"]),
    # The message journal: each message once (zlib), linked to every payment it was about.
    (3, [
        """CREATE TABLE channel_messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            channel TEXT NOT NULL,
            direction TEXT NOT NULL,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            data BLOB NOT NULL
        )""",
        """CREATE TABLE channel_message_payments (
            payment_id TEXT NOT NULL,
            message_id INTEGER NOT NULL REFERENCES channel_messages (id),
            PRIMARY KEY (payment_id, message_id)
        )""",
    ]),
    # Micro-payment batches; a payment joins at most one batch, ever (its primary key).
    (4, [
        f"""CREATE TABLE batches ({_BATCH_TABLE})""",
        "CREATE INDEX batches_state ON batches (state)",
        """CREATE TABLE batch_members (
            payment_id TEXT PRIMARY KEY REFERENCES payments (payment_id),
            batch_id TEXT NOT NULL REFERENCES batches (batch_id),
            amount INTEGER NOT NULL,
            joined INTEGER NOT NULL
        )""",
        "CREATE INDEX batch_members_batch ON batch_members (batch_id, joined)",
    ]),
    # Prefunded positions reserved by routed payments (switch.store.base.PositionClaim); one
    # row per channel and currency to serialise claims on, with how far reservations settled
    # in the books were forgotten.
    (5, [
        """CREATE TABLE route_positions (
            payment_id TEXT PRIMARY KEY,
            channel TEXT NOT NULL,
            currency TEXT NOT NULL,
            amount INTEGER NOT NULL,
            settled_upto INTEGER
        )""",
        "CREATE INDEX route_positions_key ON route_positions (channel, currency)",
        """CREATE TABLE route_position_keys (
            channel TEXT NOT NULL,
            currency TEXT NOT NULL,
            gc_upto INTEGER NOT NULL,
            PRIMARY KEY (channel, currency)
        )""",
    ]),
]

_PAYMENT_COLS = (
    "payment_id, client_id, client_order_id, state, reason, channel, fee, amount, currency, "
    "end_to_end_id, uetr, order_blob, created_at, updated_at, business_date"
)


def _payment_row(p: Payment) -> tuple[object, ...]:
    return (
        p.payment_id, p.client_id, p.order.client_order_id, p.state, p.reason, p.channel, p.fee,
        p.order.amount, p.order.currency, p.end_to_end_id, p.uetr, encode_order(p.order),
        p.created_at, p.updated_at, p.business_date,
    )


def _payment_of(row: tuple[Any, ...]) -> Payment:
    return Payment(
        payment_id=row[0], client_id=row[1], state=row[3], reason=row[4], channel=row[5],
        fee=row[6], end_to_end_id=row[9], uetr=row[10], order=decode_order(row[11]),
        created_at=row[12], updated_at=row[13], business_date=row[14],
    )


_BUSY_S = 5.0  # how long a statement waits for another connection's lock


def connect(path: Path, synchronous: str) -> sqlite3.Connection:
    """A connection to the switch's database file in WAL mode (the store's and the books').

    SQLite does not consult its busy handler while another connection is turning WAL on, so
    of several processes opening a new file at once some got "database is locked" at once;
    turning it on is tried again for as long as any other statement would wait.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=_BUSY_S, isolation_level=None, check_same_thread=False)
    deadline = time.monotonic() + _BUSY_S
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                db.close()
                raise
            time.sleep(0.005)
    # FULL by default: an ack promises the order survives power loss, not just a crash.
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db


class FileThread:
    """The one thread that runs this process's statements on one database file, and what it
    spent its time on.

    SQLite lets one connection write at a time; two connections of one process (the store's and
    the books') that met at its lock waited in the busy handler's sleeps, which grow to 100 ms,
    so a group commit that came in behind a ledger page waited far longer than the page. Queued
    on one thread, it waits only for the work ahead of it. That thread is the embedded store's
    ceiling (one writer): each job is counted under its kind, how long it waited for the thread
    and how long it held it, so the metrics show how busy the writer is and who keeps it busy.
    """

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self.users: set[object] = set()  # the stores and ledgers open on the file here
        self.load: dict[str, ThreadLoad] = {}  # written on the thread only

    async def run(self, kind: str, fn: Callable[..., T], *args: Any) -> T:
        queued = time.perf_counter()

        def job() -> T:
            started = time.perf_counter()
            try:
                return fn(*args)
            finally:
                load = self.load.get(kind) or self.load.setdefault(kind, ThreadLoad())
                load.jobs += 1
                load.waited_s += started - queued
                load.busy_s += time.perf_counter() - started

        return await asyncio.get_running_loop().run_in_executor(self.pool, job)


_FILE_THREADS: dict[Path, FileThread] = {}


def file_thread(path: Path, user: object) -> FileThread:
    """The thread for ``path``'s statements, shared by everything that opens it here."""
    thread = _FILE_THREADS.get(path) or _FILE_THREADS.setdefault(path, FileThread())
    thread.users.add(user)
    return thread


def release_file_thread(path: Path, user: object) -> None:
    """``user`` is done with ``path`` (again is harmless); the last one ends the thread."""
    thread = _FILE_THREADS.get(path)
    if thread is None or user not in thread.users:
        return
    thread.users.remove(user)
    if not thread.users:
        del _FILE_THREADS[path]
        thread.pool.shutdown(wait=True)


class SqliteStore(Store):
    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        self.path = Path(path).resolve()
        self.url = f"sqlite://{self.path}"
        self._synchronous = synchronous
        self._db: sqlite3.Connection | None = None
        self._thread = file_thread(self.path, self)

    async def _run(self, fn: Callable[[sqlite3.Connection], T], kind: str = "query") -> T:
        db = self._db
        if db is None:
            raise StoreError("store is not open")
        return await self._thread.run(kind, fn, db)

    async def open(self) -> None:
        def _open() -> sqlite3.Connection:
            db = connect(self.path, self._synchronous)
            db.execute("PRAGMA foreign_keys=ON")
            _migrate(db)
            return db

        self._db = await self._thread.run("open", _open)

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await self._thread.run("close", db.close)
        release_file_thread(self.path, self)

    async def schema_version(self) -> int:
        return await self._run(_version)

    async def durability(self) -> dict[str, str]:
        def read(db: sqlite3.Connection) -> dict[str, str]:
            sync = db.execute("PRAGMA synchronous").fetchone()[0]
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
            return {"synchronous": ("OFF", "NORMAL", "FULL", "EXTRA")[sync],
                    "journal_mode": str(mode)}

        return await self._run(read)

    def thread_load(self) -> dict[str, ThreadLoad]:
        return {kind: msgspec.structs.replace(load) for kind, load in self._thread.load.items()}

    async def commit(self, batch: WriteBatch) -> BatchResult:
        return await self._run(lambda db: _commit(db, batch), "commit")

    async def payment(self, payment_id: str) -> Payment | None:
        def q(db: sqlite3.Connection) -> Payment | None:
            row = db.execute(
                f"SELECT {_PAYMENT_COLS} FROM payments WHERE payment_id = ?", (payment_id,)
            ).fetchone()
            return _payment_of(row) if row else None

        return await self._run(q)

    async def payment_by_client_key(self, client_id: str, client_order_id: str) -> Payment | None:
        def q(db: sqlite3.Connection) -> Payment | None:
            row = db.execute(
                f"SELECT {_PAYMENT_COLS} FROM payments WHERE client_id = ? AND client_order_id = ?",
                (client_id, client_order_id),
            ).fetchone()
            return _payment_of(row) if row else None

        return await self._run(q)

    async def payments_in_states(self, states: list[str], *, mine: bool = False
                                 ) -> list[Payment]:
        marks = ",".join("?" * len(states))

        def q(db: sqlite3.Connection) -> list[Payment]:
            rows = db.execute(
                f"SELECT {_PAYMENT_COLS} FROM payments WHERE state IN ({marks}) "
                "ORDER BY created_at, payment_id",
                states,
            ).fetchall()
            return [_payment_of(r) for r in rows]

        return await self._run(q)

    async def history(self, payment_id: str) -> list[HistoryRow]:
        def q(db: sqlite3.Connection) -> list[HistoryRow]:
            rows = db.execute(
                "SELECT payment_id, from_state, to_state, at, cause, reason FROM payment_history "
                "WHERE payment_id = ? ORDER BY id",
                (payment_id,),
            ).fetchall()
            return [HistoryRow(*r) for r in rows]

        return await self._run(q)

    async def intake_errors(self, client_id: str) -> list[IntakeError]:
        def q(db: sqlite3.Connection) -> list[IntakeError]:
            rows = db.execute(
                "SELECT client_id, code, detail, raw, at, seq FROM intake_errors "
                "WHERE client_id = ? ORDER BY id",
                (client_id,),
            ).fetchall()
            return [IntakeError(*r) for r in rows]

        return await self._run(q)

    async def summary(self) -> list[SummaryRow]:
        def q(db: sqlite3.Connection) -> list[SummaryRow]:
            rows = db.execute(
                "SELECT state, channel, currency, count(*), sum(amount), sum(fee) FROM payments "
                "GROUP BY state, channel, currency ORDER BY state, channel, currency"
            ).fetchall()
            return [SummaryRow(*r) for r in rows]

        return await self._run(q)

    async def position_reserved(self, as_of: int) -> dict[tuple[str, str], int]:
        def q(db: sqlite3.Connection) -> dict[tuple[str, str], int]:
            return {(r[0], r[1]): int(r[2]) for r in db.execute(
                "SELECT channel, currency, sum(amount) FROM route_positions "
                "WHERE settled_upto IS NULL OR settled_upto > ? GROUP BY channel, currency",
                (as_of,))}

        return await self._run(q)

    async def route_caps(self, since: str) -> list[CapRow]:
        def q(db: sqlite3.Connection) -> list[CapRow]:
            rows = db.execute(
                "SELECT channel, business_date, debtor, used FROM route_caps "
                "WHERE business_date >= ? ORDER BY channel, business_date, debtor",
                (since,),
            ).fetchall()
            return [CapRow(*r) for r in rows]

        return await self._run(q)

    async def route_decision(self, payment_id: str) -> dict[str, Any] | None:
        def q(db: sqlite3.Connection) -> bytes | None:
            row = db.execute(
                "SELECT route_decision FROM payment_history WHERE payment_id = ? "
                "AND route_decision IS NOT NULL ORDER BY id DESC LIMIT 1",
                (payment_id,),
            ).fetchone()
            return None if row is None else bytes(row[0])

        blob = await self._run(q)
        return None if blob is None else explain_record(blob)

    async def batches(self, states: list[str] | None = None) -> list[BatchRow]:
        where = f" WHERE state IN ({','.join('?' * len(states))})" if states else ""

        def q(db: sqlite3.Connection) -> list[BatchRow]:
            rows = db.execute(f"SELECT {_BATCH_COLS} FROM batches{where} "
                              "ORDER BY opened_at, batch_id", states or ()).fetchall()
            return [batch_of(r) for r in rows]

        return await self._run(q)

    async def batch(self, batch_id: str) -> BatchRow | None:
        def q(db: sqlite3.Connection) -> BatchRow | None:
            row = db.execute(f"SELECT {_BATCH_COLS} FROM batches WHERE batch_id = ?",
                             (batch_id,)).fetchone()
            return batch_of(row) if row else None

        return await self._run(q)

    async def batch_members(self, batch_id: str) -> list[tuple[str, int]]:
        def q(db: sqlite3.Connection) -> list[tuple[str, int]]:
            return [(r[0], r[1]) for r in db.execute(
                "SELECT payment_id, amount FROM batch_members WHERE batch_id = ? ORDER BY joined",
                (batch_id,))]

        return await self._run(q)

    async def request_batch_retry(self, batch_id: str) -> bool:
        def q(db: sqlite3.Connection) -> bool:
            return db.execute("UPDATE batches SET retry = 1 WHERE batch_id = ?",
                              (batch_id,)).rowcount == 1

        return await self._run(q)

    async def record_messages(self, entries: list[JournalEntry]) -> None:
        def write(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                first = db.execute("SELECT coalesce(max(id), 0) + 1 FROM channel_messages"
                                   ).fetchone()[0]
                db.executemany(
                    "INSERT INTO channel_messages (id, channel, direction, at, kind, data) "
                    "VALUES (?,?,?,?,?,?)",
                    [(first + i, e.channel, e.direction, e.at, e.kind, zlib.compress(e.data, 1))
                     for i, e in enumerate(entries)])
                db.executemany(
                    "INSERT INTO channel_message_payments (payment_id, message_id) VALUES (?,?)",
                    [(pid, first + i) for i, e in enumerate(entries)
                     for pid in dict.fromkeys(e.payment_ids)])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        await self._run(write, "journal")

    async def messages(self, payment_id: str) -> list[JournalEntry]:
        def q(db: sqlite3.Connection) -> list[JournalEntry]:
            rows = db.execute(
                "SELECT m.id, m.channel, m.direction, m.at, m.kind, m.data FROM channel_messages m "
                "JOIN channel_message_payments l ON l.message_id = m.id WHERE l.payment_id = ? "
                "ORDER BY m.id", (payment_id,)).fetchall()
            return [_journal_entry(db, r) for r in rows]

        return await self._run(q)

    async def outbox_has(self, key: str, event_type: str) -> bool:
        def q(db: sqlite3.Connection) -> bool:
            return db.execute("SELECT 1 FROM outbox WHERE payment_id = ? AND event_type = ? "
                              "LIMIT 1", (key, event_type)).fetchone() is not None

        return await self._run(q)

    async def outbox_after(self, event_id: int, limit: int) -> list[OutboxEvent]:
        def q(db: sqlite3.Connection) -> list[OutboxEvent]:
            rows = db.execute(
                "SELECT event_id, payment_id, event_type, body, created_at FROM outbox "
                "WHERE event_id > ? ORDER BY event_id LIMIT ?",
                (event_id, limit),
            ).fetchall()
            return [OutboxEvent(r[0], r[1], r[2], decode_body(r[3]), r[4]) for r in rows]

        return await self._run(q, "outbox")

    async def outbox_count_after(self, event_id: int, cap: int) -> int:
        def q(db: sqlite3.Connection) -> int:
            return int(db.execute("SELECT count(*) FROM (SELECT 1 FROM outbox WHERE event_id > ? "
                                  "LIMIT ?)", (event_id, cap)).fetchone()[0])

        return await self._run(q, "outbox")



def _journal_entry(db: sqlite3.Connection, row: tuple[Any, ...]) -> JournalEntry:
    ids = tuple(r[0] for r in db.execute(
        "SELECT payment_id FROM channel_message_payments WHERE message_id = ? ORDER BY payment_id",
        (row[0],)))
    return JournalEntry(row[1], row[2], row[3], row[4], zlib.decompress(row[5]), ids)


def _refused_claims(db: sqlite3.Connection, transitions: list[Transition]) -> set[int]:
    """The position claims that do not fit (the write lock, taken by BEGIN IMMEDIATE, keeps
    every other writer out until COMMIT)."""
    claims = [(i, t.position) for i, t in enumerate(transitions) if t.position is not None]
    if not claims:
        return set()
    keys = sorted({(c.channel, c.currency) for _, c in claims})
    as_of = min(c.as_of for _, c in claims)
    db.executemany("INSERT INTO route_position_keys (channel, currency, gc_upto) "
                   "VALUES (?, ?, 0) ON CONFLICT DO NOTHING", keys)
    for channel, currency in keys:
        # settled reservations this snapshot sees posted are done with; an older snapshot
        # would count their money as still available, so claims from one are refused after
        db.execute("DELETE FROM route_positions WHERE channel = ? AND currency = ? "
                   "AND settled_upto <= ?", (channel, currency, as_of))
        db.execute("UPDATE route_position_keys SET gc_upto = max(gc_upto, ?) "
                   "WHERE channel = ? AND currency = ?", (as_of, channel, currency))
    gc = {(r[0], r[1]): int(r[2]) for r in db.execute(
        "SELECT channel, currency, gc_upto FROM route_position_keys")}
    claimers = [transitions[i].payment_id for i, _ in claims]
    reserved = {(r[0], r[1]): int(r[2]) for r in db.execute(
        "SELECT channel, currency, sum(amount) FROM route_positions "
        "WHERE (settled_upto IS NULL OR settled_upto > ?) "
        "AND payment_id NOT IN (SELECT value FROM json_each(?)) "
        "GROUP BY channel, currency", (as_of, json_list(claimers)))}
    return position_refusals(claims, reserved, gc)


def _write_positions(db: sqlite3.Connection, applied: list[Transition]) -> None:
    """Reservations of this batch's applied moves: taken, given back, or marked settled."""
    w = position_writes(applied)
    if w.claims:
        db.executemany(
            "INSERT INTO route_positions (payment_id, channel, currency, amount, settled_upto) "
            "VALUES (?, ?, ?, ?, NULL) ON CONFLICT (payment_id) DO UPDATE SET "
            "channel = excluded.channel, currency = excluded.currency, "
            "amount = excluded.amount, settled_upto = NULL",
            [(pid, c.channel, c.currency, c.amount) for pid, c in w.claims])
    if w.ended:
        db.executemany("DELETE FROM route_positions WHERE payment_id = ?",
                       [(pid,) for pid in w.ended])
    if w.settled:
        # the newest event id is at least the settlement's: the reservation counts until the
        # books have posted that far
        (upto,) = db.execute("SELECT coalesce(max(event_id), 0) FROM outbox").fetchone()
        db.executemany("UPDATE route_positions SET settled_upto = ? WHERE payment_id = ?",
                       [(upto, pid) for pid in w.settled])


def _version(db: sqlite3.Connection) -> int:
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = db.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _migrate(db: sqlite3.Connection) -> None:
    for version, statements in MIGRATIONS:
        if version <= _version(db):
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            # Read again under the write lock: another process may have migrated meanwhile.
            if version <= _version(db):
                db.execute("COMMIT")
                continue
            for sql in statements:
                db.execute(sql)
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


# Lists of keys travel as one JSON array (json_each), so each query is one statement whatever
# the count: a list of ? marks made a statement per length, and the sqlite3 module keeps 128
# prepared statements per connection (tens of MiB with IN lists of hundreds).
_JSON = msgspec.json.Encoder()


def json_list(items: list[Any]) -> str:
    """Keys for ``IN (SELECT value FROM json_each(?))``: one parameter for any number."""
    return _JSON.encode(items).decode()


def _existing_keys(db: sqlite3.Connection, accepts: list[NewPayment]
                   ) -> dict[tuple[str, str], Payment]:
    """The payments already stored under the idempotency keys of these accepts."""
    keys = list({(n.payment.client_id, n.payment.order.client_order_id) for n in accepts})
    found: dict[tuple[str, str], Payment] = {}
    for row in db.execute(
            f"SELECT {_PAYMENT_COLS} FROM payments WHERE (client_id, client_order_id) "
            "IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))", (json_list(keys),)):
        p = _payment_of(row)
        found[(p.client_id, p.order.client_order_id)] = p
    return found


def _states(db: sqlite3.Connection, payment_ids: set[str]) -> dict[str, str]:
    return dict(db.execute(
        "SELECT payment_id, state FROM payments WHERE payment_id IN "
        "(SELECT value FROM json_each(?))", (json_list(list(payment_ids)),)).fetchall())


def _commit(db: sqlite3.Connection, batch: WriteBatch) -> BatchResult:
    accepted: list[tuple[Payment, bool]] = []
    applied: list[bool] = []
    history: list[tuple[object, ...]] = []
    outbox: list[tuple[object, ...]] = []
    moved: list[Transition] = []  # applied transitions that change caps
    done: list[Transition] = []  # every applied transition
    db.execute("BEGIN IMMEDIATE")
    try:
        # The write lock is ours until COMMIT: read what exists once, decide every row here,
        # then write in bulk (a statement per row costs more than the rows themselves).
        existing = _existing_keys(db, batch.accepts)
        state: dict[str, str] = {}  # payment id -> state as this batch leaves it
        fresh: list[tuple[object, ...]] = []
        for new in batch.accepts:
            p = new.payment
            key = (p.client_id, p.order.client_order_id)
            if key in existing:
                accepted.append((existing[key], False))
                continue
            existing[key] = p  # the same key again later in this batch is a resend of it
            accepted.append((p, True))
            fresh.append(_payment_row(p))
            state[p.payment_id] = p.state
            history.append((p.payment_id, None, p.state, p.created_at, "intake", p.reason, None))
            outbox.extend(
                (p.payment_id, e.type, encode_body(e.body), p.created_at) for e in new.events
            )
        if fresh:
            db.executemany(
                f"INSERT INTO payments ({_PAYMENT_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                fresh)
        state.update(_states(db, {t.payment_id for t in batch.transitions} - state.keys()))
        refused = _refused_claims(db, batch.transitions)
        updates: list[tuple[object, ...]] = []
        for i, t in enumerate(batch.transitions):
            ok = state.get(t.payment_id) == t.from_state and i not in refused
            applied.append(ok)
            if not ok:
                continue
            state[t.payment_id] = t.to_state
            done.append(t)
            updates.append((t.to_state, t.reason, t.channel, t.fee, t.business_date, t.at,
                            t.payment_id, t.from_state))
            if t.caps:
                moved.append(t)
            history.append((t.payment_id, t.from_state, t.to_state, t.at, t.cause, t.reason,
                            t.route_decision))
            outbox.extend(
                (t.payment_id, e.type, encode_body(e.body), t.at) for e in t.events
            )
        if updates:
            db.executemany(
                "UPDATE payments SET state = ?, reason = ?, channel = coalesce(?, channel), "
                "fee = coalesce(?, fee), business_date = coalesce(?, business_date), "
                "updated_at = ? WHERE payment_id = ? AND state = ?", updates)
        caps = cap_totals(moved)
        if caps:
            db.executemany(
                "INSERT INTO route_caps (channel, business_date, debtor, used) VALUES (?,?,?,?) "
                "ON CONFLICT (channel, business_date, debtor) "
                "DO UPDATE SET used = used + excluded.used",
                caps,
            )
        if history:
            db.executemany(
                "INSERT INTO payment_history (payment_id, from_state, to_state, at, cause, reason, "
                "route_decision) VALUES (?,?,?,?,?,?,?)",
                history,
            )
        if outbox:
            db.executemany(
                "INSERT INTO outbox (payment_id, event_type, body, created_at) VALUES (?,?,?,?)",
                outbox,
            )
        _write_positions(db, done)
        if batch.intake_errors:
            db.executemany(
                "INSERT INTO intake_errors (client_id, seq, code, detail, raw, at) "
                "VALUES (?,?,?,?,?,?)",
                [(e.client_id, e.seq, e.code, e.detail, e.raw, e.at) for e in batch.intake_errors],
            )
        if batch.batches:
            db.executemany(
                f"INSERT INTO batches ({_BATCH_COLS}) VALUES ({','.join('?' * 23)}) "
                f"ON CONFLICT (batch_id) DO UPDATE SET {_BATCH_UPDATE}",
                [batch_row(b) for b in batch.batches])
        if batch.joins:
            start = db.execute("SELECT coalesce(max(joined), 0) FROM batch_members").fetchone()[0]
            db.executemany(
                "INSERT INTO batch_members (payment_id, batch_id, amount, joined) "
                "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM payments "
                "WHERE payment_id = ? AND state = 'QUEUED_FOR_BATCH')",
                [(j.payment_id, j.batch_id, j.amount, start + i, j.payment_id)
                 for i, j in enumerate(batch.joins, start=1)])
        if batch.events:
            db.executemany(
                "INSERT INTO outbox (payment_id, event_type, body, created_at) VALUES (?,?,?,?)",
                [(e.key, e.event.type, encode_body(e.event.body), e.at) for e in batch.events])
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return BatchResult(accepted=accepted, applied=applied)
