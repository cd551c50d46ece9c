"""pacs.002.001.10 FIToFIPaymentStatusReport: a channel's answer about earlier transactions.

>>> import datetime
>>> report = Pacs002(msg_id="S-1", orgnl_msg_id="M-1", orgnl_msg_name="pacs.008.001.08",
...     created_at=datetime.datetime(2024, 5, 6, 9, 31, tzinfo=datetime.timezone.utc),
...     transactions=(TxStatus(orgnl_end_to_end_id="E2E-1", status="RJCT", reason="AC04"),))
>>> b"<TxSts>RJCT</TxSts><StsRsnInf><Rsn><Cd>AC04</Cd>" in build_pacs002(report)
True
>>> parse_pacs002(build_pacs002(report)) == report
True
"""

from __future__ import annotations

import datetime

import msgspec

from messages.errors import MessageError
from messages.iso20022 import _xml
from messages.iso20022._xml import Node, tag

__all__ = ["MESSAGE_NAME", "Pacs002", "TxStatus", "build_pacs002", "parse_pacs002"]

MESSAGE_NAME = "pacs.002.001.10"
NAMESPACE = _xml.NAMESPACE_PREFIX + MESSAGE_NAME
_ROOT = "FIToFIPmtStsRpt"
_PATH = f"/Document/{_ROOT}"


class TxStatus(msgspec.Struct, frozen=True):
    """Status of one original transaction (TxInfAndSts).

    `reason` is an ISO external status reason code (Rsn/Cd); a channel's own code goes in
    `reason_proprietary` (Rsn/Prtry). Only one of the two may be set.
    """

    orgnl_end_to_end_id: str
    status: str
    orgnl_tx_id: str | None = None
    orgnl_uetr: str | None = None
    reason: str | None = None
    additional_info: str | None = None
    accepted_at: datetime.datetime | None = None
    reason_proprietary: str | None = None


class Pacs002(msgspec.Struct, frozen=True):
    """The report: group header, original group and per-transaction statuses."""

    msg_id: str
    created_at: datetime.datetime
    orgnl_msg_id: str
    orgnl_msg_name: str
    transactions: tuple[TxStatus, ...]
    group_status: str | None = None


def _status_xml(out: list[str], tx: TxStatus, where: str) -> None:
    out.append("<TxInfAndSts>")
    out.append(tag("OrgnlEndToEndId", _xml.max35(tx.orgnl_end_to_end_id,
                                                 where + "/OrgnlEndToEndId")))
    if tx.orgnl_tx_id is not None:
        out.append(tag("OrgnlTxId", _xml.max35(tx.orgnl_tx_id, where + "/OrgnlTxId")))
    if tx.orgnl_uetr is not None:
        out.append(f"<OrgnlUETR>{_xml.uetr(tx.orgnl_uetr, where + '/OrgnlUETR')}</OrgnlUETR>")
    out.append(tag("TxSts", _xml.max4(tx.status, where + "/TxSts")))
    reason_where = where + "/StsRsnInf"
    if tx.reason is not None and tx.reason_proprietary is not None:
        raise MessageError("MX_BAD_VALUE", "reason and reason_proprietary are exclusive",
                           where=reason_where + "/Rsn")
    if tx.reason is not None or tx.reason_proprietary is not None or tx.additional_info:
        out.append("<StsRsnInf>")
        if tx.reason is not None:
            out.append(f"<Rsn>{tag('Cd', _xml.max4(tx.reason, reason_where + '/Rsn/Cd'))}</Rsn>")
        elif tx.reason_proprietary is not None:
            _xml.max35(tx.reason_proprietary, reason_where + "/Rsn/Prtry")
            out.append(f"<Rsn>{tag('Prtry', tx.reason_proprietary)}</Rsn>")
        if tx.additional_info is not None:
            _xml.max105(tx.additional_info, reason_where + "/AddtlInf")
            out.append(tag("AddtlInf", tx.additional_info))
        out.append("</StsRsnInf>")
    if tx.accepted_at is not None:
        accepted = _xml.datetime_text(tx.accepted_at, where + "/AccptncDtTm")
        out.append(f"<AccptncDtTm>{accepted}</AccptncDtTm>")
    out.append("</TxInfAndSts>")


def build_pacs002(msg: Pacs002) -> bytes:
    """The UTF-8 document; raises MessageError naming the element of any invalid value."""
    head = _PATH + "/GrpHdr"
    group = _PATH + "/OrgnlGrpInfAndSts"
    out = [
        _xml.XML_DECLARATION,
        f'<Document xmlns="{NAMESPACE}"><{_ROOT}><GrpHdr>',
        tag("MsgId", _xml.max35(msg.msg_id, head + "/MsgId")),
        f"<CreDtTm>{_xml.datetime_text(msg.created_at, head + '/CreDtTm')}</CreDtTm>",
        "</GrpHdr><OrgnlGrpInfAndSts>",
        tag("OrgnlMsgId", _xml.max35(msg.orgnl_msg_id, group + "/OrgnlMsgId")),
        tag("OrgnlMsgNmId", _xml.max35(msg.orgnl_msg_name, group + "/OrgnlMsgNmId")),
    ]
    if msg.group_status is not None:
        out.append(tag("GrpSts", _xml.max4(msg.group_status, group + "/GrpSts")))
    out.append("</OrgnlGrpInfAndSts>")
    for index, tx in enumerate(msg.transactions, start=1):
        _status_xml(out, tx, f"{_PATH}/TxInfAndSts[{index}]")
    out.append(f"</{_ROOT}></Document>")
    return "".join(out).encode()


def _parse_status(node: Node) -> TxStatus:
    reason = reason_proprietary = additional_info = None
    reasons = node.repeated("StsRsnInf")
    if len(reasons) > 1:
        raise MessageError("MX_BAD_VALUE", "more than one StsRsnInf is not supported",
                           where=reasons[1].path)
    if reasons:
        info = reasons[0]
        rsn = info.optional("Rsn")
        if rsn is not None:
            reason = rsn.optional_text("Cd", _xml.max4)
            reason_proprietary = rsn.optional_text("Prtry", _xml.max35)
            if reason is None and reason_proprietary is None:
                raise MessageError("MX_MISSING_ELEMENT", "Cd or Prtry is required",
                                   where=rsn.path + "/Cd")
        # AddtlInf repeats when the text is longer than 105 characters: rejoin the pieces.
        pieces = [_xml.max105(piece.own_text(), piece.path) for piece in info.repeated("AddtlInf")]
        additional_info = "".join(pieces) if pieces else None
    return TxStatus(
        orgnl_end_to_end_id=node.text("OrgnlEndToEndId", _xml.max35),
        status=node.text("TxSts", _xml.max4),
        orgnl_tx_id=node.optional_text("OrgnlTxId", _xml.max35),
        orgnl_uetr=node.optional_text("OrgnlUETR", _xml.uetr),
        reason=reason,
        additional_info=additional_info,
        accepted_at=node.optional_text("AccptncDtTm", _xml.parse_datetime),
        reason_proprietary=reason_proprietary,
    )


def parse_pacs002(data: bytes, *, max_bytes: int = _xml.DEFAULT_MAX_BYTES) -> Pacs002:
    """Parse a pacs.002.001.10 document (hardened; see `messages.iso20022._xml`)."""
    element, _ = _xml.parse_document(data, _ROOT, (MESSAGE_NAME,), max_bytes)
    root = Node(element, _PATH)
    head = root.child("GrpHdr")
    groups = root.repeated("OrgnlGrpInfAndSts")
    if not groups:
        raise MessageError("MX_MISSING_ELEMENT", "OrgnlGrpInfAndSts is required",
                           where=_PATH + "/OrgnlGrpInfAndSts")
    if len(groups) > 1:
        raise MessageError("MX_BAD_VALUE", "more than one original group is not supported",
                           where=groups[1].path)
    group = groups[0]
    return Pacs002(
        msg_id=head.text("MsgId", _xml.max35),
        created_at=head.text("CreDtTm", _xml.parse_datetime),
        orgnl_msg_id=group.text("OrgnlMsgId", _xml.max35),
        orgnl_msg_name=group.text("OrgnlMsgNmId", _xml.max35),
        transactions=tuple(_parse_status(tx) for tx in root.repeated("TxInfAndSts")),
        group_status=group.optional_text("GrpSts", _xml.max4),
    )
