"""pacs.004.001.09 PaymentReturn: funds of settled transfers sent back, with the reason.

Each returned transaction names its original message (OrgnlGrpInf, per transaction as CBPR+
does) and the original transaction's ids; the returned amount may differ from the original
one (charges), so both are carried.

>>> import datetime
>>> back = ReturnedTransfer(orgnl_msg_id="M-1", orgnl_msg_name="pacs.008.001.08",
...     orgnl_end_to_end_id="E2E-1", orgnl_uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f",
...     amount=12345, currency="CNY", reason="AC04", return_id="R-1")
>>> msg = Pacs004(msg_id="RT-1", transactions=(back,),
...     created_at=datetime.datetime(2024, 5, 7, 9, 0, tzinfo=datetime.timezone.utc))
>>> b"<RtrRsnInf><Rsn><Cd>AC04</Cd></Rsn></RtrRsnInf>" in build_pacs004(msg)
True
>>> parse_pacs004(build_pacs004(msg)) == msg
True
"""

from __future__ import annotations

import datetime

import msgspec

from messages.errors import MessageError
from messages.iso20022 import _xml
from messages.iso20022._originals import OriginalReader, ids_xml, reason_xml, settlement_xml
from messages.iso20022._parties import Reader
from messages.iso20022._xml import Element, child, kids, optional, optional_text, repeated, text
from messages.iso20022.pacs008 import (
    CHARGE_BEARERS,
    SETTLEMENT_METHODS,
    Agent,
    Charge,
    PaymentDocument,
    charges_xml,
    parse_charges,
)

__all__ = ["MESSAGE_NAME", "Pacs004", "ReturnedTransfer", "build_pacs004", "parse_pacs004"]

MESSAGE_NAME = "pacs.004.001.09"
NAMESPACE = _xml.NAMESPACE_PREFIX + MESSAGE_NAME
_ROOT = "PmtRtr"
_PATH = f"/Document/{_ROOT}"
_HEAD = _PATH + "/GrpHdr"
_SETTLEMENT = _HEAD + "/SttlmInf"
_T = _xml.Tags(NAMESPACE, """
    GrpHdr MsgId CreDtTm NbOfTxs SttlmInf SttlmMtd ClrSys TxInf RtrId RtrdIntrBkSttlmAmt
    IntrBkSttlmDt ChrgBr ChrgsInf Amt
""")
_READ = Reader(NAMESPACE)
_ORIGINAL = OriginalReader(NAMESPACE)

_settlement_method = _xml.code_check(SETTLEMENT_METHODS)
_charge_bearer = _xml.code_check(CHARGE_BEARERS)


class ReturnedTransfer(msgspec.Struct, frozen=True):
    """One TxInf: the original transaction and what comes back of it.

    `amount` (RtrdIntrBkSttlmAmt) is in minor units of `currency`; `orgnl_amount` in minor
    units of `orgnl_currency` (set both or neither). `reason` is an ISO external return reason
    code (RtrRsnInf/Rsn/Cd, e.g. AC04, FOCR); a channel's own code goes in
    `reason_proprietary`. Only one of the two may be set. `originator` is the name of the
    party that started the return (RtrRsnInf/Orgtr/Nm). `charges` (ChrgsInf) are those taken
    on the way back.
    """

    orgnl_msg_id: str
    orgnl_msg_name: str
    orgnl_end_to_end_id: str
    amount: int
    currency: str
    settlement_date: datetime.date | None = None
    return_id: str | None = None
    orgnl_created_at: datetime.datetime | None = None
    orgnl_instr_id: str | None = None
    orgnl_tx_id: str | None = None
    orgnl_uetr: str | None = None
    orgnl_amount: int | None = None
    orgnl_currency: str | None = None
    orgnl_settlement_date: datetime.date | None = None
    charge_bearer: str | None = None
    reason: str | None = None
    reason_proprietary: str | None = None
    additional_info: str | None = None
    originator: str | None = None
    charges: tuple[Charge, ...] = ()


class Pacs004(msgspec.Struct, frozen=True):
    """The message: group header and the returned transactions."""

    msg_id: str
    created_at: datetime.datetime
    transactions: tuple[ReturnedTransfer, ...]
    settlement_method: str = "CLRG"
    clearing_system: str | None = None
    instructing_agent: Agent | None = None
    instructed_agent: Agent | None = None


# ---------------------------------------------------------------- build


def _returned_xml(tx: ReturnedTransfer, where: str) -> str:
    return_id = "" if tx.return_id is None else \
        f"<RtrId>{_xml.max35_xml(tx.return_id, where, '/RtrId')}</RtrId>"
    amount = _xml.amount_text(tx.amount, tx.currency, where + "/RtrdIntrBkSttlmAmt")
    date = "" if tx.settlement_date is None else \
        f"<IntrBkSttlmDt>{_xml.date_text(tx.settlement_date, where, '/IntrBkSttlmDt')}" \
        "</IntrBkSttlmDt>"
    charge_bearer = "" if tx.charge_bearer is None else \
        f"<ChrgBr>{_charge_bearer(tx.charge_bearer, where, '/ChrgBr')}</ChrgBr>"
    charges = charges_xml(tx.charges, where) if tx.charges else ""
    reason = reason_xml("RtrRsnInf", where, tx.reason, tx.reason_proprietary,
                        tx.additional_info, tx.originator)
    return (
        f"<TxInf>{return_id}{ids_xml(tx, where)}{settlement_xml(tx, where)}"
        f'<RtrdIntrBkSttlmAmt Ccy="{tx.currency}">{amount}</RtrdIntrBkSttlmAmt>{date}'
        f"{charge_bearer}{charges}{reason}</TxInf>"
    )


_DOCUMENT = PaymentDocument(NAMESPACE, _ROOT, "TxInf", _returned_xml)


def build_pacs004(msg: Pacs004) -> bytes:
    """The UTF-8 document; raises MessageError naming the element of any invalid value."""
    return _DOCUMENT.build(msg)


# ---------------------------------------------------------------- parse


def _parse_returned(element: Element, where: str) -> ReturnedTransfer:
    tx = kids(element)
    return_id = optional_text(tx, _T.RtrId, _xml.max35, where)
    ids = _ORIGINAL.ids(tx, where)
    settlement = _ORIGINAL.settlement(tx, where)
    amount, currency = _xml.amount(tx, _T.RtrdIntrBkSttlmAmt, where)
    date = optional_text(tx, _T.IntrBkSttlmDt, _xml.parse_date, where)
    charge_bearer = optional_text(tx, _T.ChrgBr, _charge_bearer, where)
    charges = parse_charges(tx, _T, _READ, where)
    reason = _ORIGINAL.reason(tx, "RtrRsnInf", where)
    return ReturnedTransfer(
        **ids,
        **settlement,
        amount=amount,
        currency=currency,
        settlement_date=date,
        return_id=return_id,
        charge_bearer=charge_bearer,
        charges=charges,
        **reason,
    )


def parse_pacs004(data: bytes, *, max_bytes: int = _xml.DEFAULT_MAX_BYTES) -> Pacs004:
    """Parse a pacs.004.001.09 document (hardened; see `messages.iso20022._xml`)."""
    element, _ = _xml.parse_document(data, _ROOT, (MESSAGE_NAME,), max_bytes)
    root = kids(element)
    head = kids(child(root, _T.GrpHdr, _PATH))
    msg_id = text(head, _T.MsgId, _xml.max35, _HEAD)
    created_at = text(head, _T.CreDtTm, _xml.parse_datetime, _HEAD)
    count = text(head, _T.NbOfTxs, _xml.max35, _HEAD)
    settlement = kids(child(head, _T.SttlmInf, _HEAD))
    method = text(settlement, _T.SttlmMtd, _settlement_method, _SETTLEMENT)
    clearing = optional(settlement, _T.ClrSys, _SETTLEMENT)
    instructing = _READ.optional_agent(head, "InstgAgt", _HEAD)
    instructed = _READ.optional_agent(head, "InstdAgt", _HEAD)
    transactions = tuple(
        _parse_returned(tx, f"{_PATH}/TxInf[{index}]")
        for index, tx in enumerate(repeated(root, _T.TxInf), start=1)
    )
    if not transactions:
        raise MessageError("MX_MISSING_ELEMENT", "TxInf is required", where=_PATH + "/TxInf")
    if count != str(len(transactions)):
        raise MessageError("MX_BAD_VALUE",
                           f"NbOfTxs {count} but {len(transactions)} transactions",
                           where=_HEAD + "/NbOfTxs")
    return Pacs004(
        msg_id=msg_id,
        created_at=created_at,
        transactions=transactions,
        settlement_method=method,
        clearing_system=None if clearing is None else
        _READ.choice(clearing, _SETTLEMENT + "/ClrSys"),
        instructing_agent=instructing,
        instructed_agent=instructed,
    )
