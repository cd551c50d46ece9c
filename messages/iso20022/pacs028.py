"""pacs.028.001.03 FIToFIPaymentStatusRequest: status inquiry (IBPS ibps.305, HVPS ccms.316).

No official XSD of this version is in the project's oracle folder: the layout follows the
ISO 20022 message definition (GroupHeader91, PaymentTransaction113).

>>> import datetime
>>> request = StatusRequest(msg_id="Q-1", orgnl_end_to_end_ids=("E2E-1", "E2E-2"),
...     created_at=datetime.datetime(2024, 5, 6, 9, 32, tzinfo=datetime.timezone.utc))
>>> parse_pacs028(build_pacs028(request)) == request
True
"""

from __future__ import annotations

import datetime

import msgspec

from messages.errors import MessageError
from messages.iso20022 import _xml
from messages.iso20022._xml import Node, tag

__all__ = ["MESSAGE_NAME", "StatusRequest", "build_pacs028", "parse_pacs028"]

MESSAGE_NAME = "pacs.028.001.03"
NAMESPACE = _xml.NAMESPACE_PREFIX + MESSAGE_NAME
_ROOT = "FIToFIPmtStsReq"
_PATH = f"/Document/{_ROOT}"


class StatusRequest(msgspec.Struct, frozen=True):
    """Which transactions to ask about.

    `orgnl_uetrs` is empty or holds one UETR (or None) per end-to-end id, in the same order.
    `orgnl_msg_id` and `orgnl_msg_name` name the original message (OrgnlGrpInf); set both
    or neither.
    """

    msg_id: str
    created_at: datetime.datetime
    orgnl_end_to_end_ids: tuple[str, ...]
    orgnl_uetrs: tuple[str | None, ...] = ()
    orgnl_msg_id: str | None = None
    orgnl_msg_name: str | None = None


def build_pacs028(msg: StatusRequest) -> bytes:
    """The UTF-8 document; raises MessageError naming the element of any invalid value."""
    head = _PATH + "/GrpHdr"
    if not msg.orgnl_end_to_end_ids:
        raise MessageError("MX_MISSING_ELEMENT", "at least one transaction is required",
                           where=_PATH + "/TxInf")
    uetrs = msg.orgnl_uetrs or (None,) * len(msg.orgnl_end_to_end_ids)
    if len(uetrs) != len(msg.orgnl_end_to_end_ids):
        raise MessageError("MX_BAD_VALUE", "one UETR (or None) per end-to-end id",
                           where=_PATH + "/TxInf/OrgnlUETR")
    out = [
        _xml.XML_DECLARATION,
        f'<Document xmlns="{NAMESPACE}"><{_ROOT}><GrpHdr>',
        tag("MsgId", _xml.max35(msg.msg_id, head + "/MsgId")),
        f"<CreDtTm>{_xml.datetime_text(msg.created_at, head + '/CreDtTm')}</CreDtTm>",
        "</GrpHdr>",
    ]
    if (msg.orgnl_msg_id is None) != (msg.orgnl_msg_name is None):
        raise MessageError("MX_MISSING_ELEMENT", "original message id and name go together",
                           where=_PATH + "/OrgnlGrpInf")
    if msg.orgnl_msg_id is not None and msg.orgnl_msg_name is not None:
        group = _PATH + "/OrgnlGrpInf"
        out.append("<OrgnlGrpInf>")
        out.append(tag("OrgnlMsgId", _xml.max35(msg.orgnl_msg_id, group + "/OrgnlMsgId")))
        out.append(tag("OrgnlMsgNmId", _xml.max35(msg.orgnl_msg_name, group + "/OrgnlMsgNmId")))
        out.append("</OrgnlGrpInf>")
    for index, (end_to_end_id, uetr) in enumerate(
        zip(msg.orgnl_end_to_end_ids, uetrs, strict=True), start=1
    ):
        where = f"{_PATH}/TxInf[{index}]"
        out.append("<TxInf>")
        out.append(tag("OrgnlEndToEndId", _xml.max35(end_to_end_id, where + "/OrgnlEndToEndId")))
        if uetr is not None:
            out.append(f"<OrgnlUETR>{_xml.uetr(uetr, where + '/OrgnlUETR')}</OrgnlUETR>")
        out.append("</TxInf>")
    out.append(f"</{_ROOT}></Document>")
    return "".join(out).encode()


def parse_pacs028(data: bytes, *, max_bytes: int = _xml.DEFAULT_MAX_BYTES) -> StatusRequest:
    """Parse a pacs.028.001.03 document (hardened; see `messages.iso20022._xml`)."""
    element, _ = _xml.parse_document(data, _ROOT, (MESSAGE_NAME,), max_bytes)
    root = Node(element, _PATH)
    head = root.child("GrpHdr")
    transactions: list[Node] = root.repeated("TxInf")
    if not transactions:
        raise MessageError("MX_MISSING_ELEMENT", "TxInf is required", where=_PATH + "/TxInf")
    uetrs = tuple(tx.optional_text("OrgnlUETR", _xml.uetr) for tx in transactions)
    orgnl_msg_id = orgnl_msg_name = None
    groups = root.repeated("OrgnlGrpInf")
    if len(groups) > 1:
        raise MessageError("MX_BAD_VALUE", "more than one original group is not supported",
                           where=groups[1].path)
    if groups:
        orgnl_msg_id = groups[0].text("OrgnlMsgId", _xml.max35)
        orgnl_msg_name = groups[0].text("OrgnlMsgNmId", _xml.max35)
    return StatusRequest(
        msg_id=head.text("MsgId", _xml.max35),
        created_at=head.text("CreDtTm", _xml.parse_datetime),
        orgnl_end_to_end_ids=tuple(tx.text("OrgnlEndToEndId", _xml.max35) for tx in transactions),
        orgnl_uetrs=uetrs if any(uetr is not None for uetr in uetrs) else (),
        orgnl_msg_id=orgnl_msg_id,
        orgnl_msg_name=orgnl_msg_name,
    )
