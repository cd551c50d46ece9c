"""MT103 <-> pacs.008.001.08 (CBPR+ single customer credit transfer).

20 <-> InstrId and TxId, 121 <-> UETR, 32A <-> IntrBkSttlmDt/IntrBkSttlmAmt, 33B <-> InstdAmt,
71A <-> ChrgBr, 71F/71G <-> ChrgsInf, 50a <-> Dbtr/DbtrAcct (50A: Id/OrgId/AnyBIC), 52a <->
DbtrAgt (absent: the sender), 56a <-> IntrmyAgt1/IntrmyAgt1Acct, 57a <-> CdtrAgt (absent: the
receiver), 59a <-> Cdtr/CdtrAcct, 70 <-> RmtInf/Ustrd (lines concatenated), 72 <->
InstrForNxtAgt, sender and receiver <-> InstgAgt and InstdAgt. Fields the pacs.008 model has no
element for (13C, 23E, 26T, 36, 51A, 53a-55a, 77B) are reported, never dropped silently.
"""

from __future__ import annotations

import datetime

from messages.iso20022 import Agent, CreditTransfer, Pacs008
from messages.mt import MT103, Envelope
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
    charges_to_mt,
    charges_to_mx,
    instructed_to_mt,
    instructed_to_mx,
    instruction_lines,
    intermediary_to_mt,
    intermediary_to_mx,
    to_mx_instructions,
)
from messages.translate.tables import CHARGES_MT_TO_MX, CHARGES_MX_TO_MT, NOT_PROVIDED

__all__ = ["mt103_to_pacs008", "pacs008_to_mt103"]

TX = "FIToFICstmrCdtTrf/CdtTrfTxInf"
HEAD = "FIToFICstmrCdtTrf/GrpHdr"

# MT103 attributes the model has no element for: attribute -> (field tag, CBPR+ element).
_UNMAPPED_103: dict[str, tuple[str, str]] = {
    "time_indications": ("13C", TX + "/SttlmTmIndctn"),
    "instruction_codes": ("23E", TX + "/InstrForCdtrAgt"),
    "transaction_type": ("26T", TX + "/Purp"),
    "exchange_rate": ("36", TX + "/XchgRate"),
    "sending_institution": ("51A", HEAD + "/InstgAgt"),
    "senders_correspondent": ("53a", TX + "/InstgRmbrsmntAgt"),
    "receivers_correspondent": ("54a", TX + "/InstdRmbrsmntAgt"),
    "third_reimbursement_institution": ("55a", TX + "/ThrdRmbrsmntAgt"),
    "regulatory_reporting": ("77B", TX + "/RgltryRptg"),
}


def mt103_to_pacs008(msg: MT103, *, created_at: datetime.datetime | None = None
                     ) -> Translation[Pacs008]:
    """The pacs.008 of an MT103; `created_at` (default: now, UTC) becomes CreDtTm."""
    losses = Losses()
    if msg.uetr is None:
        raise TranslationError("UETR (block 3 field 121) is required", where="121")
    for attribute, (tag, element) in _UNMAPPED_103.items():
        value = getattr(msg, attribute)
        if value:
            losses.no_element(tag, element, value)
    if msg.bank_operation_code != "CRED":
        losses.no_element("23B", TX + "/PmtTpInf/SvcLvl", msg.bank_operation_code)
    sender = Agent(bic=bic_of_address(msg.envelope.sender))
    receiver = Agent(bic=bic_of_address(msg.envelope.receiver))
    debtor_agent = None if msg.ordering_institution is None else \
        agent_to_mx(msg.ordering_institution, "52", TX + "/DbtrAgt", losses)[0]
    creditor_agent = None if msg.account_with_institution is None else \
        agent_to_mx(msg.account_with_institution, "57", TX + "/CdtrAgt", losses)[0]
    intermediary, intermediary_account = intermediary_to_mx(msg.intermediary, TX, losses)
    instructed_amount, instructed_currency = instructed_to_mx(msg.instructed_amount,
                                                              TX + "/InstdAmt", losses)
    transfer = CreditTransfer(
        end_to_end_id=NOT_PROVIDED,
        tx_id=msg.sender_ref,
        instr_id=msg.sender_ref,
        uetr=msg.uetr,
        amount=msg.amount,
        currency=msg.currency,
        settlement_date=msg.value_date,
        debtor=customer_to_mx(msg.ordering_customer, "50", TX + "/Dbtr", losses),
        debtor_agent=debtor_agent or sender,
        creditor=customer_to_mx(msg.beneficiary, "59", TX + "/Cdtr", losses),
        creditor_agent=creditor_agent or receiver,
        charge_bearer=CHARGES_MT_TO_MX[msg.charges],
        remittance_info=None if msg.remittance_info is None else "".join(msg.remittance_info),
        instructed_amount=instructed_amount,
        instructed_currency=instructed_currency,
        charges=charges_to_mx(msg.sender_charges, msg.receiver_charges, sender, receiver,
                              CHARGES_MT_TO_MX[msg.charges], TX, losses),
        intermediary_agent=intermediary,
        intermediary_account=intermediary_account,
        next_agent_instructions=to_mx_instructions(msg.sender_to_receiver_info, TX, losses),
    )
    pacs008 = Pacs008(
        msg_id=msg.sender_ref,
        created_at=created_at or datetime.datetime.now(datetime.UTC),
        transactions=(transfer,),
        settlement_method="INDA",
        instructing_agent=sender,
        instructed_agent=receiver,
    )
    return Translation(pacs008, tuple(losses.items))


def _bic_address(agents: tuple[tuple[Agent | None, str], ...], role: str) -> str:
    for agent, _ in agents:
        if agent is not None and agent.bic is not None:
            return address_of_bic(agent.bic, "/Document/" + agents[0][1])
    raise TranslationError(f"no BIC for the {role}", where=agents[0][1] + "/FinInstnId/BICFI")


def pacs008_to_mt103(msg: Pacs008) -> Translation[MT103]:
    """The MT103 of a single-transaction pacs.008 (CBPR+ allows exactly one)."""
    if len(msg.transactions) != 1:
        raise TranslationError("MT103 carries exactly one transaction",
                               where="/Document/" + HEAD + "/NbOfTxs")
    tx = msg.transactions[0]
    losses = Losses()
    sender = _bic_address(((msg.instructing_agent, HEAD + "/InstgAgt"),
                           (tx.debtor_agent, TX + "/DbtrAgt")), "sender")
    receiver = _bic_address(((msg.instructed_agent, HEAD + "/InstdAgt"),
                             (tx.creditor_agent, TX + "/CdtrAgt")), "receiver")
    for agent, element in ((msg.instructing_agent, HEAD + "/InstgAgt"),
                           (msg.instructed_agent, HEAD + "/InstdAgt")):
        if agent is not None and agent != Agent(bic=agent.bic):
            losses.no_field("", element, agent)
    if msg.settlement_method != "INDA":
        losses.no_field("", HEAD + "/SttlmInf/SttlmMtd", msg.settlement_method)
    if msg.clearing_system is not None:
        losses.no_field("", HEAD + "/SttlmInf/ClrSys", msg.clearing_system)
    reference = tx.instr_id if tx.instr_id is not None else tx.tx_id
    where = TX + ("/PmtId/InstrId" if tx.instr_id is not None else "/PmtId/TxId")
    sender_ref = losses.reference(reference, "20", where)
    if tx.tx_id != reference:
        losses.no_field("20", TX + "/PmtId/TxId", tx.tx_id)
    if tx.end_to_end_id != NOT_PROVIDED:
        losses.no_field("70", TX + "/PmtId/EndToEndId", tx.end_to_end_id)
    if tx.purpose is not None:
        losses.no_field("", TX + "/Purp/Cd", tx.purpose)
    if tx.charge_bearer == "SLEV":
        losses.add("71A", TX + "/ChrgBr", "SLEV written as SHA",
                   "CBPR+: SLEV is not allowed; SHA is the nearest MT code")
    ordering_institution = None
    if not (tx.debtor_agent == Agent(bic=tx.debtor_agent.bic)
            and same_bic(tx.debtor_agent.bic, bic_of_address(sender))):
        ordering_institution = agent_to_mt(tx.debtor_agent, "52", TX + "/DbtrAgt", losses)
    account_with = None
    if not (tx.creditor_agent == Agent(bic=tx.creditor_agent.bic)
            and same_bic(tx.creditor_agent.bic, bic_of_address(receiver))):
        account_with = agent_to_mt(tx.creditor_agent, "57", TX + "/CdtrAgt", losses, "ACD")
    remittance = None if tx.remittance_info is None else \
        losses.lines(tx.remittance_info, 4, 35, "70", TX + "/RmtInf/Ustrd")
    sender_charges, receiver_charges = charges_to_mt(
        tx.charges, bic_of_address(sender), bic_of_address(receiver), tx.charge_bearer, TX,
        losses)
    intermediary = intermediary_to_mt(tx.intermediary_agent, tx.intermediary_account, TX,
                                      losses, "ACD")
    mt103 = MT103(
        envelope=Envelope(sender=sender, receiver=receiver),
        uetr=tx.uetr,
        sender_ref=sender_ref,
        bank_operation_code="CRED",
        value_date=tx.settlement_date,
        currency=tx.currency,
        amount=tx.amount,
        ordering_customer=customer_to_mt(tx.debtor, "50", TX + "/Dbtr", losses),
        beneficiary=customer_to_mt(tx.creditor, "59", TX + "/Cdtr", losses),
        charges=CHARGES_MX_TO_MT[tx.charge_bearer],
        ordering_institution=ordering_institution,
        account_with_institution=account_with,
        remittance_info=remittance,
        instructed_amount=instructed_to_mt(tx.instructed_amount, tx.instructed_currency),
        sender_charges=sender_charges,
        receiver_charges=receiver_charges,
        intermediary=intermediary,
        sender_to_receiver_info=instruction_lines(tx.next_agent_instructions, TX, losses),
    )
    return Translation(mt103, tuple(losses.items))


