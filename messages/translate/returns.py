"""MT103 return (72 starting /RETN/) <-> pacs.004.001.09 (payment return).

20 <-> RtrId (and MsgId), 32A <-> RtrdIntrBkSttlmAmt / IntrBkSttlmDt, 33B <-> OrgnlIntrBkSttlmAmt,
71A <-> ChrgBr, 71F/71G <-> ChrgsInf, 121 <-> OrgnlUETR, sender/receiver <-> InstgAgt/InstdAgt,
and the 72 codes: /RETN/ (the field in error, 99 when none), /XXXX/ <-> RtrRsnInf/Rsn/Cd, /MREF/
<-> OrgnlInstrId and OrgnlMsgId, /TREF/ <-> OrgnlEndToEndId, /TEXT/ <-> RtrRsnInf/AddtlInf. The
parties of the return (50a, 59a, 52a, 56a, 57a, 70) have no element in the pacs.004 model and
are reported.
"""

from __future__ import annotations

import datetime
import re

from messages.iso20022 import Agent, Pacs004, ReturnedTransfer
from messages.mt import MT103, Envelope, Money, Party
from messages.translate._losses import BIC, Losses, wrap
from messages.translate._model import (
    RULE_NOT_VALID_MX,
    RULE_TRUNCATE,
    RULE_TRUNCATE_MX,
    Translation,
    TranslationError,
)
from messages.translate._parties import address_of_bic, bic_of_address
from messages.translate._payment import charges_to_mt, charges_to_mx
from messages.translate.tables import CHARGES_MT_TO_MX, CHARGES_MX_TO_MT, NOT_PROVIDED

__all__ = ["is_return", "mt103_return_to_pacs004", "pacs004_to_mt103_return"]

TX = "PmtRtr/TxInf"
HEAD = "PmtRtr/GrpHdr"
_CODE_LINE = re.compile(r"/([A-Z0-9]{4})/(.*)")
_ORIGINAL = "pacs.008.001.08"


def is_return(msg: MT103) -> bool:
    """True for an MT103 that returns a payment (CBPR+: 72 starts with /RETN/)."""
    lines = msg.sender_to_receiver_info
    return lines is not None and len(lines) > 0 and lines[0].startswith("/RETN/")


def mt103_return_to_pacs004(msg: MT103, *, created_at: datetime.datetime | None = None
                            ) -> Translation[Pacs004]:
    losses = Losses()
    lines = msg.sender_to_receiver_info or ()
    if not is_return(msg):
        raise TranslationError("an MT103 return starts 72 with /RETN/", where="72")
    codes: dict[str, str] = {}
    text: list[str] = []
    in_text = False
    for line in lines:
        if in_text and line.startswith("//"):
            text.append(line[2:])  # continuation of /TEXT/
            continue
        found = _CODE_LINE.fullmatch(line)
        if found is not None and found.group(1) not in codes and found.group(1) != "TEXT":
            codes[found.group(1)] = found.group(2)
            in_text = False
        elif found is not None and found.group(1) == "TEXT" and not text:
            text.append(found.group(2))
            in_text = True
        else:
            losses.no_element("72", TX + "/RtrRsnInf", line)
    field = codes.pop("RETN", "")
    if field not in ("", "99"):
        losses.no_element("72", TX + "/RtrRsnInf", f"/RETN/{field}")
    reference = codes.pop("MREF", "") or NOT_PROVIDED
    e2e = codes.pop("TREF", "") or NOT_PROVIDED
    reason = None
    for code, rest in codes.items():
        if reason is None and re.fullmatch(r"[A-Z]{2}[0-9]{2}|[A-Z0-9]{4}", code) and not rest:
            reason = code
        else:
            losses.no_element("72", TX + "/RtrRsnInf", f"/{code}/{rest}")
    for attribute, tag in (("ordering_customer", "50a"), ("beneficiary", "59a"),
                           ("ordering_institution", "52a"), ("account_with_institution", "57a"),
                           ("remittance_info", "70"), ("intermediary", "56a")):
        value = getattr(msg, attribute)
        if value and value != Party(option="K", lines=(NOT_PROVIDED,)) and \
                value != Party(lines=(NOT_PROVIDED,)):
            losses.no_element(tag, TX, value)
    info = "".join(text) or None
    if info is not None and len(info) > 105:
        losses.add("72", TX + "/RtrRsnInf/AddtlInf", info[104:],
                   RULE_TRUNCATE_MX)
        info = info[:104] + "+"
    original = msg.instructed_amount
    if original is not None and original.amount <= 0:
        losses.add("33B", TX + "/OrgnlIntrBkSttlmAmt", f"{original!r} (amounts are positive)",
                   RULE_NOT_VALID_MX)
        original = None
    sender = Agent(bic=bic_of_address(msg.envelope.sender))
    receiver = Agent(bic=bic_of_address(msg.envelope.receiver))
    tx = ReturnedTransfer(
        orgnl_msg_id=reference, orgnl_msg_name=_ORIGINAL, orgnl_end_to_end_id=e2e,
        amount=msg.amount, currency=msg.currency, settlement_date=msg.value_date,
        return_id=msg.sender_ref, orgnl_instr_id=None if reference == NOT_PROVIDED else reference,
        orgnl_uetr=msg.uetr, orgnl_amount=None if original is None else original.amount,
        orgnl_currency=None if original is None else original.currency,
        charge_bearer=CHARGES_MT_TO_MX[msg.charges], reason=reason, additional_info=info,
        charges=charges_to_mx(msg.sender_charges, msg.receiver_charges, sender, receiver,
                              CHARGES_MT_TO_MX[msg.charges], TX, losses),
    )
    return Translation(Pacs004(
        msg_id=msg.sender_ref, created_at=created_at or datetime.datetime.now(datetime.UTC),
        transactions=(tx,), settlement_method="INDA", instructing_agent=sender,
        instructed_agent=receiver), tuple(losses.items))


def pacs004_to_mt103_return(msg: Pacs004) -> Translation[MT103]:
    if len(msg.transactions) != 1:
        raise TranslationError("an MT103 returns exactly one transfer", where="/Document/" + TX)
    tx = msg.transactions[0]
    losses = Losses()
    addresses = []
    for agent, element in ((msg.instructing_agent, HEAD + "/InstgAgt"),
                           (msg.instructed_agent, HEAD + "/InstdAgt")):
        if agent is None or agent.bic is None or not BIC.fullmatch(agent.bic):
            raise TranslationError("no BIC an MT header can hold",
                                   where=f"/Document/{element}/FinInstnId/BICFI")
        if agent != Agent(bic=agent.bic):
            losses.no_field("", element, agent)
        addresses.append(address_of_bic(agent.bic))
    if msg.settlement_method != "INDA" or msg.clearing_system is not None:
        losses.no_field("", HEAD + "/SttlmInf", (msg.settlement_method, msg.clearing_system))
    if tx.orgnl_uetr is None:
        raise TranslationError("an MT103 needs the UETR (121)",
                               where="/Document/" + TX + "/OrgnlUETR")
    if tx.settlement_date is None:
        raise TranslationError("32A needs the settlement date",
                               where="/Document/" + TX + "/IntrBkSttlmDt")
    reference = tx.orgnl_instr_id or tx.orgnl_msg_id
    if tx.orgnl_msg_id not in (reference, NOT_PROVIDED):
        losses.no_field("72", TX + "/OrgnlGrpInf/OrgnlMsgId", tx.orgnl_msg_id)
    if tx.orgnl_msg_name != _ORIGINAL:
        losses.no_field("", TX + "/OrgnlGrpInf/OrgnlMsgNmId", tx.orgnl_msg_name)
    for attribute in ("orgnl_created_at", "orgnl_tx_id", "orgnl_settlement_date",
                      "reason_proprietary", "originator"):
        if getattr(tx, attribute) is not None:
            losses.no_field("", f"{TX}/{attribute}", getattr(tx, attribute))
    lines = ["/RETN/99"]
    if tx.reason is not None:
        lines.append(f"/{tx.reason}/")
    if reference != NOT_PROVIDED:
        lines.append("/MREF/" + losses.reference(reference, "72", TX + "/OrgnlInstrId"))
    if tx.orgnl_end_to_end_id != NOT_PROVIDED:
        lines.append("/TREF/" + losses.reference(tx.orgnl_end_to_end_id, "72",
                                                 TX + "/OrgnlEndToEndId"))
    if tx.additional_info is not None:
        text = losses.x(tx.additional_info, "72", TX + "/RtrRsnInf/AddtlInf")
        chunks = wrap("/TEXT/" + text, 35)
        chunks = chunks[:1] + [f"//{c}" for c in wrap("".join(chunks[1:]), 33)]
        room = 6 - len(lines)
        if len(chunks) > room:
            losses.add("72", TX + "/RtrRsnInf/AddtlInf", "".join(chunks[room:]),
                       RULE_TRUNCATE)
            chunks = chunks[:room]
            chunks[-1] = chunks[-1][:-1] + "+"
        lines += chunks
    charges = CHARGES_MX_TO_MT[tx.charge_bearer or "SHAR"]
    if tx.charge_bearer in (None, "SLEV"):
        losses.no_field("71A", TX + "/ChrgBr", f"{tx.charge_bearer} written as SHA")
    original = None
    if tx.orgnl_amount is not None and tx.orgnl_currency is not None:
        original = Money(tx.orgnl_currency, tx.orgnl_amount)
    sender_charges, receiver_charges = charges_to_mt(
        tx.charges, bic_of_address(addresses[0]), bic_of_address(addresses[1]),
        tx.charge_bearer or "SHAR", TX, losses)
    return Translation(MT103(
        envelope=Envelope(sender=addresses[0], receiver=addresses[1]), uetr=tx.orgnl_uetr,
        sender_ref=losses.reference(tx.return_id or msg.msg_id, "20", TX + "/RtrId"),
        bank_operation_code="CRED", value_date=tx.settlement_date, currency=tx.currency,
        amount=tx.amount, ordering_customer=Party(option="K", lines=(NOT_PROVIDED,)),
        beneficiary=Party(lines=(NOT_PROVIDED,)), charges=charges, instructed_amount=original,
        sender_charges=sender_charges, receiver_charges=receiver_charges,
        sender_to_receiver_info=tuple(lines)), tuple(losses.items))
