"""The codec's fast paths answer exactly as its general paths do, on the inputs they take."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from messages.currency import format_amount
from messages.errors import MessageError
from messages.iso20022 import (
    Agent,
    CreditTransfer,
    Pacs002,
    Pacs008,
    PartyAccount,
    TxStatus,
    _xml,
    build_pacs002,
    build_pacs008,
    message_name,
    parse_pacs002,
    parse_pacs008,
)

NS002 = b"urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10"


def _outcome(read: Callable[[Any], object], data: Any) -> tuple[str, object]:
    try:
        return "ok", read(data)
    except MessageError as exc:
        return "error", exc.code


def valid_pacs008() -> bytes:
    bank = Agent(member_id="102100099996", clearing_system="CNAPS", name="Bank <&> \r Co")
    transfer = CreditTransfer(
        end_to_end_id="E2E-1", tx_id="TX-1", uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f",
        amount=100, currency="CNY", settlement_date=datetime.date(2024, 5, 6),
        debtor=PartyAccount(name="张三", address_lines=("a > b", "c")), debtor_agent=bank,
        creditor=PartyAccount(name="李四", account="GB82WEST12345698765432"),
        creditor_agent=bank, remittance_info="x\r\ny",
    )
    return build_pacs008(Pacs008(
        msg_id="M-1", created_at=datetime.datetime(2024, 5, 6, tzinfo=datetime.UTC),
        transactions=(transfer,),
    ))


def _parsed_name(data: bytes) -> str:
    return _xml._message_name_parsed(_xml._screen(data, _xml.DEFAULT_MAX_BYTES))


STARTS = [
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="%s">' % NS002,
    b'<Document xmlns="%s"/>' % NS002,
    b'<Document xmlns="%s" >' % NS002,
    b'<?xml version="1.0" encoding="utf-8"?><Document xmlns="%s">' % NS002,
    b"\xef\xbb\xbf<Document xmlns=\"%s\">" % NS002,
    b'<!-- hi --><Document xmlns="%s">' % NS002,
    b'<p:Document xmlns:p="%s">' % NS002,
    b"<Document xmlns='%s'>" % NS002,
    b'<Document xmlns="%s" xmlns="%s">' % (NS002, NS002),
    b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:x">',
    b'<Document xmlns="urn:example">',
    b'<Documentx xmlns="%s">' % NS002,
    b'<Document\x0cxmlns="%s">' % NS002,
    b'<Document xmlns="%s"\x0c>' % NS002,
    b' <Document xmlns="%s">' % NS002,
]


@pytest.mark.parametrize("start", STARTS)
def test_message_name_matches_the_parser_on_every_prefix(start: bytes) -> None:
    data = start + b"<FIToFIPmtStsRpt/></Document>"
    for cut in range(len(data) + 1):
        assert _outcome(message_name, data[:cut]) == _outcome(_parsed_name, data[:cut]), cut


def test_message_name_of_built_documents_and_buffers() -> None:
    data = valid_pacs008()
    assert message_name(data) == _parsed_name(data) == "pacs.008.001.08"
    assert message_name(bytearray(data)) == message_name(memoryview(data)) == "pacs.008.001.08"
    assert parse_pacs008(memoryview(data)) == parse_pacs008(data)  # type: ignore[arg-type]


NOW = datetime.datetime(2024, 5, 6, 9, 31, tzinfo=datetime.UTC)
REPORT = Pacs002(
    msg_id="S-1", orgnl_msg_id="M-1", orgnl_msg_name="pacs.008.001.08", created_at=NOW,
    transactions=(TxStatus("E2E-1", "RJCT", reason="AC04", additional_info="a&b"),),
)


def _prefixed(data: bytes) -> bytes:
    """The same report with the namespace on a prefix: children are then in no namespace."""
    return (data.replace(b'<Document xmlns="', b'<p:Document xmlns:p="')
            .replace(b"<FIToFIPmtStsRpt>", b"<p:FIToFIPmtStsRpt>")
            .replace(b"</FIToFIPmtStsRpt></Document>", b"</p:FIToFIPmtStsRpt></p:Document>"))


def test_children_are_matched_by_local_name_whatever_their_namespace() -> None:
    data = build_pacs002(REPORT)
    assert parse_pacs002(_prefixed(data)) == REPORT
    other = data.replace(b"<MsgId>S-1</MsgId>", b'<MsgId xmlns="urn:other">S-1</MsgId>')
    assert parse_pacs002(other) == REPORT
    # "xmlns" in a value sends the document down the general path: same answer.
    with_text = msgspec.structs.replace(REPORT, msg_id='xmlns="x')
    assert parse_pacs002(build_pacs002(with_text)) == with_text


def test_duplicate_and_missing_children_on_the_general_path() -> None:
    data = _prefixed(build_pacs002(REPORT))
    doubled = data.replace(b"<TxSts>RJCT</TxSts>", b"<TxSts>RJCT</TxSts><TxSts>ACSC</TxSts>")
    with pytest.raises(MessageError) as info:
        parse_pacs002(doubled)
    assert (info.value.code, info.value.where) == (
        "MX_BAD_VALUE", "/Document/FIToFIPmtStsRpt/TxInfAndSts[1]/TxSts")
    missing = data.replace(b"<TxSts>RJCT</TxSts>", b"")
    with pytest.raises(MessageError) as info:
        parse_pacs002(missing)
    assert (info.value.code, info.value.where) == (
        "MX_MISSING_ELEMENT", "/Document/FIToFIPmtStsRpt/TxInfAndSts[1]/TxSts")


@given(st.text(min_size=1, max_size=140))
def test_text_checks_agree_with_their_xsd_facets(value: str) -> None:
    """Fast acceptance (printable ASCII, or a regex) never accepts what the facets refuse."""
    allowed = 1 <= len(value) <= 35 and _xml._NOT_XML_CHAR.search(value) is None
    try:
        _xml.max35(value, "/x")
        accepted = True
    except MessageError:
        accepted = False
    assert accepted == allowed
    if allowed:
        assert _xml.max35_xml(value, "/x") == _xml.escape(value)


@given(st.integers(-5, 10**19), st.sampled_from(["CNY", "JPY", "BHD", "CLF", "XAU", "XYZ", "cny"]))
def test_amount_text_fast_path_agrees_with_format_amount(minor: int, currency: str) -> None:
    try:
        text = format_amount(minor, currency)
        expected: tuple[str, object] = ("ok", text)
        if minor <= 0 or len(text) - ("." in text) > 18:
            expected = ("error", "BAD_AMOUNT")
    except MessageError as exc:
        expected = ("error", exc.code)
    assert _outcome(lambda m: _xml.amount_text(m, currency, "/a"), minor) == expected


def test_build_escapes_only_what_needs_it() -> None:
    data = valid_pacs008()
    assert b"<Nm>Bank &lt;&amp;&gt; &#13; Co</Nm>" in data
    assert b"<AdrLine>a &gt; b</AdrLine>" in data
    assert b"<Ustrd>x&#13;\ny</Ustrd>" in data
    assert build_pacs008(parse_pacs008(data)) == data
