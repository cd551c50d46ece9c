"""pacs.004 payment return codec: XSD-valid round trips and errors that name the element."""

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
    charges,
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
    Pacs004,
    ReturnedTransfer,
    build_pacs004,
    message_name,
    parse_pacs004,
)

NAME = "pacs.004.001.09"
TX = "/Document/PmtRtr/TxInf"
HDR = "/Document/PmtRtr/GrpHdr"


@st.composite
def returns(draw: st.DrawFn) -> ReturnedTransfer:
    proprietary = draw(st.booleans())
    with_original = draw(st.booleans())
    return ReturnedTransfer(
        orgnl_msg_id=draw(ids),
        orgnl_msg_name=draw(st.sampled_from(["pacs.008.001.08", "pacs.009.001.08"]) | ids),
        orgnl_end_to_end_id=draw(ids),
        amount=draw(amounts), currency=draw(currencies),
        settlement_date=draw(st.none() | dates),
        return_id=draw(st.none() | ids),
        orgnl_created_at=draw(st.none() | aware),
        orgnl_instr_id=draw(st.none() | ids),
        orgnl_tx_id=draw(st.none() | ids),
        orgnl_uetr=draw(st.none() | uetrs),
        orgnl_amount=draw(amounts) if with_original else None,
        orgnl_currency=draw(currencies) if with_original else None,
        orgnl_settlement_date=draw(st.none() | dates),
        charge_bearer=draw(st.none() | st.sampled_from(["DEBT", "CRED", "SHAR", "SLEV"])),
        charges=draw(charges),
        reason=None if proprietary else draw(st.none() | codes4),
        reason_proprietary=draw(st.none() | ids) if proprietary else None,
        additional_info=draw(st.none() | text(105)),
        originator=draw(st.none() | text(140)),
    )


messages = st.builds(
    Pacs004,
    msg_id=ids, created_at=aware,
    transactions=st.lists(returns(), min_size=1, max_size=3).map(tuple),
    settlement_method=st.sampled_from(["INDA", "INGA", "COVE", "CLRG"]),
    clearing_system=st.none() | st.sampled_from(["CHI", "FDW", "CIPS"]) | ids,
    instructing_agent=st.none() | agents(), instructed_agent=st.none() | agents(),
)


@settings_
@given(messages)
def test_round_trip(msg: Pacs004) -> None:
    data = build_pacs004(msg)
    assert_valid(data, NAME)
    assert parse_pacs004(data) == msg
    assert message_name(data) == NAME


# ---------------------------------------------------------------- fixtures

UTC = datetime.UTC


def returned(**changes: object) -> ReturnedTransfer:
    base = ReturnedTransfer(
        orgnl_msg_id="M-1", orgnl_msg_name="pacs.008.001.08", orgnl_end_to_end_id="E2E-1",
        orgnl_uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f", amount=12300, currency="CNY",
        settlement_date=datetime.date(2024, 5, 7), return_id="R-1",
        orgnl_amount=12345, orgnl_currency="CNY", reason="AC04",
        additional_info="账户已销户 <closed> & gone",
    )
    return msgspec.structs.replace(base, **changes)


def pacs004(*transactions: ReturnedTransfer, **changes: object) -> Pacs004:
    base = Pacs004(msg_id="RT-1", created_at=datetime.datetime(2024, 5, 7, 9, tzinfo=UTC),
                   transactions=transactions or (returned(),),
                   instructing_agent=Agent(bic="ICBKCNBJXXX"))
    return msgspec.structs.replace(base, **changes)


def test_document_shape() -> None:
    data = build_pacs004(pacs004())
    assert_valid(data, NAME)
    assert b"<TxInf><RtrId>R-1</RtrId><OrgnlGrpInf><OrgnlMsgId>M-1</OrgnlMsgId>" in data
    assert b"<OrgnlUETR>6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f</OrgnlUETR>" in data
    assert b'<OrgnlIntrBkSttlmAmt Ccy="CNY">123.45</OrgnlIntrBkSttlmAmt>' in data
    assert b'<RtrdIntrBkSttlmAmt Ccy="CNY">123.00</RtrdIntrBkSttlmAmt>' in data
    assert "<AddtlInf>账户已销户 &lt;closed&gt; &amp; gone</AddtlInf>".encode() in data


def test_split_additional_info_is_joined() -> None:
    data = build_pacs004(pacs004(returned(additional_info="ab")))
    split = data.replace(b"<AddtlInf>ab</AddtlInf>",
                         b"<AddtlInf>a</AddtlInf><AddtlInf>b</AddtlInf>")
    assert_valid(split, NAME)
    assert parse_pacs004(split).transactions[0].additional_info == "ab"


@pytest.mark.parametrize(("currency", "minor", "decimal"),
                         [("JPY", 5, "5"), ("CNY", 5, "0.05"), ("KWD", 5, "0.005")])
def test_amount_exponents(currency: str, minor: int, decimal: str) -> None:
    msg = pacs004(returned(amount=minor, currency=currency, orgnl_amount=None,
                           orgnl_currency=None))
    data = build_pacs004(msg)
    assert f'<RtrdIntrBkSttlmAmt Ccy="{currency}">{decimal}<'.encode() in data
    assert parse_pacs004(data) == msg


# ---------------------------------------------------------------- build errors


@pytest.mark.parametrize(
    ("msg", "code", "where"),
    [
        (pacs004(msg_id=""), "MX_BAD_VALUE", f"{HDR}/MsgId"),
        (pacs004(transactions=()), "MX_MISSING_ELEMENT", TX),
        (pacs004(settlement_method="GROSS"), "MX_BAD_VALUE", f"{HDR}/SttlmInf/SttlmMtd"),
        (pacs004(instructed_agent=Agent(bic="X")), "MX_BAD_VALUE",
         f"{HDR}/InstdAgt/FinInstnId/BICFI"),
        (pacs004(returned(), returned(orgnl_msg_id="M" * 36)), "MX_BAD_VALUE",
         f"{TX}[2]/OrgnlGrpInf/OrgnlMsgId"),
        (pacs004(returned(orgnl_created_at=datetime.datetime(2024, 5, 6))), "MX_BAD_VALUE",
         f"{TX}[1]/OrgnlGrpInf/OrgnlCreDtTm"),
        (pacs004(returned(return_id="")), "MX_BAD_VALUE", f"{TX}[1]/RtrId"),
        (pacs004(returned(orgnl_end_to_end_id="\x01")), "MX_BAD_VALUE",
         f"{TX}[1]/OrgnlEndToEndId"),
        (pacs004(returned(orgnl_uetr="6F0F1C8E-1C2B-4D3A-9E4F-5A6B7C8D9E0F")), "MX_BAD_VALUE",
         f"{TX}[1]/OrgnlUETR"),
        (pacs004(returned(orgnl_currency=None)), "MX_MISSING_ELEMENT",
         f"{TX}[1]/OrgnlIntrBkSttlmAmt"),
        (pacs004(returned(orgnl_currency="EURO")), "UNKNOWN_CURRENCY",
         f"{TX}[1]/OrgnlIntrBkSttlmAmt/@Ccy"),
        (pacs004(returned(amount=0)), "BAD_AMOUNT", f"{TX}[1]/RtrdIntrBkSttlmAmt"),
        (pacs004(returned(currency="XXX")), "UNKNOWN_CURRENCY",
         f"{TX}[1]/RtrdIntrBkSttlmAmt/@Ccy"),
        (pacs004(returned(charge_bearer="OUR")), "MX_BAD_VALUE", f"{TX}[1]/ChrgBr"),
        (pacs004(returned(reason="AC04X")), "MX_BAD_VALUE", f"{TX}[1]/RtrRsnInf/Rsn/Cd"),
        (pacs004(returned(reason_proprietary="PR09")), "MX_BAD_VALUE", f"{TX}[1]/RtrRsnInf/Rsn"),
        (pacs004(returned(reason=None, reason_proprietary="P" * 36)), "MX_BAD_VALUE",
         f"{TX}[1]/RtrRsnInf/Rsn/Prtry"),
        (pacs004(returned(additional_info="i" * 106)), "MX_BAD_VALUE",
         f"{TX}[1]/RtrRsnInf/AddtlInf"),
        (pacs004(returned(originator="")), "MX_BAD_VALUE", f"{TX}[1]/RtrRsnInf/Orgtr/Nm"),
    ],
)
def test_build_refuses_invalid_values(msg: Pacs004, code: str, where: str) -> None:
    with pytest.raises(MessageError) as info:
        build_pacs004(msg)
    assert (info.value.code, info.value.where) == (code, where)


# ---------------------------------------------------------------- parse errors


def mutate(pattern: str, replacement: str) -> bytes:
    data = build_pacs004(pacs004()).decode()
    changed = re.sub(pattern, replacement, data, count=1)
    assert changed != data
    return changed.encode()


@pytest.mark.parametrize(
    ("data", "code", "where"),
    [
        (mutate(r"<OrgnlGrpInf>.*?</OrgnlGrpInf>", ""), "MX_MISSING_ELEMENT",
         f"{TX}[1]/OrgnlGrpInf"),
        (mutate(r"<OrgnlMsgNmId>[^<]*</OrgnlMsgNmId>", ""), "MX_MISSING_ELEMENT",
         f"{TX}[1]/OrgnlGrpInf/OrgnlMsgNmId"),
        (mutate(r"<OrgnlEndToEndId>[^<]*</OrgnlEndToEndId>", ""), "MX_MISSING_ELEMENT",
         f"{TX}[1]/OrgnlEndToEndId"),
        (mutate(r">123\.00<", ">123.001<"), "BAD_AMOUNT", f"{TX}[1]/RtrdIntrBkSttlmAmt"),
        (mutate(r'<OrgnlIntrBkSttlmAmt Ccy="CNY">', "<OrgnlIntrBkSttlmAmt>"),
         "MX_MISSING_ELEMENT", f"{TX}[1]/OrgnlIntrBkSttlmAmt"),
        (mutate(r"<IntrBkSttlmDt>2024-05-07", "<IntrBkSttlmDt>07/05/2024"), "MX_BAD_VALUE",
         f"{TX}[1]/IntrBkSttlmDt"),
        (mutate(r"<Rsn><Cd>AC04</Cd></Rsn>", "<Rsn/>"), "MX_MISSING_ELEMENT",
         f"{TX}[1]/RtrRsnInf[1]/Rsn/Cd"),
        (mutate(r"<Rsn><Cd>AC04</Cd>", "<Rsn><Cd>AC04</Cd><Prtry>X</Prtry>"), "MX_BAD_VALUE",
         f"{TX}[1]/RtrRsnInf[1]/Rsn/Prtry"),
        (mutate(r"</RtrRsnInf>", "</RtrRsnInf><RtrRsnInf/>"), "MX_BAD_VALUE",
         f"{TX}[1]/RtrRsnInf[2]"),
        (mutate(r"<AddtlInf>", "<AddtlInf>" + "x" * 100), "MX_BAD_VALUE",
         f"{TX}[1]/RtrRsnInf[1]/AddtlInf[1]"),
        (mutate(r"<NbOfTxs>1<", "<NbOfTxs>0<"), "MX_BAD_VALUE", f"{HDR}/NbOfTxs"),
        (mutate(r"<TxInf>.*</TxInf>", ""), "MX_MISSING_ELEMENT", TX),
        (mutate(r"<BICFI>ICBK", "<BICFI>IC"), "MX_BAD_VALUE",
         f"{HDR}/InstgAgt/FinInstnId/BICFI"),
        (mutate(r"pacs\.004\.001\.09", "pacs.004.001.10"), "MX_WRONG_MESSAGE", "/"),
    ],
)
def test_parse_errors_name_the_element(data: bytes, code: str, where: str) -> None:
    with pytest.raises(MessageError) as info:
        parse_pacs004(data)
    assert (info.value.code, info.value.where) == (code, where)
