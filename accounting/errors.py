"""The accounting layer's errors and result codes (STYLE.md item 4: one hierarchy, stable codes).

Result codes follow TigerBeetle's naming, so operations staff who know one know the other. They are
part of the contract (stored with rejected entries, printed by the CLI): add, never rename.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    OK = "ok"
    EXISTS = "exists"  # the same key with the same content: the original result, nothing changed
    EXISTS_WITH_DIFFERENT_AMOUNT = "exists_with_different_amount"
    EXISTS_WITH_DIFFERENT_EVENT_TYPE = "exists_with_different_event_type"
    EXISTS_WITH_DIFFERENT_CONTENT = "exists_with_different_content"
    EXCEEDS_CREDITS = "exceeds_credits"  # a non-negative credit-normal account would go below 0
    EXCEEDS_DEBITS = "exceeds_debits"  # a non-negative debit-normal account would go below 0
    EXCEEDS_LIMIT = "exceeds_limit"  # an upper-limit account would pass its limit
    CURRENCY_MISMATCH = "currency_mismatch"
    ACCOUNT_NOT_FOUND = "account_not_found"
    NO_RULE = "no_rule"
    MISSING_FIELD = "missing_field"
    INVALID_AMOUNT = "invalid_amount"
    PENDING_TRANSFER_EXISTS = "pending_transfer_exists"
    PENDING_TRANSFER_NOT_FOUND = "pending_transfer_not_found"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided"
    EXCEEDS_PENDING_TRANSFER_AMOUNT = "exceeds_pending_transfer_amount"
    ENTRY_NOT_FOUND = "entry_not_found"
    ALREADY_REVERSED = "already_reversed"
    CANNOT_REVERSE_PENDING = "cannot_reverse_pending"


class AccountingError(Exception):
    """Base of the accounting layer's exceptions; `where` says which key, rule or entry."""

    code = "ACCOUNTING_ERROR"

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}" if where else detail)
        self.where = where
        self.detail = detail


class BooksConfigError(AccountingError):
    """The chart of accounts or the posting rules are wrong; raised at load time."""

    code = "BOOKS_CONFIG"


class LedgerStoreError(AccountingError):
    code = "LEDGER_STORE"


class IdempotencyConflict(AccountingError):
    """The same key was posted before with different content; the stored result stands."""

    code = "IDEMPOTENCY_CONFLICT"

    def __init__(self, where: str, result_code: Code) -> None:
        super().__init__(where, str(result_code))
        self.result_code = result_code
