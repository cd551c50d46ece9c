"""camt.053.001.08 BankToCustomerStatement: the end-of-day statement of an account (HVPS and
BEPS reconciliation, CIPS, and SWIFT's MX counterpart of MT950/MT940).

Balances and entries carry amounts in minor units, never negative, with a credit/debit
indicator as the message does; `Balance.signed_amount` and `Entry.signed_amount` give the
signed figure for a ledger.

>>> import datetime
>>> day = datetime.date(2024, 5, 6)
>>> statement = Statement(id="STMT-20240506", account="6222020200000001", balances=(
...     Balance("OPBD", 100000, "CNY", "CRDT", day), Balance("CLBD", 87655, "CNY", "CRDT", day)),
...     entries=(Entry(12345, "CNY", "DBIT", booking_date=day, value_date=day,
...                    transactions=(EntryTransaction(end_to_end_id="E2E-1"),)),))
>>> msg = Camt053(msg_id="S-1", statements=(statement,),
...     created_at=datetime.datetime(2024, 5, 6, 17, 30, tzinfo=datetime.timezone.utc))
>>> data = build_camt053(msg)
>>> b"<Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp>" in data
True
>>> parse_camt053(data) == msg and statement.balanced()
True
"""

from __future__ import annotations

import datetime

import msgspec

from messages.errors import MessageError
from messages.iso20022 import _xml
from messages.iso20022._entries import (
    BankTransactionCode,
    Entry,
    EntryReader,
    EntryTransaction,
    credit_debit,
    document_xml,
    entries_xml,
    report_head_xml,
)
from messages.iso20022._xml import Element, child, kids, repeated, text
from messages.iso20022.pacs008 import Agent

__all__ = [
    "MESSAGE_NAME",
    "Balance",
    "BankTransactionCode",
    "Camt053",
    "Entry",
    "EntryTransaction",
    "Statement",
    "build_camt053",
    "parse_camt053",
]

MESSAGE_NAME = "camt.053.001.08"
NAMESPACE = _xml.NAMESPACE_PREFIX + MESSAGE_NAME
_ROOT = "BkToCstmrStmt"
_PATH = f"/Document/{_ROOT}"
_HEAD = _PATH + "/GrpHdr"
_T = _xml.Tags(NAMESPACE, "GrpHdr MsgId CreDtTm Stmt Bal Tp CdOrPrtry Cd Amt CdtDbtInd Dt "
                          "AddtlStmtInf")
_READ = EntryReader(NAMESPACE)


class Balance(msgspec.Struct, frozen=True):
    """One Bal: `type` is an ExternalBalanceType1Code (OPBD opening booked, CLBD closing
    booked, CLAV closing available, ITBD interim booked, ...); `amount` in minor units of
    `currency`, zero allowed; `date` a date (Dt) or, as a tz-aware datetime, a date-time."""

    type: str
    amount: int
    currency: str
    credit_debit: str
    date: datetime.date

    def signed_amount(self) -> int:
        """The balance with its sign: negative when it is a debit (overdrawn) balance."""
        return -self.amount if self.credit_debit == "DBIT" else self.amount


class Statement(msgspec.Struct, frozen=True):
    """One Stmt: the account, its balances (at least one) and the entries booked on it.

    `page_number` and `last_page` are the statement's pagination (StmtPgntn), written when
    `page_number` is set; `from_time` and `to_time` the period covered (set both or neither).
    """

    id: str
    account: str
    balances: tuple[Balance, ...]
    entries: tuple[Entry, ...] = ()
    account_currency: str | None = None
    account_name: str | None = None
    account_servicer: Agent | None = None
    sequence_number: int | None = None
    page_number: int | None = None
    last_page: bool = True
    created_at: datetime.datetime | None = None
    from_time: datetime.datetime | None = None
    to_time: datetime.datetime | None = None
    additional_info: str | None = None

    def balanced(self, opening: str = "OPBD", closing: str = "CLBD") -> bool:
        """True when the `opening` balance plus the booked entries make the `closing` one.

        Entries not booked (status other than BOOK) do not count; False when either balance
        is missing or a currency differs.
        """
        found = {balance.type: balance for balance in self.balances}
        start, end = found.get(opening), found.get(closing)
        if start is None or end is None or start.currency != end.currency:
            return False
        booked = [entry for entry in self.entries if entry.status == "BOOK"]
        if any(entry.currency != start.currency for entry in booked):
            return False
        movement = sum(entry.signed_amount() for entry in booked)
        return start.signed_amount() + movement == end.signed_amount()


class Camt053(msgspec.Struct, frozen=True):
    """The message: group header and its statements (at least one)."""

    msg_id: str
    created_at: datetime.datetime
    statements: tuple[Statement, ...]


# ---------------------------------------------------------------- build


def _balance_xml(balance: Balance, where: str) -> str:
    kind = _xml.max4_xml(balance.type, where, "/Tp/CdOrPrtry/Cd")
    amount = _xml.balance_amount_text(balance.amount, balance.currency, where + "/Amt")
    indicator = credit_debit(balance.credit_debit, where, "/CdtDbtInd")
    date = _xml.date_or_datetime_xml(balance.date, where, "/Dt")
    return (
        f"<Bal><Tp><CdOrPrtry><Cd>{kind}</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="{balance.currency}">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>'
        f"<Dt>{date}</Dt></Bal>"
    )


def _statement_xml(statement: Statement, where: str) -> str:
    head, account = report_head_xml(statement, "StmtPgntn", where)
    if not statement.balances:
        raise MessageError("MX_MISSING_ELEMENT", "at least one balance is required",
                           where=where + "/Bal")
    balances = "".join(
        _balance_xml(balance, f"{where}/Bal[{index}]")
        for index, balance in enumerate(statement.balances, start=1)
    )
    info = "" if statement.additional_info is None else \
        f"<AddtlStmtInf>{_xml.max500_xml(statement.additional_info, where, '/AddtlStmtInf')}"\
        "</AddtlStmtInf>"
    return f"<Stmt>{head}{account}{balances}{entries_xml(statement.entries, where)}{info}</Stmt>"


def build_camt053(msg: Camt053) -> bytes:
    """The UTF-8 document; raises MessageError naming the element of any invalid value."""
    return document_xml(NAMESPACE, _ROOT, msg.msg_id, msg.created_at, msg.statements, "Stmt",
                        "statement", _statement_xml)


# ---------------------------------------------------------------- parse


def _parse_balance(element: Element, where: str) -> Balance:
    node = kids(element)
    kind_where = where + "/Tp"
    kind = kids(child(node, _T.Tp, where))
    code = _xml.only_text(child(kind, _T.CdOrPrtry, kind_where), _T.Cd, _xml.max4,
                          kind_where + "/CdOrPrtry")
    amount, currency = _xml.amount(node, _T.Amt, where)
    return Balance(
        type=code,
        amount=amount,
        currency=currency,
        credit_debit=text(node, _T.CdtDbtInd, credit_debit, where),
        date=_READ.date(child(node, _T.Dt, where), where + "/Dt"),
    )


def _parse_statement(element: Element, where: str) -> Statement:
    node = kids(element)
    head = _READ.head(node, "StmtPgntn", where)
    balances = tuple(
        _parse_balance(balance, f"{where}/Bal[{index}]")
        for index, balance in enumerate(repeated(node, _T.Bal), start=1)
    )
    if not balances:
        raise MessageError("MX_MISSING_ELEMENT", "Bal is required", where=where + "/Bal")
    return Statement(
        **head._asdict(),
        balances=balances,
        entries=_READ.entries(node, where),
        additional_info=_xml.optional_text(node, _T.AddtlStmtInf, _xml.max500, where),
    )


def parse_camt053(data: bytes, *, max_bytes: int = _xml.DEFAULT_MAX_BYTES) -> Camt053:
    """Parse a camt.053.001.08 document (hardened; see `messages.iso20022._xml`)."""
    msg_id, created_at, statements = _READ.document(data, _ROOT, MESSAGE_NAME, "Stmt",
                                                    _parse_statement, max_bytes)
    return Camt053(msg_id=msg_id, created_at=created_at, statements=statements)
