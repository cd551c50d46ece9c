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
from messages.iso20022._xml import Element, Kids, child, kids, optional, optional_text, text

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
_HEAD = _PATH + "/GrpHdr"
_SETTLEMENT = _HEAD + "/SttlmInf"
_T = _xml.Tags(NAMESPACE, """
    GrpHdr MsgId CreDtTm NbOfTxs SttlmInf SttlmMtd ClrSys Cd Prtry InstgAgt InstdAgt
    CdtTrfTxInf PmtId InstrId EndToEndId TxId UETR IntrBkSttlmAmt IntrBkSttlmDt ChrgBr
    Dbtr DbtrAcct DbtrAgt CdtrAgt Cdtr CdtrAcct Purp RmtInf Ustrd
    FinInstnId BICFI ClrSysMmbId ClrSysId MmbId LEI Nm PstlAdr Ctry AdrLine Id IBAN Othr
""")

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
#
# Each element is one f-string of already checked, escaped values. A check is given the XPath
# of the transaction (or group header) and the rest of the path as a constant suffix, so the
# full XPath is only put together when a value is refused.


class _AgentPaths:
    """XPath suffixes of an agent's values, below its parent."""

    __slots__ = ("bic", "lei", "member", "member_id", "name", "system")

    def __init__(self, agent: str) -> None:
        fin = f"/{agent}/FinInstnId"
        self.bic = fin + "/BICFI"
        self.member = fin + "/ClrSysMmbId"
        self.system = fin + "/ClrSysMmbId/ClrSysId/Prtry"
        self.member_id = fin + "/ClrSysMmbId/MmbId"
        self.lei = fin + "/LEI"
        self.name = fin + "/Nm"


class _PartyPaths:
    """XPath suffixes of a party's and its account's values, below the transaction."""

    __slots__ = ("account", "address", "country", "name")

    def __init__(self, party: str) -> None:
        self.name = f"/{party}/Nm"
        self.country = f"/{party}/PstlAdr/Ctry"
        self.address = f"/{party}/PstlAdr/AdrLine"
        self.account = f"/{party}Acct/Id/Othr/Id"


_AGENT_PATHS = {name: _AgentPaths(name) for name in ("InstgAgt", "InstdAgt", "DbtrAgt", "CdtrAgt")}
_PARTY_PATHS = {name: _PartyPaths(name) for name in ("Dbtr", "Cdtr")}


def _agent_xml(name: str, agent: Agent, where: str) -> str:
    paths = _AGENT_PATHS[name]
    bic = "" if agent.bic is None else f"<BICFI>{_xml.bic(agent.bic, where, paths.bic)}</BICFI>"
    member = ""
    if agent.member_id is not None:
        system = agent.clearing_system
        if system is None:
            system_xml = ""
        elif system in CLEARING_SYSTEM_CODES:
            system_xml = f"<ClrSysId><Cd>{system}</Cd></ClrSysId>"
        else:
            system_xml = f"<ClrSysId><Prtry>{_xml.max35_xml(system, where, paths.system)}</Prtry>"\
                "</ClrSysId>"
        member_id = _xml.max35_xml(agent.member_id, where, paths.member_id)
        member = f"<ClrSysMmbId>{system_xml}<MmbId>{member_id}</MmbId></ClrSysMmbId>"
    elif agent.clearing_system is not None:
        raise MessageError(
            "MX_MISSING_ELEMENT", "a clearing system needs a member id",
            where=where + paths.member_id,
        )
    lei = "" if agent.lei is None else f"<LEI>{_xml.lei(agent.lei, where, paths.lei)}</LEI>"
    nm = "" if agent.name is None else f"<Nm>{_xml.max140_xml(agent.name, where, paths.name)}</Nm>"
    return f"<{name}><FinInstnId>{bic}{member}{lei}{nm}</FinInstnId></{name}>"


def _party_xml(name: str, party: PartyAccount, where: str) -> str:
    paths = _PARTY_PATHS[name]
    nm = _xml.max140_xml(party.name, where, paths.name)
    address = ""
    if party.country is not None or party.address_lines:
        country = "" if party.country is None else \
            f"<Ctry>{_xml.country(party.country, where, paths.country)}</Ctry>"
        if len(party.address_lines) > _MAX_ADDRESS_LINES:
            raise MessageError(
                "MX_BAD_VALUE", f"at most {_MAX_ADDRESS_LINES} address lines",
                where=where + paths.address,
            )
        lines = "".join(
            f"<AdrLine>{_xml.max70_xml(line, where, f'{paths.address}[{index}]')}</AdrLine>"
            for index, line in enumerate(party.address_lines, start=1)
        )
        address = f"<PstlAdr>{country}{lines}</PstlAdr>"
    account = ""
    if party.account is not None:
        value = party.account
        if _xml.is_iban(value):
            account = f"<{name}Acct><Id><IBAN>{value}</IBAN></Id></{name}Acct>"
        else:
            value = _xml.max34_xml(value, where, paths.account)
            account = f"<{name}Acct><Id><Othr><Id>{value}</Id></Othr></Id></{name}Acct>"
    return f"<{name}><Nm>{nm}</Nm>{address}</{name}>{account}"


def _transfer_xml(tx: CreditTransfer, where: str) -> str:
    instr_id = "" if tx.instr_id is None else \
        f"<InstrId>{_xml.max35_xml(tx.instr_id, where, '/PmtId/InstrId')}</InstrId>"
    end_to_end_id = _xml.max35_xml(tx.end_to_end_id, where, "/PmtId/EndToEndId")
    tx_id = _xml.max35_xml(tx.tx_id, where, "/PmtId/TxId")
    uetr = _xml.uetr(tx.uetr, where, "/PmtId/UETR")
    amount = _xml.amount_text(tx.amount, tx.currency, where + "/IntrBkSttlmAmt")
    date = _xml.date_text(tx.settlement_date, where, "/IntrBkSttlmDt")
    charge_bearer = _charge_bearer(tx.charge_bearer, where, "/ChrgBr")
    debtor = _party_xml("Dbtr", tx.debtor, where)
    debtor_agent = _agent_xml("DbtrAgt", tx.debtor_agent, where)
    creditor_agent = _agent_xml("CdtrAgt", tx.creditor_agent, where)
    creditor = _party_xml("Cdtr", tx.creditor, where)
    purpose = "" if tx.purpose is None else \
        f"<Purp><Cd>{_xml.max4_xml(tx.purpose, where, '/Purp/Cd')}</Cd></Purp>"
    remittance = "" if tx.remittance_info is None else \
        f"<RmtInf><Ustrd>{_xml.max140_xml(tx.remittance_info, where, '/RmtInf/Ustrd')}</Ustrd>"\
        "</RmtInf>"
    return (
        f"<CdtTrfTxInf><PmtId>{instr_id}<EndToEndId>{end_to_end_id}</EndToEndId>"
        f"<TxId>{tx_id}</TxId><UETR>{uetr}</UETR></PmtId>"
        f'<IntrBkSttlmAmt Ccy="{tx.currency}">{amount}</IntrBkSttlmAmt>'
        f"<IntrBkSttlmDt>{date}</IntrBkSttlmDt><ChrgBr>{charge_bearer}</ChrgBr>"
        f"{debtor}{debtor_agent}{creditor_agent}{creditor}{purpose}{remittance}</CdtTrfTxInf>"
    )


_START = f'{_xml.XML_DECLARATION}<Document xmlns="{NAMESPACE}"><{_ROOT}><GrpHdr><MsgId>'
_END = f"</{_ROOT}></Document>"


def build_pacs008(msg: Pacs008) -> bytes:
    """The UTF-8 document; raises MessageError naming the element of any invalid value."""
    transactions = msg.transactions
    if not transactions:
        raise MessageError(
            "MX_MISSING_ELEMENT", "at least one transaction is required",
            where=_PATH + "/CdtTrfTxInf",
        )
    msg_id = _xml.max35_xml(msg.msg_id, _HEAD, "/MsgId")
    created_at = _xml.datetime_text(msg.created_at, _HEAD, "/CreDtTm")
    method = _settlement_method(msg.settlement_method, _SETTLEMENT, "/SttlmMtd")
    system = msg.clearing_system
    if system is None:
        clearing = ""
    elif system in CASH_CLEARING_SYSTEM_CODES:
        clearing = f"<ClrSys><Cd>{system}</Cd></ClrSys>"
    else:
        clearing = f"<ClrSys><Prtry>{_xml.max35_xml(system, _SETTLEMENT, '/ClrSys/Prtry')}"\
            "</Prtry></ClrSys>"
    instructing = "" if msg.instructing_agent is None else \
        _agent_xml("InstgAgt", msg.instructing_agent, _HEAD)
    instructed = "" if msg.instructed_agent is None else \
        _agent_xml("InstdAgt", msg.instructed_agent, _HEAD)
    if len(transactions) == 1:
        body = _transfer_xml(transactions[0], _PATH + "/CdtTrfTxInf[1]")
    else:
        body = "".join(
            _transfer_xml(tx, f"{_PATH}/CdtTrfTxInf[{index}]")
            for index, tx in enumerate(transactions, start=1)
        )
    return (
        f"{_START}{msg_id}</MsgId><CreDtTm>{created_at}</CreDtTm>"
        f"<NbOfTxs>{len(transactions)}</NbOfTxs><SttlmInf><SttlmMtd>{method}</SttlmMtd>"
        f"{clearing}</SttlmInf>{instructing}{instructed}</GrpHdr>{body}{_END}"
    ).encode()


# ---------------------------------------------------------------- parse
#
# Read in document order so the first error reported is the first one in the document; each
# function takes its element's children (`kids`) and the element's XPath for errors.


def _choice(element: Element, where: str) -> str:
    """Value of a Cd/Prtry choice."""
    if len(element) == 1:  # the usual shape, a lone Cd: no index needed
        first = element[0]
        if first.tag == _T.Cd:
            return _xml.own_text(first, _xml.max35, where + "/Cd")
    index = kids(element)
    code = optional_text(index, _T.Cd, _xml.max35, where)
    if code is not None:
        return code
    proprietary = optional_text(index, _T.Prtry, _xml.max35, where)
    if proprietary is None:
        raise MessageError("MX_MISSING_ELEMENT", "Cd or Prtry is required", where=where + "/Cd")
    return proprietary


def _parse_agent(element: Element, where: str) -> Agent:
    """Agent from a BranchAndFinancialInstitutionIdentification6 element at XPath `where`."""
    fin = kids(_xml.only(element, _T.FinInstnId, where))
    where += "/FinInstnId"
    member_id = clearing_system = None
    member_element = optional(fin, _T.ClrSysMmbId, where)
    if member_element is not None:
        member_where = where + "/ClrSysMmbId"
        member = kids(member_element)
        member_id = text(member, _T.MmbId, _xml.max35, member_where)
        system = optional(member, _T.ClrSysId, member_where)
        if system is not None:
            clearing_system = _choice(system, member_where + "/ClrSysId")
    return Agent(
        bic=optional_text(fin, _T.BICFI, _xml.bic, where),
        member_id=member_id,
        clearing_system=clearing_system,
        lei=optional_text(fin, _T.LEI, _xml.lei, where),
        name=optional_text(fin, _T.Nm, _xml.max140, where),
    )


_PARTY_TAGS = {"Dbtr": (_T.Dbtr, _T.DbtrAcct), "Cdtr": (_T.Cdtr, _T.CdtrAcct)}


def _parse_party(tx: Kids, name: str, where: str) -> PartyAccount:
    """The party `name` (Dbtr or Cdtr) and its account, from the transaction at `where`."""
    party_tag, account_tag = _PARTY_TAGS[name]
    party_where = f"{where}/{name}"
    party = kids(child(tx, party_tag, where))
    country: str | None = None
    lines: tuple[str, ...] = ()
    address_element = optional(party, _T.PstlAdr, party_where)
    if address_element is not None:
        address_where = party_where + "/PstlAdr"
        address = kids(address_element)
        country = optional_text(address, _T.Ctry, _xml.country, address_where)
        if _T.AdrLine in address:
            lines = tuple(
                _xml.own_text(line, _xml.max70, f"{address_where}/AdrLine[{index}]")
                for index, line in enumerate(_xml.repeated(address, _T.AdrLine), start=1)
            )
        if len(lines) > _MAX_ADDRESS_LINES:
            raise MessageError("MX_BAD_VALUE", f"at most {_MAX_ADDRESS_LINES} address lines",
                               where=address_where + "/AdrLine")
    account: str | None = None
    account_element = optional(tx, account_tag, where)
    if account_element is not None:
        account_where = f"{where}/{name}Acct"
        id_where = account_where + "/Id"
        identification = kids(_xml.only(account_element, _T.Id, account_where))
        iban = optional(identification, _T.IBAN, id_where)
        if iban is not None:
            account = _xml.own_text(iban, _any_text, id_where + "/IBAN")
            if not _xml.is_iban(account):
                raise MessageError("MX_BAD_VALUE", f"{account!r} is not a valid IBAN",
                                   where=id_where + "/IBAN")
        else:
            other = optional(identification, _T.Othr, id_where)
            if other is None:
                raise MessageError("MX_MISSING_ELEMENT", "IBAN or Othr is required",
                                   where=id_where + "/Othr")
            account = _xml.only_text(other, _T.Id, _xml.max34, id_where + "/Othr")
    return PartyAccount(
        name=text(party, _T.Nm, _xml.max140, party_where),
        account=account, country=country, address_lines=lines,
    )


def _any_text(value: str, where: str) -> str:
    return value


def _parse_transfer(element: Element, where: str) -> CreditTransfer:
    tx = kids(element)
    pmt_where = where + "/PmtId"
    payment_id = kids(child(tx, _T.PmtId, where))
    instr_id = optional_text(payment_id, _T.InstrId, _xml.max35, pmt_where)
    end_to_end_id = text(payment_id, _T.EndToEndId, _xml.max35, pmt_where)
    tx_id = text(payment_id, _T.TxId, _xml.max35, pmt_where)
    uetr = text(payment_id, _T.UETR, _xml.uetr, pmt_where)
    amount, currency = _xml.amount(tx, _T.IntrBkSttlmAmt, where)
    settlement_date = text(tx, _T.IntrBkSttlmDt, _xml.parse_date, where)
    charge_bearer = text(tx, _T.ChrgBr, _charge_bearer, where)
    debtor = _parse_party(tx, "Dbtr", where)
    debtor_agent = _parse_agent(child(tx, _T.DbtrAgt, where), where + "/DbtrAgt")
    creditor_agent = _parse_agent(child(tx, _T.CdtrAgt, where), where + "/CdtrAgt")
    creditor = _parse_party(tx, "Cdtr", where)
    purpose = optional(tx, _T.Purp, where)
    remittance = optional(tx, _T.RmtInf, where)
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
        purpose=None if purpose is None else
        _xml.only_text(purpose, _T.Cd, _xml.max4, where + "/Purp"),
        remittance_info=None if remittance is None else
        _xml.only_text(remittance, _T.Ustrd, _xml.max140, where + "/RmtInf"),
    )


def parse_pacs008(data: bytes, *, max_bytes: int = _xml.DEFAULT_MAX_BYTES) -> Pacs008:
    """Parse a pacs.008.001.08 document (hardened; see `messages.iso20022._xml`)."""
    element, _ = _xml.parse_document(data, _ROOT, (MESSAGE_NAME,), max_bytes)
    root = kids(element)
    head = kids(child(root, _T.GrpHdr, _PATH))
    settlement = kids(child(head, _T.SttlmInf, _HEAD))
    clearing = optional(settlement, _T.ClrSys, _SETTLEMENT)
    instructing = optional(head, _T.InstgAgt, _HEAD)
    instructed = optional(head, _T.InstdAgt, _HEAD)
    transactions = tuple(
        _parse_transfer(tx, f"{_PATH}/CdtTrfTxInf[{index}]")
        for index, tx in enumerate(_xml.repeated(root, _T.CdtTrfTxInf), start=1)
    )
    if not transactions:
        raise MessageError("MX_MISSING_ELEMENT", "CdtTrfTxInf is required",
                           where=_PATH + "/CdtTrfTxInf")
    count = text(head, _T.NbOfTxs, _xml.max35, _HEAD)
    if count != str(len(transactions)):
        raise MessageError("MX_BAD_VALUE",
                           f"NbOfTxs {count} but {len(transactions)} transactions",
                           where=_HEAD + "/NbOfTxs")
    return Pacs008(
        msg_id=text(head, _T.MsgId, _xml.max35, _HEAD),
        created_at=text(head, _T.CreDtTm, _xml.parse_datetime, _HEAD),
        transactions=transactions,
        settlement_method=text(settlement, _T.SttlmMtd, _settlement_method, _SETTLEMENT),
        clearing_system=None if clearing is None else
        _choice(clearing, _SETTLEMENT + "/ClrSys"),
        instructing_agent=None if instructing is None else
        _parse_agent(instructing, _HEAD + "/InstgAgt"),
        instructed_agent=None if instructed is None else
        _parse_agent(instructed, _HEAD + "/InstdAgt"),
    )
