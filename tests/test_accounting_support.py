"""Shared helpers for the accounting tests (no tests here): books variants, events, invariants."""

from __future__ import annotations

import copy
import tomllib
from collections import defaultdict
from typing import Any

from accounting.config import DEFAULT_BOOKS, Books, parse_books
from accounting.core import Balance
from accounting.ledger import Ledger
from accounting.poster import check_ledger
from switch.store import OutboxEvent

RAW: dict[str, Any] = tomllib.loads(DEFAULT_BOOKS.read_text(encoding="utf-8"))
T = "2026-03-02T09:00:00+00:00"


def strict_books(*, customer_limit: bool = True, clearing_limit: int | None = None,
                 alert_below: int | None = None) -> Books:
    """The shipped books with customers that may not overdraw and, optionally, a capped
    clearing position for IBPS (a liability: what the switch owes the channel)."""
    raw = copy.deepcopy(RAW)
    for a in raw["accounts"]:
        if a["code"] == "customer:{debtor_account}" and customer_limit:
            a["constraint"] = "non_negative"
        if a["code"] == "clearing:IBPS":
            if clearing_limit is not None:
                a.update(type="liability", constraint="upper_limit", limit=clearing_limit)
                a.pop("alert_below", None)
                a["alert_above"] = clearing_limit * 8 // 10
            if alert_below is not None:
                a["alert_below"] = alert_below
    return parse_books(raw)


class Events:
    """Outbox events with increasing ids, as the switch would write them."""

    def __init__(self, start: int = 1) -> None:
        self.next_id = start

    def make(self, kind: str, payment_id: str, amount: int, *, debtor: str = "6217000000000001",
             channel: str | None = "IBPS", currency: str = "CNY", product: str = "CT",
             **extra: Any) -> OutboxEvent:
        body: dict[str, Any] = {"amount": amount, "currency": currency,
                                "debtor_account": debtor, "product": product, **extra}
        if channel is not None:
            body["channel"] = channel
        ev = OutboxEvent(self.next_id, payment_id, kind, body, T)
        self.next_id += 1
        return ev


def funding(debtor: str, amount: int, currency: str = "CNY") -> list[Any]:
    from accounting.core import Leg

    return [Leg("suspense", f"customer:{debtor}", currency, amount)]


async def assert_books_sound(ledger: Ledger) -> dict[str, tuple[int, int]]:
    """The invariants of DESIGN.md 4 on a real ledger; returns per-currency totals."""
    check = await check_ledger(ledger)
    assert check.kept_match_postings, await ledger.balance_differences()
    assert check.pending_ok
    assert check.balanced, check.per_currency
    assert await ledger.balance_differences() == []
    tb = await ledger.trial_balance()
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in tb:
        sums[row.currency][0] += row.debit
        sums[row.currency][1] += row.credit
    assert all(d == c for d, c in sums.values()), sums
    return {c: (d, k) for c, (d, k) in sums.items()}


def by_account(balances: list[Balance]) -> dict[str, Balance]:
    return {b.account: b for b in balances}
