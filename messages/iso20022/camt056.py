"""camt.056.001.08 FIToFIPaymentCancellationRequest: ask the next bank to cancel (or return)
transfers already sent (the MX counterpart of MT192/MT292).

The assignment says who asks whom; the case, when set, identifies the investigation. All
transactions go in one Undrlyg, each naming its original message and ids.

>>> import datetime
>>> now = datetime.datetime(2024, 5, 6, 11, 0, tzinfo=datetime.timezone.utc)
>>> item = TransferCancellation(orgnl_msg_id="M-1", orgnl_msg_name="pacs.008.001.08",
...     orgnl_end_to_end_id="E2E-1", orgnl_uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f",
...     reason="DUPL")
>>> msg = Camt056(assignment_id="CXL-1", created_at=now, assigner=Agent(bic="ICBKCNBJXXX"),
...     assignee=Agent(bic="CITIUS33XXX"), transactions=(item,), case_id="CASE-1",
...     case_creator=Agent(bic="ICBKCNBJXXX"))
>>> b"<CxlRsnInf><Rsn><Cd>DUPL</Cd></Rsn></CxlRsnInf>" in build_camt056(msg)
True
>>> parse_camt056(build_camt056(msg)) == msg
True
"""

from __future__ import annotations

import datetime

import msgspec

from messages.errors import MessageError
from messages.iso20022 import _xml
from messages.iso20022._originals import (
    OriginalReader,
    assignment_xml,
    case_xml,
    ids_xml,
    reason_xml,
    settlement_xml,
)
from messages.iso20022._xml import Element, kids, optional_text, repeated
from messages.iso20022.pacs008 import Agent

__all__ = [
    "MESSAGE_NAME",
    "Camt056",
    "TransferCancellation",
    "build_camt056",
    "parse_camt056",
]

MESSAGE_NAME = "camt.056.001.08"
NAMESPACE = _xml.NAMESPACE_PREFIX + MESSAGE_NAME
_ROOT = "FIToFIPmtCxlReq"
_PATH = f"/Document/{_ROOT}"
_UNDERLYING = _PATH + "/Undrlyg"
_T = _xml.Tags(NAMESPACE, "Undrlyg TxInf CxlId")
_ORIGINAL = OriginalReader(NAMESPACE)


class TransferCancellation(msgspec.Struct, frozen=True):
    """One TxInf: the original transfer to cancel and why.

    `reason` is an ISO external cancellation reason code (CxlRsnInf/Rsn/Cd: DUPL duplicate,
    CUST requested by customer, FRAD fraud, TECH technical problem, ...); a channel's own
    code goes in `reason_proprietary` (only one of the two). `originator` names who asked
    (CxlRsnInf/Orgtr/Nm). `orgnl_amount` is in minor units of `orgnl_currency` (both or
    neither).
    """

    orgnl_msg_id: str
    orgnl_msg_name: str
    orgnl_end_to_end_id: str
    cancellation_id: str | None = None
    orgnl_created_at: datetime.datetime | None = None
    orgnl_instr_id: str | None = None
    orgnl_tx_id: str | None = None
    orgnl_uetr: str | None = None
    orgnl_amount: int | None = None
    orgnl_currency: str | None = None
    orgnl_settlement_date: datetime.date | None = None
    reason: str | None = None
    reason_proprietary: str | None = None
    additional_info: str | None = None
    originator: str | None = None


class Camt056(msgspec.Struct, frozen=True):
    """The request: assignment (id, assigner and assignee agents, time), optional case (id
    and creator, both or neither), and the transfers to cancel (at least one)."""

    assignment_id: str
    created_at: datetime.datetime
    assigner: Agent
    assignee: Agent
    transactions: tuple[TransferCancellation, ...]
    case_id: str | None = None
    case_creator: Agent | None = None


def _cancellation_xml(tx: TransferCancellation, where: str) -> str:
    cancellation_id = "" if tx.cancellation_id is None else \
        f"<CxlId>{_xml.max35_xml(tx.cancellation_id, where, '/CxlId')}</CxlId>"
    reason = reason_xml("CxlRsnInf", where, tx.reason, tx.reason_proprietary,
                        tx.additional_info, tx.originator)
    return (
        f"<TxInf>{cancellation_id}{ids_xml(tx, where)}{settlement_xml(tx, where)}{reason}"
        "</TxInf>"
    )


_START = f'{_xml.XML_DECLARATION}<Document xmlns="{NAMESPACE}"><{_ROOT}>'
_END = f"</{_ROOT}></Document>"


def build_camt056(msg: Camt056) -> bytes:
    """The UTF-8 document; raises MessageError naming the element of any invalid value."""
    if not msg.transactions:
        raise MessageError("MX_MISSING_ELEMENT", "at least one transaction is required",
                           where=_UNDERLYING + "[1]/TxInf")
    assignment = assignment_xml(msg.assignment_id, msg.assigner, msg.assignee,
                                msg.created_at, _PATH + "/Assgnmt")
    case = case_xml("Case", msg.case_id, msg.case_creator, _PATH + "/Case")
    body = "".join(
        _cancellation_xml(tx, f"{_UNDERLYING}[1]/TxInf[{index}]")
        for index, tx in enumerate(msg.transactions, start=1)
    )
    return f"{_START}{assignment}{case}<Undrlyg>{body}</Undrlyg>{_END}".encode()


def _parse_cancellation(element: Element, where: str) -> TransferCancellation:
    tx = kids(element)
    cancellation_id = optional_text(tx, _T.CxlId, _xml.max35, where)
    ids = _ORIGINAL.ids(tx, where)
    settlement = _ORIGINAL.settlement(tx, where)
    reason = _ORIGINAL.reason(tx, "CxlRsnInf", where)
    return TransferCancellation(
        **ids,
        **settlement,
        cancellation_id=cancellation_id,
        **reason,
    )


def parse_camt056(data: bytes, *, max_bytes: int = _xml.DEFAULT_MAX_BYTES) -> Camt056:
    """Parse a camt.056.001.08 document (hardened; see `messages.iso20022._xml`)."""
    element, _ = _xml.parse_document(data, _ROOT, (MESSAGE_NAME,), max_bytes)
    root = kids(element)
    assignment_id, assigner, assignee, created_at = _ORIGINAL.assignment(root, _PATH)
    case_id, case_creator = _ORIGINAL.case(root, "Case", _PATH)
    underlying = repeated(root, _T.Undrlyg)
    if not underlying:
        raise MessageError("MX_MISSING_ELEMENT", "Undrlyg is required", where=_UNDERLYING)
    if len(underlying) > 1:
        raise MessageError("MX_BAD_VALUE", "more than one Undrlyg is not supported",
                           where=_UNDERLYING + "[2]")
    where = _UNDERLYING + "[1]"
    transactions = tuple(
        _parse_cancellation(tx, f"{where}/TxInf[{index}]")
        for index, tx in enumerate(repeated(kids(underlying[0]), _T.TxInf), start=1)
    )
    if not transactions:
        raise MessageError("MX_MISSING_ELEMENT", "TxInf is required", where=where + "/TxInf")
    return Camt056(
        assignment_id=assignment_id,
        created_at=created_at,
        assigner=assigner,
        assignee=assignee,
        transactions=transactions,
        case_id=case_id,
        case_creator=case_creator,
    )
