"""camt.029.001.09 ResolutionOfInvestigation: the answer to a camt.056 cancellation request
(the MX counterpart of MT196/MT296).

`status` is the investigation's outcome (Sts/Conf, an ExternalInvestigationExecutionConfirmation
code: CNCL cancelled as requested, RJCR cancellation rejected, PDCR pending, ...); each
transaction's own status (TxCxlSts: ACCR accepted, RJCR rejected, PDCR pending) and reason go
in the cancellation details.

>>> import datetime
>>> now = datetime.datetime(2024, 5, 6, 12, 0, tzinfo=datetime.timezone.utc)
>>> item = CancellationStatus(orgnl_msg_id="M-1", orgnl_msg_name="pacs.008.001.08",
...     orgnl_end_to_end_id="E2E-1", status="RJCR", reason="ARDT")
>>> msg = Camt029(assignment_id="RSL-1", created_at=now, assigner=Agent(bic="CITIUS33XXX"),
...     assignee=Agent(bic="ICBKCNBJXXX"), status="RJCR", transactions=(item,))
>>> b"<Sts><Conf>RJCR</Conf></Sts><CxlDtls><TxInfAndSts>" in build_camt029(msg)
True
>>> parse_camt029(build_camt029(msg)) == msg
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
from messages.iso20022._xml import Element, child, kids, optional_text, repeated
from messages.iso20022.pacs008 import Agent

__all__ = [
    "CANCELLATION_STATUSES",
    "MESSAGE_NAME",
    "Camt029",
    "CancellationStatus",
    "build_camt029",
    "parse_camt029",
]

MESSAGE_NAME = "camt.029.001.09"
NAMESPACE = _xml.NAMESPACE_PREFIX + MESSAGE_NAME
_ROOT = "RsltnOfInvstgtn"
_PATH = f"/Document/{_ROOT}"
_DETAILS = _PATH + "/CxlDtls"
_T = _xml.Tags(NAMESPACE, "Sts Conf CxlDtls TxInfAndSts CxlStsId TxCxlSts")
_ORIGINAL = OriginalReader(NAMESPACE)

# CancellationIndividualStatus1Code
CANCELLATION_STATUSES = frozenset({"ACCR", "RJCR", "PDCR"})
_cancellation_status = _xml.code_check(CANCELLATION_STATUSES)


class CancellationStatus(msgspec.Struct, frozen=True):
    """One TxInfAndSts: an original transfer and what became of the request to cancel it.

    `status` is ACCR, RJCR or PDCR; `reason` an ISO cancellation rejection code (e.g. ARDT
    already returned, LEGL legal decision, NOAS no answer from customer, CUST customer
    decision) or, in `reason_proprietary`, a channel's own code (only one of the two).
    """

    orgnl_msg_id: str
    orgnl_msg_name: str
    orgnl_end_to_end_id: str
    status: str | None = None
    cancellation_status_id: str | None = None
    orgnl_created_at: datetime.datetime | None = None
    orgnl_instr_id: str | None = None
    orgnl_tx_id: str | None = None
    orgnl_uetr: str | None = None
    reason: str | None = None
    reason_proprietary: str | None = None
    additional_info: str | None = None
    originator: str | None = None
    orgnl_amount: int | None = None
    orgnl_currency: str | None = None
    orgnl_settlement_date: datetime.date | None = None


class Camt029(msgspec.Struct, frozen=True):
    """The resolution: assignment, the resolved case (id and creator, both or neither), the
    outcome, and the per-transaction details (written in one CxlDtls when there are any)."""

    assignment_id: str
    created_at: datetime.datetime
    assigner: Agent
    assignee: Agent
    status: str
    transactions: tuple[CancellationStatus, ...] = ()
    case_id: str | None = None
    case_creator: Agent | None = None


def _status_xml(tx: CancellationStatus, where: str) -> str:
    status_id = "" if tx.cancellation_status_id is None else \
        f"<CxlStsId>{_xml.max35_xml(tx.cancellation_status_id, where, '/CxlStsId')}</CxlStsId>"
    status = "" if tx.status is None else \
        f"<TxCxlSts>{_cancellation_status(tx.status, where, '/TxCxlSts')}</TxCxlSts>"
    reason = reason_xml("CxlStsRsnInf", where, tx.reason, tx.reason_proprietary,
                        tx.additional_info, tx.originator)
    return (
        f"<TxInfAndSts>{status_id}{ids_xml(tx, where)}{status}{reason}"
        f"{settlement_xml(tx, where)}</TxInfAndSts>"
    )


_START = f'{_xml.XML_DECLARATION}<Document xmlns="{NAMESPACE}"><{_ROOT}>'
_END = f"</{_ROOT}></Document>"


def build_camt029(msg: Camt029) -> bytes:
    """The UTF-8 document; raises MessageError naming the element of any invalid value."""
    assignment = assignment_xml(msg.assignment_id, msg.assigner, msg.assignee,
                                msg.created_at, _PATH + "/Assgnmt")
    case = case_xml("RslvdCase", msg.case_id, msg.case_creator, _PATH + "/RslvdCase")
    status = _xml.max4_xml(msg.status, _PATH, "/Sts/Conf")
    details = ""
    if msg.transactions:
        details = "<CxlDtls>" + "".join(
            _status_xml(tx, f"{_DETAILS}[1]/TxInfAndSts[{index}]")
            for index, tx in enumerate(msg.transactions, start=1)
        ) + "</CxlDtls>"
    return f"{_START}{assignment}{case}<Sts><Conf>{status}</Conf></Sts>{details}{_END}".encode()


def _parse_status(element: Element, where: str) -> CancellationStatus:
    tx = kids(element)
    status_id = optional_text(tx, _T.CxlStsId, _xml.max35, where)
    ids = _ORIGINAL.ids(tx, where)
    status = optional_text(tx, _T.TxCxlSts, _cancellation_status, where)
    reason = _ORIGINAL.reason(tx, "CxlStsRsnInf", where)
    return CancellationStatus(
        **ids,
        **_ORIGINAL.settlement(tx, where),
        status=status,
        cancellation_status_id=status_id,
        **reason,
    )


def parse_camt029(data: bytes, *, max_bytes: int = _xml.DEFAULT_MAX_BYTES) -> Camt029:
    """Parse a camt.029.001.09 document (hardened; see `messages.iso20022._xml`).

    Only the confirmation form of the status (Sts/Conf) and cancellation details are read.
    """
    element, _ = _xml.parse_document(data, _ROOT, (MESSAGE_NAME,), max_bytes)
    root = kids(element)
    assignment_id, assigner, assignee, created_at = _ORIGINAL.assignment(root, _PATH)
    case_id, case_creator = _ORIGINAL.case(root, "RslvdCase", _PATH)
    status = _xml.only_text(child(root, _T.Sts, _PATH), _T.Conf, _xml.max4, _PATH + "/Sts")
    details = repeated(root, _T.CxlDtls)
    if len(details) > 1:
        raise MessageError("MX_BAD_VALUE", "more than one CxlDtls is not supported",
                           where=_DETAILS + "[2]")
    transactions: tuple[CancellationStatus, ...] = ()
    if details:
        where = _DETAILS + "[1]"
        transactions = tuple(
            _parse_status(tx, f"{where}/TxInfAndSts[{index}]")
            for index, tx in enumerate(repeated(kids(details[0]), _T.TxInfAndSts), start=1)
        )
    return Camt029(
        assignment_id=assignment_id,
        created_at=created_at,
        assigner=assigner,
        assignee=assignee,
        status=status,
        transactions=transactions,
        case_id=case_id,
        case_creator=case_creator,
    )
