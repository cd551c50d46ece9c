"""Hostile input to the parsers added after pacs.008/002/028: each refuses DTD machinery,
oversize and broken documents, and other messages, before or instead of reading them; and each
reads a document that declares its namespace with a prefix."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from messages.errors import MessageError
from messages.iso20022 import (
    Agent,
    Balance,
    BankTransfer,
    Camt029,
    Camt053,
    Camt054,
    Camt056,
    Entry,
    Notification,
    Pacs004,
    Pacs009,
    ReturnedTransfer,
    Statement,
    TransferCancellation,
    build_camt029,
    build_camt053,
    build_camt054,
    build_camt056,
    build_pacs004,
    build_pacs009,
    message_name,
    parse_business_message,
    parse_camt029,
    parse_camt053,
    parse_camt054,
    parse_camt056,
    parse_head001,
    parse_pacs004,
    parse_pacs009,
)

NOW = datetime.datetime(2024, 5, 6, 9, 30, tzinfo=datetime.UTC)
DAY = datetime.date(2024, 5, 6)
ICBC, CITI = Agent(bic="ICBKCNBJXXX"), Agent(bic="CITIUS33XXX")
UETR = "6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f"

SAMPLES: dict[str, tuple[Callable[..., Any], bytes, Any]] = {}


def _sample(name: str, build: Callable[[Any], bytes], parse: Callable[..., Any],
            msg: object) -> None:
    SAMPLES[name] = (parse, build(msg), msg)


_sample("pacs.009.001.08", build_pacs009, parse_pacs009, Pacs009(
    "B-1", NOW, (BankTransfer("E", "T", UETR, 100, "KWD", DAY, ICBC, CITI),)))
_sample("pacs.004.001.09", build_pacs004, parse_pacs004, Pacs004(
    "R-1", NOW, (ReturnedTransfer("M", "pacs.008.001.08", "E", 100, "JPY", reason="AC04"),)))
_sample("camt.053.001.08", build_camt053, parse_camt053, Camt053("S-1", NOW, (Statement(
    "ST", "6222020200000001", (Balance("CLBD", 0, "CNY", "CRDT", DAY),),
    (Entry(1, "CNY", "CRDT", booking_date=DAY),)),)))
_sample("camt.054.001.08", build_camt054, parse_camt054, Camt054("N-1", NOW, (Notification(
    "NT", "6222020200000001", (Entry(1, "CNY", "DBIT"),)),)))
_sample("camt.056.001.08", build_camt056, parse_camt056, Camt056(
    "C-1", NOW, ICBC, CITI, (TransferCancellation("M", "pacs.008.001.08", "E", reason="DUPL"),)))
_sample("camt.029.001.09", build_camt029, parse_camt029, Camt029(
    "RS-1", NOW, CITI, ICBC, "CNCL"))

PARSERS = [parse for parse, _, _ in SAMPLES.values()] + [parse_head001, parse_business_message]

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol9 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>&lol9;
</BkToCstmrStmt></Document>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.02"><BizMsgIdr>&xxe;</BizMsgIdr>
</AppHdr>"""


@pytest.mark.parametrize("parse", PARSERS)
@pytest.mark.parametrize("document", [BOMB, XXE])
def test_dtd_machinery_is_refused(parse: Callable[[bytes], Any], document: bytes) -> None:
    with pytest.raises(MessageError) as info:
        parse(document)
    assert info.value.code == "MX_DTD_FORBIDDEN"
    assert "root:" not in str(info.value)


@pytest.mark.parametrize("parse", PARSERS)
@pytest.mark.parametrize(("data", "code"), [
    (b"\x00" * (2 << 20), "MX_TOO_LARGE"), (memoryview(b" " * (2 << 20)), "MX_TOO_LARGE"),
    (b"", "MX_MALFORMED"), (b"<Document", "MX_MALFORMED"), ("<Document/>", "MX_MALFORMED"),
])
def test_garbage_is_refused(parse: Callable[[Any], Any], data: Any, code: str) -> None:
    with pytest.raises(MessageError) as info:
        parse(data)
    assert info.value.code == code


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_size_limit_is_a_parameter(name: str) -> None:
    parse, data, msg = SAMPLES[name]
    assert parse(data, max_bytes=len(data)) == msg
    with pytest.raises(MessageError) as info:
        parse(data, max_bytes=len(data) - 1)
    assert info.value.code == "MX_TOO_LARGE"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_parser_takes_only_its_message(name: str) -> None:
    parse, data, _ = SAMPLES[name]
    assert message_name(data) == name
    for other, (_, other_data, _) in SAMPLES.items():
        if other != name:
            with pytest.raises(MessageError) as info:
                parse(other_data)
            assert info.value.code == "MX_WRONG_MESSAGE"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_prefixed_namespace_is_read(name: str) -> None:
    parse, data, msg = SAMPLES[name]
    text = data.decode().split("\n", 1)[1]
    prefixed = text.replace('<Document xmlns="', '<doc:Document xmlns:doc="', 1)
    prefixed = prefixed.replace("<", "<doc:").replace("<doc:/", "</doc:").replace(
        "<doc:doc:", "<doc:").replace("</doc:doc:", "</doc:")
    assert "<doc:Document xmlns:doc=" in prefixed
    assert parse(prefixed.encode()) == msg


@pytest.mark.parametrize("cut", [20, -40, -1])
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_truncated_document_is_malformed(name: str, cut: int) -> None:
    parse, data, _ = SAMPLES[name]
    with pytest.raises(MessageError) as info:
        parse(data[:cut])
    assert info.value.code == "MX_MALFORMED"
