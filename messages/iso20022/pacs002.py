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
from messages.iso20022._xml import Element, child, kids, optional, optional_text, repeated, text

__all__ = ["MESSAGE_NAME", "Pacs002", "TxStatus", "build_pacs002", "parse_pacs002"]

MESSAGE_NAME = "pacs.002.001.10"
NAMESPACE = _xml.NAMESPACE_PREFIX + MESSAGE_NAME
_ROOT = "FIToFIPmtStsRpt"
_PATH = f"/Document/{_ROOT}"
_HEAD = _PATH + "/GrpHdr"
_GROUP = _PATH + "/OrgnlGrpInfAndSts"
_T = _xml.Tags(NAMESPACE, """
    GrpHdr MsgId CreDtTm OrgnlGrpInfAndSts OrgnlMsgId OrgnlMsgNmId GrpSts TxInfAndSts
    OrgnlEndToEndId OrgnlTxId OrgnlUETR TxSts StsRsnInf Rsn Cd Prtry AddtlInf AccptncDtTm
""")


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


def _status_xml(tx: TxStatus, where: str) -> str:
    end_to_end_id = _xml.max35_xml(tx.orgnl_end_to_end_id, where, "/OrgnlEndToEndId")
    tx_id = "" if tx.orgnl_tx_id is None else \
        f"<OrgnlTxId>{_xml.max35_xml(tx.orgnl_tx_id, where, '/OrgnlTxId')}</OrgnlTxId>"
    uetr = "" if tx.orgnl_uetr is None else \
        f"<OrgnlUETR>{_xml.uetr(tx.orgnl_uetr, where, '/OrgnlUETR')}</OrgnlUETR>"
    status = _xml.max4_xml(tx.status, where, "/TxSts")
    reason = ""
    if tx.reason is not None and tx.reason_proprietary is not None:
        raise MessageError("MX_BAD_VALUE", "reason and reason_proprietary are exclusive",
                           where=where + "/StsRsnInf/Rsn")
    if tx.reason is not None or tx.reason_proprietary is not None or tx.additional_info:
        if tx.reason is not None:
            code = _xml.max4_xml(tx.reason, where, "/StsRsnInf/Rsn/Cd")
            reason = f"<Rsn><Cd>{code}</Cd></Rsn>"
        elif tx.reason_proprietary is not None:
            code = _xml.max35_xml(tx.reason_proprietary, where, "/StsRsnInf/Rsn/Prtry")
            reason = f"<Rsn><Prtry>{code}</Prtry></Rsn>"
        if tx.additional_info is not None:
            info = _xml.max105_xml(tx.additional_info, where, "/StsRsnInf/AddtlInf")
            reason += f"<AddtlInf>{info}</AddtlInf>"
        reason = f"<StsRsnInf>{reason}</StsRsnInf>"
    accepted = "" if tx.accepted_at is None else \
        f"<AccptncDtTm>{_xml.datetime_text(tx.accepted_at, where, '/AccptncDtTm')}</AccptncDtTm>"
    return (
        f"<TxInfAndSts><OrgnlEndToEndId>{end_to_end_id}</OrgnlEndToEndId>{tx_id}{uetr}"
        f"<TxSts>{status}</TxSts>{reason}{accepted}</TxInfAndSts>"
    )


_START = f'{_xml.XML_DECLARATION}<Document xmlns="{NAMESPACE}"><{_ROOT}><GrpHdr><MsgId>'
_END = f"</{_ROOT}></Document>"


def build_pacs002(msg: Pacs002) -> bytes:
    """The UTF-8 document; raises MessageError naming the element of any invalid value."""
    msg_id = _xml.max35_xml(msg.msg_id, _HEAD, "/MsgId")
    created_at = _xml.datetime_text(msg.created_at, _HEAD, "/CreDtTm")
    orgnl_msg_id = _xml.max35_xml(msg.orgnl_msg_id, _GROUP, "/OrgnlMsgId")
    orgnl_msg_name = _xml.max35_xml(msg.orgnl_msg_name, _GROUP, "/OrgnlMsgNmId")
    group_status = "" if msg.group_status is None else \
        f"<GrpSts>{_xml.max4_xml(msg.group_status, _GROUP, '/GrpSts')}</GrpSts>"
    statuses = "".join(
        _status_xml(tx, f"{_PATH}/TxInfAndSts[{index}]")
        for index, tx in enumerate(msg.transactions, start=1)
    )
    return (
        f"{_START}{msg_id}</MsgId><CreDtTm>{created_at}</CreDtTm></GrpHdr>"
        f"<OrgnlGrpInfAndSts><OrgnlMsgId>{orgnl_msg_id}</OrgnlMsgId>"
        f"<OrgnlMsgNmId>{orgnl_msg_name}</OrgnlMsgNmId>{group_status}</OrgnlGrpInfAndSts>"
        f"{statuses}{_END}"
    ).encode()


def _parse_status(element: Element, where: str) -> TxStatus:
    node = kids(element)
    reason = reason_proprietary = additional_info = None
    reasons = repeated(node, _T.StsRsnInf)
    if len(reasons) > 1:
        raise MessageError("MX_BAD_VALUE", "more than one StsRsnInf is not supported",
                           where=where + "/StsRsnInf[2]")
    if reasons:
        info_where = where + "/StsRsnInf[1]"
        info = kids(reasons[0])
        rsn_element = optional(info, _T.Rsn, info_where)
        if rsn_element is not None:
            rsn = kids(rsn_element)
            rsn_where = info_where + "/Rsn"
            reason = optional_text(rsn, _T.Cd, _xml.max4, rsn_where)
            reason_proprietary = optional_text(rsn, _T.Prtry, _xml.max35, rsn_where)
            if reason is None and reason_proprietary is None:
                raise MessageError("MX_MISSING_ELEMENT", "Cd or Prtry is required",
                                   where=rsn_where + "/Cd")
        # AddtlInf repeats when the text is longer than 105 characters: rejoin the pieces.
        pieces = [
            _xml.own_text(piece, _xml.max105, f"{info_where}/AddtlInf[{index}]")
            for index, piece in enumerate(repeated(info, _T.AddtlInf), start=1)
        ]
        additional_info = "".join(pieces) if pieces else None
    return TxStatus(
        orgnl_end_to_end_id=text(node, _T.OrgnlEndToEndId, _xml.max35, where),
        status=text(node, _T.TxSts, _xml.max4, where),
        orgnl_tx_id=optional_text(node, _T.OrgnlTxId, _xml.max35, where),
        orgnl_uetr=optional_text(node, _T.OrgnlUETR, _xml.uetr, where),
        reason=reason,
        additional_info=additional_info,
        accepted_at=optional_text(node, _T.AccptncDtTm, _xml.parse_datetime, where),
        reason_proprietary=reason_proprietary,
    )


def parse_pacs002(data: bytes, *, max_bytes: int = _xml.DEFAULT_MAX_BYTES) -> Pacs002:
    """Parse a pacs.002.001.10 document (hardened; see `messages.iso20022._xml`)."""
    element, _ = _xml.parse_document(data, _ROOT, (MESSAGE_NAME,), max_bytes)
    root = kids(element)
    head = kids(child(root, _T.GrpHdr, _PATH))
    groups = repeated(root, _T.OrgnlGrpInfAndSts)
    if not groups:
        raise MessageError("MX_MISSING_ELEMENT", "OrgnlGrpInfAndSts is required",
                           where=_GROUP)
    if len(groups) > 1:
        raise MessageError("MX_BAD_VALUE", "more than one original group is not supported",
                           where=_GROUP + "[2]")
    group = kids(groups[0])
    # The XPath of the one group carries its position, as every repeated element's does.
    group_where = _GROUP + "[1]"
    return Pacs002(
        msg_id=text(head, _T.MsgId, _xml.max35, _HEAD),
        created_at=text(head, _T.CreDtTm, _xml.parse_datetime, _HEAD),
        orgnl_msg_id=text(group, _T.OrgnlMsgId, _xml.max35, group_where),
        orgnl_msg_name=text(group, _T.OrgnlMsgNmId, _xml.max35, group_where),
        transactions=tuple(
            _parse_status(tx, f"{_PATH}/TxInfAndSts[{index}]")
            for index, tx in enumerate(repeated(root, _T.TxInfAndSts), start=1)
        ),
        group_status=optional_text(group, _T.GrpSts, _xml.max4, group_where),
    )
