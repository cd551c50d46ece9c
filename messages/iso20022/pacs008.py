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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from messages.errors import MessageError
from messages.iso20022 import _xml
from messages.iso20022._parties import (
    Agent,
    PartyAccount,
    Reader,
    account_xml,
    agent_xml,
    clearing_system_xml,
    optional_agent_xml,
    party_xml,
)
from messages.iso20022._xml import Element, Kids, child, kids, optional, optional_text, text
from messages.iso20022.profiles import check_pacs008

if TYPE_CHECKING:
    from messages.iso20022.pacs009 import BankTransfer

__all__ = [
    "MESSAGE_NAME",
    "Agent",
    "Charge",
    "CreditTransfer",
    "NextAgentInstruction",
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
    GrpHdr MsgId CreDtTm NbOfTxs SttlmInf SttlmMtd ClrSys Cd InstgAgt InstdAgt
    CdtTrfTxInf PmtId InstrId EndToEndId TxId UETR IntrBkSttlmAmt IntrBkSttlmDt ChrgBr
    Purp RmtInf Ustrd InstdAmt ChrgsInf Amt InstrForNxtAgt InstrInf
""")
_READ = Reader(NAMESPACE)

CHARGE_BEARERS = frozenset({"DEBT", "CRED", "SHAR", "SLEV"})
SETTLEMENT_METHODS = frozenset({"INDA", "INGA", "COVE", "CLRG"})
NEXT_AGENT_CODES = frozenset({"PHOA", "TELA"})  # Instruction4Code

_charge_bearer = _xml.code_check(CHARGE_BEARERS)
_settlement_method = _xml.code_check(SETTLEMENT_METHODS)
_next_agent_code = _xml.code_check(NEXT_AGENT_CODES)


class Charge(msgspec.Struct, frozen=True):
    """One ChrgsInf: `amount` (minor units of `currency`; zero is allowed) taken by `agent`."""

    amount: int
    currency: str
    agent: Agent


class NextAgentInstruction(msgspec.Struct, frozen=True):
    """One InstrForNxtAgt: a `code` (PHOA: phone, TELA: telecom the next agent) and/or `info`
    (up to 140 characters); at least one of the two."""

    code: str | None = None
    info: str | None = None


class CreditTransfer(msgspec.Struct, frozen=True):
    """One CdtTrfTxInf; `amount` is in minor units of `currency`, `instructed_amount`
    (InstdAmt) in minor units of `instructed_currency` (set both or neither)."""

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
    instructed_amount: int | None = None
    instructed_currency: str | None = None
    charges: tuple[Charge, ...] = ()
    intermediary_agent: Agent | None = None
    intermediary_account: str | None = None
    next_agent_instructions: tuple[NextAgentInstruction, ...] = ()


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


def payment_xml(tx: CreditTransfer | BankTransfer, where: str) -> str:
    """PmtId, IntrBkSttlmAmt and IntrBkSttlmDt of a CdtTrfTxInf (of pacs.008 or pacs.009)."""
    instr_id = "" if tx.instr_id is None else \
        f"<InstrId>{_xml.max35_xml(tx.instr_id, where, '/PmtId/InstrId')}</InstrId>"
    end_to_end_id = _xml.max35_xml(tx.end_to_end_id, where, "/PmtId/EndToEndId")
    tx_id = _xml.max35_xml(tx.tx_id, where, "/PmtId/TxId")
    uetr = _xml.uetr(tx.uetr, where, "/PmtId/UETR")
    amount = _xml.amount_text(tx.amount, tx.currency, where + "/IntrBkSttlmAmt")
    date = _xml.date_text(tx.settlement_date, where, "/IntrBkSttlmDt")
    return (
        f"<PmtId>{instr_id}<EndToEndId>{end_to_end_id}</EndToEndId>"
        f"<TxId>{tx_id}</TxId><UETR>{uetr}</UETR></PmtId>"
        f'<IntrBkSttlmAmt Ccy="{tx.currency}">{amount}</IntrBkSttlmAmt>'
        f"<IntrBkSttlmDt>{date}</IntrBkSttlmDt>"
    )


def purpose_xml(tx: CreditTransfer | BankTransfer, where: str) -> str:
    """Purp and RmtInf of a CdtTrfTxInf, where set."""
    purpose = "" if tx.purpose is None else \
        f"<Purp><Cd>{_xml.max4_xml(tx.purpose, where, '/Purp/Cd')}</Cd></Purp>"
    remittance = "" if tx.remittance_info is None else \
        f"<RmtInf><Ustrd>{_xml.max140_xml(tx.remittance_info, where, '/RmtInf/Ustrd')}</Ustrd>"\
        "</RmtInf>"
    return purpose + remittance


def instructed_amount_xml(amount: int | None, currency: str | None, where: str) -> str:
    """`<InstdAmt>` where set; amount and currency go together."""
    if amount is None and currency is None:
        return ""
    if amount is None or currency is None:
        raise MessageError("MX_MISSING_ELEMENT", "instructed amount and currency go together",
                           where=where + "/InstdAmt")
    value = _xml.amount_text(amount, currency, where + "/InstdAmt")
    return f'<InstdAmt Ccy="{currency}">{value}</InstdAmt>'


def charges_xml(charges: tuple[Charge, ...], where: str) -> str:
    """Every `<ChrgsInf>` (amount and the agent that takes it)."""
    out = []
    for index, charge in enumerate(charges, start=1):
        at = f"{where}/ChrgsInf[{index}]"
        if type(charge) is not Charge:
            raise MessageError("MX_BAD_VALUE", f"expected a Charge, got {charge!r}", where=at)
        amount = _xml.balance_amount_text(charge.amount, charge.currency, at + "/Amt")
        out.append(f'<ChrgsInf><Amt Ccy="{charge.currency}">{amount}</Amt>'
                   f'{agent_xml("Agt", charge.agent, at)}</ChrgsInf>')
    return "".join(out)


def intermediary_xml(agent: Agent | None, account: str | None, where: str) -> str:
    """`<IntrmyAgt1>` and its account, where set (an account needs its agent)."""
    if agent is None:
        if account is not None:
            raise MessageError("MX_MISSING_ELEMENT", "an intermediary account needs its agent",
                               where=where + "/IntrmyAgt1")
        return ""
    account_part = "" if account is None else account_xml("IntrmyAgt1Acct", account, where)
    return agent_xml("IntrmyAgt1", agent, where) + account_part


def next_agent_xml(instructions: tuple[NextAgentInstruction, ...], where: str) -> str:
    """Every `<InstrForNxtAgt>`."""
    out = []
    for index, instruction in enumerate(instructions, start=1):
        at = f"{where}/InstrForNxtAgt[{index}]"
        if type(instruction) is not NextAgentInstruction or \
                (instruction.code is None and instruction.info is None):
            raise MessageError("MX_MISSING_ELEMENT", "an instruction needs a code or text",
                               where=at + "/InstrInf")
        code = "" if instruction.code is None else \
            f"<Cd>{_next_agent_code(instruction.code, at, '/Cd')}</Cd>"
        info = "" if instruction.info is None else \
            f"<InstrInf>{_xml.max140_xml(instruction.info, at, '/InstrInf')}</InstrInf>"
        out.append(f"<InstrForNxtAgt>{code}{info}</InstrForNxtAgt>")
    return "".join(out)


def _transfer_xml(tx: CreditTransfer, where: str) -> str:
    payment = payment_xml(tx, where)
    instructed = instructed_amount_xml(tx.instructed_amount, tx.instructed_currency, where)
    charge_bearer = _charge_bearer(tx.charge_bearer, where, "/ChrgBr")
    charges = charges_xml(tx.charges, where) if tx.charges else ""
    intermediary = intermediary_xml(tx.intermediary_agent, tx.intermediary_account, where)
    debtor = party_xml("Dbtr", tx.debtor, where)
    debtor_agent = agent_xml("DbtrAgt", tx.debtor_agent, where)
    creditor_agent = agent_xml("CdtrAgt", tx.creditor_agent, where)
    creditor = party_xml("Cdtr", tx.creditor, where)
    instructions = next_agent_xml(tx.next_agent_instructions, where) \
        if tx.next_agent_instructions else ""
    return (
        f"<CdtTrfTxInf>{payment}{instructed}<ChrgBr>{charge_bearer}</ChrgBr>{charges}"
        f"{intermediary}{debtor}{debtor_agent}{creditor_agent}{creditor}{instructions}"
        f"{purpose_xml(tx, where)}</CdtTrfTxInf>"
    )


class PaymentDocument:
    """The shape pacs.004, .008 and .009 share: a group header (id, time, count, settlement and,
    except in pacs.009, the instructing/instructed agents) and one `tx_tag` per transaction.

    Made once per message type, so building one document only fills the fixed text in.
    """

    def __init__(self, namespace: str, root: str, tx_tag: str,
                 tx_xml: Callable[[Any, str], str], *, group_agents: bool = True) -> None:
        path = f"/Document/{root}"
        self.head = path + "/GrpHdr"
        self.settlement = self.head + "/SttlmInf"
        self.tx_path = f"{path}/{tx_tag}"
        self.first_tx = self.tx_path + "[1]"
        self.start = f'{_xml.XML_DECLARATION}<Document xmlns="{namespace}"><{root}><GrpHdr><MsgId>'
        self.end = f"</{root}></Document>"
        self.tx_xml = tx_xml
        self.group_agents = group_agents

    def build(self, msg: Any) -> bytes:
        """`msg` carries the header fields and `transactions`; raises MessageError naming the
        element of any invalid value."""
        head, settlement = self.head, self.settlement
        transactions = msg.transactions
        if not transactions:
            raise MessageError(
                "MX_MISSING_ELEMENT", "at least one transaction is required", where=self.tx_path
            )
        msg_id = _xml.max35_xml(msg.msg_id, head, "/MsgId")
        created_at = _xml.datetime_text(msg.created_at, head, "/CreDtTm")
        method = _settlement_method(msg.settlement_method, settlement, "/SttlmMtd")
        clearing = clearing_system_xml(msg.clearing_system, settlement)
        agents = ""
        if self.group_agents:
            agents = (optional_agent_xml("InstgAgt", msg.instructing_agent, head)
                      + optional_agent_xml("InstdAgt", msg.instructed_agent, head))
        tx_xml = self.tx_xml
        if len(transactions) == 1:  # the switch's usual case: skip the generator
            body = tx_xml(transactions[0], self.first_tx)
        else:
            body = "".join(tx_xml(tx, f"{self.tx_path}[{index}]")
                           for index, tx in enumerate(transactions, start=1))
        return (
            f"{self.start}{msg_id}</MsgId><CreDtTm>{created_at}</CreDtTm>"
            f"<NbOfTxs>{len(transactions)}</NbOfTxs><SttlmInf><SttlmMtd>{method}</SttlmMtd>"
            f"{clearing}</SttlmInf>{agents}</GrpHdr>{body}{self.end}"
        ).encode()


_DOCUMENT = PaymentDocument(NAMESPACE, _ROOT, "CdtTrfTxInf", _transfer_xml)


def build_pacs008(msg: Pacs008, *, profile: str | None = None) -> bytes:
    """The UTF-8 document; raises MessageError naming the element of any invalid value, or
    (MX_RULE) any value that breaks the usage rules of `profile` (see `profiles.PROFILES`)."""
    if profile is not None:
        check_pacs008(msg, profile)
    return _DOCUMENT.build(msg)


# ---------------------------------------------------------------- parse
#
# Read in document order so the first error reported is the first one in the document; each
# function takes its element's children (`kids`) and the element's XPath for errors.


def parse_payment(tx: Kids, t: _xml.Tags, where: str
                  ) -> tuple[str | None, str, str, str, int, str, datetime.date]:
    """Instruction, end-to-end and transaction ids, UETR, amount, currency and settlement
    date of the CdtTrfTxInf (of pacs.008 or pacs.009, tags `t`) at XPath `where`."""
    pmt_where = where + "/PmtId"
    payment_id = kids(child(tx, t.PmtId, where))
    instr_id = optional_text(payment_id, t.InstrId, _xml.max35, pmt_where)
    end_to_end_id = text(payment_id, t.EndToEndId, _xml.max35, pmt_where)
    tx_id = text(payment_id, t.TxId, _xml.max35, pmt_where)
    uetr = text(payment_id, t.UETR, _xml.uetr, pmt_where)
    amount, currency = _xml.amount(tx, t.IntrBkSttlmAmt, where)
    return (instr_id, end_to_end_id, tx_id, uetr, amount, currency,
            text(tx, t.IntrBkSttlmDt, _xml.parse_date, where))


def parse_instructed_amount(tx: Kids, t: _xml.Tags, where: str
                            ) -> tuple[int | None, str | None]:
    """(amount, currency) of the InstdAmt among the children `tx`, (None, None) without one."""
    if t.InstdAmt not in tx:
        return None, None
    return _xml.amount(tx, t.InstdAmt, where)


def parse_charges(tx: Kids, t: _xml.Tags, read: Reader, where: str) -> tuple[Charge, ...]:
    """Every ChrgsInf among the children `tx` of the element at XPath `where`."""
    if t.ChrgsInf not in tx:
        return ()
    out = []
    for index, element in enumerate(_xml.repeated(tx, t.ChrgsInf), start=1):
        at = f"{where}/ChrgsInf[{index}]"
        charge = kids(element)
        amount, currency = _xml.amount(charge, t.Amt, at)
        out.append(Charge(amount, currency, read.required_agent(charge, "Agt", at)))
    return tuple(out)


def parse_intermediary(tx: Kids, read: Reader, where: str) -> tuple[Agent | None, str | None]:
    """IntrmyAgt1 and IntrmyAgt1Acct among the children `tx` of the element at XPath `where`."""
    agent = read.optional_agent(tx, "IntrmyAgt1", where)
    account = read.optional_account(tx, "IntrmyAgt1Acct", where)
    if account is not None and agent is None:
        raise MessageError("MX_MISSING_ELEMENT", "an intermediary account needs its agent",
                           where=where + "/IntrmyAgt1")
    return agent, account


def parse_next_agent(tx: Kids, t: _xml.Tags, where: str) -> tuple[NextAgentInstruction, ...]:
    """Every InstrForNxtAgt among the children `tx` of the element at XPath `where`."""
    if t.InstrForNxtAgt not in tx:
        return ()
    out = []
    for index, element in enumerate(_xml.repeated(tx, t.InstrForNxtAgt), start=1):
        at = f"{where}/InstrForNxtAgt[{index}]"
        instruction = kids(element)
        code = optional_text(instruction, t.Cd, _next_agent_code, at)
        info = optional_text(instruction, t.InstrInf, _xml.max140, at)
        if code is None and info is None:
            raise MessageError("MX_MISSING_ELEMENT", "an instruction needs a code or text",
                               where=at + "/InstrInf")
        out.append(NextAgentInstruction(code, info))
    return tuple(out)


def _parse_transfer(element: Element, where: str) -> CreditTransfer:
    tx = kids(element)
    instr_id, end_to_end_id, tx_id, uetr, amount, currency, settlement_date = \
        parse_payment(tx, _T, where)
    instructed_amount, instructed_currency = parse_instructed_amount(tx, _T, where)
    charge_bearer = text(tx, _T.ChrgBr, _charge_bearer, where)
    charges = parse_charges(tx, _T, _READ, where)
    intermediary, intermediary_account = parse_intermediary(tx, _READ, where)
    debtor = _READ.party(tx, "Dbtr", where, account_first=True)
    debtor_agent = _READ.required_agent(tx, "DbtrAgt", where)
    creditor_agent = _READ.required_agent(tx, "CdtrAgt", where)
    creditor = _READ.party(tx, "Cdtr", where, account_first=True)
    instructions = parse_next_agent(tx, _T, where)
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
        instructed_amount=instructed_amount,
        instructed_currency=instructed_currency,
        charges=charges,
        intermediary_agent=intermediary,
        intermediary_account=intermediary_account,
        next_agent_instructions=instructions,
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
        _READ.choice(clearing, _SETTLEMENT + "/ClrSys"),
        instructing_agent=None if instructing is None else
        _READ.agent(instructing, _HEAD + "/InstgAgt"),
        instructed_agent=None if instructed is None else
        _READ.agent(instructed, _HEAD + "/InstdAgt"),
    )
