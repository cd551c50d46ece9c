"""What the operations commands read: payments found by any identifier, a payment's whole
story, and the daily report's figures. Plain reads of the switch's and the ledger's tables
through the recon store's connection (SQLite or PostgreSQL, ``?`` placeholders)."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime
from typing import Any

import msgspec

from accounting.recon_store import ReconStore, where_equal
from switch.store.base import decode_order

__all__ = ["OrderRow", "daily_report", "find_orders", "list_orders", "percentile"]

_ORDER_COLS = ("payment_id, client_id, client_order_id, state, reason, channel, amount, "
               "currency, fee, business_date, end_to_end_id, uetr, created_at, updated_at")


class OrderRow(msgspec.Struct, frozen=True):
    payment_id: str
    client_id: str
    client_order_id: str
    state: str
    reason: str | None
    channel: str | None
    amount: int
    currency: str
    fee: int
    business_date: str | None
    end_to_end_id: str
    uetr: str
    created_at: str
    updated_at: str


async def list_orders(db: ReconStore, *, state: str | None = None, channel: str | None = None,
                      client: str | None = None, day: str | None = None,
                      limit: int = 50) -> list[OrderRow]:
    where, args = where_equal(state=state, channel=channel, client_id=client, business_date=day)
    rows = await db.fetch(f"SELECT {_ORDER_COLS} FROM payments{where} "
                          "ORDER BY created_at DESC, payment_id LIMIT ?", *args, limit)
    return [_row(r) for r in rows]


async def find_orders(db: ReconStore, term: str, limit: int = 50) -> list[OrderRow]:
    """Payments whose payment id, client order id, end-to-end id or UETR is ``term``, or whose
    debtor or creditor account it is."""
    rows = await db.fetch(
        f"SELECT {_ORDER_COLS} FROM payments WHERE payment_id = ? OR client_order_id = ? "
        "OR end_to_end_id = ? OR uetr = ? ORDER BY created_at LIMIT ?",
        term, term, term, term, limit)
    found = {r[0]: _row(r) for r in rows}
    if len(found) < limit and len(term) >= 6:
        # the accounts live in the stored order: look for the bytes, then read the order to
        # keep only real account matches
        probe = ("instr(order_blob, ?) > 0" if db.url.startswith("sqlite")
                 else "position(?::bytea in order_blob) > 0")
        for r in await db.fetch(f"SELECT {_ORDER_COLS}, order_blob FROM payments "
                                f"WHERE {probe} ORDER BY created_at LIMIT ?",
                                term.encode(), limit * 4):
            order = decode_order(bytes(r[-1]))
            if term in (order.debtor.account, order.creditor.account) and len(found) < limit:
                found.setdefault(r[0], _row(r[:-1]))
    return list(found.values())


def _row(r: tuple[Any, ...]) -> OrderRow:
    return OrderRow(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6]), r[7], int(r[8]), r[9],
                    r[10], r[11], r[12], r[13])


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted ``values`` (0 when empty).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50), percentile([5.0], 99), percentile([], 99)
    (2.0, 5.0, 0.0)
    """
    if not values:
        return 0.0
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)]


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


async def daily_report(db: ReconStore, first: str, last: str) -> list[dict[str, Any]]:
    """Per business day, channel and currency: volume, amount, settled, success rate, fees,
    VAT (as the ledger booked it), and time to settle (average, p99, seconds)."""
    rows = await db.fetch(
        "SELECT p.payment_id, p.business_date, p.channel, p.currency, p.state, p.amount, "
        "p.fee, p.created_at, h.at FROM payments p LEFT JOIN payment_history h "
        "ON h.payment_id = p.payment_id AND h.to_state = 'SETTLED' "
        "WHERE p.business_date >= ? AND p.business_date <= ? AND p.client_id <> '~batch'",
        first, last)
    vat = {pid: int(v) for pid, v in await db.fetch(
        "SELECT e.payment_id, sum(p.credit - p.debit) FROM acct_postings p "
        "JOIN acct_entries e ON e.entry_id = p.entry_id "
        "JOIN acct_accounts a ON a.account_id = p.account_id "
        "WHERE a.account = 'vat-payable' AND p.phase = 'P' GROUP BY e.payment_id")}
    batch_of = {m: b for m, b in await db.fetch(
        "SELECT payment_id, batch_id FROM batch_members")}
    groups: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(lambda: {
        "orders": 0, "amount": 0, "settled": 0, "settled_amount": 0, "rejected": 0,
        "returned": 0, "pending": 0, "fees": 0, "vat": 0, "times": []})
    batch_vat_seen: set[str] = set()
    for pid, day, channel, ccy, state, amount, fee, created, settled_at in rows:
        g = groups[(day, channel or "none", ccy)]
        g["orders"] += 1
        g["amount"] += int(amount)
        if state == "SETTLED" or state == "RETURNED":
            g["settled" if state == "SETTLED" else "returned"] += 1
            g["settled_amount"] += int(amount) if state == "SETTLED" else 0
            g["fees"] += int(fee)
            if settled_at:
                g["times"].append(_seconds(created, settled_at))
        elif state in ("REJECTED", "CANCELLED"):
            g["rejected"] += 1
        else:
            g["pending"] += 1
        batch = batch_of.get(pid)
        if batch is None:
            g["vat"] += vat.get(pid, 0)
        elif batch not in batch_vat_seen:  # a batch's VAT is booked once, on the batch
            batch_vat_seen.add(batch)
            g["vat"] += vat.get(batch, 0)
    out = []
    for (day, channel, ccy), g in sorted(groups.items()):
        times = sorted(g.pop("times"))
        final = g["settled"] + g["returned"] + g["rejected"]
        out.append({"date": day, "channel": channel, "currency": ccy, **g,
                    "success_rate": round(g["settled"] / final, 4) if final else None,
                    "avg_settle_s": round(sum(times) / len(times), 3) if times else None,
                    "p99_settle_s": round(percentile(times, 99), 3) if times else None})
    return out
