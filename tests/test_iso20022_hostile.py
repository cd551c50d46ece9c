"""Hostile input: entity bombs, external entities and DTDs, oversize or broken documents."""

from __future__ import annotations

import datetime

import pytest

from messages.channel_framing import LinkReader, encode
from messages.errors import MessageError
from messages.iso20022 import (
    Agent,
    CreditTransfer,
    Pacs008,
    PartyAccount,
    message_name,
    parse_pacs002,
    parse_pacs008,
    parse_pacs028,
)
from messages.iso20022.pacs008 import build_pacs008

NS = b"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"
PARSERS = [parse_pacs008, parse_pacs002, parse_pacs028, message_name]

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<Document xmlns="%s"><FIToFICstmrCdtTrf><GrpHdr><MsgId>&lol9;</MsgId></GrpHdr>
</FIToFICstmrCdtTrf></Document>""" % NS
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="%s"><FIToFICstmrCdtTrf><GrpHdr><MsgId>&xxe;</MsgId></GrpHdr>
</FIToFICstmrCdtTrf></Document>""" % NS
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Document SYSTEM "http://127.0.0.1:9/evil.dtd">
<Document xmlns="%s"><FIToFICstmrCdtTrf/></Document>""" % NS
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY % remote SYSTEM "file:///etc/passwd"> %remote;]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10"/>"""


def valid_pacs008() -> bytes:
    bank = Agent(member_id="102100099996", clearing_system="CNAPS")
    transfer = CreditTransfer(
        end_to_end_id="E2E-1", tx_id="TX-1", uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f",
        amount=100, currency="CNY", settlement_date=datetime.date(2024, 5, 6),
        debtor=PartyAccount(name="张三"), debtor_agent=bank,
        creditor=PartyAccount(name="李四"), creditor_agent=bank,
    )
    return build_pacs008(Pacs008(
        msg_id="M-1", created_at=datetime.datetime(2024, 5, 6, tzinfo=datetime.UTC),
        transactions=(transfer,),
    ))


@pytest.mark.parametrize("parse", PARSERS)
@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD,
                                      PARAMETER_ENTITY])
def test_dtd_machinery_is_refused(parse: object, document: bytes) -> None:
    with pytest.raises(MessageError) as info:
        parse(document)  # type: ignore[operator]
    assert info.value.code == "MX_DTD_FORBIDDEN"
    assert "root:" not in str(info.value)  # nothing of /etc/passwd leaked into the error


@pytest.mark.parametrize("parse", PARSERS)
@pytest.mark.parametrize("buffer", [bytearray, memoryview])
def test_dtd_machinery_is_refused_in_any_buffer(parse: object, buffer: type) -> None:
    for document in [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY]:
        with pytest.raises(MessageError) as info:
            parse(buffer(document))  # type: ignore[operator]
        assert info.value.code == "MX_DTD_FORBIDDEN"


@pytest.mark.parametrize("parse", PARSERS)
def test_oversize_buffer_is_refused_before_parsing(parse: object) -> None:
    with pytest.raises(MessageError) as info:
        parse(memoryview(b"\x00" * (2 << 20)))  # type: ignore[operator]
    assert info.value.code == "MX_TOO_LARGE"


def test_doctype_in_utf16_is_not_parsed_as_such() -> None:
    # Encoded as UTF-16 the DOCTYPE escapes a byte scan; the UTF-8-only parser refuses it.
    document = EXTERNAL_ENTITY.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
    with pytest.raises(MessageError) as info:
        parse_pacs008(document.encode("utf-16"))
    assert info.value.code in {"MX_MALFORMED", "MX_DTD_FORBIDDEN"}


@pytest.mark.parametrize("parse", PARSERS)
def test_oversize_document_is_refused_before_parsing(parse: object) -> None:
    # Not even XML: had the parser run first this would be MX_MALFORMED.
    with pytest.raises(MessageError) as info:
        parse(b"\x00" * (50 << 20))  # type: ignore[operator]
    assert info.value.code == "MX_TOO_LARGE"


def test_size_limit_is_a_parameter() -> None:
    data = valid_pacs008()
    assert parse_pacs008(data, max_bytes=len(data)).msg_id == "M-1"
    with pytest.raises(MessageError) as info:
        parse_pacs008(data, max_bytes=len(data) - 1)
    assert info.value.code == "MX_TOO_LARGE"


@pytest.mark.parametrize("cut", [10, 100, -30, -1])
def test_truncated_document_is_malformed(cut: int) -> None:
    with pytest.raises(MessageError) as info:
        parse_pacs008(valid_pacs008()[:cut])
    assert info.value.code == "MX_MALFORMED"


def test_invalid_utf8_is_malformed() -> None:
    data = valid_pacs008().replace("张三".encode(), b"\xff\xfe\xc3")
    with pytest.raises(MessageError) as info:
        parse_pacs008(data)
    assert info.value.code == "MX_MALFORMED"


@pytest.mark.parametrize(
    "data",
    [b"", b"not xml", b"<Document>", "<Document/>", b"<a>&undefined;</a>",
     b"<a>" * 10_000 + b"</a>" * 10_000],  # nesting beyond libxml2's limit without huge_tree
)
def test_garbage_is_malformed(data: bytes) -> None:
    with pytest.raises(MessageError) as info:
        parse_pacs008(data)
    assert info.value.code == "MX_MALFORMED"


def test_comments_and_processing_instructions_are_dropped() -> None:
    data = valid_pacs008().replace(b"<GrpHdr>", b"<GrpHdr><!-- note --><?pi x?>")
    assert parse_pacs008(data).msg_id == "M-1"


def test_message_name_reads_only_the_start() -> None:
    # The body is broken, but the name is in the root element's namespace.
    assert message_name(valid_pacs008()[:300]) == "pacs.008.001.08"


def test_link_frames_split_across_reads() -> None:
    docs = [valid_pacs008(), b"", b"x" * 70_000]
    stream = b"".join(encode(doc) for doc in docs)
    reader = LinkReader()
    received = [frame for i in range(0, len(stream), 7) for frame in reader.feed(stream[i:i + 7])]
    assert received == docs


def test_link_frame_too_large() -> None:
    reader = LinkReader(max_frame=1024)
    assert reader.feed(encode(b"a" * 1024)) == [b"a" * 1024]
    with pytest.raises(MessageError) as info:
        reader.feed((1025).to_bytes(4, "big"))
    assert info.value.code == "LINK_FRAME_TOO_LARGE"
    with pytest.raises(MessageError, match="LINK_FRAME_TOO_LARGE"):
        LinkReader().feed(b"\xff\xff\xff\xff")
