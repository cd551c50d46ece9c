"""The production store: PostgreSQL through asyncpg.

A group-commit batch becomes a handful of set-based statements (unnest arrays), not a statement
per row: one round trip per table, whatever the batch size.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from typing import Any

import asyncpg

from routing.decision import explain_record
from switch.order import Payment
from switch.store.base import (
    BatchResult,
    BatchRow,
    CapRow,
    HistoryRow,
    IntakeError,
    JournalEntry,
    OutboxEvent,
    Store,
    StoreError,
    SummaryRow,
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

log = logging.getLogger(__name__)

CLOSE_S = 10.0  # how long a closing pool waits for its connections to come back


async def close_pool(pool: asyncpg.Pool, what: str, *, timeout_s: float = CLOSE_S) -> None:
    """Close `pool` gracefully, but not forever. `Pool.close` waits for every connection to be
    released, so one still held (a task that missed its cancellation, a query the server never
    answers) would keep a stopping switch, and a test's teardown, waiting for good. After
    `timeout_s` the connections are dropped; PostgreSQL rolls back what they had open."""
    try:
        await asyncio.wait_for(pool.close(), timeout_s)
    except TimeoutError:
        log.warning("%s: connections still in use %.0f s into closing; dropping them", what,
                    timeout_s)
        pool.terminate()
    except BaseException:  # cancelled while closing: still leave nothing open behind
        pool.terminate()
        raise


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
                fee BIGINT NOT NULL DEFAULT 0,
                business_date TEXT,
                amount BIGINT NOT NULL,
                currency TEXT NOT NULL,
                end_to_end_id TEXT NOT NULL UNIQUE,
                uetr TEXT NOT NULL UNIQUE,
                order_blob BYTEA NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                UNIQUE (client_id, client_order_id)
            )""",
            "CREATE INDEX payments_state ON payments (state)",
            """CREATE TABLE payment_history (
                id BIGSERIAL PRIMARY KEY,
                payment_id TEXT NOT NULL REFERENCES payments (payment_id),
                from_state TEXT,
                to_state TEXT NOT NULL,
                at TEXT NOT NULL,
                cause TEXT NOT NULL,
                reason TEXT
            )""",
            "CREATE INDEX payment_history_payment ON payment_history (payment_id)",
            """CREATE TABLE outbox (
                event_id BIGSERIAL PRIMARY KEY,
                payment_id TEXT NOT NULL,
                event_type TEXT NOT NULL,
                body BYTEA NOT NULL,
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE intake_errors (
                id BIGSERIAL PRIMARY KEY,
                client_id TEXT NOT NULL,
                seq BIGINT,
                code TEXT NOT NULL,
                detail TEXT NOT NULL,
                raw BYTEA NOT NULL,
                at TEXT NOT NULL
            )""",
            # Daily caps used per channel and business day: debtor '' is the channel-wide row.
            """CREATE TABLE route_caps (
                channel TEXT NOT NULL,
                business_date TEXT NOT NULL,
                debtor TEXT NOT NULL DEFAULT '',
                used BIGINT NOT NULL,
                PRIMARY KEY (channel, business_date, debtor)
            )""",
        ],
    ),
    # The routing decision (routing.decision.DecisionRecord, MessagePack) on the history row
    # of the transition that carried it out.
    (2, ["ALTER TABLE payment_history ADD COLUMN route_decision BYTEA"]),
    # The message journal: each message once (zlib), linked to every payment it was about.
    (3, [
        """CREATE TABLE channel_messages (
            id BIGSERIAL PRIMARY KEY,
            channel TEXT NOT NULL,
            direction TEXT NOT NULL,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            data BYTEA NOT NULL
        )""",
        """CREATE TABLE channel_message_payments (
            payment_id TEXT NOT NULL,
            message_id BIGINT NOT NULL REFERENCES channel_messages (id),
            PRIMARY KEY (payment_id, message_id)
        )""",
    ]),
    # Micro-payment batches; a payment joins at most one batch, ever (its primary key).
    (4, [
        """CREATE TABLE batches (
            batch_id TEXT PRIMARY KEY, profile TEXT NOT NULL, channel TEXT NOT NULL,
            currency TEXT NOT NULL, payee BYTEA NOT NULL, payee_account TEXT NOT NULL,
            window_key TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL,
            opened_at TEXT NOT NULL, closes_at TEXT NOT NULL,
            end_to_end_id TEXT NOT NULL UNIQUE, uetr TEXT NOT NULL UNIQUE,
            members INTEGER NOT NULL, total BIGINT NOT NULL, fee BIGINT NOT NULL,
            fee_alone BIGINT NOT NULL, business_date TEXT, closed_at TEXT, submitted_at TEXT,
            finished_at TEXT, reason TEXT, retry BOOLEAN NOT NULL,
            UNIQUE (profile, payee_account, currency, window_key, seq)
        )""",
        "CREATE INDEX batches_state ON batches (state)",
        """CREATE TABLE batch_members (
            payment_id TEXT PRIMARY KEY REFERENCES payments (payment_id),
            batch_id TEXT NOT NULL REFERENCES batches (batch_id),
            amount BIGINT NOT NULL,
            joined BIGSERIAL
        )""",
        "CREATE INDEX batch_members_batch ON batch_members (batch_id, joined)",
    ]),
    # Several switch processes over one database (switch.cluster): who drives each unfinished
    # payment, who is alive, and who holds what only one may hold.
    (5, [
        "ALTER TABLE payments ADD COLUMN owner TEXT",
        "CREATE INDEX payments_owner ON payments (owner) "
        "WHERE state NOT IN ('SETTLED', 'REJECTED', 'RETURNED', 'CANCELLED')",
        """CREATE TABLE cluster_workers (
            worker_id TEXT PRIMARY KEY,
            address TEXT NOT NULL,
            started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            stopped BOOLEAN NOT NULL DEFAULT false
        )""",
        """CREATE TABLE cluster_leases (
            name TEXT PRIMARY KEY,
            worker_id TEXT NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL
        )""",
    ]),
    # Prefunded positions reserved by routed payments (switch.store.base.PositionClaim); one
    # row per channel and currency to lock claims on, with how far reservations settled in
    # the books were forgotten.
    (6, [
        """CREATE TABLE route_positions (
            payment_id TEXT PRIMARY KEY,
            channel TEXT NOT NULL,
            currency TEXT NOT NULL,
            amount BIGINT NOT NULL,
            settled_upto BIGINT
        )""",
        "CREATE INDEX route_positions_key ON route_positions (channel, currency)",
        """CREATE TABLE route_position_keys (
            channel TEXT NOT NULL,
            currency TEXT NOT NULL,
            gc_upto BIGINT NOT NULL,
            PRIMARY KEY (channel, currency)
        )""",
    ]),
]

_BATCH_COLS = ("batch_id, profile, channel, currency, payee, payee_account, window_key, seq, "
               "state, opened_at, closes_at, end_to_end_id, uetr, members, total, fee, "
               "fee_alone, business_date, closed_at, submitted_at, finished_at, reason, retry")
_BATCH_FIXED = {"batch_id", "profile", "channel", "currency", "payee", "payee_account",
                "window_key", "seq", "opened_at", "end_to_end_id", "uetr"}
_BATCH_UPDATE = ", ".join(f"{c} = excluded.{c}" for c in _BATCH_COLS.replace(" ", "").split(",")
                          if c not in _BATCH_FIXED)

# Any fixed number: it only has to be the same in every process migrating this database.
_MIGRATION_LOCK = 7_400_001

_PAYMENT_COLS = (
    "payment_id, client_id, client_order_id, state, reason, channel, fee, amount, currency, "
    "end_to_end_id, uetr, order_blob, created_at, updated_at, business_date"
)
_PAYMENT_TYPES = (
    "text[], text[], text[], text[], text[], text[], bigint[], bigint[], text[], "
    "text[], text[], bytea[], text[], text[], text[]"
)


def _payment_of(r: asyncpg.Record) -> Payment:
    return Payment(
        payment_id=r["payment_id"], client_id=r["client_id"], state=r["state"],
        reason=r["reason"], channel=r["channel"], fee=r["fee"], end_to_end_id=r["end_to_end_id"],
        uetr=r["uetr"], order=decode_order(r["order_blob"]), created_at=r["created_at"],
        updated_at=r["updated_at"], business_date=r["business_date"],
    )


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(width)] if rows else [[] for _ in range(width)]


class PostgresStore(Store):
    def __init__(self, dsn: str, *, min_size: int = 2, max_size: int = 8) -> None:
        self.owner: str | None = None  # this worker's id in a cluster (switch.cluster)
        self.url = dsn
        self._dsn = dsn
        self._min, self._max = min_size, max_size
        self._pool: asyncpg.Pool | None = None
        self._outbox_horizon = _OutboxHorizon()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("store is not open")
        return self._pool

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self._dsn, min_size=self._min, max_size=self._max, command_timeout=60,
            # Set here, not left to the server: a database or role configured with
            # synchronous_commit=off would let an acknowledged order vanish in a crash.
            server_settings={"synchronous_commit": "on"},
        )
        async with self.pool.acquire() as con, con.transaction():
            await con.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
            )
            current = await con.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
            for version, statements in MIGRATIONS:
                if version <= current:
                    continue
                for sql in statements:
                    await con.execute(sql)
                await con.execute("INSERT INTO schema_version (version) VALUES ($1)", version)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await close_pool(pool, "switch store")

    async def schema_version(self) -> int:
        return int(await self.pool.fetchval("SELECT coalesce(max(version), 0) FROM schema_version"))

    async def durability(self) -> dict[str, str]:
        async with self.pool.acquire() as con:
            return {name: str(await con.fetchval(f"SHOW {name}"))
                    for name in ("synchronous_commit", "fsync", "full_page_writes")}

    async def commit(self, batch: WriteBatch) -> BatchResult:
        async with self.pool.acquire() as con, con.transaction():
            accepted = await self._accept(con, batch)
            applied = await self._transitions(con, batch.transitions)
            if batch.intake_errors:
                await con.executemany(
                    "INSERT INTO intake_errors (client_id, seq, code, detail, raw, at) "
                    "VALUES ($1, $2, $3, $4, $5, $6)",
                    [(e.client_id, e.seq, e.code, e.detail, e.raw, e.at)
                     for e in batch.intake_errors],
                )
            if batch.batches:
                marks = ", ".join(f"${i}" for i in range(1, 24))
                await con.executemany(
                    f"INSERT INTO batches ({_BATCH_COLS}) VALUES ({marks}) "
                    f"ON CONFLICT (batch_id) DO UPDATE SET {_BATCH_UPDATE}",
                    [batch_row(b) for b in batch.batches])
            if batch.joins:
                await con.execute(
                    "INSERT INTO batch_members (payment_id, batch_id, amount) "
                    "SELECT j.payment_id, j.batch_id, j.amount "
                    "FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY "
                    "AS j(payment_id, batch_id, amount, n) "
                    "JOIN payments p ON p.payment_id = j.payment_id "
                    "AND p.state = 'QUEUED_FOR_BATCH' ORDER BY j.n",
                    [j.payment_id for j in batch.joins], [j.batch_id for j in batch.joins],
                    [j.amount for j in batch.joins])
            await _insert_outbox(con, [(e.key, e.event.type, encode_body(e.event.body), e.at)
                                       for e in batch.events])
        return BatchResult(accepted=accepted, applied=applied)

    async def _accept(
        self, con: asyncpg.Connection, batch: WriteBatch
    ) -> list[tuple[Payment, bool]]:
        if not batch.accepts:
            return []
        rows = [
            (p.payment_id, p.client_id, p.order.client_order_id, p.state, p.reason, p.channel,
             p.fee, p.order.amount, p.order.currency, p.end_to_end_id, p.uetr,
             encode_order(p.order), p.created_at, p.updated_at, p.business_date)
            for p in (n.payment for n in batch.accepts)
        ]
        created = await self._insert_payments(con, rows)
        result: list[tuple[Payment, bool]] = []
        history: list[tuple[Any, ...]] = []
        outbox: list[tuple[Any, ...]] = []
        missing: list[tuple[str, str]] = []
        for new in batch.accepts:
            p = new.payment
            if p.payment_id in created:
                created.discard(p.payment_id)  # the same payment twice in a batch: created once
                result.append((p, True))
                history.append(
                    (p.payment_id, None, p.state, p.created_at, "intake", p.reason, None))
                outbox.extend(
                    (p.payment_id, e.type, encode_body(e.body), p.created_at) for e in new.events
                )
            else:
                result.append((p, False))
                missing.append((p.client_id, p.order.client_order_id))
        if missing:
            existing = {
                (r["client_id"], r["client_order_id"]): _payment_of(r)
                for r in await con.fetch(
                    f"SELECT {_PAYMENT_COLS} FROM payments p JOIN unnest($1::text[], $2::text[]) "
                    "AS k(client_id, client_order_id) USING (client_id, client_order_id)",
                    [m[0] for m in missing], [m[1] for m in missing],
                )
            }
            result = [
                (p, True) if was_new else (existing[(p.client_id, p.order.client_order_id)], False)
                for p, was_new in result
            ]
        await _insert_history_outbox(con, history, outbox)
        return result

    async def _insert_payments(self, con: asyncpg.Connection,
                               rows: list[tuple[Any, ...]]) -> set[str]:
        cols = _columns(rows, 15)
        types = _PAYMENT_TYPES.split(", ")
        args = ", ".join(f"${i + 1}::{t}" for i, t in enumerate(types))
        returned = await con.fetch(
            f"INSERT INTO payments ({_PAYMENT_COLS}, owner) "
            f"SELECT *, ${len(types) + 1}::text FROM unnest({args}) "
            "ON CONFLICT (client_id, client_order_id) DO NOTHING RETURNING payment_id",
            *cols, self.owner,
        )
        return {r["payment_id"] for r in returned}

    async def _transitions(
        self, con: asyncpg.Connection, transitions: list[Transition]
    ) -> list[bool]:
        applied = [False] * len(transitions)
        over = await _over_caps(con, transitions) | await _refused_claims(con, transitions)
        # A payment may move twice in one batch (ROUTED then SUBMITTED): apply in rounds in which
        # each payment appears once, so each UPDATE sees the previous round's state.
        pending = [i for i in range(len(transitions)) if i not in over]
        history: list[tuple[Any, ...]] = []
        outbox: list[tuple[Any, ...]] = []
        moved_caps: list[Transition] = []  # applied transitions that change caps
        done: list[Transition] = []  # every applied transition
        while pending:
            seen: set[str] = set()
            this_round: list[int] = []
            later: list[int] = []
            for i in pending:
                pid = transitions[i].payment_id
                (later if pid in seen else this_round).append(i)
                seen.add(pid)
            ts = [transitions[i] for i in this_round]
            moved = {
                r["payment_id"]
                for r in await con.fetch(
                    "UPDATE payments p SET state = u.to_state, reason = u.reason, "
                    "channel = coalesce(u.channel, p.channel), fee = coalesce(u.fee, p.fee), "
                    "business_date = coalesce(u.business_date, p.business_date), "
                    "updated_at = u.at "
                    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
                    "$6::bigint[], $7::text[], $8::text[]) AS u(payment_id, from_state, "
                    "to_state, reason, channel, fee, at, business_date) "
                    "WHERE p.payment_id = u.payment_id AND p.state = u.from_state "
                    # a worker moves only what it owns: one presumed dead cannot write behind
                    # the back of the worker that took its payments over
                    "AND ($9::text IS NULL OR p.owner IS NULL OR p.owner = $9) "
                    "RETURNING p.payment_id",
                    [t.payment_id for t in ts], [t.from_state for t in ts],
                    [t.to_state for t in ts], [t.reason for t in ts], [t.channel for t in ts],
                    [t.fee for t in ts], [t.at for t in ts], [t.business_date for t in ts],
                    self.owner,
                )
            }
            for i, t in zip(this_round, ts, strict=True):
                if t.payment_id in moved:
                    applied[i] = True
                    done.append(t)
                    if t.caps:
                        moved_caps.append(t)
                    history.append((t.payment_id, t.from_state, t.to_state, t.at, t.cause,
                                    t.reason, t.route_decision))
                    outbox.extend(
                        (t.payment_id, e.type, encode_body(e.body), t.at) for e in t.events
                    )
            pending = later
        caps = cap_totals(moved_caps)
        if caps:
            # One row per key (ON CONFLICT may touch a row once per statement), taken in key
            # order so two writers on one database lock the rows in the same order.
            await con.execute(
                "INSERT INTO route_caps (channel, business_date, debtor, used) "
                "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) "
                "AS u(channel, business_date, debtor, used) "
                "ORDER BY channel, business_date, debtor "
                "ON CONFLICT (channel, business_date, debtor) "
                "DO UPDATE SET used = route_caps.used + excluded.used",
                *_columns(caps, 4),
            )
        await _insert_history_outbox(con, history, outbox)
        await _write_positions(con, done)
        return applied

    @property
    def dsn(self) -> str:
        return self._dsn

    async def owner_of(self, payment_id: str) -> str | None:
        """The worker that drives a payment (switch.cluster), None when nobody does."""
        return await self.pool.fetchval(
            "SELECT owner FROM payments WHERE payment_id = $1", payment_id)

    async def payment(self, payment_id: str) -> Payment | None:
        r = await self.pool.fetchrow(
            f"SELECT {_PAYMENT_COLS} FROM payments WHERE payment_id = $1", payment_id
        )
        return _payment_of(r) if r else None

    async def payment_by_client_key(self, client_id: str, client_order_id: str) -> Payment | None:
        r = await self.pool.fetchrow(
            f"SELECT {_PAYMENT_COLS} FROM payments WHERE client_id = $1 AND client_order_id = $2",
            client_id, client_order_id,
        )
        return _payment_of(r) if r else None

    async def payments_in_states(self, states: list[str], *, mine: bool = False
                                 ) -> list[Payment]:
        rows = await self.pool.fetch(
            f"SELECT {_PAYMENT_COLS} FROM payments WHERE state = ANY($1::text[]) "
            "AND ($2::text IS NULL OR owner = $2) "
            "ORDER BY created_at, payment_id",
            states, self.owner if mine else None,
        )
        return [_payment_of(r) for r in rows]

    async def history(self, payment_id: str) -> list[HistoryRow]:
        rows = await self.pool.fetch(
            "SELECT payment_id, from_state, to_state, at, cause, reason FROM payment_history "
            "WHERE payment_id = $1 ORDER BY id",
            payment_id,
        )
        return [HistoryRow(*r) for r in rows]

    async def intake_errors(self, client_id: str) -> list[IntakeError]:
        rows = await self.pool.fetch(
            "SELECT client_id, code, detail, raw, at, seq FROM intake_errors "
            "WHERE client_id = $1 ORDER BY id",
            client_id,
        )
        return [IntakeError(*r) for r in rows]

    async def summary(self) -> list[SummaryRow]:
        rows = await self.pool.fetch(
            "SELECT state, channel, currency, count(*), sum(amount)::bigint, sum(fee)::bigint "
            "FROM payments GROUP BY state, channel, currency ORDER BY state, channel, currency"
        )
        return [SummaryRow(*r) for r in rows]

    async def position_reserved(self, as_of: int) -> dict[tuple[str, str], int]:
        return {(r[0], r[1]): int(r[2]) for r in await self.pool.fetch(
            "SELECT channel, currency, sum(amount) FROM route_positions "
            "WHERE settled_upto IS NULL OR settled_upto > $1 GROUP BY channel, currency", as_of)}

    async def route_caps(self, since: str) -> list[CapRow]:
        rows = await self.pool.fetch(
            "SELECT channel, business_date, debtor, used FROM route_caps "
            "WHERE business_date >= $1 ORDER BY channel, business_date, debtor",
            since,
        )
        return [CapRow(*r) for r in rows]

    async def batches(self, states: list[str] | None = None) -> list[BatchRow]:
        if states:
            rows = await self.pool.fetch(f"SELECT {_BATCH_COLS} FROM batches "
                                         "WHERE state = ANY($1::text[]) "
                                         "ORDER BY opened_at, batch_id", states)
        else:
            rows = await self.pool.fetch(f"SELECT {_BATCH_COLS} FROM batches "
                                         "ORDER BY opened_at, batch_id")
        return [batch_of(r) for r in rows]

    async def batch(self, batch_id: str) -> BatchRow | None:
        row = await self.pool.fetchrow(f"SELECT {_BATCH_COLS} FROM batches WHERE batch_id = $1",
                                       batch_id)
        return batch_of(row) if row else None

    async def batch_members(self, batch_id: str) -> list[tuple[str, int]]:
        rows = await self.pool.fetch("SELECT payment_id, amount FROM batch_members "
                                     "WHERE batch_id = $1 ORDER BY joined", batch_id)
        return [(r[0], r[1]) for r in rows]

    async def request_batch_retry(self, batch_id: str) -> bool:
        done = await self.pool.execute("UPDATE batches SET retry = true WHERE batch_id = $1",
                                       batch_id)
        return bool(done.endswith(" 1"))

    async def record_messages(self, entries: list[JournalEntry]) -> None:
        if not entries:
            return
        async with self.pool.acquire() as con, con.transaction():
            ids = [r[0] for r in await con.fetch(
                "SELECT nextval(pg_get_serial_sequence('channel_messages', 'id')) "
                "FROM generate_series(1, $1)", len(entries))]
            await con.copy_records_to_table(
                "channel_messages", columns=("id", "channel", "direction", "at", "kind", "data"),
                records=[(i, e.channel, e.direction, e.at, e.kind, zlib.compress(e.data, 1))
                         for i, e in zip(ids, entries, strict=True)])
            await con.copy_records_to_table(
                "channel_message_payments", columns=("payment_id", "message_id"),
                records=[(pid, i) for i, e in zip(ids, entries, strict=True)
                         for pid in dict.fromkeys(e.payment_ids)])

    async def messages(self, payment_id: str) -> list[JournalEntry]:
        rows = await self.pool.fetch(
            "SELECT m.channel, m.direction, m.at, m.kind, m.data, "
            "array(SELECT l2.payment_id FROM channel_message_payments l2 "
            "      WHERE l2.message_id = m.id ORDER BY l2.payment_id) "
            "FROM channel_messages m JOIN channel_message_payments l ON l.message_id = m.id "
            "WHERE l.payment_id = $1 ORDER BY m.id", payment_id)
        return [JournalEntry(r[0], r[1], r[2], r[3], zlib.decompress(r[4]), tuple(r[5]))
                for r in rows]

    async def route_decision(self, payment_id: str) -> dict[str, Any] | None:
        blob = await self.pool.fetchval(
            "SELECT route_decision FROM payment_history WHERE payment_id = $1 "
            "AND route_decision IS NOT NULL ORDER BY id DESC LIMIT 1",
            payment_id,
        )
        return None if blob is None else explain_record(blob)

    async def outbox_has(self, key: str, event_type: str) -> bool:
        return await self.pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE payment_id = $1 AND event_type = $2)",
            key, event_type) is True

    async def outbox_after(self, event_id: int, limit: int) -> list[OutboxEvent]:
        """Events after ``event_id``, in id order, up to the horizon below which no event can
        still appear (see `_OutboxHorizon`): a reader's cursor never passes a gap that a
        transaction still in progress is going to fill."""
        async with self.pool.acquire() as con:
            # the sequence first, then who is writing: whoever drew an id <= last is among them
            last = await con.fetchval(
                "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM outbox_event_id_seq")
            running = await con.fetchval(_WRITING_NOW)
            upto = self._outbox_horizon.advance(int(last), frozenset(running or ()))
            if upto <= event_id:
                return []
            rows = await con.fetch(
                "SELECT event_id, payment_id, event_type, body, created_at FROM outbox "
                "WHERE event_id > $1 AND event_id <= $2 ORDER BY event_id LIMIT $3",
                event_id, upto, limit,
            )
        return [OutboxEvent(r[0], r[1], r[2], decode_body(r[3]), r[4]) for r in rows]

    async def outbox_count_after(self, event_id: int, cap: int) -> int:
        return int(await self.pool.fetchval(
            "SELECT count(*) FROM (SELECT 1 FROM outbox WHERE event_id > $1 LIMIT $2) t",
            event_id, cap))


async def _insert_history_outbox(
    con: asyncpg.Connection, history: list[tuple[Any, ...]], outbox: list[tuple[Any, ...]]
) -> None:
    if history:
        await con.execute(
            "INSERT INTO payment_history (payment_id, from_state, to_state, at, cause, reason, "
            "route_decision) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
            "$4::text[], $5::text[], $6::text[], $7::bytea[])",
            *_columns(history, 7),
        )
    await _insert_outbox(con, outbox)


async def _insert_outbox(con: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Outbox rows, in a transaction that has its id and the writers' lock before it draws
    event ids (the filter runs before the ids are drawn). A reader's horizon (`_OutboxHorizon`)
    relies on every holder of an event id showing as a writer in progress until it ends."""
    if rows:
        await con.execute(
            "INSERT INTO outbox (payment_id, event_type, body, created_at) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[]) "
            "WHERE pg_current_xact_id() IS NOT NULL "
            f"AND pg_advisory_xact_lock_shared({_OUTBOX_LOCK})::text IS NOT NULL",
            *_columns(rows, 4),
        )


# Every transaction that writes this schema's outbox holds this advisory lock (shared, so the
# writers never wait for each other) from before it draws an event id until it ends. Readers
# wait only for its holders: a long transaction doing anything else, in this database or
# another, holds no event id, and waiting for it would stall the books for nothing.
_OUTBOX_LOCK = "727001, hashtext(current_schema()) & 2147483647"  # (class, object) of the lock
_WRITING_NOW = (
    "SELECT array_agg(a.backend_xid::text::bigint) FROM pg_locks l "
    "JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.classid = 727001 AND l.objid = (hashtext(current_schema()) & 2147483647)::oid "
    "AND a.backend_xid IS NOT NULL")


class _OutboxHorizon:
    """The highest event id below which the outbox is complete.

    Event ids come from a sequence, so with several writers (processes of a cluster, or one
    process's pooled connections) id order is not commit order: id 7 can be visible while the
    transaction holding id 6 is still running, and a cursor that moved past 7 would never see
    6. So each read notes the sequence's last value, then the transactions in progress; every
    id up to that value belongs to one of them or to a transaction that has ended. Once none
    of them is in progress any more (a later reading tells, without another query), the ids up
    to the value are final, gaps included (a rolled-back transaction's).
    """

    _PENDING_MAX = 64  # beyond this, the newest two merge: a later horizon, never a wrong one

    def __init__(self) -> None:
        self.safe = 0
        self._pending: list[tuple[int, frozenset[int]]] = []

    def advance(self, last: int, running: frozenset[int]) -> int:
        """Note a reading (the sequence's last value, then the transaction ids in progress)
        and return the horizon.

        >>> h = _OutboxHorizon()
        >>> h.advance(10, frozenset({100, 102}))  # ids up to 10: wait for 100 and 102
        0
        >>> h.advance(12, frozenset({102, 104}))  # 100 ended, 102 runs on
        0
        >>> h.advance(15, frozenset({104}))       # both ended: up to 10 is final
        10
        >>> h.advance(15, frozenset())            # nothing in progress: all is final
        15
        """
        self._pending.append((last, running))
        if len(self._pending) > self._PENDING_MAX:
            (_, older), (newest, newer) = self._pending[-2:]
            self._pending[-2:] = [(newest, older | newer)]
        waiting = []
        for value, holders in self._pending:
            if holders & running:
                waiting.append((value, holders))
            else:
                self.safe = max(self.safe, value)
        self._pending = waiting
        return self.safe



async def _over_caps(con: asyncpg.Connection, transitions: list[Transition]) -> set[int]:
    """The transitions that would take a daily cap past its limit, given what every process
    has used: the rows are locked in key order for the rest of the transaction, so two workers
    sharing a cap take turns and neither overshoots it. Refused transitions are not applied
    (their payments stay where they were; the engine routes them again)."""
    nets: list[tuple[int, dict[tuple[str, str, str], tuple[int, int | None]]]] = []
    for i, t in enumerate(transitions):
        per_key: dict[tuple[str, str, str], tuple[int, int | None]] = {}
        for d in t.caps:
            rows = [((d.channel, d.business_date, ""), d.channel_cap)]
            if d.debtor_account:  # '' names the channel row: never count it twice
                rows.append(((d.channel, d.business_date, d.debtor_account), d.debtor_cap))
            for key, cap in rows:
                amount, limit = per_key.get(key, (0, None))
                per_key[key] = (amount + d.amount, cap if cap is not None else limit)
        limited = {k: v for k, v in per_key.items() if v[0] > 0 and v[1] is not None}
        if limited:
            nets.append((i, limited))
    if not nets:
        return set()
    keys = sorted({k for _, per_key in nets for k in per_key})
    cols = [list(c) for c in zip(*keys, strict=True)]
    await con.execute(
        "INSERT INTO route_caps (channel, business_date, debtor, used) "
        "SELECT c, b, d, 0 FROM unnest($1::text[], $2::text[], $3::text[]) AS u(c, b, d) "
        "ORDER BY c, b, d ON CONFLICT DO NOTHING", *cols)
    rows = await con.fetch(
        "SELECT channel, business_date, debtor, used FROM route_caps "
        "WHERE (channel, business_date, debtor) IN "
        "(SELECT * FROM unnest($1::text[], $2::text[], $3::text[])) "
        "ORDER BY channel, business_date, debtor FOR UPDATE", *cols)
    used = {(r[0], r[1], r[2]): int(r[3]) for r in rows}
    over: set[int] = set()
    for i, per_key in nets:
        if any(used[k] + amount > limit for k, (amount, limit) in per_key.items()
               if limit is not None):
            over.add(i)
            continue
        for k, (amount, _) in per_key.items():
            used[k] += amount
    return over


async def _refused_claims(con: asyncpg.Connection, transitions: list[Transition]) -> set[int]:
    """The position claims that do not fit, given every process's reservations: the key rows
    are locked in key order for the rest of the transaction, so two workers claiming one
    position take turns and neither routes money the other has taken."""
    claims = [(i, t.position) for i, t in enumerate(transitions) if t.position is not None]
    if not claims:
        return set()
    keys = sorted({(c.channel, c.currency) for _, c in claims})
    cols = [list(c) for c in zip(*keys, strict=True)]
    as_of = min(c.as_of for _, c in claims)
    await con.execute(
        "INSERT INTO route_position_keys (channel, currency, gc_upto) "
        "SELECT c, k, 0 FROM unnest($1::text[], $2::text[]) AS u(c, k) "
        "ORDER BY c, k ON CONFLICT DO NOTHING", *cols)
    # Settled reservations this snapshot sees posted are done with; an older snapshot would
    # count their money as still available, so claims from one are refused after this.
    locked = await con.fetch(
        "SELECT channel, currency, gc_upto FROM route_position_keys "
        "WHERE (channel, currency) IN (SELECT * FROM unnest($1::text[], $2::text[])) "
        "ORDER BY channel, currency FOR UPDATE", *cols)
    gc = {(r[0], r[1]): max(int(r[2]), as_of) for r in locked}
    await con.execute(
        "UPDATE route_position_keys SET gc_upto = $3 "
        "WHERE (channel, currency) IN (SELECT * FROM unnest($1::text[], $2::text[])) "
        "AND gc_upto < $3", *cols, as_of)
    await con.execute(
        "DELETE FROM route_positions WHERE (channel, currency) IN "
        "(SELECT * FROM unnest($1::text[], $2::text[])) AND settled_upto <= $3", *cols, as_of)
    reserved = {(r[0], r[1]): int(r[2]) for r in await con.fetch(
        "SELECT channel, currency, sum(amount) FROM route_positions "
        "WHERE (channel, currency) IN (SELECT * FROM unnest($1::text[], $2::text[])) "
        "AND (settled_upto IS NULL OR settled_upto > $3) AND payment_id <> ALL($4::text[]) "
        "GROUP BY channel, currency",
        *cols, as_of, [transitions[i].payment_id for i, _ in claims])}
    return position_refusals(claims, reserved, gc)


async def _write_positions(con: asyncpg.Connection, applied: list[Transition]) -> None:
    """Reservations of this batch's applied moves: taken, given back, or marked settled."""
    w = position_writes(applied)
    if w.claims:
        await con.execute(
            "INSERT INTO route_positions (payment_id, channel, currency, amount) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) "
            "ON CONFLICT (payment_id) DO UPDATE SET channel = excluded.channel, "
            "currency = excluded.currency, amount = excluded.amount, settled_upto = NULL",
            [p for p, _ in w.claims], [c.channel for _, c in w.claims],
            [c.currency for _, c in w.claims], [c.amount for _, c in w.claims])
    if w.ended:
        await con.execute("DELETE FROM route_positions WHERE payment_id = ANY($1::text[])",
                          w.ended)
    if w.settled:
        # the newest event id is at least the settlement's: the reservation counts until the
        # books have posted that far
        await con.execute(
            "UPDATE route_positions SET settled_upto = (SELECT coalesce(max(event_id), 0) "
            "FROM outbox) WHERE payment_id = ANY($1::text[])", w.settled)
