"""head.001.001.02 Business Application Header (AppHdr), and business messages: a header and
its Document travelling together.

ISO 20022 defines the header and the Document as two separate XML instances and leaves how they
travel to the network. CBPR+ (SWIFT) carries them as siblings, header first, inside the
transport envelope: the SWIFTNet InterAct `RequestPayload`, or the `Body` of an Alliance Access
`DataPDU`. `build_business_message` writes the `RequestPayload` form, unqualified, with
neither element changed, so each still validates against its own schema;
`parse_business_message` reads that form and the `DataPDU/Body` one.

>>> import datetime
>>> header = AppHeader(sender=Agent(bic="ICBKCNBJXXX"), receiver=Agent(bic="CITIUS33XXX"),
...     biz_msg_id="M-1", msg_def_id="pacs.008.001.08", biz_service="swift.cbprplus.02",
...     created_at=datetime.datetime(2024, 5, 6, 9, 30, tzinfo=datetime.timezone.utc))
>>> b"<Fr><FIId><FinInstnId><BICFI>ICBKCNBJXXX</BICFI>" in build_head001(header)
True
>>> parse_head001(build_head001(header)) == header
True
>>> document = b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"/>'
>>> parse_business_message(build_business_message(header, document)) == (header, document)
True
"""

from __future__ import annotations

import datetime

import msgspec
from lxml import etree

from messages.errors import MessageError, MxWrongMessage
from messages.iso20022 import _xml
from messages.iso20022._parties import Reader, agent_xml
from messages.iso20022._xml import Element, Kids, child, kids, optional_text, text
from messages.iso20022.pacs008 import Agent

__all__ = [
    "ENVELOPE",
    "MESSAGE_NAME",
    "AppHeader",
    "RelatedHeader",
    "build_business_message",
    "build_head001",
    "parse_business_message",
    "parse_head001",
]

MESSAGE_NAME = "head.001.001.02"
NAMESPACE = _xml.NAMESPACE_PREFIX + MESSAGE_NAME
ENVELOPE = "RequestPayload"
_ROOT = "AppHdr"
_ROOT_TAG = f"{{{NAMESPACE}}}{_ROOT}"
_T = _xml.Tags(NAMESPACE, """
    Fr To FIId BizMsgIdr MsgDefIdr BizSvc CreDt CpyDplct PssblDplct Rltd
""")
_READ = Reader(NAMESPACE)

COPY_DUPLICATE = frozenset({"CODU", "COPY", "DUPL"})
_copy_duplicate = _xml.code_check(COPY_DUPLICATE)


class RelatedHeader(msgspec.Struct, frozen=True):
    """Rltd: the header of the message this one relates to (e.g. the pacs.008 a pacs.002
    answers), as CBPR+ asks for answers and copies."""

    sender: Agent
    receiver: Agent
    biz_msg_id: str
    msg_def_id: str
    created_at: datetime.datetime
    biz_service: str | None = None


class AppHeader(msgspec.Struct, frozen=True):
    """The header: sending and receiving institutions (Fr/FIId, To/FIId), the business message
    id, the message definition (e.g. pacs.008.001.08), the business service (e.g.
    swift.cbprplus.02) and the creation time (CreDt)."""

    sender: Agent
    receiver: Agent
    biz_msg_id: str
    msg_def_id: str
    created_at: datetime.datetime
    biz_service: str | None = None
    copy_duplicate: str | None = None
    possible_duplicate: bool = False
    related: RelatedHeader | None = None


# ---------------------------------------------------------------- build


def _party_xml(name: str, agent: Agent, where: str) -> str:
    """A Party44Choice holding an institution: `<name><FIId>...</FIId></name>`."""
    return f"<{name}>{agent_xml('FIId', agent, f'{where}/{name}')}</{name}>"


def _common_xml(header: AppHeader | RelatedHeader, where: str) -> tuple[str, str]:
    """(Fr To BizMsgIdr MsgDefIdr BizSvc, CreDt) of a header or related header."""
    biz_msg_id = _xml.max35_xml(header.biz_msg_id, where, "/BizMsgIdr")
    msg_def_id = _xml.max35_xml(header.msg_def_id, where, "/MsgDefIdr")
    service = "" if header.biz_service is None else \
        f"<BizSvc>{_xml.max35_xml(header.biz_service, where, '/BizSvc')}</BizSvc>"
    created = _xml.datetime_text(header.created_at, where, "/CreDt")
    return (
        f"{_party_xml('Fr', header.sender, where)}{_party_xml('To', header.receiver, where)}"
        f"<BizMsgIdr>{biz_msg_id}</BizMsgIdr><MsgDefIdr>{msg_def_id}</MsgDefIdr>{service}",
        f"<CreDt>{created}</CreDt>",
    )


def _header_xml(header: AppHeader, where: str) -> str:
    """The `<AppHdr>` element, with its namespace; `where` is its XPath."""
    head, created = _common_xml(header, where)
    copy = "" if header.copy_duplicate is None else \
        f"<CpyDplct>{_copy_duplicate(header.copy_duplicate, where, '/CpyDplct')}</CpyDplct>"
    if type(header.possible_duplicate) is not bool:
        raise MessageError("MX_BAD_VALUE",
                           f"expected a bool, got {header.possible_duplicate!r}",
                           where=where + "/PssblDplct")
    duplicate = "<PssblDplct>true</PssblDplct>" if header.possible_duplicate else ""
    related = ""
    if header.related is not None:
        related_head, related_created = _common_xml(header.related, where + "/Rltd")
        related = f"<Rltd>{related_head}{related_created}</Rltd>"
    return (
        f'<AppHdr xmlns="{NAMESPACE}">{head}{created}{copy}{duplicate}{related}</AppHdr>'
    )


def build_head001(header: AppHeader) -> bytes:
    """The AppHdr alone as a UTF-8 document; raises MessageError naming the element of any
    invalid value."""
    return (_xml.XML_DECLARATION + _header_xml(header, "/AppHdr")).encode()


_ENVELOPE_START = f"{_xml.XML_DECLARATION}<{ENVELOPE}>".encode()
_ENVELOPE_END = f"</{ENVELOPE}>".encode()


def build_business_message(header: AppHeader, document: bytes) -> bytes:
    """`header` and `document` (a built ISO 20022 Document) as siblings in a RequestPayload.

    The header must name the document: its MsgDefIdr is the Document's message name.
    """
    name = _xml.message_name(document)
    where = f"/{ENVELOPE}/AppHdr"
    if header.msg_def_id != name:
        raise MessageError("MX_BAD_VALUE",
                           f"header names {header.msg_def_id!r} but the Document is {name}",
                           where=where + "/MsgDefIdr")
    if document.startswith(b"<?xml"):
        document = document[document.index(b"?>") + 2 :].lstrip()
    return b"".join(
        (_ENVELOPE_START, _header_xml(header, where).encode(), document, _ENVELOPE_END)
    )


# ---------------------------------------------------------------- parse


def _parse_party(index: Kids, name: str, where: str) -> Agent:
    element = child(index, f"{{{NAMESPACE}}}{name}", where)
    where = f"{where}/{name}"
    return _READ.agent(_xml.only(element, _T.FIId, where), where + "/FIId")


def _parse_related(element: Element, where: str) -> RelatedHeader:
    node = kids(element)
    return RelatedHeader(
        sender=_parse_party(node, "Fr", where),
        receiver=_parse_party(node, "To", where),
        biz_msg_id=text(node, _T.BizMsgIdr, _xml.max35, where),
        msg_def_id=text(node, _T.MsgDefIdr, _xml.max35, where),
        biz_service=optional_text(node, _T.BizSvc, _xml.max35, where),
        created_at=text(node, _T.CreDt, _xml.parse_datetime, where),
    )


def _parse_header(element: Element, where: str) -> AppHeader:
    """The AppHdr `element` at XPath `where`, its namespace checked and normalised."""
    if element.tag != _ROOT_TAG:
        raise MxWrongMessage(f"expected AppHdr of {MESSAGE_NAME}, got {element.tag}",
                             where=where)
    _xml.normalise(element, NAMESPACE)
    node = kids(element)
    # Read in document order, so the first error reported is the first in the document.
    sender = _parse_party(node, "Fr", where)
    receiver = _parse_party(node, "To", where)
    biz_msg_id = text(node, _T.BizMsgIdr, _xml.max35, where)
    msg_def_id = text(node, _T.MsgDefIdr, _xml.max35, where)
    biz_service = optional_text(node, _T.BizSvc, _xml.max35, where)
    created_at = text(node, _T.CreDt, _xml.parse_datetime, where)
    copy_duplicate = optional_text(node, _T.CpyDplct, _copy_duplicate, where)
    duplicate = optional_text(node, _T.PssblDplct, _xml.parse_boolean, where)
    related = _xml.repeated(node, _T.Rltd)
    if len(related) > 1:
        raise MessageError("MX_BAD_VALUE", "more than one Rltd is not supported",
                           where=where + "/Rltd[2]")
    return AppHeader(
        sender=sender,
        receiver=receiver,
        biz_msg_id=biz_msg_id,
        msg_def_id=msg_def_id,
        biz_service=biz_service,
        created_at=created_at,
        copy_duplicate=copy_duplicate,
        possible_duplicate=bool(duplicate),
        related=None if not related else _parse_related(related[0], where + "/Rltd[1]"),
    )


def parse_head001(data: bytes, *, max_bytes: int = _xml.DEFAULT_MAX_BYTES) -> AppHeader:
    """Parse an AppHdr document (hardened; see `messages.iso20022._xml`)."""
    return _parse_header(_xml.parse_root(data, max_bytes), "/AppHdr")


def parse_business_message(data: bytes, *, max_bytes: int = _xml.DEFAULT_MAX_BYTES
                           ) -> tuple[AppHeader, bytes]:
    """(header, Document bytes) of a business message: AppHdr and Document as the children of
    the root (RequestPayload), or of the root's Body (Alliance Access DataPDU).

    The Document comes back as its own UTF-8 XML, for the parser of its message; the header's
    MsgDefIdr must name it.
    """
    root = _xml.parse_root(data, max_bytes)
    where = "/" + _xml.local_name(root.tag)
    container = root
    index = {_xml.local_name(element.tag): element for element in root}
    if "Body" in index and "AppHdr" not in index:
        container = index["Body"]
        where += "/Body"
    headers = [element for element in container if _xml.local_name(element.tag) == "AppHdr"]
    documents = [element for element in container
                 if _xml.local_name(element.tag) == "Document"]
    for name, found in (("AppHdr", headers), ("Document", documents)):
        if len(found) != 1:
            raise MessageError(
                "MX_MISSING_ELEMENT" if not found else "MX_BAD_VALUE",
                f"a business message holds one {name}, found {len(found)}",
                where=f"{where}/{name}",
            )
    header = _parse_header(headers[0], where + "/AppHdr")
    document = documents[0]
    namespace = document.tag[1 : document.tag.find("}")] if document.tag[0] == "{" else ""
    name = namespace[len(_xml.NAMESPACE_PREFIX) :]
    if not namespace.startswith(_xml.NAMESPACE_PREFIX) or header.msg_def_id != name:
        raise MessageError(
            "MX_BAD_VALUE",
            f"header names {header.msg_def_id!r} but the Document is in {namespace!r}",
            where=where + "/AppHdr/MsgDefIdr",
        )
    return header, etree.tostring(document, encoding="UTF-8", with_tail=False)
