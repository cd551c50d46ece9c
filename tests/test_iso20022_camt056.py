"""camt.056 cancellation request codec: XSD-valid round trips and errors that name the
element."""

from __future__ import annotations

import datetime
import re

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_iso20022_strategies import (
    agents,
    amounts,
    aware,
    codes4,
    currencies,
    dates,
    ids,
    settings_,
    text,
    uetrs,
)
from xsd_oracle import assert_valid

from messages.errors import MessageError
from messages.iso20022 import (
    Agent,
    Camt056,
    TransferCancellation,
    build_camt056,
    message_name,
    parse_camt056,
)

NAME = "camt.056.001.08"
ROOT = "/Document/FIToFIPmtCxlReq"
TX = f"{ROOT}/Undrlyg[1]/TxInf"


@st.composite
def cancellations(draw: st.DrawFn) -> TransferCancellation:
    proprietary = draw(st.booleans())
    with_amount = draw(st.booleans())
    return TransferCancellation(
        orgnl_msg_id=draw(ids),
        orgnl_msg_name=draw(st.sampled_from(["pacs.008.001.08", "pacs.009.001.08"]) | ids),
        orgnl_end_to_end_id=draw(ids),
        cancellation_id=draw(st.none() | ids),
        orgnl_created_at=draw(st.none() | aware),
        orgnl_instr_id=draw(st.none() | ids),
        orgnl_tx_id=draw(st.none() | ids),
        orgnl_uetr=draw(st.none() | uetrs),
        orgnl_amount=draw(amounts) if with_amount else None,
        orgnl_currency=draw(currencies) if with_amount else None,
        orgnl_settlement_date=draw(st.none() | dates),
        reason=None if proprietary else draw(st.none() | codes4),
        reason_proprietary=draw(st.none() | ids) if proprietary else None,
        additional_info=draw(st.none() | text(105)),
        originator=draw(st.none() | text(140)),
    )


@st.composite
def messages(draw: st.DrawFn) -> Camt056:
    with_case = draw(st.booleans())
    return Camt056(
        assignment_id=draw(ids), created_at=draw(aware), assigner=draw(agents()),
        assignee=draw(agents()),
        transactions=tuple(draw(st.lists(cancellations(), min_size=1, max_size=3))),
        case_id=draw(ids) if with_case else None,
        case_creator=draw(agents()) if with_case else None,
    )


@settings_
@given(messages())
def test_round_trip(msg: Camt056) -> None:
    data = build_camt056(msg)
    assert_valid(data, NAME)
    assert parse_camt056(data) == msg
    assert message_name(data) == NAME


UTC = datetime.UTC
ICBC = Agent(bic="ICBKCNBJXXX")
CITI = Agent(bic="CITIUS33XXX")


def cancellation(**changes: object) -> TransferCancellation:
    base = TransferCancellation(
        orgnl_msg_id="M-1", orgnl_msg_name="pacs.008.001.08", orgnl_end_to_end_id="E2E-1",
        cancellation_id="CXL-ITEM-1", orgnl_uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f",
        orgnl_amount=1000, orgnl_currency="JPY", orgnl_settlement_date=datetime.date(2024, 5, 6),
        reason="DUPL", originator="张三 & Co", additional_info="sent twice <again>",
    )
    return msgspec.structs.replace(base, **changes)


def camt056(*transactions: TransferCancellation, **changes: object) -> Camt056:
    base = Camt056(
        assignment_id="CXL-1", created_at=datetime.datetime(2024, 5, 6, 11, tzinfo=UTC),
        assigner=ICBC, assignee=CITI, transactions=transactions or (cancellation(),),
        case_id="CASE-1", case_creator=ICBC,
    )
    return msgspec.structs.replace(base, **changes)


def test_document_shape() -> None:
    data = build_camt056(camt056())
    assert_valid(data, NAME)
    assert (b"<Assgnmt><Id>CXL-1</Id><Assgnr><Agt><FinInstnId><BICFI>ICBKCNBJXXX</BICFI>"
            b"</FinInstnId></Agt></Assgnr>") in data
    assert b"<Case><Id>CASE-1</Id><Cretr><Agt>" in data
    assert b"<Undrlyg><TxInf><CxlId>CXL-ITEM-1</CxlId><OrgnlGrpInf>" in data
    assert b'<OrgnlIntrBkSttlmAmt Ccy="JPY">1000</OrgnlIntrBkSttlmAmt>' in data
    assert ("<CxlRsnInf><Orgtr><Nm>张三 &amp; Co</Nm></Orgtr><Rsn><Cd>DUPL</Cd></Rsn>"
            "<AddtlInf>sent twice &lt;again&gt;</AddtlInf></CxlRsnInf>").encode() in data


@pytest.mark.parametrize(
    ("msg", "code", "where"),
    [
        (camt056(assignment_id=""), "MX_BAD_VALUE", f"{ROOT}/Assgnmt/Id"),
        (camt056(assigner=Agent(bic="icbk")), "MX_BAD_VALUE",
         f"{ROOT}/Assgnmt/Assgnr/Agt/FinInstnId/BICFI"),
        (camt056(assignee=Agent(clearing_system="CHIPS")), "MX_MISSING_ELEMENT",
         f"{ROOT}/Assgnmt/Assgne/Agt/FinInstnId/ClrSysMmbId/MmbId"),
        (camt056(created_at=datetime.datetime(2024, 5, 6)), "MX_BAD_VALUE",
         f"{ROOT}/Assgnmt/CreDtTm"),
        (camt056(case_creator=None), "MX_MISSING_ELEMENT", f"{ROOT}/Case/Cretr"),
        (camt056(case_id=None), "MX_MISSING_ELEMENT", f"{ROOT}/Case/Id"),
        (camt056(case_creator=Agent(lei="x")), "MX_BAD_VALUE",
         f"{ROOT}/Case/Cretr/Agt/FinInstnId/LEI"),
        (camt056(transactions=()), "MX_MISSING_ELEMENT", TX),
        (camt056(cancellation(), cancellation(cancellation_id="C" * 36)), "MX_BAD_VALUE",
         f"{TX}[2]/CxlId"),
        (camt056(cancellation(orgnl_msg_name="")), "MX_BAD_VALUE",
         f"{TX}[1]/OrgnlGrpInf/OrgnlMsgNmId"),
        (camt056(cancellation(orgnl_tx_id="\ufffe")), "MX_BAD_VALUE", f"{TX}[1]/OrgnlTxId"),
        (camt056(cancellation(orgnl_amount=None)), "MX_MISSING_ELEMENT",
         f"{TX}[1]/OrgnlIntrBkSttlmAmt"),
        (camt056(cancellation(orgnl_amount=10**18, orgnl_currency="KWD")), "BAD_AMOUNT",
         f"{TX}[1]/OrgnlIntrBkSttlmAmt"),
        (camt056(cancellation(orgnl_settlement_date="2024-05-06")), "MX_BAD_VALUE",
         f"{TX}[1]/OrgnlIntrBkSttlmDt"),
        (camt056(cancellation(reason="DUPLICATE")), "MX_BAD_VALUE",
         f"{TX}[1]/CxlRsnInf/Rsn/Cd"),
        (camt056(cancellation(reason_proprietary="X")), "MX_BAD_VALUE",
         f"{TX}[1]/CxlRsnInf/Rsn"),
        (camt056(cancellation(originator="o" * 141)), "MX_BAD_VALUE",
         f"{TX}[1]/CxlRsnInf/Orgtr/Nm"),
    ],
)
def test_build_refuses_invalid_values(msg: Camt056, code: str, where: str) -> None:
    with pytest.raises(MessageError) as info:
        build_camt056(msg)
    assert (info.value.code, info.value.where) == (code, where)


def mutate(pattern: str, replacement: str) -> bytes:
    data = build_camt056(camt056()).decode()
    changed = re.sub(pattern, replacement, data, count=1)
    assert changed != data
    return changed.encode()


@pytest.mark.parametrize(
    ("data", "code", "where"),
    [
        (mutate(r"<Assgnmt>.*?</Assgnmt>", ""), "MX_MISSING_ELEMENT", f"{ROOT}/Assgnmt"),
        (mutate(r"<Assgnr><Agt>(.*?)</Agt>", r"<Assgnr><Pty>\1</Pty>"), "MX_MISSING_ELEMENT",
         f"{ROOT}/Assgnmt/Assgnr/Agt"),
        (mutate(r"<CreDtTm>[^<]*</CreDtTm>", "<CreDtTm>yesterday</CreDtTm>"), "MX_BAD_VALUE",
         f"{ROOT}/Assgnmt/CreDtTm"),
        (mutate(r"<Cretr>.*?</Cretr>", ""), "MX_MISSING_ELEMENT", f"{ROOT}/Case/Cretr"),
        (mutate(r"<Undrlyg>.*</Undrlyg>", ""), "MX_MISSING_ELEMENT", f"{ROOT}/Undrlyg"),
        (mutate(r"</Undrlyg>", "</Undrlyg><Undrlyg/>"), "MX_BAD_VALUE", f"{ROOT}/Undrlyg[2]"),
        (mutate(r"<Undrlyg>.*</Undrlyg>", "<Undrlyg/>"), "MX_MISSING_ELEMENT", TX),
        (mutate(r"<OrgnlMsgId>M-1</OrgnlMsgId>", ""), "MX_MISSING_ELEMENT",
         f"{TX}[1]/OrgnlGrpInf/OrgnlMsgId"),
        (mutate(r"<OrgnlUETR>6f0f", "<OrgnlUETR>6f0g"), "MX_BAD_VALUE", f"{TX}[1]/OrgnlUETR"),
        (mutate(r">1000<", ">1000.5<"), "BAD_AMOUNT", f"{TX}[1]/OrgnlIntrBkSttlmAmt"),
        (mutate(r"<Rsn><Cd>DUPL</Cd></Rsn>", "<Rsn/>"), "MX_MISSING_ELEMENT",
         f"{TX}[1]/CxlRsnInf[1]/Rsn/Cd"),
        (mutate(r"<Orgtr><Nm>[^<]*</Nm>", "<Orgtr><Nm></Nm>"), "MX_BAD_VALUE",
         f"{TX}[1]/CxlRsnInf[1]/Orgtr/Nm"),
        (mutate(r"camt\.056\.001\.08", "camt.056.001.09"), "MX_WRONG_MESSAGE", "/"),
    ],
)
def test_parse_errors_name_the_element(data: bytes, code: str, where: str) -> None:
    with pytest.raises(MessageError) as info:
        parse_camt056(data)
    assert (info.value.code, info.value.where) == (code, where)
