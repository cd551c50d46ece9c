"""What the switch runs and checks of the books: the worker under its role's name, and the check.

The worker (`accounting.worker.AccountingWorker`) posts the outbox beside the transaction path,
never inside it (DESIGN.md): a slow ledger delays the books, never a payment.
"""

from __future__ import annotations

from collections import defaultdict

from accounting.core import Balance
from accounting.ledger import Ledger
from accounting.worker import CONSUMER, AccountingWorker

LedgerPoster = AccountingWorker

__all__ = ["CONSUMER", "LedgerCheck", "LedgerPoster", "check_ledger"]


class LedgerCheck:
    """The ledger's health: every currency nets to zero, posted and pending, and the kept
    balances equal the sum of their postings."""

    def __init__(self, kept: list[Balance], built: list[Balance]) -> None:
        debit: dict[str, int] = defaultdict(int)
        credit: dict[str, int] = defaultdict(int)
        pending: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for b in kept:
            debit[b.currency] += b.debits_posted
            credit[b.currency] += b.credits_posted
            pending[b.currency][0] += b.debits_pending
            pending[b.currency][1] += b.credits_pending
        self.per_currency = {c: (debit[c], credit[c]) for c in sorted(debit.keys() | credit.keys())}
        self.kept_match_postings = sorted(kept, key=_key) == sorted(built, key=_key)
        self.pending_ok = all(d == c for d, c in pending.values())
        self.balanced = self.kept_match_postings and self.pending_ok and all(
            d == c for d, c in self.per_currency.values()
        )


async def check_ledger(ledger: Ledger) -> LedgerCheck:
    return LedgerCheck(await ledger.balances(), await ledger.posting_totals())


def _key(b: Balance) -> tuple[str, str, int, int, int, int]:
    return (b.account, b.currency, b.debits_posted, b.credits_posted, b.debits_pending,
            b.credits_pending)
