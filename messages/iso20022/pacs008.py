"""pacs.008.001.08 FIToFICustomerCreditTransfer: one customer credit transfer per payment.

>>> import datetime
>>> bank = Agent(member_id="102100099996", clearing_system="CNAPS")
>>> transfer = CreditTransfer(
...     end_to_end_id="E2E-1", tx_id="TX-1", uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f",
...     amount=12345, currency="CNY", settlement_date=datetime.date(2024, 5, 6),
...     debtor=PartyAccount(name="张三 & Co", account="6222020200000001"), debtor_agent=bank,
...     creditor=PartyAccount(name="李四", account="6222020200000002"), creditor_agent=bank)
>>> msg = Pacs008(msg_id="M-1", transactions=(transfer,),
...     created_at=datetime.datetime(2024, 5, 6, 9, 30, tzinfo=datetime.timezone.utc))
>>> data = build_pacs008(msg)
>>> b"<IntrBkSttlmAmt Ccy=\\"CNY\\">123.45</IntrBkSttlmAmt>" in data
True
>>> parse_pacs008(data) == msg
True
"""

from __future__ import annotations

import datetime

import msgspec

from messages.errors import MessageError
from messages.iso20022 import _xml
from messages.iso20022._xml import Node, tag

__all__ = [
    "MESSAGE_NAME",
    "Agent",
    "CreditTransfer",
    "Pacs008",
    "PartyAccount",
    "build_pacs008",
    "parse_pacs008",
]

MESSAGE_NAME = "pacs.008.001.08"
NAMESPACE = _xml.NAMESPACE_PREFIX + MESSAGE_NAME
_ROOT = "FIToFICstmrCdtTrf"
_PATH = f"/Document/{_ROOT}"

# ExternalClearingSystemIdentification1Code (member ids); anything else goes out as Prtry.
CLEARING_SYSTEM_CODES = frozenset({
    "ATBLZ", "AUBSB", "CACPA", "CHBCC", "CHSIC", "CNAPS", "DEBLZ", "ESNCC", "GBDSC", "GRBIC",
    "HKNCC", "IENCC", "INFSC", "ITNCC", "JPZGN", "NZNCC", "PLKNR", "PTNCC", "RUCBC", "SESBA",
    "SGIBG", "THCBC", "TWNCN", "USABA", "USPID", "ZANCC",
})
# ExternalCashClearingSystem1Code (settlement): CHIPS, Fedwire, TARGET2; others go out as Prtry.
CASH_CLEARING_SYSTEM_CODES = frozenset({"CHI", "FDW", "TGT"})
CHARGE_BEARERS = frozenset({"DEBT", "CRED", "SHAR", "SLEV"})
SETTLEMENT_METHODS = frozenset({"INDA", "INGA", "COVE", "CLRG"})
_MAX_ADDRESS_LINES = 7

_charge_bearer = _xml.code_check(CHARGE_BEARERS)
_settlement_method = _xml.code_check(SETTLEMENT_METHODS)


class Agent(msgspec.Struct, frozen=True):
    """A financial institution: BIC, clearing member id (e.g. a 12-digit CNAPS code), LEI, name."""

    bic: str | None = None
    member_id: str | None = None
    clearing_system: str | None = None
    lei: str | None = None
    name: str | None = None


class PartyAccount(msgspec.Struct, frozen=True):
    """A debtor or creditor with its account."""

    name: str
    account: str | None = None
    country: str | None = None
    address_lines: tuple[str, ...] = ()


class CreditTransfer(msgspec.Struct, frozen=True):
    """One CdtTrfTxInf; `amount` is in minor units of `currency`."""

    end_to_end_id: str
    tx_id: str
    uetr: str
    amount: int
    currency: str
    settlement_date: datetime.date
    debtor: PartyAccount
    debtor_agent: Agent
    creditor: PartyAccount
    creditor_agent: Agent
    charge_bearer: str = "SLEV"
    instr_id: str | None = None
    purpose: str | None = None
    remittance_info: str | None = None


class Pacs008(msgspec.Struct, frozen=True):
    """The message: group header and its transactions."""

    msg_id: str
    created_at: datetime.datetime
    transactions: tuple[CreditTransfer, ...]
    settlement_method: str = "CLRG"
    clearing_system: str | None = None
    instructing_agent: Agent | None = None
    instructed_agent: Agent | None = None


# ---------------------------------------------------------------- build


def _agent_xml(out: list[str], name: str, agent: Agent, where: str) -> None:
    where = f"{where}/FinInstnId"
    out.append(f"<{name}><FinInstnId>")
    if agent.bic is not None:
        out.append(f"<BICFI>{_xml.bic(agent.bic, where + '/BICFI')}</BICFI>")
    if agent.member_id is not None:
        member_where = where + "/ClrSysMmbId"
        out.append("<ClrSysMmbId>")
        system = agent.clearing_system
        if system is not None:
            if system in CLEARING_SYSTEM_CODES:
                out.append(f"<ClrSysId><Cd>{system}</Cd></ClrSysId>")
            else:
                _xml.max35(system, member_where + "/ClrSysId/Prtry")
                out.append(f"<ClrSysId>{tag('Prtry', system)}</ClrSysId>")
        _xml.max35(agent.member_id, member_where + "/MmbId")
        out.append(tag("MmbId", agent.member_id))
        out.append("</ClrSysMmbId>")
    elif agent.clearing_system is not None:
        raise MessageError(
            "MX_MISSING_ELEMENT", "a clearing system needs a member id",
            where=where + "/ClrSysMmbId/MmbId",
        )
    if agent.lei is not None:
        out.append(f"<LEI>{_xml.lei(agent.lei, where + '/LEI')}</LEI>")
    if agent.name is not None:
        _xml.max140(agent.name, where + "/Nm")
        out.append(tag("Nm", agent.name))
    out.append(f"</FinInstnId></{name}>")


def _party_xml(out: list[str], name: str, party: PartyAccount, where: str) -> None:
    _xml.max140(party.name, f"{where}/{name}/Nm")
    out.append(f"<{name}>{tag('Nm', party.name)}")
    if party.country is not None or party.address_lines:
        out.append("<PstlAdr>")
        if party.country is not None:
            country = _xml.country(party.country, f"{where}/{name}/PstlAdr/Ctry")
            out.append(f"<Ctry>{country}</Ctry>")
        if len(party.address_lines) > _MAX_ADDRESS_LINES:
            raise MessageError(
                "MX_BAD_VALUE", f"at most {_MAX_ADDRESS_LINES} address lines",
                where=f"{where}/{name}/PstlAdr/AdrLine",
            )
        for index, line in enumerate(party.address_lines, start=1):
            _xml.max70(line, f"{where}/{name}/PstlAdr/AdrLine[{index}]")
            out.append(tag("AdrLine", line))
        out.append("</PstlAdr>")
    out.append(f"</{name}>")
    if party.account is not None:
        account = party.account
        if _xml.is_iban(account):
            out.append(f"<{name}Acct><Id><IBAN>{account}</IBAN></Id></{name}Acct>")
        else:
            _xml.max34(account, f"{where}/{name}Acct/Id/Othr/Id")
            out.append(f"<{name}Acct><Id><Othr>{tag('Id', account)}</Othr></Id></{name}Acct>")


def _transfer_xml(out: list[str], tx: CreditTransfer, where: str) -> None:
    out.append("<CdtTrfTxInf><PmtId>")
    if tx.instr_id is not None:
        out.append(tag("InstrId", _xml.max35(tx.instr_id, where + "/PmtId/InstrId")))
    out.append(tag("EndToEndId", _xml.max35(tx.end_to_end_id, where + "/PmtId/EndToEndId")))
    out.append(tag("TxId", _xml.max35(tx.tx_id, where + "/PmtId/TxId")))
    out.append(f"<UETR>{_xml.uetr(tx.uetr, where + '/PmtId/UETR')}</UETR></PmtId>")
    amount = _xml.amount_text(tx.amount, tx.currency, where + "/IntrBkSttlmAmt")
    out.append(f'<IntrBkSttlmAmt Ccy="{tx.currency}">{amount}</IntrBkSttlmAmt>')
    date = _xml.date_text(tx.settlement_date, where + "/IntrBkSttlmDt")
    out.append(f"<IntrBkSttlmDt>{date}</IntrBkSttlmDt>")
    out.append(f"<ChrgBr>{_charge_bearer(tx.charge_bearer, where + '/ChrgBr')}</ChrgBr>")
    _party_xml(out, "Dbtr", tx.debtor, where)
    _agent_xml(out, "DbtrAgt", tx.debtor_agent, where + "/DbtrAgt")
    _agent_xml(out, "CdtrAgt", tx.creditor_agent, where + "/CdtrAgt")
    _party_xml(out, "Cdtr", tx.creditor, where)
    if tx.purpose is not None:
        out.append(f"<Purp>{tag('Cd', _xml.max4(tx.purpose, where + '/Purp/Cd'))}</Purp>")
    if tx.remittance_info is not None:
        _xml.max140(tx.remittance_info, where + "/RmtInf/Ustrd")
        out.append(f"<RmtInf>{tag('Ustrd', tx.remittance_info)}</RmtInf>")
    out.append("</CdtTrfTxInf>")


def build_pacs008(msg: Pacs008) -> bytes:
    """The UTF-8 document; raises MessageError naming the element of any invalid value."""
    head = _PATH + "/GrpHdr"
    if not msg.transactions:
        raise MessageError(
            "MX_MISSING_ELEMENT", "at least one transaction is required",
            where=_PATH + "/CdtTrfTxInf",
        )
    out = [
        _xml.XML_DECLARATION,
        f'<Document xmlns="{NAMESPACE}"><{_ROOT}><GrpHdr>',
        tag("MsgId", _xml.max35(msg.msg_id, head + "/MsgId")),
        f"<CreDtTm>{_xml.datetime_text(msg.created_at, head + '/CreDtTm')}</CreDtTm>",
        f"<NbOfTxs>{len(msg.transactions)}</NbOfTxs><SttlmInf>",
        f"<SttlmMtd>{_settlement_method(msg.settlement_method, head + '/SttlmInf/SttlmMtd')}"
        "</SttlmMtd>",
    ]
    system = msg.clearing_system
    if system is not None:
        if system in CASH_CLEARING_SYSTEM_CODES:
            out.append(f"<ClrSys><Cd>{system}</Cd></ClrSys>")
        else:
            _xml.max35(system, head + "/SttlmInf/ClrSys/Prtry")
            out.append(f"<ClrSys>{tag('Prtry', system)}</ClrSys>")
    out.append("</SttlmInf>")
    if msg.instructing_agent is not None:
        _agent_xml(out, "InstgAgt", msg.instructing_agent, head + "/InstgAgt")
    if msg.instructed_agent is not None:
        _agent_xml(out, "InstdAgt", msg.instructed_agent, head + "/InstdAgt")
    out.append("</GrpHdr>")
    for index, tx in enumerate(msg.transactions, start=1):
        _transfer_xml(out, tx, f"{_PATH}/CdtTrfTxInf[{index}]")
    out.append(f"</{_ROOT}></Document>")
    return "".join(out).encode()


# ---------------------------------------------------------------- parse


def _choice(node: Node, where_missing: str) -> str:
    """Value of a Cd/Prtry choice."""
    code = node.optional_text("Cd", _xml.max35)
    if code is not None:
        return code
    proprietary = node.optional_text("Prtry", _xml.max35)
    if proprietary is None:
        raise MessageError("MX_MISSING_ELEMENT", "Cd or Prtry is required", where=where_missing)
    return proprietary


def parse_agent(node: Node) -> Agent:
    """Agent from a BranchAndFinancialInstitutionIdentification6 element."""
    fin = node.child("FinInstnId")
    member_id = clearing_system = None
    member = fin.optional("ClrSysMmbId")
    if member is not None:
        member_id = member.text("MmbId", _xml.max35)
        system = member.optional("ClrSysId")
        if system is not None:
            clearing_system = _choice(system, system.path + "/Cd")
    return Agent(
        bic=fin.optional_text("BICFI", _xml.bic),
        member_id=member_id,
        clearing_system=clearing_system,
        lei=fin.optional_text("LEI", _xml.lei),
        name=fin.optional_text("Nm", _xml.max140),
    )


def _parse_party(tx: Node, name: str) -> PartyAccount:
    party = tx.child(name)
    country: str | None = None
    lines: tuple[str, ...] = ()
    address = party.optional("PstlAdr")
    if address is not None:
        country = address.optional_text("Ctry", _xml.country)
        lines = tuple(
            _xml.max70(line.own_text(), line.path) for line in address.repeated("AdrLine")
        )
        if len(lines) > _MAX_ADDRESS_LINES:
            raise MessageError("MX_BAD_VALUE", f"at most {_MAX_ADDRESS_LINES} address lines",
                               where=address.path + "/AdrLine")
    account: str | None = None
    account_node = tx.optional(name + "Acct")
    if account_node is not None:
        identification = account_node.child("Id")
        iban = identification.optional("IBAN")
        if iban is not None:
            account = iban.own_text()
            if not _xml.is_iban(account):
                raise MessageError("MX_BAD_VALUE", f"{account!r} is not a valid IBAN",
                                   where=iban.path)
        else:
            other = identification.optional("Othr")
            if other is None:
                raise MessageError("MX_MISSING_ELEMENT", "IBAN or Othr is required",
                                   where=identification.path + "/Othr")
            account = other.text("Id", _xml.max34)
    return PartyAccount(
        name=party.text("Nm", _xml.max140), account=account, country=country, address_lines=lines
    )


def _parse_transfer(tx: Node) -> CreditTransfer:
    # Read in document order so the first error reported is the first one in the document.
    payment_id = tx.child("PmtId")
    instr_id = payment_id.optional_text("InstrId", _xml.max35)
    end_to_end_id = payment_id.text("EndToEndId", _xml.max35)
    tx_id = payment_id.text("TxId", _xml.max35)
    uetr = payment_id.text("UETR", _xml.uetr)
    amount, currency = tx.amount("IntrBkSttlmAmt")
    settlement_date = tx.text("IntrBkSttlmDt", _xml.parse_date)
    charge_bearer = tx.text("ChrgBr", _charge_bearer)
    debtor = _parse_party(tx, "Dbtr")
    debtor_agent = parse_agent(tx.child("DbtrAgt"))
    creditor_agent = parse_agent(tx.child("CdtrAgt"))
    creditor = _parse_party(tx, "Cdtr")
    purpose = tx.optional("Purp")
    remittance = tx.optional("RmtInf")
    return CreditTransfer(
        end_to_end_id=end_to_end_id,
        tx_id=tx_id,
        uetr=uetr,
        amount=amount,
        currency=currency,
        settlement_date=settlement_date,
        debtor=debtor,
        debtor_agent=debtor_agent,
        creditor=creditor,
        creditor_agent=creditor_agent,
        charge_bearer=charge_bearer,
        instr_id=instr_id,
        purpose=None if purpose is None else purpose.text("Cd", _xml.max4),
        remittance_info=None if remittance is None else remittance.text("Ustrd", _xml.max140),
    )


def parse_pacs008(data: bytes, *, max_bytes: int = _xml.DEFAULT_MAX_BYTES) -> Pacs008:
    """Parse a pacs.008.001.08 document (hardened; see `messages.iso20022._xml`)."""
    element, _ = _xml.parse_document(data, _ROOT, (MESSAGE_NAME,), max_bytes)
    root = Node(element, _PATH)
    head = root.child("GrpHdr")
    settlement = head.child("SttlmInf")
    clearing = settlement.optional("ClrSys")
    instructing = head.optional("InstgAgt")
    instructed = head.optional("InstdAgt")
    transactions = tuple(_parse_transfer(tx) for tx in root.repeated("CdtTrfTxInf"))
    if not transactions:
        raise MessageError("MX_MISSING_ELEMENT", "CdtTrfTxInf is required",
                           where=_PATH + "/CdtTrfTxInf")
    count = head.text("NbOfTxs", _xml.max35)
    if count != str(len(transactions)):
        raise MessageError("MX_BAD_VALUE",
                           f"NbOfTxs {count} but {len(transactions)} transactions",
                           where=head.path + "/NbOfTxs")
    return Pacs008(
        msg_id=head.text("MsgId", _xml.max35),
        created_at=head.text("CreDtTm", _xml.parse_datetime),
        transactions=transactions,
        settlement_method=settlement.text("SttlmMtd", _settlement_method),
        clearing_system=None if clearing is None else _choice(clearing, clearing.path + "/Cd"),
        instructing_agent=None if instructing is None else parse_agent(instructing),
        instructed_agent=None if instructed is None else parse_agent(instructed),
    )

