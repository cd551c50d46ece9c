"""Books: accounting events from the outbox to balanced double-entry journal entries."""

from accounting.config import Books, PostingRule, load_books, split_fee
from accounting.core import Alert, Balance, Leg, PostResult
from accounting.errors import AccountingError, BooksConfigError, Code, IdempotencyConflict
from accounting.ledger import (
    EntryView,
    Ledger,
    Position,
    StatementLine,
    TrialBalanceRow,
    open_ledger,
)
from accounting.poster import CONSUMER, LedgerCheck, LedgerPoster, check_ledger
from accounting.worker import AccountingWorker

__all__ = [
    "CONSUMER",
    "AccountingError",
    "AccountingWorker",
    "Alert",
    "Balance",
    "Books",
    "BooksConfigError",
    "Code",
    "EntryView",
    "IdempotencyConflict",
    "Ledger",
    "LedgerCheck",
    "LedgerPoster",
    "Leg",
    "Position",
    "PostResult",
    "PostingRule",
    "StatementLine",
    "TrialBalanceRow",
    "check_ledger",
    "load_books",
    "open_ledger",
    "split_fee",
]
