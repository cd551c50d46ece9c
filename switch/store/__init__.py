"""Durable state of the switch behind one interface, with SQLite and PostgreSQL backends."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from switch.store.base import (
    BatchJoin,
    BatchResult,
    BatchRow,
    CapDelta,
    CapRow,
    Event,
    HistoryRow,
    IntakeError,
    JournalEntry,
    NewPayment,
    OutboxEvent,
    PositionClaim,
    StandaloneEvent,
    Store,
    StoreError,
    SummaryRow,
    Transition,
    WriteBatch,
)

__all__ = [
    "BatchJoin",
    "BatchResult",
    "BatchRow",
    "CapDelta",
    "CapRow",
    "Event",
    "HistoryRow",
    "IntakeError",
    "JournalEntry",
    "NewPayment",
    "OutboxEvent",
    "PositionClaim",
    "StandaloneEvent",
    "Store",
    "StoreError",
    "SummaryRow",
    "Transition",
    "WriteBatch",
    "open_store",
    "redacted",
]


def redacted(url: str) -> str:
    """A store URL fit to print or log: any password replaced.

    >>> redacted("postgresql://ops:s3cret@db:5432/payswitch")
    'postgresql://ops:***@db:5432/payswitch'
    >>> redacted("sqlite:///var/lib/payswitch.db")
    'sqlite:///var/lib/payswitch.db'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


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
