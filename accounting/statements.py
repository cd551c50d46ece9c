"""A channel's end-of-day statement, whatever its format, as reconciliation reads it.

Three formats come from the channels: camt.053 (HVPS, BEPS, IBPS, CIPS), MT950 pages joined by
'$' (SWIFT, one account per currency) and the UnionPay settlement file (fixed-width lines, no
balances). `read_statement` recognises the format from its first bytes and gives one
`ChannelStatement`: per currency the opening and closing balance where the format states them,
and every booked item with its reference (the switch's end-to-end id) and signed amount.

>>> from messages.iso8583.settlement import SettlementFile, SettlementLine, build_settlement_file
>>> from datetime import date, datetime, UTC
>>> f = SettlementFile(settlement_date=date(2026, 3, 2), institution="48020000",
...     created_at=datetime(2026, 3, 2, 23, tzinfo=UTC), lines=(SettlementLine(txn_code="0200",
...     dc="D", acquirer_id="48020000", sender_id="48020000", stan="000001",
...     transmission_time="0302100000", account="6222000000000000", amount=500, currency="CNY",
...     retrieval_ref="000000000001", order_id="E2E1"),))
>>> s = read_statement(build_settlement_file(f))
>>> s.format, s.business_date, [(i.reference, i.amount, i.kind) for i in s.items]
('unionpay-settlement', datetime.date(2026, 3, 2), [('E2E1', -500, 'settle')])
>>> s.balances
{}
"""

from __future__ import annotations

import datetime

import msgspec

from messages.errors import MessageError

__all__ = ["ChannelStatement", "StatementBalance", "StatementError", "StatementItem",
           "read_statement"]

# A busy channel's day is tens of megabytes of XML; the parser's other guards (no DTD, no
# entities, depth) stay on.
_MAX_STATEMENT_BYTES = 1 << 31


class StatementError(Exception):
    """A statement that cannot be read; ``code`` is stable, ``where`` says where it broke."""

    def __init__(self, code: str, message: str, where: str | None = None) -> None:
        super().__init__(code, message, where)
        self.code, self.message, self.where = code, message, where

    def __str__(self) -> str:
        return f"{self.code}{f' at {self.where}' if self.where else ''}: {self.message}"


class StatementItem(msgspec.Struct, frozen=True, gc=False):
    """One booked line: ``amount`` signed in minor units (negative debits our account)."""

    reference: str  # the switch's end-to-end id as the channel quotes it
    amount: int
    currency: str
    kind: str  # settle / return / reverse / fund / ... (lower case, as the channel names it)


class StatementBalance(msgspec.Struct, frozen=True):
    opening: int
    closing: int


class ChannelStatement(msgspec.Struct, frozen=True):
    format: str  # camt.053 / MT950 / unionpay-settlement
    account: str
    business_date: datetime.date
    balances: dict[str, StatementBalance]  # currency -> balances (absent: the format has none)
    items: list[StatementItem]

    def movement(self) -> dict[str, int]:
        """What the booked items move per currency."""
        out: dict[str, int] = {}
        for item in self.items:
            out[item.currency] = out.get(item.currency, 0) + item.amount
        return out


def read_statement(data: bytes) -> ChannelStatement:
    """The statement in ``data``: camt.053 (starts with '<'), MT950 ('{1:') or a UnionPay
    settlement file (anything else). StatementError when it is none of them readably."""
    head = data.lstrip()[:8]
    try:
        if head.startswith(b"<"):
            return _camt053(data)
        if head.startswith(b"{1:"):
            return _mt950(data)
        return _unionpay(data)
    except MessageError as exc:
        raise StatementError(exc.code, exc.message, exc.where) from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise StatementError("STATEMENT_UNREADABLE", str(exc)) from exc


def _camt053(data: bytes) -> ChannelStatement:
    from messages.iso20022.camt053 import parse_camt053

    doc = parse_camt053(data, max_bytes=_MAX_STATEMENT_BYTES)
    if not doc.statements:
        raise StatementError("STATEMENT_EMPTY", "camt.053 without a statement")
    balances: dict[str, StatementBalance] = {}
    items: list[StatementItem] = []
    day: datetime.date | None = None
    for st in doc.statements:
        found = {b.type: b for b in st.balances}
        opening, closing = found.get("OPBD"), found.get("CLBD")
        if opening is None or closing is None:
            raise StatementError("STATEMENT_NO_BALANCE", f"statement {st.id} lacks OPBD/CLBD")
        day = day or closing.date
        balances[closing.currency] = StatementBalance(opening.signed_amount(),
                                                      closing.signed_amount())
        for n, e in enumerate(st.entries):
            if e.status != "BOOK":  # a BEPS session's net position is information only
                continue
            tx = e.transactions[0] if e.transactions else None
            ref = (tx.end_to_end_id if tx is not None else None) or e.reference
            if not ref:
                raise StatementError("STATEMENT_NO_REFERENCE", "entry without a reference",
                                     f"statement {st.id} entry {n + 1}")
            kind = (e.bank_tx_code.proprietary if e.bank_tx_code is not None else None) or ""
            items.append(StatementItem(ref, e.signed_amount(), e.currency,
                                       kind.lower() or "settle"))
    assert day is not None
    return ChannelStatement("camt.053", doc.statements[0].account, day, balances, items)


def _mt950(data: bytes) -> ChannelStatement:
    from messages.mt.codec import parse_mt
    from messages.mt.types import MT950

    balances: dict[str, StatementBalance] = {}
    items: list[StatementItem] = []
    account, day = "", None
    for page_no, page in enumerate(data.decode("ascii").split("$"), start=1):
        msg = parse_mt(page)
        if not isinstance(msg, MT950):
            raise StatementError("STATEMENT_NOT_MT950", f"page {page_no} is not an MT950")
        ccy = msg.closing_balance.currency
        signed = (-1 if msg.opening_balance.mark == "D" else 1) * msg.opening_balance.amount
        closing = (-1 if msg.closing_balance.mark == "D" else 1) * msg.closing_balance.amount
        # pages of one currency follow each other: the first opens it, the last closes it
        first = balances.get(ccy)
        balances[ccy] = StatementBalance(first.opening if first else signed, closing)
        account, day = account or (msg.account.account or ""), day or msg.closing_balance.date
        for ln in msg.entries:
            sign = -1 if ln.mark in ("D", "RC") else 1
            # the full end-to-end id rides in the supplementary details when it does not fit
            # the 16x reference
            ref = ln.details or ln.customer_ref
            items.append(StatementItem(ref, sign * ln.amount, ccy,
                                       "fund" if ln.transaction_type == "NTRF" and
                                       ln.bank_ref is None else "settle"))
    assert day is not None
    return ChannelStatement("MT950", account, day, balances, items)


def _unionpay(data: bytes) -> ChannelStatement:
    from messages.iso8583.settlement import FORMAT, read_settlement_items

    day, institution, lines = read_settlement_items(data)
    items = [StatementItem(ln.order_id or ln.retrieval_ref, ln.signed_amount, ln.currency,
                           "reverse" if ln.txn_code == "0400" else "settle")
             for ln in lines]
    return ChannelStatement(FORMAT, institution, day, {}, items)
