"""Entries (ReportEntry10), the account report around them and the document around the
reports, shared by camt.053 statements and camt.054 notifications: the two schemas define
these types identically.

An entry is one booking on the account: amount (minor units, never negative) with its
credit/debit indicator, status, booking and value dates, bank transaction code, and the details
of the transactions behind it (end-to-end id, UETR, parties, remittance).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import msgspec

from messages.errors import MessageError
from messages.iso20022 import _xml
from messages.iso20022._parties import (
    Reader,
    account_id_xml,
    optional_agent_xml,
    party_xml,
)
from messages.iso20022._xml import (
    Element,
    Kids,
    child,
    kids,
    optional,
    optional_text,
    repeated,
    text,
)
from messages.iso20022.pacs008 import Agent, PartyAccount

if TYPE_CHECKING:
    from messages.iso20022.camt053 import Statement
    from messages.iso20022.camt054 import Notification

R = TypeVar("R")

CREDIT_DEBIT = frozenset({"CRDT", "DBIT"})
credit_debit = _xml.code_check(CREDIT_DEBIT)


class BankTransactionCode(msgspec.Struct, frozen=True):
    """BkTxCd: the ISO domain, family and sub-family (e.g. PMNT / RCDT / XBCT; set all three
    or none), and/or a proprietary code (e.g. a CNAPS message type) with its issuer."""

    domain: str | None = None
    family: str | None = None
    sub_family: str | None = None
    proprietary: str | None = None
    issuer: str | None = None


class EntryTransaction(msgspec.Struct, frozen=True):
    """One TxDtls of an entry: the references, amount and parties of one transaction.

    `amount` is in minor units of `currency` (set both or neither).
    """

    end_to_end_id: str | None = None
    uetr: str | None = None
    tx_id: str | None = None
    instr_id: str | None = None
    msg_id: str | None = None
    servicer_ref: str | None = None
    amount: int | None = None
    currency: str | None = None
    credit_debit: str | None = None
    debtor: PartyAccount | None = None
    creditor: PartyAccount | None = None
    debtor_agent: Agent | None = None
    creditor_agent: Agent | None = None
    remittance_info: str | None = None
    additional_info: str | None = None


class Entry(msgspec.Struct, frozen=True):
    """One Ntry. `amount` is in minor units of `currency`, `credit_debit` CRDT or DBIT.

    `booking_date` and `value_date` are dates (Dt) or, given as tz-aware datetimes, date-times
    (DtTm). `status` is an ExternalEntryStatus1Code: BOOK (booked), PDNG, INFO or FUTR.
    Without a `bank_tx_code` the entry carries an empty BkTxCd (the element is mandatory).
    """

    amount: int
    currency: str
    credit_debit: str
    booking_date: datetime.date | None = None
    value_date: datetime.date | None = None
    status: str = "BOOK"
    reference: str | None = None
    servicer_ref: str | None = None
    reversal: bool = False
    bank_tx_code: BankTransactionCode | None = None
    transactions: tuple[EntryTransaction, ...] = ()
    additional_info: str | None = None

    def signed_amount(self) -> int:
        """The amount with the sign of the booking: negative for a debit."""
        return -self.amount if self.credit_debit == "DBIT" else self.amount


# ---------------------------------------------------------------- build


def _optional(tag: str, value: str | None, check: _xml.Check[str], where: str,
              suffix: str) -> str:
    return "" if value is None else f"<{tag}>{check(value, where, suffix)}</{tag}>"


def _bank_tx_code_xml(code: BankTransactionCode | None, where: str) -> str:
    if code is None:
        return "<BkTxCd/>"
    where += "/BkTxCd"
    domain = ""
    parts = (code.domain, code.family, code.sub_family)
    if any(part is not None for part in parts):
        if code.domain is None or code.family is None or code.sub_family is None:
            raise MessageError("MX_MISSING_ELEMENT",
                               "domain, family and sub-family go together",
                               where=where + "/Domn")
        domain = (
            f"<Domn><Cd>{_xml.max4_xml(code.domain, where, '/Domn/Cd')}</Cd>"
            f"<Fmly><Cd>{_xml.max4_xml(code.family, where, '/Domn/Fmly/Cd')}</Cd>"
            f"<SubFmlyCd>{_xml.max4_xml(code.sub_family, where, '/Domn/Fmly/SubFmlyCd')}"
            "</SubFmlyCd></Fmly></Domn>"
        )
    proprietary = ""
    if code.proprietary is not None:
        issuer = _optional("Issr", code.issuer, _xml.max35_xml, where, "/Prtry/Issr")
        proprietary = f"<Prtry><Cd>{_xml.max35_xml(code.proprietary, where, '/Prtry/Cd')}"\
            f"</Cd>{issuer}</Prtry>"
    elif code.issuer is not None:
        raise MessageError("MX_MISSING_ELEMENT", "an issuer needs a proprietary code",
                           where=where + "/Prtry/Cd")
    if not domain and not proprietary:
        raise MessageError("MX_MISSING_ELEMENT", "a code needs a domain or a proprietary code"
                           " (no code at all: leave `bank_tx_code` unset)", where=where + "/Domn")
    return f"<BkTxCd>{domain}{proprietary}</BkTxCd>"


def _transaction_xml(tx: EntryTransaction, where: str) -> str:
    # Inline conditionals, not `_optional`: this runs for every transaction of a statement.
    refs = ""
    if tx.msg_id is not None:
        refs = f"<MsgId>{_xml.max35_xml(tx.msg_id, where, '/Refs/MsgId')}</MsgId>"
    if tx.servicer_ref is not None:
        refs += "<AcctSvcrRef>" \
            f"{_xml.max35_xml(tx.servicer_ref, where, '/Refs/AcctSvcrRef')}</AcctSvcrRef>"
    if tx.instr_id is not None:
        refs += f"<InstrId>{_xml.max35_xml(tx.instr_id, where, '/Refs/InstrId')}</InstrId>"
    if tx.end_to_end_id is not None:
        refs += "<EndToEndId>" \
            f"{_xml.max35_xml(tx.end_to_end_id, where, '/Refs/EndToEndId')}</EndToEndId>"
    if tx.uetr is not None:
        refs += f"<UETR>{_xml.uetr(tx.uetr, where, '/Refs/UETR')}</UETR>"
    if tx.tx_id is not None:
        refs += f"<TxId>{_xml.max35_xml(tx.tx_id, where, '/Refs/TxId')}</TxId>"
    amount = ""
    if (tx.amount is None) != (tx.currency is None):
        raise MessageError("MX_MISSING_ELEMENT", "amount and currency go together",
                           where=where + "/Amt")
    if tx.amount is not None and tx.currency is not None:
        value = _xml.amount_text(tx.amount, tx.currency, where + "/Amt")
        amount = f'<Amt Ccy="{tx.currency}">{value}</Amt>'
    indicator = _optional("CdtDbtInd", tx.credit_debit, credit_debit, where, "/CdtDbtInd")
    parties = ""
    if tx.debtor is not None:
        parties += party_xml("Dbtr", tx.debtor, where + "/RltdPties", wrap="Pty")
    if tx.creditor is not None:
        parties += party_xml("Cdtr", tx.creditor, where + "/RltdPties", wrap="Pty")
    agents = optional_agent_xml("DbtrAgt", tx.debtor_agent, where + "/RltdAgts") + \
        optional_agent_xml("CdtrAgt", tx.creditor_agent, where + "/RltdAgts")
    remittance = "" if tx.remittance_info is None else \
        f"<RmtInf><Ustrd>{_xml.max140_xml(tx.remittance_info, where, '/RmtInf/Ustrd')}"\
        "</Ustrd></RmtInf>"
    info = _optional("AddtlTxInf", tx.additional_info, _xml.max500_xml, where, "/AddtlTxInf")
    return (
        f"<TxDtls>{refs and f'<Refs>{refs}</Refs>'}{amount}{indicator}"
        f"{parties and f'<RltdPties>{parties}</RltdPties>'}"
        f"{agents and f'<RltdAgts>{agents}</RltdAgts>'}{remittance}{info}</TxDtls>"
    )


def _date_xml(tag: str, value: datetime.date | None, where: str) -> str:
    if value is None:
        return ""
    if type(value) is datetime.date:  # the common case, checked without a call
        return f"<{tag}><Dt>{value.isoformat()}</Dt></{tag}>"
    return f"<{tag}>{_xml.date_or_datetime_xml(value, where, '/' + tag)}</{tag}>"


def entry_xml(entry: Entry, where: str) -> str:
    """One `<Ntry>`; `where` is its XPath (with its position)."""
    reference = _optional("NtryRef", entry.reference, _xml.max35_xml, where, "/NtryRef")
    amount = _xml.amount_text(entry.amount, entry.currency, where + "/Amt")
    indicator = credit_debit(entry.credit_debit, where, "/CdtDbtInd")
    reversal = "<RvslInd>true</RvslInd>" if entry.reversal is True else ""
    if type(entry.reversal) is not bool:
        raise MessageError("MX_BAD_VALUE", f"expected a bool, got {entry.reversal!r}",
                           where=where + "/RvslInd")
    status = _xml.max4_xml(entry.status, where, "/Sts/Cd")
    booking = _date_xml("BookgDt", entry.booking_date, where)
    value = _date_xml("ValDt", entry.value_date, where)
    servicer = _optional("AcctSvcrRef", entry.servicer_ref, _xml.max35_xml, where,
                         "/AcctSvcrRef")
    code = _bank_tx_code_xml(entry.bank_tx_code, where)
    details = ""
    if entry.transactions:
        details = "<NtryDtls>" + "".join(
            _transaction_xml(tx, f"{where}/NtryDtls/TxDtls[{index}]")
            for index, tx in enumerate(entry.transactions, start=1)
        ) + "</NtryDtls>"
    info = _optional("AddtlNtryInf", entry.additional_info, _xml.max500_xml, where,
                     "/AddtlNtryInf")
    return (
        f'<Ntry>{reference}<Amt Ccy="{entry.currency}">{amount}</Amt>'
        f"<CdtDbtInd>{indicator}</CdtDbtInd>{reversal}<Sts><Cd>{status}</Cd></Sts>"
        f"{booking}{value}{servicer}{code}{details}{info}</Ntry>"
    )


def entries_xml(entries: tuple[Entry, ...], where: str) -> str:
    """Every `<Ntry>` of a report at XPath `where`."""
    return "".join(
        entry_xml(entry, f"{where}/Ntry[{index}]") for index, entry in enumerate(entries, start=1)
    )


class ReportHead(NamedTuple):
    """What an account report (Stmt, Ntfctn) says about itself and its account."""

    id: str
    account: str
    account_currency: str | None = None
    account_name: str | None = None
    account_servicer: Agent | None = None
    sequence_number: int | None = None
    page_number: int | None = None
    last_page: bool = True
    created_at: datetime.datetime | None = None
    from_time: datetime.datetime | None = None
    to_time: datetime.datetime | None = None


def report_head_xml(head: Statement | Notification, pagination_tag: str,
                    where: str) -> tuple[str, str]:
    """(elements before Acct, the Acct element) of an account report at XPath `where`."""
    report_id = _xml.max35_xml(head.id, where, "/Id")
    pagination = ""
    if head.page_number is not None:
        page = _xml.page_text(head.page_number, where, f"/{pagination_tag}/PgNb")
        last = "true" if head.last_page else "false"
        pagination = f"<{pagination_tag}><PgNb>{page}</PgNb><LastPgInd>{last}</LastPgInd>"\
            f"</{pagination_tag}>"
    sequence = "" if head.sequence_number is None else \
        f"<ElctrncSeqNb>{_xml.count_text(head.sequence_number, where, '/ElctrncSeqNb')}"\
        "</ElctrncSeqNb>"
    created = "" if head.created_at is None else \
        f"<CreDtTm>{_xml.datetime_text(head.created_at, where, '/CreDtTm')}</CreDtTm>"
    period = ""
    if (head.from_time is None) != (head.to_time is None):
        raise MessageError("MX_MISSING_ELEMENT", "a period needs its start and its end",
                           where=where + "/FrToDt")
    if head.from_time is not None and head.to_time is not None:
        period = (
            f"<FrToDt><FrDtTm>{_xml.datetime_text(head.from_time, where, '/FrToDt/FrDtTm')}"
            f"</FrDtTm><ToDtTm>{_xml.datetime_text(head.to_time, where, '/FrToDt/ToDtTm')}"
            "</ToDtTm></FrToDt>"
        )
    account_where = where + "/Acct"
    identification = account_id_xml(head.account, where, "/Acct/Id/Othr/Id")
    currency = "" if head.account_currency is None else \
        f"<Ccy>{_xml.currency_check(head.account_currency, account_where + '/Ccy')}</Ccy>"
    name = _optional("Nm", head.account_name, _xml.max70_xml, account_where, "/Nm")
    servicer = optional_agent_xml("Svcr", head.account_servicer, account_where)
    return (
        f"<Id>{report_id}</Id>{pagination}{sequence}{created}{period}",
        f"<Acct>{identification}{currency}{name}{servicer}</Acct>",
    )


def document_xml(namespace: str, root: str, msg_id: str, created_at: datetime.datetime,
                 reports: tuple[R, ...], tag: str, what: str,
                 report_xml: Callable[[R, str], str]) -> bytes:
    """The UTF-8 document `root`: group header and the reports (`tag`, at least one `what`)."""
    path = f"/Document/{root}"
    if not reports:
        raise MessageError("MX_MISSING_ELEMENT", f"at least one {what} is required",
                           where=f"{path}/{tag}")
    msg_id = _xml.max35_xml(msg_id, path + "/GrpHdr", "/MsgId")
    created = _xml.datetime_text(created_at, path + "/GrpHdr", "/CreDtTm")
    body = "".join(
        report_xml(report, f"{path}/{tag}[{index}]")
        for index, report in enumerate(reports, start=1)
    )
    return (
        f'{_xml.XML_DECLARATION}<Document xmlns="{namespace}"><{root}><GrpHdr><MsgId>{msg_id}'
        f"</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>{body}</{root}></Document>"
    ).encode()


# ---------------------------------------------------------------- parse


class EntryReader:
    """Readers of entries and report heads in the one namespace of a document."""

    def __init__(self, namespace: str) -> None:
        self.parties = Reader(namespace)
        self.t = _xml.Tags(namespace, """
            Ntry NtryRef Amt CdtDbtInd RvslInd Sts Cd BookgDt ValDt Dt DtTm AcctSvcrRef BkTxCd
            Domn Fmly SubFmlyCd Prtry Issr NtryDtls TxDtls Refs MsgId InstrId EndToEndId UETR
            TxId RltdPties RltdAgts RmtInf Ustrd AddtlTxInf AddtlNtryInf Id ElctrncSeqNb
            CreDtTm FrToDt FrDtTm ToDtTm Acct Ccy Nm PgNb LastPgInd GrpHdr
        """)

    def document(self, data: bytes, root: str, message_name: str, tag: str,
                 parse_report: Callable[[Element, str], R],
                 max_bytes: int) -> tuple[str, datetime.datetime, tuple[R, ...]]:
        """Message id, creation time and the reports `tag` (at least one) of a document."""
        t = self.t
        path = f"/Document/{root}"
        element, _ = _xml.parse_document(data, root, (message_name,), max_bytes)
        index = kids(element)
        head = kids(child(index, t.GrpHdr, path))
        msg_id = text(head, t.MsgId, _xml.max35, path + "/GrpHdr")
        created_at = text(head, t.CreDtTm, _xml.parse_datetime, path + "/GrpHdr")
        reports = tuple(
            parse_report(report, f"{path}/{tag}[{number}]")
            for number, report in enumerate(repeated(index, self.parties.tag(tag)), start=1)
        )
        if not reports:
            raise MessageError("MX_MISSING_ELEMENT", f"{tag} is required", where=f"{path}/{tag}")
        return msg_id, created_at, reports

    def date(self, element: Element, where: str) -> datetime.date:
        """A DateAndDateTime2Choice at XPath `where`: a date, or a datetime for DtTm."""
        t = self.t
        index = kids(element)
        if t.DtTm in index:
            return text(index, t.DtTm, _xml.parse_datetime, where)
        return text(index, t.Dt, _xml.parse_date, where)

    def _optional_date(self, index: Kids, tag: str, where: str) -> datetime.date | None:
        element = optional(index, tag, where)
        return None if element is None else self.date(element, f"{where}/{_xml.local_name(tag)}")

    def _bank_tx_code(self, element: Element, where: str) -> BankTransactionCode | None:
        t = self.t
        if not len(element):
            return None
        index = kids(element)
        domain = family = sub_family = proprietary = issuer = None
        domain_element = optional(index, t.Domn, where)
        if domain_element is not None:
            domain_where = where + "/Domn"
            domain_index = kids(domain_element)
            domain = text(domain_index, t.Cd, _xml.max4, domain_where)
            family_where = domain_where + "/Fmly"
            family_index = kids(child(domain_index, t.Fmly, domain_where))
            family = text(family_index, t.Cd, _xml.max4, family_where)
            sub_family = text(family_index, t.SubFmlyCd, _xml.max4, family_where)
        proprietary_element = optional(index, t.Prtry, where)
        if proprietary_element is not None:
            proprietary_where = where + "/Prtry"
            proprietary_index = kids(proprietary_element)
            proprietary = text(proprietary_index, t.Cd, _xml.max35, proprietary_where)
            issuer = optional_text(proprietary_index, t.Issr, _xml.max35, proprietary_where)
        return BankTransactionCode(domain=domain, family=family, sub_family=sub_family,
                                   proprietary=proprietary, issuer=issuer)

    def _transaction(self, element: Element, where: str) -> EntryTransaction:
        t = self.t
        tx = kids(element)
        refs_element = optional(tx, t.Refs, where)
        refs: Kids = {} if refs_element is None else kids(refs_element)
        refs_where = where + "/Refs"
        # Read in document order, so the first error reported is the first in the document.
        msg_id = optional_text(refs, t.MsgId, _xml.max35, refs_where)
        servicer_ref = optional_text(refs, t.AcctSvcrRef, _xml.max35, refs_where)
        instr_id = optional_text(refs, t.InstrId, _xml.max35, refs_where)
        end_to_end_id = optional_text(refs, t.EndToEndId, _xml.max35, refs_where)
        uetr = optional_text(refs, t.UETR, _xml.uetr, refs_where)
        tx_id = optional_text(refs, t.TxId, _xml.max35, refs_where)
        amount = currency = None
        if t.Amt in tx:
            amount, currency = _xml.amount(tx, t.Amt, where)
        indicator = optional_text(tx, t.CdtDbtInd, credit_debit, where)
        debtor = creditor = None
        parties_element = optional(tx, t.RltdPties, where)
        if parties_element is not None:
            parties_where = where + "/RltdPties"
            parties = kids(parties_element)
            if self.parties.tag("Dbtr") in parties:
                debtor = self.parties.party(parties, "Dbtr", parties_where, wrap="Pty")
            if self.parties.tag("Cdtr") in parties:
                creditor = self.parties.party(parties, "Cdtr", parties_where, wrap="Pty")
        debtor_agent = creditor_agent = None
        agents_element = optional(tx, t.RltdAgts, where)
        if agents_element is not None:
            agents_where = where + "/RltdAgts"
            agents = kids(agents_element)
            debtor_agent = self.parties.optional_agent(agents, "DbtrAgt", agents_where)
            creditor_agent = self.parties.optional_agent(agents, "CdtrAgt", agents_where)
        remittance = optional(tx, t.RmtInf, where)
        return EntryTransaction(
            end_to_end_id=end_to_end_id,
            uetr=uetr,
            tx_id=tx_id,
            instr_id=instr_id,
            msg_id=msg_id,
            servicer_ref=servicer_ref,
            amount=amount,
            currency=currency,
            credit_debit=indicator,
            debtor=debtor,
            creditor=creditor,
            debtor_agent=debtor_agent,
            creditor_agent=creditor_agent,
            remittance_info=None if remittance is None else
            _xml.only_text(remittance, t.Ustrd, _xml.max140, where + "/RmtInf"),
            additional_info=optional_text(tx, t.AddtlTxInf, _xml.max500, where),
        )

    def entry(self, element: Element, where: str) -> Entry:
        """One Ntry at XPath `where` (with its position)."""
        t = self.t
        node = kids(element)
        reference = optional_text(node, t.NtryRef, _xml.max35, where)
        amount, currency = _xml.amount(node, t.Amt, where)
        indicator = text(node, t.CdtDbtInd, credit_debit, where)
        reversal = optional_text(node, t.RvslInd, _xml.parse_boolean, where)
        status = _xml.only_text(child(node, t.Sts, where), t.Cd, _xml.max4, where + "/Sts")
        booking_date = self._optional_date(node, t.BookgDt, where)
        value_date = self._optional_date(node, t.ValDt, where)
        servicer_ref = optional_text(node, t.AcctSvcrRef, _xml.max35, where)
        code = self._bank_tx_code(child(node, t.BkTxCd, where), where + "/BkTxCd")
        transactions: list[EntryTransaction] = []
        # Details may come in several NtryDtls (batches): their TxDtls are read in order.
        details = repeated(node, t.NtryDtls)
        for number, detail in enumerate(details, start=1):
            detail_where = f"{where}/NtryDtls" + (f"[{number}]" if len(details) > 1 else "")
            transactions.extend(
                self._transaction(tx, f"{detail_where}/TxDtls[{index}]")
                for index, tx in enumerate(repeated(kids(detail), t.TxDtls), start=1)
            )
        return Entry(
            amount=amount,
            currency=currency,
            credit_debit=indicator,
            booking_date=booking_date,
            value_date=value_date,
            status=status,
            reference=reference,
            servicer_ref=servicer_ref,
            reversal=bool(reversal),
            bank_tx_code=code,
            transactions=tuple(transactions),
            additional_info=optional_text(node, t.AddtlNtryInf, _xml.max500, where),
        )

    def entries(self, report: Kids, where: str) -> tuple[Entry, ...]:
        """Every Ntry among the children `report` of the report at XPath `where`."""
        return tuple(
            self.entry(entry, f"{where}/Ntry[{index}]")
            for index, entry in enumerate(repeated(report, self.t.Ntry), start=1)
        )

    def head(self, report: Kids, pagination_tag: str, where: str) -> ReportHead:
        """Id, pagination, sequence number, times and account of the report at `where`."""
        t = self.t
        report_id = text(report, t.Id, _xml.max35, where)
        page_number: int | None = None
        last_page = True
        pagination = optional(report, self.parties.tag(pagination_tag), where)
        if pagination is not None:
            pagination_where = f"{where}/{pagination_tag}"
            pages = kids(pagination)
            page_number = text(pages, t.PgNb, _xml.parse_page, pagination_where)
            last_page = text(pages, t.LastPgInd, _xml.parse_boolean, pagination_where)
        sequence_number = optional_text(report, t.ElctrncSeqNb, _xml.parse_count, where)
        created_at = optional_text(report, t.CreDtTm, _xml.parse_datetime, where)
        from_time = to_time = None
        period = optional(report, t.FrToDt, where)
        if period is not None:
            period_index = kids(period)
            from_time = text(period_index, t.FrDtTm, _xml.parse_datetime, where + "/FrToDt")
            to_time = text(period_index, t.ToDtTm, _xml.parse_datetime, where + "/FrToDt")
        account_where = where + "/Acct"
        account_element = child(report, t.Acct, where)
        account = kids(account_element)
        account_id = self.parties.account(account_element, account_where)
        account_currency = optional_text(account, t.Ccy, _xml.currency_check, account_where)
        account_name = optional_text(account, t.Nm, _xml.max70, account_where)
        return ReportHead(
            id=report_id,
            account=account_id,
            account_currency=account_currency,
            account_name=account_name,
            account_servicer=self.parties.optional_agent(account, "Svcr", account_where),
            sequence_number=sequence_number,
            page_number=page_number,
            last_page=last_page,
            created_at=created_at,
            from_time=from_time,
            to_time=to_time,
        )
