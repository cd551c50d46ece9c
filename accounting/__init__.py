"""Books: accounting events from the outbox to balanced double-entry journal entries."""

from accounting.poster import LedgerCheck, LedgerPoster, check_ledger, entries_for

__all__ = ["LedgerCheck", "LedgerPoster", "check_ledger", "entries_for"]
