"""MT202 <-> pacs.009.001.08 and MT202 COV <-> pacs.009 COV (CBPR+ FI credit transfer).

20 <-> InstrId and TxId, 21 <-> EndToEndId, 121 <-> UETR, 32A <-> IntrBkSttlmDt/Amt,
52a <-> Dbtr/DbtrAcct (absent: the sender), 56a <-> IntrmyAgt1 (+Acct), 57a <-> CdtrAgt,
58a <-> Cdtr/CdtrAcct, 72 <-> InstrForNxtAgt, sender/receiver <-> InstgAgt/InstdAgt. COV
sequence B: 50a, 52a, 56a, 57a, 59a, 70, 72, 33B <-> UndrlygCstmrCdtTrf Dbtr, DbtrAgt, IntrmyAgt1,
CdtrAgt, Cdtr, RmtInf, InstrForNxtAgt, InstdAmt. 13C, 53a and 54a have no element in the model
and are reported.
"""

from __future__ import annotations

import datetime

from messages.iso20022 import Agent, BankTransfer, Pacs009, UnderlyingCustomerTransfer
from messages.mt import MT202, MT202COV, Envelope
from messages.translate._losses import Losses
from messages.translate._model import Translation, TranslationError
from messages.translate._parties import (
    address_of_bic,
    agent_to_mt,
    agent_to_mx,
    bic_of_address,
    customer_to_mt,
    customer_to_mx,
    same_bic,
)
from messages.translate._payment import (
    instructed_to_mt,
    instructed_to_mx,
    instruction_lines,
    intermediary_to_mt,
    intermediary_to_mx,
    to_mx_instructions,
)

__all__ = ["mt202_to_pacs009", "pacs009_to_mt202"]

TX = "FICdtTrf/CdtTrfTxInf"
HEAD = "FICdtTrf/GrpHdr"
COV = TX + "/UndrlygCstmrCdtTrf"

_UNMAPPED_202: dict[str, tuple[str, str]] = {
    "time_indications": ("13C", TX + "/SttlmTmIndctn"),
    "senders_correspondent": ("53a", TX + "/InstgRmbrsmntAgt"),
    "receivers_correspondent": ("54a", TX + "/InstdRmbrsmntAgt"),
}


def _is_bare(agent: Agent, bic: str) -> bool:
    """True when `agent` is nothing but `bic` (so the MT field may be left out)."""
    return agent == Agent(bic=agent.bic) and same_bic(agent.bic, bic)


def mt202_to_pacs009(msg: MT202, *, created_at: datetime.datetime | None = None
                     ) -> Translation[Pacs009]:
    """The pacs.009 (COV for an MT202COV) of an MT202; `created_at` becomes CreDtTm."""
    losses = Losses()
    if msg.uetr is None:
        raise TranslationError("UETR (block 3 field 121) is required", where="121")
    for attribute, (tag, element) in _UNMAPPED_202.items():
        value = getattr(msg, attribute, None)
        if value:
            losses.no_element(tag, element, value)
    sender = Agent(bic=bic_of_address(msg.envelope.sender))
    receiver = Agent(bic=bic_of_address(msg.envelope.receiver))
    debtor: Agent | None = None
    debtor_account = None
    if msg.ordering_institution is not None:
        debtor, debtor_account = agent_to_mx(msg.ordering_institution, "52", TX + "/Dbtr",
                                             losses, TX + "/DbtrAcct")
    creditor, creditor_account = agent_to_mx(msg.beneficiary_institution, "58", TX + "/Cdtr",
                                             losses, TX + "/CdtrAcct")
    if creditor is None:
        raise TranslationError("58a names no institution", where="58a")
    intermediary, intermediary_account = intermediary_to_mx(msg.intermediary, TX, losses)
    creditor_agent = None if msg.account_with_institution is None else \
        agent_to_mx(msg.account_with_institution, "57", TX + "/CdtrAgt", losses)[0]
    underlying = _underlying_to_mx(msg, sender, receiver, losses) \
        if isinstance(msg, MT202COV) else None
    transfer = BankTransfer(
        end_to_end_id=msg.related_ref, tx_id=msg.sender_ref, instr_id=msg.sender_ref,
        uetr=msg.uetr, amount=msg.amount, currency=msg.currency,
        settlement_date=msg.value_date, debtor=debtor or sender, creditor=creditor,
        creditor_agent=creditor_agent, instructing_agent=sender, instructed_agent=receiver,
        intermediary_agent=intermediary, debtor_account=debtor_account,
        creditor_account=creditor_account, underlying=underlying,
        intermediary_account=intermediary_account,
        next_agent_instructions=to_mx_instructions(msg.sender_to_receiver_info, TX, losses),
    )
    pacs009 = Pacs009(msg_id=msg.sender_ref,
                      created_at=created_at or datetime.datetime.now(datetime.UTC),
                      transactions=(transfer,), settlement_method="INDA")
    return Translation(pacs009, tuple(losses.items))


def _underlying_to_mx(msg: MT202COV, sender: Agent, receiver: Agent,
                      losses: Losses) -> UnderlyingCustomerTransfer:
    debtor_agent = None if msg.underlying_ordering_institution is None else \
        agent_to_mx(msg.underlying_ordering_institution, "52", COV + "/DbtrAgt", losses)[0]
    creditor_agent = None if msg.underlying_account_with_institution is None else \
        agent_to_mx(msg.underlying_account_with_institution, "57", COV + "/CdtrAgt", losses)[0]
    intermediary, intermediary_account = intermediary_to_mx(msg.underlying_intermediary, COV,
                                                            losses)
    instructed_amount, instructed_currency = instructed_to_mx(msg.underlying_instructed_amount,
                                                              COV + "/InstdAmt", losses)
    return UnderlyingCustomerTransfer(
        debtor=customer_to_mx(msg.underlying_ordering_customer, "50", COV + "/Dbtr", losses),
        debtor_agent=debtor_agent or sender,
        creditor_agent=creditor_agent or receiver,
        creditor=customer_to_mx(msg.underlying_beneficiary, "59", COV + "/Cdtr", losses),
        remittance_info=None if msg.underlying_remittance_info is None else
        "".join(msg.underlying_remittance_info),
        instructed_amount=instructed_amount,
        instructed_currency=instructed_currency,
        intermediary_agent=intermediary,
        intermediary_account=intermediary_account,
        next_agent_instructions=to_mx_instructions(msg.underlying_sender_to_receiver_info, COV,
                                                   losses),
    )


def _address(agent: Agent | None, element: str, role: str) -> str:
    if agent is None or agent.bic is None:
        raise TranslationError(f"no BIC for the {role}", where=element + "/FinInstnId/BICFI")
    return address_of_bic(agent.bic, "/Document/" + element)


def pacs009_to_mt202(msg: Pacs009) -> Translation[MT202]:
    """The MT202, or MT202COV when the transfer carries UndrlygCstmrCdtTrf, of a
    single-transaction pacs.009."""
    if len(msg.transactions) != 1:
        raise TranslationError("MT202 carries exactly one transaction",
                               where="/Document/" + HEAD + "/NbOfTxs")
    tx = msg.transactions[0]
    losses = Losses()
    sender = _address(tx.instructing_agent or tx.debtor, TX + "/InstgAgt", "sender")
    receiver = _address(tx.instructed_agent or tx.creditor_agent or tx.creditor,
                        TX + "/InstdAgt", "receiver")
    for agent, element in ((tx.instructing_agent, TX + "/InstgAgt"),
                           (tx.instructed_agent, TX + "/InstdAgt")):
        if agent is not None and agent != Agent(bic=agent.bic):
            losses.no_field("", element, agent)
    if msg.settlement_method != "INDA":
        losses.no_field("", HEAD + "/SttlmInf/SttlmMtd", msg.settlement_method)
    if msg.clearing_system is not None:
        losses.no_field("", HEAD + "/SttlmInf/ClrSys", msg.clearing_system)
    for value, tag, element in ((tx.debtor_agent, "", TX + "/DbtrAgt"),
                                (tx.purpose, "", TX + "/Purp/Cd"),
                                (tx.remittance_info, "", TX + "/RmtInf/Ustrd")):
        if value is not None:
            losses.no_field(tag, element, value)
    reference = tx.instr_id if tx.instr_id is not None else tx.tx_id
    sender_ref = losses.reference(
        reference, "20", TX + ("/PmtId/InstrId" if tx.instr_id is not None else "/PmtId/TxId"))
    if tx.tx_id != reference:
        losses.no_field("20", TX + "/PmtId/TxId", tx.tx_id)
    related_ref = losses.reference(tx.end_to_end_id, "21", TX + "/PmtId/EndToEndId")
    ordering = None
    if tx.debtor_account is not None or not _is_bare(tx.debtor, bic_of_address(sender)):
        ordering = agent_to_mt(tx.debtor, "52", TX + "/Dbtr", losses, "AD",
                               tx.debtor_account, TX + "/DbtrAcct")
    beneficiary = agent_to_mt(tx.creditor, "58", TX + "/Cdtr", losses, "AD",
                              tx.creditor_account, TX + "/CdtrAcct")
    if beneficiary is None:
        raise TranslationError("the creditor has no BIC, name or clearing id",
                               where="/Document/" + TX + "/Cdtr/FinInstnId")
    intermediary = intermediary_to_mt(tx.intermediary_agent, tx.intermediary_account, TX,
                                      losses, "AD")
    account_with = None if tx.creditor_agent is None else \
        agent_to_mt(tx.creditor_agent, "57", TX + "/CdtrAgt", losses, "ABD")
    common = {
        "envelope": Envelope(sender=sender, receiver=receiver), "uetr": tx.uetr,
        "sender_ref": sender_ref, "related_ref": related_ref,
        "value_date": tx.settlement_date, "currency": tx.currency, "amount": tx.amount,
        "beneficiary_institution": beneficiary, "ordering_institution": ordering,
        "intermediary": intermediary, "account_with_institution": account_with,
        "sender_to_receiver_info": instruction_lines(tx.next_agent_instructions, TX, losses),
    }
    cover = tx.underlying
    if cover is None:
        return Translation(MT202(**common), tuple(losses.items))  # type: ignore[arg-type]
    underlying_ordering = None
    if not _is_bare(cover.debtor_agent, bic_of_address(sender)):
        underlying_ordering = agent_to_mt(cover.debtor_agent, "52", COV + "/DbtrAgt", losses)
    underlying_account_with = None
    if not _is_bare(cover.creditor_agent, bic_of_address(receiver)):
        underlying_account_with = agent_to_mt(cover.creditor_agent, "57", COV + "/CdtrAgt",
                                              losses, "ABCD")
    mt = MT202COV(
        **common,  # type: ignore[arg-type]
        underlying_ordering_customer=customer_to_mt(cover.debtor, "50", COV + "/Dbtr", losses),
        underlying_beneficiary=customer_to_mt(cover.creditor, "59", COV + "/Cdtr", losses),
        underlying_ordering_institution=underlying_ordering,
        underlying_intermediary=intermediary_to_mt(
            cover.intermediary_agent, cover.intermediary_account, COV, losses, "ACD"),
        underlying_account_with_institution=underlying_account_with,
        underlying_remittance_info=None if cover.remittance_info is None else
        losses.lines(cover.remittance_info, 4, 35, "70", COV + "/RmtInf/Ustrd"),
        underlying_instructed_amount=instructed_to_mt(cover.instructed_amount,
                                                      cover.instructed_currency),
        underlying_sender_to_receiver_info=instruction_lines(cover.next_agent_instructions, COV,
                                                             losses),
    )
    return Translation(mt, tuple(losses.items))


