"""head.001 business application header and the business message (AppHdr + Document in a
RequestPayload): XSD-valid headers, round trips, and errors that name the element."""

from __future__ import annotations

import datetime
import re

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from test_iso20022_strategies import agents, aware, ids, settings_, text
from xsd_oracle import assert_valid

from messages.errors import MessageError
from messages.iso20022 import (
    Agent,
    AppHeader,
    CreditTransfer,
    Pacs002,
    Pacs008,
    PartyAccount,
    RelatedHeader,
    build_business_message,
    build_head001,
    build_pacs002,
    build_pacs008,
    parse_business_message,
    parse_head001,
    parse_pacs008,
)

NAME = "head.001.001.02"
services = st.sampled_from(["swift.cbprplus.02", "swift.cbprplus.cov.02", "cips"]) | ids
msg_defs = st.sampled_from(["pacs.008.001.08", "pacs.009.001.08", "camt.053.001.08"]) | ids

related_headers = st.builds(
    RelatedHeader, sender=agents(), receiver=agents(), biz_msg_id=ids, msg_def_id=msg_defs,
    created_at=aware, biz_service=st.none() | services,
)
headers = st.builds(
    AppHeader, sender=agents(), receiver=agents(), biz_msg_id=ids, msg_def_id=msg_defs,
    created_at=aware, biz_service=st.none() | services,
    copy_duplicate=st.none() | st.sampled_from(["CODU", "COPY", "DUPL"]),
    possible_duplicate=st.booleans(), related=st.none() | related_headers,
)


@settings_
@given(headers)
def test_round_trip(header: AppHeader) -> None:
    data = build_head001(header)
    assert_valid(data, NAME)
    assert parse_head001(data) == header


UTC = datetime.UTC
ICBC = Agent(bic="ICBKCNBJXXX")
CITI = Agent(bic="CITIUS33XXX")
HEADER = AppHeader(sender=ICBC, receiver=CITI, biz_msg_id="M-1", msg_def_id="pacs.008.001.08",
                   biz_service="swift.cbprplus.02",
                   created_at=datetime.datetime(2024, 5, 6, 9, 30, tzinfo=UTC))


def pacs008(remittance: str = "INV 1") -> Pacs008:
    transfer = CreditTransfer(
        end_to_end_id="E2E-1", tx_id="TX-1", uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f",
        amount=100, currency="JPY", settlement_date=datetime.date(2024, 5, 6),
        debtor=PartyAccount(name="张三"), debtor_agent=ICBC,
        creditor=PartyAccount(name="John"), creditor_agent=CITI, remittance_info=remittance,
    )
    return Pacs008(msg_id="M-1", created_at=HEADER.created_at, transactions=(transfer,))


@settings_
@given(headers, text(140))
def test_business_message_round_trip(header: AppHeader, remittance: str) -> None:
    header = msgspec.structs.replace(header, msg_def_id="pacs.008.001.08")
    msg = pacs008(remittance)
    envelope = build_business_message(header, build_pacs008(msg))
    parsed_header, document = parse_business_message(envelope)
    assert parsed_header == header
    assert parse_pacs008(document) == msg
    # Each part, taken out of the envelope, is valid against its own schema.
    root = etree.fromstring(envelope)
    assert [element.tag.split("}")[1] for element in root] == ["AppHdr", "Document"]
    assert_valid(etree.tostring(root[0]), NAME)
    assert_valid(document, "pacs.008.001.08")


def test_header_shape() -> None:
    data = build_head001(msgspec.structs.replace(HEADER, possible_duplicate=True, related=(
        RelatedHeader(CITI, ICBC, "M-0", "pacs.008.001.08", HEADER.created_at))))
    assert_valid(data, NAME)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n'
                           b'<AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.02">')
    assert (b"<BizMsgIdr>M-1</BizMsgIdr><MsgDefIdr>pacs.008.001.08</MsgDefIdr>"
            b"<BizSvc>swift.cbprplus.02</BizSvc><CreDt>2024-05-06T09:30:00+00:00</CreDt>"
            b"<PssblDplct>true</PssblDplct><Rltd><Fr><FIId>") in data


def test_envelope_layout_and_alliance_body() -> None:
    document = build_pacs008(pacs008())
    envelope = build_business_message(HEADER, document)
    assert envelope.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<RequestPayload>'
                               b'<AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.02">')
    assert envelope.count(b"<?xml") == 1
    assert envelope.endswith(b"</Document></RequestPayload>")
    # Alliance Access: AppHdr and Document in the Body of a DataPDU, prefixed and all.
    body = envelope.split(b"<RequestPayload>")[1].split(b"</RequestPayload>")[0]
    data_pdu = (b'<Saa:DataPDU xmlns:Saa="urn:swift:saa:xsd:saa.2.0"><Saa:Revision>2.0.14'
                b"</Saa:Revision><Saa:Body>" + body + b"</Saa:Body></Saa:DataPDU>")
    header, inner = parse_business_message(data_pdu)
    assert header == HEADER
    assert parse_pacs008(inner) == pacs008()


@pytest.mark.parametrize(
    ("header", "code", "where"),
    [
        (msgspec.structs.replace(HEADER, biz_msg_id=""), "MX_BAD_VALUE", "/AppHdr/BizMsgIdr"),
        (msgspec.structs.replace(HEADER, msg_def_id="x" * 36), "MX_BAD_VALUE",
         "/AppHdr/MsgDefIdr"),
        (msgspec.structs.replace(HEADER, biz_service="s" * 36), "MX_BAD_VALUE",
         "/AppHdr/BizSvc"),
        (msgspec.structs.replace(HEADER, sender=Agent(bic="ICBK")), "MX_BAD_VALUE",
         "/AppHdr/Fr/FIId/FinInstnId/BICFI"),
        (msgspec.structs.replace(HEADER, receiver=Agent(lei="1")), "MX_BAD_VALUE",
         "/AppHdr/To/FIId/FinInstnId/LEI"),
        (msgspec.structs.replace(HEADER, created_at=datetime.datetime(2024, 5, 6)),
         "MX_BAD_VALUE", "/AppHdr/CreDt"),
        (msgspec.structs.replace(HEADER, copy_duplicate="ORIG"), "MX_BAD_VALUE",
         "/AppHdr/CpyDplct"),
        (msgspec.structs.replace(HEADER, possible_duplicate="yes"), "MX_BAD_VALUE",
         "/AppHdr/PssblDplct"),
        (msgspec.structs.replace(HEADER, related=RelatedHeader(
            ICBC, CITI, "M-0", "", HEADER.created_at)), "MX_BAD_VALUE",
         "/AppHdr/Rltd/MsgDefIdr"),
    ],
)
def test_build_refuses_invalid_values(header: AppHeader, code: str, where: str) -> None:
    with pytest.raises(MessageError) as info:
        build_head001(header)
    assert (info.value.code, info.value.where) == (code, where)


def test_envelope_header_must_name_the_document() -> None:
    report = build_pacs002(Pacs002("S", HEADER.created_at, "M", "pacs.008.001.08", ()))
    with pytest.raises(MessageError) as info:
        build_business_message(HEADER, report)
    assert (info.value.code, info.value.where) == \
        ("MX_BAD_VALUE", "/RequestPayload/AppHdr/MsgDefIdr")
    with pytest.raises(MessageError) as info:
        build_business_message(msgspec.structs.replace(HEADER, biz_msg_id=""),
                               build_pacs008(pacs008()))
    assert info.value.where == "/RequestPayload/AppHdr/BizMsgIdr"


def mutate(pattern: str, replacement: str) -> bytes:
    data = build_head001(msgspec.structs.replace(HEADER, related=RelatedHeader(
        CITI, ICBC, "M-0", "pacs.008.001.08", HEADER.created_at))).decode()
    changed = re.sub(pattern, replacement, data, count=1)
    assert changed != data
    return changed.encode()


@pytest.mark.parametrize(
    ("data", "code", "where"),
    [
        (mutate(r"<Fr>.*?</Fr>", ""), "MX_MISSING_ELEMENT", "/AppHdr/Fr"),
        (mutate(r"<Fr><FIId>(.*?)</FIId>", r"<Fr><OrgId>\1</OrgId>"), "MX_MISSING_ELEMENT",
         "/AppHdr/Fr/FIId"),
        (mutate(r"<BICFI>CITIUS33XXX", "<BICFI>CITI"), "MX_BAD_VALUE",
         "/AppHdr/To/FIId/FinInstnId/BICFI"),
        (mutate(r"<BizMsgIdr>M-1</BizMsgIdr>", ""), "MX_MISSING_ELEMENT", "/AppHdr/BizMsgIdr"),
        (mutate(r"<CreDt>2024-05-06T09:30:00\+00:00", "<CreDt>2024-05-06"), "MX_BAD_VALUE",
         "/AppHdr/CreDt"),
        (mutate(r"<Rltd>", "<PssblDplct>Y</PssblDplct><Rltd>"), "MX_BAD_VALUE",
         "/AppHdr/PssblDplct"),
        (mutate(r"</Rltd>", "</Rltd><Rltd/>"), "MX_BAD_VALUE", "/AppHdr/Rltd[2]"),
        (mutate(r"<BizMsgIdr>M-0</BizMsgIdr>", ""), "MX_MISSING_ELEMENT",
         "/AppHdr/Rltd[1]/BizMsgIdr"),
        (mutate(r"head\.001\.001\.02", "head.001.001.01"), "MX_WRONG_MESSAGE", "/AppHdr"),
    ],
)
def test_parse_errors_name_the_element(data: bytes, code: str, where: str) -> None:
    with pytest.raises(MessageError) as info:
        parse_head001(data)
    assert (info.value.code, info.value.where) == (code, where)


@pytest.mark.parametrize(
    ("change", "code", "where"),
    [
        (lambda e: e.replace(b"<Document", b"<Other").replace(b"</Document>", b"</Other>"),
         "MX_MISSING_ELEMENT", "/RequestPayload/Document"),
        (lambda e: e.replace(b"</RequestPayload>", b"<AppHdr/></RequestPayload>"),
         "MX_BAD_VALUE", "/RequestPayload/AppHdr"),
        (lambda e: e.replace(b"<MsgDefIdr>pacs.008.001.08<", b"<MsgDefIdr>pacs.009.001.08<"),
         "MX_BAD_VALUE", "/RequestPayload/AppHdr/MsgDefIdr"),
        (lambda e: e.replace(b"<BizMsgIdr>M-1</BizMsgIdr>", b""), "MX_MISSING_ELEMENT",
         "/RequestPayload/AppHdr/BizMsgIdr"),
        (lambda e: b'<!DOCTYPE x [<!ENTITY a "b">]>' + e.split(b"\n", 1)[1], "MX_DTD_FORBIDDEN",
         None),
        (lambda e: e[:-10], "MX_MALFORMED", None),
    ],
)
def test_business_message_errors(change: object, code: str, where: str | None) -> None:
    envelope = build_business_message(HEADER, build_pacs008(pacs008()))
    with pytest.raises(MessageError) as info:
        parse_business_message(change(envelope))  # type: ignore[operator]
    assert (info.value.code, info.value.where) == (code, where)


def test_hostile_header_is_refused() -> None:
    for data, code in [(b'<!DOCTYPE a [<!ENTITY x "y">]><AppHdr/>', "MX_DTD_FORBIDDEN"),
                       (b"<AppHdr", "MX_MALFORMED"), (b" " * (2 << 20), "MX_TOO_LARGE"),
                       (b"<AppHdr/>", "MX_WRONG_MESSAGE")]:
        with pytest.raises(MessageError) as info:
            parse_head001(data)
        assert info.value.code == code
