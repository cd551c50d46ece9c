"""MT192 <-> camt.056 (request for cancellation), MT196 <-> camt.029 (its answer) and
MT199 (gpi status confirmation) <-> pacs.002.

MT192: 20 <-> Assgnmt/Id and Case/Id, sender/receiver <-> Assgnr/Assgne (Case/Cretr: the
sender), 21 <-> OrgnlGrpInf/OrgnlMsgId and OrgnlInstrId, 11S <-> OrgnlMsgNmId (MTnnn) and
OrgnlCreDtTm (the date), 121 <-> OrgnlUETR, 79 "/CODE/text" <-> CxlRsnInf Rsn/Cd and AddtlInf.
MT196: 20 <-> Assgnmt/Id, 21 <-> RslvdCase/Id (Cretr: the receiver), 76 "/CODE/text" <->
Sts/Conf (and TxCxlSts, AddtlInf when 11R/S names the original), 11R <-> OrgnlGrpInf.
MT199: 20 <-> MsgId, 21 <-> OrgnlMsgId, 121 <-> OrgnlUETR, 79 lines "//YYMMDDHHMM+HHMM" <->
AccptncDtTm, "//STATUS[/REASON]" <-> TxSts and Rsn/Cd, the rest <-> AddtlInf.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from messages.iso20022 import (
    Agent,
    Camt029,
    Camt056,
    CancellationStatus,
    Pacs002,
    TransferCancellation,
    TxStatus,
)
from messages.mt import MT192, MT196, MT199, Envelope
from messages.translate._losses import BIC, Losses
from messages.translate._model import (
    RULE_NOT_VALID_MX,
    RULE_TRUNCATE_MX,
    Translation,
    TranslationError,
)
from messages.translate._parties import address_of_bic, bic_of_address
from messages.translate.tables import ANSWER_TO_TX_STATUS, NOT_PROVIDED, ORIGINAL_NAMES

__all__ = [
    "camt029_to_mt196",
    "camt056_to_mt192",
    "mt192_to_camt056",
    "mt196_to_camt029",
    "mt199_to_pacs002",
    "pacs002_to_mt199",
]

CXL = "FIToFIPmtCxlReq/Undrlg/TxInf"
RSLTN = "RsltnOfInvstgtn"
STS = "FIToFIPmtStsRpt/TxInfAndSts"

_CODED = re.compile(r"/([A-Z0-9]{4})/(.*)", re.DOTALL)
_GPI_TIME = re.compile(r"//([0-9]{10}[+-][0-9]{4})")
_GPI_STATUS = re.compile(r"//([A-Z]{4})(?:/([A-Z0-9]{4}))?")


def _created(now: datetime.datetime | None) -> datetime.datetime:
    return now or datetime.datetime.now(datetime.UTC)


def _sender_receiver(envelope: Envelope) -> tuple[Agent, Agent]:
    return Agent(bic=bic_of_address(envelope.sender)), Agent(bic=bic_of_address(envelope.receiver))


def _envelope(sender: Agent | None, receiver: Agent | None, where: tuple[str, str],
              losses: Losses) -> Envelope:
    addresses = []
    for agent, element in ((sender, where[0]), (receiver, where[1])):
        if agent is None or agent.bic is None or not BIC.fullmatch(agent.bic):
            raise TranslationError("no BIC an MT header can hold",
                                   where=f"/Document/{element}/FinInstnId/BICFI")
        if agent != Agent(bic=agent.bic):
            losses.no_field("", element, agent)
        addresses.append(address_of_bic(agent.bic))
    return Envelope(sender=addresses[0], receiver=addresses[1])


def _original_to_mx(lines: tuple[str, ...], field: str, element: str, losses: Losses
                    ) -> tuple[str, datetime.datetime | None]:
    """(OrgnlMsgNmId, OrgnlCreDtTm) of 11R/11S: "MTnnn" and the date at 00:00 UTC."""
    name = "MT" + lines[0]
    created = None
    try:
        day = datetime.date(2000 + int(lines[1][:2]), int(lines[1][2:4]), int(lines[1][4:6]))
        created = datetime.datetime.combine(day, datetime.time(), datetime.UTC)
    except (ValueError, IndexError):
        losses.add(field, element + "/OrgnlCreDtTm", f"{lines[1:2]!r}", RULE_NOT_VALID_MX)
    if len(lines) > 2:
        losses.no_element(field, element + "/OrgnlGrpInf", f"session and ISN {lines[2]}")
    return name, created


def _original_to_mt(name: str, created: datetime.datetime | None, fallback: datetime.date,
                    field: str, element: str, losses: Losses) -> tuple[str, ...]:
    """11R/11S lines: the MT type and the date of the original."""
    if name.startswith("MT") and re.fullmatch(r"[0-9]{3}", name[2:]):
        mt_type = name[2:]
    else:
        mt_type = next((t for t, n in ORIGINAL_NAMES.items() if n == name), "103")
        if ORIGINAL_NAMES.get(mt_type) != name:
            losses.no_field(field, element + "/OrgnlMsgNmId", f"{name} (written as MT103)")
    if created is None:
        losses.no_field(field, element + "/OrgnlCreDtTm", "absent: the request date is used")
        day = fallback
    else:
        if created.utcoffset() or created.time() != datetime.time():
            losses.no_field(field, element + "/OrgnlCreDtTm", f"time of {created.isoformat()}")
        day = created.date()
    return (mt_type, day.strftime("%y%m%d"))


def _coded_text(lines: tuple[str, ...] | None) -> tuple[str | None, str | None]:
    """(code, text) of narrative lines starting "/CODE/"; lines are concatenated."""
    if not lines:
        return None, None
    text = "".join(lines)
    found = _CODED.fullmatch(text)
    if found is None:
        return None, text
    return found.group(1), found.group(2) or None


def _fit_mx(value: str | None, width: int, field: str, element: str, losses: Losses
            ) -> str | None:
    """`value` cut to an MX MaxNText (reported)."""
    if value is None or len(value) <= width:
        return value
    losses.add(field, element, f"{value[width - 1:]!r} after {width - 1} characters",
               RULE_TRUNCATE_MX)
    return value[: width - 1] + "+"


def _unmapped(tx: Any, attributes: tuple[str, ...], element: str, losses: Losses) -> None:
    for attribute in attributes:
        value = getattr(tx, attribute)
        if value is not None:
            losses.no_field("", f"{element}/{attribute}", value)


# ---------------------------------------------------------------- MT192 <-> camt.056


def mt192_to_camt056(msg: MT192, *, created_at: datetime.datetime | None = None
                     ) -> Translation[Camt056]:
    losses = Losses()
    sender, receiver = _sender_receiver(msg.envelope)
    name, original_created = _original_to_mx(msg.original_message, "11S", CXL, losses)
    reason, info = _coded_text(msg.narrative)
    cancellation = TransferCancellation(
        orgnl_msg_id=msg.related_ref, orgnl_msg_name=name, orgnl_end_to_end_id=NOT_PROVIDED,
        orgnl_instr_id=msg.related_ref, orgnl_created_at=original_created,
        orgnl_uetr=msg.uetr, reason=reason,
        additional_info=_fit_mx(info, 105, "79", CXL + "/CxlRsnInf/AddtlInf", losses),
    )
    return Translation(Camt056(
        assignment_id=msg.sender_ref, created_at=_created(created_at), assigner=sender,
        assignee=receiver, transactions=(cancellation,), case_id=msg.sender_ref,
        case_creator=sender), tuple(losses.items))


def camt056_to_mt192(msg: Camt056) -> Translation[MT192]:
    if len(msg.transactions) != 1:
        raise TranslationError("an MT192 cancels exactly one transfer",
                               where="/Document/" + CXL)
    tx = msg.transactions[0]
    losses = Losses()
    envelope = _envelope(msg.assigner, msg.assignee, ("FIToFIPmtCxlReq/Assgnmt/Assgnr",
                                                      "FIToFIPmtCxlReq/Assgnmt/Assgne"), losses)
    if msg.case_id != msg.assignment_id or msg.case_creator != msg.assigner:
        losses.no_field("", "FIToFIPmtCxlReq/Case", (msg.case_id, msg.case_creator))
    related = tx.orgnl_instr_id if tx.orgnl_instr_id is not None else tx.orgnl_msg_id
    if tx.orgnl_msg_id != related:
        losses.no_field("21", CXL + "/OrgnlGrpInf/OrgnlMsgId", tx.orgnl_msg_id)
    if tx.orgnl_end_to_end_id != NOT_PROVIDED:
        losses.no_field("", CXL + "/OrgnlEndToEndId", tx.orgnl_end_to_end_id)
    _unmapped(tx, ("cancellation_id", "orgnl_tx_id", "orgnl_amount", "orgnl_currency",
                   "orgnl_settlement_date", "reason_proprietary", "originator"), CXL, losses)
    text = ("" if tx.reason is None else f"/{tx.reason}/") + (tx.additional_info or "")
    narrative = None if not text else \
        losses.lines(text, 35, 50, "79", CXL + "/CxlRsnInf/AddtlInf")
    return Translation(MT192(
        envelope=envelope, uetr=tx.orgnl_uetr,
        sender_ref=losses.reference(msg.assignment_id, "20", "FIToFIPmtCxlReq/Assgnmt/Id"),
        related_ref=losses.reference(related, "21", CXL + "/OrgnlInstrId"),
        original_message=_original_to_mt(tx.orgnl_msg_name, tx.orgnl_created_at,
                                         msg.created_at.date(), "11S", CXL, losses),
        narrative=narrative), tuple(losses.items))


# ---------------------------------------------------------------- MT196 <-> camt.029


def mt196_to_camt029(msg: MT196, *, created_at: datetime.datetime | None = None
                     ) -> Translation[Camt029]:
    losses = Losses()
    sender, receiver = _sender_receiver(msg.envelope)
    code, text = _coded_text(msg.answers)
    if code is None:
        raise TranslationError("76 must start with an answer code such as /CNCL/", where="76")
    transactions: tuple[CancellationStatus, ...] = ()
    if msg.original_message is not None:
        if msg.original_message_option == "S":
            losses.no_element("11S", RSLTN + "/CxlDtls", "11S written as 11R")
        name, original_created = _original_to_mx(msg.original_message, "11R",
                                                 RSLTN + "/CxlDtls/TxInfAndSts", losses)
        transactions = (CancellationStatus(
            orgnl_msg_id=msg.related_ref, orgnl_msg_name=name,
            orgnl_end_to_end_id=NOT_PROVIDED, status=ANSWER_TO_TX_STATUS.get(code),
            orgnl_created_at=original_created, orgnl_uetr=msg.uetr,
            additional_info=_fit_mx(text, 105, "76", RSLTN + "/CxlDtls/TxInfAndSts/AddtlInf",
                                    losses)),)
    elif text is not None:
        losses.no_element("76", RSLTN + "/CxlDtls/TxInfAndSts/CxlStsRsnInf/AddtlInf", text)
    elif msg.uetr is not None:
        losses.no_element("121", RSLTN + "/CxlDtls/TxInfAndSts/OrgnlUETR", msg.uetr)
    for value, tag in ((msg.narrative_answer, "77A"), (msg.narrative, "79")):
        if value is not None:
            losses.no_element(tag, RSLTN + "/CxlDtls/TxInfAndSts/CxlStsRsnInf", value)
    return Translation(Camt029(
        assignment_id=msg.sender_ref, created_at=_created(created_at), assigner=sender,
        assignee=receiver, status=code, transactions=transactions, case_id=msg.related_ref,
        case_creator=receiver), tuple(losses.items))


def camt029_to_mt196(msg: Camt029) -> Translation[MT196]:
    losses = Losses()
    envelope = _envelope(msg.assigner, msg.assignee, (RSLTN + "/Assgnmt/Assgnr",
                                                      RSLTN + "/Assgnmt/Assgne"), losses)
    if msg.case_creator is not None and msg.case_creator != msg.assignee:
        losses.no_field("", RSLTN + "/RslvdCase/Cretr", msg.case_creator)
    related = msg.case_id
    if len(msg.transactions) > 1:
        for index, extra in enumerate(msg.transactions[1:], start=2):
            losses.no_field("", f"{RSLTN}/CxlDtls/TxInfAndSts[{index}]", extra)
    tx = msg.transactions[0] if msg.transactions else None
    text = None
    original = None
    uetr = None
    if tx is not None:
        where = RSLTN + "/CxlDtls/TxInfAndSts"
        related = related or tx.orgnl_instr_id or tx.orgnl_msg_id
        if tx.orgnl_msg_id != related:
            losses.no_field("21", where + "/OrgnlGrpInf/OrgnlMsgId", tx.orgnl_msg_id)
        if tx.orgnl_end_to_end_id != NOT_PROVIDED:
            losses.no_field("", where + "/OrgnlEndToEndId", tx.orgnl_end_to_end_id)
        if tx.status != ANSWER_TO_TX_STATUS.get(msg.status):
            losses.no_field("76", where + "/TxCxlSts", tx.status)
        _unmapped(tx, ("cancellation_status_id", "orgnl_instr_id", "orgnl_tx_id", "reason",
                       "reason_proprietary", "originator", "orgnl_amount", "orgnl_currency",
                       "orgnl_settlement_date"), where, losses)
        text, uetr = tx.additional_info, tx.orgnl_uetr
        original = _original_to_mt(tx.orgnl_msg_name, tx.orgnl_created_at,
                                   msg.created_at.date(), "11R", where, losses)
    if related is None:
        raise TranslationError("21 needs the case id or the original's id",
                               where=f"/Document/{RSLTN}/RslvdCase/Id")
    answers = losses.lines(f"/{msg.status}/" + (text or ""), 6, 35, "76",
                           RSLTN + "/Sts/Conf")
    return Translation(MT196(
        envelope=envelope, uetr=uetr,
        sender_ref=losses.reference(msg.assignment_id, "20", RSLTN + "/Assgnmt/Id"),
        related_ref=losses.reference(related, "21", RSLTN + "/RslvdCase/Id"),
        answers=answers, original_message=original,
        original_message_option=None if original is None else "R"), tuple(losses.items))


# ---------------------------------------------------------------- MT199 <-> pacs.002


def mt199_to_pacs002(msg: MT199, *, created_at: datetime.datetime | None = None
                     ) -> Translation[Pacs002]:
    """The pacs.002 of a gpi MT199: 79 holds "//STATUS[/REASON]" (and "//time") lines."""
    losses = Losses()
    accepted = status = reason = None
    rest: list[str] = []
    for line in msg.narrative:
        time = _GPI_TIME.fullmatch(line)
        found = _GPI_STATUS.fullmatch(line)
        if time is not None and accepted is None:
            accepted = _aware(time.group(1))
        elif found is not None and status is None:
            status, reason = found.group(1), found.group(2)
        else:
            rest.append(line)
    if status is None:
        raise TranslationError("79 holds no gpi status line such as //ACSP/G000", where="79")
    info = _fit_mx("".join(rest) or None, 105, "79", STS + "/StsRsnInf/AddtlInf", losses)
    tx = TxStatus(orgnl_end_to_end_id=NOT_PROVIDED, status=status, orgnl_uetr=msg.uetr,
                  reason=reason, additional_info=info, accepted_at=accepted)
    return Translation(Pacs002(
        msg_id=msg.sender_ref, created_at=_created(created_at),
        orgnl_msg_id=msg.related_ref or NOT_PROVIDED, orgnl_msg_name=ORIGINAL_NAMES["103"],
        transactions=(tx,)), tuple(losses.items))


def _aware(value: str) -> datetime.datetime | None:
    try:
        minutes = int(value[11:13]) * 60 + int(value[13:15])
        zone = datetime.timezone(datetime.timedelta(minutes=-minutes if value[10] == "-"
                                                    else minutes))
        return datetime.datetime.strptime(value[:10], "%y%m%d%H%M").replace(tzinfo=zone)
    except ValueError:
        return None


def _stamp(value: datetime.datetime) -> str:
    offset = int((value.utcoffset() or datetime.timedelta()).total_seconds() // 60)
    sign, offset = ("-" if offset < 0 else "+"), abs(offset)
    return value.strftime("%y%m%d%H%M") + f"{sign}{offset // 60:02d}{offset % 60:02d}"


def pacs002_to_mt199(msg: Pacs002, *, sender: str | None = None, receiver: str | None = None
                     ) -> Translation[MT199]:
    """The gpi MT199 of a one-transaction pacs.002; the document names no agents, so `sender`
    and `receiver` (BICs, e.g. from the AppHdr) are required."""
    if len(msg.transactions) != 1:
        raise TranslationError("an MT199 confirms exactly one transfer",
                               where="/Document/" + STS)
    if sender is None or receiver is None:
        raise TranslationError("pacs.002 names no sender or receiver: an AppHdr is needed",
                               where="/AppHdr/Fr")
    tx = msg.transactions[0]
    losses = Losses()
    if msg.group_status is not None:
        losses.no_field("", "FIToFIPmtStsRpt/OrgnlGrpInfAndSts/GrpSts", msg.group_status)
    if msg.orgnl_msg_name != ORIGINAL_NAMES["103"]:
        losses.no_field("", "FIToFIPmtStsRpt/OrgnlGrpInfAndSts/OrgnlMsgNmId",
                        msg.orgnl_msg_name)
    if tx.orgnl_end_to_end_id != NOT_PROVIDED:
        losses.no_field("", STS + "/OrgnlEndToEndId", tx.orgnl_end_to_end_id)
    _unmapped(tx, ("orgnl_tx_id", "reason_proprietary"), STS, losses)
    lines: list[str] = []
    if tx.accepted_at is not None:
        if tx.accepted_at.second or tx.accepted_at.microsecond:
            losses.no_field("79", STS + "/AccptncDtTm", "seconds")
        lines.append("//" + _stamp(tx.accepted_at))
    status = tx.status if re.fullmatch(r"[A-Z]{4}", tx.status) else "NARR"
    reason = tx.reason if tx.reason and re.fullmatch(r"[A-Z0-9]{4}", tx.reason) else None
    if (status, reason) != (tx.status, tx.reason):
        losses.no_field("79", STS + "/TxSts", (tx.status, tx.reason))
    lines.append(f"//{status}" + (f"/{reason}" if reason else ""))
    if tx.additional_info is not None:
        lines += losses.lines(tx.additional_info, 33, 50, "79", STS + "/StsRsnInf/AddtlInf")
    related = None if msg.orgnl_msg_id == NOT_PROVIDED else \
        losses.reference(msg.orgnl_msg_id, "21", "FIToFIPmtStsRpt/OrgnlGrpInfAndSts/OrgnlMsgId")
    return Translation(MT199(
        envelope=Envelope(sender=address_of_bic(sender), receiver=address_of_bic(receiver)),
        uetr=tx.orgnl_uetr, sender_ref=losses.reference(msg.msg_id, "20",
                                                        "FIToFIPmtStsRpt/GrpHdr/MsgId"),
        narrative=tuple(lines), related_ref=related), tuple(losses.items))


