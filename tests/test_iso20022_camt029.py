"""camt.029 resolution of investigation codec: XSD-valid round trips and errors that name the
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
    Camt029,
    CancellationStatus,
    build_camt029,
    message_name,
    parse_camt029,
)

NAME = "camt.029.001.09"
ROOT = "/Document/RsltnOfInvstgtn"
TX = f"{ROOT}/CxlDtls[1]/TxInfAndSts"


@st.composite
def statuses(draw: st.DrawFn) -> CancellationStatus:
    proprietary = draw(st.booleans())
    with_amount = draw(st.booleans())
    return CancellationStatus(
        orgnl_msg_id=draw(ids),
        orgnl_msg_name=draw(st.sampled_from(["pacs.008.001.08", "pacs.009.001.08"]) | ids),
        orgnl_end_to_end_id=draw(ids),
        status=draw(st.none() | st.sampled_from(["ACCR", "RJCR", "PDCR"])),
        cancellation_status_id=draw(st.none() | ids),
        orgnl_created_at=draw(st.none() | aware),
        orgnl_instr_id=draw(st.none() | ids),
        orgnl_tx_id=draw(st.none() | ids),
        orgnl_uetr=draw(st.none() | uetrs),
        reason=None if proprietary else draw(st.none() | codes4),
        reason_proprietary=draw(st.none() | ids) if proprietary else None,
        additional_info=draw(st.none() | text(105)),
        originator=draw(st.none() | text(140)),
        orgnl_amount=draw(amounts) if with_amount else None,
        orgnl_currency=draw(currencies) if with_amount else None,
        orgnl_settlement_date=draw(st.none() | dates),
    )


@st.composite
def messages(draw: st.DrawFn) -> Camt029:
    with_case = draw(st.booleans())
    return Camt029(
        assignment_id=draw(ids), created_at=draw(aware), assigner=draw(agents()),
        assignee=draw(agents()),
        status=draw(st.sampled_from(["CNCL", "RJCR", "PDCR", "MODI"]) | codes4),
        transactions=tuple(draw(st.lists(statuses(), max_size=3))),
        case_id=draw(ids) if with_case else None,
        case_creator=draw(agents()) if with_case else None,
    )


@settings_
@given(messages())
def test_round_trip(msg: Camt029) -> None:
    data = build_camt029(msg)
    assert_valid(data, NAME)
    assert parse_camt029(data) == msg
    assert message_name(data) == NAME


UTC = datetime.UTC
ICBC = Agent(bic="ICBKCNBJXXX")
CITI = Agent(bic="CITIUS33XXX")


def status(**changes: object) -> CancellationStatus:
    base = CancellationStatus(
        orgnl_msg_id="M-1", orgnl_msg_name="pacs.008.001.08", orgnl_end_to_end_id="E2E-1",
        status="RJCR", cancellation_status_id="RSL-ITEM-1",
        orgnl_uetr="6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f", reason="ARDT",
        additional_info="已退回 & closed", orgnl_amount=1234, orgnl_currency="KWD",
    )
    return msgspec.structs.replace(base, **changes)


def camt029(*transactions: CancellationStatus, **changes: object) -> Camt029:
    base = Camt029(
        assignment_id="RSL-1", created_at=datetime.datetime(2024, 5, 6, 12, tzinfo=UTC),
        assigner=CITI, assignee=ICBC, status="RJCR",
        transactions=transactions or (status(),), case_id="CASE-1", case_creator=ICBC,
    )
    return msgspec.structs.replace(base, **changes)


def test_document_shape() -> None:
    data = build_camt029(camt029())
    assert_valid(data, NAME)
    assert b"<RslvdCase><Id>CASE-1</Id><Cretr><Agt>" in data
    assert b"<Sts><Conf>RJCR</Conf></Sts><CxlDtls><TxInfAndSts><CxlStsId>RSL-ITEM-1" in data
    assert (b"<OrgnlUETR>6f0f1c8e-1c2b-4d3a-9e4f-5a6b7c8d9e0f</OrgnlUETR>"
            b"<TxCxlSts>RJCR</TxCxlSts><CxlStsRsnInf><Rsn><Cd>ARDT</Cd></Rsn>") in data
    assert b'<OrgnlIntrBkSttlmAmt Ccy="KWD">1.234</OrgnlIntrBkSttlmAmt>' in data


def test_cancelled_without_details() -> None:
    msg = camt029(status="CNCL", transactions=(), case_id=None, case_creator=None)
    data = build_camt029(msg)
    assert_valid(data, NAME)
    assert b"CxlDtls" not in data
    assert parse_camt029(data) == msg
    assert parse_camt029(data.replace(b"</Sts>", b"</Sts><CxlDtls/>")) == msg


@pytest.mark.parametrize(
    ("msg", "code", "where"),
    [
        (camt029(assignment_id="A" * 36), "MX_BAD_VALUE", f"{ROOT}/Assgnmt/Id"),
        (camt029(assignee=Agent(bic="")), "MX_BAD_VALUE",
         f"{ROOT}/Assgnmt/Assgne/Agt/FinInstnId/BICFI"),
        (camt029(case_creator=None), "MX_MISSING_ELEMENT", f"{ROOT}/RslvdCase/Cretr"),
        (camt029(status="CANCELLED"), "MX_BAD_VALUE", f"{ROOT}/Sts/Conf"),
        (camt029(status(), status(status="ACCP")), "MX_BAD_VALUE", f"{TX}[2]/TxCxlSts"),
        (camt029(status(cancellation_status_id="")), "MX_BAD_VALUE", f"{TX}[1]/CxlStsId"),
        (camt029(status(orgnl_uetr="6f0f1c8e-1c2b-5d3a-9e4f-5a6b7c8d9e0f")), "MX_BAD_VALUE",
         f"{TX}[1]/OrgnlUETR"),
        (camt029(status(reason_proprietary="NOPE")), "MX_BAD_VALUE",
         f"{TX}[1]/CxlStsRsnInf/Rsn"),
        (camt029(status(additional_info="\x07")), "MX_BAD_VALUE",
         f"{TX}[1]/CxlStsRsnInf/AddtlInf"),
        (camt029(status(orgnl_amount=0)), "BAD_AMOUNT", f"{TX}[1]/OrgnlIntrBkSttlmAmt"),
    ],
)
def test_build_refuses_invalid_values(msg: Camt029, code: str, where: str) -> None:
    with pytest.raises(MessageError) as info:
        build_camt029(msg)
    assert (info.value.code, info.value.where) == (code, where)


def mutate(pattern: str, replacement: str) -> bytes:
    data = build_camt029(camt029()).decode()
    changed = re.sub(pattern, replacement, data, count=1)
    assert changed != data
    return changed.encode()


@pytest.mark.parametrize(
    ("data", "code", "where"),
    [
        (mutate(r"<Sts><Conf>RJCR</Conf></Sts>", ""), "MX_MISSING_ELEMENT", f"{ROOT}/Sts"),
        (mutate(r"<Conf>RJCR</Conf>", "<AssgnmtCxlConf>true</AssgnmtCxlConf>"),
         "MX_MISSING_ELEMENT", f"{ROOT}/Sts/Conf"),
        (mutate(r"<Assgne><Agt>.*?</Agt>", "<Assgne><Agt/>"), "MX_MISSING_ELEMENT",
         f"{ROOT}/Assgnmt/Assgne/Agt/FinInstnId"),
        (mutate(r"<RslvdCase><Id>CASE-1</Id>", "<RslvdCase>"), "MX_MISSING_ELEMENT",
         f"{ROOT}/RslvdCase/Id"),
        (mutate(r"</CxlDtls>", "</CxlDtls><CxlDtls/>"), "MX_BAD_VALUE", f"{ROOT}/CxlDtls[2]"),
        (mutate(r"<TxCxlSts>RJCR<", "<TxCxlSts>RJCT<"), "MX_BAD_VALUE", f"{TX}[1]/TxCxlSts"),
        (mutate(r"<OrgnlEndToEndId>E2E-1</OrgnlEndToEndId>", ""), "MX_MISSING_ELEMENT",
         f"{TX}[1]/OrgnlEndToEndId"),
        (mutate(r"</CxlStsRsnInf>", "</CxlStsRsnInf><CxlStsRsnInf/>"), "MX_BAD_VALUE",
         f"{TX}[1]/CxlStsRsnInf[2]"),
        (mutate(r'Ccy="KWD">1\.234<', 'Ccy="KWD">1.2345<'), "BAD_AMOUNT",
         f"{TX}[1]/OrgnlIntrBkSttlmAmt"),
        (mutate(r"camt\.029\.001\.09", "camt.029.001.08"), "MX_WRONG_MESSAGE", "/"),
    ],
)
def test_parse_errors_name_the_element(data: bytes, code: str, where: str) -> None:
    with pytest.raises(MessageError) as info:
        parse_camt029(data)
    assert (info.value.code, info.value.where) == (code, where)
