"""Durable state of the switch behind one interface, with SQLite and PostgreSQL backends."""

from __future__ import annotations

from switch.store.base import (
    AccountBalance,
    BatchResult,
    Event,
    HistoryRow,
    IntakeError,
    JournalEntry,
    NewPayment,
    OutboxEvent,
    Posting,
    Store,
    StoreError,
    SummaryRow,
    Transition,
    WriteBatch,
)

__all__ = [
    "AccountBalance",
    "BatchResult",
    "Event",
    "HistoryRow",
    "IntakeError",
    "JournalEntry",
    "NewPayment",
    "OutboxEvent",
    "Posting",
    "Store",
    "StoreError",
    "SummaryRow",
    "Transition",
    "WriteBatch",
    "open_store",
]


def open_store(url: str) -> Store:
    """A store for a URL: `sqlite:///absolute/path.db` or `postgresql://user@host:port/db`.

    The store is returned unopened; `await store.open()` connects and migrates.
    """
    if url.startswith("sqlite:///"):
        from switch.store.sqlite import SqliteStore

        # sqlite:// + an absolute path, so sqlite:///var/x.db names /var/x.db
        return SqliteStore(url.removeprefix("sqlite://"))
    if url.startswith(("postgresql://", "postgres://")):
        from switch.store.postgres import PostgresStore

        return PostgresStore(url)
    raise StoreError(f"unsupported store URL {url!r}: use sqlite:///PATH or postgresql://...")
