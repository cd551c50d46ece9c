"""pacs.009.001.08 FinancialInstitutionCreditTransfer: bank-to-bank transfers, and the cover
variant (COV) that carries the customer transfer it covers in `UndrlygCstmrCdtTrf`.

Debtor and creditor are financial institutions. Instructing and instructed agents are written
per transaction, where CBPR+ requires them (the group-level ones are not used).

>>> import datetime
>>> icbc, boc = Agent(bic="ICBKCNBJXXX"), Agent(bic="BKCHCNBJXXX")
>>> transfer = BankTransfer(
...     end_to_end_id="E2E-9", tx_id="TX-9", uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f",
...     amount=1000, currency="JPY", settlement_date=datetime.date(2024, 5, 6),
...     debtor=icbc, creditor=boc, instructing_agent=icbc, instructed_agent=boc)
>>> msg = Pacs009(msg_id="B-1", transactions=(transfer,), settlement_method="INDA",
...     created_at=datetime.datetime(2024, 5, 6, 9, 30, tzinfo=datetime.timezone.utc))
>>> b'<IntrBkSttlmAmt Ccy="JPY">1000</IntrBkSttlmAmt>' in build_pacs009(msg)
True
>>> parse_pacs009(build_pacs009(msg)) == msg
True
"""

from __future__ import annotations

import datetime

import msgspec

from messages.errors import MessageError
from messages.iso20022 import _xml
from messages.iso20022._parties import (
    Reader,
    account_xml,
    agent_xml,
    optional_agent_xml,
    party_xml,
)
from messages.iso20022._xml import Element, child, kids, optional, text
from messages.iso20022.pacs008 import (
    SETTLEMENT_METHODS,
    Agent,
    NextAgentInstruction,
    PartyAccount,
    PaymentDocument,
    instructed_amount_xml,
    intermediary_xml,
    next_agent_xml,
    parse_instructed_amount,
    parse_intermediary,
    parse_next_agent,
    parse_payment,
    payment_xml,
    purpose_xml,
)

__all__ = [
    "MESSAGE_NAME",
    "BankTransfer",
    "Pacs009",
    "UnderlyingCustomerTransfer",
    "build_pacs009",
    "parse_pacs009",
]

MESSAGE_NAME = "pacs.009.001.08"
NAMESPACE = _xml.NAMESPACE_PREFIX + MESSAGE_NAME
_ROOT = "FICdtTrf"
_PATH = f"/Document/{_ROOT}"
_HEAD = _PATH + "/GrpHdr"
_SETTLEMENT = _HEAD + "/SttlmInf"
_T = _xml.Tags(NAMESPACE, """
    GrpHdr MsgId CreDtTm NbOfTxs SttlmInf SttlmMtd ClrSys CdtTrfTxInf PmtId InstrId EndToEndId
    TxId UETR IntrBkSttlmAmt IntrBkSttlmDt Purp Cd RmtInf Ustrd UndrlygCstmrCdtTrf InstdAmt
    InstrForNxtAgt InstrInf
""")
_READ = Reader(NAMESPACE)

_settlement_method = _xml.code_check(SETTLEMENT_METHODS)


class UnderlyingCustomerTransfer(msgspec.Struct, frozen=True):
    """The customer credit transfer a cover payment settles (pacs.009 COV).

    `instructed_amount` (InstdAmt) is in minor units of `instructed_currency`; set both or
    neither.
    """

    debtor: PartyAccount
    debtor_agent: Agent
    creditor_agent: Agent
    creditor: PartyAccount
    remittance_info: str | None = None
    instructed_amount: int | None = None
    instructed_currency: str | None = None
    intermediary_agent: Agent | None = None
    intermediary_account: str | None = None
    next_agent_instructions: tuple[NextAgentInstruction, ...] = ()


class BankTransfer(msgspec.Struct, frozen=True):
    """One CdtTrfTxInf between financial institutions; `amount` in minor units of `currency`.

    `debtor_account` and `creditor_account` are the accounts of the debtor and creditor banks
    (DbtrAcct, CdtrAcct), e.g. a nostro at the correspondent.
    """

    end_to_end_id: str
    tx_id: str
    uetr: str
    amount: int
    currency: str
    settlement_date: datetime.date
    debtor: Agent
    creditor: Agent
    debtor_agent: Agent | None = None
    creditor_agent: Agent | None = None
    instructing_agent: Agent | None = None
    instructed_agent: Agent | None = None
    intermediary_agent: Agent | None = None
    debtor_account: str | None = None
    creditor_account: str | None = None
    instr_id: str | None = None
    purpose: str | None = None
    remittance_info: str | None = None
    underlying: UnderlyingCustomerTransfer | None = None
    intermediary_account: str | None = None
    next_agent_instructions: tuple[NextAgentInstruction, ...] = ()


class Pacs009(msgspec.Struct, frozen=True):
    """The message: group header and its transactions."""

    msg_id: str
    created_at: datetime.datetime
    transactions: tuple[BankTransfer, ...]
    settlement_method: str = "CLRG"
    clearing_system: str | None = None


# ---------------------------------------------------------------- build


def _underlying_xml(cover: UnderlyingCustomerTransfer, where: str) -> str:
    where += "/UndrlygCstmrCdtTrf"
    debtor = party_xml("Dbtr", cover.debtor, where)
    debtor_agent = agent_xml("DbtrAgt", cover.debtor_agent, where)
    intermediary = intermediary_xml(cover.intermediary_agent, cover.intermediary_account, where)
    creditor_agent = agent_xml("CdtrAgt", cover.creditor_agent, where)
    creditor = party_xml("Cdtr", cover.creditor, where)
    instructions = next_agent_xml(cover.next_agent_instructions, where)
    remittance = "" if cover.remittance_info is None else \
        f"<RmtInf><Ustrd>{_xml.max140_xml(cover.remittance_info, where, '/RmtInf/Ustrd')}"\
        "</Ustrd></RmtInf>"
    instructed = instructed_amount_xml(cover.instructed_amount, cover.instructed_currency,
                                       where)
    return (
        f"<UndrlygCstmrCdtTrf>{debtor}{debtor_agent}{intermediary}{creditor_agent}{creditor}"
        f"{instructions}{remittance}{instructed}</UndrlygCstmrCdtTrf>"
    )


def _transfer_xml(tx: BankTransfer, where: str) -> str:
    payment = payment_xml(tx, where)
    agents = (
        optional_agent_xml("InstgAgt", tx.instructing_agent, where)
        + optional_agent_xml("InstdAgt", tx.instructed_agent, where)
        + intermediary_xml(tx.intermediary_agent, tx.intermediary_account, where)
        + agent_xml("Dbtr", tx.debtor, where)
        + ("" if tx.debtor_account is None else account_xml("DbtrAcct", tx.debtor_account, where))
        + optional_agent_xml("DbtrAgt", tx.debtor_agent, where)
        + optional_agent_xml("CdtrAgt", tx.creditor_agent, where)
        + agent_xml("Cdtr", tx.creditor, where)
        + ("" if tx.creditor_account is None else
           account_xml("CdtrAcct", tx.creditor_account, where))
    )
    instructions = next_agent_xml(tx.next_agent_instructions, where)
    purpose = purpose_xml(tx, where)
    underlying = "" if tx.underlying is None else _underlying_xml(tx.underlying, where)
    return f"<CdtTrfTxInf>{payment}{agents}{instructions}{purpose}{underlying}</CdtTrfTxInf>"


# pacs.009 names its instructing/instructed agents per transaction, not in the header.
_DOCUMENT = PaymentDocument(NAMESPACE, _ROOT, "CdtTrfTxInf", _transfer_xml, group_agents=False)


def build_pacs009(msg: Pacs009) -> bytes:
    """The UTF-8 document; raises MessageError naming the element of any invalid value."""
    return _DOCUMENT.build(msg)


# ---------------------------------------------------------------- parse


def _parse_underlying(element: Element, where: str) -> UnderlyingCustomerTransfer:
    cover = kids(element)
    debtor = _READ.party(cover, "Dbtr", where)
    debtor_agent = _READ.required_agent(cover, "DbtrAgt", where)
    intermediary, intermediary_account = parse_intermediary(cover, _READ, where)
    creditor_agent = _READ.required_agent(cover, "CdtrAgt", where)
    creditor = _READ.party(cover, "Cdtr", where)
    instructions = parse_next_agent(cover, _T, where)
    remittance = optional(cover, _T.RmtInf, where)
    instructed_amount, instructed_currency = parse_instructed_amount(cover, _T, where)
    return UnderlyingCustomerTransfer(
        debtor=debtor, debtor_agent=debtor_agent, creditor_agent=creditor_agent,
        creditor=creditor,
        remittance_info=None if remittance is None else
        _xml.only_text(remittance, _T.Ustrd, _xml.max140, where + "/RmtInf"),
        instructed_amount=instructed_amount, instructed_currency=instructed_currency,
        intermediary_agent=intermediary, intermediary_account=intermediary_account,
        next_agent_instructions=instructions,
    )



def _parse_transfer(element: Element, where: str) -> BankTransfer:
    tx = kids(element)
    instr_id, end_to_end_id, tx_id, uetr, amount, currency, settlement_date = \
        parse_payment(tx, _T, where)
    instructing = _READ.optional_agent(tx, "InstgAgt", where)
    instructed = _READ.optional_agent(tx, "InstdAgt", where)
    intermediary, intermediary_account = parse_intermediary(tx, _READ, where)
    debtor = _READ.required_agent(tx, "Dbtr", where)
    debtor_account = _READ.optional_account(tx, "DbtrAcct", where)
    debtor_agent = _READ.optional_agent(tx, "DbtrAgt", where)
    creditor_agent = _READ.optional_agent(tx, "CdtrAgt", where)
    creditor = _READ.required_agent(tx, "Cdtr", where)
    creditor_account = _READ.optional_account(tx, "CdtrAcct", where)
    instructions = parse_next_agent(tx, _T, where)
    purpose = optional(tx, _T.Purp, where)
    remittance = optional(tx, _T.RmtInf, where)
    underlying = optional(tx, _T.UndrlygCstmrCdtTrf, where)
    return BankTransfer(
        end_to_end_id=end_to_end_id,
        tx_id=tx_id,
        uetr=uetr,
        amount=amount,
        currency=currency,
        settlement_date=settlement_date,
        debtor=debtor,
        creditor=creditor,
        debtor_agent=debtor_agent,
        creditor_agent=creditor_agent,
        instructing_agent=instructing,
        instructed_agent=instructed,
        intermediary_agent=intermediary,
        debtor_account=debtor_account,
        creditor_account=creditor_account,
        instr_id=instr_id,
        purpose=None if purpose is None else
        _xml.only_text(purpose, _T.Cd, _xml.max4, where + "/Purp"),
        remittance_info=None if remittance is None else
        _xml.only_text(remittance, _T.Ustrd, _xml.max140, where + "/RmtInf"),
        underlying=None if underlying is None else
        _parse_underlying(underlying, where + "/UndrlygCstmrCdtTrf"),
        intermediary_account=intermediary_account,
        next_agent_instructions=instructions,
    )


def parse_pacs009(data: bytes, *, max_bytes: int = _xml.DEFAULT_MAX_BYTES) -> Pacs009:
    """Parse a pacs.009.001.08 document (hardened; see `messages.iso20022._xml`)."""
    element, _ = _xml.parse_document(data, _ROOT, (MESSAGE_NAME,), max_bytes)
    root = kids(element)
    head = kids(child(root, _T.GrpHdr, _PATH))
    msg_id = text(head, _T.MsgId, _xml.max35, _HEAD)
    created_at = text(head, _T.CreDtTm, _xml.parse_datetime, _HEAD)
    count = text(head, _T.NbOfTxs, _xml.max35, _HEAD)
    settlement = kids(child(head, _T.SttlmInf, _HEAD))
    method = text(settlement, _T.SttlmMtd, _settlement_method, _SETTLEMENT)
    clearing = optional(settlement, _T.ClrSys, _SETTLEMENT)
    transactions = tuple(
        _parse_transfer(tx, f"{_PATH}/CdtTrfTxInf[{index}]")
        for index, tx in enumerate(_xml.repeated(root, _T.CdtTrfTxInf), start=1)
    )
    if not transactions:
        raise MessageError("MX_MISSING_ELEMENT", "CdtTrfTxInf is required",
                           where=_PATH + "/CdtTrfTxInf")
    if count != str(len(transactions)):
        raise MessageError("MX_BAD_VALUE",
                           f"NbOfTxs {count} but {len(transactions)} transactions",
                           where=_HEAD + "/NbOfTxs")
    return Pacs009(
        msg_id=msg_id,
        created_at=created_at,
        transactions=transactions,
        settlement_method=method,
        clearing_system=None if clearing is None else
        _READ.choice(clearing, _SETTLEMENT + "/ClrSys"),
    )
