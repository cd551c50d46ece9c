"""MT940 / MT950 <-> camt.053 (statement) and MT900 / MT910 <-> camt.054 (notification).

Statements: 20 <-> Stmt/Id, 25(P) <-> Acct/Id (and Svcr BIC), 28C <-> ElctrncSeqNb/LglSeqNb
(page), 60F/60M <-> Bal OPBD/ITBD, 62F/62M <-> Bal CLBD/ITBD (and LastPgInd: F on the last
page), 64 <-> CLAV, 65 <-> FWAV, 86 (statement) <-> AddtlStmtInf. Each 61 <-> Ntry: value date
<-> ValDt, entry date <-> BookgDt, C/D/RC/RD <-> CdtDbtInd (+ RvslInd), type <-> BkTxCd/Prtry
(issuer SWIFT), customer reference <-> NtryRef (NONREF: none), bank reference <-> AcctSvcrRef,
supplementary details <-> AddtlNtryInf, its 86 <-> TxDtls/AddtlTxInf.
Notifications: 20 <-> Ntfctn/Id, 21 <-> TxDtls/Refs/EndToEndId, 121 <-> TxDtls/Refs/UETR,
25(P) <-> Acct, 32A <-> Ntry Amt/ValDt, 13D <-> BookgDt (a date-time), 50a <-> RltdPties/Dbtr,
52a <-> RltdAgts/DbtrAgt, 72 <-> AddtlNtryInf; MT900 is a DBIT entry, MT910 a CRDT entry.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from messages.iso20022 import (
    Agent,
    BankTransactionCode,
    Camt053,
    Camt054,
    Entry,
    EntryTransaction,
    Notification,
    Statement,
)
from messages.iso20022 import Balance as MxBalance
from messages.mt import MT900, MT910, MT940, MT950, Envelope, Party, StatementLine
from messages.mt import Balance as MtBalance
from messages.translate._losses import BIC, Losses
from messages.translate._model import RULE_NOT_VALID_MX, Translation, TranslationError
from messages.translate._parties import (
    address_of_bic,
    agent_to_mt,
    agent_to_mx,
    bic_of_address,
    customer_to_mt,
    customer_to_mx,
)
from messages.translate.tables import (
    BALANCE_TYPES,
    LINE_MARKS,
    MARKS_MT_TO_MX,
    MARKS_MX_TO_MT,
)

__all__ = [
    "camt053_to_mt940",
    "camt054_to_mt900",
    "mt900_to_camt054",
    "mt940_to_camt053",
]

STMT = "BkToCstmrStmt/Stmt"
NTFCTN = "BkToCstmrDbtCdtNtfctn/Ntfctn"

_LINE_MARKS_BACK = {value: key for key, value in LINE_MARKS.items()}
_TYPE = re.compile(r"[NSF][A-Z0-9]{3}")
_NONREF = "NONREF"


def _created(now: datetime.datetime | None) -> datetime.datetime:
    return now or datetime.datetime.now(datetime.UTC)


# ---------------------------------------------------------------- statements, MT -> MX


def _servicer(envelope: Envelope, account: Party, where: str, losses: Losses) -> Agent:
    """Acct/Svcr: the 25P BIC, else the sender (the servicing bank sends reports). The
    document has no element for the receiver, nor for a sender other than the 25P BIC."""
    sender = bic_of_address(envelope.sender)
    receiver = bic_of_address(envelope.receiver)
    if account.bic is not None and account.bic != sender:
        losses.no_element("block 1", "AppHdr/Fr", sender)
    if receiver != (account.bic or sender):
        losses.no_element("block 2", "AppHdr/To", receiver)
    return Agent(bic=account.bic or sender)


def _balance_to_mx(tag: str, balance: MtBalance) -> MxBalance:
    return MxBalance(BALANCE_TYPES[tag + balance.option], balance.amount, balance.currency,
                     MARKS_MT_TO_MX[balance.mark], balance.date)


def _line_to_mx(line: StatementLine, currency: str, index: int, losses: Losses) -> Entry:
    where = f"{STMT}/Ntry[{index}]"
    credit_debit, reversal = LINE_MARKS[line.mark]
    if line.funds_code is not None:
        losses.no_element("61", where + "/AmtDtls", f"funds code {line.funds_code}")
    booking = None
    if line.entry_date is not None:
        booking = _near_date(line.entry_date, line.value_date)
        if booking is None:
            losses.add("61", where + "/BookgDt", f"entry date {line.entry_date}",
                       RULE_NOT_VALID_MX)
    info = None if line.info is None else "".join(line.info)
    return Entry(
        line.amount, currency, credit_debit, booking_date=booking, value_date=line.value_date,
        reference=None if line.customer_ref == _NONREF else line.customer_ref,
        servicer_ref=line.bank_ref, reversal=reversal,
        bank_tx_code=BankTransactionCode(proprietary=line.transaction_type, issuer="SWIFT"),
        transactions=() if info is None else (EntryTransaction(additional_info=info),),
        additional_info=line.details,
    )


def _near_date(month_day: str, near: datetime.date) -> datetime.date | None:
    """The date of MMDD nearest to `near` (the year is not written in 61)."""
    candidates = []
    for year in (near.year - 1, near.year, near.year + 1):
        try:
            candidates.append(datetime.date(year, int(month_day[:2]), int(month_day[2:])))
        except ValueError:
            continue
    return min(candidates, key=lambda day: abs(day - near)) if candidates else None


def mt940_to_camt053(msg: MT940 | MT950, *, created_at: datetime.datetime | None = None
                     ) -> Translation[Camt053]:
    """The camt.053 of an MT940 or MT950 (one statement)."""
    losses = Losses()
    number, _, page = msg.statement_number.partition("/")
    for part in (number, page):
        if part and str(int(part)) != part:
            losses.add("28C", STMT + "/LglSeqNb", f"leading zeros of {part}", RULE_NOT_VALID_MX)
    balances = [_balance_to_mx("60", msg.opening_balance),
                _balance_to_mx("62", msg.closing_balance)]
    if msg.closing_available_balance is not None:
        balances.append(_balance_to_mx("64", msg.closing_available_balance))
    additional = None
    if isinstance(msg, MT940):
        balances += [_balance_to_mx("65", b) for b in msg.forward_available_balances]
        if msg.related_ref is not None:
            losses.no_element("21", STMT + "/Id", msg.related_ref)
        additional = None if msg.information is None else "".join(msg.information)
    currency = msg.opening_balance.currency
    servicer = _servicer(msg.envelope, msg.account, STMT, losses)
    statement = Statement(
        id=msg.sender_ref, account=msg.account.account or "", balances=tuple(balances),
        entries=tuple(_line_to_mx(line, currency, index, losses)
                      for index, line in enumerate(msg.entries, start=1)),
        account_servicer=servicer, sequence_number=int(number),
        page_number=int(page) if page else None,
        last_page=msg.closing_balance.option == "F", additional_info=additional,
    )
    return Translation(Camt053(msg_id=msg.sender_ref, created_at=_created(created_at),
                               statements=(statement,)), tuple(losses.items))


# ---------------------------------------------------------------- statements, MX -> MT


def _balance_to_mt(balance: MxBalance, option: str, where: str, losses: Losses) -> MtBalance:
    day = balance.date
    if isinstance(day, datetime.datetime):
        losses.no_field("60a", where + "/Dt/DtTm", f"time of {day.isoformat()}")
        day = day.date()
    return MtBalance(mark=MARKS_MX_TO_MT[balance.credit_debit], date=day,
                     currency=balance.currency, amount=balance.amount, option=option)


def _pick(balances: tuple[MxBalance, ...], types: tuple[str, ...], taken: set[int]
          ) -> int | None:
    for index, balance in enumerate(balances):
        if index not in taken and balance.type in types:
            taken.add(index)
            return index
    return None


def _entry_to_mt(entry: Entry, where: str, currency: str, with_info: bool,
                 losses: Losses) -> StatementLine:
    if entry.currency != currency:
        losses.no_field("61", where + "/Amt/@Ccy", f"{entry.currency} in a {currency} statement")
    if entry.status != "BOOK":
        losses.no_field("61", where + "/Sts", entry.status)
    value_date = entry.value_date or entry.booking_date
    if value_date is None:
        raise TranslationError("61 needs a value or booking date", where="/Document/" + where
                               + "/ValDt")
    if isinstance(value_date, datetime.datetime):
        losses.no_field("61", where + "/ValDt/DtTm", f"time of {value_date.isoformat()}")
        value_date = value_date.date()
    entry_date = None
    if entry.booking_date is not None:
        booking = entry.booking_date
        if isinstance(booking, datetime.datetime):
            losses.no_field("61", where + "/BookgDt/DtTm", f"time of {booking.isoformat()}")
            booking = booking.date()
        entry_date = booking.strftime("%m%d")
        if _near_date(entry_date, value_date) != booking:
            losses.no_field("61", where + "/BookgDt", f"year of {booking.isoformat()}")
    code = entry.bank_tx_code
    transaction_type = "NMSC"
    if code is not None and code.proprietary is not None and _TYPE.fullmatch(code.proprietary):
        transaction_type = code.proprietary
        if code.issuer not in (None, "SWIFT") or code.domain is not None:
            losses.no_field("61", where + "/BkTxCd", code)
    elif code is not None:
        losses.no_field("61", where + "/BkTxCd", code)
    info: tuple[str, ...] | None = None
    for number, tx in enumerate(entry.transactions, start=1):
        tx_where = f"{where}/NtryDtls/TxDtls[{number}]"
        rest = tx
        if number == 1 and with_info and tx.additional_info is not None:
            info = losses.lines(tx.additional_info, 6, 65, "86", tx_where + "/AddtlTxInf")
            rest = _without(tx, "additional_info")
        if rest != EntryTransaction():
            losses.no_field("61", tx_where, rest)
    reference = _NONREF if entry.reference is None else \
        losses.reference(entry.reference, "61", where + "/NtryRef")
    bank_ref = None if entry.servicer_ref is None else \
        losses.reference(entry.servicer_ref, "61", where + "/AcctSvcrRef")
    details = None if entry.additional_info is None else \
        losses.line(losses.fit(entry.additional_info, 34, "61", where + "/AddtlNtryInf"), "61",
                    where + "/AddtlNtryInf")
    return StatementLine(
        value_date=value_date, mark=_LINE_MARKS_BACK[(entry.credit_debit, entry.reversal)],
        amount=entry.amount, transaction_type=transaction_type, customer_ref=reference,
        entry_date=entry_date, bank_ref=bank_ref, details=details, info=info,
    )


def _without(tx: EntryTransaction, attribute: str) -> EntryTransaction:
    values: dict[str, Any] = {name: getattr(tx, name) for name in tx.__struct_fields__}
    values[attribute] = None
    return EntryTransaction(**values)


def camt053_to_mt940(msg: Camt053, *, statement_type: str = "940", sender: str | None = None,
                     receiver: str | None = None) -> Translation[MT940 | MT950]:
    """The MT940 (or MT950: `statement_type` "950") of a one-statement camt.053; `sender`
    and `receiver` are the BICs of the MT header (default: the account servicer, for both)."""
    if len(msg.statements) != 1:
        raise TranslationError("an MT statement carries exactly one Stmt",
                               where="/Document/" + STMT)
    stmt = msg.statements[0]
    losses = Losses()
    taken: set[int] = set()
    opening = _pick(stmt.balances, ("OPBD", "PRCD", "ITBD"), taken)
    closing = _pick(stmt.balances, ("CLBD", "ITBD"), taken)
    if opening is None or closing is None:
        raise TranslationError("an opening (OPBD/ITBD) and a closing (CLBD/ITBD) balance are "
                               "needed", where="/Document/" + STMT + "/Bal/Tp")
    available = _pick(stmt.balances, ("CLAV",), taken)
    forward: list[int] = []
    while statement_type == "940" and (found := _pick(stmt.balances, ("FWAV",), taken)) is not None:
        forward.append(found)
    for index, balance in enumerate(stmt.balances, start=1):
        if index - 1 not in taken:
            losses.no_field("", f"{STMT}/Bal[{index}]", balance)
    opening_option = "F" if stmt.balances[opening].type in ("OPBD", "PRCD") else "M"
    if stmt.balances[opening].type == "PRCD":
        losses.no_field("60F", f"{STMT}/Bal[{opening + 1}]/Tp", "PRCD (60F reads back as OPBD)")
    closing_option = "F" if stmt.balances[closing].type == "CLBD" else "M"
    if stmt.page_number is not None and stmt.last_page != (closing_option == "F"):
        losses.no_field("62a", STMT + "/Pgntn/LastPgInd", stmt.last_page)
    def bal(index: int, option: str) -> MtBalance:
        return _balance_to_mt(stmt.balances[index], option, f"{STMT}/Bal[{index + 1}]", losses)
    currency = stmt.balances[opening].currency
    for attribute, element in (("account_currency", "/Acct/Ccy"), ("account_name", "/Acct/Nm"),
                               ("created_at", "/CreDtTm"), ("from_time", "/FrToDt"),
                               ("to_time", "/FrToDt")):
        if getattr(stmt, attribute) is not None:
            losses.no_field("", STMT + element, getattr(stmt, attribute))
    servicer = stmt.account_servicer
    bic = _servicer_bic(servicer, STMT, losses)
    account = losses.fit(stmt.account, 35, "25", STMT + "/Acct/Id")
    sequence = "1" if stmt.sequence_number is None else str(stmt.sequence_number)
    if len(sequence) > 5:  # 28C is 5n[/5n]
        losses.add("28C", STMT + "/ElctrncSeqNb", sequence, RULE_NOT_VALID_MX)
        sequence = "1"
    if stmt.page_number is not None:
        sequence += f"/{stmt.page_number}"
    with_info = statement_type == "940"
    lines = tuple(_entry_to_mt(entry, f"{STMT}/Ntry[{index}]", currency, with_info, losses)
                  for index, entry in enumerate(stmt.entries, start=1))
    envelope, bic = _envelope(bic, sender, receiver, STMT)
    if statement_type == "950" and bic is not None:
        losses.no_field("25", STMT + "/Acct/Svcr/FinInstnId/BICFI", bic)
    common: dict[str, Any] = {
        "envelope": envelope, "sender_ref": losses.reference(stmt.id, "20", STMT + "/Id"),
        "statement_number": sequence, "opening_balance": bal(opening, opening_option),
        "closing_balance": bal(closing, closing_option), "entries": lines,
        "closing_available_balance": None if available is None else bal(available, ""),
    }
    if statement_type == "950":
        if stmt.additional_info is not None:
            losses.no_field("", STMT + "/AddtlStmtInf", stmt.additional_info)
        return Translation(MT950(account=Party(account=account), **common),
                           tuple(losses.items))
    information = None if stmt.additional_info is None else \
        losses.lines(stmt.additional_info, 6, 65, "86", STMT + "/AddtlStmtInf")
    return Translation(MT940(
        account=Party(option="P" if bic else "", account=account, bic=bic),
        forward_available_balances=tuple(bal(index, "") for index in forward),
        information=information, **common), tuple(losses.items))


def _servicer_bic(servicer: Agent | None, where: str, losses: Losses) -> str | None:
    """The BIC of Acct/Svcr an MT can hold; the rest of the agent is reported."""
    if servicer is None:
        return None
    bic = servicer.bic if servicer.bic is not None and BIC.fullmatch(servicer.bic) else None
    if servicer != Agent(bic=bic):
        losses.no_field("25", where + "/Acct/Svcr", servicer)
    return bic


def _envelope(servicer: str | None, sender: str | None, receiver: str | None, where: str
              ) -> tuple[Envelope, str | None]:
    """The MT header, and the BIC for 25P: the servicer, when an explicit sender differs."""
    sender = sender or servicer
    if sender is None:
        raise TranslationError("no BIC for the sender (Acct/Svcr or the AppHdr)",
                               where="/Document/" + where + "/Acct/Svcr")
    envelope = Envelope(sender=address_of_bic(sender), receiver=address_of_bic(receiver or sender))
    return envelope, servicer if servicer is not None and servicer != sender else None


# ---------------------------------------------------------------- notifications


def mt900_to_camt054(msg: MT900 | MT910, *, created_at: datetime.datetime | None = None
                     ) -> Translation[Camt054]:
    """The camt.054 of an MT900 (a debit) or MT910 (a credit)."""
    losses = Losses()
    where = NTFCTN + "/Ntry/NtryDtls/TxDtls"
    booking: datetime.date | None = None
    time = msg.debit_time if isinstance(msg, MT900) else msg.credit_time
    if time is not None:
        booking = _time_13d(time)
        if booking is None:
            losses.add("13D", NTFCTN + "/Ntry/BookgDt", time, RULE_NOT_VALID_MX)
    debtor_agent = None if msg.ordering_institution is None else \
        agent_to_mx(msg.ordering_institution, "52", where + "/RltdAgts/DbtrAgt", losses)[0]
    debtor = None
    if isinstance(msg, MT910):
        if msg.ordering_customer is not None:
            debtor = customer_to_mx(msg.ordering_customer, "50", where + "/RltdPties/Dbtr",
                                    losses)
        if msg.intermediary is not None:
            losses.no_element("56a", where + "/RltdAgts/IntrmyAgt1", msg.intermediary)
    entry = Entry(
        msg.amount, msg.currency, "DBIT" if isinstance(msg, MT900) else "CRDT",
        booking_date=booking, value_date=msg.value_date,
        transactions=(EntryTransaction(end_to_end_id=msg.related_ref, uetr=msg.uetr,
                                       debtor=debtor, debtor_agent=debtor_agent),),
        additional_info=None if msg.sender_to_receiver_info is None else
        "".join(msg.sender_to_receiver_info),
    )
    notification = Notification(
        id=msg.sender_ref, account=msg.account.account or "", entries=(entry,),
        account_servicer=_servicer(msg.envelope, msg.account, NTFCTN, losses),
    )
    return Translation(Camt054(msg_id=msg.sender_ref, created_at=_created(created_at),
                               notifications=(notification,)), tuple(losses.items))


def _time_13d(value: str) -> datetime.datetime | None:
    """YYMMDDHHMM+HHMM (13D) as an aware date-time."""
    try:
        offset = int(value[11:13]) * 60 + int(value[13:15])
        zone = datetime.timezone(datetime.timedelta(minutes=-offset if value[10] == "-"
                                                    else offset))
        return datetime.datetime(2000 + int(value[:2]), int(value[2:4]), int(value[4:6]),
                                 int(value[6:8]), int(value[8:10]), tzinfo=zone)
    except (ValueError, IndexError):
        return None


def _13d(value: datetime.datetime) -> str:
    offset = value.utcoffset() or datetime.timedelta()
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return value.strftime("%y%m%d%H%M") + f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


def camt054_to_mt900(msg: Camt054, *, sender: str | None = None, receiver: str | None = None
                     ) -> Translation[MT900 | MT910]:
    """The MT900 (DBIT) or MT910 (CRDT) of a camt.054 with one notification of one entry."""
    if len(msg.notifications) != 1 or len(msg.notifications[0].entries) != 1:
        raise TranslationError("an MT900/MT910 confirms exactly one entry",
                               where="/Document/" + NTFCTN + "/Ntry")
    note = msg.notifications[0]
    entry = note.entries[0]
    losses = Losses()
    where = NTFCTN + "/Ntry"
    tx = entry.transactions[0] if entry.transactions else EntryTransaction()
    for index, other in enumerate(entry.transactions[1:], start=2):
        losses.no_field("", f"{where}/NtryDtls/TxDtls[{index}]", other)
    tx_where = where + "/NtryDtls/TxDtls"
    credit = entry.credit_debit == "CRDT"
    for attribute in ("tx_id", "instr_id", "msg_id", "servicer_ref", "amount", "currency",
                      "credit_debit", "creditor", "creditor_agent", "remittance_info",
                      "additional_info"):
        if getattr(tx, attribute) is not None:
            losses.no_field("", f"{tx_where}/{attribute}", getattr(tx, attribute))
    if tx.debtor is not None and not credit:
        losses.no_field("", tx_where + "/RltdPties/Dbtr", tx.debtor)
    for attribute, element in (("reference", "/NtryRef"), ("servicer_ref", "/AcctSvcrRef"),
                               ("bank_tx_code", "/BkTxCd")):
        if getattr(entry, attribute) is not None:
            losses.no_field("", where + element, getattr(entry, attribute))
    if entry.status != "BOOK" or entry.reversal:
        losses.no_field("", where + "/Sts", (entry.status, entry.reversal))
    value_date = entry.value_date or entry.booking_date
    if value_date is None:
        raise TranslationError("32A needs a value or booking date",
                               where="/Document/" + where + "/ValDt")
    if isinstance(value_date, datetime.datetime):
        value_date = value_date.date()
    time = None
    booking = entry.booking_date
    if isinstance(booking, datetime.datetime):
        time = _13d(booking)
    elif booking is not None and booking != value_date:
        losses.no_field("13D", where + "/BookgDt", booking)
    envelope, bic = _envelope(_servicer_bic(note.account_servicer, NTFCTN, losses), sender,
                              receiver, NTFCTN)
    related = "NONREF" if tx.end_to_end_id is None else \
        losses.reference(tx.end_to_end_id, "21", tx_where + "/Refs/EndToEndId")
    ordering = None if tx.debtor_agent is None else \
        agent_to_mt(tx.debtor_agent, "52", tx_where + "/RltdAgts/DbtrAgt", losses)
    info = None if entry.additional_info is None else \
        losses.lines(entry.additional_info, 6, 35, "72", where + "/AddtlNtryInf")
    common: dict[str, Any] = {
        "envelope": envelope,
        "uetr": tx.uetr, "sender_ref": losses.reference(note.id, "20", NTFCTN + "/Id"),
        "related_ref": related,
        "account": Party(option="P" if bic else "",
                         account=losses.fit(note.account, 35, "25", NTFCTN + "/Acct/Id"),
                         bic=bic),
        "value_date": value_date, "currency": entry.currency, "amount": entry.amount,
        "ordering_institution": ordering, "sender_to_receiver_info": info,
    }
    if credit:
        debtor = None if tx.debtor is None else \
            customer_to_mt(tx.debtor, "50", tx_where + "/RltdPties/Dbtr", losses)
        return Translation(MT910(credit_time=time, ordering_customer=debtor, **common),
                           tuple(losses.items))
    return Translation(MT900(debit_time=time, **common), tuple(losses.items))


