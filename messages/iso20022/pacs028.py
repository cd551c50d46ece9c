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
from messages.iso20022._xml import kids, optional_text, repeated, text

__all__ = ["MESSAGE_NAME", "StatusRequest", "build_pacs028", "parse_pacs028"]

MESSAGE_NAME = "pacs.028.001.03"
NAMESPACE = _xml.NAMESPACE_PREFIX + MESSAGE_NAME
_ROOT = "FIToFIPmtStsReq"
_PATH = f"/Document/{_ROOT}"
_HEAD = _PATH + "/GrpHdr"
_T = _xml.Tags(NAMESPACE, "GrpHdr MsgId CreDtTm OrgnlGrpInf OrgnlMsgId OrgnlMsgNmId TxInf "
                          "OrgnlEndToEndId OrgnlUETR")


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


_START = f'{_xml.XML_DECLARATION}<Document xmlns="{NAMESPACE}"><{_ROOT}><GrpHdr><MsgId>'
_END = f"</{_ROOT}></Document>"


def build_pacs028(msg: StatusRequest) -> bytes:
    """The UTF-8 document; raises MessageError naming the element of any invalid value."""
    if not msg.orgnl_end_to_end_ids:
        raise MessageError("MX_MISSING_ELEMENT", "at least one transaction is required",
                           where=_PATH + "/TxInf")
    uetrs = msg.orgnl_uetrs or (None,) * len(msg.orgnl_end_to_end_ids)
    if len(uetrs) != len(msg.orgnl_end_to_end_ids):
        raise MessageError("MX_BAD_VALUE", "one UETR (or None) per end-to-end id",
                           where=_PATH + "/TxInf/OrgnlUETR")
    msg_id = _xml.max35_xml(msg.msg_id, _HEAD, "/MsgId")
    created_at = _xml.datetime_text(msg.created_at, _HEAD, "/CreDtTm")
    if (msg.orgnl_msg_id is None) != (msg.orgnl_msg_name is None):
        raise MessageError("MX_MISSING_ELEMENT", "original message id and name go together",
                           where=_PATH + "/OrgnlGrpInf")
    group = ""
    if msg.orgnl_msg_id is not None and msg.orgnl_msg_name is not None:
        where = _PATH + "/OrgnlGrpInf"
        orgnl_msg_id = _xml.max35_xml(msg.orgnl_msg_id, where, "/OrgnlMsgId")
        orgnl_msg_name = _xml.max35_xml(msg.orgnl_msg_name, where, "/OrgnlMsgNmId")
        group = (f"<OrgnlGrpInf><OrgnlMsgId>{orgnl_msg_id}</OrgnlMsgId>"
                 f"<OrgnlMsgNmId>{orgnl_msg_name}</OrgnlMsgNmId></OrgnlGrpInf>")
    out = [f"{_START}{msg_id}</MsgId><CreDtTm>{created_at}</CreDtTm></GrpHdr>{group}"]
    for index, (end_to_end_id, uetr) in enumerate(
        zip(msg.orgnl_end_to_end_ids, uetrs, strict=True), start=1
    ):
        where = f"{_PATH}/TxInf[{index}]"
        end_to_end_xml = _xml.max35_xml(end_to_end_id, where, "/OrgnlEndToEndId")
        uetr_xml = "" if uetr is None else \
            f"<OrgnlUETR>{_xml.uetr(uetr, where, '/OrgnlUETR')}</OrgnlUETR>"
        out.append(f"<TxInf><OrgnlEndToEndId>{end_to_end_xml}</OrgnlEndToEndId>{uetr_xml}"
                   "</TxInf>")
    out.append(_END)
    return "".join(out).encode()


def parse_pacs028(data: bytes, *, max_bytes: int = _xml.DEFAULT_MAX_BYTES) -> StatusRequest:
    """Parse a pacs.028.001.03 document (hardened; see `messages.iso20022._xml`)."""
    element, _ = _xml.parse_document(data, _ROOT, (MESSAGE_NAME,), max_bytes)
    root = kids(element)
    head = kids(_xml.child(root, _T.GrpHdr, _PATH))
    transactions = [
        (kids(tx), f"{_PATH}/TxInf[{index}]")
        for index, tx in enumerate(repeated(root, _T.TxInf), start=1)
    ]
    if not transactions:
        raise MessageError("MX_MISSING_ELEMENT", "TxInf is required", where=_PATH + "/TxInf")
    uetrs = tuple(optional_text(tx, _T.OrgnlUETR, _xml.uetr, where) for tx, where in transactions)
    orgnl_msg_id = orgnl_msg_name = None
    groups = repeated(root, _T.OrgnlGrpInf)
    if len(groups) > 1:
        raise MessageError("MX_BAD_VALUE", "more than one original group is not supported",
                           where=_PATH + "/OrgnlGrpInf[2]")
    if groups:
        group = kids(groups[0])
        where = _PATH + "/OrgnlGrpInf[1]"
        orgnl_msg_id = text(group, _T.OrgnlMsgId, _xml.max35, where)
        orgnl_msg_name = text(group, _T.OrgnlMsgNmId, _xml.max35, where)
    return StatusRequest(
        msg_id=text(head, _T.MsgId, _xml.max35, _HEAD),
        created_at=text(head, _T.CreDtTm, _xml.parse_datetime, _HEAD),
        orgnl_end_to_end_ids=tuple(
            text(tx, _T.OrgnlEndToEndId, _xml.max35, where) for tx, where in transactions
        ),
        orgnl_uetrs=uetrs if any(uetr is not None for uetr in uetrs) else (),
        orgnl_msg_id=orgnl_msg_id,
        orgnl_msg_name=orgnl_msg_name,
    )
